//! The card's non-volatile memory: [`CardState`], kept in a versioned JSON file written
//! atomically (temporary file in the same directory, fsync, rename, fsync of the directory), so
//! a crash or a kill at any moment leaves either the old or the new state, never a torn one. The
//! file holds the card's keys: it is created with mode 0600.
//!
//! Volatile state (selections, logical channels, pending response data, secure channels) is not
//! here: it lives in [`crate::card::Card`] and [`crate::adapter::Adapter`] and is lost on reset.
//!
//! File format, version 5: version 4 below, except that each installed profile package is a
//! file of the package directory beside the state file (`card.json.packages/<digest>.der`,
//! named by the ISD-P's `package_file`, written once before the state file that names it and
//! removed after the state file no longer does), and the USIM's SQN arrays are kept apart
//! (`sqn`): a command that moves a counter rewrites a few kilobytes, not every package on the
//! card. [`CardState::to_json`] (no directory) keeps the package inline (`package`, hex, as
//! installed). A version-4 file (package inline, its `sqnInit` holding the SQN) is read and
//! rewritten as version 5.
//!
//! Version 4: version 3 below plus, once an EUM personalized the card, the
//! ECASD's keys (`ecasd`), the ISD-R's SCP80 key sets (`isd_r.scp80`) and the key sets ES8
//! gave ISD-Ps (`isd_p_keys`), laid out in `state/file.rs`. A version-3 file is read and
//! migrated without them (ES8 then answers `6985`).
//!
//! Version 3 (keys and KDD in upper-case hex, `scp03_i` the SCP03 "i" parameter,
//! `sequence_counter` the pseudo-random challenge counter of each key set; `iin`, `cin` and
//! `store_data` appear once STORE DATA has set them; each ISD-P's registry entry has `isd_p`
//! with its SGP.02 data; `notifications` is the queue of unconfirmed notifications):
//! ```json
//! { "version": 5,
//!   "eid": "89001999000011234567890123456789",
//!   "isd_r": {
//!     "kdd": "34567890123456789",
//!     "scp03_i": "70",
//!     "keysets": [ { "kvn": 48, "enc": "…", "mac": "…", "dek": "…", "sequence_counter": 0 } ],
//!     "iin": "…", "cin": "…", "store_data": { "0070": "…" } },
//!   "registry": [
//!     { "kind": "isd", "aid": "A0000005591010FFFFFFFF8900000100", "life_cycle": "0F",
//!       "privileges": "80FE80", "associated_sd": "A0000005591010FFFFFFFF8900000100" }, …
//!     { "kind": "application", "aid": "A0000005591010FFFFFFFF8900001000", "life_cycle": "3F",
//!       "privileges": "80C000", "associated_sd": "A0000005591010FFFFFFFF8900000100",
//!       "isd_p": { "scp03_i": "70", "non_volatile_quota": 65536, "pending_reset": true,
//!                  "profile": { "iccid": "8949449999999990023", "fallback": true, "pol1": "00" } } } ],
//!   "notifications": { "next_sequence": 3, "pending": [
//!     { "sequence": 2, "type": "02", "isd_p": "A0000005591010FFFFFFFF8900001000",
//!       "disabled": "A0000005591010FFFFFFFF8900001100" } ] } }
//! ```
//! Version 2 (no `isd_p`, no `notifications`) is read and migrated with its keys: ISD-Ps get
//! default SGP.02 data (see `state/file.rs`) and the eUICC declaration is queued. Version 1
//! (`{ "version": 1, "eid": "…" }`) is still read: the card gets a fresh random key set and the
//! default registry. [`CardState::load`] rewrites a migrated file as version 3 at once (so the
//! keys it reports stay the keys of the card).
//!
//! The ISD-P and profile rules (CreateISDP, Enable, Disable, SetFallbackAttribute, Delete,
//! notifications, the test installer) are `CardState` methods too, in `state/profiles.rs`.

mod es8;
mod file;
pub mod journal;
pub mod lock;
mod profiles;

pub use es8::EckaReading;
pub use lock::StateLock;
pub use profiles::ProfileError;

use crate::ecasd::EcasdKeys;
use crate::eid::{generate_eid, EID_LEN};
use crate::keyset::{
    random_keyset, test_keyset, KeyGenerationError, DEFAULT_KVN, DEFAULT_SCP_OPTIONS,
};
use crate::notification::Notifications;
use crate::registry::Registry;
use crate::EmulatorError;
use smsr_proto::gp::aid::ISD_R;
use smsr_proto::ota::scp80::KeySet as Scp80KeySet;
use smsr_proto::scp03::{CardKeySet, Scp03Card, ScpOptions, StaticKeys};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The state file format version this emulator writes (it reads 1 to 5).
pub const STATE_VERSION: u32 = 5;

/// The card's non-volatile memory for applications and profiles: 512 KiB, an eUICC's typical
/// free memory for profiles. Personalization data and the ISD-Ps' non-volatile quotas
/// (CreateISDP `EF { C8 }`) are taken from it; `FF21` reports what is left.
pub const NON_VOLATILE_MEMORY: u32 = 512 * 1024;

/// The card's volatile memory for applications: 8 KiB of transient RAM, less the ISD-Ps'
/// volatile quotas (`EF { C7 }`).
pub const VOLATILE_MEMORY: u32 = 8 * 1024;

/// Most bytes of STORE DATA personalization data the card keeps.
pub const PERSONALIZATION_MAX: usize = 16 * 1024;

/// Everything the card keeps across power cycles.
#[derive(Clone, Debug)]
pub struct CardState {
    eid: [u8; EID_LEN],
    /// Key diversification data returned by INITIALIZE UPDATE and GET DATA `CF`: the last 10
    /// bytes of the EID for a new card.
    kdd: [u8; 10],
    /// The ISD-R's SCP03 key sets, counters and options.
    scp03: Scp03Card,
    registry: Registry,
    /// ISD-R Issuer/SD Provider Identification Number set by STORE DATA (`42`).
    iin: Option<Vec<u8>>,
    /// ISD-R Card/SD Image Number set by STORE DATA (`45`).
    cin: Option<Vec<u8>>,
    /// STORE DATA personalization data by DGI.
    personalization: BTreeMap<u16, Vec<u8>>,
    /// Notifications to the SM-SR not yet confirmed.
    notifications: Notifications,
    /// The ECASD's key agreement key pair, CERT.ECASD.ECKA and PK.CI.ECDSA (none on a card
    /// made without a PKI or migrated from version 3).
    ecasd: Option<EcasdKeys>,
    /// The ISD-R's SCP80 key sets (ETSI TS 102 225), each with the counter of the last
    /// accepted command packet.
    scp80: Vec<Scp80KeySet>,
    /// The ISD-R's SCP81 key sets (PSK-TLS, GP Amendment B; SGP.02 KVN `40`–`4F`).
    scp81: Vec<Scp81KeySet>,
    /// The SCP03 key sets ES8 key establishment gave ISD-Ps, by ISD-P AID.
    isd_p_scp03: BTreeMap<Vec<u8>, Scp03Card>,
    /// The reading of the ES8 open points the card follows.
    ecka_reading: EckaReading,
    /// The ATR, when not [`crate::ATR`] (checked by [`crate::atr::parse`]).
    atr: Option<Vec<u8>>,
}

impl CardState {
    /// A new card whose ISD-R key set (KVN `30`) is the GlobalPlatform **test key** `40…4F`
    /// for ENC, MAC and DEK: **for tests and in-memory cards only**. Real cards come from
    /// [`CardState::generate`]. The EID is the given one or a fresh random one (SGP.29 layout
    /// with valid check digits, see [`crate::eid::generate_eid`]).
    pub fn new(eid: Option<[u8; EID_LEN]>) -> Self {
        Self::with_keys(eid, test_keyset(DEFAULT_KVN))
    }

    /// A new card with a random ISD-R key set (KVN `30`, AES-128) from the OS random number
    /// generator; fails if the OS has no randomness to give.
    pub fn generate(eid: Option<[u8; EID_LEN]>) -> Result<Self, KeyGenerationError> {
        Ok(Self::with_keys(eid, random_keyset(DEFAULT_KVN)?))
    }

    /// A new card with the given ISD-R key set, the default SCP03 options ("i" = `70`) and
    /// the default registry.
    pub fn with_keys(eid: Option<[u8; EID_LEN]>, keys: StaticKeys) -> Self {
        let eid = eid.unwrap_or_else(random_eid);
        let mut kdd = [0u8; 10];
        kdd.copy_from_slice(&eid[EID_LEN - 10..]);
        let mut scp03 = new_scp03(DEFAULT_SCP_OPTIONS, kdd);
        scp03.add_keyset(keys, 0);
        Self {
            eid,
            kdd,
            scp03,
            registry: Registry::euicc_default(),
            iin: None,
            cin: None,
            personalization: BTreeMap::new(),
            notifications: Notifications::declaration(),
            ecasd: None,
            scp80: Vec::new(),
            scp81: Vec::new(),
            isd_p_scp03: BTreeMap::new(),
            ecka_reading: EckaReading::Default,
            atr: None,
        }
    }

    /// A state from decoded parts (the file reader).
    fn assemble(
        eid: [u8; EID_LEN],
        kdd: [u8; 10],
        options: ScpOptions,
        keysets: Vec<(StaticKeys, u32)>,
        registry: Registry,
    ) -> Result<Self, StateError> {
        let mut scp03 = new_scp03(options, kdd);
        for (keys, counter) in keysets {
            scp03.add_keyset(keys, counter);
        }
        Ok(Self {
            eid,
            kdd,
            scp03,
            registry,
            iin: None,
            cin: None,
            personalization: BTreeMap::new(),
            notifications: Notifications::default(),
            ecasd: None,
            scp80: Vec::new(),
            scp81: Vec::new(),
            isd_p_scp03: BTreeMap::new(),
            ecka_reading: EckaReading::Default,
            atr: None,
        })
    }

    /// The same card with other key diversification data.
    #[must_use]
    pub fn with_kdd(mut self, kdd: [u8; 10]) -> Self {
        self.kdd = kdd;
        self.rebuild_scp03(self.scp03.options(), self.scp03.keysets().to_vec());
        self
    }

    /// The same card with other SCP03 options (S16 with "i" b1, for instance).
    #[must_use]
    pub fn with_scp_options(mut self, options: ScpOptions) -> Self {
        self.rebuild_scp03(options, self.scp03.keysets().to_vec());
        self
    }

    /// Sets the pseudo-random sequence counter of a key set; whether the key set exists.
    pub fn set_sequence_counter(&mut self, kvn: u8, counter: u32) -> bool {
        let Some(keys) = self.scp03.keyset(kvn).cloned() else {
            return false;
        };
        self.scp03.add_keyset(keys, counter);
        true
    }

    /// The EID (16 bytes, 32 digits).
    pub fn eid(&self) -> [u8; EID_LEN] {
        self.eid
    }

    /// The key diversification data of the ISD-R.
    pub fn kdd(&self) -> [u8; 10] {
        self.kdd
    }

    /// The ISD-R's SCP03 configuration: key sets (the first one answers INITIALIZE UPDATE P1
    /// `00`), sequence counters, options.
    pub fn scp03(&self) -> &Scp03Card {
        &self.scp03
    }

    pub(crate) fn scp03_mut(&mut self) -> &mut Scp03Card {
        &mut self.scp03
    }

    /// The Key Version Numbers of the ISD-R's key sets, in order.
    pub fn kvns(&self) -> Vec<u8> {
        self.scp03.keysets().iter().map(|k| k.keys.kvn()).collect()
    }

    /// Replaces the key set `old_kvn` by `keys` at the same place (its sequence counter
    /// restarts at 0); `false` if there is no such key set.
    pub fn replace_keyset(&mut self, old_kvn: u8, keys: StaticKeys) -> bool {
        if self.scp03.keyset(old_kvn).is_none() {
            return false;
        }
        let sets = self
            .scp03
            .keysets()
            .iter()
            .filter(|s| s.keys.kvn() == old_kvn || s.keys.kvn() != keys.kvn())
            .map(|s| {
                if s.keys.kvn() == old_kvn {
                    CardKeySet {
                        keys: keys.clone(),
                        sequence_counter: 0,
                    }
                } else {
                    s.clone()
                }
            })
            .collect();
        self.rebuild_scp03(self.scp03.options(), sets);
        true
    }

    /// Adds a new key set after the others (counter 0), replacing one with the same KVN.
    pub fn add_keyset(&mut self, keys: StaticKeys) {
        self.scp03.replace_keyset(keys);
    }

    /// Removes a key set; whether it existed.
    pub fn remove_keyset(&mut self, kvn: u8) -> bool {
        self.scp03.remove_keyset(kvn)
    }

    fn rebuild_scp03(&mut self, options: ScpOptions, sets: Vec<CardKeySet>) {
        let mut scp03 = new_scp03(options, self.kdd);
        for set in sets {
            scp03.add_keyset(set.keys, set.sequence_counter);
        }
        self.scp03 = scp03;
    }

    /// The GlobalPlatform Registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Write access to the registry.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The ISD-R's IIN (`42`): set by STORE DATA, else the EUM part of the EID (its first 4
    /// bytes: `89`, country code, issuer identifier).
    pub fn iin(&self) -> Vec<u8> {
        self.iin.clone().unwrap_or_else(|| self.eid[..4].to_vec())
    }

    /// The ISD-R's CIN (`45`): set by STORE DATA, else the EID.
    pub fn cin(&self) -> Vec<u8> {
        self.cin.clone().unwrap_or_else(|| self.eid.to_vec())
    }

    pub(crate) fn set_iin(&mut self, iin: Vec<u8>) {
        self.iin = Some(iin);
    }

    pub(crate) fn set_cin(&mut self, cin: Vec<u8>) {
        self.cin = Some(cin);
    }

    /// STORE DATA personalization data by DGI.
    pub fn personalization(&self) -> &BTreeMap<u16, Vec<u8>> {
        &self.personalization
    }

    /// Bytes of personalization data held.
    pub fn personalization_len(&self) -> usize {
        self.personalization.values().map(Vec::len).sum()
    }

    /// Stores DGIs (each replacing an earlier value); `false`, storing nothing, if the total
    /// would exceed [`PERSONALIZATION_MAX`].
    pub(crate) fn store_dgis(&mut self, dgis: Vec<(u16, Vec<u8>)>) -> bool {
        let mut next = self.personalization.clone();
        for (tag, value) in dgis {
            next.insert(tag, value);
        }
        if next.values().map(Vec::len).sum::<usize>() > PERSONALIZATION_MAX {
            return false;
        }
        self.personalization = next;
        true
    }

    /// The ATR the card answers a reset with.
    pub fn atr(&self) -> Vec<u8> {
        self.atr.clone().unwrap_or_else(|| crate::ATR.to_vec())
    }

    /// Sets the ATR (`None`: [`crate::ATR`]); one that is not well formed is refused with the
    /// fault ([`crate::atr::parse`]).
    pub fn set_atr(&mut self, atr: Option<Vec<u8>>) -> Result<(), String> {
        if let Some(a) = &atr {
            crate::atr::parse(a)?;
        }
        self.atr = atr.filter(|a| a[..] != crate::ATR[..]);
        Ok(())
    }

    /// The state as its JSON file content (it holds the keys: handle with care).
    pub fn to_json(&self) -> Zeroizing<String> {
        file::encode(self, file::Packages::Inline)
    }

    /// Reads a state from its JSON file content (versions 1 and 2 are migrated; version 1 gets
    /// fresh keys).
    pub fn from_json(text: &str) -> Result<Self, StateError> {
        file::decode(text, file::Packages::Inline).map(|d| d.state)
    }

    /// Loads a state file. A version-1 or version-2 file is migrated and written back as
    /// version 3.
    pub fn load(path: &Path) -> Result<Self, EmulatorError> {
        let text = smsr_proto::bounded::read_to_string(
            path,
            smsr_proto::bounded::STATE_MAX,
            "a card state",
        )
        .map(Zeroizing::new)
        .map_err(|source| EmulatorError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // A card closed without folding its journal in: the journal's last state is the card's.
        let journaled = journal::last_state(path).map_err(|source| EmulatorError::Io {
            path: journal::journal_path(path),
            source,
        })?;
        let text = match journaled {
            Some(bytes) => {
                Zeroizing::new(String::from_utf8(bytes).map_err(|_| EmulatorError::Io {
                    path: journal::journal_path(path),
                    source: io::Error::new(io::ErrorKind::InvalidData, "a record is not UTF-8"),
                })?)
            }
            None => text,
        };
        let packages = packages_dir(path);
        let decoded = file::decode(&text, file::Packages::Files(&packages)).map_err(|source| {
            EmulatorError::State {
                path: path.to_path_buf(),
                source,
            }
        })?;
        if decoded.migrated {
            decoded.state.save(path)?;
            tracing::info!(
                "{}: migrated to state file version {STATE_VERSION}",
                path.display()
            );
        }
        Ok(decoded.state)
    }

    /// Writes the state file atomically (replacing any previous one). Installed packages are
    /// files of the package directory beside it ([`packages_dir`]), written once (their names
    /// are their digests) and before the state file that names them; files no longer named
    /// are removed after it.
    pub fn save(&self, path: &Path) -> Result<(), EmulatorError> {
        self.save_with(path, Durability::Synced)
    }

    /// [`CardState::save`] with the given durability (the emulator saves after every command
    /// with its own, [`Durability::Atomic`] unless asked for more).
    pub fn save_with(&self, path: &Path, durability: Durability) -> Result<(), EmulatorError> {
        let (dir, named) = self.write_packages(path, durability)?;
        let json = file::encode(self, file::Packages::Files(&dir));
        replace_file(path, json.as_bytes(), durability).map_err(|source| EmulatorError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        remove_unnamed_packages(&dir, &named);
        Ok(())
    }

    /// [`CardState::save_with`] into the state file's journal: the packages written as there,
    /// the state appended to `journal` ([`journal`]).
    pub fn append_to(
        &self,
        path: &Path,
        journal: &mut journal::Journal,
        durability: Durability,
    ) -> Result<(), EmulatorError> {
        let (dir, named) = self.write_packages(path, durability)?;
        let json = file::encode(self, file::Packages::Files(&dir));
        journal
            .append(json.as_bytes(), durability == Durability::Synced)
            .map_err(|source| EmulatorError::Io {
                path: journal::journal_path(path),
                source,
            })?;
        remove_unnamed_packages(&dir, &named);
        Ok(())
    }

    /// Writes the installed packages the package directory lacks; returns the directory and
    /// the files the state names.
    fn write_packages(
        &self,
        path: &Path,
        durability: Durability,
    ) -> Result<(PathBuf, Vec<PathBuf>), EmulatorError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| EmulatorError::Io { path, source }
        };
        let dir = packages_dir(path);
        let mut named = Vec::new();
        for record in self.registry.entries() {
            let Some(p) = record.isd_p.as_ref().and_then(|d| d.installed.as_deref()) else {
                continue;
            };
            let file = dir.join(p.package_file_name());
            if file.symlink_metadata().is_err() {
                fs::create_dir_all(&dir).map_err(io(&dir))?;
                replace_file(&file, p.installed_der(), durability).map_err(io(&file))?;
            }
            named.push(file);
        }
        Ok((dir, named))
    }
}

/// The package directory of a state file: `<state file>.packages` beside it.
pub fn packages_dir(state_path: &Path) -> PathBuf {
    beside(state_path, ".packages")
}

/// `<state file><suffix>`, beside the state file (its packages, lock and journal).
pub(crate) fn beside(state_path: &Path, suffix: &str) -> PathBuf {
    let mut name = state_path
        .file_name()
        .map(std::ffi::OsString::from)
        .unwrap_or_default();
    name.push(suffix);
    state_path.with_file_name(name)
}

/// Removes the `.der` files of `dir` that the state no longer names (best effort: a file left
/// behind is only unused).
fn remove_unnamed_packages(dir: &Path, named: &[PathBuf]) {
    if named.is_empty() && dir.symlink_metadata().is_err() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "der") && !named.contains(&path) {
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!("{}: cannot remove an unused package: {e}", path.display());
            }
        }
    }
}

impl PartialEq for CardState {
    /// Equal cards: same EID, KDD, options, registry, data, and key sets with the same keys
    /// (compared in constant time) and counters.
    fn eq(&self, other: &Self) -> bool {
        scp03_equal(&self.scp03, &other.scp03)
            && self.eid == other.eid
            && self.kdd == other.kdd
            && self.scp03.options() == other.scp03.options()
            && self.registry == other.registry
            && self.iin == other.iin
            && self.cin == other.cin
            && self.personalization == other.personalization
            && self.notifications == other.notifications
            && self.ecasd == other.ecasd
            && self.ecka_reading == other.ecka_reading
            && scp80_equal(&self.scp80, &other.scp80)
            && self.scp81 == other.scp81
            && self.isd_p_scp03.len() == other.isd_p_scp03.len()
            && self
                .isd_p_scp03
                .iter()
                .zip(&other.isd_p_scp03)
                .all(|((a, x), (b, y))| a == b && scp03_equal(x, y))
    }
}

impl Eq for CardState {}

/// Same options, key sets (keys compared in constant time) and counters.
fn scp03_equal(x: &Scp03Card, y: &Scp03Card) -> bool {
    let (a, b) = (x.keysets(), y.keysets());
    x.options() == y.options()
        && a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.keys.kvn() == y.keys.kvn()
                && x.sequence_counter == y.sequence_counter
                && bool::from(
                    x.keys.enc().as_bytes().ct_eq(y.keys.enc().as_bytes())
                        & x.keys.mac().as_bytes().ct_eq(y.keys.mac().as_bytes())
                        & x.keys.dek().as_bytes().ct_eq(y.keys.dek().as_bytes()),
                )
        })
}

/// An SCP81 key set of the ISD-R: the pre-shared key of the card's PSK-TLS client (GP Card
/// Specification Amendment B; SGP.02 §2.4.3, key type `85`), with its version and identifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Scp81KeySet {
    /// Key version number, `40` to `4F` (SGP.02).
    pub kvn: u8,
    /// Key identifier within the version (`01`).
    pub kid: u8,
    /// The pre-shared key (16 bytes: AES-128 suites).
    pub psk: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Scp81KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scp81KeySet")
            .field("kvn", &self.kvn)
            .field("kid", &self.kid)
            .field("psk", &"REDACTED")
            .finish()
    }
}

fn scp80_equal(a: &[Scp80KeySet], b: &[Scp80KeySet]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.kvn == y.kvn
                && x.counter == y.counter
                && x.cipher == y.cipher
                && x.checksum == y.checksum
                && bool::from(
                    x.kic.as_bytes().ct_eq(y.kic.as_bytes())
                        & x.kid.as_bytes().ct_eq(y.kid.as_bytes()),
                )
        })
}

#[allow(clippy::expect_used)]
fn new_scp03(options: ScpOptions, kdd: [u8; 10]) -> Scp03Card {
    // The ISD-R AID has 16 bytes, a valid Security Domain AID length: this cannot fail.
    Scp03Card::new(&ISD_R, options, kdd).expect("a 16-byte AID is valid")
}

/// The SCP03 configuration of another Security Domain (an ISD-P) of this card.
fn new_scp03_for(
    aid: &[u8],
    options: ScpOptions,
    kdd: [u8; 10],
) -> Result<Scp03Card, smsr_proto::scp03::ScpError> {
    Scp03Card::new(aid, options, kdd)
}

/// A random EID. Randomness comes from the OS; should the OS refuse it, the clock and the
/// process id are mixed instead (the EID needs to be unique, not secret).
fn random_eid() -> [u8; EID_LEN] {
    let mut pool = [0u8; 64];
    if getrandom::getrandom(&mut pool).is_err() {
        fallback_entropy(&mut pool);
    }
    let mut next = pool.into_iter().cycle();
    generate_eid(|| next.next().unwrap_or_default())
}

/// Why the content of a state file is not a card state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("not JSON: {0}")]
    Syntax(String),
    #[error(
        "state file version {0} is not supported (this emulator reads versions 1 and {STATE_VERSION})"
    )]
    UnsupportedVersion(u64),
    #[error("not a valid card state: {0}")]
    Invalid(String),
    #[error("cannot migrate the state file: {0}")]
    KeyGeneration(String),
}

/// How far a write of the state file survives.
///
/// The card's power is the emulator's process: a card pulled mid-command is the emulator
/// killed, and [`Durability::Atomic`] already leaves the state file whole then (the old or the
/// new state, as a card's NVM transaction does). [`Durability::Synced`] adds fsyncs so that a
/// crash of the whole machine does not lose the last writes either; it costs two fsyncs per
/// command that changes the state, which on a busy disk is most of a provisioning's time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Written to a temporary file and renamed over the state file: whole after a kill of the
    /// process at any moment; the operating system writes it to disk in its own time.
    #[default]
    Atomic,
    /// [`Durability::Atomic`], with the file and the rename synced to disk before the card
    /// answers.
    Synced,
}

/// Replaces `path` with `bytes` so that readers see either the old or the new content: a
/// temporary file next to it is written and synced, renamed over `path`, and the directory is
/// synced. The file is readable by its owner only (it will hold card keys).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_file(path, bytes, Durability::Synced)
}

/// [`write_atomic`] with the syncs only if `durability` asks for them.
pub fn replace_file(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    let synced = durability == Durability::Synced;
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the state path names no file")
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = write_new(&tmp, bytes, synced).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: the temporary file is garbage either way.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    if !synced {
        return Ok(());
    }
    // Make the rename itself durable.
    File::open(&dir)?.sync_all()
}

fn write_new(path: &Path, bytes: &[u8], synced: bool) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    if synced {
        file.sync_all()?;
    }
    Ok(())
}

/// Fills `pool` from the clock, the process id and stack addresses (only when the OS RNG fails).
fn fallback_entropy(pool: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for (i, chunk) in pool.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_usize(i);
        for (b, v) in chunk.iter_mut().zip(h.finish().to_be_bytes()) {
            *b = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eid::{is_valid_eid, parse_eid};

    #[test]
    fn new_state_has_a_valid_random_eid() {
        let a = CardState::new(None);
        let b = CardState::new(None);
        assert!(is_valid_eid(&a.eid()));
        assert!(is_valid_eid(&b.eid()));
        // 17 random digits: two equal draws mean the randomness is broken.
        assert_ne!(a.eid(), b.eid());
    }

    #[test]
    fn json_round_trip() {
        let eid = parse_eid("89044011112233441122334411223321").unwrap();
        let mut state = CardState::generate(Some(eid)).unwrap();
        state.add_keyset(StaticKeys::new(0x31, &[1; 32], &[2; 32], &[3; 32]).unwrap());
        state.set_sequence_counter(0x31, 0x1234);
        state.set_iin(vec![1, 2, 3]);
        assert!(state.store_dgis(vec![(0x0070, vec![0xAA; 3]), (0x3A03, vec![])]));
        let json = state.to_json();
        assert!(json.contains("\"version\": 5"));
        assert!(json.contains("\"eid\": \"89044011112233441122334411223321\""));
        assert!(json.contains("\"kdd\": \"33441122334411223321\""));
        assert!(json.contains("\"scp03_i\": \"70\""));
        assert!(json.contains("\"sequence_counter\": 4660"));
        assert!(json.contains("\"0070\": \"AAAAAA\""));
        assert!(json.contains("\"privileges\": \"80FE80\""));
        let enc = hex::encode_upper(state.scp03().keysets()[0].keys.enc().as_bytes());
        assert!(json.contains(&enc));
        let back = CardState::from_json(&json).unwrap();
        assert_eq!(back, state);
        assert_eq!(back.kvns(), vec![0x30, 0x31]);
        assert_eq!(back.scp03().sequence_counter(0x31), Some(0x1234));
        assert_eq!(back.iin(), vec![1, 2, 3]);
        assert_eq!(back.cin(), eid.to_vec());
        // Another key makes another card.
        let other = CardState::generate(Some(eid)).unwrap();
        assert_ne!(other, state);
    }

    #[test]
    fn version_1_is_migrated_with_fresh_keys() {
        let eid = parse_eid("89044011112233441122334411223321").unwrap();
        let v1 = file::encode_v1(&eid);
        let a = CardState::from_json(&v1).unwrap();
        let b = CardState::from_json(&v1).unwrap();
        assert_eq!(a.eid(), eid);
        assert_eq!(a.kvns(), vec![DEFAULT_KVN]);
        assert_eq!(a.scp03().options(), DEFAULT_SCP_OPTIONS);
        assert_eq!(a.registry(), &Registry::euicc_default());
        assert_ne!(a, b, "fresh random keys each time");
        assert_ne!(
            a.scp03().keysets()[0].keys.enc().as_bytes(),
            test_keyset(DEFAULT_KVN).enc().as_bytes()
        );
        // Loading a v1 file rewrites it as v2, so the keys stay.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        fs::write(&path, &v1).unwrap();
        let loaded = CardState::load(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"version\": 5"));
        assert_eq!(CardState::load(&path).unwrap(), loaded);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn test_keys_are_the_gp_test_keys_and_debug_is_redacted() {
        let state = CardState::new(None);
        let set = &state.scp03().keysets()[0];
        assert_eq!(set.keys.kvn(), 0x30);
        assert_eq!(set.keys.enc().as_bytes(), crate::keyset::GP_TEST_KEY);
        let debug = format!("{state:?}");
        assert!(debug.contains("REDACTED"));
        assert!(!debug.contains("64, 65, 66"), "{debug}");
    }

    #[test]
    fn keyset_replacement_keeps_the_position() {
        let mut state = CardState::new(None);
        state.add_keyset(test_keyset(0x31));
        state.set_sequence_counter(0x30, 7);
        let new = StaticKeys::new(0x32, &[9; 16], &[8; 16], &[7; 16]).unwrap();
        assert!(state.replace_keyset(0x30, new));
        assert_eq!(state.kvns(), vec![0x32, 0x31]);
        assert_eq!(state.scp03().sequence_counter(0x32), Some(0));
        assert!(!state.replace_keyset(0x30, test_keyset(0x33)));
        // Renumbering onto an existing KVN replaces that one too.
        assert!(state.replace_keyset(0x32, test_keyset(0x31)));
        assert_eq!(state.kvns(), vec![0x31]);
        assert!(state.remove_keyset(0x31));
        assert!(state.kvns().is_empty());
    }

    #[test]
    fn bad_content_is_an_error() {
        let good = CardState::new(Some(parse_eid("89044011112233441122334411223321").unwrap()))
            .to_json()
            .to_string();
        let v2 = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            good.replacen(from, to, 1)
        };
        let cases = [
            ("".to_owned(), "not JSON"),
            ("{".to_owned(), "not JSON"),
            ("[]".to_owned(), "\"version\""),
            ("{\"eid\":\"00\"}".to_owned(), "no \"version\""),
            (
                "{\"version\":\"1\",\"eid\":\"00\"}".to_owned(),
                "not a number",
            ),
            (
                "{\"version\":6,\"eid\":\"00\"}".to_owned(),
                "version 6 is not supported",
            ),
            ("{\"version\":1}".to_owned(), "missing field `eid`"),
            (
                "{\"version\":1,\"eid\":\"zz\"}".to_owned(),
                "not hexadecimal",
            ),
            ("{\"version\":1,\"eid\":\"0011\"}".to_owned(), "has 2 bytes"),
            (
                "{\"version\":1,\"eid\":\"89044011112233441122334411223321\",\"x\":0}".to_owned(),
                "unknown field",
            ),
            ("{\"version\":2,\"eid\":\"00\"}".to_owned(), "missing field"),
            (
                v2("\"scp03_i\": \"70\"", "\"scp03_i\": \"72\""),
                "reserved bits",
            ),
            (v2("\"kvn\": 48", "\"kvn\": 128"), "KVN must be 01 to 7F"),
            (
                v2("\"sequence_counter\": 0", "\"sequence_counter\": 16777216"),
                "sequence counter",
            ),
            (
                v2("\"enc\": \"4041", "\"enc\": \"41"),
                "AES key of 15 bytes",
            ),
            (
                v2("\"mac\": \"4041", "\"mac\": \"zz41"),
                "\"mac\" is not hexadecimal",
            ),
            (
                v2("\"kind\": \"isd\"", "\"kind\": \"application\""),
                "no Issuer Security Domain",
            ),
            (
                v2("\"kind\": \"isd\"", "\"kind\": \"isp\""),
                "registry kind",
            ),
            (
                v2("\"life_cycle\": \"0F\"", "\"life_cycle\": \"0F0F\""),
                "has 2 bytes",
            ),
            (
                v2("\"privileges\": \"80FE80\"", "\"privileges\": \"80FE\""),
                "privileges",
            ),
            (
                v2(
                    "\"aid\": \"A0000005591010FFFFFFFF8900000100",
                    "\"aid\": \"A000",
                ),
                "AID",
            ),
            (
                v2("\"keysets\": [", "\"keysets\": [], \"x\": ["),
                "unknown field",
            ),
            (
                v2("\"kdd\": \"", "\"kdd\": \"00"),
                "\"isd_r.kdd\" has 11 bytes",
            ),
        ];
        for (text, expected) in cases {
            let err = CardState::from_json(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        let empty = good.replace(
            &good[good.find("\"keysets\": [").unwrap()..good.find("\"registry\"").unwrap()],
            "\"keysets\": [] },\n  ",
        );
        let err = CardState::from_json(&empty).unwrap_err().to_string();
        assert!(err.contains("\"isd_r.keysets\" is empty"), "{empty}: {err}");
    }

    #[test]
    fn save_and_load_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let state = CardState::new(None);
        state.save(&path).unwrap();
        assert_eq!(CardState::load(&path).unwrap(), state);
        // Replacing leaves exactly the state file, no temporary file.
        let other = CardState::new(None);
        other.save(&path).unwrap();
        assert_eq!(CardState::load(&path).unwrap(), other);
        // Without the syncs, the same replacement.
        let third = CardState::new(None);
        third.save_with(&path, Durability::Atomic).unwrap();
        assert_eq!(CardState::load(&path).unwrap(), third);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("card.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let state = CardState::new(None);
        state.save(&path).unwrap();
        // Renaming a file over a directory fails: the old content must survive untouched.
        let blocked = dir.path().join("dir");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), b"x").unwrap();
        assert!(CardState::new(None).save(&blocked).is_err());
        assert_eq!(CardState::load(&path).unwrap(), state);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = CardState::load(&missing).unwrap_err();
        assert!(matches!(err, EmulatorError::Io { .. }));
        assert!(err.to_string().contains("missing.json"));
        let corrupt = dir.path().join("corrupt.json");
        fs::write(&corrupt, b"{\"version\":1,\"eid\":").unwrap();
        let err = CardState::load(&corrupt).unwrap_err();
        assert!(matches!(err, EmulatorError::State { .. }));
        assert!(err.to_string().contains("corrupt.json"));
    }
}
