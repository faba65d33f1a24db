//! `PE-RFM` (`A7`, SAIP §8.8): a Remote File Management application instance (ETSI TS 102 226
//! §5.2 RFM over the OTA TARs listed), its Security Domain, minimum security level (TS 102 225
//! MSL byte) and UICC access domains; `adfRFMAccess` makes an ADF the default selection for its
//! scripts.
//!
//! This SEQUENCE tags its components itself, so automatic tagging does not apply: the PEHeader
//! is `[0]` (`A0`), the AIDs `[APPLICATION 15]` (`4F`), `tarList` `[0]` again (`A0`, after the
//! AIDs), `minimumSecurityLevel` `[1]` (`81`), the access domains untagged OCTET STRINGs (`04`)
//! and `adfRFMAccess` an untagged SEQUENCE (`30`, whose own components are automatically tagged).

use super::der::{Node, Writer};
use super::{PeHeader, SaipError};

/// `ADFRFMAccess`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdfRfmAccess {
    pub adf_aid: Vec<u8>,
    pub adf_access_domain: Vec<u8>,
    pub adf_admin_access_domain: Vec<u8>,
}

/// `PE-RFM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeRfm {
    pub header: PeHeader,
    pub instance_aid: Vec<u8>,
    pub security_domain_aid: Option<Vec<u8>>,
    /// TARs (3 bytes each).
    pub tar_list: Option<Vec<[u8; 3]>>,
    pub minimum_security_level: u8,
    pub uicc_access_domain: Vec<u8>,
    pub uicc_admin_access_domain: Vec<u8>,
    pub adf_rfm_access: Option<AdfRfmAccess>,
}

impl PeRfm {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("PE-RFM")?;
        let header = PeHeader::decode(&f.req(0xA0, "rfm-header")?)?;
        let instance_aid = f.req(0x4F, "instanceAID")?.octets_sized(5, 16)?;
        let security_domain_aid = f.opt(0x4F).map(|n| n.octets_sized(5, 16)).transpose()?;
        let tar_list = match f.opt(0xA0) {
            Some(list) => {
                let tars = list
                    .children()?
                    .iter()
                    .map(|n| {
                        if n.tag.value() != 0x04 {
                            return Err(n.err("TAR is not an OCTET STRING"));
                        }
                        n.array::<3>()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if tars.is_empty() {
                    return Err(list.err("empty tarList"));
                }
                Some(tars)
            }
            None => None,
        };
        let minimum_security_level = f.req(0x81, "minimumSecurityLevel")?.array::<1>()?[0];
        let uicc_access_domain = f.req(0x04, "uiccAccessDomain")?.octets()?;
        let uicc_admin_access_domain = f.req(0x04, "uiccAdminAccessDomain")?.octets()?;
        let adf_rfm_access = match f.opt(0x30) {
            Some(n) => {
                let mut g = n.fields("ADFRFMAccess")?;
                let adf_aid = g.req(0x80, "adfAID")?.octets_sized(5, 16)?;
                let adf_access_domain = g.req(0x81, "adfAccessDomain")?.octets()?;
                let adf_admin_access_domain = g.req(0x82, "adfAdminAccessDomain")?.octets()?;
                g.finish()?;
                Some(AdfRfmAccess {
                    adf_aid,
                    adf_access_domain,
                    adf_admin_access_domain,
                })
            }
            None => None,
        };
        f.finish()?;
        Ok(Self {
            header,
            instance_aid,
            security_domain_aid,
            tar_list,
            minimum_security_level,
            uicc_access_domain,
            uicc_admin_access_domain,
            adf_rfm_access,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(0xA7, |w| {
            self.header.encode(w, 0xA0);
            w.tlv(0x4F, &self.instance_aid);
            if let Some(a) = &self.security_domain_aid {
                w.tlv(0x4F, a);
            }
            if let Some(tars) = &self.tar_list {
                w.nested(0xA0, |w| tars.iter().for_each(|t| w.tlv(0x04, t)));
            }
            w.tlv(0x81, &[self.minimum_security_level]);
            w.tlv(0x04, &self.uicc_access_domain);
            w.tlv(0x04, &self.uicc_admin_access_domain);
            if let Some(a) = &self.adf_rfm_access {
                w.nested(0x30, |w| {
                    w.tlv(0x80, &a.adf_aid);
                    w.tlv(0x81, &a.adf_access_domain);
                    w.tlv(0x82, &a.adf_admin_access_domain);
                });
            }
        });
    }
}
