//! [`Emulator`]: the card behind its transport adapter, with power control and persistence of
//! the non-volatile state after every command that changed it (atomically; synced to disk too
//! with [`Durability::Synced`]). A card served from a state file is locked for the emulator's
//! life ([`StateLock`]): no other process serves or changes it meanwhile.

use crate::adapter::Adapter;
use crate::card::Card;
use crate::state::journal::{self, Journal};
use crate::state::{CardState, Durability, StateLock};
use crate::EmulatorError;
use smsr_proto::StatusWord;
use std::path::{Path, PathBuf};

/// The emulated card as a terminal sees it.
///
/// The card answers [`transmit`](Self::transmit) in every power state: an in-process client
/// need not power it on first. [`power_on`](Self::power_on), [`reset`](Self::reset) and
/// [`power_off`](Self::power_off) all clear the volatile state (selections, logical channels,
/// pending response data, secure channels).
#[derive(Debug)]
pub struct Emulator {
    adapter: Adapter,
    /// Where the state is persisted; `None` for an in-memory card.
    state_path: Option<PathBuf>,
    /// How the state file is written after a command that changed the state.
    durability: Durability,
    powered: bool,
    /// The state file's journal, when new states are appended to it ([`Emulator::with_journal`]).
    journal: Option<Journal>,
    /// The lock on the state file, held until the emulator is dropped; `None` in memory. Last:
    /// fields drop in order, and the journal is folded in before the lock goes.
    lock: Option<StateLock>,
}

impl Drop for Emulator {
    /// Folds the journal into the state file (before the lock goes): the state file alone is
    /// the state again. On failure the journal stays, and the next open folds it.
    fn drop(&mut self) {
        let (Some(j), Some(path)) = (self.journal.take(), &self.state_path) else {
            return;
        };
        if !j.is_empty() {
            if let Err(e) = self.adapter.card().state().save_with(path, self.durability) {
                tracing::error!("cannot fold the journal into the card state: {e}");
                return;
            }
        }
        if let Err(e) = j.remove() {
            tracing::warn!("cannot remove the card state journal: {e}");
        }
    }
}

impl Emulator {
    /// Loads a card from its state file (created by `euicc-emulator init` or
    /// [`Emulator::create`]) and locks it until the emulator is dropped: a card another
    /// emulator serves is an [`EmulatorError::InUse`], at once.
    pub fn open(path: &Path) -> Result<Self, EmulatorError> {
        let lock = StateLock::acquire(path)?;
        let state = CardState::load(path)?;
        // A journal left by a card that was not closed (its process killed): its last state,
        // loaded above, goes into the state file and the journal away.
        let left = journal::journal_path(path);
        if left.symlink_metadata().is_ok() {
            state.save(path)?;
            std::fs::remove_file(&left).map_err(|source| EmulatorError::Io {
                path: left.clone(),
                source,
            })?;
        }
        Ok(Self::with_store(state, Some(path.to_path_buf())).with_lock(lock))
    }

    /// Creates a new state file for `state` and returns its card, locked as by
    /// [`Emulator::open`]. An existing file is an error unless `overwrite` is set (a card
    /// another emulator serves is never replaced).
    pub fn create(path: &Path, state: CardState, overwrite: bool) -> Result<Self, EmulatorError> {
        let lock = StateLock::acquire(path)?;
        if !overwrite && path.symlink_metadata().is_ok() {
            return Err(EmulatorError::StateExists {
                path: path.to_path_buf(),
            });
        }
        state.save(path)?;
        Ok(Self::with_store(state, Some(path.to_path_buf())).with_lock(lock))
    }

    /// Opens the card in `path`, creating a new one (random EID, random ISD-R keys) if the file
    /// does not exist.
    pub fn open_or_create(path: &Path) -> Result<Self, EmulatorError> {
        if path.symlink_metadata().is_ok() {
            Self::open(path)
        } else {
            Self::create(path, CardState::generate(None)?, false)
        }
    }

    /// A card whose state lives only in memory.
    pub fn in_memory(state: CardState) -> Self {
        Self::with_store(state, None)
    }

    fn with_store(state: CardState, state_path: Option<PathBuf>) -> Self {
        Self {
            adapter: Adapter::new(Card::new(state)),
            state_path,
            durability: Durability::default(),
            powered: true,
            journal: None,
            lock: None,
        }
    }

    fn with_lock(mut self, lock: StateLock) -> Self {
        self.lock = Some(lock);
        self
    }

    /// Writes the state file after each change with `durability` (default
    /// [`Durability::Atomic`]).
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Appends each new state to the state file's journal and folds it into the state file
    /// when the emulator is dropped or the journal grows past [`journal::COMPACT_AT`]
    /// ([`crate::state::journal`]): for a card opened for a while and closed (a fleet card in
    /// a service). Other readers see the state file as it was when the card was opened until
    /// then. No effect on a card in memory.
    pub fn with_journal(mut self) -> Result<Self, EmulatorError> {
        if let Some(path) = &self.state_path {
            self.journal = Some(Journal::open(path).map_err(|source| EmulatorError::Io {
                path: journal::journal_path(path),
                source,
            })?);
        }
        Ok(self)
    }

    /// The non-volatile state.
    pub fn state(&self) -> &CardState {
        self.adapter.card().state()
    }

    /// The state file, if the card has one.
    pub fn state_path(&self) -> Option<&Path> {
        self.state_path.as_deref()
    }

    /// The card logic (for inspection: selections, open channels).
    pub fn card(&self) -> &Card {
        self.adapter.card()
    }

    /// Whether the card is powered.
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Powers the card on (volatile state cleared) and returns the ATR.
    pub fn power_on(&mut self) -> Vec<u8> {
        self.adapter.reset();
        self.powered = true;
        // Profile changes pending until reset were applied: persist them (a failure is logged
        // and the write retried after the next command).
        self.persist();
        self.state().atr()
    }

    /// Powers the card off (volatile state cleared).
    pub fn power_off(&mut self) {
        self.adapter.reset();
        self.powered = false;
        self.persist();
    }

    /// Writes the state file if the card changed its state; `false` if the write failed (the
    /// state stays marked as changed, so the next command tries again).
    fn persist(&mut self) -> bool {
        if !self.adapter.card_mut().take_dirty() {
            return true;
        }
        let Some(path) = &self.state_path else {
            return true;
        };
        let state = self.adapter.card().state();
        let saved = match self.journal.as_mut() {
            Some(j) => state.append_to(path, j, self.durability).and_then(|()| {
                if j.len() < journal::COMPACT_AT {
                    return Ok(());
                }
                state.save_with(path, self.durability)?;
                j.clear().map_err(|source| EmulatorError::Io {
                    path: journal::journal_path(path),
                    source,
                })
            }),
            None => state.save_with(path, self.durability),
        };
        match saved {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("cannot persist the card state: {e}");
                self.adapter.card_mut().state_mut();
                false
            }
        }
    }

    /// Warm reset; returns the ATR.
    pub fn reset(&mut self) -> Vec<u8> {
        self.power_on()
    }

    /// Processes one C-APDU as received from the terminal and returns the R-APDU (data ‖ SW1
    /// SW2, never fewer than two bytes). If the command changed the non-volatile state and the
    /// state file cannot be written, the answer is `6581` (memory failure) and the write is
    /// retried after the next command.
    pub fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
        let response = self.adapter.transmit(command);
        if self.persist() {
            response
        } else {
            StatusWord::MemoryFailure.to_bytes().to_vec()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eid::parse_eid;
    use crate::ATR;
    use proptest::prelude::*;

    const EID: &str = "89034011560010000000000000000121";
    const SELECT_ECASD: &str = "00A4040C10A0000005591010FFFFFFFF8900000200";

    fn send(e: &mut Emulator, c_apdu: &str) -> String {
        hex::encode_upper(e.transmit(&hex::decode(c_apdu).unwrap()))
    }

    fn state() -> CardState {
        CardState::new(Some(parse_eid(EID).unwrap()))
    }

    #[test]
    fn eid_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let mut e = Emulator::create(&path, state(), false).unwrap();
        assert_eq!(e.power_on(), ATR);
        send(&mut e, SELECT_ECASD);
        assert_eq!(send(&mut e, "80CA005A00"), format!("5A10{EID}9000"));
        drop(e);
        let mut e = Emulator::open(&path).unwrap();
        assert_eq!(e.state_path(), Some(path.as_path()));
        e.power_on();
        send(&mut e, SELECT_ECASD);
        assert_eq!(send(&mut e, "80CA005A00"), format!("5A10{EID}9000"));
    }

    #[test]
    fn a_served_card_is_in_use_until_its_emulator_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let first = Emulator::create(&path, state(), false).unwrap();
        for second in [
            Emulator::open(&path),
            Emulator::open_or_create(&path),
            Emulator::create(&path, CardState::new(None), true),
        ] {
            let err = second.unwrap_err();
            assert!(
                matches!(&err, EmulatorError::InUse { path: p, pid: Some(pid) }
                    if p == &path && *pid == std::process::id()),
                "{err}"
            );
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("card in use: process {}", std::process::id()))
                    && text.contains("card.json")
                    && text.contains("stop that process, or use another state file"),
                "{text}"
            );
        }
        // The refused overwrite left the served card alone.
        assert_eq!(CardState::load(&path).unwrap(), state());
        drop(first);
        let mut e = Emulator::open(&path).unwrap();
        send(&mut e, SELECT_ECASD);
        assert_eq!(send(&mut e, "80CA005A00"), format!("5A10{EID}9000"));
        drop(e);
        // An in-memory card takes no lock, whatever else is open.
        let _served = Emulator::open(&path).unwrap();
        let _other = Emulator::in_memory(state());
    }

    #[test]
    fn create_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        Emulator::create(&path, state(), false).unwrap();
        let other = CardState::new(None);
        assert!(matches!(
            Emulator::create(&path, other.clone(), false),
            Err(EmulatorError::StateExists { .. })
        ));
        assert_eq!(Emulator::open(&path).unwrap().state(), &state());
        Emulator::create(&path, other.clone(), true).unwrap();
        assert_eq!(Emulator::open(&path).unwrap().state(), &other);
        assert_eq!(Emulator::open_or_create(&path).unwrap().state(), &other);
        let fresh = dir.path().join("fresh.json");
        let created = Emulator::open_or_create(&fresh).unwrap().state().clone();
        assert_eq!(Emulator::open(&fresh).unwrap().state(), &created);
        // A card created on disk has random keys, never the GP test key.
        assert_ne!(
            created.scp03().keysets()[0].keys.enc().as_bytes(),
            crate::keyset::GP_TEST_KEY
        );
    }

    #[test]
    fn corrupt_or_missing_state_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        assert!(matches!(
            Emulator::open(&path),
            Err(EmulatorError::Io { .. })
        ));
        std::fs::write(&path, "{\"version\":7}").unwrap();
        let err = Emulator::open(&path).unwrap_err();
        assert!(matches!(
            err,
            EmulatorError::State {
                source: crate::StateError::UnsupportedVersion(7),
                ..
            }
        ));
        std::fs::write(&path, [0xFFu8, 0x00, 0x12]).unwrap();
        assert!(Emulator::open(&path).is_err());
    }

    #[test]
    fn a_journaled_card_appends_and_folds_its_journal_in_when_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        drop(Emulator::create(&path, state(), false).unwrap());
        let before = std::fs::read(&path).unwrap();
        let mut e = Emulator::open(&path).unwrap().with_journal().unwrap();
        let kvn = e.state().kvns()[0];
        assert!(e
            .adapter
            .card_mut()
            .state_mut()
            .set_sequence_counter(kvn, 7));
        assert_eq!(send(&mut e, SELECT_ECASD), "9000");
        assert_ne!(*e.state(), state());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "no replace while open"
        );
        let journal = journal::journal_path(&path);
        assert!(journal.metadata().unwrap().len() > 0);
        // Killed now: the files left say the new state (a copy of them stands for them).
        let copy = dir.path().join("copy.json");
        std::fs::copy(&path, &copy).unwrap();
        std::fs::copy(&journal, journal::journal_path(&copy)).unwrap();
        assert_eq!(CardState::load(&copy).unwrap(), *e.state());
        drop(Emulator::open(&copy).unwrap());
        assert!(!journal::journal_path(&copy).exists(), "folded in at open");
        assert_eq!(CardState::load(&copy).unwrap(), *e.state());
        let now = e.state().to_json();
        drop(e);
        assert!(!journal.exists(), "folded in when closed");
        assert_eq!(
            CardState::load(&path).unwrap(),
            CardState::from_json(&now).unwrap()
        );
    }

    #[test]
    fn failed_persistence_answers_6581_and_retries() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the state file should be: every save fails.
        let path = dir.path().join("card.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"x").unwrap();
        let mut e = Emulator::with_store(state(), Some(path.clone()));
        e.adapter.card_mut().state_mut();
        assert_eq!(send(&mut e, SELECT_ECASD), "6581");
        assert_eq!(
            send(&mut e, SELECT_ECASD),
            "6581",
            "still dirty, tried again"
        );
        // Once the file can be written, the next command persists.
        std::fs::remove_dir_all(&path).unwrap();
        assert_eq!(send(&mut e, SELECT_ECASD), "9000");
        assert_eq!(CardState::load(&path).unwrap(), state());
        assert_eq!(send(&mut e, SELECT_ECASD), "9000");
    }

    #[test]
    fn power_cycle_clears_volatile_state() {
        let mut e = Emulator::in_memory(state());
        assert_eq!(send(&mut e, "0070000001"), "019000");
        send(&mut e, SELECT_ECASD);
        assert_eq!(send(&mut e, "80CA005A"), "6112");
        e.power_off();
        assert!(!e.is_powered());
        assert_eq!(e.power_on(), ATR);
        assert!(e.is_powered());
        assert_eq!(send(&mut e, "00C0000012"), "6985");
        assert_eq!(send(&mut e, "01A4000C023F00"), "6881");
        assert_eq!(send(&mut e, "80CA005A00"), "6D00", "MF selected again");
        send(&mut e, SELECT_ECASD);
        assert_eq!(e.reset(), ATR);
        assert_eq!(send(&mut e, "80CA005A00"), "6D00");
    }

    proptest! {
        #[test]
        fn transmit_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut e = Emulator::in_memory(state());
            let r = e.transmit(&bytes);
            prop_assert!(r.len() >= 2);
        }

        /// Sequences of commands built from the instructions the card knows, with arbitrary
        /// classes, parameters and data: never a panic, always a status word.
        #[test]
        fn command_sequences_never_panic(
            commands in prop::collection::vec(
                (
                    prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x03, 0x10, 0x11, 0x80, 0x81, 0x84, 0x90, 0x40, 0xC0, 0xFF]),
                    prop::sample::select(vec![0xA4u8, 0x70, 0xC0, 0xCA, 0xCB, 0xE2, 0xF2]),
                    prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x03, 0x04, 0x08, 0x80]),
                    any::<u8>(),
                    prop::collection::vec(any::<u8>(), 0..20),
                    prop::option::of(1usize..=300),
                ),
                1..40,
            )
        ) {
            let mut e = Emulator::in_memory(state());
            for (cla, ins, p1, p2, data, le) in commands {
                let cmd = smsr_proto::CommandApdu { cla, ins, p1, p2, data, le };
                let r = e.transmit(&cmd.to_bytes().unwrap());
                prop_assert!(r.len() >= 2);
                if let Some(le) = cmd.le {
                    prop_assert!(r.len() - 2 <= le);
                }
            }
        }
    }
}
