//! The cards an SM-SR service reaches, by EID, and the rule that one operation at a time
//! drives a card while any number of cards are driven in parallel.
//!
//! - A fleet directory (`--fleet DIR`): every emulator state file in it (`*.json`) is a card,
//!   linked in. A card is opened for one operation and closed after it (kept open only while a
//!   `moreToDo` session keeps its ES5 link): while it is open the emulator's state file lock
//!   keeps other processes off it, and between operations another SM-SR instance sharing the
//!   fleet and the registry may drive it (the card's lease in the registry says which one
//!   does). Files added later are found when an operation names an EID not yet known.
//! - PC/SC readers: the EID of the card in each reader is read at start and again whenever a
//!   reader's card changes (inserted, removed, another ATR), checked every second. Each
//!   operation connects to the reader.
//!
//! Operations on one EID wait in a first-come first-served queue ([`Cards::queue`], a fair
//! mutex per EID).

use crate::hexfmt;
use crate::transport::channel::ResponseAssembler;
use crate::transport::count::Counting;
use crate::transport::in_process::InProcess;
use crate::transport::pcsc::{list_readers, PcscOptions, PcscTransport, ProtocolChoice};
use crate::transport::{Transport, TransportError};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Where a card is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CardSource {
    /// An emulator state file of the fleet.
    Fleet { state: PathBuf },
    /// A PC/SC reader.
    Reader { reader: String },
}

/// One card reached.
#[derive(Clone, Debug, Serialize)]
pub struct ReachedCard {
    pub eid: String,
    #[serde(flatten)]
    pub source: CardSource,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct Known {
    sources: HashMap<String, CardSource>,
    /// The ATR (or none) last seen in each reader.
    readers: HashMap<String, Option<Vec<u8>>>,
}

/// The cards of one service.
#[derive(Debug)]
pub struct Cards {
    fleet: Option<PathBuf>,
    pcsc: bool,
    known: Mutex<Known>,
    turns: super::operations::Turns,
    /// Set while a reader's card is used (an operation, or the scan reading its EID).
    reader_busy: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

/// Why a card cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum CardsError {
    #[error("no card with EID {0} is reachable by this SM-SR (not in the fleet directory, not in a reader)")]
    NotReachable(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Card(#[from] crate::sm_sr::es5::Es5Error),
    #[error("fleet directory {dir}: {detail}")]
    Fleet { dir: PathBuf, detail: String },
}

impl Cards {
    /// The cards of `fleet` (a directory of emulator state files) and, with `pcsc`, of the
    /// PC/SC readers; both are scanned now.
    pub fn new(fleet: Option<PathBuf>, pcsc: bool) -> Result<Self, CardsError> {
        let cards = Self {
            fleet,
            pcsc,
            known: Mutex::default(),
            turns: super::operations::Turns::default(),
            reader_busy: Mutex::default(),
        };
        cards.scan_fleet()?;
        if cards.pcsc {
            if let Err(e) = cards.scan_readers() {
                tracing::warn!("PC/SC readers not reached: {e}");
            }
        }
        Ok(cards)
    }

    /// Whether the readers are watched ([`Cards::scan_readers`] every second).
    pub fn watches_readers(&self) -> bool {
        self.pcsc
    }

    /// The cards reached now, by EID.
    pub fn list(&self) -> Vec<ReachedCard> {
        let known = lock(&self.known);
        let mut out: Vec<_> = known
            .sources
            .iter()
            .map(|(eid, source)| ReachedCard {
                eid: eid.clone(),
                source: source.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.eid.cmp(&b.eid));
        out
    }

    /// Reads the fleet directory: each state file's EID.
    pub fn scan_fleet(&self) -> Result<(), CardsError> {
        let Some(dir) = &self.fleet else {
            return Ok(());
        };
        let fleet_err = |detail: String| CardsError::Fleet {
            dir: dir.clone(),
            detail,
        };
        let entries = std::fs::read_dir(dir).map_err(|e| fleet_err(e.to_string()))?;
        let mut found = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| fleet_err(e.to_string()))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") || !path.is_file() {
                continue;
            }
            if lock(&self.known)
                .sources
                .values()
                .any(|s| matches!(s, CardSource::Fleet { state } if *state == path))
            {
                continue;
            }
            match euicc_emulator::CardState::load(&path) {
                Ok(state) => found.push((hexfmt::upper(&state.eid()), path)),
                Err(e) => tracing::debug!("{}: not a card state file: {e}", path.display()),
            }
        }
        let mut known = lock(&self.known);
        for (eid, state) in found {
            known.sources.insert(eid, CardSource::Fleet { state });
        }
        Ok(())
    }

    /// Lists the readers and reads the EID of each card that is new or changed since the last
    /// scan; forgets the cards removed.
    pub fn scan_readers(&self) -> Result<(), CardsError> {
        let readers = list_readers()?;
        let changed: Vec<_> = {
            let known = lock(&self.known);
            readers
                .iter()
                .filter(|r| known.readers.get(&r.name) != Some(&r.atr))
                .cloned()
                .collect()
        };
        for r in changed {
            let eid = if r.card_present {
                let Some(_busy) = self.claim_reader(&r.name) else {
                    // An operation is using the card: it is the one known.
                    continue;
                };
                match self.read_reader_eid(&r.name) {
                    Ok(eid) => Some(eid),
                    Err(e) => {
                        tracing::info!("reader {}: no EID read: {e}", r.name);
                        None
                    }
                }
            } else {
                None
            };
            let mut known = lock(&self.known);
            known
                .sources
                .retain(|_, s| !matches!(s, CardSource::Reader { reader } if *reader == r.name));
            if let Some(eid) = eid {
                tracing::info!("reader {}: card {eid}", r.name);
                known.sources.insert(
                    eid,
                    CardSource::Reader {
                        reader: r.name.clone(),
                    },
                );
            }
            known.readers.insert(r.name.clone(), r.atr.clone());
        }
        let mut known = lock(&self.known);
        let present: Vec<String> = readers.iter().map(|r| r.name.clone()).collect();
        known.sources.retain(
            |_, s| !matches!(s, CardSource::Reader { reader } if !present.contains(reader)),
        );
        known.readers.retain(|name, _| present.contains(name));
        Ok(())
    }

    fn read_reader_eid(&self, reader: &str) -> Result<String, CardsError> {
        let mut card = connect_reader(reader)?;
        let eid = crate::sm_sr::link::read_eid(&mut card)?;
        Ok(hexfmt::upper(&eid.0))
    }

    /// Marks a reader in use, unless it is already.
    fn claim_reader(&self, reader: &str) -> Option<ReaderClaim> {
        let flag = lock(&self.reader_busy)
            .entry(reader.to_owned())
            .or_default()
            .clone();
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| ReaderClaim(flag))
    }

    /// Waits for this EID's turn: operations on one card run one after another, in the order
    /// they asked; the guard ends the turn.
    pub async fn queue(&self, eid: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.turns.wait(eid).await
    }

    /// Whether a card is reachable (the fleet directory is read again for an EID not known).
    pub fn reaches(&self, eid: &str) -> bool {
        if lock(&self.known).sources.contains_key(eid) {
            return true;
        }
        let _ = self.scan_fleet();
        lock(&self.known).sources.contains_key(eid)
    }

    /// Opens the card `eid` for one operation (blocking; call in the EID's turn). The
    /// exchanges are counted on this thread ([`crate::transport::count`]).
    pub fn open(&self, eid: &str) -> Result<Box<dyn Transport + Send>, CardsError> {
        if !self.reaches(eid) {
            return Err(CardsError::NotReachable(eid.to_owned()));
        }
        let source = lock(&self.known)
            .sources
            .get(eid)
            .cloned()
            .ok_or_else(|| CardsError::NotReachable(eid.to_owned()))?;
        match source {
            CardSource::Fleet { state } => {
                let card = open_fleet_card(&state)?;
                Ok(Box::new(ResponseAssembler::new(Counting(card))))
            }
            CardSource::Reader { reader } => {
                // The EID's turn makes the operation the card's only user in this service;
                // the claim keeps the reader scan off it. A scan reading the EID right now
                // finishes within a few APDUs.
                let claim = loop {
                    match self.claim_reader(&reader) {
                        Some(c) => break c,
                        None => std::thread::sleep(Duration::from_millis(5)),
                    }
                };
                let card = connect_reader(&reader)?;
                Ok(Box::new(ResponseAssembler::new(Counting(Claimed {
                    card,
                    _claim: claim,
                }))))
            }
        }
    }

    /// Watches the readers in the background (every second) until `stop` is set.
    pub fn watch_readers(self: &Arc<Self>, stop: Arc<AtomicBool>) {
        if !self.pcsc {
            return;
        }
        let cards = Arc::clone(self);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = cards.scan_readers() {
                    tracing::debug!("reader scan: {e}");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }
}

/// How long opening a fleet card waits for another process to close it: the card's lease
/// keeps two SM-SR instances apart, and the one that held it closes the card before it gives
/// the lease back; a process outside the lease (`smsr` run by hand) may hold it a moment.
const FLEET_OPEN_WAIT: Duration = Duration::from_secs(2);

/// Opens a fleet card's state file for one operation (closed when dropped; its new states go
/// to the state file's journal meanwhile, [`InProcess::open_journaled`]), waiting up to
/// [`FLEET_OPEN_WAIT`] for a process that holds it.
fn open_fleet_card(state: &Path) -> Result<InProcess, TransportError> {
    let started = std::time::Instant::now();
    loop {
        match InProcess::open_journaled(state) {
            Err(TransportError::EmulatorInUse { .. }) if started.elapsed() < FLEET_OPEN_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn connect_reader(reader: &str) -> Result<PcscTransport, TransportError> {
    PcscTransport::connect(&PcscOptions {
        reader: Some(reader.to_owned()),
        exclusive: false,
        protocol: ProtocolChoice::Auto,
    })
}

/// A reader marked in use until dropped.
#[derive(Debug)]
struct ReaderClaim(Arc<AtomicBool>);

impl Drop for ReaderClaim {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A reader's card, the reader marked in use as long as it is open.
#[derive(Debug)]
struct Claimed {
    card: PcscTransport,
    _claim: ReaderClaim,
}

impl Transport for Claimed {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.card.transmit(command)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.card.reset()
    }

    fn atr(&self) -> Vec<u8> {
        self.card.atr()
    }

    fn reader_name(&self) -> String {
        self.card.reader_name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cost per operation of opening a fleet card for it and closing it after: the
    /// state file read and locked, the card powered on; then unlocked.
    #[test]
    fn fleet_card_open_close_cost() {
        let dir = tempfile::tempdir().unwrap();
        let state = euicc_emulator::CardState::generate(None).unwrap();
        let eid = hexfmt::upper(&state.eid());
        let path = dir.path().join("card.json");
        euicc_emulator::Emulator::create(&path, state, false)
            .unwrap()
            .power_off();
        let cards = Cards::new(Some(dir.path().to_owned()), false).unwrap();
        assert!(cards.reaches(&eid));
        const ROUNDS: u32 = 50;
        let started = std::time::Instant::now();
        for _ in 0..ROUNDS {
            let card = cards.open(&eid).unwrap();
            assert!(!card.atr().is_empty());
            // Closed: another opener (another SM-SR instance) gets it at once.
            drop(card);
        }
        let each = started.elapsed() / ROUNDS;
        eprintln!("fleet card open + close: {each:?} per operation");
        // Still closed after the last operation.
        let other = InProcess::open(&path).unwrap();
        drop(other);
    }
}
