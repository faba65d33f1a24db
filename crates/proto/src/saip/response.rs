//! `EUICCResponse`: the eUICC's verdict on a profile package (TCA eUICC Profile Package
//! specification §8.11 in v2.x, ASN.1 module `PEDefinitions`, `DEFINITIONS AUTOMATIC TAGS`).
//!
//! ```text
//! EUICCResponse ::= SEQUENCE {                       -- 30
//!   peStatus SEQUENCE OF PEStatus,                   -- [0] A0 { 30 … }
//!   profileInstallationAborted NULL OPTIONAL,        -- [1] 81 00
//!   statusMessage UTF8String (SIZE(1..64)) OPTIONAL, -- [2] 82
//!   ... }
//! PEStatus ::= SEQUENCE {                            -- 30
//!   status PEStatusValue,                            -- [0] 80 INTEGER
//!   identification UInt15 OPTIONAL,                  -- [1] 81
//!   additional-information UInt8 OPTIONAL,           -- [2] 82
//!   offset UInt31 OPTIONAL,                          -- [3] 83
//!   ... }
//! ```
//!
//! In SGP.02 the ISD-P returns it encrypted in the `86` response to the last SCP03t segment
//! (see [`crate::scp03t`]). The layout above is checked against the sample
//! `300CA008300680010581010C8100` (invalid-request-format for PE 12, then aborted) quoted in a
//! public SGP.22 tool's unit test, and against pySim's copy of the module (field names and
//! order, as summarised in `shared/protocol/SGP02.md` §4.4).

use super::der::{Node, Writer};
use super::SaipError;
use std::fmt;

/// `PEStatusValue` (an INTEGER with named values; other values are kept as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeStatusValue(pub u32);

impl PeStatusValue {
    pub const OK: Self = Self(0);
    pub const PE_NOT_SUPPORTED: Self = Self(1);
    pub const MEMORY_FAILURE: Self = Self(2);
    pub const BAD_VALUES: Self = Self(3);
    pub const NOT_ENOUGH_MEMORY: Self = Self(4);
    pub const INVALID_REQUEST_FORMAT: Self = Self(5);
    pub const INVALID_PARAMETER: Self = Self(6);
    pub const RUNTIME_NOT_SUPPORTED: Self = Self(7);
    pub const LIB_NOT_SUPPORTED: Self = Self(8);
    pub const TEMPLATE_NOT_SUPPORTED: Self = Self(9);
    pub const FEATURE_NOT_SUPPORTED: Self = Self(10);
    pub const PIN_CODE_MISSING: Self = Self(11);
    pub const UNSUPPORTED_PROFILE_VERSION: Self = Self(31);

    /// The ASN.1 name, or a description of the range the value falls in.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "ok",
            1 => "pe-not-supported",
            2 => "memory-failure",
            3 => "bad-values",
            4 => "not-enough-memory",
            5 => "invalid-request-format",
            6 => "invalid-parameter",
            7 => "runtime-not-supported",
            8 => "lib-not-supported",
            9 => "template-not-supported",
            10 => "feature-not-supported",
            11 => "pin-code-missing",
            31 => "unsupported-profile-version",
            24576..=28671 | 36864..=40959 => "ISO 7816 status word",
            40960.. => "proprietary",
            _ => "undefined",
        }
    }
}

impl fmt::Display for PeStatusValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// One `PEStatus` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeStatus {
    pub status: PeStatusValue,
    /// The `identification` of the PE the status is about.
    pub identification: Option<u16>,
    pub additional_information: Option<u8>,
    /// Byte offset of the problem inside the PE.
    pub offset: Option<u32>,
}

impl PeStatus {
    /// A status without the optional fields.
    pub fn new(status: PeStatusValue) -> Self {
        Self {
            status,
            identification: None,
            additional_information: None,
            offset: None,
        }
    }
}

/// `EUICCResponse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EuiccResponse {
    pub pe_status: Vec<PeStatus>,
    pub profile_installation_aborted: bool,
    pub status_message: Option<String>,
}

impl EuiccResponse {
    /// A response with one `ok` status and nothing aborted.
    pub fn ok() -> Self {
        Self {
            pe_status: vec![PeStatus::new(PeStatusValue::OK)],
            profile_installation_aborted: false,
            status_message: None,
        }
    }

    /// Whether the profile was installed: not aborted and every status `ok`.
    pub fn is_success(&self) -> bool {
        !self.profile_installation_aborted
            && self.pe_status.iter().all(|s| s.status == PeStatusValue::OK)
    }

    /// Decodes one DER `EUICCResponse` filling `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Self, SaipError> {
        let (node, used) = Node::parse_prefix(bytes, 0)?;
        if used != bytes.len() {
            return Err(SaipError::Der {
                offset: used,
                tag: None,
                reason: "bytes after EUICCResponse".into(),
            });
        }
        if node.tag.value() != 0x30 {
            return Err(node.err("EUICCResponse is not a SEQUENCE"));
        }
        let mut f = node.fields("EUICCResponse")?;
        let list = f.req(0xA0, "peStatus")?;
        let mut pe_status = Vec::new();
        for item in list.children()? {
            if item.tag.value() != 0x30 {
                return Err(item.err("PEStatus is not a SEQUENCE"));
            }
            pe_status.push(decode_pe_status(&item)?);
        }
        let profile_installation_aborted = match f.opt(0x81) {
            Some(n) => {
                n.null()?;
                true
            }
            None => false,
        };
        let status_message = match f.opt(0x82) {
            Some(n) => {
                let v = n.octets_sized(1, 64 * 4)?;
                let s = String::from_utf8(v).map_err(|_| n.err("statusMessage is not UTF-8"))?;
                if s.chars().count() > 64 {
                    return Err(n.err("statusMessage longer than SIZE(1..64)"));
                }
                Some(s)
            }
            None => None,
        };
        f.finish()?;
        Ok(Self {
            pe_status,
            profile_installation_aborted,
            status_message,
        })
    }

    /// The DER encoding.
    pub fn to_der(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.nested(0x30, |w| {
            w.nested(0xA0, |w| {
                for s in &self.pe_status {
                    w.nested(0x30, |w| {
                        w.uint(0x80, u64::from(s.status.0));
                        if let Some(id) = s.identification {
                            w.uint(0x81, u64::from(id));
                        }
                        if let Some(a) = s.additional_information {
                            w.uint(0x82, u64::from(a));
                        }
                        if let Some(o) = s.offset {
                            w.uint(0x83, u64::from(o));
                        }
                    });
                }
            });
            if self.profile_installation_aborted {
                w.null(0x81);
            }
            if let Some(m) = &self.status_message {
                w.tlv(0x82, m.as_bytes());
            }
        });
        w.into_bytes()
    }
}

fn decode_pe_status(node: &Node<'_>) -> Result<PeStatus, SaipError> {
    let mut f = node.fields("PEStatus")?;
    let status = f.req(0x80, "status")?;
    let status = PeStatusValue(
        u32::try_from(status.uint(u64::from(u32::MAX))?).map_err(|_| status.err("too large"))?,
    );
    let identification = match f.opt(0x81) {
        Some(n) => Some(u16::try_from(n.uint(32767)?).map_err(|_| n.err("above UInt15"))?),
        None => None,
    };
    let additional_information = f.opt(0x82).map(|n| n.u8()).transpose()?;
    let offset = match f.opt(0x83) {
        Some(n) => Some(u32::try_from(n.uint(0x7FFF_FFFF)?).map_err(|_| n.err("above UInt31"))?),
        None => None,
    };
    f.finish()?;
    Ok(PeStatus {
        status,
        identification,
        additional_information,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample from a public SGP.22 tool's unit test: peStatus { status 5
    /// (invalid-request-format), identification 12 }, profileInstallationAborted.
    const SAMPLE: &str = "300CA008300680010581010C8100";

    #[test]
    fn decodes_the_published_sample() {
        let bytes = hex::decode(SAMPLE).unwrap();
        let r = EuiccResponse::decode(&bytes).unwrap();
        assert_eq!(r.pe_status.len(), 1);
        assert_eq!(r.pe_status[0].status, PeStatusValue::INVALID_REQUEST_FORMAT);
        assert_eq!(r.pe_status[0].identification, Some(12));
        assert!(r.profile_installation_aborted);
        assert!(!r.is_success());
        assert_eq!(r.to_der(), bytes);
    }

    #[test]
    fn ok_response_bytes() {
        // 30 07 A0 05 30 03 80 01 00: one PEStatus "ok", written out by hand from the ASN.1.
        assert_eq!(
            hex::encode_upper(EuiccResponse::ok().to_der()),
            "3007A0053003800100"
        );
        assert!(EuiccResponse::ok().is_success());
    }

    #[test]
    fn round_trip_all_fields() {
        let r = EuiccResponse {
            pe_status: vec![
                PeStatus {
                    status: PeStatusValue(0x6A80),
                    identification: Some(32767),
                    additional_information: Some(200),
                    offset: Some(70000),
                },
                PeStatus::new(PeStatusValue::OK),
            ],
            profile_installation_aborted: false,
            status_message: Some("écrit".into()),
        };
        assert_eq!(EuiccResponse::decode(&r.to_der()).unwrap(), r);
        assert_eq!(PeStatusValue(0x6A80).name(), "ISO 7816 status word");
    }

    #[test]
    fn rejects_trailing_bytes_and_unknown_fields() {
        let mut b = hex::decode(SAMPLE).unwrap();
        b.push(0);
        assert!(EuiccResponse::decode(&b).is_err());
        // An unknown [5] component.
        assert!(EuiccResponse::decode(&hex::decode("3005A000850100").unwrap()).is_err());
        // Not a SEQUENCE.
        assert!(EuiccResponse::decode(&hex::decode("3102A000").unwrap()).is_err());
        // peStatus missing.
        assert!(EuiccResponse::decode(&hex::decode("30028100").unwrap()).is_err());
    }
}
