//! Numbered block sequences shared by LOAD (GPCS v2.3.1 §11.6.2.2) and STORE DATA
//! (§11.11.2.2): blocks numbered from `00` to `FF`, strictly sequential, the last one flagged.

use super::GpError;

/// Splits `data` into at most 256 chunks of at most `max` bytes (one empty chunk for no data).
pub(crate) fn chunks<'a>(
    data: &'a [u8],
    max: usize,
    what: &'static str,
) -> Result<Vec<&'a [u8]>, GpError> {
    if max == 0 {
        return Err(GpError::TooLong {
            what: "block size",
            len: 0,
            max: 0,
        });
    }
    if data.is_empty() {
        return Ok(vec![data]);
    }
    let out: Vec<&[u8]> = data.chunks(max).collect();
    if out.len() > 256 {
        return Err(GpError::TooLong {
            what,
            len: data.len(),
            max: 256 * max,
        });
    }
    Ok(out)
}

/// The card side of a block sequence: checks the numbering and joins the data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockAssembler {
    next: u8,
    started: bool,
    data: Vec<u8>,
}

impl BlockAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one block. Returns the whole data after the last block (and starts over); an
    /// out-of-sequence block is an error that also starts over, as the card resets its block
    /// counter after an error (GPCS §11.11.2.2).
    pub fn push(&mut self, block: u8, last: bool, data: &[u8]) -> Result<Option<Vec<u8>>, GpError> {
        if block != self.next {
            let expected = self.next;
            self.reset();
            return Err(GpError::BlockSequence {
                expected,
                found: block,
            });
        }
        self.data.extend_from_slice(data);
        if last {
            let whole = std::mem::take(&mut self.data);
            self.reset();
            return Ok(Some(whole));
        }
        if block == u8::MAX {
            self.reset();
            return Err(GpError::TooLong {
                what: "block sequence without a last block",
                len: 256,
                max: 255,
            });
        }
        self.next = block + 1;
        self.started = true;
        Ok(None)
    }

    /// Whether blocks have been received and the last one has not.
    pub fn in_progress(&self) -> bool {
        self.started
    }

    /// Forgets the blocks received so far.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence() {
        let mut a = BlockAssembler::new();
        assert_eq!(a.push(0, false, b"ab").unwrap(), None);
        assert!(a.in_progress());
        assert_eq!(a.push(1, false, b"cd").unwrap(), None);
        assert_eq!(a.push(2, true, b"e").unwrap(), Some(b"abcde".to_vec()));
        assert!(!a.in_progress());
        assert_eq!(a.push(0, true, b"x").unwrap(), Some(b"x".to_vec()));
        a.push(0, false, b"x").unwrap();
        assert_eq!(
            a.push(2, true, b"y"),
            Err(GpError::BlockSequence {
                expected: 1,
                found: 2
            })
        );
        assert!(!a.in_progress());
        assert!(a.push(1, true, b"y").is_err());
        for i in 0..=254u8 {
            a.push(i, false, b"").unwrap();
        }
        assert!(a.push(255, false, b"").is_err());
    }

    #[test]
    fn chunking() {
        assert_eq!(chunks(b"", 10, "x").unwrap(), vec![&b""[..]]);
        assert_eq!(chunks(b"abcde", 2, "x").unwrap().len(), 3);
        assert!(chunks(b"abc", 0, "x").is_err());
        assert_eq!(chunks(&[0; 256], 1, "x").unwrap().len(), 256);
        assert!(chunks(&[0; 257], 1, "x").is_err());
    }
}
