//! The UICC end to end: SMS-PP download ENVELOPEs in, reassembly, SCP80 verification, the
//! expanded-format script run against an application, and the PoR out, in the ENVELOPE's
//! response data or (SPI2 b6) in a SEND SHORT MESSAGE proactive command.
//!
//! Status words of the ENVELOPE: `9000` with the PoR (or without data when there is no PoR yet:
//! a part of a concatenated message, a packet too malformed to answer, no PoR requested);
//! `91xx` when a SEND SHORT MESSAGE of `xx` bytes waits; `6A80` for an ENVELOPE or TPDU that
//! does not decode.

use super::executor::{execute_bytes, execute_compact, Execution, ScriptTarget};
use super::scp80::{PorStatus, ReceivingEntity, Reception};
use super::script::ScriptError;
use super::sms::{Reassembler, SendShortMessage, SmsPpDownload, SmsSubmit};
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;

/// What one ENVELOPE produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeOutcome {
    /// The ENVELOPE's response.
    pub response: ResponseApdu,
    /// The proactive command (SEND SHORT MESSAGE with the PoR) for the next FETCH, if any.
    pub proactive: Option<Vec<u8>>,
    /// The script run, if a command packet was accepted.
    pub execution: Option<Execution>,
}

impl EnvelopeOutcome {
    fn status(sw: StatusWord) -> Self {
        Self {
            response: ResponseApdu::status(sw),
            proactive: None,
            execution: None,
        }
    }
}

/// SCP80 over SMS-PP on the card.
#[derive(Debug, Default)]
pub struct OtaCard {
    pub entity: ReceivingEntity,
    reassembler: Reassembler,
}

impl OtaCard {
    /// A card with these key sets and TARs.
    pub fn new(entity: ReceivingEntity) -> Self {
        Self {
            entity,
            reassembler: Reassembler::new(),
        }
    }

    /// Handles one ENVELOPE (SMS-PP download); `target` runs the scripts.
    pub fn envelope(
        &mut self,
        cmd: &CommandApdu,
        target: &mut impl ScriptTarget,
    ) -> EnvelopeOutcome {
        let Ok(download) = SmsPpDownload::from_apdu(cmd) else {
            return EnvelopeOutcome::status(StatusWord::IncorrectData);
        };
        let packet = match self.reassembler.push(&download.tpdu) {
            Ok(Some(p)) => p,
            Ok(None) => return EnvelopeOutcome::status(StatusWord::Success),
            Err(_) => return EnvelopeOutcome::status(StatusWord::IncorrectData),
        };
        let (por, via_submit, execution) = match self.entity.receive(&packet) {
            Reception::Dropped(_) => return EnvelopeOutcome::status(StatusWord::Success),
            Reception::Rejected { por, .. } => {
                let submit = super::scp80::CommandPacket::peek(&packet)
                    .ok()
                    .and_then(|c| c.spi.ok())
                    .is_some_and(|s| s.por_via_submit);
                (por, submit, None)
            }
            Reception::Accepted(command) => {
                target.addressed(command.header.tar);
                // Expanded format (a scripting template, what SGP.02 uses), else the compact
                // format of SIM RFM/RAM (TS 102 226 §5.1.1), answered in kind.
                // GP Amendment B: the administration session triggering parameters (`81`)
                // open an HTTPS session; the PoR answers like a compact script of one command
                // (number of commands, status word).
                let trigger = (command.data.first() == Some(&0x81))
                    .then(|| target.admin_trigger(&command.data))
                    .flatten();
                let (execution, data) = if let Some(sw) = trigger {
                    let [sw1, sw2] = sw.to_u16().to_be_bytes();
                    (None, vec![0x01, sw1, sw2])
                } else {
                    match execute_bytes(&command.data, target) {
                        Ok(e) => {
                            let data = e.response.to_bytes();
                            (Some(e), data)
                        }
                        Err(ScriptError::NotATemplate { .. }) => {
                            (None, execute_compact(&command.data, target).to_bytes())
                        }
                        Err(_) => (None, Vec::new()),
                    }
                };
                let por = self
                    .entity
                    .por(&command.header, PorStatus::Ok, &data)
                    .ok()
                    .flatten();
                (por, command.header.spi.por_via_submit, execution)
            }
        };
        let Some(por) = por else {
            return EnvelopeOutcome {
                response: ResponseApdu::success(vec![]),
                proactive: None,
                execution,
            };
        };
        if !via_submit {
            return EnvelopeOutcome {
                response: ResponseApdu::success(por),
                proactive: None,
                execution,
            };
        }
        let proactive = SmsSubmit::with_header(download.tpdu.originator.clone(), &por)
            .and_then(|tpdu| {
                SendShortMessage {
                    number: 1,
                    qualifier: 0,
                    alpha: None,
                    address: None,
                    tpdu,
                }
                .to_bytes()
            })
            .ok()
            .filter(|p| p.len() <= 256);
        match proactive {
            Some(p) => EnvelopeOutcome {
                response: ResponseApdu::status(StatusWord::ProactiveCommandPending(
                    u8::try_from(p.len() & 0xFF).unwrap_or(0),
                )),
                proactive: Some(p),
                execution,
            },
            None => EnvelopeOutcome {
                response: ResponseApdu::success(vec![]),
                proactive: None,
                execution,
            },
        }
    }
}
