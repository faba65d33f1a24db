//! A minimal valid profile package for a 3G/4G subscription (SAIP.md §5, from SAIP §8.1 and
//! practice): `header`, `mf`, `pukCodes`, `pinCodes` (MF), `usim`, `pinCodes` (ADF),
//! `akaParameter`, `securityDomain` (the MNO-SD an SGP.02 profile carries), `end`.
//!
//! The MF and ADF.USIM templates (2.23.143.1.2.1 and .4) are "created by default": every file
//! they define is created with the template's attributes and default content unless the PE
//! says otherwise. This package therefore gives only what has no template default: the MF and
//! ADF FCP parts that depend on the profile (ADF AID, temporary FID, PIN status templates),
//! EF.ICCID, EF.DIR (the USIM application record), EF.IMSI and EF.ACC; the other mandatory
//! fields (EF.ARR, EF.UST, EF.SPN, EF.EST, EF.ECC) are present and empty, i.e. template
//! defaults.
//!
//! # The fixed choices (all in this module)
//!
//! - SAIP version 2.3 in the header: the newest 2.x, the generation SGP.02 eUICCs implement
//!   and the one the TS.48 SUCI packages target; nothing here needs 3.x.
//! - USIM AID `A0000000871002FF49FF0589` (3GPP RID `A000000087`, USIM `1002`, then the
//!   country/provider part the TS.48 profiles use), temporary FID `7FD0`.
//! - PIN status template DOs `010A0B` (MF) and `81010A0B` (ADF.USIM), key references PIN1,
//!   ADM1, ADM2 as in TS.48; PIN1 `pinAttributes` 6 and ADM1 3 with retries `AA`, as TS.48.
//! - MNO-SD: Security Domain instance `A000000151000000`, class
//!   `A000000151535041`, package `A0000001515350`, privileges `82DC00`, life cycle `0F`
//!   (PERSONALIZED), C9 `810280008201F08301F08701F0` (the TS.48 MNO-SD).

use super::aka::{
    AlgoConfiguration, AlgoParameter, AlgorithmId, PeAkaParameter, ROTATION_CONSTANTS_DEFAULT,
    SQN_DELTA_DEFAULT, SQN_OPTIONS_DEFAULT, XORING_CONSTANTS_DEFAULT,
};
use super::file::{Fcp, File, FileItem, PeFileSystem};
use super::header::{ProfileHeader, Service};
use super::identity::{iccid_ef, iccid_header, imsi_ef};
use super::package::{Package, PeEnd, ProfileElement};
use super::pin::{pin_value, PePinCodes, PePukCodes, PinCodes, PinConfiguration, PukConfiguration};
use super::sd::{ApplicationInstance, KeyObject, PeSecurityDomain};
use super::{Oid, PeHeader, PeKind, SaipError, SecretBytes};

const USIM_AID: [u8; 12] = [
    0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xFF, 0x49, 0xFF, 0x05, 0x89,
];
const USIM_TEMP_FID: [u8; 2] = [0x7F, 0xD0];
const MNO_SD_PACKAGE: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x53, 0x50];
const MNO_SD_CLASS: [u8; 8] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x53, 0x50, 0x41];
const MNO_SD_INSTANCE: [u8; 8] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00];
const MNO_SD_C9: [u8; 13] = [
    0x81, 0x02, 0x80, 0x00, 0x82, 0x01, 0xF0, 0x83, 0x01, 0xF0, 0x87, 0x01, 0xF0,
];

/// The subscription a minimal package carries.
#[derive(Clone, Debug)]
pub struct MinimalProfile {
    pub iccid: String,
    pub imsi: String,
    /// MILENAGE or the test algorithm.
    pub algorithm: AlgorithmId,
    pub k: SecretBytes,
    pub opc: SecretBytes,
    pub pin1: String,
    pub puk1: String,
    pub adm1: String,
    pub local_pin: String,
    pub local_puk: String,
    /// Keys of the MNO-SD (SCP80/SCP81/SCP03 key sets), may be empty.
    pub mno_sd_keys: Vec<KeyObject>,
    pub profile_type: Option<String>,
}

impl MinimalProfile {
    /// A MILENAGE subscription with the given PIN/PUK/ADM values.
    pub fn milenage(iccid: &str, imsi: &str, k: [u8; 16], opc: [u8; 16]) -> Self {
        Self {
            iccid: iccid.to_string(),
            imsi: imsi.to_string(),
            algorithm: AlgorithmId::Milenage,
            k: SecretBytes::new(k.to_vec()),
            opc: SecretBytes::new(opc.to_vec()),
            pin1: "0000".into(),
            puk1: "11111111".into(),
            adm1: "55555555".into(),
            local_pin: "9999".into(),
            local_puk: "22222222".into(),
            mno_sd_keys: Vec::new(),
            profile_type: None,
        }
    }

    /// The package.
    pub fn build(&self) -> Result<Package, SaipError> {
        let mandated = |id| PeHeader {
            mandated: true,
            identification: id,
        };
        let (algo_service, algo_id) = match self.algorithm {
            AlgorithmId::Milenage => (Service::Milenage, AlgorithmId::Milenage),
            AlgorithmId::UsimTestAlgorithm => {
                (Service::UsimTestAlgorithm, AlgorithmId::UsimTestAlgorithm)
            }
            other => {
                return Err(SaipError::InvalidValue {
                    what: "algorithm",
                    reason: format!("{other:?}: only MILENAGE and the test algorithm are built"),
                })
            }
        };
        if self.k.len() != 16 || self.opc.len() != 16 {
            return Err(SaipError::InvalidValue {
                what: "K/OPc",
                reason: "16 bytes each required".into(),
            });
        }
        let oid = |s: &str| {
            Oid::from_dotted(s).map_err(|reason| SaipError::InvalidValue {
                what: "template OID",
                reason,
            })
        };
        let header = ProfileHeader {
            major_version: 2,
            minor_version: 3,
            profile_type: self.profile_type.clone(),
            iccid: iccid_header(&self.iccid)?,
            pol: None,
            mandatory_services: vec![Service::Usim, algo_service],
            mandatory_gfste_list: vec![oid("2.23.143.1.2.1")?, oid("2.23.143.1.2.4")?],
            connectivity_parameters: None,
            mandatory_aids: None,
            iot_options_pix: None,
        };

        let content = |c: &[u8]| File(vec![FileItem::FillFileContent(c.to_vec())]);
        let mut dir_record = vec![0x61, 0x14, 0x4F, 0x0C];
        dir_record.extend_from_slice(&USIM_AID);
        dir_record.extend_from_slice(&[0x50, 0x04, b'U', b'S', b'I', b'M']);
        let mut mf = PeFileSystem {
            kind: PeKind::Mf,
            header: mandated(1),
            template_id: oid("2.23.143.1.2.1")?,
            files: Vec::new(),
        };
        mf.set_file(
            "mf",
            File(vec![FileItem::FileDescriptor(Box::new(Fcp {
                pin_status_template_do: Some(vec![0x01, 0x0A, 0x0B]),
                ..Fcp::empty()
            }))]),
        );
        mf.set_file("ef-iccid", content(&iccid_ef(&self.iccid)?));
        mf.set_file("ef-dir", content(&dir_record));
        mf.set_file("ef-arr", File::default());

        let mut usim = PeFileSystem {
            kind: PeKind::Usim,
            header: mandated(4),
            template_id: oid("2.23.143.1.2.4")?,
            files: Vec::new(),
        };
        usim.set_file(
            "adf-usim",
            File(vec![FileItem::FileDescriptor(Box::new(Fcp {
                file_id: Some(USIM_TEMP_FID),
                df_name: Some(USIM_AID.to_vec()),
                pin_status_template_do: Some(vec![0x81, 0x01, 0x0A, 0x0B]),
                ..Fcp::empty()
            }))]),
        );
        usim.set_file("ef-imsi", content(&imsi_ef(&self.imsi)?));
        for name in ["ef-arr", "ef-ust", "ef-spn", "ef-est", "ef-ecc"] {
            usim.set_file(name, File::default());
        }
        usim.set_file("ef-acc", content(&access_class(&self.imsi)));

        let pin = |key_reference, digits: &str, unblock, attributes, retries| {
            Ok::<_, SaipError>(PinConfiguration {
                key_reference,
                pin_value: pin_value(digits)?,
                unblocking_pin_reference: unblock,
                pin_attributes: attributes,
                max_attempts_retries_left: retries,
            })
        };
        let puk = |key_reference, digits: &str| {
            Ok::<_, SaipError>(PukConfiguration {
                key_reference,
                puk_value: pin_value(digits)?,
                max_attempts_retries_left: super::pin::PUK_RETRY_DEFAULT,
            })
        };
        let pes = vec![
            ProfileElement::Header(header),
            ProfileElement::FileSystem(mf),
            ProfileElement::PukCodes(PePukCodes {
                header: mandated(2),
                puk_codes: vec![puk(1, &self.puk1)?, puk(129, &self.local_puk)?],
            }),
            ProfileElement::PinCodes(PePinCodes {
                header: mandated(3),
                pin_codes: PinCodes::PinConfig(vec![
                    pin(1, &self.pin1, Some(1), 6, super::pin::PIN_RETRY_DEFAULT)?,
                    pin(10, &self.adm1, None, 3, 0xAA)?,
                ]),
            }),
            ProfileElement::FileSystem(usim),
            ProfileElement::PinCodes(PePinCodes {
                header: mandated(5),
                pin_codes: PinCodes::PinConfig(vec![pin(
                    129,
                    &self.local_pin,
                    Some(129),
                    3,
                    super::pin::PIN_RETRY_DEFAULT,
                )?]),
            }),
            ProfileElement::AkaParameter(PeAkaParameter {
                header: mandated(6),
                algo_configuration: AlgoConfiguration::AlgoParameter(AlgoParameter {
                    algorithm_id: algo_id,
                    algorithm_options: 0x02,
                    key: self.k.clone(),
                    opc: self.opc.clone(),
                    rotation_constants: ROTATION_CONSTANTS_DEFAULT,
                    xoring_constants: XORING_CONSTANTS_DEFAULT,
                    auth_counter_max: None,
                    number_of_keccak: 1,
                }),
                sqn_options: SQN_OPTIONS_DEFAULT,
                sqn_delta: SQN_DELTA_DEFAULT,
                sqn_age_limit: SQN_DELTA_DEFAULT,
                sqn_init: None,
            }),
            ProfileElement::SecurityDomain(PeSecurityDomain {
                header: mandated(7),
                instance: ApplicationInstance {
                    application_load_package_aid: MNO_SD_PACKAGE.to_vec(),
                    class_aid: MNO_SD_CLASS.to_vec(),
                    instance_aid: MNO_SD_INSTANCE.to_vec(),
                    extradite_security_domain_aid: None,
                    application_privileges: vec![0x82, 0xDC, 0x00],
                    life_cycle_state: 0x0F,
                    application_specific_parameters_c9: MNO_SD_C9.to_vec(),
                    system_specific_parameters: None,
                    application_parameters: None,
                    process_data: None,
                    control_reference_template: None,
                },
                key_list: (!self.mno_sd_keys.is_empty()).then(|| self.mno_sd_keys.clone()),
                sd_perso_data: None,
                open_perso_data: None,
                cat_tp_parameters: None,
            }),
            ProfileElement::End(PeEnd {
                header: mandated(8),
            }),
        ];
        Ok(Package::from_elements(pes))
    }
}

/// EF.ACC (TS 31.102 §4.2.15, TS 22.011 §4.2): access class 0..9 is the last IMSI digit; the
/// class's bit is set in the 2-byte file (class 0 = b1 of byte 2 ... class 9 = b2 of byte 1).
pub fn access_class(imsi: &str) -> [u8; 2] {
    let class = imsi
        .bytes()
        .last()
        .filter(u8::is_ascii_digit)
        .map_or(0, |b| b - b'0');
    let bits = 1u16 << class;
    bits.to_be_bytes()
}
