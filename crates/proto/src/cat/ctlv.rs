//! COMPREHENSION-TLV coding (TS 101 220 §7.1.1, TS 102 223 Annex C, clauses recalled) and the
//! `D0`/`D6` BER-TLV around it.

use super::{tags, CatError};

/// One COMPREHENSION-TLV (TS 101 220 §7.1.1, TS 102 223 Annex C, clause recalled). `tag`
/// without the CR bit; `cr` = comprehension required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ctlv {
    pub tag: u8,
    pub cr: bool,
    pub value: Vec<u8>,
}

impl Ctlv {
    /// A TLV without the comprehension-required flag.
    pub fn new(tag: u8, value: impl Into<Vec<u8>>) -> Self {
        Self {
            tag: tag & 0x7F,
            cr: false,
            value: value.into(),
        }
    }

    /// A TLV with the comprehension-required flag.
    pub fn required(tag: u8, value: impl Into<Vec<u8>>) -> Self {
        Self {
            tag: tag & 0x7F,
            cr: true,
            value: value.into(),
        }
    }

    /// The tag byte as sent: `tag` with bit 8 set when `cr`.
    pub fn encoded_tag(&self) -> u8 {
        if self.cr {
            self.tag | tags::CR
        } else {
            self.tag
        }
    }

    /// Appends the encoded TLV to `out` (see [`push_ctlv`]).
    pub fn push_to(&self, out: &mut Vec<u8>) -> Result<(), CatError> {
        push_ctlv(out, self.encoded_tag(), &self.value)
    }
}

/// Parses a sequence of single-byte-tag COMPREHENSION-TLVs (TS 101 220 §7.1.1, clause
/// recalled) filling `bytes` exactly.
///
/// Lengths: `00`–`7F` in one byte, `81 xx` for 128–255 (`81` with `xx < 80` is an error), and
/// `82 xxxx` for 256–65535 (accepted for parsing, with the same minimality rule). Tags `00`,
/// `80` (tag 0 with CR), `7F` and `FF` (the three-byte tag format, not used by BIP) are errors.
pub fn parse_ctlvs(bytes: &[u8]) -> Result<Vec<Ctlv>, CatError> {
    Ok(parse_ctlvs_at(bytes, 0)?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

/// [`parse_ctlvs`], also returning each TLV's offset; offsets (also in errors) start at `base`.
pub(crate) fn parse_ctlvs_at(bytes: &[u8], base: usize) -> Result<Vec<(usize, Ctlv)>, CatError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((&tag, rest)) = bytes.get(pos..).and_then(<[u8]>::split_first) {
        let offset = base + pos;
        check_tag(tag, offset)?;
        let (len, used) = read_length(rest, offset + 1)?;
        let start = pos + 1 + used;
        let available = bytes.len().saturating_sub(start);
        let value = bytes
            .get(start..)
            .and_then(|v| v.get(..len))
            .ok_or(CatError::Truncated {
                what: "COMPREHENSION-TLV value",
                offset,
                needed: len,
                available,
            })?;
        out.push((
            offset,
            Ctlv {
                tag: tag & 0x7F,
                cr: tag & tags::CR != 0,
                value: value.to_vec(),
            },
        ));
        pos = start + len;
    }
    Ok(out)
}

/// Appends one COMPREHENSION-TLV: `tag` exactly as given (the caller sets the CR bit if wanted),
/// the length in one byte or as `81 xx`, then `value`. Values over 255 bytes are an error
/// (everything here must fit a short APDU); nothing is written on error.
pub fn push_ctlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) -> Result<(), CatError> {
    check_tag(tag, out.len())?;
    let mut header = vec![tag];
    push_length(&mut header, value.len())?;
    out.extend_from_slice(&header);
    out.extend_from_slice(value);
    Ok(())
}

/// Appends a BER length as CAT uses it: one byte for 0–127, `81 xx` for 128–255; longer is an
/// error (nothing is written then).
pub fn push_length(out: &mut Vec<u8>, len: usize) -> Result<(), CatError> {
    let byte = u8::try_from(len).map_err(|_| CatError::TooLong {
        what: "COMPREHENSION-TLV value",
        len,
        max: 255,
    })?;
    if byte >= 0x80 {
        out.push(0x81);
    }
    out.push(byte);
    Ok(())
}

/// Rejects tags that are not single-byte COMPREHENSION-TLV tags.
fn check_tag(tag: u8, offset: usize) -> Result<(), CatError> {
    match tag & 0x7F {
        0x00 | 0x7F => Err(CatError::BadTag { offset, tag }),
        _ => Ok(()),
    }
}

/// Reads a length at the start of `bytes` (whose first byte is at `offset`): the length and the
/// number of bytes it took.
pub(crate) fn read_length(bytes: &[u8], offset: usize) -> Result<(usize, usize), CatError> {
    let truncated = |needed| CatError::Truncated {
        what: "length",
        offset,
        needed,
        available: bytes.len(),
    };
    match bytes {
        [] => Err(truncated(1)),
        [n @ 0x00..=0x7F, ..] => Ok((usize::from(*n), 1)),
        [0x81, rest @ ..] => match rest {
            [n, ..] if *n < 0x80 => Err(CatError::NonMinimalLength {
                offset,
                len: usize::from(*n),
            }),
            [n, ..] => Ok((usize::from(*n), 2)),
            [] => Err(truncated(2)),
        },
        [0x82, rest @ ..] => match rest {
            [a, b, ..] => {
                let len = usize::from(u16::from_be_bytes([*a, *b]));
                if len < 0x100 {
                    Err(CatError::NonMinimalLength { offset, len })
                } else {
                    Ok((len, 3))
                }
            }
            _ => Err(truncated(3)),
        },
        [byte, ..] => Err(CatError::BadLength {
            offset,
            byte: *byte,
        }),
    }
}

/// Parses `tag L value` filling `bytes` exactly (the `D0`/`D6` BER-TLV around the
/// COMPREHENSION-TLVs): returns the value and the offset where it starts.
pub(crate) fn parse_outer<'a>(
    bytes: &'a [u8],
    expected: u8,
    what: &'static str,
) -> Result<(&'a [u8], usize), CatError> {
    let Some((&tag, rest)) = bytes.split_first() else {
        return Err(CatError::Truncated {
            what,
            offset: 0,
            needed: 2,
            available: 0,
        });
    };
    if tag != expected {
        return Err(CatError::WrongTag {
            what,
            expected,
            found: tag,
        });
    }
    let (len, used) = read_length(rest, 1)?;
    let start = 1 + used;
    let value = bytes
        .get(start..)
        .and_then(|v| v.get(..len))
        .ok_or(CatError::Truncated {
            what,
            offset: 0,
            needed: start + len,
            available: bytes.len(),
        })?;
    let end = start + len;
    if bytes.len() > end {
        return Err(CatError::TrailingBytes {
            offset: end,
            count: bytes.len() - end,
        });
    }
    Ok((value, start))
}

/// Wraps `body` in a `tag L` BER-TLV (length one byte or `81 xx`).
pub(crate) fn wrap_outer(tag: u8, body: &[u8]) -> Result<Vec<u8>, CatError> {
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(tag);
    push_length(&mut out, body.len())?;
    out.extend_from_slice(body);
    Ok(out)
}
