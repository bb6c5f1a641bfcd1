//! External Data Files message (type 0x0007, spec IV.A.2.g): a contiguous dataset whose
//! bytes are the concatenation of segments of other files, named in a local heap.

use crate::io::cursor::Cursor;

use super::super::util::{read_addr, read_len};
use super::super::{Hdf5Error, Sizes};

const W: &str = "external data files message";

/// Most segments one message may list.
pub(crate) const MAX_SEGMENTS: usize = 1 << 16;

/// A segment size meaning "to the end of the file" (only the last segment may have it;
/// the reader needs no special case: the dataset's size bounds it).
#[cfg(test)]
const UNLIMITED: u64 = u64::MAX;

/// One slot: `size` bytes at `offset` in the file whose name is at `name_offset` of the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Offset of the file name in the local heap's data segment.
    pub name_offset: u64,
    /// Byte offset in the external file.
    pub offset: u64,
    /// Bytes of the dataset this segment holds ([`UNLIMITED`] for "the rest").
    pub size: u64,
}

/// The decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExternalFiles {
    /// Relative address of the local heap holding the file names.
    pub heap: u64,
    /// The used slots, in order.
    pub segments: Vec<Segment>,
}

/// Decode the message body.
///
/// # Errors
/// Unknown version, truncated body, more used than allocated slots or more than
/// [`MAX_SEGMENTS`].
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<ExternalFiles, Hdf5Error> {
    let mut c = Cursor::new(data, offset, W);
    let version = c.u8()?;
    if version != 1 {
        return Err(Hdf5Error::corrupt(W, offset, format!("version {version}")));
    }
    c.skip(3)?;
    let allocated = c.u16()?;
    let used = c.u16()?;
    if used > allocated || usize::from(used) > MAX_SEGMENTS {
        return Err(Hdf5Error::corrupt(
            W,
            offset,
            format!("{used} used slots of {allocated} allocated"),
        ));
    }
    let heap = read_addr(&mut c, sizes)?;
    let mut segments = Vec::with_capacity(usize::from(used));
    for _ in 0..used {
        segments.push(Segment {
            name_offset: read_len(&mut c, sizes)?,
            offset: read_len(&mut c, sizes)?,
            size: read_len(&mut c, sizes)?,
        });
    }
    Ok(ExternalFiles { heap, segments })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf5::S8;

    fn body(used: u16, slots: &[(u64, u64, u64)]) -> Vec<u8> {
        let mut b = vec![1, 0, 0, 0];
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&used.to_le_bytes());
        b.extend_from_slice(&0x1234u64.to_le_bytes());
        for &(n, o, s) in slots {
            for v in [n, o, s] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn decodes_slots() {
        let e = parse(&body(2, &[(8, 16, 40), (16, 0, UNLIMITED)]), 0, &S8).unwrap();
        assert_eq!(e.heap, 0x1234);
        assert_eq!(
            e.segments,
            vec![
                Segment {
                    name_offset: 8,
                    offset: 16,
                    size: 40
                },
                Segment {
                    name_offset: 16,
                    offset: 0,
                    size: UNLIMITED
                }
            ]
        );
    }

    #[test]
    fn bad_bodies_are_errors() {
        // Truncated slot list, more used than allocated, wrong version.
        assert!(parse(&body(2, &[(8, 16, 40)]), 0, &S8).is_err());
        assert!(parse(&body(5, &[]), 0, &S8).is_err());
        let mut b = body(0, &[]);
        b[0] = 2;
        assert!(parse(&b, 0, &S8).unwrap_err().to_string().contains("version 2"));
    }
}
