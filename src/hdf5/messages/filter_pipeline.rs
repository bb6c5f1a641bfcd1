//! Filter pipeline message (type 0x000B), versions 1 and 2 (spec IV.A.2.l).

use crate::hdf5::raw::filter;
use crate::hdf5::Hdf5Error;
use crate::io::cursor::Cursor;

/// One filter of a pipeline, in the order applied when writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    /// Filter identification value.
    pub id: u16,
    /// Name stored in the file, if any.
    pub name: Option<String>,
    /// Flags (bit 0: optional).
    pub flags: u16,
    /// Client data values.
    pub client_data: Vec<u32>,
}

impl Filter {
    /// A readable name: the library's name for predefined filters, else the stored one.
    pub(crate) fn display_name(&self) -> String {
        let known = match self.id {
            filter::DEFLATE => "deflate",
            filter::SHUFFLE => "shuffle",
            filter::FLETCHER32 => "fletcher32",
            filter::SZIP => "szip",
            filter::NBIT => "nbit",
            filter::SCALEOFFSET => "scaleoffset",
            307 => "bzip2",
            32000 => "lzf",
            32001 => "blosc",
            32004 => "lz4",
            32008 => "bitshuffle",
            32013 => "zfp",
            32015 => "zstd",
            32017 => "sz",
            32019 => "jpeg",
            32022 => "bitgroom",
            32023 => "bitround",
            32026 => "blosc2",
            _ => "",
        };
        if !known.is_empty() {
            known.to_string()
        } else if let Some(n) = self.name.as_deref().filter(|n| !n.is_empty()) {
            // Stored names can be long descriptions with URLs: keep the first clause.
            let short = n.split([';', '(', ',']).next().unwrap_or(n).trim();
            short.chars().take(40).collect()
        } else {
            "unregistered".to_string()
        }
    }
}

/// Decode a filter pipeline message body.
pub(crate) fn parse(data: &[u8], offset: u64) -> Result<Vec<Filter>, Hdf5Error> {
    const W: &str = "filter pipeline message";
    let mut c = Cursor::new(data, offset, W);
    let version = c.u8()?;
    let n = c.u8()?;
    if n > 32 {
        return Err(Hdf5Error::corrupt(W, offset, format!("{n} filters")));
    }
    if version == 1 {
        c.skip(6)?;
    } else if version != 2 {
        return Err(Hdf5Error::corrupt(W, offset, format!("version {version}")));
    }
    let mut out = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let id = c.u16()?;
        let name_len = if version == 1 || id >= 256 { c.u16()? } else { 0 };
        let flags = c.u16()?;
        let nvalues = usize::from(c.u16()?);
        let name = if name_len > 0 {
            let padded = if version == 1 {
                usize::from(name_len).div_ceil(8) * 8
            } else {
                usize::from(name_len)
            };
            let raw = c.bytes(padded)?;
            Some(crate::hdf5::util::c_string(raw))
        } else {
            None
        };
        let client_data = (0..nvalues).map(|_| c.u32()).collect::<Result<Vec<_>, _>>()?;
        if version == 1 && nvalues % 2 == 1 {
            c.skip(4)?;
        }
        out.push(Filter {
            id,
            name,
            flags,
            client_data,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2() {
        // v1: deflate named "deflate" with one client value (level 4) + padding.
        let mut d = vec![1, 1, 0, 0, 0, 0, 0, 0];
        d.extend_from_slice(&[1, 0, 8, 0, 0, 0, 1, 0]);
        d.extend_from_slice(b"deflate\0");
        d.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0, 0]);
        let f = parse(&d, 0).unwrap();
        assert_eq!(
            f,
            vec![Filter {
                id: 1,
                name: Some("deflate".into()),
                flags: 0,
                client_data: vec![4]
            }]
        );
        // v2: shuffle (no name) then a third-party id with a name.
        let mut d = vec![2, 2, 2, 0, 1, 0, 1, 0, 4, 0, 0, 0];
        d.extend_from_slice(&[0x00, 0x7d, 4, 0, 1, 0, 0, 0]);
        d.extend_from_slice(b"lzf\0");
        let f = parse(&d, 0).unwrap();
        assert_eq!(f[0].client_data, vec![4]);
        assert_eq!(f[1].id, 32000);
        assert_eq!(f[1].display_name(), "lzf");
        assert!(parse(&d[..d.len() - 1], 0).is_err());
    }
}
