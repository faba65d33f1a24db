//! A card in a PC/SC reader (PC/SC Workgroup specification part 5; pcsc-lite on Linux).
//!
//! The only module that uses the `pcsc` crate. Every `pcsc::Error` is mapped here to a
//! [`TransportError`] that names the cause and the fix ([`map_error`]).
//!
//! - Readers are listed with their card presence and ATR from `SCardGetStatusChange`.
//! - A reader is chosen by [`select_reader`] (exact name, index, or unique substring; default:
//!   the first reader holding a card).
//! - Shared or exclusive access; protocol T=0, T=1, either as PC/SC picks (`any`), or `auto`:
//!   T=1 when the card offers it, else T=0.
//! - [`Transport::reset`] is `SCardReconnect(…, SCARD_RESET_CARD)` and reads the ATR again.
//! - When PC/SC reports that another program reset the card, the connection is re-established
//!   (`SCARD_LEAVE_CARD`) and [`TransportError::CardReset`] is returned: the next command works,
//!   but the session state on the card is gone.
//! - Dropping the transport disconnects with `SCARD_RESET_CARD` (what the `pcsc` crate does), so
//!   no selection or secure channel outlives the process.

use super::readers::{select_reader, ReaderInfo};
use super::{Transport, TransportError};
use crate::hexfmt;
use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use std::ffi::CString;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which transmission protocol to ask PC/SC for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProtocolChoice {
    /// T=1 if the card offers it, else T=0.
    #[default]
    Auto,
    /// T=0 only.
    T0,
    /// T=1 only.
    T1,
    /// Whatever PC/SC negotiates (usually the first protocol in the ATR).
    Any,
}

impl fmt::Display for ProtocolChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::T0 => "T=0",
            Self::T1 => "T=1",
            Self::Any => "any",
        })
    }
}

impl FromStr for ProtocolChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "t0" | "t=0" => Ok(Self::T0),
            "t1" | "t=1" => Ok(Self::T1),
            "any" => Ok(Self::Any),
            _ => Err(format!("unknown protocol {s:?}: use t0, t1, any or auto")),
        }
    }
}

/// How to connect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcscOptions {
    /// `--reader`: exact name, index or unique substring; `None` for the first reader with a
    /// card.
    pub reader: Option<String>,
    /// Exclusive access (no other program may use the card meanwhile).
    pub exclusive: bool,
    pub protocol: ProtocolChoice,
}

/// A connected card.
pub struct PcscTransport {
    card: Card,
    reader: String,
    atr: Vec<u8>,
    share: ShareMode,
    protocols: Protocols,
    buffer: Vec<u8>,
}

impl fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .field("atr", &hexfmt::upper(&self.atr))
            .field("share", &self.share)
            .field("protocols", &self.protocols)
            .finish_non_exhaustive()
    }
}

/// Checks that the PC/SC service answers (`SCardEstablishContext`).
pub fn check_service() -> Result<(), TransportError> {
    establish().map(drop)
}

/// Lists the readers, with card presence and ATR.
pub fn list_readers() -> Result<Vec<ReaderInfo>, TransportError> {
    list_with(&establish()?)
}

fn establish() -> Result<Context, TransportError> {
    Context::establish(Scope::User).map_err(|e| map_error(e, "connect to pcscd", None))
}

fn list_with(context: &Context) -> Result<Vec<ReaderInfo>, TransportError> {
    let names = match context.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(map_error(e, "list the readers", None)),
    };
    let mut states: Vec<ReaderState> = names
        .into_iter()
        .map(|name| ReaderState::new(name, State::UNAWARE))
        .collect();
    if states.is_empty() {
        return Ok(Vec::new());
    }
    context
        .get_status_change(Duration::ZERO, &mut states)
        .map_err(|e| map_error(e, "read the readers' state", None))?;
    Ok(states
        .iter()
        .map(|s| {
            let state = s.event_state();
            let present = state.contains(State::PRESENT);
            ReaderInfo {
                name: s.name().to_string_lossy().into_owned(),
                card_present: present,
                atr: (present && !s.atr().is_empty()).then(|| s.atr().to_vec()),
                exclusive: state.contains(State::EXCLUSIVE),
                in_use: state.contains(State::INUSE),
                mute: state.contains(State::MUTE),
            }
        })
        .collect())
}

impl PcscTransport {
    /// Chooses a reader as `options` say and connects to its card.
    pub fn connect(options: &PcscOptions) -> Result<Self, TransportError> {
        let context = establish()?;
        let readers = list_with(&context)?;
        let chosen = select_reader(options.reader.as_deref(), &readers)?;
        if !chosen.card_present {
            return Err(TransportError::NoCard {
                reader: chosen.name.clone(),
            });
        }
        let reader = chosen.name.clone();
        let name = CString::new(reader.clone()).map_err(|_| TransportError::ReaderNotFound {
            selector: reader.clone(),
            readers: readers.iter().map(|r| r.name.clone()).collect(),
        })?;
        let share = if options.exclusive {
            ShareMode::Exclusive
        } else {
            ShareMode::Shared
        };
        let attempts: &[Protocols] = match options.protocol {
            ProtocolChoice::Auto => &[Protocols::T1, Protocols::T0],
            ProtocolChoice::T0 => &[Protocols::T0],
            ProtocolChoice::T1 => &[Protocols::T1],
            ProtocolChoice::Any => &[Protocols::ANY],
        };
        let mut last = None;
        for &protocols in attempts {
            match context.connect(&name, share, protocols) {
                Ok(card) => {
                    let mut transport = Self {
                        card,
                        reader,
                        atr: Vec::new(),
                        share,
                        protocols,
                        buffer: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
                    };
                    transport.atr = transport.read_atr()?;
                    tracing::debug!(
                        reader = %transport.reader,
                        protocol = ?transport.protocols,
                        atr = %hexfmt::upper(&transport.atr),
                        "connected"
                    );
                    return Ok(transport);
                }
                Err(pcsc::Error::ProtoMismatch) => last = Some(pcsc::Error::ProtoMismatch),
                Err(e) => return Err(map_error(e, "connect to the card", Some(&reader))),
            }
        }
        Err(match last {
            Some(pcsc::Error::ProtoMismatch) | None => TransportError::ProtocolMismatch {
                reader,
                requested: options.protocol.to_string(),
            },
            Some(e) => map_error(e, "connect to the card", Some(&reader)),
        })
    }

    /// The protocol in use: `"T=0"` or `"T=1"`.
    pub fn protocol(&self) -> Option<&'static str> {
        match self.card.status2_owned().ok()?.protocol2()? {
            pcsc::Protocol::T0 => Some("T=0"),
            pcsc::Protocol::T1 => Some("T=1"),
            pcsc::Protocol::RAW => Some("raw"),
        }
    }

    fn read_atr(&self) -> Result<Vec<u8>, TransportError> {
        self.card
            .status2_owned()
            .map(|s| s.atr().to_vec())
            .map_err(|e| map_error(e, "read the ATR", Some(&self.reader)))
    }

    fn reconnect(&mut self, disposition: Disposition) -> Result<(), TransportError> {
        self.card
            .reconnect(self.share, self.protocols, disposition)
            .map_err(|e| map_error(e, "reconnect to the card", Some(&self.reader)))?;
        self.atr = self.read_atr()?;
        Ok(())
    }
}

impl Transport for PcscTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        match self.card.transmit(command, &mut self.buffer) {
            Ok(response) => Ok(response.to_vec()),
            Err(pcsc::Error::ResetCard) => {
                // Acknowledge the reset so the next command can go through.
                self.reconnect(Disposition::LeaveCard)?;
                Err(TransportError::CardReset {
                    reader: self.reader.clone(),
                })
            }
            Err(e) => Err(map_error(e, "send a command", Some(&self.reader))),
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.reconnect(Disposition::ResetCard)?;
        Ok(self.atr.clone())
    }

    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn reader_name(&self) -> String {
        self.reader.clone()
    }
}

/// The [`TransportError`] for a PC/SC error met while doing `operation` (on `reader`).
pub fn map_error(
    error: pcsc::Error,
    operation: &'static str,
    reader: Option<&str>,
) -> TransportError {
    use pcsc::Error as E;
    let reader_name = || reader.unwrap_or("the reader").to_owned();
    match error {
        E::NoService | E::ServiceStopped => TransportError::NoService {
            detail: error.to_string(),
        },
        // Before a card is involved, these mean the link to pcscd itself failed.
        E::Shutdown | E::InvalidHandle if reader.is_none() => TransportError::NoService {
            detail: error.to_string(),
        },
        E::NoReadersAvailable => TransportError::NoReaders,
        E::UnknownReader | E::ReaderUnavailable => TransportError::ReaderUnavailable {
            reader: reader_name(),
        },
        E::NoSmartcard => TransportError::NoCard {
            reader: reader_name(),
        },
        E::RemovedCard => TransportError::CardRemoved {
            reader: reader_name(),
        },
        E::ResetCard => TransportError::CardReset {
            reader: reader_name(),
        },
        E::SharingViolation => TransportError::CardInUse {
            reader: reader_name(),
        },
        E::ProtoMismatch => TransportError::ProtocolMismatch {
            reader: reader_name(),
            requested: "the one asked for".to_owned(),
        },
        E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard | E::InvalidAtr => {
            TransportError::CardUnresponsive {
                reader: reader_name(),
                detail: error.to_string(),
            }
        }
        E::CommError | E::CommDataLost | E::Timeout | E::NotReady | E::WaitedTooLong => {
            TransportError::ResponseLost {
                reader: reader_name(),
                detail: error.to_string(),
            }
        }
        other => TransportError::Pcsc {
            operation,
            reader: reader.map(str::to_owned),
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_causes() {
        use pcsc::Error as E;
        let r = Some("Virtual PCD 00 00");
        type Check = fn(&TransportError) -> bool;
        let cases: Vec<(E, Check)> = vec![
            (E::NoService, |e| {
                matches!(e, TransportError::NoService { .. })
            }),
            (E::ServiceStopped, |e| {
                matches!(e, TransportError::NoService { .. })
            }),
            (E::NoReadersAvailable, |e| {
                matches!(e, TransportError::NoReaders)
            }),
            (
                E::NoSmartcard,
                |e| matches!(e, TransportError::NoCard { reader } if reader == "Virtual PCD 00 00"),
            ),
            (E::RemovedCard, |e| {
                matches!(e, TransportError::CardRemoved { .. })
            }),
            (E::ResetCard, |e| {
                matches!(e, TransportError::CardReset { .. })
            }),
            (E::SharingViolation, |e| {
                matches!(e, TransportError::CardInUse { .. })
            }),
            (E::ProtoMismatch, |e| {
                matches!(e, TransportError::ProtocolMismatch { .. })
            }),
            (E::UnresponsiveCard, |e| {
                matches!(e, TransportError::CardUnresponsive { .. })
            }),
            (E::CommError, |e| {
                matches!(e, TransportError::ResponseLost { .. })
            }),
            (E::UnknownReader, |e| {
                matches!(e, TransportError::ReaderUnavailable { .. })
            }),
            (E::InsufficientBuffer, |e| {
                matches!(
                    e,
                    TransportError::Pcsc {
                        operation: "send a command",
                        ..
                    }
                )
            }),
        ];
        for (error, check) in cases {
            let mapped = map_error(error, "send a command", r);
            assert!(check(&mapped), "{error:?} -> {mapped:?}");
            assert!(!mapped.to_string().is_empty());
        }
        assert!(matches!(
            map_error(E::InvalidHandle, "connect to pcscd", None),
            TransportError::NoService { .. }
        ));
    }

    #[test]
    fn protocol_choice_text() {
        for (text, choice) in [
            ("t0", ProtocolChoice::T0),
            ("T=1", ProtocolChoice::T1),
            ("any", ProtocolChoice::Any),
            ("Auto", ProtocolChoice::Auto),
        ] {
            assert_eq!(text.parse::<ProtocolChoice>(), Ok(choice));
        }
        assert!("t2".parse::<ProtocolChoice>().is_err());
        assert_eq!(ProtocolChoice::T1.to_string(), "T=1");
    }
}
