
mod hdf5_corpus;
