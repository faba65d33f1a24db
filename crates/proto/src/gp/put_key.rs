//! PUT KEY framing (GPCS v2.3.1 §11.8): the command around already-built key data fields, and
//! its response. The encryption of key components and the key check values are the secure
//! channel's business (for SCP03: [`crate::scp03::put_key`]); here they are opaque bytes.
//!
//! `80 D8 P1 P2 Lc data 00`. P1: b8 more commands, b7..b1 the KVN to replace (`00` adds a new
//! key set). P2: b8 several keys, b7..b1 the first Key Identifier (the others follow in
//! order). Data: the new KVN, then per key a key data field (Tables 11-68, 11-69):
//! components of key type and BER-length-prefixed key component block, then KCV length and
//! KCV; in the extended format the key types are `FF xx` and key usage and key access (each
//! length-prefixed) follow the KCV. A component is recognised by its key type being above
//! `7F` (basic) or `FF` (extended); anything else is the KCV length, as §11.8.2.3.1 notes.
//! The response is the KVN followed by the KCVs.

use super::codec::{expect_ins, join_chain, push_ber_lv, split_chain, Reader};
use super::{GpError, CLA_GP, MAX_COMMAND_DATA};
use crate::apdu::{CommandApdu, SHORT_LE_MAX};

/// INS of PUT KEY.
pub const INS_PUT_KEY: u8 = 0xD8;

/// One key component: its type and its (possibly encrypted) key component block.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyComponent {
    pub key_type: u8,
    pub block: Vec<u8>,
}

impl std::fmt::Debug for KeyComponent {
    /// The block may be a clear-text secret in some schemes: only its length is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyComponent {{ key_type: {:02X}, block: <{} bytes> }}",
            self.key_type,
            self.block.len()
        )
    }
}

/// Basic or extended key data field format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyDataFormat {
    /// Table 11-68.
    Basic,
    /// Table 11-69, with the key usage qualifier and key access.
    Extended { usage: Vec<u8>, access: Vec<u8> },
}

/// One key data field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyData {
    pub components: Vec<KeyComponent>,
    pub kcv: Vec<u8>,
    pub format: KeyDataFormat,
}

impl KeyData {
    /// A basic-format key of one component.
    pub fn basic(key_type: u8, block: Vec<u8>, kcv: Vec<u8>) -> Self {
        Self {
            components: vec![KeyComponent { key_type, block }],
            kcv,
            format: KeyDataFormat::Basic,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let extended = matches!(self.format, KeyDataFormat::Extended { .. });
        for c in &self.components {
            if extended {
                out.push(0xFF);
            }
            out.push(c.key_type);
            push_ber_lv(out, &c.block);
        }
        push_short(out, &self.kcv);
        if let KeyDataFormat::Extended { usage, access } = &self.format {
            push_short(out, usage);
            push_short(out, access);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, GpError> {
        let extended = r.peek() == Some(0xFF);
        let mut components = Vec::new();
        loop {
            if extended {
                let at = r.offset();
                if r.u8("key type")? != 0xFF {
                    return Err(GpError::invalid(
                        at,
                        None,
                        "extended key types start with FF",
                    ));
                }
            }
            let key_type = r.u8("key type")?;
            if !extended && key_type == 0xFF {
                return Err(GpError::invalid(
                    r.offset() - 1,
                    None,
                    "FF in a basic key data field",
                ));
            }
            let block = r.ber_lv("key component block")?.to_vec();
            if block.is_empty() {
                return Err(GpError::invalid(
                    r.offset() - 1,
                    None,
                    "empty key component",
                ));
            }
            components.push(KeyComponent { key_type, block });
            let next = r.peek().ok_or(GpError::Truncated {
                offset: r.offset(),
                field: "key check value length",
            })?;
            let another = if extended { next == 0xFF } else { next >= 0x80 };
            if !another {
                break;
            }
        }
        let kcv = short_lv(r, "key check value")?;
        let format = if extended {
            KeyDataFormat::Extended {
                usage: short_lv(r, "key usage")?,
                access: short_lv(r, "key access")?,
            }
        } else {
            KeyDataFormat::Basic
        };
        Ok(Self {
            components,
            kcv,
            format,
        })
    }
}

/// A value with a one-byte length of `00` to `7F` (Tables 11-68, 11-69).
fn short_lv(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<u8>, GpError> {
    if r.peek().is_some_and(|len| len > 0x7F) {
        return Err(GpError::invalid(r.offset(), None, "length above 7F"));
    }
    Ok(r.lv(field)?.to_vec())
}

fn push_short(out: &mut Vec<u8>, value: &[u8]) {
    let value = &value[..value.len().min(0x7F)];
    out.push(u8::try_from(value.len()).unwrap_or(0x7F));
    out.extend_from_slice(value);
}

/// A PUT KEY command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutKey {
    /// P1 b7..b1: the key set replaced, `00` for a new one.
    pub replace_kvn: u8,
    /// P2 b7..b1: the Key Identifier of the first key.
    pub first_key_id: u8,
    /// The KVN of the keys in the data field.
    pub new_kvn: u8,
    pub keys: Vec<KeyData>,
}

impl PutKey {
    /// The command data: new KVN and the key data fields.
    pub fn data(&self) -> Vec<u8> {
        let mut out = vec![self.new_kvn];
        for key in &self.keys {
            key.encode(&mut out);
        }
        out
    }

    fn header(&self) -> Result<CommandApdu, GpError> {
        if self.replace_kvn > 0x7F || self.first_key_id > 0x7F {
            return Err(GpError::invalid(
                0,
                None,
                "KVN and Key Identifier are 00 to 7F",
            ));
        }
        if !(0x01..=0x7F).contains(&self.new_kvn) || self.keys.is_empty() {
            return Err(GpError::invalid(
                0,
                None,
                "new KVN 01 to 7F and at least one key",
            ));
        }
        let multiple = if self.keys.len() > 1 { 0x80 } else { 0x00 };
        Ok(CommandApdu::new(
            CLA_GP,
            INS_PUT_KEY,
            self.replace_kvn,
            multiple | self.first_key_id,
        )
        .with_le(SHORT_LE_MAX))
    }

    /// One command; fails if the data exceeds 255 bytes (use [`PutKey::to_apdus`]).
    pub fn to_apdu(&self) -> Result<CommandApdu, GpError> {
        let header = self.header()?;
        let data = self.data();
        if data.len() > MAX_COMMAND_DATA {
            return Err(GpError::TooLong {
                what: "PUT KEY data (use a command chain)",
                len: data.len(),
                max: MAX_COMMAND_DATA,
            });
        }
        Ok(header.with_data(data))
    }

    /// The command, chained (P1 b8) when the data exceeds 255 bytes.
    pub fn to_apdus(&self) -> Result<Vec<CommandApdu>, GpError> {
        Ok(split_chain(&self.header()?, &self.data()))
    }

    /// Decodes one command (not part of a chain).
    pub fn from_apdu(apdu: &CommandApdu) -> Result<Self, GpError> {
        expect_ins(apdu, INS_PUT_KEY)?;
        if apdu.p1 & 0x80 != 0 {
            return Err(GpError::params(
                "PUT KEY",
                apdu,
                "more commands follow: decode the whole chain",
            ));
        }
        let mut r = Reader::new(&apdu.data, 0);
        let at = r.offset();
        let new_kvn = r.u8("key version number")?;
        if !(0x01..=0x7F).contains(&new_kvn) {
            return Err(GpError::invalid(at, None, "new KVN must be 01 to 7F"));
        }
        let mut keys = Vec::new();
        while !r.is_empty() {
            keys.push(KeyData::read(&mut r)?);
        }
        if keys.is_empty() {
            return Err(GpError::Truncated {
                offset: r.offset(),
                field: "key data field",
            });
        }
        if keys.len() > 1 && apdu.p2 & 0x80 == 0 {
            return Err(GpError::params(
                "PUT KEY",
                apdu,
                "several keys without P2 b8",
            ));
        }
        Ok(Self {
            replace_kvn: apdu.p1,
            first_key_id: apdu.p2 & 0x7F,
            new_kvn,
            keys,
        })
    }

    /// Decodes a chain of commands (or a single command).
    pub fn from_apdus(apdus: &[CommandApdu]) -> Result<Self, GpError> {
        Self::from_apdu(&join_chain("PUT KEY", apdus)?)
    }

    /// The response a card gives after storing these keys: the KVN and the KCVs as sent.
    pub fn expected_response(&self) -> PutKeyResponse {
        PutKeyResponse {
            kvn: self.new_kvn,
            kcvs: self.keys.iter().map(|k| k.kcv.clone()).collect(),
        }
    }

    /// Decodes the response to this command (KCV lengths as in the command).
    pub fn parse_response(&self, data: &[u8]) -> Result<PutKeyResponse, GpError> {
        let lengths: Vec<usize> = self.keys.iter().map(|k| k.kcv.len()).collect();
        PutKeyResponse::parse(data, &lengths)
    }
}

/// The response to PUT KEY: the KVN and the key check values, without lengths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutKeyResponse {
    pub kvn: u8,
    pub kcvs: Vec<Vec<u8>>,
}

impl PutKeyResponse {
    /// Decodes `KVN ‖ KCV…` with the given KCV lengths.
    pub fn parse(data: &[u8], kcv_lengths: &[usize]) -> Result<Self, GpError> {
        let mut r = Reader::new(data, 0);
        let kvn = r.u8("key version number")?;
        let kcvs = kcv_lengths
            .iter()
            .map(|&n| r.take(n, "key check value").map(<[u8]>::to_vec))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Self { kvn, kcvs })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![self.kvn];
        out.extend(self.kcvs.iter().flatten());
        out
    }
}

#[cfg(test)]
mod tests;
