//! Attribute message (type 0x000C), versions 1–3 (spec IV.A.2.m).
//!
//! The datatype and dataspace are decoded by their own modules; the raw value bytes are
//! returned for the caller to convert. An attribute whose datatype (or dataspace) is shared
//! is returned with [`AttributeMsg::shared`] set so the caller can refuse it by name.

use bytes::Bytes;

use super::dataspace::{self, Dataspace};
use super::datatype::{self, Datatype};
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// A decoded attribute message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttributeMsg {
    /// Attribute name.
    pub name: String,
    /// Datatype (`None` when shared).
    pub datatype: Option<Datatype>,
    /// Dataspace (`None` when shared).
    pub dataspace: Option<Dataspace>,
    /// Datatype or dataspace is a shared message.
    pub shared: bool,
    /// The shared-message encoding (and its file offset) of a shared datatype.
    pub shared_datatype: Option<(Bytes, u64)>,
    /// The shared-message encoding (and its file offset) of a shared dataspace.
    pub shared_dataspace: Option<(Bytes, u64)>,
    /// Raw value bytes (element count × datatype size).
    pub data: Bytes,
}

/// Decode an attribute message body.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<AttributeMsg, Hdf5Error> {
    const W: &str = "attribute message";
    let mut c = Cursor::new(data, offset, W);
    let version = c.u8()?;
    let flags = c.u8()?;
    let name_size = usize::from(c.u16()?);
    let dt_size = usize::from(c.u16()?);
    let ds_size = usize::from(c.u16()?);
    let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
    match version {
        1 | 2 => {}
        3 => {
            let _charset = c.u8()?;
        }
        v => return Err(Hdf5Error::corrupt(W, offset, format!("version {v}"))),
    }
    let name = crate::hdf5::util::c_string(c.bytes(pad(name_size))?);
    let shared = version >= 2 && flags & 0x03 != 0;
    let dt_off = c.offset();
    let dt_bytes = c.bytes(pad(dt_size))?;
    let ds_off = c.offset();
    let ds_bytes = c.bytes(pad(ds_size))?;
    let (datatype, dataspace) = if shared {
        (
            if flags & 1 == 0 {
                Some(datatype::parse(dt_bytes, dt_off)?)
            } else {
                None
            },
            if flags & 2 == 0 {
                Some(dataspace::parse(ds_bytes, ds_off, sizes)?)
            } else {
                None
            },
        )
    } else {
        (
            Some(datatype::parse(dt_bytes, dt_off)?),
            Some(dataspace::parse(ds_bytes, ds_off, sizes)?),
        )
    };
    let rest = c.bytes(c.remaining())?;
    let raw = |b: &[u8], off: u64| (Bytes::copy_from_slice(b), off);
    Ok(AttributeMsg {
        name,
        datatype,
        dataspace,
        shared,
        shared_datatype: (shared && flags & 1 != 0).then(|| raw(dt_bytes, dt_off)),
        shared_dataspace: (shared && flags & 2 != 0).then(|| raw(ds_bytes, ds_off)),
        data: Bytes::copy_from_slice(rest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_scalar_f64() {
        let s = Sizes {
            offset: 8,
            length: 8,
            base: 0,
        };
        let dt = datatype::tests::f64_le();
        let ds = [2u8, 0, 0, 0];
        let mut d = vec![3, 0];
        d.extend_from_slice(&2u16.to_le_bytes());
        d.extend_from_slice(&u16::try_from(dt.len()).unwrap().to_le_bytes());
        d.extend_from_slice(&4u16.to_le_bytes());
        d.push(0);
        d.extend_from_slice(b"x\0");
        d.extend_from_slice(&dt);
        d.extend_from_slice(&ds);
        d.extend_from_slice(&1.5f64.to_le_bytes());
        let a = parse(&d, 0, &s).unwrap();
        assert_eq!(a.name, "x");
        assert_eq!(a.dataspace, Some(Dataspace::Scalar));
        assert_eq!(&a.data[..], &1.5f64.to_le_bytes());
        assert!(parse(&d[..12], 0, &s).is_err());
    }
}
