//! SAIP profile packages: the TCA (formerly SIMalliance) *eUICC Profile Package: Interoperable
//! Format Technical Specification* (versions 2.x and 3.x, ASN.1 module `PEDefinitions`), which
//! SGP.02 uses as the payload the SM-DP prepares and the ISD-P installs.
//!
//! A package is a bare concatenation of DER-encoded `ProfileElement` values: no outer SEQUENCE,
//! count or length. `ProfileElement` is a CHOICE with automatic tags, so the first byte of each
//! PE names its alternative (`A0` header, `A1` genericFileManagement, `A2` pinCodes, `A3`
//! pukCodes, `A4` akaParameter, `A6` securityDomain, `A7` rfm, `AA` end, `B0` mf, `B3` usim,
//! `BF 1F` df-5gprose...; see [`PeKind`]). Every PE but the header starts with a PEHeader
//! (`mandated` NULL, `identification`), the label an eUICC uses in its `PEStatus` reports.
//!
//! - [`package`]: walking a package ([`Package::parse`]): each PE's alternative, offset, length
//!   and bytes; decoding into the types below; re-encoding as canonical DER. A PE we do not type
//!   (cdmaParameter, application, nonStandard, rfu), a tag outside the CHOICE, or a PE that
//!   does not decode is kept as [`OpaquePe`] with its identification, offset and error, so one
//!   bad PE does not lose the package.
//! - [`header`]: ProfileHeader (version, ICCID, profileType, mandatory services, GFSTE list).
//! - [`file`](mod@file): the `File` contents and FCPs of the file-system PEs (mf, usim, opt-usim, ...),
//!   and [`gfm`] for genericFileManagement.
//! - [`aka`], [`pin`], [`sd`], [`rfm`]: akaParameter, pinCodes/pukCodes, securityDomain, rfm.
//! - [`identity`]: ICCID and IMSI codings (header, EF.ICCID, EF.IMSI).
//! - [`personalize`]: replace ICCID, IMSI, K/OPc in an existing package.
//! - [`minimal`]: build a minimal valid package.
//! - [`response`]: the eUICC's `EUICCResponse` with a `PEStatus` per PE.
//!
//! The types are written by hand from the module's field names and tags, over a strict DER
//! walker (the private `der` module; its documentation lists the rules it enforces).

pub mod aka;
pub(crate) mod der;
pub mod fields;
pub mod file;
pub mod gfm;
pub mod header;
pub mod identity;
pub mod minimal;
pub mod package;
pub mod personalize;
pub mod pin;
pub mod response;
pub mod rfm;
pub mod sd;
mod secret;

#[cfg(test)]
pub(crate) mod ts48_tests;

pub use package::{OpaquePe, Package, PackageElement, ProfileElement};
pub use response::{EuiccResponse, PeStatus, PeStatusCode};
pub use secret::SecretBytes;

use crate::tlv::{Tag, TlvError};
use der::{Node, Writer};
use std::fmt;
use thiserror::Error;

/// Why a package or PE cannot be decoded, built or changed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SaipError {
    /// The TLV framing is broken (offsets are from the start of the package).
    #[error("{source}")]
    Tlv { source: TlvError },
    /// A DER or ASN.1 rule is broken at `offset` (from the start of the package).
    #[error("at offset {offset}{}: {reason}", tag.map(|t| format!(" (tag {t})")).unwrap_or_default())]
    Der {
        offset: usize,
        tag: Option<Tag>,
        reason: String,
    },
    /// A value given for personalization or building is not valid.
    #[error("invalid {what}: {reason}")]
    InvalidValue { what: &'static str, reason: String },
    /// The package lacks what an operation needs.
    #[error("package has no {0}")]
    Missing(&'static str),
}

/// The alternatives of `ProfileElement` (SAIP v3.3.1 ASN.1), in CHOICE order: alternative *n*
/// is tagged `[n]` constructed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeKind {
    Header,
    GenericFileManagement,
    PinCodes,
    PukCodes,
    AkaParameter,
    CdmaParameter,
    SecurityDomain,
    Rfm,
    Application,
    NonStandard,
    End,
    Rfu1,
    Rfu2,
    Rfu3,
    Rfu4,
    Rfu5,
    Mf,
    Cd,
    Telecom,
    Usim,
    OptUsim,
    Isim,
    OptIsim,
    Phonebook,
    GsmAccess,
    Csim,
    OptCsim,
    Eap,
    Df5gs,
    DfSaip,
    DfSnpn,
    Df5gprose,
    Iot,
    OptIot,
    /// A tag that is not an alternative known to v3.3.1 (a later version, or garbage).
    Unknown(Tag),
}

const KINDS: [(PeKind, &str); 34] = [
    (PeKind::Header, "header"),
    (PeKind::GenericFileManagement, "genericFileManagement"),
    (PeKind::PinCodes, "pinCodes"),
    (PeKind::PukCodes, "pukCodes"),
    (PeKind::AkaParameter, "akaParameter"),
    (PeKind::CdmaParameter, "cdmaParameter"),
    (PeKind::SecurityDomain, "securityDomain"),
    (PeKind::Rfm, "rfm"),
    (PeKind::Application, "application"),
    (PeKind::NonStandard, "nonStandard"),
    (PeKind::End, "end"),
    (PeKind::Rfu1, "rfu1"),
    (PeKind::Rfu2, "rfu2"),
    (PeKind::Rfu3, "rfu3"),
    (PeKind::Rfu4, "rfu4"),
    (PeKind::Rfu5, "rfu5"),
    (PeKind::Mf, "mf"),
    (PeKind::Cd, "cd"),
    (PeKind::Telecom, "telecom"),
    (PeKind::Usim, "usim"),
    (PeKind::OptUsim, "opt-usim"),
    (PeKind::Isim, "isim"),
    (PeKind::OptIsim, "opt-isim"),
    (PeKind::Phonebook, "phonebook"),
    (PeKind::GsmAccess, "gsm-access"),
    (PeKind::Csim, "csim"),
    (PeKind::OptCsim, "opt-csim"),
    (PeKind::Eap, "eap"),
    (PeKind::Df5gs, "df-5gs"),
    (PeKind::DfSaip, "df-saip"),
    (PeKind::DfSnpn, "df-snpn"),
    (PeKind::Df5gprose, "df-5gprose"),
    (PeKind::Iot, "iot"),
    (PeKind::OptIot, "opt-iot"),
];

impl PeKind {
    /// The alternative a PE's first tag names.
    pub fn from_tag(tag: Tag) -> Self {
        match der::ctx_number(tag) {
            Some((n, true)) => usize::try_from(n)
                .ok()
                .and_then(|i| KINDS.get(i))
                .map_or(Self::Unknown(tag), |(k, _)| *k),
            _ => Self::Unknown(tag),
        }
    }

    /// The CHOICE index (tag number), if known.
    pub fn index(self) -> Option<u32> {
        KINDS
            .iter()
            .position(|(k, _)| *k == self)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// The tag of this alternative.
    pub fn tag(self) -> Tag {
        match (self, self.index()) {
            (Self::Unknown(t), _) => t,
            (_, Some(i)) => Tag::new(der::ctx(i, true)),
            (_, None) => Tag::new(0),
        }
    }

    /// The ASN.1 name of the alternative (`"usim"`, `"genericFileManagement"`...).
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("unknown", |(_, n)| n)
    }

    /// The file fields of a file-system PE, in definition order starting at tag `[2]`.
    pub fn file_fields(self) -> Option<&'static [fields::FileField]> {
        Some(match self {
            Self::Mf => fields::MF,
            Self::Cd => fields::CD,
            Self::Telecom => fields::TELECOM,
            Self::Usim => fields::USIM,
            Self::OptUsim => fields::OPT_USIM,
            Self::Isim => fields::ISIM,
            Self::OptIsim => fields::OPT_ISIM,
            Self::Phonebook => fields::PHONEBOOK,
            Self::GsmAccess => fields::GSM_ACCESS,
            Self::Csim => fields::CSIM,
            Self::OptCsim => fields::OPT_CSIM,
            Self::Eap => fields::EAP,
            Self::Df5gs => fields::DF_5GS,
            Self::DfSaip => fields::DF_SAIP,
            Self::DfSnpn => fields::DF_SNPN,
            Self::Df5gprose => fields::DF_5GPROSE,
            Self::Iot => fields::IOT,
            Self::OptIot => fields::OPT_IOT,
            _ => return None,
        })
    }
}

impl fmt::Display for PeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(t) => write!(f, "unknown PE (tag {t})"),
            k => f.write_str(k.name()),
        }
    }
}

/// `PEHeader`: `mandated` (the eUICC must abort if it cannot process the PE) and the PE's
/// `identification` (0..32767), a label for error reports, not an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeHeader {
    pub mandated: bool,
    pub identification: u16,
}

impl PeHeader {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("PEHeader")?;
        let mandated = match f.opt(0x80) {
            Some(n) => {
                n.null()?;
                true
            }
            None => false,
        };
        let id = f.req(0x81, "identification")?;
        let identification = u16::try_from(id.uint(32767)?).map_err(|_| id.err("above UInt15"))?;
        f.finish()?;
        Ok(Self {
            mandated,
            identification,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, tag: u32) {
        w.nested(tag, |w| {
            if self.mandated {
                w.null(0x80);
            }
            w.uint(0x81, u64::from(self.identification));
        });
    }
}

/// An OBJECT IDENTIFIER, kept as its DER contents octets (X.690 §8.19).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Oid(Vec<u8>);

impl Oid {
    /// From DER contents octets; each subidentifier must be minimal and complete.
    pub fn from_der_contents(bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() {
            return Err("empty OBJECT IDENTIFIER".into());
        }
        let mut start = true;
        for (i, &b) in bytes.iter().enumerate() {
            if start && b == 0x80 {
                return Err(format!("non-minimal subidentifier at byte {i}"));
            }
            start = b & 0x80 == 0;
        }
        if !start {
            return Err("last subidentifier does not end".into());
        }
        Ok(Self(bytes.to_vec()))
    }

    /// From dotted notation (`"2.23.143.1.2.1"`).
    pub fn from_dotted(s: &str) -> Result<Self, String> {
        let arcs: Vec<u64> = s
            .split('.')
            .map(|a| a.parse::<u64>().map_err(|e| format!("arc {a:?}: {e}")))
            .collect::<Result<_, _>>()?;
        if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) {
            return Err(format!("{s:?} is not a valid OBJECT IDENTIFIER"));
        }
        let first = arcs[0]
            .checked_mul(40)
            .and_then(|x| x.checked_add(arcs[1]))
            .ok_or("first arcs overflow")?;
        let mut out = Vec::new();
        for arc in std::iter::once(first).chain(arcs[2..].iter().copied()) {
            let mut groups = vec![u8::try_from(arc & 0x7F).unwrap_or(0)];
            let mut rest = arc >> 7;
            while rest > 0 {
                groups.push(0x80 | u8::try_from(rest & 0x7F).unwrap_or(0));
                rest >>= 7;
            }
            out.extend(groups.iter().rev());
        }
        Ok(Self(out))
    }

    /// The DER contents octets.
    pub fn as_der_contents(&self) -> &[u8] {
        &self.0
    }

    /// Dotted notation.
    pub fn to_dotted(&self) -> String {
        let mut arcs = Vec::new();
        let mut acc: u64 = 0;
        for &b in &self.0 {
            acc = (acc << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                arcs.push(acc);
                acc = 0;
            }
        }
        let mut parts = Vec::with_capacity(arcs.len() + 1);
        if let Some(&first) = arcs.first() {
            let (a, b) = match first {
                0..=39 => (0, first),
                40..=79 => (1, first - 40),
                _ => (2, first - 80),
            };
            parts.push(a.to_string());
            parts.push(b.to_string());
        }
        parts.extend(arcs.iter().skip(1).map(u64::to_string));
        parts.join(".")
    }

    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        Self::from_der_contents(&node.octets()?).map_err(|e| node.err(e))
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({})", self.to_dotted())
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dotted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_tags() {
        assert_eq!(PeKind::from_tag(Tag::new(0xA0)), PeKind::Header);
        assert_eq!(PeKind::from_tag(Tag::new(0xAA)), PeKind::End);
        assert_eq!(PeKind::from_tag(Tag::new(0xB3)), PeKind::Usim);
        assert_eq!(PeKind::from_tag(Tag::new(0xBF1F)), PeKind::Df5gprose);
        assert_eq!(PeKind::from_tag(Tag::new(0xBF21)), PeKind::OptIot);
        assert_eq!(
            PeKind::from_tag(Tag::new(0xBF22)),
            PeKind::Unknown(Tag::new(0xBF22))
        );
        assert_eq!(
            PeKind::from_tag(Tag::new(0x80)),
            PeKind::Unknown(Tag::new(0x80))
        );
        for (k, _) in KINDS {
            assert_eq!(PeKind::from_tag(k.tag()), k);
        }
        assert_eq!(PeKind::Usim.tag(), Tag::new(0xB3));
        assert_eq!(PeKind::GsmAccess.name(), "gsm-access");
    }

    #[test]
    fn oids() {
        let o = Oid::from_dotted("2.23.143.1.2.1").unwrap();
        assert_eq!(o.as_der_contents(), &[0x67, 0x81, 0x0F, 0x01, 0x02, 0x01]);
        assert_eq!(o.to_dotted(), "2.23.143.1.2.1");
        let o = Oid::from_dotted("1.2.840.113549").unwrap();
        assert_eq!(hex::encode(o.as_der_contents()), "2a864886f70d");
        assert_eq!(o.to_dotted(), "1.2.840.113549");
        assert!(Oid::from_der_contents(&[0x67, 0x81]).is_err());
        assert!(Oid::from_der_contents(&[0x80, 0x01]).is_err());
        assert!(Oid::from_dotted("3.1").is_err());
    }
}
