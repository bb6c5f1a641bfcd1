//! CEOS reader on arbitrary bytes: the input is split into a volume directory, a leader and
//! an image file (two length bytes each, then the rest), read as one ALOS-2 product; and the
//! whole input is sniffed and parsed as an image file descriptor. Seed with the corpus CEOS
//! files and products written by scripts/make_alos2.py.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vzarr::ceos::{self, CeosOptions, MemProduct};

fuzz_target!(|data: &[u8]| {
    let _ = ceos::sniff(data);
    let take = |d: &[u8]| -> (Bytes, usize) {
        if d.len() < 2 {
            return (Bytes::new(), d.len());
        }
        let n = (usize::from(u16::from_be_bytes([d[0], d[1]])) * 4).min(d.len() - 2);
        (Bytes::copy_from_slice(&d[2..2 + n]), 2 + n)
    };
    let (vol, a) = take(data);
    let (led, b) = take(&data[a..]);
    let img = Bytes::copy_from_slice(&data[a + b..]);
    let s = "ALOS2012345670-150410-FBDR1.5GUA";
    let product = MemProduct::new(vec![
        (format!("VOL-{s}"), vol),
        (format!("LED-{s}"), led),
        (format!("IMG-HH-{s}"), img),
    ]);
    let _ = ceos::read(&product, &CeosOptions::default());
});
