//! Dataspace message (type 0x0001), versions 1 and 2 (spec IV.A.2.b).

use crate::hdf5::raw::dataspace_type;
use crate::hdf5::{Hdf5Error, Sizes};
use crate::io::cursor::Cursor;

/// Largest rank accepted (libhdf5's `H5S_MAX_RANK`).
pub(crate) const MAX_RANK: u8 = 32;

/// A decoded dataspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dataspace {
    /// One element, shape `[]`.
    Scalar,
    /// No elements at all.
    Null,
    /// An N-dimensional array.
    Simple {
        /// Current dimension sizes.
        dims: Vec<u64>,
        /// Maximum sizes (`u64::MAX` = unlimited), if stored.
        max_dims: Option<Vec<u64>>,
    },
}

impl Dataspace {
    /// Current shape (`[]` for scalar and null).
    pub(crate) fn shape(&self) -> Vec<u64> {
        match self {
            Dataspace::Simple { dims, .. } => dims.clone(),
            _ => Vec::new(),
        }
    }

    /// Number of elements (`None` on overflow).
    pub(crate) fn num_elements(&self) -> Option<u64> {
        match self {
            Dataspace::Scalar => Some(1),
            Dataspace::Null => Some(0),
            Dataspace::Simple { dims, .. } => dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d)),
        }
    }
}

/// Decode a dataspace message body.
pub(crate) fn parse(data: &[u8], offset: u64, sizes: &Sizes) -> Result<Dataspace, Hdf5Error> {
    let mut c = Cursor::new(data, offset, "dataspace message");
    let version = c.u8()?;
    let rank = c.u8()?;
    let flags = c.u8()?;
    if rank > MAX_RANK {
        return Err(Hdf5Error::corrupt("dataspace message", offset, format!("rank {rank}")));
    }
    let kind = match version {
        1 => {
            c.skip(5)?;
            if rank == 0 {
                dataspace_type::SCALAR
            } else {
                dataspace_type::SIMPLE
            }
        }
        2 => c.u8()?,
        v => return Err(Hdf5Error::corrupt("dataspace message", offset, format!("version {v}"))),
    };
    match kind {
        dataspace_type::SCALAR => Ok(Dataspace::Scalar),
        dataspace_type::NULL => Ok(Dataspace::Null),
        dataspace_type::SIMPLE => {
            let n = usize::from(sizes.length);
            let dims = (0..rank).map(|_| c.uint(n)).collect::<Result<Vec<_>, _>>()?;
            let max_dims = if flags & 1 != 0 {
                Some((0..rank).map(|_| c.uint(n)).collect::<Result<Vec<_>, _>>()?)
            } else {
                None
            };
            Ok(Dataspace::Simple { dims, max_dims })
        }
        t => Err(Hdf5Error::corrupt(
            "dataspace message",
            offset,
            format!("dataspace type {t}"),
        )),
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
    fn v1_simple_with_max_dims() {
        let mut d = vec![1u8, 2, 1, 0, 0, 0, 0, 0];
        d.extend_from_slice(&3u64.to_le_bytes());
        d.extend_from_slice(&4u64.to_le_bytes());
        d.extend_from_slice(&u64::MAX.to_le_bytes());
        d.extend_from_slice(&4u64.to_le_bytes());
        let ds = parse(&d, 0, &S).unwrap();
        assert_eq!(
            ds,
            Dataspace::Simple {
                dims: vec![3, 4],
                max_dims: Some(vec![u64::MAX, 4])
            }
        );
        assert_eq!(ds.num_elements(), Some(12));
    }

    #[test]
    fn v2_scalar_null_and_truncated() {
        assert_eq!(parse(&[2, 0, 0, 0], 0, &S).unwrap(), Dataspace::Scalar);
        assert_eq!(parse(&[2, 0, 0, 2], 0, &S).unwrap(), Dataspace::Null);
        assert!(parse(&[2, 1, 0, 1, 5], 0, &S).is_err());
        assert!(parse(&[2, 40, 0, 1], 0, &S).is_err());
    }
}
