//! The card transport: one small blocking trait, [`Transport`], and the layers built on it.
//!
//! A transport moves whole command APDUs to a card and whole response APDUs (data ‖ SW1 SW2)
//! back (ISO/IEC 7816-4 §5.1). Implementations:
//!
//! - [`pcsc::PcscTransport`]: a card in a PC/SC reader (the only module that uses the `pcsc`
//!   crate; every PC/SC error becomes a [`TransportError`] with its cause and a fix);
//! - [`in_process::InProcess`]: the bundled eUICC emulator linked as a library;
//!
//! and decorators, each itself a [`Transport`]:
//!
//! - [`channel::ResponseAssembler`]: resolves `61xx` with GET RESPONSE and `6Cxx` by resending
//!   with the right Le, so callers see whole responses (ISO/IEC 7816-3 §12.2, 7816-4 §5.3.4);
//! - [`record::Recorder`]: writes every exchange to a JSON Lines trace ([`crate::trace`]);
//! - [`gsmtap::GsmtapTap`]: sends every exchange as a GSMTAP frame over UDP (`--gsmtap`);
//! - [`fault::FaultInjector`]: drops or corrupts responses, fails transmits, resets the card
//!   (for tests).
//!
//! A typical stack, outermost first: `ResponseAssembler(Recorder(PcscTransport))`: the trace
//! shows what went over the wire, GET RESPONSE included.

pub mod bip;
pub mod channel;
pub mod count;
pub mod fault;
pub mod gsmtap;
pub mod in_process;
pub mod pcsc;
pub mod readers;
pub mod record;

#[cfg(test)]
pub(crate) mod fake_card;

use smsr_proto::apdu::ApduError;
use smsr_proto::{CommandApdu, ResponseApdu};
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// A card behind some link: send a command, get its response.
pub trait Transport: fmt::Debug {
    /// Sends one command APDU and returns the response APDU (data ‖ SW1 SW2, at least two
    /// bytes).
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Resets the card (warm reset; selections and secure channels are lost) and returns the
    /// new ATR.
    fn reset(&mut self) -> Result<Vec<u8>, TransportError>;

    /// The card's answer to reset as last seen.
    fn atr(&self) -> Vec<u8>;

    /// The reader's name (for the in-process emulator, a name that says so).
    fn reader_name(&self) -> String;

    /// Sends a typed command and parses the response. The status word is not checked.
    fn send(&mut self, command: &CommandApdu) -> Result<ResponseApdu, TransportError> {
        let bytes = command.to_bytes()?;
        let response = self.transmit(&bytes)?;
        ResponseApdu::parse(&response).map_err(|_| TransportError::ResponseTooShort {
            reader: self.reader_name(),
            len: response.len(),
        })
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        (**self).reset()
    }

    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }

    fn reader_name(&self) -> String {
        (**self).reader_name()
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        (**self).reset()
    }

    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }

    fn reader_name(&self) -> String {
        (**self).reader_name()
    }
}

/// How to start pcscd, for error messages.
const START_PCSCD: &str = "start it: `sudo systemctl start pcscd.socket` (or `sudo pcscd`), or \
     `scripts/virtual-reader.sh start` for the virtual reader with the bundled emulator; \
     `--transport emulator` needs no pcscd at all";

/// Why a card could not be reached or did not answer. Every message names the cause and what
/// to do about it.
#[derive(Debug, Error)]
pub enum TransportError {
    /// The PC/SC service is not running or cannot be reached.
    #[error(
        "the PC/SC service (pcscd) is not running or cannot be reached ({detail}); {START_PCSCD}"
    )]
    NoService { detail: String },
    /// pcscd runs but knows no reader.
    #[error(
        "no smart card reader found: plug a reader in, or start the virtual reader with \
         `scripts/virtual-reader.sh start` (or use `--transport emulator`)"
    )]
    NoReaders,
    /// No reader matches the selector.
    #[error(
        "no reader matches {selector:?}; readers: {}; give --reader (or SMSR_READER) an exact \
         name, an index from `smsr readers`, or a unique part of a name",
        list(readers)
    )]
    ReaderNotFound {
        selector: String,
        readers: Vec<String>,
    },
    /// A substring selector matches more than one reader.
    #[error(
        "--reader {selector:?} matches several readers: {}; give the exact name or an index",
        list(matches)
    )]
    AmbiguousReader {
        selector: String,
        matches: Vec<String>,
    },
    /// The reader went away or cannot be used now.
    #[error(
        "reader {reader:?} is not available (unplugged, or its driver stopped): plug it in \
         again, or for \"Virtual PCD\" restart pcscd with the vpcd driver \
         (`scripts/virtual-reader.sh start`); `smsr readers` lists what is there"
    )]
    ReaderUnavailable { reader: String },
    /// Readers exist but none holds a card.
    #[error(
        "no reader holds a card (readers: {}); insert a card, or start the emulator on the \
         virtual reader (`scripts/virtual-reader.sh start`)",
        list(readers)
    )]
    NoCardInAnyReader { readers: Vec<String> },
    /// The chosen reader holds no card.
    #[error(
        "no card in reader {reader:?}: insert a card (for \"Virtual PCD\", start the emulator: \
         `scripts/virtual-reader.sh start`), or choose another reader with --reader"
    )]
    NoCard { reader: String },
    /// Another program holds the card exclusively, or we asked for exclusive access while
    /// another program has it open.
    #[error(
        "the card in {reader:?} is held by another program (sharing violation): close it \
         (pcsc_scan, scdaemon/gpg-agent, a browser, another smsr), or do not ask for --exclusive"
    )]
    CardInUse { reader: String },
    /// The card does not speak the protocol asked for.
    #[error(
        "the card in {reader:?} does not offer protocol {requested}: use `--protocol any` or the \
         protocol its ATR offers"
    )]
    ProtocolMismatch { reader: String, requested: String },
    /// The card was reset (by another program, or a fault): selections and secure channels are
    /// gone.
    #[error(
        "the card in {reader:?} was reset during the session (by another program or the \
         reader): selections and secure channels are lost; run the operation again, and close \
         other programs using the card, or use --exclusive"
    )]
    CardReset { reader: String },
    /// The card was removed.
    #[error("the card was removed from {reader:?}: put it back and run the operation again")]
    CardRemoved { reader: String },
    /// The card does not answer (mute, unpowered, or not responding to reset).
    #[error(
        "the card in {reader:?} does not respond ({detail}): re-insert it; for the virtual \
         reader, check that the emulator runs (`scripts/virtual-reader.sh status`)"
    )]
    CardUnresponsive { reader: String, detail: String },
    /// No response came back (communication error, timeout, data lost).
    #[error(
        "no response from the card in {reader:?} ({detail}): the command may or may not have \
         been executed; check the reader and card, then reset (re-insert) the card and retry"
    )]
    ResponseLost { reader: String, detail: String },
    /// A response shorter than SW1 SW2.
    #[error(
        "the card in {reader:?} answered {len} bytes, fewer than the two status bytes: the \
         reader or card is faulty; retry, or try another `--protocol`"
    )]
    ResponseTooShort { reader: String, len: usize },
    /// The card kept answering `61xx`/`6Cxx`.
    #[error(
        "the card in {reader:?} kept answering 61xx/6Cxx/9Fxx for {rounds} rounds without \
         finishing its response: the card misbehaves; reset it (re-insert) and retry"
    )]
    ResponseNeverEnds { reader: String, rounds: usize },
    /// A command that cannot be encoded or re-encoded as an APDU.
    #[error("invalid command APDU: {0}; check its length fields (Lc, Le)")]
    InvalidCommand(#[from] ApduError),
    /// The in-process emulator cannot be opened.
    #[error(
        "emulator state {}: {detail}; create a card with `euicc-emulator init --state FILE` \
         and pass it with --emulator-state (or SMSR_EMULATOR_STATE)",
        path.display()
    )]
    Emulator { path: PathBuf, detail: String },
    /// The emulator's state file is there but does not read (damaged, or not a state file).
    /// It is never replaced by a new card: that would throw the card away.
    #[error(
        "emulator state {} cannot be read: {detail}. It is left as it is. The emulator replaces \
         its state file atomically (a new file renamed over the old one), so a damaged file was \
         changed by something else, and there is no older copy beside it: restore it from your \
         own copy (keep the directory {}.packages beside it), or make another card with \
         `euicc-emulator init --state OTHER_FILE` (a new EID, none of this card's profiles)",
        path.display(),
        path.display()
    )]
    EmulatorDamaged { path: PathBuf, detail: String },
    /// Another process serves the emulator's card from this state file (`euicc-emulator run`,
    /// another `smsr --transport emulator`): it holds the state file's lock. `pid` is that
    /// process when it could be read from the lock file.
    #[error(
        "card in use: {} serves the card state {} (stop that process, or use another state \
         file)",
        pid.map_or_else(|| "another process".to_owned(), |p| format!("process {p}")),
        path.display()
    )]
    EmulatorInUse { path: PathBuf, pid: Option<u32> },
    /// The trace file cannot be written.
    #[error(
        "trace file {}: {source}; choose a writable path for --trace (or SMSR_TRACE), or \
         leave the option out",
        path.display()
    )]
    Trace {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The secure channel on top of the link failed: a response MAC that does not verify, a
    /// session ended by an earlier failure, a command that cannot be protected. The detail
    /// names the cause and the fix ([`crate::secure::SecureError`]).
    #[error("secure channel with the card in {reader:?}: {detail}")]
    SecureChannel { reader: String, detail: String },
    /// Any other PC/SC failure.
    #[error(
        "PC/SC error while trying to {operation}{}: {detail}; run `smsr doctor` to check \
         pcscd, the readers and the card",
        reader.as_deref().map(|r| format!(" on {r:?}")).unwrap_or_default()
    )]
    Pcsc {
        operation: &'static str,
        reader: Option<String>,
        detail: String,
    },
}

impl TransportError {
    /// Whether the error says pcscd, a reader or a card is missing (as opposed to a card that
    /// was reached and then failed).
    pub fn is_setup_problem(&self) -> bool {
        matches!(
            self,
            Self::NoService { .. }
                | Self::NoReaders
                | Self::ReaderNotFound { .. }
                | Self::AmbiguousReader { .. }
                | Self::NoCardInAnyReader { .. }
                | Self::NoCard { .. }
                | Self::ReaderUnavailable { .. }
                | Self::CardInUse { .. }
                | Self::Emulator { .. }
                | Self::EmulatorInUse { .. }
        )
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i}: {n:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_cause_and_fix() {
        let e = TransportError::NoService {
            detail: "no pcscd".into(),
        };
        let text = e.to_string();
        assert!(text.contains("pcscd") && text.contains("systemctl start"));
        let e = TransportError::ReaderNotFound {
            selector: "yubi".into(),
            readers: vec!["Virtual PCD 00 00".into(), "Virtual PCD 00 01".into()],
        };
        assert_eq!(
            e.to_string(),
            "no reader matches \"yubi\"; readers: 0: \"Virtual PCD 00 00\", 1: \"Virtual PCD 00 \
             01\"; give --reader (or SMSR_READER) an exact name, an index from `smsr readers`, \
             or a unique part of a name"
        );
        let e = TransportError::CardInUse { reader: "R".into() };
        assert!(e.to_string().contains("--exclusive"));
        assert!(e.is_setup_problem());
        assert!(!TransportError::CardReset { reader: "R".into() }.is_setup_problem());
        let e = TransportError::EmulatorInUse {
            path: "card.json".into(),
            pid: Some(7),
        };
        assert_eq!(
            e.to_string(),
            "card in use: process 7 serves the card state card.json (stop that process, or use \
             another state file)"
        );
        assert!(e.is_setup_problem());
    }

    #[test]
    fn send_parses_and_rejects_short_responses() {
        let mut card = fake_card::FakeCard::new();
        let select = CommandApdu::new(0, 0xA4, 4, 0)
            .with_data(fake_card::AID.to_vec())
            .with_le(256);
        let r = card.send(&select).unwrap();
        assert!(r.sw.is_success());
        card.answer_next(vec![0x90]);
        let err = card.send(&select).unwrap_err();
        assert!(matches!(
            err,
            TransportError::ResponseTooShort { len: 1, .. }
        ));
        let too_long = CommandApdu::new(0, 0xD6, 0, 0).with_data(vec![0; 70000]);
        assert!(matches!(
            card.send(&too_long),
            Err(TransportError::InvalidCommand(_))
        ));
    }
}
