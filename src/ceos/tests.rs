//! Unit tests of the CEOS reader (filled in below).
