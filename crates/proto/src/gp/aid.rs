//! Application identifiers (ISO/IEC 7816-5: a 5-byte RID and up to 11 bytes of PIX) and the
//! well-known AIDs of GlobalPlatform (GPCS v2.3.1 §H.1.2, §H.1.3) and GSMA SGP.02 (Annex H).
//!
//! ISD-P instance AIDs follow the SGP.02 allocation `A0000005591010FFFFFFFF89 00 nnnn 00`,
//! `nnnn` from `0010`: the first ISD-P is `A0000005591010FFFFFFFF8900001000`. The ISD-R
//! (`nnnn` = `0001`), ECASD (`0002`), ISD-P load file (`000D`) and module (`000E`) share the
//! layout.

use super::GpError;
use std::fmt;
use std::str::FromStr;

/// The ISD-R instance AID (SGP.02 Annex H).
pub const ISD_R: [u8; 16] = hex16(*b"A0000005591010FFFFFFFF8900000100");
/// The ECASD instance AID (SGP.02 Annex H).
pub const ECASD: [u8; 16] = hex16(*b"A0000005591010FFFFFFFF8900000200");
/// The Executable Load File of ISD-Ps.
pub const ISD_P_LOAD_FILE: [u8; 16] = hex16(*b"A0000005591010FFFFFFFF8900000D00");
/// The Executable Module of ISD-Ps.
pub const ISD_P_MODULE: [u8; 16] = hex16(*b"A0000005591010FFFFFFFF8900000E00");
/// The common prefix of SGP.02 AIDs: `A0000005591010FFFFFFFF89`.
pub const ISD_P_PREFIX: [u8; 12] = [
    0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89,
];
/// The first ISD-P number the SM-SR allocates.
pub const FIRST_ISD_P_NUMBER: u16 = 0x0010;
/// The GlobalPlatform RID.
pub const GP_RID: [u8; 5] = [0xA0, 0x00, 0x00, 0x01, 0x51];
/// The default Issuer Security Domain AID (GPCS §H.1.3).
pub const GP_ISD: [u8; 8] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00];
/// The ISD AID of older GlobalPlatform cards.
pub const GP_ISD_LEGACY: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00];
/// The prefix of 3GPP USIM application AIDs (ETSI TS 101 220).
pub const USIM_PREFIX: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02];
/// The prefix of 3GPP ISIM application AIDs (ETSI TS 101 220).
pub const ISIM_PREFIX: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x04];

const fn hex16(text: [u8; 32]) -> [u8; 16] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("upper-case hex expected"),
        }
    }
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = (nibble(text[2 * i]) << 4) | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

/// An application identifier of 5 to 16 bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aid(Vec<u8>);

impl Aid {
    /// Shortest AID (a RID alone).
    pub const MIN_LEN: usize = 5;
    /// Longest AID.
    pub const MAX_LEN: usize = 16;

    /// An AID from its bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, GpError> {
        if (Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            Ok(Self(bytes.to_vec()))
        } else {
            Err(GpError::AidLength(bytes.len()))
        }
    }

    /// The ISD-R.
    pub fn isd_r() -> Self {
        Self(ISD_R.to_vec())
    }

    /// The ECASD.
    pub fn ecasd() -> Self {
        Self(ECASD.to_vec())
    }

    /// The ISD-P Executable Load File.
    pub fn isd_p_load_file() -> Self {
        Self(ISD_P_LOAD_FILE.to_vec())
    }

    /// The ISD-P Executable Module.
    pub fn isd_p_module() -> Self {
        Self(ISD_P_MODULE.to_vec())
    }

    /// The default GlobalPlatform ISD.
    pub fn gp_isd() -> Self {
        Self(GP_ISD.to_vec())
    }

    /// The ISD-P instance AID `A0000005591010FFFFFFFF89 00 nnnn 00` for `number` ≥ `0010`.
    pub fn isd_p(number: u16) -> Result<Self, GpError> {
        if number < FIRST_ISD_P_NUMBER {
            return Err(GpError::invalid(
                13,
                None,
                "ISD-P numbers start at 0010 (lower ones are the ISD-R, ECASD and ISD-P code)",
            ));
        }
        Ok(Self(sgp02_aid(number).to_vec()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes (5–16).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an AID has at least five bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The registered application provider identifier (first five bytes).
    pub fn rid(&self) -> &[u8] {
        &self.0[..Self::MIN_LEN]
    }

    /// The proprietary application identifier extension (bytes after the RID).
    pub fn pix(&self) -> &[u8] {
        &self.0[Self::MIN_LEN..]
    }

    /// Whether the AID begins with `prefix` (partial selection, GET STATUS search).
    pub fn starts_with(&self, prefix: &[u8]) -> bool {
        self.0.starts_with(prefix)
    }

    /// The Toolkit Application Reference of an SGP.02 instance AID: bytes 13–15 (ETSI TS
    /// 101 220 §6 as SGP.02 Annex H lays the AID out: ISD-R `000001`, ECASD `000002`, the first
    /// ISD-P `000010`); `None` for an AID shorter than 15 bytes. The one place this rule is
    /// written: the SM-SR addresses packets with it and the emulator routes them by it.
    pub fn tar(&self) -> Option<[u8; 3]> {
        match self.0.get(12..15)? {
            [a, b, c] => Some([*a, *b, *c]),
            _ => None,
        }
    }

    /// The number `nnnn` of an ISD-P instance AID, if this is one.
    pub fn isd_p_number(&self) -> Option<u16> {
        sgp02_number(&self.0).filter(|&n| n >= FIRST_ISD_P_NUMBER)
    }

    /// Whether this is an ISD-P instance AID.
    pub fn is_isd_p(&self) -> bool {
        self.isd_p_number().is_some()
    }

    /// The name of a well-known AID (see [`known_aid_name`]).
    pub fn known_name(&self) -> Option<&'static str> {
        known_aid_name(&self.0)
    }
}

fn sgp02_aid(number: u16) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..12].copy_from_slice(&ISD_P_PREFIX);
    out[13..15].copy_from_slice(&number.to_be_bytes());
    out
}

fn sgp02_number(bytes: &[u8]) -> Option<u16> {
    match bytes {
        [prefix @ .., 0x00, hi, lo, 0x00] if prefix == ISD_P_PREFIX => {
            Some(u16::from_be_bytes([*hi, *lo]))
        }
        _ => None,
    }
}

/// A short name for a well-known AID or AID family, for traces and listings: `ISD-R`, `ECASD`,
/// `ISD-P` (any instance), `ISD-P load file`, `ISD-P module`, `GP ISD`, `USIM`, `ISIM`...
pub fn known_aid_name(aid: &[u8]) -> Option<&'static str> {
    const EXACT: &[(&[u8], &str)] = &[
        (&ISD_R, "ISD-R"),
        (&ECASD, "ECASD"),
        (&ISD_P_LOAD_FILE, "ISD-P load file"),
        (&ISD_P_MODULE, "ISD-P module"),
        (&GP_ISD, "GP ISD"),
        (&GP_ISD_LEGACY, "GP ISD (legacy)"),
        // Issuer Security Domains of earlier Open Platform / vendor cards (GP-SCP03.md §2.3).
        (
            &[0xA0, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00],
            "Visa/OP card manager",
        ),
        (
            &[0xA0, 0x00, 0x00, 0x00, 0x18, 0x43, 0x4D, 0x00],
            "Gemalto card manager",
        ),
    ];
    if let Some((_, name)) = EXACT.iter().find(|(known, _)| *known == aid) {
        return Some(name);
    }
    if sgp02_number(aid).is_some_and(|n| n >= FIRST_ISD_P_NUMBER) {
        return Some("ISD-P");
    }
    if aid.len() >= Aid::MIN_LEN && aid.starts_with(&USIM_PREFIX) {
        return Some("USIM");
    }
    if aid.len() >= Aid::MIN_LEN && aid.starts_with(&ISIM_PREFIX) {
        return Some("ISIM");
    }
    None
}

impl TryFrom<&[u8]> for Aid {
    type Error = GpError;
    fn try_from(bytes: &[u8]) -> Result<Self, GpError> {
        Self::new(bytes)
    }
}

impl AsRef<[u8]> for Aid {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Aid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(&self.0))
    }
}

impl fmt::Debug for Aid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aid({self})")
    }
}

/// Hex digits, either case; spaces are ignored.
impl FromStr for Aid {
    type Err = GpError;
    fn from_str(s: &str) -> Result<Self, GpError> {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = hex::decode(&compact).map_err(|_| GpError::BadHex(s.to_owned()))?;
        Self::new(&bytes)
    }
}

impl serde::Serialize for Aid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Aid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn well_known_values() {
        // SGP.02 Annex H values as listed by pySim `pySim/euicc.py` and the whty SM-SR.
        assert_eq!(Aid::isd_r().to_string(), "A0000005591010FFFFFFFF8900000100");
        assert_eq!(Aid::ecasd().to_string(), "A0000005591010FFFFFFFF8900000200");
        assert_eq!(
            Aid::isd_p_load_file().to_string(),
            "A0000005591010FFFFFFFF8900000D00"
        );
        assert_eq!(
            Aid::isd_p_module().to_string(),
            "A0000005591010FFFFFFFF8900000E00"
        );
        assert_eq!(Aid::gp_isd().to_string(), "A000000151000000");
        assert_eq!(known_aid_name(&ISD_R), Some("ISD-R"));
        assert_eq!(known_aid_name(&ECASD), Some("ECASD"));
        assert_eq!(known_aid_name(&GP_ISD), Some("GP ISD"));
        assert_eq!(known_aid_name(&GP_ISD_LEGACY), Some("GP ISD (legacy)"));
        let usim: Aid = "A0000000871002FF49FF0589".parse().unwrap();
        assert_eq!(usim.known_name(), Some("USIM"));
        assert_eq!(known_aid_name(&[0xA0, 0, 0, 0, 0x87]), None);
        assert_eq!(known_aid_name(&[0xD2, 0x76, 0, 0, 0x85, 1, 1]), None);
    }

    #[test]
    fn isd_p_allocation() {
        // whty allocator / SGP.22 card dumps: the first ISD-Ps are …1000, …1100, …1200.
        let first = Aid::isd_p(0x0010).unwrap();
        assert_eq!(first.to_string(), "A0000005591010FFFFFFFF8900001000");
        assert_eq!(
            Aid::isd_p(0x0013).unwrap().to_string(),
            "A0000005591010FFFFFFFF8900001300"
        );
        assert_eq!(first.isd_p_number(), Some(0x0010));
        assert_eq!(first.known_name(), Some("ISD-P"));
        let last = Aid::isd_p(0xFFFF).unwrap();
        assert_eq!(last.isd_p_number(), Some(0xFFFF));
        assert!(Aid::isd_p(0x000F).is_err());
        assert_eq!(Aid::isd_r().isd_p_number(), None);
        assert!(!Aid::ecasd().is_isd_p());
        // A trailing byte other than 00 is not an ISD-P.
        let odd: Aid = "A0000005591010FFFFFFFF8900001001".parse().unwrap();
        assert!(!odd.is_isd_p());
    }

    #[test]
    fn validation_and_text() {
        assert_eq!(Aid::new(&[1, 2, 3, 4]), Err(GpError::AidLength(4)));
        assert_eq!(Aid::new(&[0; 17]), Err(GpError::AidLength(17)));
        let aid: Aid = "a0 00 00 01 51".parse().unwrap();
        assert_eq!(aid.rid(), &GP_RID);
        assert!(aid.pix().is_empty());
        assert!(matches!("A0000".parse::<Aid>(), Err(GpError::BadHex(_))));
        assert!(matches!(
            "XX00000151".parse::<Aid>(),
            Err(GpError::BadHex(_))
        ));
        assert_eq!(format!("{aid:?}"), "Aid(A000000151)");
        let json = serde_json::to_string(&Aid::isd_r()).unwrap();
        assert_eq!(json, "\"A0000005591010FFFFFFFF8900000100\"");
        assert_eq!(serde_json::from_str::<Aid>(&json).unwrap(), Aid::isd_r());
        assert!(serde_json::from_str::<Aid>("\"A0\"").is_err());
    }

    proptest! {
        #[test]
        fn text_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..20)) {
            match Aid::new(&bytes) {
                Ok(aid) => {
                    prop_assert_eq!(aid.to_string().parse::<Aid>().unwrap(), aid.clone());
                    prop_assert_eq!(aid.as_bytes(), &bytes[..]);
                }
                Err(e) => prop_assert_eq!(e, GpError::AidLength(bytes.len())),
            }
            let _ = known_aid_name(&bytes);
        }
    }
}
