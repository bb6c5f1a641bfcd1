//! Link message (type 0x0006), spec IV.A.2.g: hard, soft and external links, with optional
//! creation order and character set.

use crate::hdf5::raw::link_type;
use crate::hdf5::util::read_addr;
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Where a link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkTarget {
    /// Object header address (relative).
    Hard(u64),
    /// A path in the same file.
    Soft(String),
    /// An object in another file.
    External {
        /// File name.
        file: String,
        /// Object path in that file.
        path: String,
    },
    /// A user-defined link type.
    UserDefined(u8),
}

/// A decoded link message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkMsg {
    /// Link name (UTF-8 or ASCII per the charset; decoded lossily).
    pub name: String,
    /// Target.
    pub target: LinkTarget,
    /// Creation order, if tracked.
    pub creation_order: Option<u64>,
}

/// Decode a link message body.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<LinkMsg, Hdf5Error> {
    const W: &str = "link message";
    let mut c = Cursor::new(data, offset, W);
    let version = c.u8()?;
    if version != 1 {
        return Err(Hdf5Error::corrupt(W, offset, format!("version {version}")));
    }
    let flags = c.u8()?;
    let ltype = if flags & 0x08 != 0 { c.u8()? } else { link_type::HARD };
    let creation_order = if flags & 0x04 != 0 { Some(c.u64()?) } else { None };
    if flags & 0x10 != 0 {
        let _charset = c.u8()?;
    }
    let name_len = c.uint(1usize << (flags & 0x03))?;
    let name_len = usize::try_from(name_len).map_err(|_| Hdf5Error::corrupt(W, offset, "name length"))?;
    let name = String::from_utf8_lossy(c.bytes(name_len)?).into_owned();
    let target = match ltype {
        link_type::HARD => LinkTarget::Hard(read_addr(&mut c, sizes)?),
        link_type::SOFT => {
            let n = usize::from(c.u16()?);
            LinkTarget::Soft(String::from_utf8_lossy(c.bytes(n)?).into_owned())
        }
        link_type::EXTERNAL => {
            let n = usize::from(c.u16()?);
            let info = c.bytes(n)?;
            let mut parts = info.get(1..).unwrap_or_default().split(|&b| b == 0);
            let file = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            LinkTarget::External { file, path }
        }
        t => LinkTarget::UserDefined(t),
    };
    Ok(LinkMsg {
        name,
        target,
        creation_order,
    })
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
    fn hard_soft_external() {
        let mut d = vec![1, 0x00, 3];
        d.extend_from_slice(b"abc");
        d.extend_from_slice(&0x60u64.to_le_bytes());
        let l = parse(&d, 0, &S).unwrap();
        assert_eq!(
            l,
            LinkMsg {
                name: "abc".into(),
                target: LinkTarget::Hard(0x60),
                creation_order: None
            }
        );

        let mut d = vec![1, 0x0c, 1];
        d.extend_from_slice(&5u64.to_le_bytes());
        d.extend_from_slice(&[1, b's', 4, 0]);
        d.extend_from_slice(b"/a/b");
        let l = parse(&d, 0, &S).unwrap();
        assert_eq!(l.target, LinkTarget::Soft("/a/b".into()));
        assert_eq!(l.creation_order, Some(5));

        let mut d = vec![1, 0x08, 64, 1, b'e', 9, 0, 0];
        d.extend_from_slice(b"f.h5\0/x\0");
        let l = parse(&d, 0, &S).unwrap();
        assert_eq!(
            l.target,
            LinkTarget::External {
                file: "f.h5".into(),
                path: "/x".into()
            }
        );
        assert!(parse(&d[..6], 0, &S).is_err());
    }
}
