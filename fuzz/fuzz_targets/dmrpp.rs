//! DMR++ reader on arbitrary bytes (seed with the corpus `*.dmrpp` files).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = vzarr::dmrpp::DmrppOptions {
        dmrpp_url: "file:///fuzz/g.h5.dmrpp".parse().ok(),
        data_url: None,
    };
    let _ = vzarr::dmrpp::read(data, &opts);
});
