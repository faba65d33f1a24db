//! The eUICC Controlling Authority Security Domain (GSMA SGP.02 §2.2.1.3, AID per SGP.02
//! Annex H): holds the EID and answers GET DATA `5A` (GlobalPlatform Card Specification v2.3.1
//! §11.3) with CLA `00` or `80`.
//!
//! It also keeps what the EUM put there at personalization ([`EcasdKeys`]): SK.ECASD.ECKA,
//! CERT.ECASD.ECKA and PK.CI.ECDSA, which ES8 key establishment uses (`isd_r/es8.rs`).

use crate::class::Class;
use crate::nv::Nv;
use smsr_proto::pki::{Certificate, PrivateKey, PublicKey};
use smsr_proto::tlv::tlv;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};
use subtle::ConstantTimeEq;

/// The ECASD instance AID.
pub const ECASD_AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x02, 0x00,
];

/// GET DATA (GP §11.3).
pub const INS_GET_DATA: u8 = 0xCA;
/// The EID data object's tag.
pub const TAG_EID: u8 = 0x5A;

/// Commands addressed to the selected ECASD.
pub(crate) fn process(nv: &Nv, class: Class, cmd: &CommandApdu) -> ResponseApdu {
    if class.secure_messaging {
        return ResponseApdu::status(StatusWord::SecureMessagingNotSupported);
    }
    match cmd.ins {
        INS_GET_DATA => get_data(nv, cmd),
        _ => ResponseApdu::status(StatusWord::InsNotSupported),
    }
}

/// GET DATA: P1 P2 is the tag; only the EID (`005A`) is available. The response is the whole
/// data object `5A 10 <EID>` in both the ISO and the GP class.
fn get_data(nv: &Nv, cmd: &CommandApdu) -> ResponseApdu {
    match (cmd.p1, cmd.p2) {
        (0x00, TAG_EID) if !cmd.data.is_empty() => ResponseApdu::status(StatusWord::WrongLength),
        (0x00, TAG_EID) => ResponseApdu::success(tlv(TAG_EID, &nv.get().eid())),
        _ => ResponseApdu::status(StatusWord::ReferencedDataNotFound),
    }
}

/// The ECASD's keys (SGP.02 §2.2.1.3): the key agreement key pair SK/PK.ECASD.ECKA, its
/// certificate CERT.ECASD.ECKA signed by the EUM, and the trust anchor PK.CI.ECDSA.
#[derive(Clone, Debug)]
pub struct EcasdKeys {
    /// SK.ECASD.ECKA.
    pub key: PrivateKey,
    /// CERT.ECASD.ECKA.
    pub certificate: Certificate,
    /// PK.CI.ECDSA.
    pub ci: PublicKey,
}

impl PartialEq for EcasdKeys {
    /// Same certificate and CI key, private keys compared in constant time.
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.key.to_bytes().ct_eq(other.key.to_bytes().as_ref()))
            && self.certificate == other.certificate
            && self.ci == other.ci
    }
}

impl Eq for EcasdKeys {}
