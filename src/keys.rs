//! SCP03 keys for the host: the command-line key options ([`KeyArgs`]), the JSON keystore
//! ([`Keystore`]) and their resolution into [`ResolvedKeys`].
//!
//! Keystore document (`--keystore FILE`, env `SMSR_KEYSTORE`; default
//! `$XDG_CONFIG_HOME/smsr/keys.json`, else `~/.config/smsr/keys.json`, used when it exists),
//! as `euicc-emulator keys --state F --json` writes it:
//!
//! ```json
//! {"version":1,"keysets":[
//!   {"name":"emulator","eid":"89044011112233441122334411223321","kvn":48,
//!    "enc":"<hex>","mac":"<hex>","dek":"<hex>"},
//!   {"name":"gp-test","kvn":1,"master":"404142434445464748494A4B4C4D4E4F","kdf":"emv"}]}
//! ```
//!
//! - `name`: unique, not empty. `eid`: optional, the card's EID as 32 decimal digits.
//!   `kvn`: the Key Version Number as a JSON number (48 = '30'; 0 = the card's first key set).
//! - Either `enc` + `mac` (+ `dek`, needed only to load keys with PUT KEY), all of one AES
//!   length (16, 24 or 32 bytes), or `master` + `kdf` (`none`, `emv`, `visa2`, `kdf3`: see
//!   [`smsr_proto::scp03::diversify`]). Unknown fields are errors.
//! - A file readable by group or others gets a [`Warning`] (it holds card keys).
//!
//! Precedence in [`KeyArgs::resolve`]: keys on the command line (or in `SMSR_KEY*`), then
//! `--keyset NAME`, then the keystore entry with the card's EID. Key bytes never appear in
//! messages or `Debug` output, and are zeroized when dropped.

mod args;
mod store;

pub use args::{parse_kvn, parse_level, KeyArgs, LevelChoice, SecretHex};
pub use store::{Keyset, Keystore};

use serde::Serialize;
use smsr_proto::scp03::{AesKey, Diversification, KeyLength, StaticKeys};
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// The environment variable naming the keystore.
pub const KEYSTORE_ENV: &str = "SMSR_KEYSTORE";

/// Something the user should know that does not stop the command (printed on stderr).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// The keystore can be read by other users.
    KeystoreReadableByOthers { path: PathBuf, mode: u32 },
    /// Several keysets carry the card's EID; the first was taken.
    SeveralKeysetsForEid {
        path: PathBuf,
        eid: String,
        chosen: String,
        others: Vec<String>,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeystoreReadableByOthers { path, mode } => write!(
                f,
                "keystore {} holds card keys but has mode {:04o} (readable by group or others): \
                 run `chmod 600 {}`",
                path.display(),
                mode & 0o7777,
                path.display()
            ),
            Self::SeveralKeysetsForEid {
                path,
                eid,
                chosen,
                others,
            } => write!(
                f,
                "keystore {} has several keysets for EID {eid}: using {chosen:?} (the first); \
                 others: {}; pick one with --keyset NAME or --kvn",
                path.display(),
                others
                    .iter()
                    .map(|o| format!("{o:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Why no usable keys were found. Each message names the file or option, and the fix.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The keystore cannot be read.
    #[error(
        "cannot read keystore {}: {source}; check the path given with --keystore (or {KEYSTORE_ENV})",
        path.display()
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The keystore is not a keystore document.
    #[error(
        "keystore {} is not a valid keystore document: {detail}; expected \
         {{\"version\":1,\"keysets\":[{{\"name\":…,\"kvn\":48,\"enc\":…,\"mac\":…,\"dek\":…}}]}} \
         (see `euicc-emulator keys --state F --json`)",
        path.display()
    )]
    Format { path: PathBuf, detail: String },
    /// One keyset is invalid.
    #[error("keystore {}, keyset {keyset}: {problem}", path.display())]
    InvalidKeyset {
        path: PathBuf,
        keyset: String,
        problem: String,
    },
    /// `--keyset NAME` names no keyset.
    #[error(
        "keystore {} has no keyset named {name:?} (it has: {}); check --keyset, or add the keyset to the file",
        path.display(),
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )]
    KeysetNotFound {
        path: PathBuf,
        name: String,
        available: Vec<String>,
    },
    /// `--keyset` without a keystore file.
    #[error(
        "--keyset {name:?} needs a keystore, but {}; give --keystore FILE (or {KEYSTORE_ENV})",
        match path { Some(p) => format!("{} does not exist", p.display()), None => "no default location is known (neither XDG_CONFIG_HOME nor HOME is set)".to_owned() }
    )]
    NoKeystore { name: String, path: Option<PathBuf> },
    /// A key option on the command line is wrong.
    #[error("{option}: {problem}")]
    BadOption {
        option: &'static str,
        problem: String,
    },
    /// Nothing says which keys to use.
    #[error("{}", no_keys_message(eid.as_deref(), searched.as_deref()))]
    NoKeys {
        eid: Option<String>,
        searched: Option<PathBuf>,
    },
}

fn no_keys_message(eid: Option<&str>, searched: Option<&std::path::Path>) -> String {
    let keystore = match (eid, searched) {
        (Some(_), Some(p)) => format!("{} has no keyset with this EID", p.display()),
        (Some(_), None) => "no keystore file was found".to_owned(),
        (None, _) => "the card's EID is unknown, so no keystore entry can be matched".to_owned(),
    };
    format!(
        "no SCP03 keys for this card{}: give --key-enc/--key-mac/--key-dek (env SMSR_KEY_ENC, \
         SMSR_KEY_MAC, SMSR_KEY_DEK), or a master key with --key and --kdf (env SMSR_KEY, \
         SMSR_KDF), or --keyset NAME from a keystore (--keystore FILE or {KEYSTORE_ENV}; \
         {keystore}); for the bundled emulator, `euicc-emulator keys --state F --json > keys.json` \
         exports its keys",
        eid.map(|e| format!(" (EID {e})")).unwrap_or_default(),
    )
}

/// Where resolved keys came from (for messages and `--json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum KeySource {
    /// `--key-*` options or `SMSR_KEY*` variables.
    CommandLine,
    /// `--keyset NAME`.
    Keyset { file: PathBuf, name: String },
    /// The keystore entry carrying the card's EID.
    Eid { file: PathBuf, name: String },
    /// Built by a program (tests, library use).
    Given,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CommandLine => f.write_str("keys from the command line"),
            Self::Keyset { file, name } => {
                write!(f, "keyset {name:?} of {}", file.display())
            }
            Self::Eid { file, name } => {
                write!(f, "keyset {name:?} of {} (matched by EID)", file.display())
            }
            Self::Given => f.write_str("given keys"),
        }
    }
}

/// The key material of a keyset.
#[derive(Clone, Debug)]
pub enum KeyMaterial {
    /// The card's own static keys. Key-DEK may be unknown (then no PUT KEY).
    Static {
        enc: AesKey,
        mac: AesKey,
        dek: Option<AesKey>,
    },
    /// A master key to diversify with the card's KDD after INITIALIZE UPDATE.
    Master {
        master: AesKey,
        kdf: Diversification,
    },
}

impl KeyMaterial {
    /// Checks lengths: static keys of one length, a master key the template takes.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::Static { enc, mac, dek } => {
                let dek_len = dek.as_ref().map_or(enc.length(), AesKey::length);
                if enc.length() != mac.length() || enc.length() != dek_len {
                    return Err(format!(
                        "Key-ENC, Key-MAC and Key-DEK must have the same length (got {}, {} and {} bytes): \
                         give the three keys of one key set",
                        enc.length().bytes(),
                        mac.length().bytes(),
                        dek_len.bytes()
                    ));
                }
                Ok(())
            }
            Self::Master { master, kdf } => {
                kdf.check_master(master.length()).map_err(|e| e.to_string())
            }
        }
    }
}

/// Keys ready for a secure channel: static card keys, or a master key and the template that
/// turns it into card keys once INITIALIZE UPDATE has given the KDD.
#[derive(Clone, Debug)]
pub struct ResolvedKeys {
    kvn: u8,
    material: KeyMaterial,
    source: KeySource,
}

impl ResolvedKeys {
    /// Keys from material already checked with [`KeyMaterial::check`].
    pub fn new(kvn: u8, material: KeyMaterial, source: KeySource) -> Result<Self, String> {
        material.check()?;
        Ok(Self {
            kvn,
            material,
            source,
        })
    }

    /// A complete static key set (its KVN is used for INITIALIZE UPDATE).
    pub fn from_static(keys: &StaticKeys) -> Self {
        Self {
            kvn: keys.kvn(),
            material: KeyMaterial::Static {
                enc: keys.enc().clone(),
                mac: keys.mac().clone(),
                dek: Some(keys.dek().clone()),
            },
            source: KeySource::Given,
        }
    }

    /// A master key and its diversification template.
    pub fn from_master(kvn: u8, master: AesKey, kdf: Diversification) -> Result<Self, String> {
        Self::new(kvn, KeyMaterial::Master { master, kdf }, KeySource::Given)
    }

    /// The KVN for INITIALIZE UPDATE P1 ('00' = the card's first key set).
    pub fn kvn(&self) -> u8 {
        self.kvn
    }

    /// The same keys under another KVN.
    #[must_use]
    pub fn with_kvn(mut self, kvn: u8) -> Self {
        self.kvn = kvn;
        self
    }

    /// The key material.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// Where the keys came from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The diversification applied after INITIALIZE UPDATE.
    pub fn diversification(&self) -> Diversification {
        match &self.material {
            KeyMaterial::Static { .. } => Diversification::None,
            KeyMaterial::Master { kdf, .. } => *kdf,
        }
    }

    /// Whether Key-DEK is known (PUT KEY needs it).
    pub fn has_dek(&self) -> bool {
        match &self.material {
            KeyMaterial::Static { dek, .. } => dek.is_some(),
            KeyMaterial::Master { .. } => true,
        }
    }

    /// The length of the card's keys.
    pub fn card_key_length(&self) -> KeyLength {
        match &self.material {
            KeyMaterial::Static { enc, .. } => enc.length(),
            KeyMaterial::Master { master, kdf } => kdf.card_key_length(master.length()),
        }
    }

    /// The keys and template for the SCP03 host handshake
    /// ([`smsr_proto::scp03::Scp03Host`] diversifies with the KDD itself). An unknown Key-DEK
    /// is stood in for by Key-MAC: check [`ResolvedKeys::has_dek`] before any use of Key-DEK.
    pub fn host_keys(&self) -> Result<(StaticKeys, Diversification), String> {
        let keys = match &self.material {
            KeyMaterial::Static { enc, mac, dek } => StaticKeys::from_keys(
                self.kvn,
                enc.clone(),
                mac.clone(),
                dek.clone().unwrap_or_else(|| mac.clone()),
            ),
            KeyMaterial::Master { master, .. } => {
                StaticKeys::from_keys(self.kvn, master.clone(), master.clone(), master.clone())
            }
        };
        Ok((keys.map_err(|e| e.to_string())?, self.diversification()))
    }

    /// The card's static keys for the KDD from INITIALIZE UPDATE.
    pub fn card_keys(&self, kdd: &[u8; 10]) -> Result<StaticKeys, String> {
        let (keys, kdf) = self.host_keys()?;
        kdf.try_apply(&keys, kdd).map_err(|e| e.to_string())
    }
}

/// The default keystore path (`$XDG_CONFIG_HOME/smsr/keys.json`, else
/// `$HOME/.config/smsr/keys.json`), whether or not the file exists.
pub fn default_keystore_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(config.join("smsr").join("keys.json"))
}

/// The EID as the keystore writes it: its 16 bytes in hex, which are 32 decimal digits.
pub fn eid_string(eid: &[u8]) -> String {
    hex::encode_upper(eid)
}

#[cfg(test)]
mod tests;
