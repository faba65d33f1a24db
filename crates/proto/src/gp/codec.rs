//! Byte-level helpers shared by the GlobalPlatform command and response codecs: a strict reader
//! for the LV-coded fields of INSTALL and friends (GPCS v2.3.1 §11.1.5: BER-style lengths, with
//! `'80'` also accepted for 128), a TLV walker that keeps absolute offsets for error messages,
//! and the short-APDU limits of §11.1.5.

use super::GpError;
use crate::apdu::CommandApdu;
use crate::tlv::{encode_length, Tag, Tlv, TlvError};

/// Largest command data field of a GlobalPlatform command (short Lc, GPCS §11.1.5).
pub const MAX_COMMAND_DATA: usize = 255;

/// A cursor over bytes that reports absolute offsets (relative to the start of the outermost
/// structure being decoded) in every error.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `data`, whose first byte is at absolute offset `base`.
    pub fn new(data: &'a [u8], base: usize) -> Self {
        Self { data, pos: 0, base }
    }

    /// The absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn remaining(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    pub fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, GpError> {
        Ok(self.take(1, field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, GpError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], GpError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(GpError::Truncated {
                offset: self.offset(),
                field,
            })?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A value preceded by a one-byte length.
    pub fn lv(&mut self, field: &'static str) -> Result<&'a [u8], GpError> {
        let len = usize::from(self.u8(field)?);
        self.take(len, field)
    }

    /// A value preceded by a GlobalPlatform BER length: `'00'`–`'80'` (with `'80'` = 128, kept
    /// for backward compatibility by GPCS §11.5.2.3), `'81 80'`–`'81 FF'`, `'82 01 00'`–`'82 FF FF'`.
    pub fn ber_lv(&mut self, field: &'static str) -> Result<&'a [u8], GpError> {
        let at = self.offset();
        let first = self.u8(field)?;
        let len = match first {
            0x00..=0x80 => usize::from(first),
            0x81 => {
                let n = self.u8(field)?;
                if n < 0x80 {
                    return Err(GpError::invalid(at, None, "non-minimal '81' length"));
                }
                usize::from(n)
            }
            0x82 => {
                let n = self.u16(field)?;
                if n < 0x100 {
                    return Err(GpError::invalid(at, None, "non-minimal '82' length"));
                }
                usize::from(n)
            }
            _ => {
                return Err(GpError::invalid(
                    at,
                    None,
                    "length form other than 1 to 3 bytes",
                ))
            }
        };
        self.take(len, field)
    }

    /// Fails if bytes are left.
    pub fn finish(self) -> Result<(), GpError> {
        let count = self.data.len().saturating_sub(self.pos);
        if count > 0 {
            return Err(GpError::TrailingBytes {
                offset: self.offset(),
                count,
            });
        }
        Ok(())
    }
}

/// Appends `value` preceded by a one-byte length (the value is known to be at most 255 bytes).
pub(crate) fn push_lv(out: &mut Vec<u8>, value: &[u8]) {
    out.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(value);
}

/// Appends `value` preceded by its minimal BER length.
pub(crate) fn push_ber_lv(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&encode_length(value.len()));
    out.extend_from_slice(value);
}

/// One data object of a TLV sequence, borrowed, with the absolute offsets of its tag and value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Element<'a> {
    pub tag: Tag,
    pub value: &'a [u8],
    /// Absolute offset of the tag.
    pub start: usize,
    /// Absolute offset of the value.
    pub offset: usize,
}

impl<'a> Element<'a> {
    /// The children of this (constructed) object.
    pub fn children(&self) -> Result<Vec<Element<'a>>, GpError> {
        elements(self.value, self.offset)
    }

    /// An error about this object's value.
    pub fn invalid(&self, reason: &'static str) -> GpError {
        GpError::invalid(self.offset, Some(self.tag), reason)
    }

    /// The value as exactly one byte.
    pub fn single_byte(&self) -> Result<u8, GpError> {
        match self.value {
            [b] => Ok(*b),
            _ => Err(self.invalid("value must be one byte")),
        }
    }

    /// An owned copy.
    pub fn to_tlv(self) -> Tlv {
        Tlv::new(self.tag, self.value)
    }
}

/// Splits `bytes` (at absolute offset `base`) into consecutive TLV objects; strict.
pub(crate) fn elements(bytes: &[u8], base: usize) -> Result<Vec<Element<'_>>, GpError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let (tlv, used) = Tlv::parse_prefix(rest).map_err(|e| e.shifted(base + at))?;
        let header = used - tlv.value.len();
        out.push(Element {
            tag: tlv.tag,
            value: &rest[header..used],
            start: base + at,
            offset: base + at + header,
        });
        at += used;
    }
    Ok(out)
}

/// Exactly one TLV object with tag `expected` filling `bytes`.
pub(crate) fn single(bytes: &[u8], expected: Tag) -> Result<Element<'_>, GpError> {
    let (tlv, used) = Tlv::parse_prefix(bytes)?;
    if tlv.tag != expected {
        return Err(TlvError::Unexpected {
            offset: 0,
            expected,
            found: tlv.tag,
        }
        .into());
    }
    if used != bytes.len() {
        return Err(GpError::TrailingBytes {
            offset: used,
            count: bytes.len() - used,
        });
    }
    let header = used - tlv.value.len();
    Ok(Element {
        tag: tlv.tag,
        value: &bytes[header..used],
        start: 0,
        offset: header,
    })
}

/// Checks the instruction byte of a command being decoded.
pub(crate) fn expect_ins(apdu: &CommandApdu, ins: u8) -> Result<(), GpError> {
    if apdu.ins == ins {
        Ok(())
    } else {
        Err(GpError::WrongInstruction {
            expected: ins,
            found: apdu.ins,
        })
    }
}

/// Checks that a command data field fits a short Lc.
pub(crate) fn check_short(data: &[u8], what: &'static str) -> Result<(), GpError> {
    if data.len() > MAX_COMMAND_DATA {
        return Err(GpError::TooLong {
            what,
            len: data.len(),
            max: MAX_COMMAND_DATA,
        });
    }
    Ok(())
}

/// A big-endian unsigned integer of one to four bytes.
pub(crate) fn be_uint(el: &Element<'_>) -> Result<u32, GpError> {
    if el.value.is_empty() || el.value.len() > 4 {
        return Err(el.invalid("integer must be 1 to 4 bytes"));
    }
    Ok(el
        .value
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// The minimal big-endian encoding of `v` (at least one byte).
pub(crate) fn minimal_be(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take(3).take_while(|&&x| x == 0).count();
    b[skip..].to_vec()
}

/// Splits `data` into commands with `template`'s header, setting P1 b8 ("more commands") on
/// all but the last (GPCS §11.1.5.1, for DELETE, INSTALL and PUT KEY).
pub(crate) fn split_chain(template: &CommandApdu, data: &[u8]) -> Vec<CommandApdu> {
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![data]
    } else {
        data.chunks(MAX_COMMAND_DATA).collect()
    };
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut apdu = template.clone().with_data(chunk);
            if i < last {
                apdu.p1 |= 0x80;
            }
            apdu
        })
        .collect()
}

/// Joins a chain made by [`split_chain`]: same header apart from P1 b8, which is set on all but
/// the last command. Returns the command with the whole data and P1 b8 clear.
pub(crate) fn join_chain(
    command: &'static str,
    apdus: &[CommandApdu],
) -> Result<CommandApdu, GpError> {
    let (last, init) = apdus.split_last().ok_or(GpError::Truncated {
        offset: 0,
        field: "command chain",
    })?;
    if last.p1 & 0x80 != 0 {
        return Err(GpError::params(
            command,
            last,
            "the last command of a chain has P1 b8 set",
        ));
    }
    let mut data = Vec::new();
    for apdu in init {
        let same =
            (apdu.cla, apdu.ins, apdu.p1 & 0x7F, apdu.p2) == (last.cla, last.ins, last.p1, last.p2);
        if !same || apdu.p1 & 0x80 == 0 {
            return Err(GpError::params(
                command,
                apdu,
                "chained commands must share the header and set P1 b8",
            ));
        }
        data.extend_from_slice(&apdu.data);
    }
    data.extend_from_slice(&last.data);
    let mut whole = last.clone();
    whole.data = data;
    Ok(whole)
}
