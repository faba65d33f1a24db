//! A profile package as a whole (SAIP §7.3, §8.1): the sequence of PEs, walked TLV by TLV.
//!
//! [`Package::parse`] fails only when the TLV framing itself breaks (then the next PE cannot be
//! found). Each PE is then decoded on its own: a PE of a kind this crate does not type, a tag
//! that is no `ProfileElement` alternative, or a PE whose contents break a rule, becomes an
//! [`OpaquePe`] carrying its bytes, its `identification` (read by hand from the first
//! component, as an eUICC must to fill a `PEStatus`), and, for a failure, the error with its
//! offset. [`Package::to_der`] re-encodes typed PEs from their fields in canonical DER and
//! opaque PEs from their bytes.

use super::aka::AlgorithmId;
use super::aka::PeAkaParameter;
use super::der::{Node, Writer};
use super::file::PeFileSystem;
use super::gfm::PeGenericFileManagement;
use super::header::ProfileHeader;
use super::header::Service;
use super::pin::{PePinCodes, PePukCodes};
use super::rfm::PeRfm;
use super::sd::PeSecurityDomain;
use super::{PeHeader, PeKind, SaipError};
use crate::tlv::Tag;

/// `PE-End` (`AA`): only a PEHeader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeEnd {
    pub header: PeHeader,
}

/// A PE kept as bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpaquePe {
    pub kind: PeKind,
    /// The PEHeader, when the first component is a well-formed one.
    pub header: Option<PeHeader>,
    /// The complete DER bytes of the PE.
    pub bytes: Vec<u8>,
    /// Why the PE did not decode; `None` for PE kinds this crate keeps as bytes by design.
    pub error: Option<SaipError>,
}

/// A decoded PE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileElement {
    Header(ProfileHeader),
    GenericFileManagement(PeGenericFileManagement),
    PinCodes(PePinCodes),
    PukCodes(PePukCodes),
    AkaParameter(PeAkaParameter),
    SecurityDomain(PeSecurityDomain),
    Rfm(PeRfm),
    End(PeEnd),
    /// mf, usim, opt-usim, telecom and the other template-based PEs.
    FileSystem(PeFileSystem),
    /// cdmaParameter, application, nonStandard, rfu*, unknown tags, and PEs that did not
    /// decode.
    Opaque(OpaquePe),
}

impl ProfileElement {
    /// Decodes one PE whose TLV is `node`.
    pub(crate) fn decode(node: &Node<'_>) -> Self {
        let kind = PeKind::from_tag(node.tag);
        let typed = match kind {
            PeKind::Header => Some(ProfileHeader::decode(node).map(Self::Header)),
            PeKind::GenericFileManagement => {
                Some(PeGenericFileManagement::decode(node).map(Self::GenericFileManagement))
            }
            PeKind::PinCodes => Some(PePinCodes::decode(node).map(Self::PinCodes)),
            PeKind::PukCodes => Some(PePukCodes::decode(node).map(Self::PukCodes)),
            PeKind::AkaParameter => Some(PeAkaParameter::decode(node).map(Self::AkaParameter)),
            PeKind::SecurityDomain => {
                Some(PeSecurityDomain::decode(node).map(Self::SecurityDomain))
            }
            PeKind::Rfm => Some(PeRfm::decode(node).map(Self::Rfm)),
            PeKind::End => Some(decode_end(node).map(Self::End)),
            k if k.file_fields().is_some() => {
                Some(PeFileSystem::decode(k, node).map(Self::FileSystem))
            }
            _ => None,
        };
        match typed {
            Some(Ok(pe)) => pe,
            Some(Err(error)) => Self::Opaque(OpaquePe {
                kind,
                header: header_by_hand(node),
                bytes: node.raw.to_vec(),
                error: Some(error),
            }),
            None => Self::Opaque(OpaquePe {
                kind,
                header: header_by_hand(node),
                bytes: node.raw.to_vec(),
                error: match kind {
                    PeKind::Unknown(t) => Some(node.err(format!(
                        "tag {t} is not a ProfileElement alternative of SAIP v3.3.1"
                    ))),
                    _ => None,
                },
            }),
        }
    }

    /// The PE's alternative.
    pub fn kind(&self) -> PeKind {
        match self {
            Self::Header(_) => PeKind::Header,
            Self::GenericFileManagement(_) => PeKind::GenericFileManagement,
            Self::PinCodes(_) => PeKind::PinCodes,
            Self::PukCodes(_) => PeKind::PukCodes,
            Self::AkaParameter(_) => PeKind::AkaParameter,
            Self::SecurityDomain(_) => PeKind::SecurityDomain,
            Self::Rfm(_) => PeKind::Rfm,
            Self::End(_) => PeKind::End,
            Self::FileSystem(f) => f.kind,
            Self::Opaque(o) => o.kind,
        }
    }

    /// The PEHeader (none for the ProfileHeader).
    pub fn pe_header(&self) -> Option<PeHeader> {
        match self {
            Self::Header(_) => None,
            Self::GenericFileManagement(p) => Some(p.header),
            Self::PinCodes(p) => Some(p.header),
            Self::PukCodes(p) => Some(p.header),
            Self::AkaParameter(p) => Some(p.header),
            Self::SecurityDomain(p) => Some(p.header),
            Self::Rfm(p) => Some(p.header),
            Self::End(p) => Some(p.header),
            Self::FileSystem(p) => Some(p.header),
            Self::Opaque(o) => o.header,
        }
    }

    /// The PE's `identification`.
    pub fn identification(&self) -> Option<u16> {
        self.pe_header().map(|h| h.identification)
    }

    /// Canonical DER of this PE.
    pub fn to_der(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Self::Header(h) => h.encode(&mut w),
            Self::GenericFileManagement(p) => p.encode(&mut w),
            Self::PinCodes(p) => p.encode(&mut w),
            Self::PukCodes(p) => p.encode(&mut w),
            Self::AkaParameter(p) => p.encode(&mut w),
            Self::SecurityDomain(p) => p.encode(&mut w),
            Self::Rfm(p) => p.encode(&mut w),
            Self::End(p) => w.nested(0xAA, |w| p.header.encode(w, 0xA0)),
            Self::FileSystem(p) => p.encode(&mut w),
            Self::Opaque(o) => w.raw(&o.bytes),
        }
        w.into_bytes()
    }
}

fn decode_end(node: &Node<'_>) -> Result<PeEnd, SaipError> {
    let mut f = node.fields("PE-End")?;
    let header = PeHeader::decode(&f.req(0xA0, "end-header")?)?;
    f.finish()?;
    Ok(PeEnd { header })
}

/// The PEHeader of a PE that is not decoded otherwise: the first component, tagged [0].
fn header_by_hand(node: &Node<'_>) -> Option<PeHeader> {
    let value = node.tag.is_constructed().then_some(node.value)?;
    let (first, _) = Node::parse_prefix(value, node.value_offset).ok()?;
    (first.tag == Tag::new(0xA0))
        .then(|| PeHeader::decode(&first).ok())
        .flatten()
}

/// A PE in a package, with the offset it had in the parsed bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageElement {
    /// Offset of the PE's first byte: in the parsed bytes, or in [`Package::to_der`] after
    /// [`Package::relayout`] (done by the builders and personalization methods).
    pub offset: usize,
    /// Its length there.
    pub length: usize,
    pub element: ProfileElement,
}

/// A profile package.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Package {
    pub elements: Vec<PackageElement>,
}

impl Package {
    /// Walks and decodes a package.
    pub fn parse(bytes: &[u8]) -> Result<Self, SaipError> {
        let mut elements = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let (node, used) = Node::parse_prefix(&bytes[at..], at)?;
            elements.push(PackageElement {
                offset: at,
                length: used,
                element: ProfileElement::decode(&node),
            });
            at += used;
        }
        Ok(Self { elements })
    }

    /// A package from PEs (offsets as they will be in [`Package::to_der`]).
    pub fn from_elements(pes: Vec<ProfileElement>) -> Self {
        let mut p = Self {
            elements: pes
                .into_iter()
                .map(|element| PackageElement {
                    offset: 0,
                    length: 0,
                    element,
                })
                .collect(),
        };
        p.relayout();
        p
    }

    /// Recomputes offsets and lengths for the current contents.
    pub fn relayout(&mut self) {
        let mut at = 0;
        for e in &mut self.elements {
            let len = e.element.to_der().len();
            e.offset = at;
            e.length = len;
            at += len;
        }
    }

    /// The package's DER bytes.
    pub fn to_der(&self) -> Vec<u8> {
        self.elements
            .iter()
            .flat_map(|e| e.element.to_der())
            .collect()
    }

    /// The PEs.
    pub fn pes(&self) -> impl Iterator<Item = &ProfileElement> {
        self.elements.iter().map(|e| &e.element)
    }

    /// The PEs that did not decode, with their position.
    pub fn undecoded(&self) -> impl Iterator<Item = (&PackageElement, &OpaquePe)> {
        self.elements.iter().filter_map(|e| match &e.element {
            ProfileElement::Opaque(o) if o.error.is_some() => Some((e, o)),
            _ => None,
        })
    }

    /// The ProfileHeader, if the package has a decodable one.
    pub fn header(&self) -> Option<&ProfileHeader> {
        self.pes().find_map(|p| match p {
            ProfileElement::Header(h) => Some(h),
            _ => None,
        })
    }

    pub fn header_mut(&mut self) -> Option<&mut ProfileHeader> {
        self.elements.iter_mut().find_map(|e| match &mut e.element {
            ProfileElement::Header(h) => Some(h),
            _ => None,
        })
    }

    /// The first file-system PE of `kind`.
    pub fn file_system(&self, kind: PeKind) -> Option<&PeFileSystem> {
        self.pes().find_map(|p| match p {
            ProfileElement::FileSystem(f) if f.kind == kind => Some(f),
            _ => None,
        })
    }

    pub fn file_system_mut(&mut self, kind: PeKind) -> Option<&mut PeFileSystem> {
        self.elements.iter_mut().find_map(|e| match &mut e.element {
            ProfileElement::FileSystem(f) if f.kind == kind => Some(f),
            _ => None,
        })
    }

    /// The akaParameter PEs, in order.
    pub fn aka_parameters(&self) -> impl Iterator<Item = &PeAkaParameter> {
        self.pes().filter_map(|p| match p {
            ProfileElement::AkaParameter(a) => Some(a),
            _ => None,
        })
    }

    /// The securityDomain PEs, in order (the first is the MNO-SD).
    pub fn security_domains(&self) -> impl Iterator<Item = &PeSecurityDomain> {
        self.pes().filter_map(|p| match p {
            ProfileElement::SecurityDomain(s) => Some(s),
            _ => None,
        })
    }

    /// The rfm PEs, in order.
    pub fn rfms(&self) -> impl Iterator<Item = &PeRfm> {
        self.pes().filter_map(|p| match p {
            ProfileElement::Rfm(r) => Some(r),
            _ => None,
        })
    }

    /// Consistency of the ProfileHeader with the PEs (SAIP §8.2): each NAA PE (usim, isim,
    /// csim) and each algorithm of a mandated akaParameter is named in
    /// `eUICC-Mandatory-services`, and no NAA or AKA algorithm is named there without a PE
    /// using it; the template of each mandated file-system PE is in
    /// `eUICC-Mandatory-GFSTEList`. Returns the problems.
    pub fn header_problems(&self) -> Vec<String> {
        let Some(header) = self.header() else {
            return vec!["no decodable header".to_string()];
        };
        let mut needed: Vec<Service> = Vec::new();
        let mut problems = Vec::new();
        for pe in self.pes() {
            let mandated = pe.pe_header().is_some_and(|h| h.mandated);
            match pe {
                ProfileElement::FileSystem(f) => {
                    match f.kind {
                        PeKind::Usim => needed.push(Service::Usim),
                        PeKind::Isim => needed.push(Service::Isim),
                        PeKind::Csim => needed.push(Service::Csim),
                        _ => {}
                    }
                    if mandated && !header.mandatory_gfste_list.contains(&f.template_id) {
                        problems.push(format!(
                            "template {} of {} not in eUICC-Mandatory-GFSTEList",
                            f.template_id, f.kind
                        ));
                    }
                }
                ProfileElement::AkaParameter(a) if mandated => {
                    if let Some(p) = a.algo_parameter() {
                        needed.push(match p.algorithm_id {
                            AlgorithmId::Milenage => Service::Milenage,
                            AlgorithmId::Tuak if p.key.len() == 32 => Service::Tuak256,
                            AlgorithmId::Tuak => Service::Tuak128,
                            AlgorithmId::UsimTestAlgorithm => Service::UsimTestAlgorithm,
                            AlgorithmId::Other(v) => {
                                problems.push(format!("akaParameter with unknown algorithmID {v}"));
                                continue;
                            }
                        });
                    }
                }
                _ => {}
            }
        }
        for s in &needed {
            if !header.requires(*s) {
                problems.push(format!(
                    "service {} used but not in eUICC-Mandatory-services",
                    s.name()
                ));
            }
        }
        let checked = [
            Service::Usim,
            Service::Isim,
            Service::Csim,
            Service::Milenage,
            Service::Tuak128,
            Service::Tuak256,
            Service::UsimTestAlgorithm,
        ];
        for s in checked {
            if header.requires(s) && !needed.contains(&s) {
                problems.push(format!("service {} required but no PE uses it", s.name()));
            }
        }
        problems
    }

    /// Structural rules of SAIP §8.1 that hold for every installable package: header first
    /// and once, mf second, end last and once, identifications unique. Returns the problems.
    pub fn structural_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let kinds: Vec<PeKind> = self.pes().map(ProfileElement::kind).collect();
        if kinds.first() != Some(&PeKind::Header) {
            problems.push("first PE is not the header".to_string());
        }
        if kinds.get(1) != Some(&PeKind::Mf) {
            problems.push("second PE is not mf".to_string());
        }
        if kinds.last() != Some(&PeKind::End) {
            problems.push("last PE is not end".to_string());
        }
        for k in [PeKind::Header, PeKind::End, PeKind::Mf, PeKind::Usim] {
            if kinds.iter().filter(|&&x| x == k).count() > 1 {
                problems.push(format!("more than one {k}"));
            }
        }
        let mut ids: Vec<u16> = self
            .pes()
            .filter_map(ProfileElement::identification)
            .collect();
        ids.sort_unstable();
        for w in ids.windows(2) {
            if w[0] == w[1] {
                problems.push(format!("identification {} used twice", w[0]));
            }
        }
        problems
    }
}
