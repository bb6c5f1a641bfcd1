//! Group info message (type 0x000A), spec IV.A.2.k. Only validated: nothing in it changes
//! how a group is read.

use crate::hdf5::Hdf5Error;
use crate::io::cursor::Cursor;

/// Check a group info message body.
pub(crate) fn parse(data: &[u8], offset: u64) -> Result<(), Hdf5Error> {
    let mut c = Cursor::new(data, offset, "group info message");
    let version = c.u8()?;
    if version != 0 {
        return Err(Hdf5Error::corrupt(
            "group info message",
            offset,
            format!("version {version}"),
        ));
    }
    let flags = c.u8()?;
    if flags & 1 != 0 {
        c.skip(4)?;
    }
    if flags & 2 != 0 {
        c.skip(4)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn flags() {
        assert!(super::parse(&[0, 3, 1, 2, 3, 4, 5, 6, 7, 8], 0).is_ok());
        assert!(super::parse(&[0, 3, 1], 0).is_err());
    }
}
