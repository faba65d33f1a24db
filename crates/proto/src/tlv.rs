//! Strict BER-TLV as used by ISO/IEC 7816-4 §5.2 and GlobalPlatform (ISO/IEC 8825-1 rules:
//! tags of one to three bytes, definite lengths in the short form or `81`–`84` long forms).
//!
//! Every decoder here is strict: a length running past the end, a tag that does not end, a
//! non-minimal or indefinite length, or bytes left over are errors naming the offset and tag.
//! Padding bytes `00`/`FF` between objects are not accepted.

use std::fmt;
use thiserror::Error;

/// A BER tag of one to three bytes, held as its big-endian value (`0x5A`, `0x9F70`, `0xBF2F`...).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u32);

impl Tag {
    /// A tag from its big-endian byte value. The value is not checked; use [`Tag::parse`] for
    /// bytes from outside.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The tag's value.
    pub fn value(self) -> u32 {
        self.0
    }

    /// The tag's bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        let b = self.0.to_be_bytes();
        let skip = b.iter().take(3).take_while(|&&x| x == 0).count();
        b[skip..].to_vec()
    }

    /// Whether bit b6 of the first byte marks a constructed encoding.
    pub fn is_constructed(self) -> bool {
        self.to_bytes().first().is_some_and(|b| b & 0x20 != 0)
    }

    /// Reads a tag at the start of `bytes`, returning it and its length in bytes.
    pub fn parse(bytes: &[u8]) -> Result<(Self, usize), TlvError> {
        let first = *bytes.first().ok_or(TlvError::Truncated {
            offset: 0,
            tag: None,
            what: "tag",
        })?;
        if first & 0x1F != 0x1F {
            return Ok((Self(u32::from(first)), 1));
        }
        let mut value = u32::from(first);
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            if i > 2 {
                return Err(TlvError::TagTooLong { offset: 0 });
            }
            value = (value << 8) | u32::from(b);
            if b & 0x80 == 0 {
                return Ok((Self(value), i + 1));
            }
        }
        Err(TlvError::Truncated {
            offset: 0,
            tag: None,
            what: "tag",
        })
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(self.to_bytes()))
    }
}

/// Why bytes are not valid BER-TLV.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TlvError {
    /// The input ends inside a tag, a length or a value.
    #[error("TLV truncated at offset {offset}{}: {what} runs past the end", tag_suffix(*tag))]
    Truncated {
        offset: usize,
        tag: Option<Tag>,
        what: &'static str,
    },
    /// A tag longer than three bytes.
    #[error("TLV tag at offset {offset} longer than three bytes")]
    TagTooLong { offset: usize },
    /// Indefinite (`80`), reserved or over-long length forms, or a non-minimal long form.
    #[error("TLV length at offset {offset} (tag {tag}) is not a valid definite length: {reason}")]
    BadLength {
        offset: usize,
        tag: Tag,
        reason: &'static str,
    },
    /// Bytes left after the last object where none may be.
    #[error("{count} unexpected trailing bytes at offset {offset}")]
    TrailingBytes { offset: usize, count: usize },
    /// A required tag is absent.
    #[error("required tag {tag} missing{}", in_suffix(*parent))]
    Missing { tag: Tag, parent: Option<Tag> },
    /// A tag other than the one expected.
    #[error("expected tag {expected} at offset {offset}, found {found}")]
    Unexpected {
        offset: usize,
        expected: Tag,
        found: Tag,
    },
}

fn tag_suffix(tag: Option<Tag>) -> String {
    tag.map(|t| format!(" (tag {t})")).unwrap_or_default()
}

fn in_suffix(tag: Option<Tag>) -> String {
    tag.map(|t| format!(" in {t}")).unwrap_or_default()
}

impl TlvError {
    /// The same error with its offset moved by `by` (for errors inside nested values).
    pub fn shifted(self, by: usize) -> Self {
        match self {
            Self::Truncated { offset, tag, what } => Self::Truncated {
                offset: offset + by,
                tag,
                what,
            },
            Self::TagTooLong { offset } => Self::TagTooLong {
                offset: offset + by,
            },
            Self::BadLength {
                offset,
                tag,
                reason,
            } => Self::BadLength {
                offset: offset + by,
                tag,
                reason,
            },
            Self::TrailingBytes { offset, count } => Self::TrailingBytes {
                offset: offset + by,
                count,
            },
            Self::Unexpected {
                offset,
                expected,
                found,
            } => Self::Unexpected {
                offset: offset + by,
                expected,
                found,
            },
            other @ Self::Missing { .. } => other,
        }
    }
}

/// One BER-TLV data object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    pub tag: Tag,
    pub value: Vec<u8>,
}

impl Tlv {
    /// A data object.
    pub fn new(tag: impl Into<Tag>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            tag: tag.into(),
            value: value.into(),
        }
    }

    /// A constructed data object whose value is the concatenation of `children`.
    pub fn constructed(tag: impl Into<Tag>, children: &[Tlv]) -> Self {
        Self::new(
            tag,
            children.iter().flat_map(Tlv::to_bytes).collect::<Vec<_>>(),
        )
    }

    /// Reads one object at the start of `bytes`; returns it and the number of bytes it took.
    pub fn parse_prefix(bytes: &[u8]) -> Result<(Self, usize), TlvError> {
        let (tag, tl) = Tag::parse(bytes)?;
        let (len, ll) = parse_length(&bytes[tl..]).map_err(|e| match e {
            LenErr::Truncated => TlvError::Truncated {
                offset: tl,
                tag: Some(tag),
                what: "length",
            },
            LenErr::Bad(reason) => TlvError::BadLength {
                offset: tl,
                tag,
                reason,
            },
        })?;
        let start = tl + ll;
        let end =
            start
                .checked_add(len)
                .filter(|&e| e <= bytes.len())
                .ok_or(TlvError::Truncated {
                    offset: start,
                    tag: Some(tag),
                    what: "value",
                })?;
        Ok((
            Self {
                tag,
                value: bytes[start..end].to_vec(),
            },
            end,
        ))
    }

    /// Reads exactly one object; trailing bytes are an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, TlvError> {
        let (tlv, used) = Self::parse_prefix(bytes)?;
        if used != bytes.len() {
            return Err(TlvError::TrailingBytes {
                offset: used,
                count: bytes.len() - used,
            });
        }
        Ok(tlv)
    }

    /// Reads exactly one object with the given tag.
    pub fn parse_expect(bytes: &[u8], tag: impl Into<Tag>) -> Result<Self, TlvError> {
        let expected = tag.into();
        let tlv = Self::parse(bytes)?;
        if tlv.tag != expected {
            return Err(TlvError::Unexpected {
                offset: 0,
                expected,
                found: tlv.tag,
            });
        }
        Ok(tlv)
    }

    /// Reads a sequence of objects filling `bytes` exactly.
    pub fn parse_all(bytes: &[u8]) -> Result<Vec<Self>, TlvError> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let (tlv, used) = Self::parse_prefix(&bytes[at..]).map_err(|e| e.shifted(at))?;
            out.push(tlv);
            at += used;
        }
        Ok(out)
    }

    /// The children of a constructed object.
    pub fn children(&self) -> Result<Vec<Self>, TlvError> {
        Self::parse_all(&self.value)
    }

    /// The first child with `tag`, if any.
    pub fn find(&self, tag: impl Into<Tag>) -> Result<Option<Self>, TlvError> {
        let tag = tag.into();
        Ok(self.children()?.into_iter().find(|c| c.tag == tag))
    }

    /// The first child with `tag`, or a [`TlvError::Missing`].
    pub fn require(&self, tag: impl Into<Tag>) -> Result<Self, TlvError> {
        let tag = tag.into();
        self.find(tag)?.ok_or(TlvError::Missing {
            tag,
            parent: Some(self.tag),
        })
    }

    /// Tag, length and value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.tag.to_bytes();
        out.extend_from_slice(&encode_length(self.value.len()));
        out.extend_from_slice(&self.value);
        out
    }
}

impl From<u32> for Tag {
    fn from(v: u32) -> Self {
        Self(v)
    }
}

impl From<u16> for Tag {
    fn from(v: u16) -> Self {
        Self(u32::from(v))
    }
}

impl From<u8> for Tag {
    fn from(v: u8) -> Self {
        Self(u32::from(v))
    }
}

enum LenErr {
    Truncated,
    Bad(&'static str),
}

fn parse_length(bytes: &[u8]) -> Result<(usize, usize), LenErr> {
    let first = *bytes.first().ok_or(LenErr::Truncated)?;
    match first {
        0x00..=0x7F => Ok((usize::from(first), 1)),
        0x80 => Err(LenErr::Bad("indefinite length")),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7F);
            let raw = bytes.get(1..=n).ok_or(LenErr::Truncated)?;
            let len = raw
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            let minimal = match n {
                1 => len >= 0x80,
                _ => raw[0] != 0,
            };
            if !minimal {
                return Err(LenErr::Bad("non-minimal long form"));
            }
            Ok((len, 1 + n))
        }
        _ => Err(LenErr::Bad("reserved or over-long length form")),
    }
}

/// The minimal definite BER length encoding of `len`.
pub fn encode_length(len: usize) -> Vec<u8> {
    let bytes = (len as u64).to_be_bytes();
    if len < 0x80 {
        return vec![bytes[7]];
    }
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let n = 8 - skip;
    let mut out = Vec::with_capacity(1 + n);
    out.push(0x80 | u8::try_from(n).unwrap_or(0x7F));
    out.extend_from_slice(&bytes[skip..]);
    out
}

/// Builds the bytes of a TLV from a tag and a value (shorthand for `Tlv::new(..).to_bytes()`).
pub fn tlv(tag: impl Into<Tag>, value: &[u8]) -> Vec<u8> {
    Tlv::new(tag, value).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn parses_gp_fci() {
        // GlobalPlatformPro issue #218: SELECT of the ISD.
        let fci = Tlv::parse(&hex("6F108408A000000151000000A5049F6501FF")).unwrap();
        assert_eq!(fci.tag, Tag::new(0x6F));
        let aid = fci.require(0x84u8).unwrap();
        assert_eq!(aid.value, hex("A000000151000000"));
        let a5 = fci.require(0xA5u8).unwrap();
        assert_eq!(a5.require(0x9F65u16).unwrap().value, vec![0xFF]);
    }

    #[test]
    fn lengths() {
        assert_eq!(encode_length(0x7F), hex("7F"));
        assert_eq!(encode_length(0x80), hex("8180"));
        assert_eq!(encode_length(0x100), hex("820100"));
        assert_eq!(encode_length(0x10000), hex("83010000"));
        let big = Tlv::new(0xE3u8, vec![0; 300]);
        assert_eq!(Tlv::parse(&big.to_bytes()).unwrap(), big);
    }

    #[test]
    fn strictness() {
        assert!(matches!(
            Tlv::parse(&hex("5A0201")),
            Err(TlvError::Truncated { .. })
        ));
        assert!(matches!(
            Tlv::parse(&hex("5A0101FF")),
            Err(TlvError::TrailingBytes {
                offset: 3,
                count: 1
            })
        ));
        assert!(matches!(
            Tlv::parse(&hex("5A8101AA")),
            Err(TlvError::BadLength { .. })
        ));
        assert!(matches!(
            Tlv::parse(&hex("5A80AA0000")),
            Err(TlvError::BadLength { .. })
        ));
        assert!(matches!(
            Tlv::parse(&hex("9F")),
            Err(TlvError::Truncated { .. })
        ));
        assert!(matches!(
            Tlv::parse(&hex("9FFFFF0100")),
            Err(TlvError::TagTooLong { .. })
        ));
        let e = Tlv::parse_all(&hex("5A01AA9F7003")).unwrap_err();
        assert_eq!(
            e,
            TlvError::Truncated {
                offset: 6,
                tag: Some(Tag::new(0x9F70)),
                what: "value"
            }
        );
    }

    #[test]
    fn agrees_with_iso7816_tlv_crate() {
        // Cross-check against an implementation we did not write.
        for h in [
            "6F108408A000000151000000A5049F6501FF",
            "9F7001075A0A89049032123451234512345678",
        ] {
            let bytes = hex(h);
            let (theirs, rest) = iso7816_tlv::ber::Tlv::parse(&bytes);
            let theirs = theirs.unwrap();
            let ours = Tlv::parse_prefix(&bytes).unwrap().0;
            assert_eq!(theirs.to_vec(), ours.to_bytes());
            assert_eq!(rest.len(), bytes.len() - ours.to_bytes().len());
        }
    }

    proptest! {
        #[test]
        fn never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = Tlv::parse(&b);
            if let Ok(all) = Tlv::parse_all(&b) {
                let again: Vec<u8> = all.iter().flat_map(Tlv::to_bytes).collect();
                prop_assert_eq!(again, b);
            }
        }

        #[test]
        fn round_trip(tag in prop::sample::select(vec![0x5Au32, 0x84, 0x9F70, 0xBF2F, 0xE3, 0x7F21, 0xDF8120]),
                      value in prop::collection::vec(any::<u8>(), 0..700)) {
            let t = Tlv::new(tag, value);
            prop_assert_eq!(Tlv::parse(&t.to_bytes()).unwrap(), t);
        }
    }
}
