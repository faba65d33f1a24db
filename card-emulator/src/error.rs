//! The emulator's runtime errors (state file, lock, command line, vpcd) in one place; the
//! errors of its parts (state, profiles, keys, EID) are wrapped here.

use crate::{eid, keyset, state, StateError};
use std::path::PathBuf;

/// Errors of the emulator's runtime (state file, network).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The state file cannot be read or written.
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The state file's content is not a card state this emulator reads.
    #[error("state file {path}: {source}")]
    State { path: PathBuf, source: StateError },
    /// Another process serves the card of this state file (it holds `<state file>.lock`,
    /// [`state::lock`]); `pid` is the holder's process id when it could be read.
    #[error(
        "card in use: {} serves the card state {} (stop that process, or use another state \
         file)",
        pid.map_or_else(|| "another process".to_owned(), |p| format!("process {p}")),
        path.display()
    )]
    InUse { path: PathBuf, pid: Option<u32> },
    /// `init` would replace an existing card.
    #[error("state file {path} already exists (a card lives there; remove it or use --force)")]
    StateExists { path: PathBuf },
    /// An EID given by the user is not valid.
    #[error("invalid EID {input:?}: {source}")]
    InvalidEid {
        input: String,
        source: eid::EidError,
    },
    /// The OS random number generator gave no keys for a new card.
    #[error(transparent)]
    KeyGeneration(#[from] keyset::KeyGenerationError),
    /// A command-line value that is not what it should be.
    #[error("invalid {what} {input:?}: {reason}")]
    InvalidArgument {
        what: &'static str,
        input: String,
        reason: String,
    },
    /// The card refuses a profile function (the test installer).
    #[error(transparent)]
    Profile(#[from] state::ProfileError),
    /// The PKI directory cannot be read, or the EUM cannot sign the ECASD certificate.
    #[error("PKI: {0}")]
    Pki(String),
    /// The card refuses a profile package (the test installer); `response` is the
    /// EUICCResponse in hex DER.
    #[error("the card refused the profile package: {reason} (EUICCResponse {response})")]
    PackageRefused { response: String, reason: String },
    /// The vpcd address is unusable.
    #[error("vpcd address {addr:?}: {reason}")]
    VpcdAddress { addr: String, reason: String },
}
