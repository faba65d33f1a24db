//! `PE-SecurityDomain` (`A6`, SAIP §8.6): a GlobalPlatform Security Domain of the profile (the
//! first one is the MNO-SD), with its `ApplicationInstance` (§8.7.3), key list (§8.6.3: GP
//! key usage, access, identifier, version, components) and personalisation data.
//!
//! Components whose inner structure this crate does not use (`systemSpecificParameters` `EF`,
//! `applicationParameters` `EA`, `controlReferenceTemplate` `B0`, `openPersoData` `A4`,
//! `catTpParameters` `A5`) are kept as their complete DER bytes, checked to be well-formed TLV.

use super::der::{not_default, Node, Writer};
use super::{PeHeader, SaipError, SecretBytes};

/// `lifeCycleState` DEFAULT (`07`, SELECTABLE).
pub const LIFE_CYCLE_STATE_DEFAULT: u8 = 0x07;
/// `keyAccess` DEFAULT.
pub const KEY_ACCESS_DEFAULT: u8 = 0x00;
/// `macLength` DEFAULT.
pub const MAC_LENGTH_DEFAULT: u8 = 8;

/// `ApplicationInstance` (tags as written in the ASN.1: `4F` AIDs, `82`, `83`, `C9`...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationInstance {
    pub application_load_package_aid: Vec<u8>,
    pub class_aid: Vec<u8>,
    pub instance_aid: Vec<u8>,
    pub extradite_security_domain_aid: Option<Vec<u8>>,
    /// `applicationPrivileges` `82`.
    pub application_privileges: Vec<u8>,
    /// `lifeCycleState` `83`, DEFAULT `07`.
    pub life_cycle_state: u8,
    /// `applicationSpecificParametersC9` `C9`.
    pub application_specific_parameters_c9: Vec<u8>,
    /// `systemSpecificParameters` `EF`, as DER bytes.
    pub system_specific_parameters: Option<Vec<u8>>,
    /// `applicationParameters` `EA`, as DER bytes.
    pub application_parameters: Option<Vec<u8>>,
    /// `processData` `30`: octet strings.
    pub process_data: Option<Vec<Vec<u8>>>,
    /// `controlReferenceTemplate` `B0`, as DER bytes.
    pub control_reference_template: Option<Vec<u8>>,
}

fn aid(n: &Node<'_>) -> Result<Vec<u8>, SaipError> {
    n.octets_sized(5, 16)
}

fn well_formed(n: &Node<'_>) -> Result<Vec<u8>, SaipError> {
    n.children()?;
    Ok(n.raw.to_vec())
}

impl ApplicationInstance {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("ApplicationInstance")?;
        let application_load_package_aid = aid(&f.req(0x4F, "applicationLoadPackageAID")?)?;
        let class_aid = aid(&f.req(0x4F, "classAID")?)?;
        let instance_aid = aid(&f.req(0x4F, "instanceAID")?)?;
        let extradite_security_domain_aid = f.opt(0x4F).map(|n| aid(&n)).transpose()?;
        let application_privileges = f.req(0x82, "applicationPrivileges")?.octets()?;
        let life_cycle_state = match f.opt(0x83) {
            Some(n) => not_default(&n, n.array::<1>()?[0], LIFE_CYCLE_STATE_DEFAULT)?,
            None => LIFE_CYCLE_STATE_DEFAULT,
        };
        let application_specific_parameters_c9 =
            f.req(0xC9, "applicationSpecificParametersC9")?.octets()?;
        let system_specific_parameters = f.opt(0xEF).map(|n| well_formed(&n)).transpose()?;
        let application_parameters = f.opt(0xEA).map(|n| well_formed(&n)).transpose()?;
        let process_data = match f.opt(0x30) {
            Some(list) => Some(
                list.children()?
                    .iter()
                    .map(|n| {
                        if n.tag.value() != 0x04 {
                            return Err(n.err("processData entry is not an OCTET STRING"));
                        }
                        n.octets()
                    })
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        let control_reference_template = f.opt(0xB0).map(|n| well_formed(&n)).transpose()?;
        f.finish()?;
        Ok(Self {
            application_load_package_aid,
            class_aid,
            instance_aid,
            extradite_security_domain_aid,
            application_privileges,
            life_cycle_state,
            application_specific_parameters_c9,
            system_specific_parameters,
            application_parameters,
            process_data,
            control_reference_template,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer, tag: u32) {
        w.nested(tag, |w| {
            w.tlv(0x4F, &self.application_load_package_aid);
            w.tlv(0x4F, &self.class_aid);
            w.tlv(0x4F, &self.instance_aid);
            if let Some(a) = &self.extradite_security_domain_aid {
                w.tlv(0x4F, a);
            }
            w.tlv(0x82, &self.application_privileges);
            if self.life_cycle_state != LIFE_CYCLE_STATE_DEFAULT {
                w.tlv(0x83, &[self.life_cycle_state]);
            }
            w.tlv(0xC9, &self.application_specific_parameters_c9);
            for raw in [
                &self.system_specific_parameters,
                &self.application_parameters,
            ]
            .into_iter()
            .flatten()
            {
                w.raw(raw);
            }
            if let Some(list) = &self.process_data {
                w.nested(0x30, |w| {
                    for p in list {
                        w.tlv(0x04, p);
                    }
                });
            }
            if let Some(raw) = &self.control_reference_template {
                w.raw(raw);
            }
        });
    }
}

/// One key component (`keyType` `80`, `keyData` `86`, `macLength` `87`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyComponent {
    /// GP key type (`80` DES, `88` AES...).
    pub key_type: Vec<u8>,
    pub key_data: SecretBytes,
    /// DEFAULT 8.
    pub mac_length: u8,
}

/// `KeyObject` (GP Card Specification §11.1.8/§11.1.9 semantics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyObject {
    /// `keyUsageQualifier` `95` (1..2 bytes).
    pub key_usage_qualifier: Vec<u8>,
    /// `keyAccess` `96`, DEFAULT `00`.
    pub key_access: u8,
    /// `keyIdentifier` `82`.
    pub key_identifier: u8,
    /// `keyVersionNumber` `83`.
    pub key_version_number: u8,
    /// `keyCounterValue` `85`.
    pub key_counter_value: Option<Vec<u8>>,
    /// `keyComponents` `30`.
    pub key_components: Vec<KeyComponent>,
}

impl KeyObject {
    fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("KeyObject")?;
        let key_usage_qualifier = f.req(0x95, "keyUsageQualifier")?.octets_sized(1, 2)?;
        let key_access = match f.opt(0x96) {
            Some(n) => not_default(&n, n.array::<1>()?[0], KEY_ACCESS_DEFAULT)?,
            None => KEY_ACCESS_DEFAULT,
        };
        let key_identifier = f.req(0x82, "keyIdentifier")?.array::<1>()?[0];
        let key_version_number = f.req(0x83, "keyVersionNumber")?.array::<1>()?[0];
        let key_counter_value = f.opt(0x85).map(|n| n.octets()).transpose()?;
        let list = f.req(0x30, "keyComponents")?;
        f.finish()?;
        let mut key_components = Vec::new();
        for c in list.children()? {
            if c.tag.value() != 0x30 {
                return Err(c.err("key component is not a SEQUENCE"));
            }
            let mut g = c.fields("key component")?;
            let key_type = g.req(0x80, "keyType")?.octets()?;
            let key_data = SecretBytes::new(g.req(0x86, "keyData")?.octets()?);
            let mac_length = match g.opt(0x87) {
                Some(n) => not_default(&n, n.u8()?, MAC_LENGTH_DEFAULT)?,
                None => MAC_LENGTH_DEFAULT,
            };
            g.finish()?;
            key_components.push(KeyComponent {
                key_type,
                key_data,
                mac_length,
            });
        }
        if key_components.is_empty() {
            return Err(list.err("keyComponents is empty"));
        }
        Ok(Self {
            key_usage_qualifier,
            key_access,
            key_identifier,
            key_version_number,
            key_counter_value,
            key_components,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.nested(0x30, |w| {
            w.tlv(0x95, &self.key_usage_qualifier);
            if self.key_access != KEY_ACCESS_DEFAULT {
                w.tlv(0x96, &[self.key_access]);
            }
            w.tlv(0x82, &[self.key_identifier]);
            w.tlv(0x83, &[self.key_version_number]);
            if let Some(c) = &self.key_counter_value {
                w.tlv(0x85, c);
            }
            w.nested(0x30, |w| {
                for c in &self.key_components {
                    w.nested(0x30, |w| {
                        w.tlv(0x80, &c.key_type);
                        w.tlv(0x86, c.key_data.expose());
                        if c.mac_length != MAC_LENGTH_DEFAULT {
                            w.uint(0x87, u64::from(c.mac_length));
                        }
                    });
                }
            });
        });
    }
}

/// `PE-SecurityDomain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeSecurityDomain {
    pub header: PeHeader,
    /// `instance` `A1`.
    pub instance: ApplicationInstance,
    /// `keyList` `A2`.
    pub key_list: Option<Vec<KeyObject>>,
    /// `sdPersoData` `A3`: STORE DATA payloads.
    pub sd_perso_data: Option<Vec<Vec<u8>>>,
    /// `openPersoData` `A4`, as DER bytes.
    pub open_perso_data: Option<Vec<u8>>,
    /// `catTpParameters` `A5`, as DER bytes.
    pub cat_tp_parameters: Option<Vec<u8>>,
}

impl PeSecurityDomain {
    pub(crate) fn decode(node: &Node<'_>) -> Result<Self, SaipError> {
        let mut f = node.fields("PE-SecurityDomain")?;
        let header = PeHeader::decode(&f.req(0xA0, "sd-Header")?)?;
        let instance = ApplicationInstance::decode(&f.req(0xA1, "instance")?)?;
        let key_list = match f.opt(0xA2) {
            Some(list) => Some(
                list.children()?
                    .iter()
                    .map(|k| {
                        if k.tag.value() != 0x30 {
                            return Err(k.err("KeyObject is not a SEQUENCE"));
                        }
                        KeyObject::decode(k)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        let sd_perso_data = match f.opt(0xA3) {
            Some(list) => Some(
                list.children()?
                    .iter()
                    .map(|n| {
                        if n.tag.value() != 0x04 {
                            return Err(n.err("sdPersoData entry is not an OCTET STRING"));
                        }
                        n.octets()
                    })
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        let open_perso_data = f.opt(0xA4).map(|n| well_formed(&n)).transpose()?;
        let cat_tp_parameters = f.opt(0xA5).map(|n| well_formed(&n)).transpose()?;
        f.finish()?;
        Ok(Self {
            header,
            instance,
            key_list,
            sd_perso_data,
            open_perso_data,
            cat_tp_parameters,
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.nested(0xA6, |w| {
            self.header.encode(w, 0xA0);
            self.instance.encode(w, 0xA1);
            if let Some(keys) = &self.key_list {
                w.nested(0xA2, |w| keys.iter().for_each(|k| k.encode(w)));
            }
            if let Some(list) = &self.sd_perso_data {
                w.nested(0xA3, |w| list.iter().for_each(|p| w.tlv(0x04, p)));
            }
            for raw in [&self.open_perso_data, &self.cat_tp_parameters]
                .into_iter()
                .flatten()
            {
                w.raw(raw);
            }
        });
    }
}
