//! `PE-PINCodes` (`A2`) and `PE-PUKCodes` (`A3`), SAIP §8.4: the PIN and PUK values of the
//! file system created just before. PIN key references: 1–8 global (PIN1 = 1), 10–14 ADM1–5,
//! 129–136 local ("second") PINs, 138–142 ADM6–10; PUK references 1–8 and 129–136.
//!
//! The retry byte holds the maximum number of attempts in its high nibble and the attempts left
//! in its low nibble; it is omitted when equal to its DEFAULT (`0x33` for PINs, `0xAA` for PUKs).

use super::der::{not_default, Node, Writer};
use super::{PeHeader, SaipError, SecretBytes};

/// `pinAttributes` DEFAULT.
pub const PIN_ATTRIBUTES_DEFAULT: u8 = 7;
/// `maxNumOfAttemps-retryNumLeft` DEFAULT for PINs (51 = `0x33`: 3 of 3).
pub const PIN_RETRY_DEFAULT: u8 = 0x33;
/// `maxNumOfAttemps-retryNumLeft` DEFAULT for PUKs (170 = `0xAA`: 10 of 10).
pub const PUK_RETRY_DEFAULT: u8 = 0xAA;

/// `PINConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinConfiguration {
    /// `keyReference` `80`.
    pub key_reference: u8,
    /// `pinValue` `81`: 8 bytes, `FF`-padded.
    pub pin_value: SecretBytes,
    /// `unblockingPINReference` `82`: the PUK that unblocks this PIN.
    pub unblocking_pin_reference: Option<u8>,
    /// `pinAttributes` `83`, DEFAULT 7.
    pub pin_attributes: u8,
    /// `maxNumOfAttemps-retryNumLeft` `84`, DEFAULT `0x33`.
    pub max_attempts_retries_left: u8,
}

/// What a PIN PE carries: its own PINs, or a reference to the PIN context of another DF/ADF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinCodes {
    /// `pinconfig` `A0`: 1..26 PINs.
    PinConfig(Vec<PinConfiguration>),
    /// `filePath` `81`: share the PINs of that DF/ADF (temporary FID for ADFs).
    FilePath(Vec<u8>),
}

/// `PE-PINCodes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PePinCodes {
    pub header: PeHeader,
    pub pin_codes: PinCodes,
}

impl PePinCodes {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("PE-PINCodes")?;
        let header = PeHeader::decode(&f.req(0xA0, "pin-Header")?)?;
        let choice = f.req(0xA1, "pinCodes")?;
        f.finish()?;
        let mut c = choice.fields("pinCodes")?;
        let pin_codes = if let Some(list) = c.opt(0xA0) {
            let mut pins = Vec::new();
            for e in list.children()? {
                if e.tag.value() != 0x30 {
                    return Err(e.err("PINConfiguration is not a SEQUENCE"));
                }
                let mut g = e.fields("PINConfiguration")?;
                let key_reference = g.req(0x80, "keyReference")?.u8()?;
                let pin_value = SecretBytes::new(g.req(0x81, "pinValue")?.octets_sized(8, 8)?);
                let unblocking_pin_reference = g.opt(0x82).map(|n| n.u8()).transpose()?;
                let pin_attributes = match g.opt(0x83) {
                    Some(n) => not_default(&n, n.u8()?, PIN_ATTRIBUTES_DEFAULT)?,
                    None => PIN_ATTRIBUTES_DEFAULT,
                };
                let max_attempts_retries_left = match g.opt(0x84) {
                    Some(n) => not_default(&n, n.u8()?, PIN_RETRY_DEFAULT)?,
                    None => PIN_RETRY_DEFAULT,
                };
                g.finish()?;
                pins.push(PinConfiguration {
                    key_reference,
                    pin_value,
                    unblocking_pin_reference,
                    pin_attributes,
                    max_attempts_retries_left,
                });
            }
            if pins.is_empty() || pins.len() > 26 {
                return Err(list.err("pinconfig outside SIZE(1..26)"));
            }
            PinCodes::PinConfig(pins)
        } else {
            PinCodes::FilePath(c.req(0x81, "pinconfig or filePath")?.octets_sized(0, 8)?)
        };
        c.finish()?;
        Ok(Self { header, pin_codes })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(0xA2, |w| {
            self.header.encode(w, 0xA0);
            w.nested(0xA1, |w| match &self.pin_codes {
                PinCodes::PinConfig(pins) => w.nested(0xA0, |w| {
                    for p in pins {
                        w.nested(0x30, |w| {
                            w.uint(0x80, u64::from(p.key_reference));
                            w.tlv(0x81, p.pin_value.expose());
                            if let Some(r) = p.unblocking_pin_reference {
                                w.uint(0x82, u64::from(r));
                            }
                            if p.pin_attributes != PIN_ATTRIBUTES_DEFAULT {
                                w.uint(0x83, u64::from(p.pin_attributes));
                            }
                            if p.max_attempts_retries_left != PIN_RETRY_DEFAULT {
                                w.uint(0x84, u64::from(p.max_attempts_retries_left));
                            }
                        });
                    }
                }),
                PinCodes::FilePath(p) => w.tlv(0x81, p),
            });
        });
    }
}

/// `PUKConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PukConfiguration {
    /// `keyReference` `80`.
    pub key_reference: u8,
    /// `pukValue` `81`: 8 bytes.
    pub puk_value: SecretBytes,
    /// `maxNumOfAttemps-retryNumLeft` `82`, DEFAULT `0xAA`.
    pub max_attempts_retries_left: u8,
}

/// `PE-PUKCodes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PePukCodes {
    pub header: PeHeader,
    /// `pukCodes` `A1`: 1..16 PUKs.
    pub puk_codes: Vec<PukConfiguration>,
}

impl PePukCodes {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("PE-PUKCodes")?;
        let header = PeHeader::decode(&f.req(0xA0, "puk-Header")?)?;
        let list = f.req(0xA1, "pukCodes")?;
        f.finish()?;
        let mut puk_codes = Vec::new();
        for e in list.children()? {
            if e.tag.value() != 0x30 {
                return Err(e.err("PUKConfiguration is not a SEQUENCE"));
            }
            let mut g = e.fields("PUKConfiguration")?;
            let key_reference = g.req(0x80, "keyReference")?.u8()?;
            let puk_value = SecretBytes::new(g.req(0x81, "pukValue")?.octets_sized(8, 8)?);
            let max_attempts_retries_left = match g.opt(0x82) {
                Some(n) => not_default(&n, n.u8()?, PUK_RETRY_DEFAULT)?,
                None => PUK_RETRY_DEFAULT,
            };
            g.finish()?;
            puk_codes.push(PukConfiguration {
                key_reference,
                puk_value,
                max_attempts_retries_left,
            });
        }
        if puk_codes.is_empty() || puk_codes.len() > 16 {
            return Err(list.err("pukCodes outside SIZE(1..16)"));
        }
        Ok(Self { header, puk_codes })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(0xA3, |w| {
            self.header.encode(w, 0xA0);
            w.nested(0xA1, |w| {
                for p in &self.puk_codes {
                    w.nested(0x30, |w| {
                        w.uint(0x80, u64::from(p.key_reference));
                        w.tlv(0x81, p.puk_value.expose());
                        if p.max_attempts_retries_left != PUK_RETRY_DEFAULT {
                            w.uint(0x82, u64::from(p.max_attempts_retries_left));
                        }
                    });
                }
            });
        });
    }
}

/// A PIN or PUK value as SAIP stores it: the ASCII digits, padded with `FF` to 8 bytes
/// (ETSI TS 102 221 §9.5.1 PIN coding).
pub fn pin_value(digits: &str) -> Result<SecretBytes, SaipError> {
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SaipError::InvalidValue {
            what: "PIN",
            reason: "1 to 8 decimal digits required".into(),
        });
    }
    let mut v = digits.as_bytes().to_vec();
    v.resize(8, 0xFF);
    Ok(SecretBytes::new(v))
}
