//! The bundled eUICC emulator linked in-process: the same card logic that serves the virtual
//! reader, without pcscd. It behaves like a T=0 card (`61xx` for case 4 commands sent without
//! Le), so it goes under a [`super::channel::ResponseAssembler`] like any reader.

use super::{Transport, TransportError};
use euicc_emulator::{CardState, Durability, Emulator, EmulatorError};
use std::path::{Path, PathBuf};

/// The emulator as a transport.
#[derive(Debug)]
pub struct InProcess {
    emulator: Emulator,
    atr: Vec<u8>,
    name: String,
}

impl InProcess {
    /// Opens the card in the state file `path` (from `euicc-emulator init`) and powers it on.
    /// Changes to the card's non-volatile state are written back to the file (atomically; see
    /// [`InProcess::open_with`] to sync them to disk too). The card is locked until the
    /// transport is dropped: one that another process serves is a
    /// [`TransportError::EmulatorInUse`], at once.
    pub fn open(path: &Path) -> Result<Self, TransportError> {
        Self::open_with(path, Durability::Atomic)
    }

    /// [`InProcess::open`], the state file written with `durability` after each change.
    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, TransportError> {
        let emulator = open_emulator(path)?.with_durability(durability);
        Ok(Self::from_emulator(
            emulator,
            format!("in-process emulator ({})", path.display()),
        ))
    }

    /// [`InProcess::open`] for a card opened for one operation and closed (a fleet card of a
    /// service): each new state is appended to the state file's journal, folded into the
    /// state file when the transport is dropped ([`euicc_emulator::state::journal`]).
    pub fn open_journaled(path: &Path) -> Result<Self, TransportError> {
        let emulator =
            open_emulator(path)?
                .with_journal()
                .map_err(|e| TransportError::Emulator {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })?;
        Ok(Self::from_emulator(
            emulator,
            format!("in-process emulator ({})", path.display()),
        ))
    }

    /// A card whose state lives only in memory.
    pub fn in_memory(state: CardState) -> Self {
        Self::from_emulator(
            Emulator::in_memory(state),
            "in-process emulator (in memory)".to_owned(),
        )
    }

    /// Wraps an emulator, powering it on; `name` is what [`Transport::reader_name`] says.
    pub fn from_emulator(mut emulator: Emulator, name: String) -> Self {
        let atr = emulator.power_on();
        Self {
            emulator,
            atr,
            name,
        }
    }

    /// The emulator.
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// The state file, if the card has one.
    pub fn state_path(&self) -> Option<PathBuf> {
        self.emulator.state_path().map(Path::to_path_buf)
    }
}

impl Transport for InProcess {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.emulator.transmit(command))
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.atr = self.emulator.reset();
        Ok(self.atr.clone())
    }

    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn reader_name(&self) -> String {
        self.name.clone()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.emulator.power_off();
    }
}

/// Opens and locks the card of a state file, its errors as transport errors.
fn open_emulator(path: &Path) -> Result<Emulator, TransportError> {
    Emulator::open(path).map_err(|e| match e {
        EmulatorError::InUse { path, pid } => TransportError::EmulatorInUse { path, pid },
        EmulatorError::State { path, source } => TransportError::EmulatorDamaged {
            path,
            detail: source.to_string(),
        },
        EmulatorError::Io { path, source } if source.kind() == std::io::ErrorKind::InvalidData => {
            TransportError::EmulatorDamaged {
                path,
                detail: source.to_string(),
            }
        }
        other => TransportError::Emulator {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_state_file_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = InProcess::open(&dir.path().join("none.json")).unwrap_err();
        assert!(matches!(err, TransportError::Emulator { .. }));
        assert!(err.to_string().contains("euicc-emulator init"), "{err}");
    }

    #[test]
    fn a_card_served_elsewhere_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let first = InProcess::from_emulator(
            Emulator::create(&path, CardState::new(None), false).unwrap(),
            "first".into(),
        );
        let err = InProcess::open(&path).unwrap_err();
        assert!(
            matches!(&err, TransportError::EmulatorInUse { pid: Some(p), .. }
                if *p == std::process::id()),
            "{err}"
        );
        assert!(err.is_setup_problem());
        drop(first);
        InProcess::open(&path).unwrap();
    }

    #[test]
    fn powered_on_with_an_atr() {
        let t = InProcess::in_memory(CardState::new(None));
        assert_eq!(t.atr(), euicc_emulator::ATR);
        assert!(t.emulator().is_powered());
        assert!(t.reader_name().contains("in-process"));
    }
}
