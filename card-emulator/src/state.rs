//! The card's non-volatile memory: [`CardState`], kept in a versioned JSON file written
//! atomically (temporary file in the same directory, fsync, rename, fsync of the directory), so
//! a crash or a kill at any moment leaves either the old or the new state, never a torn one.
//!
//! Volatile state (selections, logical channels, pending response data, secure channels) is not
//! here: it lives in [`crate::card::Card`] and [`crate::adapter::Adapter`] and is lost on reset.
//!
//! File format, version 1:
//! ```json
//! { "version": 1, "eid": "89001999000011234567890123456789" }
//! ```

use crate::eid::{eid_to_string, generate_eid, EID_LEN};
use crate::EmulatorError;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The state file format version this emulator reads and writes.
pub const STATE_VERSION: u32 = 1;

/// Everything the card keeps across power cycles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardState {
    eid: [u8; EID_LEN],
}

/// The on-disk form of [`CardState`], version 1.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFileV1 {
    version: u32,
    eid: String,
}

impl CardState {
    /// A new card: the given EID, or a fresh random one (SGP.29 layout with valid check digits,
    /// see [`crate::eid::generate_eid`]).
    ///
    /// Randomness comes from the OS; should the OS refuse it, the clock and the process id are
    /// mixed instead (the EID needs to be unique, not secret).
    pub fn new(eid: Option<[u8; EID_LEN]>) -> Self {
        let eid = eid.unwrap_or_else(|| {
            let mut pool = [0u8; 64];
            if getrandom::getrandom(&mut pool).is_err() {
                fallback_entropy(&mut pool);
            }
            let mut next = pool.into_iter().cycle();
            generate_eid(|| next.next().unwrap_or_default())
        });
        Self { eid }
    }

    /// The EID (16 bytes, 32 digits).
    pub fn eid(&self) -> [u8; EID_LEN] {
        self.eid
    }

    /// The state as its JSON file content.
    pub fn to_json(&self) -> String {
        let file = StateFileV1 {
            version: STATE_VERSION,
            eid: eid_to_string(&self.eid),
        };
        // A struct of an integer and a string always serializes.
        let mut out = serde_json::to_string_pretty(&file).unwrap_or_default();
        out.push('\n');
        out
    }

    /// Reads a state from its JSON file content.
    pub fn from_json(text: &str) -> Result<Self, StateError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| StateError::Syntax(e.to_string()))?;
        let version = value
            .get("version")
            .ok_or(StateError::Invalid("no \"version\" field".into()))?;
        match version.as_u64() {
            Some(v) if v == u64::from(STATE_VERSION) => {}
            Some(v) => return Err(StateError::UnsupportedVersion(v)),
            None => {
                return Err(StateError::Invalid(format!(
                    "\"version\" is not a number: {version}"
                )))
            }
        }
        let file: StateFileV1 =
            serde_json::from_value(value).map_err(|e| StateError::Invalid(e.to_string()))?;
        let bytes = hex::decode(&file.eid)
            .map_err(|e| StateError::Invalid(format!("\"eid\" is not hexadecimal: {e}")))?;
        let eid = <[u8; EID_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
            StateError::Invalid(format!(
                "\"eid\" has {} bytes, expected {EID_LEN}",
                bytes.len()
            ))
        })?;
        Ok(Self { eid })
    }

    /// Loads a state file.
    pub fn load(path: &Path) -> Result<Self, EmulatorError> {
        let text = fs::read_to_string(path).map_err(|source| EmulatorError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|source| EmulatorError::State {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the state file atomically (replacing any previous one).
    pub fn save(&self, path: &Path) -> Result<(), EmulatorError> {
        write_atomic(path, self.to_json().as_bytes()).map_err(|source| EmulatorError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Why the content of a state file is not a card state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("not JSON: {0}")]
    Syntax(String),
    #[error(
        "state file version {0} is not supported (this emulator reads version {STATE_VERSION})"
    )]
    UnsupportedVersion(u64),
    #[error("not a valid card state: {0}")]
    Invalid(String),
}

/// Replaces `path` with `bytes` so that readers see either the old or the new content: a
/// temporary file next to it is written and synced, renamed over `path`, and the directory is
/// synced. The file is readable by its owner only (it will hold card keys).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
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
    let result = write_synced(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: the temporary file is garbage either way.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable.
    File::open(&dir)?.sync_all()
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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
        let state = CardState::new(Some(eid));
        let json = state.to_json();
        assert!(json.contains("\"version\": 1"));
        assert!(json.contains("\"eid\": \"89044011112233441122334411223321\""));
        assert_eq!(CardState::from_json(&json).unwrap(), state);
    }

    #[test]
    fn bad_content_is_an_error() {
        let cases = [
            ("", "not JSON"),
            ("{", "not JSON"),
            ("[]", "no \"version\""),
            ("{\"eid\":\"00\"}", "no \"version\""),
            ("{\"version\":\"1\",\"eid\":\"00\"}", "not a number"),
            (
                "{\"version\":2,\"eid\":\"00\"}",
                "version 2 is not supported",
            ),
            ("{\"version\":1}", "missing field `eid`"),
            ("{\"version\":1,\"eid\":\"zz\"}", "not hexadecimal"),
            ("{\"version\":1,\"eid\":\"0011\"}", "has 2 bytes"),
            (
                "{\"version\":1,\"eid\":\"89044011112233441122334411223321\",\"x\":0}",
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            let err = CardState::from_json(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
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
