//! A bounds-checked little/big-endian reader over a byte slice.
//!
//! Every read is checked; errors name the structure being read and the absolute file offset,
//! so a truncated or corrupt file produces "truncated v2 object header at 0x1a40".

/// Error from a [`Cursor`] read past the end of its buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("truncated {what} at offset {offset:#x}")]
pub struct Truncated {
    /// The structure being read.
    pub what: &'static str,
    /// Absolute file offset of the failed read.
    pub offset: u64,
}

/// Bounds-checked reader. `base` is the absolute file offset of `buf[0]`.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// Start reading `buf`, which begins at absolute offset `base`, describing it as `what`.
    #[must_use]
    pub fn new(buf: &'a [u8], base: u64, what: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            what,
        }
    }

    /// Current position relative to the start of the buffer.
    #[must_use]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Absolute file offset of the current position.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    /// Bytes left.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Rename the structure being read (for error messages).
    pub fn set_what(&mut self, what: &'static str) {
        self.what = what;
    }

    fn err(&self) -> Truncated {
        Truncated {
            what: self.what,
            offset: self.offset(),
        }
    }

    /// Move to `pos` (relative to the buffer start).
    ///
    /// # Errors
    /// [`Truncated`] if `pos` is past the end.
    pub fn seek(&mut self, pos: usize) -> Result<(), Truncated> {
        if pos > self.buf.len() {
            return Err(self.err());
        }
        self.pos = pos;
        Ok(())
    }

    /// Take the next `n` bytes.
    ///
    /// # Errors
    /// [`Truncated`] if fewer than `n` bytes are left.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.err())?;
        let s = self.buf.get(self.pos..end).ok_or_else(|| self.err())?;
        self.pos = end;
        Ok(s)
    }

    /// Skip `n` bytes.
    ///
    /// # Errors
    /// [`Truncated`] if fewer than `n` bytes are left.
    pub fn skip(&mut self, n: usize) -> Result<(), Truncated> {
        self.bytes(n).map(|_| ())
    }

    /// Read a `u8`.
    ///
    /// # Errors
    /// [`Truncated`] at the end of the buffer.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.bytes(1)?[0])
    }

    /// Read a little-endian `u16`.
    ///
    /// # Errors
    /// [`Truncated`] at the end of the buffer.
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// Read a little-endian `u32`.
    ///
    /// # Errors
    /// [`Truncated`] at the end of the buffer.
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        self.uint(4).map(|v| v as u32)
    }

    /// Read a little-endian `u64`.
    ///
    /// # Errors
    /// [`Truncated`] at the end of the buffer.
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        self.uint(8)
    }

    /// Read a little-endian unsigned integer of `n` ≤ 8 bytes (HDF5 "size of offsets/lengths").
    ///
    /// # Errors
    /// [`Truncated`] at the end of the buffer, or if `n > 8`.
    pub fn uint(&mut self, n: usize) -> Result<u64, Truncated> {
        if n > 8 {
            return Err(self.err());
        }
        let b = self.bytes(n)?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    /// Read a big-endian unsigned integer of `n` ≤ 8 bytes.
    ///
    /// # Errors
    /// [`Truncated`] at the end of the buffer, or if `n > 8`.
    pub fn uint_be(&mut self, n: usize) -> Result<u64, Truncated> {
        if n > 8 {
            return Err(self.err());
        }
        let b = self.bytes(n)?;
        Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_reports_truncation_with_offset() {
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        let mut c = Cursor::new(&data, 0x100, "test structure");
        assert_eq!(c.u16().unwrap(), 0x0201);
        assert_eq!(c.uint(3).unwrap(), 0x050403);
        assert_eq!(c.uint_be(2).unwrap(), 0x0607);
        let e = c.u32().unwrap_err();
        assert_eq!(
            e,
            Truncated {
                what: "test structure",
                offset: 0x107
            }
        );
        assert_eq!(e.to_string(), "truncated test structure at offset 0x107");
    }
}
