//! The JSON forms of [`CardState`]: version 5 (written), versions 4, 3, 2 and 1 (read and
//! migrated).
//!
//! Version 5 is version 4 with an ISD-P's installed package either inline (`package`, the DER
//! as installed, for [`CardState::to_json`]) or a file of the package directory
//! (`package_file`, for [`CardState::save`]), and its SQN arrays apart (`sqn`: `element`, the
//! index of the akaParameter PE, and `seq`, 32 SEQ values of 6 bytes in hex).
//!
//! Version 4 is version 3 with the ECASD's keys (`ecasd`: `private_key` SK.ECASD.ECKA as 32
//! hex bytes, `certificate` CERT.ECASD.ECKA `7F21…`, `ci_public_key` PK.CI.ECDSA `04‖X‖Y`), the
//! ISD-R's SCP80 key sets (`isd_r.scp80`: `kvn`, AES `kic`/`kid`, `counter` of the last
//! accepted packet) and the key sets ES8 gave ISD-Ps (`isd_p_keys`: `aid` and `keysets` as the
//! ISD-R's). A version-3 file migrates with none of them: such a card has no ECASD key, and ES8
//! key establishment answers `6985` on it.
//!
//! Version 3 is version 2 with each ISD-P's SGP.02 data (`isd_p` in its registry entry) and the
//! notification queue (`notifications`). A version-2 file migrates with its keys and registry
//! kept: each ISD-P gets SCP03 "i" `70`, no quotas and, if its life cycle says it holds a
//! profile (DISABLED or ENABLED), a profile of unknown ICCID ([`MIGRATED_ICCID`]) without
//! Fallback Attribute or POL1; the eUICC declaration notification is queued.

use super::{CardState, Scp80KeySet, StateError, PERSONALIZATION_MAX, STATE_VERSION};
use crate::ecasd::EcasdKeys;
use crate::eid::{eid_to_string, EID_LEN};
use crate::isd_p::{iccid_to_string, parse_iccid, IsdP, Profile, ICCID_LEN};
use crate::keyset::{random_keyset, DEFAULT_KVN};
use crate::notification::{Notifications, PendingNotification};
use crate::registry::{EntryKind, Registry, RegistryRecord};
use crate::usim::StoredProfile;
use serde::{Deserialize, Serialize};
use smsr_proto::auth::SQN_LEN;
use smsr_proto::gp::life_cycle;
use smsr_proto::gp::{Aid, Privileges};
use smsr_proto::pki::{Certificate, PrivateKey, PublicKey};
use smsr_proto::scp03::cryptogram::SEQUENCE_COUNTER_MAX;
use smsr_proto::scp03::{ScpOptions, StaticKeys};
use smsr_proto::sgp02::NotificationType;
use std::collections::BTreeMap;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Just the version, whatever else the file holds (nothing else is kept in memory).
#[derive(Deserialize)]
struct Probe {
    version: Option<serde_json::Value>,
}

/// Version 1: the EID only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFileV1 {
    #[allow(dead_code)]
    version: u32,
    eid: String,
}

/// The ICCID given to the profile of an ISD-P that a version-2 file shows DISABLED or ENABLED
/// (version 2 kept no profile data): all `F`, the erased content of EF_ICCID.
pub const MIGRATED_ICCID: [u8; ICCID_LEN] = [0xFF; ICCID_LEN];

/// Versions 2 and 3 (version 2 has no `isd_p` and no `notifications`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFileV3 {
    version: u32,
    eid: String,
    /// Version 5: the reading of the ES8 open points, when not the default
    /// ([`super::EckaReading`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ecka_reading: Option<String>,
    /// The ATR in hex, when not the default ([`crate::ATR`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    atr: Option<String>,
    isd_r: IsdRFile,
    registry: Vec<RegistryFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notifications: Option<NotificationsFile>,
    /// Version 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ecasd: Option<EcasdFile>,
    /// Version 4.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    isd_p_keys: Vec<IsdPKeysFile>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct EcasdFile {
    private_key: String,
    certificate: String,
    ci_public_key: String,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct Scp80File {
    kvn: u8,
    kic: String,
    kid: String,
    counter: u64,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct Scp81File {
    kvn: u8,
    kid: u8,
    psk: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IsdPKeysFile {
    aid: String,
    keysets: Vec<KeySetFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsFile {
    next_sequence: u16,
    pending: Vec<NotificationFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationFile {
    sequence: u16,
    /// The notification type in hex.
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    isd_p: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IsdPFile {
    /// The SCP03 "i" parameter in hex.
    scp03_i: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    non_volatile_quota: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    volatile_quota: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pending_reset: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<ProfileFile>,
    /// The installed profile package in hex DER, inline: in version 4 its akaParameter
    /// `sqnInit` holds the USIM's current SQN array; from version 5 it is the package as
    /// installed and `sqn` holds the arrays. Written by [`CardState::to_json`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    package: Option<String>,
    /// Version 5: the installed package as a file of the package directory beside the state
    /// file (`<state file>.packages/<name>`), written once at installation. Written by
    /// [`CardState::save`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    package_file: Option<String>,
    /// Version 5: the current SQN array of each AKA context (one per akaParameter PE) that has
    /// moved from zero.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sqn: Vec<SqnFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqnFile {
    /// The index of the akaParameter PE in the package.
    element: usize,
    /// The SEQ array as `sqnInit` holds it: 32 × 6 bytes in hex.
    seq: String,
}

/// Where the state JSON keeps installed packages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Packages<'a> {
    /// In the JSON itself (`package`, hex).
    Inline,
    /// As files of this directory (`package_file`), written by the caller.
    Files(&'a std::path::Path),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    /// The printed digits, or 20 hex digits as stored (for an ICCID that is no digit string).
    iccid: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    fallback: bool,
    /// POL1 in hex.
    pol1: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IsdRFile {
    /// Key diversification data, 10 bytes in hex.
    kdd: String,
    /// The SCP03 "i" parameter in hex.
    scp03_i: String,
    keysets: Vec<KeySetFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cin: Option<String>,
    /// STORE DATA personalization data: DGI (4 hex digits) → value (hex).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    store_data: BTreeMap<String, String>,
    /// Version 4.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scp80: Vec<Scp80File>,
    /// The ISD-R's SCP81 (PSK-TLS) key sets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scp81: Vec<Scp81File>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct KeySetFile {
    kvn: u8,
    enc: String,
    mac: String,
    dek: String,
    sequence_counter: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    kind: String,
    aid: String,
    life_cycle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    privileges: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    associated_sd: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    modules: Vec<String>,
    /// An ISD-P's SGP.02 data (version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    isd_p: Option<IsdPFile>,
}

/// A state read from a file; `migrated` when it was an older version.
pub(super) struct Decoded {
    pub state: CardState,
    pub migrated: bool,
}

fn keyset_files(card: &smsr_proto::scp03::Scp03Card) -> Vec<KeySetFile> {
    card.keysets()
        .iter()
        .map(|set| KeySetFile {
            kvn: set.keys.kvn(),
            enc: hex::encode_upper(set.keys.enc().as_bytes()),
            mac: hex::encode_upper(set.keys.mac().as_bytes()),
            dek: hex::encode_upper(set.keys.dek().as_bytes()),
            sequence_counter: set.sequence_counter,
        })
        .collect()
}

pub(super) fn encode(state: &CardState, packages: Packages) -> Zeroizing<String> {
    let keysets = keyset_files(&state.scp03);
    let notifications = &state.notifications;
    let file = StateFileV3 {
        version: STATE_VERSION,
        eid: eid_to_string(&state.eid),
        ecka_reading: (state.ecka_reading != super::EckaReading::Default)
            .then(|| state.ecka_reading.name().to_owned()),
        atr: state.atr.as_ref().map(hex::encode_upper),
        isd_r: IsdRFile {
            kdd: hex::encode_upper(state.kdd),
            scp03_i: format!("{:02X}", state.scp03.options().to_i()),
            keysets,
            iin: state.iin.as_ref().map(hex::encode_upper),
            cin: state.cin.as_ref().map(hex::encode_upper),
            store_data: state
                .personalization
                .iter()
                .map(|(dgi, value)| (format!("{dgi:04X}"), hex::encode_upper(value)))
                .collect(),
            scp80: state
                .scp80
                .iter()
                .map(|k| Scp80File {
                    kvn: k.kvn,
                    kic: hex::encode_upper(k.kic.as_bytes()),
                    kid: hex::encode_upper(k.kid.as_bytes()),
                    counter: k.counter,
                })
                .collect(),
            scp81: state
                .scp81
                .iter()
                .map(|k| Scp81File {
                    kvn: k.kvn,
                    kid: k.kid,
                    psk: hex::encode_upper(k.psk.as_slice()),
                })
                .collect(),
        },
        ecasd: state.ecasd.as_ref().map(|e| EcasdFile {
            private_key: hex::encode_upper(e.key.to_bytes().as_ref()),
            certificate: hex::encode_upper(e.certificate.to_bytes()),
            ci_public_key: hex::encode_upper(e.ci.to_uncompressed()),
        }),
        isd_p_keys: state
            .isd_p_scp03_all()
            .map(|(aid, card)| IsdPKeysFile {
                aid: hex::encode_upper(aid),
                keysets: keyset_files(card),
            })
            .collect(),
        registry: state
            .registry
            .entries()
            .iter()
            .map(|r| registry_file(r, packages))
            .collect(),
        notifications: Some(NotificationsFile {
            next_sequence: notifications.next_sequence(),
            pending: notifications.pending().map(notification_file).collect(),
        }),
    };
    // Strings, integers, vectors and maps of them always serialize.
    let mut out = Zeroizing::new(serde_json::to_string_pretty(&file).unwrap_or_default());
    out.push('\n');
    out
}

fn registry_file(r: &RegistryRecord, packages: Packages) -> RegistryFile {
    RegistryFile {
        kind: r.kind.name().to_owned(),
        aid: hex::encode_upper(r.aid.as_bytes()),
        life_cycle: format!("{:02X}", r.life_cycle),
        privileges: r.privileges.map(|p| hex::encode_upper(p.to_bytes())),
        associated_sd: r
            .associated_sd
            .as_ref()
            .map(|a| hex::encode_upper(a.as_bytes())),
        modules: r
            .modules
            .iter()
            .map(|m| hex::encode_upper(m.as_bytes()))
            .collect(),
        isd_p: r.isd_p.as_ref().map(|d| isd_p_file(d, packages)),
    }
}

fn isd_p_file(d: &IsdP, packages: Packages) -> IsdPFile {
    let installed = d.installed.as_deref();
    IsdPFile {
        scp03_i: format!("{:02X}", d.scp03_i),
        non_volatile_quota: d.non_volatile_quota,
        volatile_quota: d.volatile_quota,
        pending_reset: d.pending_reset,
        profile: d.profile.as_ref().map(|p| ProfileFile {
            iccid: match iccid_to_string(&p.iccid) {
                digits if parse_iccid(&digits) == Some(p.iccid) => digits,
                _ => hex::encode_upper(p.iccid),
            },
            fallback: p.fallback,
            pol1: format!("{:02X}", p.pol1),
        }),
        package: installed
            .filter(|_| packages == Packages::Inline)
            .map(|p| hex::encode_upper(p.installed_der())),
        package_file: installed
            .filter(|_| packages != Packages::Inline)
            .map(|p| p.package_file_name().to_owned()),
        sqn: installed
            .map(|p| {
                p.sqn_arrays()
                    .into_iter()
                    .map(|(element, seq)| SqnFile {
                        element,
                        seq: hex::encode_upper(seq.concat()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn notification_file(n: &PendingNotification) -> NotificationFile {
    NotificationFile {
        sequence: n.sequence,
        kind: format!("{:02X}", n.kind.to_byte()),
        isd_p: n.isd_p.as_ref().map(|a| hex::encode_upper(a.as_bytes())),
        disabled: n.disabled.as_ref().map(|a| hex::encode_upper(a.as_bytes())),
    }
}

pub(super) fn decode(text: &str, packages: Packages) -> Result<Decoded, StateError> {
    let probe: Probe = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            StateError::Invalid(format!(
                "not a card state object with a \"version\" field: {e}"
            ))
        } else {
            StateError::Syntax(e.to_string())
        }
    })?;
    let version = probe
        .version
        .ok_or(StateError::Invalid("no \"version\" field".into()))?;
    let invalid = |e: serde_json::Error| StateError::Invalid(e.to_string());
    match version.as_u64() {
        Some(1) => {
            let file: StateFileV1 = serde_json::from_str(text).map_err(invalid)?;
            let eid = hex_array::<EID_LEN>(&file.eid, "eid")?;
            let keys =
                random_keyset(DEFAULT_KVN).map_err(|e| StateError::KeyGeneration(e.to_string()))?;
            Ok(Decoded {
                state: CardState::with_keys(Some(eid), keys),
                migrated: true,
            })
        }
        Some(v @ (2..=5)) => {
            let file: StateFileV3 = serde_json::from_str(text).map_err(invalid)?;
            if v < 5
                && (file.ecka_reading.is_some()
                    || file
                        .registry
                        .iter()
                        .filter_map(|r| r.isd_p.as_ref())
                        .any(|d| d.package_file.is_some() || !d.sqn.is_empty()))
            {
                return Err(StateError::Invalid(format!(
                    "a version {v} file has no \"ecka_reading\", \"package_file\" or \"sqn\""
                )));
            }
            if v < 4
                && (file.ecasd.is_some()
                    || !file.isd_p_keys.is_empty()
                    || !file.isd_r.scp80.is_empty())
            {
                return Err(StateError::Invalid(format!(
                    "a version {v} file has no \"ecasd\", \"isd_p_keys\" or \"isd_r.scp80\""
                )));
            }
            Ok(Decoded {
                state: from_v4(&file, v >= 3, packages)?,
                migrated: v != u64::from(STATE_VERSION),
            })
        }
        Some(v) => Err(StateError::UnsupportedVersion(v)),
        None => Err(StateError::Invalid(format!(
            "\"version\" is not a number: {version}"
        ))),
    }
}

fn from_v4(file: &StateFileV3, v3: bool, packages: Packages) -> Result<CardState, StateError> {
    let mut state = from_v3(file, v3, packages)?;
    if let Some(atr) = &file.atr {
        let bytes = hex_bytes(atr, "atr")?;
        state
            .set_atr(Some(bytes))
            .map_err(|e| StateError::Invalid(format!("\"atr\" {atr}: {e}")))?;
    }
    if let Some(name) = &file.ecka_reading {
        state.ecka_reading = super::EckaReading::from_name(name).ok_or_else(|| {
            StateError::Invalid(format!(
                "\"ecka_reading\" {name:?} is none of: {}",
                super::EckaReading::ALL.map(|(_, n)| n).join(", ")
            ))
        })?;
    }
    if let Some(e) = &file.ecasd {
        let raw = hex_key(&e.private_key, "ecasd", "private_key")?;
        let key = PrivateKey::from_bytes(&raw)
            .map_err(|err| StateError::Invalid(format!("ecasd.private_key: {err}")))?;
        let certificate = Certificate::decode(&hex_bytes(&e.certificate, "ecasd.certificate")?)
            .map_err(|err| StateError::Invalid(format!("ecasd.certificate: {err}")))?;
        if *certificate.public_key() != key.public_key() {
            return Err(StateError::Invalid(
                "ecasd.certificate does not hold the public key of ecasd.private_key".into(),
            ));
        }
        let ci = PublicKey::from_uncompressed(&hex_bytes(&e.ci_public_key, "ecasd.ci_public_key")?)
            .map_err(|err| StateError::Invalid(format!("ecasd.ci_public_key: {err}")))?;
        state.ecasd = Some(EcasdKeys {
            key,
            certificate,
            ci,
        });
    }
    for k in &file.isd_r.scp80 {
        let what = format!("SCP80 key set {:02X}", k.kvn);
        if !(0x01..=0x0F).contains(&k.kvn) || state.scp80.iter().any(|s| s.kvn == k.kvn) {
            return Err(StateError::Invalid(format!(
                "{what}: KVN must be 01 to 0F, once each"
            )));
        }
        let kic = hex_key(&k.kic, &what, "kic")?;
        let kid = hex_key(&k.kid, &what, "kid")?;
        if ![16, 24, 32].contains(&kic.len()) || kid.len() != kic.len() {
            return Err(StateError::Invalid(format!(
                "{what}: AES keys of 16, 24 or 32 bytes expected"
            )));
        }
        if k.counter > smsr_proto::ota::scp80::COUNTER_MAX {
            return Err(StateError::Invalid(format!(
                "{what}: counter above 5 bytes"
            )));
        }
        let mut set = Scp80KeySet::aes(k.kvn, &kic, &kid);
        set.counter = k.counter;
        state.scp80.push(set);
    }
    for k in &file.isd_r.scp81 {
        let what = format!("SCP81 key set {:02X}", k.kvn);
        if !(0x40..=0x4F).contains(&k.kvn) || state.scp81.iter().any(|s| s.kvn == k.kvn) {
            return Err(StateError::Invalid(format!(
                "{what}: KVN must be 40 to 4F, once each"
            )));
        }
        let psk = hex_key(&k.psk, &what, "psk")?;
        if !(16..=64).contains(&psk.len()) {
            return Err(StateError::Invalid(format!(
                "{what}: the PSK must be 16 to 64 bytes"
            )));
        }
        state.scp81.push(super::Scp81KeySet {
            kvn: k.kvn,
            kid: k.kid,
            psk,
        });
    }
    for p in &file.isd_p_keys {
        let aid = hex_bytes(&p.aid, "isd_p_keys aid")?;
        let Some((_, data)) = state.registry.isd_p(&aid) else {
            return Err(StateError::Invalid(format!(
                "isd_p_keys: {} is not an ISD-P of the registry",
                p.aid
            )));
        };
        let options = ScpOptions::from_i(data.scp03_i)
            .map_err(|e| StateError::Invalid(format!("isd_p_keys {}: {e}", p.aid)))?;
        let mut card = super::new_scp03_for(&aid, options, state.kdd)
            .map_err(|e| StateError::Invalid(format!("isd_p_keys {}: {e}", p.aid)))?;
        for (keys, counter) in keysets(&p.keysets)? {
            card.add_keyset(keys, counter);
        }
        state.restore_isd_p_scp03(aid, card);
    }
    Ok(state)
}

fn keysets(files: &[KeySetFile]) -> Result<Vec<(StaticKeys, u32)>, StateError> {
    let mut keysets = Vec::with_capacity(files.len());
    for set in files {
        let what = format!("key set {:02X}", set.kvn);
        if !(0x01..=0x7F).contains(&set.kvn) {
            return Err(StateError::Invalid(format!("{what}: KVN must be 01 to 7F")));
        }
        if keysets
            .iter()
            .any(|(k, _): &(StaticKeys, u32)| k.kvn() == set.kvn)
        {
            return Err(StateError::Invalid(format!("{what} appears twice")));
        }
        if set.sequence_counter > SEQUENCE_COUNTER_MAX {
            return Err(StateError::Invalid(format!(
                "{what}: sequence counter above {SEQUENCE_COUNTER_MAX:06X}"
            )));
        }
        let enc = hex_key(&set.enc, &what, "enc")?;
        let mac = hex_key(&set.mac, &what, "mac")?;
        let dek = hex_key(&set.dek, &what, "dek")?;
        let keys = StaticKeys::new(set.kvn, &enc, &mac, &dek)
            .map_err(|e| StateError::Invalid(format!("{what}: {e}")))?;
        keysets.push((keys, set.sequence_counter));
    }
    Ok(keysets)
}

fn from_v3(file: &StateFileV3, v3: bool, packages: Packages) -> Result<CardState, StateError> {
    if !v3 && (file.notifications.is_some() || file.registry.iter().any(|r| r.isd_p.is_some())) {
        return Err(StateError::Invalid(
            "a version 2 file has no \"notifications\" or \"isd_p\"".into(),
        ));
    }
    let eid = hex_array::<EID_LEN>(&file.eid, "eid")?;
    let isd_r = &file.isd_r;
    let kdd = hex_array::<10>(&isd_r.kdd, "isd_r.kdd")?;
    let [i] = hex_array::<1>(&isd_r.scp03_i, "isd_r.scp03_i")?;
    let options = ScpOptions::from_i(i).map_err(|e| StateError::Invalid(e.to_string()))?;
    if isd_r.keysets.is_empty() {
        return Err(StateError::Invalid("\"isd_r.keysets\" is empty".into()));
    }
    let keysets = keysets(&isd_r.keysets)?;
    let mut records = file
        .registry
        .iter()
        .map(|r| registry_record(r, packages))
        .collect::<Result<Vec<_>, _>>()?;
    if !v3 {
        migrate_isd_ps(&mut records);
    }
    let registry =
        Registry::from_entries(records).map_err(|e| StateError::Invalid(e.to_string()))?;
    let mut personalization = BTreeMap::new();
    let mut total = 0;
    for (dgi, value) in &isd_r.store_data {
        let tag = u16::from_be_bytes(hex_array::<2>(dgi, "isd_r.store_data DGI")?);
        let value = hex_bytes(value, "isd_r.store_data value")?;
        total += value.len();
        personalization.insert(tag, value);
    }
    if total > PERSONALIZATION_MAX {
        return Err(StateError::Invalid(format!(
            "\"isd_r.store_data\" holds {total} bytes, more than {PERSONALIZATION_MAX}"
        )));
    }
    let mut state = CardState::assemble(eid, kdd, options, keysets, registry)?;
    state.iin = isd_r
        .iin
        .as_deref()
        .map(|v| hex_bytes(v, "isd_r.iin"))
        .transpose()?;
    state.cin = isd_r
        .cin
        .as_deref()
        .map(|v| hex_bytes(v, "isd_r.cin"))
        .transpose()?;
    state.personalization = personalization;
    state.notifications = match &file.notifications {
        Some(n) => notifications(n)?,
        None if v3 => return Err(StateError::Invalid("no \"notifications\"".into())),
        None => Notifications::declaration(),
    };
    Ok(state)
}

/// Version 2 → 3: SGP.02 data for the ISD-Ps (see the module documentation).
fn migrate_isd_ps(records: &mut [RegistryRecord]) {
    for r in records.iter_mut().filter(|r| r.is_isd_p()) {
        let mut data = IsdP::created(0x70, None, None);
        if matches!(
            r.life_cycle,
            life_cycle::ISD_P_DISABLED | life_cycle::ISD_P_ENABLED
        ) {
            data.profile = Some(Profile {
                iccid: MIGRATED_ICCID,
                fallback: false,
                pol1: 0,
            });
        }
        r.isd_p = Some(data);
    }
}

fn notifications(file: &NotificationsFile) -> Result<Notifications, StateError> {
    let mut queue = Vec::with_capacity(file.pending.len());
    for n in &file.pending {
        let aid = |text: &Option<String>, field: &str| -> Result<Option<Aid>, StateError> {
            text.as_deref()
                .map(|t| {
                    Aid::new(&hex_bytes(t, field)?)
                        .map_err(|e| StateError::Invalid(format!("{field}: {e}")))
                })
                .transpose()
        };
        if queue
            .iter()
            .any(|q: &PendingNotification| q.sequence == n.sequence)
        {
            return Err(StateError::Invalid(format!(
                "notification {:04X} appears twice",
                n.sequence
            )));
        }
        let [kind] = hex_array::<1>(&n.kind, "notifications type")?;
        queue.push(PendingNotification {
            sequence: n.sequence,
            kind: NotificationType::from_byte(kind),
            isd_p: aid(&n.isd_p, "notifications isd_p")?,
            disabled: aid(&n.disabled, "notifications disabled")?,
        });
    }
    Ok(Notifications::from_parts(queue, file.next_sequence))
}

fn isd_p_data(f: &IsdPFile, packages: Packages) -> Result<IsdP, StateError> {
    let [scp03_i] = hex_array::<1>(&f.scp03_i, "registry isd_p scp03_i")?;
    let profile = f
        .profile
        .as_ref()
        .map(|p| -> Result<Profile, StateError> {
            let iccid = match parse_iccid(&p.iccid) {
                Some(iccid) => iccid,
                None => hex_array::<ICCID_LEN>(&p.iccid, "registry isd_p profile iccid")?,
            };
            let [pol1] = hex_array::<1>(&p.pol1, "registry isd_p profile pol1")?;
            Ok(Profile {
                iccid,
                fallback: p.fallback,
                pol1,
            })
        })
        .transpose()?;
    Ok(IsdP {
        scp03_i,
        non_volatile_quota: f.non_volatile_quota,
        volatile_quota: f.volatile_quota,
        profile,
        pending_reset: f.pending_reset,
        installed: installed_profile(f, packages)?,
    })
}

/// The installed profile of an ISD-P entry with its SQN arrays: an inline package is installed
/// again at once (checked); a package file must still have the digest its name says and is
/// built when the profile is first used ([`StoredProfile`]).
fn installed_profile(
    f: &IsdPFile,
    packages: Packages,
) -> Result<Option<Box<StoredProfile>>, StateError> {
    let invalid = |e: String| StateError::Invalid(format!("registry isd_p package: {e}"));
    let mut sqn = Vec::with_capacity(f.sqn.len());
    for s in &f.sqn {
        let bytes = hex_bytes(&s.seq, "registry isd_p sqn seq")?;
        if bytes.len() != 32 * SQN_LEN {
            return Err(invalid(format!(
                "sqn seq: {} bytes, not 32 entries of {SQN_LEN}",
                bytes.len()
            )));
        }
        let arrays: Vec<[u8; SQN_LEN]> = bytes
            .chunks_exact(SQN_LEN)
            .map(|c| {
                let mut a = [0u8; SQN_LEN];
                a.copy_from_slice(c);
                a
            })
            .collect();
        sqn.push((s.element, arrays));
    }
    match (&f.package, &f.package_file, packages) {
        (None, None, _) => {
            if sqn.is_empty() {
                Ok(None)
            } else {
                Err(invalid("\"sqn\" without a package".into()))
            }
        }
        (Some(_), Some(_), _) => Err(invalid(
            "both \"package\" and \"package_file\" are present".into(),
        )),
        (Some(h), None, _) => {
            let der = hex::decode(h).map_err(|e| invalid(e.to_string()))?;
            StoredProfile::built_from_stored(der, sqn)
                .map(|p| Some(Box::new(p)))
                .map_err(invalid)
        }
        (None, Some(name), Packages::Files(dir)) => {
            if name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(invalid(format!("{name:?} is not a package file name")));
            }
            let path = dir.join(name);
            let der = smsr_proto::bounded::read(
                &path,
                smsr_proto::bounded::PACKAGE_MAX,
                "a profile package",
            )
            .map_err(|e| {
                invalid(format!(
                    "{}: {e} (the state file's package directory must stay beside it)",
                    path.display()
                ))
            })?;
            let stored = StoredProfile::from_stored(der, sqn);
            if stored.package_file_name() != name {
                return Err(invalid(format!(
                    "{}: the content is not the package installed (its digest names {})",
                    path.display(),
                    stored.package_file_name()
                )));
            }
            Ok(Some(Box::new(stored)))
        }
        (None, Some(name), Packages::Inline) => Err(invalid(format!(
            "{name} is in a package directory, which JSON text alone does not have"
        ))),
    }
}

fn registry_record(r: &RegistryFile, packages: Packages) -> Result<RegistryRecord, StateError> {
    let aid = |text: &str, field: &str| -> Result<Aid, StateError> {
        Aid::new(&hex_bytes(text, field)?)
            .map_err(|e| StateError::Invalid(format!("registry {field}: {e}")))
    };
    let kind = EntryKind::from_name(&r.kind).ok_or_else(|| {
        StateError::Invalid(format!(
            "registry kind {:?} is not isd, application or load_file",
            r.kind
        ))
    })?;
    let [life_cycle] = hex_array::<1>(&r.life_cycle, "registry life_cycle")?;
    let privileges = r
        .privileges
        .as_deref()
        .map(|p| {
            Privileges::from_bytes(&hex_bytes(p, "registry privileges")?)
                .map_err(|e| StateError::Invalid(format!("registry privileges: {e}")))
        })
        .transpose()?;
    let isd_p = r
        .isd_p
        .as_ref()
        .map(|d| isd_p_data(d, packages))
        .transpose()?;
    Ok(RegistryRecord {
        kind,
        isd_p,
        aid: aid(&r.aid, "aid")?,
        life_cycle,
        privileges,
        associated_sd: r
            .associated_sd
            .as_deref()
            .map(|a| aid(a, "associated_sd"))
            .transpose()?,
        modules: r
            .modules
            .iter()
            .map(|m| aid(m, "modules"))
            .collect::<Result<_, _>>()?,
    })
}

fn hex_bytes(text: &str, field: &str) -> Result<Vec<u8>, StateError> {
    hex::decode(text)
        .map_err(|e| StateError::Invalid(format!("\"{field}\" is not hexadecimal: {e}")))
}

fn hex_key(text: &str, what: &str, field: &str) -> Result<Zeroizing<Vec<u8>>, StateError> {
    hex::decode(text)
        .map(Zeroizing::new)
        .map_err(|e| StateError::Invalid(format!("{what}: \"{field}\" is not hexadecimal: {e}")))
}

fn hex_array<const N: usize>(text: &str, field: &str) -> Result<[u8; N], StateError> {
    let bytes = hex_bytes(text, field)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
        StateError::Invalid(format!(
            "\"{field}\" has {} bytes, expected {N}",
            bytes.len()
        ))
    })
}

/// The v1 file of a state (tests of the migration).
#[cfg(test)]
pub(super) fn encode_v1(eid: &[u8; EID_LEN]) -> String {
    format!(
        "{{\n  \"version\": 1,\n  \"eid\": \"{}\"\n}}\n",
        eid_to_string(eid)
    )
}

#[cfg(test)]
mod tests;
