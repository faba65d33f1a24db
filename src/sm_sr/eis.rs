//! The eUICC Information Set (EIS, SGP.02 §5.x, ES1.RegisterEIS): what an SM-SR knows about a
//! card before it talks to it, as a JSON file an EUM (or `euicc-emulator init --eis-out`) writes
//! and `smsr eis register` reads. A user can write one by hand for a real card from the vendor's
//! key sheet.
//!
//! ```json
//! {
//!   "version": 1,
//!   "eid": "89001999000010000000000000000022",
//!   "eum_id": "EUM-TEST",
//!   "eum_certificate": "7F21...",
//!   "production_date": "2026-11-22",
//!   "platform_type": "smsr euicc-emulator",
//!   "platform_version": "1.0",
//!   "isd_p_load_file_aid": "A0000005591010FFFFFFFF8900000D00",
//!   "isd_p_module_aid": "A0000005591010FFFFFFFF8900000E00",
//!   "isd_r": {
//!     "aid": "A0000005591010FFFFFFFF8900000100",
//!     "tar": "000001",
//!     "scp80": [{ "kvn": 1, "kic": "HEX", "kid": "HEX", "counter": 0 }],
//!     "scp03": [{ "kvn": 48, "enc": "HEX", "mac": "HEX", "dek": "HEX" }]
//!   },
//!   "ecasd": {
//!     "aid": "A0000005591010FFFFFFFF8900000200",
//!     "certificate": "7F21..."
//!   },
//!   "capabilities": { "secure_packet_version": "1.0", "remote_provisioning_version": "2.0" },
//!   "available_memory": 524288
//! }
//! ```
//!
//! Field names follow the GSMA EIS (`EumSignedInfo`: Eid, Eum-Id, ProductionDate, PlatformType,
//! PlatformVersion, Isd-p-loadfile-aid, Isd-p-module-aid, Ecasd, EuiccCapabilities; `Isd-r`
//! with its key sets) in snake case. Only `version`, `eid` and `isd_r.aid` are required; the
//! ISD-P AIDs default to SGP.02 Annex H's `…0D00`/`…0E00`, the ISD-R TAR to bytes 13–15 of its
//! AID. Keys are secrets: the registry keeps them, `smsr eis show` never prints them.
//!
//! `eum_certificate` (optional, hex `7F21`) is CERT.EUM.ECDSA. It is not one of the GSMA
//! `EumSignedInfo` fields, but an SM-DP needs it to check CERT.ECASD.ECKA: the ECASD
//! certificate is signed by the EUM, and only the EUM's certificate links that signature to the
//! CI's key (`smsr_proto::pki::test_pki::verify_ecasd_certificate`). `euicc-emulator init
//! --pki DIR --eis-out FILE` writes it.

use crate::hexfmt;
use serde::{Deserialize, Serialize};
use smsr_proto::gp::aid::{Aid, ECASD, ISD_P_LOAD_FILE, ISD_P_MODULE, ISD_R};
use smsr_proto::gp::get_data::Eid;
use std::fmt;
use thiserror::Error;
use zeroize::Zeroizing;

/// The EIS file format version this tool reads and writes.
pub const EIS_VERSION: u32 = 1;

/// A secret in hex, zeroized on drop, redacted in Debug.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHex(Zeroizing<String>);

impl Serialize for SecretHex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretHex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

impl SecretHex {
    pub fn new(hex: impl Into<String>) -> Self {
        Self(Zeroizing::new(hex.into()))
    }

    /// The bytes.
    pub fn bytes(&self) -> Result<Zeroizing<Vec<u8>>, String> {
        hexfmt::parse(&self.0)
            .map(Zeroizing::new)
            .map_err(|_| "not hexadecimal".to_owned())
    }
}

impl fmt::Debug for SecretHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

/// An SCP80 key set (ETSI TS 102 225): KIc for ciphering, KID for the checksum, and the last
/// counter value used.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Scp80Keyset {
    pub kvn: u8,
    pub kic: SecretHex,
    pub kid: SecretHex,
    #[serde(default)]
    pub counter: u64,
}

/// An SCP81 key set of the ISD-R (GP Card Specification Amendment B, PSK-TLS; SGP.02 KVN
/// `40`–`4F`, key type `85`): the pre-shared key of the card's TLS client.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Scp81Keyset {
    pub kvn: u8,
    /// Key identifier within the version (`01` when absent).
    #[serde(default = "default_scp81_kid")]
    pub kid: u8,
    /// The pre-shared key, 16 to 64 bytes (hex).
    pub psk: SecretHex,
    /// The PSK identity the card presents (text), when not the SGP.02 one derived from the
    /// EID, the ISD-R AID, KID and KVN ([`smsr_proto::scp81::PskIdentity`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

impl Scp80Keyset {
    /// The key set as the SM-SR uses it: AES-CBC KIc and AES-CMAC KID, both keys of one length
    /// (16, 24 or 32 bytes). The error names what is wrong.
    pub fn keyset(&self) -> Result<smsr_proto::ota::scp80::KeySet, String> {
        let kic = self.kic.bytes().map_err(|e| format!("KIc: {e}"))?;
        let kid = self.kid.bytes().map_err(|e| format!("KID: {e}"))?;
        if ![16, 24, 32].contains(&kic.len()) || kic.len() != kid.len() {
            return Err(format!(
                "SCP80 key set {}: KIc and KID must be AES keys of the same length (16, 24 or \
                 32 bytes), not {} and {}",
                self.kvn,
                kic.len(),
                kid.len()
            ));
        }
        Ok(smsr_proto::ota::scp80::KeySet::aes(self.kvn, &kic, &kid))
    }
}

impl Scp03Keyset {
    /// The static key set (Key-ENC, Key-MAC, Key-DEK under its version).
    pub fn static_keys(&self) -> Result<smsr_proto::scp03::StaticKeys, String> {
        smsr_proto::scp03::StaticKeys::new(
            self.kvn,
            &self.enc.bytes()?,
            &self.mac.bytes()?,
            &self.dek.bytes()?,
        )
        .map_err(|e| format!("SCP03 key set {}: {e}", self.kvn))
    }
}

fn default_scp81_kid() -> u8 {
    1
}

/// An SCP03 key set of the ISD-R.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Scp03Keyset {
    pub kvn: u8,
    pub enc: SecretHex,
    pub mac: SecretHex,
    pub dek: SecretHex,
}

/// The ISD-R as the EIS describes it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IsdR {
    pub aid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tar: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scp80: Vec<Scp80Keyset>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scp81: Vec<Scp81Keyset>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scp03: Vec<Scp03Keyset>,
}

/// The ECASD as the EIS describes it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Ecasd {
    pub aid: String,
    /// CERT.ECASD.ECKA (`7F21`, hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// `EuiccCapabilities`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cattp_support: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_support: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_packet_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_provisioning_version: Option<String>,
}

/// The eUICC Information Set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Eis {
    pub version: u32,
    pub eid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eum_id: Option<String>,
    /// CERT.EUM.ECDSA (`7F21`, hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eum_certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(default = "default_load_file")]
    pub isd_p_load_file_aid: String,
    #[serde(default = "default_module")]
    pub isd_p_module_aid: String,
    pub isd_r: IsdR,
    #[serde(default = "default_ecasd")]
    pub ecasd: Ecasd,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_memory: Option<u64>,
    /// The profiles on the card when the EIS was written (SGP.02 EIS `profiles`): the
    /// bootstrap profile the EUM installed, for a card that left the factory with one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<EisProfile>,
}

/// A profile of the EIS (SGP.02 §5.1.1.2 ProfileInfo, the fields this SM-SR keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EisProfile {
    /// The ISD-P holding it (instance AID, hex).
    pub isd_p_aid: String,
    /// Its ICCID, 19 or 20 digits.
    pub iccid: String,
    /// `enabled` or `disabled`.
    pub state: String,
    /// Whether it has the Fallback Attribute.
    #[serde(default)]
    pub fallback: bool,
}

fn default_load_file() -> String {
    hexfmt::upper(&ISD_P_LOAD_FILE)
}

fn default_module() -> String {
    hexfmt::upper(&ISD_P_MODULE)
}

fn default_ecasd() -> Ecasd {
    Ecasd {
        aid: hexfmt::upper(&ECASD),
        certificate: None,
    }
}

/// Why an EIS cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EisError {
    #[error("the EIS is not valid JSON for this format: {0}; see the EIS format in the README")]
    Syntax(String),
    #[error("EIS version {0} is not supported (this smsr reads version {EIS_VERSION})")]
    Version(u32),
    #[error("EIS field {field}: {detail}")]
    Field { field: String, detail: String },
}

fn field(field: impl Into<String>, detail: impl Into<String>) -> EisError {
    EisError::Field {
        field: field.into(),
        detail: detail.into(),
    }
}

/// The EID from its 32 decimal digits (SGP.02; spaces around them are ignored). The check
/// digits are not verified: an SM-SR serves the EIDs its EUMs give it. Every EID a user, an
/// EIS or a service request gives goes through here.
pub fn parse_eid(text: &str) -> Result<Eid, String> {
    let digits = text.trim();
    if digits.len() != 32 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "{text:?} is not an EID: 32 decimal digits expected"
        ));
    }
    Eid::from_hex(digits).map_err(|e| format!("{text:?} is not an EID: {e}"))
}

/// An AID from its hex digits (either case; spaces ignored), 5 to 16 bytes.
pub fn parse_aid(text: &str) -> Result<Aid, String> {
    text.parse()
        .map_err(|e| format!("{text:?} is not an AID (5 to 16 bytes in hex): {e}"))
}

fn check_aid(name: &str, text: &str) -> Result<Aid, EisError> {
    let bytes = hexfmt::parse(text).map_err(|e| field(name, e.to_string()))?;
    Aid::new(&bytes).map_err(|e| field(name, e.to_string()))
}

fn check_key(name: String, key: &SecretHex, lengths: &[usize]) -> Result<(), EisError> {
    let bytes = key.bytes().map_err(|e| field(name.clone(), e))?;
    if !lengths.contains(&bytes.len()) {
        return Err(field(
            name,
            format!("{} bytes; expected {lengths:?}", bytes.len()),
        ));
    }
    Ok(())
}

impl Eis {
    /// Reads and checks an EIS document.
    pub fn from_json(text: &str) -> Result<Self, EisError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| EisError::Syntax(e.to_string()))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(EIS_VERSION) => {}
            Some(v) => return Err(EisError::Version(u32::try_from(v).unwrap_or(u32::MAX))),
            None => return Err(field("version", "missing (expected 1)")),
        }
        let eis: Self = serde_path_to_error::deserialize(value).map_err(|e| {
            let at = e.path().to_string();
            field(at, shorten(&e.into_inner().to_string()))
        })?;
        eis.check()?;
        Ok(eis)
    }

    /// The document (with keys: it is for files with mode 0600 only).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every field's form.
    pub fn check(&self) -> Result<(), EisError> {
        let eid = parse_eid(&self.eid).map_err(|e| field("eid", e))?;
        if !eid.check_digits_valid() {
            return Err(field(
                "eid",
                format!(
                    "check digits {} do not match (ISO/IEC 7064 MOD 97-10: {} expected); is the \
                     EID copied right?",
                    &self.eid.trim()[30..],
                    smsr_proto::gp::get_data::eid_check_digits(&self.eid.trim().as_bytes()[..30])
                ),
            ));
        }
        check_aid("isd_p_load_file_aid", &self.isd_p_load_file_aid)?;
        check_aid("isd_p_module_aid", &self.isd_p_module_aid)?;
        check_aid("isd_r.aid", &self.isd_r.aid)?;
        check_aid("ecasd.aid", &self.ecasd.aid)?;
        if let Some(tar) = &self.isd_r.tar {
            match hexfmt::parse(tar) {
                Ok(b) if b.len() == 3 => {}
                _ => return Err(field("isd_r.tar", "3 bytes in hex expected")),
            }
        }
        for (list, kvns) in [
            (
                "scp80",
                self.isd_r.scp80.iter().map(|k| k.kvn).collect::<Vec<_>>(),
            ),
            ("scp81", self.isd_r.scp81.iter().map(|k| k.kvn).collect()),
            ("scp03", self.isd_r.scp03.iter().map(|k| k.kvn).collect()),
        ] {
            for (i, kvn) in kvns.iter().enumerate() {
                if kvns[..i].contains(kvn) {
                    return Err(field(
                        format!("isd_r.{list}[{i}].kvn"),
                        format!("key version {kvn} is listed twice; each key set has its own"),
                    ));
                }
            }
        }
        for (i, k) in self.isd_r.scp80.iter().enumerate() {
            check_key(format!("isd_r.scp80[{i}].kic"), &k.kic, &[16, 24, 32])?;
            check_key(format!("isd_r.scp80[{i}].kid"), &k.kid, &[16, 24, 32])?;
            if k.counter >= 1 << 40 {
                return Err(field(
                    format!("isd_r.scp80[{i}].counter"),
                    "more than the 5 bytes of CNTR",
                ));
            }
        }
        for (i, k) in self.isd_r.scp81.iter().enumerate() {
            if !(0x40..=0x4F).contains(&k.kvn) {
                return Err(field(
                    format!("isd_r.scp81[{i}].kvn"),
                    format!(
                        "{}: SGP.02 gives SCP81 key sets versions 64 to 79 (40-4F)",
                        k.kvn
                    ),
                ));
            }
            let psk = k
                .psk
                .bytes()
                .map_err(|e| field(format!("isd_r.scp81[{i}].psk"), e))?;
            if !(16..=64).contains(&psk.len()) {
                return Err(field(
                    format!("isd_r.scp81[{i}].psk"),
                    format!("{} bytes: a PSK of 16 to 64 bytes expected", psk.len()),
                ));
            }
            if let Some(id) = &k.identity {
                if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(field(
                        format!("isd_r.scp81[{i}].identity"),
                        "1 to 128 printable ASCII characters expected",
                    ));
                }
            }
        }
        for (i, k) in self.isd_r.scp03.iter().enumerate() {
            for (n, key) in [("enc", &k.enc), ("mac", &k.mac), ("dek", &k.dek)] {
                check_key(format!("isd_r.scp03[{i}].{n}"), key, &[16, 24, 32])?;
            }
        }
        let mut enabled = 0;
        let mut fallbacks = 0;
        for (i, p) in self.profiles.iter().enumerate() {
            let at = |f: &str| format!("profiles[{i}].{f}");
            let aid: smsr_proto::gp::aid::Aid = p
                .isd_p_aid
                .parse()
                .map_err(|e| field(at("isd_p_aid"), format!("{e}")))?;
            if aid.isd_p_number().is_none() {
                return Err(field(
                    at("isd_p_aid"),
                    "not an ISD-P instance AID (A0000005591010FFFFFFFF89 00 nnnn 00)",
                ));
            }
            let digits = p.iccid.trim();
            if !(19..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(field(at("iccid"), "19 or 20 digits expected"));
            }
            match p.state.as_str() {
                "enabled" => enabled += 1,
                "disabled" => {}
                other => {
                    return Err(field(
                        at("state"),
                        format!("{other:?}: \"enabled\" or \"disabled\" expected"),
                    ))
                }
            }
            fallbacks += usize::from(p.fallback);
            if self.profiles[..i]
                .iter()
                .any(|q| q.isd_p_aid == p.isd_p_aid)
            {
                return Err(field(at("isd_p_aid"), "listed twice"));
            }
        }
        if enabled > 1 || fallbacks > 1 {
            return Err(field(
                "profiles",
                "at most one profile is enabled and at most one has the Fallback Attribute",
            ));
        }
        for (name, cert) in [
            ("ecasd.certificate", &self.ecasd.certificate),
            ("eum_certificate", &self.eum_certificate),
        ] {
            if let Some(cert) = cert {
                let bytes = hexfmt::parse(cert).map_err(|e| field(name, e.to_string()))?;
                smsr_proto::pki::Certificate::decode(&bytes).map_err(|e| {
                    field(
                        name,
                        format!("not an SGP.02 certificate (7F21 …, GP Amendment E format): {e}"),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// The EID's 16 bytes (checked by [`Eis::check`]).
    pub fn eid_bytes(&self) -> [u8; 16] {
        self.eid().0
    }

    /// The EID (checked by [`Eis::check`]; all zeros in an EIS that was not).
    pub fn eid(&self) -> Eid {
        parse_eid(&self.eid).unwrap_or(Eid([0; 16]))
    }

    /// The ISD-R's AID (checked by [`Eis::check`]; the SGP.02 ISD-R in an EIS that was not).
    pub fn isd_r_aid(&self) -> Aid {
        parse_aid(&self.isd_r.aid).unwrap_or_else(|_| Aid::isd_r())
    }

    /// The PSK identity the card presents with an SCP81 key set: as the EIS gives it, else the
    /// SGP.02 one made of the EID, the ISD-R's AID, the key's KID and KVN
    /// ([`smsr_proto::scp81::PskIdentity`]).
    pub fn scp81_identity(&self, k: &Scp81Keyset) -> Vec<u8> {
        match &k.identity {
            Some(id) => id.clone().into_bytes(),
            None => smsr_proto::scp81::PskIdentity {
                eid: self.eid_bytes(),
                isd_r: self.isd_r_aid(),
                kid: k.kid,
                kvn: k.kvn,
            }
            .to_bytes(),
        }
    }

    /// The ISD-R's TAR: as given, else bytes 13–15 of its AID (ETSI TS 101 220 §6, as SGP.02
    /// Annex H lays the AID out).
    pub fn isd_r_tar(&self) -> [u8; 3] {
        let given = self
            .isd_r
            .tar
            .as_deref()
            .and_then(|t| hexfmt::parse(t).ok())
            .and_then(|b| <[u8; 3]>::try_from(b).ok());
        given.unwrap_or_else(|| {
            let aid = hexfmt::parse(&self.isd_r.aid).unwrap_or_else(|_| ISD_R.to_vec());
            tar_of(&aid)
        })
    }

    /// A copy without keys, for display.
    pub fn without_keys(&self) -> Self {
        let mut e = self.clone();
        for k in &mut e.isd_r.scp80 {
            k.kic = SecretHex::new("REDACTED");
            k.kid = SecretHex::new("REDACTED");
        }
        for k in &mut e.isd_r.scp81 {
            k.psk = SecretHex::new("REDACTED");
        }
        for k in &mut e.isd_r.scp03 {
            k.enc = SecretHex::new("REDACTED");
            k.mac = SecretHex::new("REDACTED");
            k.dek = SecretHex::new("REDACTED");
        }
        e
    }
}

/// A serde message cut to a readable length: it may quote the bad value, which can be huge.
fn shorten(message: &str) -> String {
    const MAX: usize = 160;
    match message.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}… (cut)", &message[..i]),
        None => message.to_owned(),
    }
}

/// The TAR of an SGP.02 instance AID: bytes 13–15 (ISD-R `000001`, ECASD `000002`, first ISD-P
/// `000010`). For a shorter AID, its last three bytes.
pub fn tar_of(aid: &[u8]) -> [u8; 3] {
    if let Some(tar) = Aid::new(aid).ok().and_then(|a| a.tar()) {
        return tar;
    }
    let tail = &aid[aid.len().saturating_sub(3)..];
    let mut tar = [0u8; 3];
    let start = 3 - tail.len().min(3);
    tar[start..].copy_from_slice(&tail[..tail.len().min(3)]);
    tar
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The EIS reader (files, ES1 bodies) never panics: arbitrary text, and the sample with
        // one byte replaced or the text cut anywhere, each an error or a checked EIS.
        #[test]
        fn reading_any_text_never_panics(text in ".{0,400}") {
            let _ = Eis::from_json(&text);
        }

        #[test]
        fn reading_a_damaged_sample_never_panics(at in 0usize..2000, byte in any::<u8>(), cut in 0usize..2000) {
            let mut bytes = sample().into_bytes();
            let at = at % bytes.len();
            bytes[at] = byte;
            let cut = cut % bytes.len();
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = Eis::from_json(text);
                let mut end = cut.min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                let _ = Eis::from_json(&text[..end]);
            }
        }
    }

    fn sample() -> String {
        r#"{
          "version": 1,
          "eid": "89001999000010000000000000000022",
          "isd_r": {
            "aid": "A0000005591010FFFFFFFF8900000100",
            "scp80": [{"kvn": 1, "kic": "000102030405060708090A0B0C0D0E0F", "kid": "101112131415161718191A1B1C1D1E1F", "counter": 5}],
            "scp81": [{"kvn": 64, "kid": 1, "psk": "505152535455565758595A5B5C5D5E5F"}],
            "scp03": [{"kvn": 48, "enc": "404142434445464748494A4B4C4D4E4F", "mac": "404142434445464748494A4B4C4D4E4F", "dek": "404142434445464748494A4B4C4D4E4F"}]
          }
        }"#
        .to_owned()
    }

    #[test]
    fn minimal_eis_gets_annex_h_defaults() {
        let eis = Eis::from_json(&sample()).unwrap();
        assert_eq!(eis.isd_p_load_file_aid, "A0000005591010FFFFFFFF8900000D00");
        assert_eq!(eis.isd_p_module_aid, "A0000005591010FFFFFFFF8900000E00");
        assert_eq!(eis.ecasd.aid, "A0000005591010FFFFFFFF8900000200");
        assert_eq!(eis.isd_r_tar(), [0, 0, 1]);
        assert_eq!(eis.isd_r.scp80[0].counter, 5);
        let again = Eis::from_json(&eis.to_json()).unwrap();
        assert_eq!(again, eis);
        let shown = serde_json::to_string(&eis.without_keys()).unwrap();
        assert!(!shown.contains("404142") && shown.contains("REDACTED"));
        assert!(!shown.contains("505152"), "the SCP81 PSK is shown: {shown}");
        assert!(!format!("{eis:?}").contains("404142"));
        assert!(!format!("{eis:?}").contains("505152"));
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            ("\"version\": 1", "\"version\": 2", "version 2"),
            ("89001999000010000000000000000022", "8900", "eid"),
            (
                "000102030405060708090A0B0C0D0E0F",
                "0001",
                "isd_r.scp80[0].kic",
            ),
            ("\"counter\": 5", "\"counter\": 5, \"extra\": 1", "extra"),
            ("\"aid\": \"A000", "\"aid\": \"ZZ00", "isd_r.aid"),
            // Wrong check digits (…22 is right).
            ("000000000022", "000000000018", "check digits 18"),
            // A key version of the wrong type: the JSON path, not only serde's words.
            ("\"kvn\": 1", "\"kvn\": \"ZZ\"", "isd_r.scp80[0].kvn"),
            // The same key version twice.
            ("\"scp03\": [", "\"scp03\": [{\"kvn\": 48, \"enc\": \"404142434445464748494A4B4C4D4E4F\", \"mac\": \"404142434445464748494A4B4C4D4E4F\", \"dek\": \"404142434445464748494A4B4C4D4E4F\"}, ", "isd_r.scp03[1].kvn"),
            // An ECASD certificate that is none.
            ("\"isd_r\": {", "\"ecasd\": {\"aid\": \"A0000005591010FFFFFFFF8900000200\", \"certificate\": \"00\"}, \"isd_r\": {", "ecasd.certificate"),
        ];
        for (from, to, named) in cases {
            let text = sample().replacen(from, to, 1);
            let err = Eis::from_json(&text).unwrap_err().to_string();
            assert!(err.contains(named), "{named}: {err}");
        }
        assert!(Eis::from_json("[]").is_err());
        // A huge bad value is not echoed back whole.
        let huge = "Z".repeat(200_000);
        let text = sample().replacen("\"kvn\": 1", &format!("\"kvn\": \"{huge}\""), 1);
        let err = Eis::from_json(&text).unwrap_err().to_string();
        assert!(
            err.contains("isd_r.scp80[0].kvn") && err.len() < 400,
            "{} bytes",
            err.len()
        );
    }

    #[test]
    fn eids_are_32_decimal_digits() {
        let eid = parse_eid("89001999000010000000000000000022").unwrap();
        assert_eq!(eid.to_string(), "89001999000010000000000000000022");
        assert_eq!(eid.0[..2], [0x89, 0x00]);
        // Spaces around are ignored; the check digits are not verified.
        assert_eq!(
            parse_eid(" 89001999000010000000000000000022\n").unwrap(),
            eid
        );
        assert!(parse_eid("89049032000000000000000000001230").is_ok());
        for bad in [
            "",
            "E",
            "8900199900001000000000000000001",
            "890019990000100000000000000000180",
            "8900199900001000000000000000001A",
            "89001999 00001000000000000000018",
            "８9001999000010000000000000000018",
        ] {
            let err = parse_eid(bad).unwrap_err();
            assert_eq!(
                err,
                format!("{bad:?} is not an EID: 32 decimal digits expected")
            );
        }
        let eis = Eis::from_json(&sample()).unwrap();
        assert_eq!(eis.eid(), eid);
        assert_eq!(eis.eid_bytes(), eid.0);
        assert_eq!(eis.isd_r_aid(), Aid::isd_r());
    }

    #[test]
    fn aids_are_5_to_16_bytes_in_hex() {
        let first = Aid::isd_p(0x0010).unwrap();
        for good in [
            "A0000005591010FFFFFFFF8900001000",
            "a0000005591010ffffffff8900001000",
            "A0000005 591010FF FFFFFF89 00001000",
        ] {
            assert_eq!(parse_aid(good).unwrap(), first, "{good}");
        }
        assert_eq!(parse_aid("A000000151").unwrap().len(), 5);
        for bad in [
            "",
            "A0",
            "A00000015",
            "A0000001",
            &"00".repeat(17),
            "ZZ00000151",
        ] {
            let err = parse_aid(bad).unwrap_err();
            assert!(
                err.starts_with(&format!("{bad:?} is not an AID (5 to 16 bytes in hex)")),
                "{err}"
            );
        }
    }

    #[test]
    fn tars_are_bytes_13_to_15_of_the_aid() {
        assert_eq!(tar_of(&ISD_R), [0, 0, 1]);
        assert_eq!(tar_of(&ECASD), [0, 0, 2]);
        let first_isd_p = hexfmt::parse("A0000005591010FFFFFFFF8900001000").unwrap();
        assert_eq!(tar_of(&first_isd_p), [0, 0, 0x10]);
        assert_eq!(tar_of(&[0xA0, 0x01]), [0, 0xA0, 0x01]);
    }
}
