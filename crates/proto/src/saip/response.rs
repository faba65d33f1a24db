//! The eUICC's verdict on a profile package: `EUICCResponse` and `PEStatus`, the last types
//! of the SAIP v3.3.1 ASN.1 module `PEDefinitions` (SAIP.md §2.1).
//!
//! With AUTOMATIC TAGS the components are context-tagged in order:
//!
//! ```text
//! EUICCResponse ::= SEQUENCE {                          30
//!   peStatus SEQUENCE OF PEStatus,                      A0 { 30 ... 30 ... }
//!   profileInstallationAborted NULL OPTIONAL,           81 00
//!   statusMessage UTF8String (SIZE (2..64)) OPTIONAL }  82
//! PEStatus ::= SEQUENCE {                               30
//!   status INTEGER,                                     80
//!   identification UInt15 OPTIONAL,                     81
//!   additional-information UInt8 OPTIONAL,              82
//!   offset UInt31 OPTIONAL }                            83
//! ```
//!
//! Status codes are the named numbers of `PEStatus.status` ([`PeStatusCode`]); ISO 7816 status
//! words `6xxx`/`9xxx` are carried as their value, proprietary codes from 40960.

use super::der::{Node, Writer};
use super::SaipError;

/// `PEStatus.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeStatusCode {
    Ok,
    PeNotSupported,
    MemoryFailure,
    BadValues,
    NotEnoughMemory,
    InvalidRequestFormat,
    InvalidParameter,
    RuntimeNotSupported,
    LibNotSupported,
    TemplateNotSupported,
    FeatureNotSupported,
    PinCodeMissing,
    UnsupportedProfileVersion,
    /// Any other value: an ISO 7816 status word (24576–28671, 36864–40959) or proprietary.
    Other(u16),
}

const NAMED: [(PeStatusCode, u16, &str); 13] = [
    (PeStatusCode::Ok, 0, "ok"),
    (PeStatusCode::PeNotSupported, 1, "pe-not-supported"),
    (PeStatusCode::MemoryFailure, 2, "memory-failure"),
    (PeStatusCode::BadValues, 3, "bad-values"),
    (PeStatusCode::NotEnoughMemory, 4, "not-enough-memory"),
    (
        PeStatusCode::InvalidRequestFormat,
        5,
        "invalid-request-format",
    ),
    (PeStatusCode::InvalidParameter, 6, "invalid-parameter"),
    (
        PeStatusCode::RuntimeNotSupported,
        7,
        "runtime-not-supported",
    ),
    (PeStatusCode::LibNotSupported, 8, "lib-not-supported"),
    (
        PeStatusCode::TemplateNotSupported,
        9,
        "template-not-supported",
    ),
    (
        PeStatusCode::FeatureNotSupported,
        10,
        "feature-not-supported",
    ),
    (PeStatusCode::PinCodeMissing, 11, "pin-code-missing"),
    (
        PeStatusCode::UnsupportedProfileVersion,
        31,
        "unsupported-profile-version",
    ),
];

impl PeStatusCode {
    /// The INTEGER value.
    pub fn value(self) -> u16 {
        match self {
            Self::Other(v) => v,
            named => NAMED
                .iter()
                .find(|(c, _, _)| *c == named)
                .map_or(0, |(_, v, _)| *v),
        }
    }

    /// The code of an INTEGER value.
    pub fn from_value(v: u16) -> Self {
        NAMED
            .iter()
            .find(|(_, n, _)| *n == v)
            .map_or(Self::Other(v), |(c, _, _)| *c)
    }

    /// The ASN.1 name (`ok`, `bad-values`...), or the number for other values.
    pub fn name(self) -> String {
        NAMED
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or_else(|| self.value().to_string(), |(_, _, n)| (*n).to_string())
    }
}

/// One `PEStatus`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeStatus {
    pub status: PeStatusCode,
    /// The `identification` of the PE concerned (none for the ProfileHeader).
    pub identification: Option<u16>,
    pub additional_information: Option<u8>,
    /// Byte offset of the PE (or of the part of it) concerned.
    pub offset: Option<u32>,
}

/// `EUICCResponse`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EuiccResponse {
    pub pe_status: Vec<PeStatus>,
    pub profile_installation_aborted: bool,
    pub status_message: Option<String>,
}

/// Largest `offset` (UInt31).
const OFFSET_MAX: u64 = 0x7FFF_FFFF;

impl PeStatus {
    /// A status without identification, additional information or offset.
    pub fn new(status: PeStatusCode) -> Self {
        Self {
            status,
            identification: None,
            additional_information: None,
            offset: None,
        }
    }
}

impl EuiccResponse {
    /// An empty response: nothing refused, not aborted.
    pub fn ok() -> Self {
        Self::default()
    }

    /// Whether every PE was accepted and the installation was not aborted.
    pub fn is_ok(&self) -> bool {
        !self.profile_installation_aborted
            && self.pe_status.iter().all(|s| s.status == PeStatusCode::Ok)
    }

    /// The DER encoding.
    pub fn to_der(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.nested(0x30, |w| {
            w.nested(0xA0, |w| {
                for s in &self.pe_status {
                    w.nested(0x30, |w| {
                        w.uint(0x80, u64::from(s.status.value()));
                        if let Some(id) = s.identification {
                            w.uint(0x81, u64::from(id));
                        }
                        if let Some(info) = s.additional_information {
                            w.uint(0x82, u64::from(info));
                        }
                        if let Some(off) = s.offset {
                            w.uint(0x83, u64::from(off));
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

    /// Decodes one `EUICCResponse` filling `bytes` exactly.
    pub fn from_der(bytes: &[u8]) -> Result<Self, SaipError> {
        let (node, used) = Node::parse_prefix(bytes, 0)?;
        if used != bytes.len() {
            return Err(SaipError::Der {
                offset: used,
                tag: None,
                reason: "bytes after the EUICCResponse".into(),
            });
        }
        if node.tag.value() != 0x30 {
            return Err(node.err("EUICCResponse is not a SEQUENCE"));
        }
        let mut f = node.fields("EUICCResponse")?;
        let list = f.req(0xA0, "peStatus")?;
        let mut pe_status = Vec::new();
        for n in list.children()? {
            if n.tag.value() != 0x30 {
                return Err(n.err("PEStatus is not a SEQUENCE"));
            }
            let mut g = n.fields("PEStatus")?;
            let status = g.req(0x80, "status")?;
            let status = PeStatusCode::from_value(status.u16()?);
            let identification = g
                .opt(0x81)
                .map(|n| n.uint(32767).map(|v| u16::try_from(v).unwrap_or(0)))
                .transpose()?;
            let additional_information = g.opt(0x82).map(|n| n.u8()).transpose()?;
            let offset = g
                .opt(0x83)
                .map(|n| n.uint(OFFSET_MAX).map(|v| u32::try_from(v).unwrap_or(0)))
                .transpose()?;
            g.finish()?;
            pe_status.push(PeStatus {
                status,
                identification,
                additional_information,
                offset,
            });
        }
        let profile_installation_aborted = match f.opt(0x81) {
            Some(n) => {
                n.null()?;
                true
            }
            None => false,
        };
        let status_message = f
            .opt(0x82)
            .map(|n| {
                let s = std::str::from_utf8(n.value)
                    .map_err(|_| n.err("statusMessage is not UTF-8"))?;
                if !(2..=64).contains(&s.chars().count()) {
                    return Err(n.err("statusMessage outside SIZE (2..64)"));
                }
                Ok(s.to_string())
            })
            .transpose()?;
        f.finish()?;
        Ok(Self {
            pe_status,
            profile_installation_aborted,
            status_message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Encoding written out by hand from the ASN.1 above: one ok PE (id 4, offset 140) and
    /// one bad-values PE (id 11, offset 300, additional information 2), aborted.
    #[test]
    fn encoding_by_hand() {
        let r = EuiccResponse {
            pe_status: vec![
                PeStatus {
                    status: PeStatusCode::Ok,
                    identification: Some(4),
                    additional_information: None,
                    offset: Some(140),
                },
                PeStatus {
                    status: PeStatusCode::BadValues,
                    identification: Some(11),
                    additional_information: Some(2),
                    offset: Some(300),
                },
            ],
            profile_installation_aborted: true,
            status_message: Some("K".repeat(2)),
        };
        let der = r.to_der();
        assert_eq!(
            hex::encode_upper(&der),
            concat!(
                "3023", "A01B", "300A", "800100", "810104", "8302008C", "300D", "800103", "81010B",
                "820102", "8302012C", "8100", "82024B4B"
            )
        );
        assert_eq!(EuiccResponse::from_der(&der).unwrap(), r);
        assert!(!r.is_ok());
    }

    #[test]
    fn codes() {
        assert_eq!(
            PeStatusCode::from_value(31),
            PeStatusCode::UnsupportedProfileVersion
        );
        assert_eq!(PeStatusCode::TemplateNotSupported.value(), 9);
        assert_eq!(
            PeStatusCode::from_value(0x6A80),
            PeStatusCode::Other(0x6A80)
        );
        assert_eq!(PeStatusCode::PeNotSupported.name(), "pe-not-supported");
        assert_eq!(PeStatusCode::Other(40960).name(), "40960");
    }

    #[test]
    fn strict() {
        let ok = EuiccResponse::default().to_der();
        assert_eq!(ok, [0x30, 0x02, 0xA0, 0x00]);
        assert!(EuiccResponse::from_der(&[0x30, 0x02, 0xA0, 0x00, 0x00]).is_err());
        assert!(EuiccResponse::from_der(&[0x30, 0x00]).is_err());
        assert!(EuiccResponse::from_der(&[0x30, 0x05, 0xA0, 0x00, 0x81, 0x01, 0x00]).is_err());
        // INTEGER not minimal.
        assert!(EuiccResponse::from_der(&hex::decode("3007A005300380020000").unwrap()).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics_and_round_trips(b in prop::collection::vec(any::<u8>(), 0..60)) {
            if let Ok(r) = EuiccResponse::from_der(&b) {
                prop_assert_eq!(r.to_der(), b);
            }
        }
    }
}
