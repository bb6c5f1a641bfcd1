//! Fill value messages: old (type 0x0004) and new (type 0x0005, versions 1–3), spec IV.A.2.e/f.
//!
//! Semantics: a defined fill value with a non-empty value is [`FillValueMsg::Value`]; a
//! defined value of size 0 means the library default (zeros); versions 1–2 with "fill value
//! defined" = 0 and version 3 with the "undefined" flag are [`FillValueMsg::Undefined`]
//! (libhdf5 then writes no fill; we read zeros, like h5py shows for unwritten data).

use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Decoded fill value information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FillValueMsg {
    /// No fill value defined.
    Undefined,
    /// The library default (all zero bytes).
    Default,
    /// A user-defined value (element bytes in the datatype's order).
    Value(Vec<u8>),
}

fn value(c: &mut Cursor<'_>) -> Result<FillValueMsg, Hdf5Error> {
    let size = c.u32()?;
    if size == 0 {
        return Ok(FillValueMsg::Default);
    }
    let n = usize::try_from(size).map_err(|_| Hdf5Error::Limit(format!("fill value of {size} bytes")))?;
    Ok(FillValueMsg::Value(c.bytes(n)?.to_vec()))
}

/// Decode the old fill value message (type 4): size + value.
pub(crate) fn parse_old(data: &[u8], offset: u64) -> Result<FillValueMsg, Hdf5Error> {
    value(&mut Cursor::new(data, offset, "fill value message (old)"))
}

/// Whether a fill value message (type 5) says the fill value is never written
/// (`H5D_FILL_TIME_NEVER`). Malformed messages answer `false` (parsed and reported elsewhere).
pub(crate) fn write_time_never(data: &[u8]) -> bool {
    const NEVER: u8 = 1;
    match data {
        [1 | 2, _alloc, write, ..] => *write == NEVER,
        [3, flags, ..] => (flags >> 2) & 0x03 == NEVER,
        _ => false,
    }
}

/// Decode the fill value message (type 5).
pub(crate) fn parse(data: &[u8], offset: u64, _sizes: &Sizes) -> Result<FillValueMsg, Hdf5Error> {
    let mut c = Cursor::new(data, offset, "fill value message");
    let version = c.u8()?;
    match version {
        1 | 2 => {
            let _alloc_time = c.u8()?;
            let _write_time = c.u8()?;
            let defined = c.u8()?;
            if version == 1 {
                // Version 1 always stores the size field (0 = library default).
                let v = value(&mut c)?;
                Ok(if defined == 0 { FillValueMsg::Undefined } else { v })
            } else if defined == 0 {
                Ok(FillValueMsg::Undefined)
            } else {
                value(&mut c)
            }
        }
        3 => {
            let flags = c.u8()?;
            if flags & 0x20 != 0 {
                value(&mut c)
            } else if flags & 0x10 != 0 {
                Ok(FillValueMsg::Undefined)
            } else {
                Ok(FillValueMsg::Default)
            }
        }
        v => Err(Hdf5Error::corrupt("fill value message", offset, format!("version {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Sizes = Sizes {
        offset: 8,
        length: 8,
        base: 0,
    };

    #[test]
    fn versions() {
        assert_eq!(
            parse(&[2, 2, 2, 1, 4, 0, 0, 0, 1, 2, 3, 4], 0, &S).unwrap(),
            FillValueMsg::Value(vec![1, 2, 3, 4])
        );
        assert_eq!(parse(&[2, 2, 2, 0], 0, &S).unwrap(), FillValueMsg::Undefined);
        assert_eq!(parse(&[2, 2, 2, 1, 0, 0, 0, 0], 0, &S).unwrap(), FillValueMsg::Default);
        assert_eq!(parse(&[3, 0x09], 0, &S).unwrap(), FillValueMsg::Default);
        assert_eq!(parse(&[3, 0x10], 0, &S).unwrap(), FillValueMsg::Undefined);
        assert_eq!(
            parse(&[3, 0x20, 1, 0, 0, 0, 9], 0, &S).unwrap(),
            FillValueMsg::Value(vec![9])
        );
        assert!(parse(&[3, 0x20, 9, 0, 0, 0, 9], 0, &S).is_err());
        assert!(write_time_never(&[2, 2, 1, 1]));
        assert!(!write_time_never(&[2, 2, 2, 1]));
        assert!(write_time_never(&[3, 0x04 | 0x01]));
        assert!(!write_time_never(&[3, 0x08]));
        assert!(!write_time_never(&[]));
        assert_eq!(
            parse_old(&[2, 0, 0, 0, 7, 8], 0).unwrap(),
            FillValueMsg::Value(vec![7, 8])
        );
    }
}
