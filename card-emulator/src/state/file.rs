//! The JSON forms of [`CardState`]: version 2 (written) and version 1 (read and migrated).

use super::{CardState, StateError, PERSONALIZATION_MAX, STATE_VERSION};
use crate::eid::{eid_to_string, EID_LEN};
use crate::keyset::{random_keyset, DEFAULT_KVN};
use crate::registry::{EntryKind, Registry, RegistryRecord};
use serde::{Deserialize, Serialize};
use smsr_proto::gp::{Aid, Privileges};
use smsr_proto::scp03::cryptogram::SEQUENCE_COUNTER_MAX;
use smsr_proto::scp03::{ScpOptions, StaticKeys};
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

/// Version 2.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFileV2 {
    version: u32,
    eid: String,
    isd_r: IsdRFile,
    registry: Vec<RegistryFile>,
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
}

/// A state read from a file; `migrated` when it was an older version.
pub(super) struct Decoded {
    pub state: CardState,
    pub migrated: bool,
}

pub(super) fn encode(state: &CardState) -> Zeroizing<String> {
    let keysets = state
        .scp03
        .keysets()
        .iter()
        .map(|set| KeySetFile {
            kvn: set.keys.kvn(),
            enc: hex::encode_upper(set.keys.enc().as_bytes()),
            mac: hex::encode_upper(set.keys.mac().as_bytes()),
            dek: hex::encode_upper(set.keys.dek().as_bytes()),
            sequence_counter: set.sequence_counter,
        })
        .collect();
    let file = StateFileV2 {
        version: STATE_VERSION,
        eid: eid_to_string(&state.eid),
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
        },
        registry: state.registry.entries().iter().map(registry_file).collect(),
    };
    // Strings, integers, vectors and maps of them always serialize.
    let mut out = Zeroizing::new(serde_json::to_string_pretty(&file).unwrap_or_default());
    out.push('\n');
    out
}

fn registry_file(r: &RegistryRecord) -> RegistryFile {
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
    }
}

pub(super) fn decode(text: &str) -> Result<Decoded, StateError> {
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
        Some(v) if v == u64::from(STATE_VERSION) => {
            let file: StateFileV2 = serde_json::from_str(text).map_err(invalid)?;
            Ok(Decoded {
                state: from_v2(&file)?,
                migrated: false,
            })
        }
        Some(v) => Err(StateError::UnsupportedVersion(v)),
        None => Err(StateError::Invalid(format!(
            "\"version\" is not a number: {version}"
        ))),
    }
}

fn from_v2(file: &StateFileV2) -> Result<CardState, StateError> {
    let eid = hex_array::<EID_LEN>(&file.eid, "eid")?;
    let isd_r = &file.isd_r;
    let kdd = hex_array::<10>(&isd_r.kdd, "isd_r.kdd")?;
    let [i] = hex_array::<1>(&isd_r.scp03_i, "isd_r.scp03_i")?;
    let options = ScpOptions::from_i(i).map_err(|e| StateError::Invalid(e.to_string()))?;
    if isd_r.keysets.is_empty() {
        return Err(StateError::Invalid("\"isd_r.keysets\" is empty".into()));
    }
    let mut keysets = Vec::with_capacity(isd_r.keysets.len());
    for set in &isd_r.keysets {
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
    let registry = Registry::from_entries(
        file.registry
            .iter()
            .map(registry_record)
            .collect::<Result<_, _>>()?,
    )
    .map_err(|e| StateError::Invalid(e.to_string()))?;
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
    Ok(state)
}

fn registry_record(r: &RegistryFile) -> Result<RegistryRecord, StateError> {
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
    Ok(RegistryRecord {
        kind,
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
