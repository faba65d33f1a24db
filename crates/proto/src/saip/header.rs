//! `ProfileHeader` (SAIP §8.2, the first PE, tag `A0`; it has no PEHeader and so no
//! identification): the SAIP version the package targets, the profile type, the ICCID (plain
//! digits, see [`super::identity`]), the services and file templates the eUICC must support.

use super::der::{ctx, ctx_number, Node, Writer};
use super::{Oid, SaipError};

/// A service of `ServicesList` (SAIP v3.3.1 ASN.1), in definition order: service *n* is
/// the NULL component tagged `[n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Contactless,
    Usim,
    Isim,
    Csim,
    Milenage,
    Tuak128,
    Cave,
    GbaUsim,
    GbaIsim,
    Mbms,
    Eap,
    Javacard,
    Multos,
    MultipleUsim,
    MultipleIsim,
    MultipleCsim,
    Tuak256,
    UsimTestAlgorithm,
    BerTlv,
    DfLink,
    CatTp,
    GetIdentity,
    ProfileAX25519,
    ProfileBP256,
    SuciCalculatorApi,
    DnsResolution,
    Scp11ac,
    Scp11cAuthorizationMechanism,
    S16mode,
    Eaka,
}

const SERVICES: [(Service, &str); 30] = [
    (Service::Contactless, "contactless"),
    (Service::Usim, "usim"),
    (Service::Isim, "isim"),
    (Service::Csim, "csim"),
    (Service::Milenage, "milenage"),
    (Service::Tuak128, "tuak128"),
    (Service::Cave, "cave"),
    (Service::GbaUsim, "gba-usim"),
    (Service::GbaIsim, "gba-isim"),
    (Service::Mbms, "mbms"),
    (Service::Eap, "eap"),
    (Service::Javacard, "javacard"),
    (Service::Multos, "multos"),
    (Service::MultipleUsim, "multiple-usim"),
    (Service::MultipleIsim, "multiple-isim"),
    (Service::MultipleCsim, "multiple-csim"),
    (Service::Tuak256, "tuak256"),
    (Service::UsimTestAlgorithm, "usim-test-algorithm"),
    (Service::BerTlv, "ber-tlv"),
    (Service::DfLink, "dfLink"),
    (Service::CatTp, "cat-tp"),
    (Service::GetIdentity, "get-identity"),
    (Service::ProfileAX25519, "profile-a-x25519"),
    (Service::ProfileBP256, "profile-b-p256"),
    (Service::SuciCalculatorApi, "suciCalculatorApi"),
    (Service::DnsResolution, "dns-resolution"),
    (Service::Scp11ac, "scp11ac"),
    (
        Service::Scp11cAuthorizationMechanism,
        "scp11c-authorization-mechanism",
    ),
    (Service::S16mode, "s16mode"),
    (Service::Eaka, "eaka"),
];

impl Service {
    /// The component number (tag `[n]`).
    pub fn number(self) -> u32 {
        SERVICES
            .iter()
            .position(|(s, _)| *s == self)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(u32::MAX)
    }

    /// The ASN.1 name.
    pub fn name(self) -> &'static str {
        SERVICES
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, n)| n)
    }

    fn from_number(n: u32) -> Option<Self> {
        usize::try_from(n)
            .ok()
            .and_then(|i| SERVICES.get(i))
            .map(|(s, _)| *s)
    }
}

/// `eUICC-Mandatory-AIDs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MandatoryAid {
    pub aid: Vec<u8>,
    pub version: [u8; 2],
}

/// `ProfileHeader`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileHeader {
    /// `major-version` `80`.
    pub major_version: u8,
    /// `minor-version` `81`.
    pub minor_version: u8,
    /// `profileType` `82` (UTF8String 1..100).
    pub profile_type: Option<String>,
    /// `iccid` `83`: 10 bytes, the ICCID digits in reading order, `F`-padded.
    pub iccid: [u8; 10],
    /// `pol` `84`.
    pub pol: Option<Vec<u8>>,
    /// `eUICC-Mandatory-services` `A5`, ascending.
    pub mandatory_services: Vec<Service>,
    /// `eUICC-Mandatory-GFSTEList` `A6`.
    pub mandatory_gfste_list: Vec<Oid>,
    /// `connectivityParameters` `87`.
    pub connectivity_parameters: Option<Vec<u8>>,
    /// `eUICC-Mandatory-AIDs` `A8`.
    pub mandatory_aids: Option<Vec<MandatoryAid>>,
    /// `iotOptions` `A9`: the PIX (7..11 bytes).
    pub iot_options_pix: Option<Vec<u8>>,
}

impl ProfileHeader {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("ProfileHeader")?;
        let major_version = f.req(0x80, "major-version")?.u8()?;
        let minor_version = f.req(0x81, "minor-version")?.u8()?;
        let profile_type = match f.opt(0x82) {
            Some(n) => {
                let s = String::from_utf8(n.octets()?)
                    .map_err(|_| n.err("profileType is not UTF-8"))?;
                if s.is_empty() || s.chars().count() > 100 {
                    return Err(n.err("profileType outside SIZE(1..100)"));
                }
                Some(s)
            }
            None => None,
        };
        let iccid = f.req(0x83, "iccid")?.array::<10>()?;
        let pol = f.opt(0x84).map(|n| n.octets()).transpose()?;
        let services = f.req(0xA5, "eUICC-Mandatory-services")?;
        let mut mandatory_services = Vec::new();
        for n in services.children()? {
            let service = match ctx_number(n.tag) {
                Some((num, false)) => Service::from_number(num),
                _ => None,
            }
            .ok_or_else(|| n.err("not a service of ServicesList v3.3.1"))?;
            n.null()?;
            if mandatory_services.last().is_some_and(|s| *s >= service) {
                return Err(n.err("ServicesList out of order"));
            }
            mandatory_services.push(service);
        }
        let gfste = f.req(0xA6, "eUICC-Mandatory-GFSTEList")?;
        let mandatory_gfste_list = gfste
            .children()?
            .iter()
            .map(|n| {
                if n.tag.value() != 0x06 {
                    return Err(n.err("GFSTE list entry is not an OBJECT IDENTIFIER"));
                }
                Oid::decode(n)
            })
            .collect::<Result<_, _>>()?;
        let connectivity_parameters = f.opt(0x87).map(|n| n.octets()).transpose()?;
        let mandatory_aids = match f.opt(0xA8) {
            Some(list) => Some(
                list.children()?
                    .iter()
                    .map(|e| {
                        if e.tag.value() != 0x30 {
                            return Err(e.err("mandatory AID entry is not a SEQUENCE"));
                        }
                        let mut g = e.fields("eUICC-Mandatory-AIDs entry")?;
                        let aid = g.req(0x80, "aid")?.octets_sized(5, 16)?;
                        let version = g.req(0x81, "version")?.array::<2>()?;
                        g.finish()?;
                        Ok(MandatoryAid { aid, version })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        let iot_options_pix = match f.opt(0xA9) {
            Some(n) => {
                let mut g = n.fields("IotOptions")?;
                let pix = g.req(0x80, "pix")?.octets_sized(7, 11)?;
                g.finish()?;
                Some(pix)
            }
            None => None,
        };
        f.finish()?;
        Ok(Self {
            major_version,
            minor_version,
            profile_type,
            iccid,
            pol,
            mandatory_services,
            mandatory_gfste_list,
            connectivity_parameters,
            mandatory_aids,
            iot_options_pix,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(0xA0, |w| {
            w.uint(0x80, u64::from(self.major_version));
            w.uint(0x81, u64::from(self.minor_version));
            if let Some(t) = &self.profile_type {
                w.tlv(0x82, t.as_bytes());
            }
            w.tlv(0x83, &self.iccid);
            if let Some(p) = &self.pol {
                w.tlv(0x84, p);
            }
            let mut services = self.mandatory_services.clone();
            services.sort();
            services.dedup();
            w.nested(0xA5, |w| {
                for s in services {
                    w.null(ctx(s.number(), false));
                }
            });
            w.nested(0xA6, |w| {
                for oid in &self.mandatory_gfste_list {
                    w.tlv(0x06, oid.as_der_contents());
                }
            });
            if let Some(c) = &self.connectivity_parameters {
                w.tlv(0x87, c);
            }
            if let Some(aids) = &self.mandatory_aids {
                w.nested(0xA8, |w| {
                    for a in aids {
                        w.nested(0x30, |w| {
                            w.tlv(0x80, &a.aid);
                            w.tlv(0x81, &a.version);
                        });
                    }
                });
            }
            if let Some(pix) = &self.iot_options_pix {
                w.nested(0xA9, |w| w.tlv(0x80, pix));
            }
        });
    }

    /// Whether `service` is in the mandatory services.
    pub fn requires(&self, service: Service) -> bool {
        self.mandatory_services.contains(&service)
    }
}
