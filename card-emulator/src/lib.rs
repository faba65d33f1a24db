//! An SGP.02 eUICC emulator: the card logic (no I/O), its persistent state, the ISO 7816-3 T=0
//! adapter (61xx / 6Cxx / GET RESPONSE, command chaining) and the vpcd link to pcscd.
//!
//! [`Emulator`] is the whole card as a terminal sees it; `smsr` links it in-process for tests and
//! the `euicc-emulator` binary connects it to pcscd through vsmartcard's virtual reader.

use std::path::{Path, PathBuf};

/// The ATR: T=0 and T=1 offered (TD1 = 80: T=0, TD2 = 01: T=1), no historical bytes.
pub const ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// Errors of the emulator's runtime (state file, network).
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The emulated card as a terminal sees it.
#[derive(Debug)]
pub struct Emulator {
    state_path: Option<PathBuf>,
}

impl Emulator {
    /// Loads a card from its state file.
    pub fn open(path: &Path) -> Result<Self, EmulatorError> {
        Ok(Self {
            state_path: Some(path.to_path_buf()),
        })
    }

    /// Powers the card on (volatile state cleared) and returns the ATR.
    pub fn power_on(&mut self) -> Vec<u8> {
        ATR.to_vec()
    }

    /// Powers the card off.
    pub fn power_off(&mut self) {}

    /// Warm reset; returns the ATR.
    pub fn reset(&mut self) -> Vec<u8> {
        self.power_on()
    }

    /// Processes one C-APDU as received from the terminal and returns the R-APDU.
    pub fn transmit(&mut self, _command: &[u8]) -> Vec<u8> {
        vec![0x6D, 0x00]
    }
}
