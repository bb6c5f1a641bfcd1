//! Serialized dataspace selections, as a dataset region reference stores them in the global
//! heap after the referenced object's address (HDF5 file format specification, "Dataspace
//! selection" encodings: all, none, points versions 1–2, hyperslabs versions 1–3), and their
//! text form: the region h5dump prints, `{(0,1)-(2,3), (5,0)-(5,3)}` for hyperslab blocks
//! (first and last corner, inclusive) or `{(6,9), (2,2)}` for points.

use crate::io::cursor::Cursor;

use super::error::Hdf5Error;

const WHAT: &str = "dataspace selection";

/// Most coordinates one selection is expanded to (points × rank, or blocks × 2 × rank): its
/// text stays under 24 MiB.
pub(crate) const MAX_SELECTION_COORDS: u64 = 1 << 20;

/// A decoded selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Every element.
    All,
    /// No element.
    None,
    /// Single elements, each `rank` coordinates.
    Points(Vec<Vec<u64>>),
    /// Hyperslab blocks: first and last corner (inclusive), in the order libhdf5 lists them.
    Blocks(Vec<(Vec<u64>, Vec<u64>)>),
    /// A regular hyperslab kept as it is stored ([`parse_from`] with `expand` false): per axis
    /// start, stride, count, block.
    Regular(Vec<RegularAxis>),
}

/// One axis of a regular hyperslab: `count` blocks of `block` elements, `stride` apart from
/// `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegularAxis {
    /// First element.
    pub start: u64,
    /// Distance between block starts.
    pub stride: u64,
    /// Number of blocks.
    pub count: u64,
    /// Elements per block.
    pub block: u64,
}

impl Selection {
    /// The region in h5dump's notation; `None` for a whole-dataset selection, `{}` for an empty
    /// one.
    #[must_use]
    pub(crate) fn text(&self) -> Option<String> {
        let coords = |c: &[u64]| format!("({})", c.iter().map(u64::to_string).collect::<Vec<_>>().join(","));
        match self {
            Selection::All => None,
            Selection::None => Some("{}".into()),
            Selection::Points(p) => Some(format!(
                "{{{}}}",
                p.iter().map(|c| coords(c)).collect::<Vec<_>>().join(", ")
            )),
            Selection::Regular(_) => Some("{…}".into()),
            Selection::Blocks(b) => Some(format!(
                "{{{}}}",
                b.iter()
                    .map(|(s, e)| format!("{}-{}", coords(s), coords(e)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

fn corrupt(c: &Cursor<'_>, why: impl Into<String>) -> Hdf5Error {
    Hdf5Error::corrupt(WHAT, c.offset(), why)
}

fn uint(c: &mut Cursor<'_>, size: u8) -> Result<u64, Hdf5Error> {
    Ok(match size {
        2 => u64::from(c.u16()?),
        4 => u64::from(c.u32()?),
        8 => c.u64()?,
        n => return Err(corrupt(c, format!("coordinate size {n}"))),
    })
}

/// Decode a serialized selection (`data` starts at its selection type).
///
/// # Errors
/// Unknown types or versions, truncated data, more than [`MAX_SELECTION_COORDS`]
/// coordinates, a rank over 32, corners out of order, unlimited counts.
pub(crate) fn parse(data: &[u8], base: u64) -> Result<Selection, Hdf5Error> {
    parse_from(&mut Cursor::new(data, base, WHAT), true)
}

/// [`parse`] from a cursor, which is left after the selection (a virtual dataset's mapping
/// list stores selections back to back); `expand` false keeps regular hyperslabs as
/// [`Selection::Regular`] (no bound on their block count).
///
/// # Errors
/// As [`parse`].
pub(crate) fn parse_from(c: &mut Cursor<'_>, expand: bool) -> Result<Selection, Hdf5Error> {
    let kind = c.u32()?;
    let version = c.u32()?;
    match kind {
        0 | 3 => {
            if version != 1 {
                return Err(corrupt(c, format!("all/none selection version {version}")));
            }
            c.skip(8)?; // reserved, length
            Ok(if kind == 3 { Selection::All } else { Selection::None })
        }
        1 => {
            let size = match version {
                1 => {
                    c.skip(8)?; // reserved, length
                    4
                }
                2 => c.u8()?,
                v => return Err(corrupt(c, format!("point selection version {v}"))),
            };
            let rank = rank(c)?;
            let n = uint(c, size)?;
            let n = count(c, n, rank, size, "points")?;
            let mut points = Vec::with_capacity(n);
            for _ in 0..n {
                points.push((0..rank).map(|_| uint(c, size)).collect::<Result<Vec<_>, _>>()?);
            }
            Ok(Selection::Points(points))
        }
        2 => {
            let (regular, size) = match version {
                1 => {
                    c.skip(8)?; // reserved, length
                    (false, 4)
                }
                2 => {
                    let flags = c.u8()?;
                    c.skip(4)?; // length
                    if flags & 1 == 0 {
                        return Err(corrupt(c, "version 2 hyperslab that is not regular"));
                    }
                    (true, 8)
                }
                3 => {
                    let flags = c.u8()?;
                    (flags & 1 != 0, c.u8()?)
                }
                v => return Err(corrupt(c, format!("hyperslab selection version {v}"))),
            };
            let rank = rank(c)?;
            if regular {
                regular_blocks(c, rank, size, expand)
            } else {
                let n = uint(c, size)?;
                let n = count(c, n, rank.saturating_mul(2), size, "blocks")?;
                let mut blocks = Vec::with_capacity(n);
                for _ in 0..n {
                    let start = (0..rank).map(|_| uint(c, size)).collect::<Result<Vec<_>, _>>()?;
                    let end = (0..rank).map(|_| uint(c, size)).collect::<Result<Vec<_>, _>>()?;
                    if start.iter().zip(&end).any(|(s, e)| s > e) {
                        return Err(corrupt(c, "a block ends before it starts"));
                    }
                    blocks.push((start, end));
                }
                Ok(Selection::Blocks(blocks))
            }
        }
        k => Err(corrupt(c, format!("selection type {k}"))),
    }
}

fn rank(c: &mut Cursor<'_>) -> Result<usize, Hdf5Error> {
    let r = c.u32()?;
    if r == 0 || r > 32 {
        return Err(corrupt(c, format!("rank {r}")));
    }
    Ok(r as usize)
}

/// `n` items of `per` coordinates of `size` bytes: checked against the bound and the bytes
/// left.
fn count(c: &Cursor<'_>, n: u64, per: usize, size: u8, what: &str) -> Result<usize, Hdf5Error> {
    let coords = n.checked_mul(per as u64);
    let bytes = coords.and_then(|x| x.checked_mul(u64::from(size)));
    if coords.is_none_or(|k| k > MAX_SELECTION_COORDS) || bytes.is_none_or(|b| b > c.remaining() as u64) {
        return Err(corrupt(
            c,
            format!("{n} {what} do not fit the selection's bytes or the bound"),
        ));
    }
    usize::try_from(n).map_err(|_| corrupt(c, "count overflows"))
}

/// A regular hyperslab (start, stride, count, block per axis) as its blocks in row-major
/// order, as libhdf5 lists them.
fn regular_blocks(c: &mut Cursor<'_>, rank: usize, size: u8, expand: bool) -> Result<Selection, Hdf5Error> {
    let unlimited = match size {
        2 => u64::from(u16::MAX),
        4 => u64::from(u32::MAX),
        8 => u64::MAX,
        n => return Err(corrupt(c, format!("coordinate size {n}"))),
    };
    let mut axes = Vec::with_capacity(rank);
    let mut empty = false;
    for _ in 0..rank {
        let (start, stride, count, block) = (uint(c, size)?, uint(c, size)?, uint(c, size)?, uint(c, size)?);
        if count == unlimited || block == unlimited {
            return Err(Hdf5Error::unsupported("unlimited hyperslab selection"));
        }
        if count == 0 || block == 0 {
            // Read on: the cursor must end after the selection.
            empty = true;
            continue;
        }
        // The last block's end must be representable.
        count
            .checked_sub(1)
            .and_then(|k| k.checked_mul(stride))
            .and_then(|x| x.checked_add(start))
            .and_then(|x| x.checked_add(block - 1))
            .ok_or_else(|| corrupt(c, "hyperslab beyond 2^64"))?;
        axes.push((start, stride, count, block));
    }
    if empty {
        return Ok(Selection::None);
    }
    if !expand {
        return Ok(Selection::Regular(
            axes.iter()
                .map(|&(start, stride, count, block)| RegularAxis {
                    start,
                    stride,
                    count,
                    block,
                })
                .collect(),
        ));
    }
    let total = axes
        .iter()
        .try_fold(1u64, |a, &(_, _, n, _)| a.checked_mul(n))
        .filter(|&n| n.saturating_mul(2 * rank as u64) <= MAX_SELECTION_COORDS)
        .ok_or_else(|| {
            corrupt(
                c,
                format!("regular hyperslab of more than {MAX_SELECTION_COORDS} block coordinates"),
            )
        })?;
    let mut blocks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut idx = vec![0u64; rank];
    for _ in 0..total {
        let start: Vec<u64> = axes.iter().zip(&idx).map(|(&(s, st, _, _), &i)| s + i * st).collect();
        let end: Vec<u64> = start.iter().zip(&axes).map(|(&s, &(_, _, _, b))| s + b - 1).collect();
        blocks.push((start, end));
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < axes[d].2 {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(Selection::Blocks(blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(words: &[(u64, usize)]) -> Vec<u8> {
        words.iter().flat_map(|&(v, n)| v.to_le_bytes()[..n].to_vec()).collect()
    }

    #[test]
    fn all_none_points_blocks() {
        assert_eq!(parse(&le(&[(3, 4), (1, 4), (0, 8)]), 0).unwrap(), Selection::All);
        assert_eq!(parse(&le(&[(0, 4), (1, 4), (0, 8)]), 0).unwrap().text().unwrap(), "{}");
        // Points v1: 2 points of rank 2.
        let p = le(&[
            (1, 4),
            (1, 4),
            (0, 4),
            (24, 4),
            (2, 4),
            (2, 4),
            (6, 4),
            (9, 4),
            (2, 4),
            (2, 4),
        ]);
        assert_eq!(parse(&p, 0).unwrap().text().unwrap(), "{(6,9), (2,2)}");
        // Hyperslab v1: one block.
        let h = le(&[
            (2, 4),
            (1, 4),
            (0, 4),
            (24, 4),
            (2, 4),
            (1, 4),
            (0, 4),
            (1, 4),
            (2, 4),
            (3, 4),
        ]);
        assert_eq!(parse(&h, 0).unwrap().text().unwrap(), "{(0,1)-(2,3)}");
        // Hyperslab v3 regular, 8-byte: start 1, stride 4, count 2, block 2 on one axis.
        let r = le(&[(2, 4), (3, 4), (1, 1), (8, 1), (1, 4), (1, 8), (4, 8), (2, 8), (2, 8)]);
        assert_eq!(parse(&r, 0).unwrap().text().unwrap(), "{(1)-(2), (5)-(6)}");
    }

    #[test]
    fn hostile_selections_are_errors() {
        // Truncated, unknown type, absurd counts, rank 0, reversed block, unlimited.
        assert!(parse(&[2, 0, 0], 0).is_err());
        assert!(parse(&le(&[(9, 4), (1, 4)]), 0).is_err());
        assert!(parse(&le(&[(1, 4), (2, 4), (8, 1), (1, 4), (u64::MAX, 8)]), 0).is_err());
        assert!(parse(&le(&[(1, 4), (2, 4), (8, 1), (0, 4)]), 0).is_err());
        let rev = le(&[(2, 4), (1, 4), (0, 4), (0, 4), (1, 4), (1, 4), (5, 4), (4, 4)]);
        assert!(parse(&rev, 0).is_err());
        let unl = le(&[
            (2, 4),
            (3, 4),
            (1, 1),
            (8, 1),
            (1, 4),
            (0, 8),
            (1, 8),
            (u64::MAX, 8),
            (1, 8),
        ]);
        assert!(parse(&unl, 0).is_err());
        // A regular hyperslab with a coordinate size of 40 bytes (found by fuzzing).
        let odd = le(&[(2, 4), (3, 4), (1, 1), (40, 1), (1, 4), (0, 8)]);
        assert!(parse(&odd, 0).is_err());
        let huge = le(&[
            (2, 4),
            (3, 4),
            (1, 1),
            (8, 1),
            (2, 4),
            (0, 8),
            (1, 8),
            (1 << 20, 8),
            (1, 8),
            (0, 8),
            (1, 8),
            (2, 8),
            (1, 8),
        ]);
        assert!(parse(&huge, 0).is_err(), "over MAX_SELECTION_COORDS");
    }
}
