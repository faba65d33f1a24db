//! The strict DER reader and writer under the SAIP types: X.690 §10 (DER) over the BER-TLV
//! framing of [`crate::tlv`], with the positions of every object kept so that errors name the
//! byte offset in the package and the tag.
//!
//! Rules enforced on reading: definite minimal lengths (in [`crate::tlv`]); SEQUENCE components
//! in definition order with nothing unknown left over; INTEGERs in minimal two's-complement form
//! and in range; NULL empty; a DEFAULT component never encoded with its default value (X.690
//! §11.5); size constraints of the module checked where the types here rely on them.

use super::SaipError;
use crate::tlv::{encode_length, Tag, Tlv};

/// One DER object inside a package, borrowed, with its absolute offset.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node<'a> {
    pub tag: Tag,
    /// Offset of the tag byte from the start of the package.
    pub offset: usize,
    /// The whole TLV.
    pub raw: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Offset of the first value byte from the start of the package.
    pub value_offset: usize,
}

impl<'a> Node<'a> {
    /// Reads one object at the start of `bytes` (which sits at `base` in the package).
    pub fn parse_prefix(bytes: &'a [u8], base: usize) -> Result<(Self, usize), SaipError> {
        let (tlv, used) = Tlv::parse_prefix(bytes).map_err(|e| SaipError::Tlv {
            source: e.shifted(base),
        })?;
        let header = used - tlv.value.len();
        Ok((
            Self {
                tag: tlv.tag,
                offset: base,
                raw: &bytes[..used],
                value: &bytes[header..used],
                value_offset: base + header,
            },
            used,
        ))
    }

    /// All objects filling `bytes` exactly.
    pub fn parse_all(bytes: &'a [u8], base: usize) -> Result<Vec<Self>, SaipError> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let (n, used) = Self::parse_prefix(&bytes[at..], base + at)?;
            out.push(n);
            at += used;
        }
        Ok(out)
    }

    /// The children of a constructed object.
    pub fn children(&self) -> Result<Vec<Self>, SaipError> {
        if !self.tag.is_constructed() {
            return Err(self.err("primitive encoding where a constructed one is required"));
        }
        Self::parse_all(self.value, self.value_offset)
    }

    /// A cursor over the components of a SEQUENCE.
    pub fn fields(&self, what: &'static str) -> Result<Fields<'a>, SaipError> {
        Ok(Fields {
            nodes: self.children()?,
            pos: 0,
            what,
            end: self.value_offset + self.value.len(),
        })
    }

    pub fn err(&self, reason: impl Into<String>) -> SaipError {
        SaipError::Der {
            offset: self.offset,
            tag: Some(self.tag),
            reason: reason.into(),
        }
    }

    /// An OCTET STRING value (primitive).
    pub fn octets(&self) -> Result<Vec<u8>, SaipError> {
        if self.tag.is_constructed() {
            return Err(self.err("constructed OCTET STRING (not DER)"));
        }
        Ok(self.value.to_vec())
    }

    /// An OCTET STRING with a SIZE constraint.
    pub fn octets_sized(&self, min: usize, max: usize) -> Result<Vec<u8>, SaipError> {
        let v = self.octets()?;
        if v.len() < min || v.len() > max {
            return Err(self.err(format!(
                "OCTET STRING of {} bytes outside SIZE({min}..{max})",
                v.len()
            )));
        }
        Ok(v)
    }

    /// An OCTET STRING of exactly N bytes.
    pub fn array<const N: usize>(&self) -> Result<[u8; N], SaipError> {
        let v = self.octets_sized(N, N)?;
        v.try_into()
            .map_err(|_| self.err(format!("OCTET STRING is not {N} bytes")))
    }

    /// A NULL.
    pub fn null(&self) -> Result<(), SaipError> {
        if !self.value.is_empty() || self.tag.is_constructed() {
            return Err(self.err("NULL with contents"));
        }
        Ok(())
    }

    /// A non-negative INTEGER up to `max`, in minimal form.
    pub fn uint(&self, max: u64) -> Result<u64, SaipError> {
        let v = self.value;
        if self.tag.is_constructed() || v.is_empty() {
            return Err(self.err("INTEGER without contents"));
        }
        if v.len() > 1 && ((v[0] == 0 && v[1] & 0x80 == 0) || (v[0] == 0xFF && v[1] & 0x80 != 0)) {
            return Err(self.err("INTEGER not in minimal form (not DER)"));
        }
        if v[0] & 0x80 != 0 {
            return Err(self.err("negative INTEGER where 0.. is required"));
        }
        if v.len() > 9 {
            return Err(self.err("INTEGER too large"));
        }
        let n = v.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if n > max {
            return Err(self.err(format!("INTEGER {n} above {max}")));
        }
        Ok(n)
    }

    pub fn u8(&self) -> Result<u8, SaipError> {
        u8::try_from(self.uint(255)?).map_err(|_| self.err("INTEGER above 255"))
    }

    pub fn u16(&self) -> Result<u16, SaipError> {
        u16::try_from(self.uint(65535)?).map_err(|_| self.err("INTEGER above 65535"))
    }
}

/// A cursor over SEQUENCE components in definition order.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    nodes: Vec<Node<'a>>,
    pos: usize,
    what: &'static str,
    end: usize,
}

impl<'a> Fields<'a> {
    /// The next component if it has `tag`.
    pub fn opt(&mut self, tag: u32) -> Option<Node<'a>> {
        let n = self
            .nodes
            .get(self.pos)
            .filter(|n| n.tag == Tag::new(tag))?;
        self.pos += 1;
        Some(*n)
    }

    /// The next component, which must have `tag`.
    pub fn req(&mut self, tag: u32, name: &'static str) -> Result<Node<'a>, SaipError> {
        self.opt(tag).ok_or_else(|| {
            let (offset, found) = self
                .nodes
                .get(self.pos)
                .map_or((self.end, None), |n| (n.offset, Some(n.tag)));
            SaipError::Der {
                offset,
                tag: found,
                reason: format!(
                    "{}: component {name} (tag {}) missing",
                    self.what,
                    Tag::new(tag)
                ),
            }
        })
    }

    /// The next component, whatever its tag.
    pub fn next_any(&mut self) -> Option<Node<'a>> {
        let n = self.nodes.get(self.pos).copied()?;
        self.pos += 1;
        Some(n)
    }

    /// Nothing may be left: an unknown or misplaced component is an error.
    pub fn finish(self) -> Result<(), SaipError> {
        match self.nodes.get(self.pos) {
            None => Ok(()),
            Some(n) => Err(n.err(format!("{}: unknown or out-of-order component", self.what))),
        }
    }
}

/// Checks that a DEFAULT component was not encoded with its default value.
pub(crate) fn not_default<T: PartialEq>(
    node: &Node<'_>,
    value: T,
    default: T,
) -> Result<T, SaipError> {
    if value == default {
        return Err(node.err("DEFAULT value encoded explicitly (not DER)"));
    }
    Ok(value)
}

/// The tag of context-specific [n], primitive or constructed, in its canonical form
/// (X.690 §8.1.2: low-tag-number form below 31, high-tag-number form above).
pub(crate) const fn ctx(n: u32, constructed: bool) -> u32 {
    let first = if constructed { 0xA0 } else { 0x80 };
    if n < 31 {
        first | n
    } else if n < 128 {
        ((first | 0x1F) << 8) | n
    } else {
        ((first | 0x1F) << 16) | ((0x80 | (n >> 7)) << 8) | (n & 0x7F)
    }
}

/// The number of a context-specific tag and whether it is constructed.
pub(crate) fn ctx_number(tag: Tag) -> Option<(u32, bool)> {
    let bytes = tag.to_bytes();
    let first = *bytes.first()?;
    if first & 0xC0 != 0x80 {
        return None;
    }
    let constructed = first & 0x20 != 0;
    if first & 0x1F != 0x1F {
        return (bytes.len() == 1).then_some((u32::from(first & 0x1F), constructed));
    }
    let rest = &bytes[1..];
    if rest.first().is_some_and(|&b| b == 0x80) {
        return None;
    }
    let n = rest
        .iter()
        .fold(0u32, |acc, &b| (acc << 7) | u32::from(b & 0x7F));
    (n >= 31).then_some((n, constructed))
}

/// DER writer: appends TLVs to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn tlv(&mut self, tag: u32, value: &[u8]) {
        self.0.extend_from_slice(&Tag::new(tag).to_bytes());
        self.0.extend_from_slice(&encode_length(value.len()));
        self.0.extend_from_slice(value);
    }

    pub fn null(&mut self, tag: u32) {
        self.tlv(tag, &[]);
    }

    pub fn uint(&mut self, tag: u32, n: u64) {
        self.tlv(tag, &uint_bytes(n));
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// A constructed object whose contents `f` writes.
    pub fn nested(&mut self, tag: u32, f: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::default();
        f(&mut inner);
        self.tlv(tag, &inner.0);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// The minimal two's-complement contents of a non-negative INTEGER.
pub(crate) fn uint_bytes(n: u64) -> Vec<u8> {
    let b = n.to_be_bytes();
    let skip = b.iter().take(7).take_while(|&&x| x == 0).count();
    let mut out = b[skip..].to_vec();
    if out[0] & 0x80 != 0 {
        out.insert(0, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_tags() {
        assert_eq!(ctx(0, true), 0xA0);
        assert_eq!(ctx(30, false), 0x9E);
        assert_eq!(ctx(31, true), 0xBF1F);
        assert_eq!(ctx(89, false), 0x9F59);
        assert_eq!(ctx(200, false), 0x9F8148);
        for n in [0, 5, 30, 31, 32, 89, 127, 128, 200] {
            for c in [false, true] {
                assert_eq!(ctx_number(Tag::new(ctx(n, c))), Some((n, c)));
            }
        }
        assert_eq!(
            ctx_number(Tag::new(0x9F05)),
            None,
            "short number in long form"
        );
        assert_eq!(ctx_number(Tag::new(0x4F)), None);
    }

    #[test]
    fn integers() {
        assert_eq!(uint_bytes(0), vec![0]);
        assert_eq!(uint_bytes(127), vec![0x7F]);
        assert_eq!(uint_bytes(170), vec![0x00, 0xAA]);
        assert_eq!(uint_bytes(65535), vec![0x00, 0xFF, 0xFF]);
        let ok = [0x80, 0x02, 0x00, 0xAA];
        let (n, _) = Node::parse_prefix(&ok, 0).unwrap();
        assert_eq!(n.uint(255).unwrap(), 170);
        for bad in [
            &[0x80, 0x02, 0x00, 0x05][..],
            &[0x80, 0x01, 0x80],
            &[0x80, 0x00],
        ] {
            let (n, _) = Node::parse_prefix(bad, 0).unwrap();
            assert!(n.uint(255).is_err(), "{bad:02X?}");
        }
        let (n, _) = Node::parse_prefix(&[0x80, 0x02, 0x01, 0x00], 0).unwrap();
        assert!(n.u8().is_err());
    }
}
