//! The ISO/IEC 7816 transport rules a terminal sees, around the [`Card`]: response data held
//! for GET RESPONSE (`61xx`, ISO/IEC 7816-3 §12.2 / 7816-4 §5.1.3), wrong-Le answers (`6Cxx`),
//! and command chaining (ISO/IEC 7816-4 §5.1.1.1, CLA b5).
//!
//! Works for T=1 style clients (case 4 with Le: the data comes directly) and for T=0 style
//! clients that send case 4 commands without Le:
//! - no Le (case 1/3) and response data: `61xx` (`xx` = bytes available, `00` = 256 or more);
//!   the data waits for GET RESPONSE `0X C0 00 00 Le` on the same logical channel;
//! - GET RESPONSE returns up to Ne bytes, then `61xx` again while data remains, else the
//!   command's own status word; without pending data it is `6985`;
//! - Ne smaller than the data: `6Cxx` with the exact length if that is at most 256, so the
//!   client resends; above 256, the first Ne bytes with `61xx` for the rest;
//! - Ne at least the data length: data and status word directly.
//!
//! Any other command on a channel discards the data pending there. Chained commands (b5 set)
//! are answered `9000` and their data accumulated until the last one (b5 clear), which must
//! have the same INS P1 P2 (else `6883`); the whole (at most 65535 bytes, else `6700`) is then
//! processed as one command. Pending data and chains are per logical channel.

use crate::card::{Card, INS_MANAGE_CHANNEL, LOGICAL_CHANNELS};
use crate::class::{Class, CLA_CHAINING};
use smsr_proto::apdu::{EXTENDED_LC_MAX, SHORT_LE_MAX};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// GET RESPONSE.
pub const INS_GET_RESPONSE: u8 = 0xC0;

/// Response data waiting for GET RESPONSE.
#[derive(Debug)]
struct Pending {
    data: Vec<u8>,
    /// Bytes already sent.
    sent: usize,
    /// The status word of the command that produced the data.
    sw: StatusWord,
    /// The command ended with a warning and its data waits for a GET RESPONSE whose Le
    /// matches (ETSI TS 102 221 §7.3.1.1.4, case 4b): any other Le gets `6Cxx` first.
    warning_first: bool,
}

/// A command chain being received.
#[derive(Debug)]
struct Chain {
    /// CLA with the chaining bit cleared.
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: Vec<u8>,
}

/// Transport state of one logical channel.
#[derive(Debug, Default)]
struct ChannelTransport {
    pending: Option<Pending>,
    chain: Option<Chain>,
}

/// The card as a terminal sees it through the ISO transport.
#[derive(Debug)]
pub struct Adapter {
    card: Card,
    channels: [ChannelTransport; LOGICAL_CHANNELS as usize],
}

impl Adapter {
    /// Wraps a card.
    pub fn new(card: Card) -> Self {
        Self {
            card,
            channels: Default::default(),
        }
    }

    /// The card.
    pub fn card(&self) -> &Card {
        &self.card
    }

    /// The card, mutably.
    pub fn card_mut(&mut self) -> &mut Card {
        &mut self.card
    }

    /// Clears all volatile state (card and transport).
    pub fn reset(&mut self) {
        self.card.reset();
        self.channels = Default::default();
    }

    /// Processes one C-APDU as received and returns the R-APDU bytes (data ‖ SW1 SW2).
    pub fn transmit(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.process(bytes).to_bytes()
    }

    fn process(&mut self, bytes: &[u8]) -> ResponseApdu {
        let Ok(cmd) = CommandApdu::parse(bytes) else {
            return status(StatusWord::WrongLength);
        };
        let Some(class) = Class::parse(cmd.cla) else {
            return status(StatusWord::ClaNotSupported);
        };
        if !self.card.is_channel_open(class.channel) {
            return status(StatusWord::LogicalChannelNotSupported);
        }
        let Some(slot) = self.channels.get_mut(usize::from(class.channel)) else {
            return status(StatusWord::LogicalChannelNotSupported);
        };

        // The T=0 fetch of pending data: a terminal repeats the CLA of the command that left
        // it (pcsc-lite, pySim: `80 C0` after a GlobalPlatform command), so a proprietary
        // class is a GET RESPONSE too while data is pending; otherwise `80 C0` is not one.
        let is_get_response =
            cmd.ins == INS_GET_RESPONSE && (class.is_interindustry() || slot.pending.is_some());
        if is_get_response && !class.chaining && slot.chain.is_none() {
            return get_response(slot, class, &cmd);
        }
        slot.pending = None;

        let cmd = if class.chaining {
            return receive_chained(slot, cmd);
        } else if let Some(chain) = slot.chain.take() {
            match complete_chain(chain, cmd) {
                Ok(whole) => whole,
                Err(sw) => return status(sw),
            }
        } else {
            cmd
        };

        let response = self.card.handle(&cmd);
        if cmd.ins == INS_MANAGE_CHANNEL {
            // Closing a channel ends whatever was pending on it.
            for (number, transport) in (0u8..).zip(self.channels.iter_mut()) {
                if !self.card.is_channel_open(number) {
                    *transport = ChannelTransport::default();
                }
            }
        }
        match self.channels.get_mut(usize::from(class.channel)) {
            Some(slot) => deliver(slot, response, cmd.le),
            None => response,
        }
    }
}

/// Applies Ne to a response (see the module documentation).
fn deliver(slot: &mut ChannelTransport, response: ResponseApdu, le: Option<usize>) -> ResponseApdu {
    let available = response.data.len();
    if available == 0 {
        return response;
    }
    match le {
        Some(ne) if ne >= available => response,
        Some(_) if available <= SHORT_LE_MAX => status(StatusWord::WrongLe(len_byte(available))),
        Some(ne) => {
            let ResponseApdu { mut data, sw } = response;
            let rest = data.split_off(ne);
            let remaining = rest.len();
            slot.pending = Some(Pending {
                data: rest,
                sent: 0,
                sw,
                warning_first: false,
            });
            ResponseApdu::new(data, StatusWord::BytesAvailable(len_byte(remaining)))
        }
        None => {
            // T=0, case 4 (ETSI TS 102 221 §7.3.1.1.4): data with 9000 is announced by 61xx
            // (4a); data with a warning (62xx/63xx) by the warning itself, and the terminal's
            // GET RESPONSE then learns the length from 6Cxx (4b).
            let [sw1, _] = response.sw.to_bytes();
            let warning = sw1 == 0x62 || sw1 == 0x63;
            let sw = response.sw;
            slot.pending = Some(Pending {
                data: response.data,
                sent: 0,
                sw,
                warning_first: warning,
            });
            if warning {
                status(sw)
            } else {
                status(StatusWord::BytesAvailable(len_byte(available)))
            }
        }
    }
}

/// GET RESPONSE `0X C0 00 00 Le` (no Le is taken as 256).
fn get_response(slot: &mut ChannelTransport, class: Class, cmd: &CommandApdu) -> ResponseApdu {
    // `84 C0` after a secured GlobalPlatform command is the transport's fetch (its CLA
    // repeated), not a secured command: only an interindustry class with secure messaging is.
    if class.secure_messaging && !class.proprietary {
        slot.pending = None;
        return status(StatusWord::SecureMessagingNotSupported);
    }
    if cmd.p1 != 0 || cmd.p2 != 0 {
        slot.pending = None;
        return status(StatusWord::IncorrectP1P2);
    }
    if !cmd.data.is_empty() {
        slot.pending = None;
        return status(StatusWord::WrongLength);
    }
    let Some(pending) = slot.pending.as_mut() else {
        return status(StatusWord::ConditionsOfUseNotSatisfied);
    };
    let ne = cmd.le.unwrap_or(SHORT_LE_MAX);
    if pending.warning_first {
        let available = pending.data.len().min(SHORT_LE_MAX);
        if ne != available {
            return status(StatusWord::WrongLe(len_byte(available)));
        }
        pending.warning_first = false;
    }
    let start = pending.sent.min(pending.data.len());
    let end = start.saturating_add(ne).min(pending.data.len());
    let chunk = pending.data[start..end].to_vec();
    pending.sent = end;
    let remaining = pending.data.len() - end;
    if remaining == 0 {
        let sw = pending.sw;
        slot.pending = None;
        ResponseApdu::new(chunk, sw)
    } else {
        ResponseApdu::new(chunk, StatusWord::BytesAvailable(len_byte(remaining)))
    }
}

/// A command with the chaining bit: starts or continues the channel's chain.
fn receive_chained(slot: &mut ChannelTransport, cmd: CommandApdu) -> ResponseApdu {
    let cla = cmd.cla & !CLA_CHAINING;
    match slot.chain.as_mut() {
        None => {
            slot.chain = Some(Chain {
                cla,
                ins: cmd.ins,
                p1: cmd.p1,
                p2: cmd.p2,
                data: cmd.data,
            });
            status(StatusWord::Success)
        }
        Some(chain) if !chain.continues_with(cla, &cmd) => {
            slot.chain = None;
            status(StatusWord::LastCommandOfChainExpected)
        }
        Some(chain) if chain.data.len() + cmd.data.len() > EXTENDED_LC_MAX => {
            slot.chain = None;
            status(StatusWord::WrongLength)
        }
        Some(chain) => {
            chain.data.extend_from_slice(&cmd.data);
            status(StatusWord::Success)
        }
    }
}

/// The last command of a chain: the reassembled command, or why the chain failed.
fn complete_chain(chain: Chain, last: CommandApdu) -> Result<CommandApdu, StatusWord> {
    if !chain.continues_with(last.cla, &last) {
        return Err(StatusWord::LastCommandOfChainExpected);
    }
    if chain.data.len() + last.data.len() > EXTENDED_LC_MAX {
        return Err(StatusWord::WrongLength);
    }
    let mut data = chain.data;
    data.extend_from_slice(&last.data);
    Ok(CommandApdu { data, ..last })
}

impl Chain {
    fn continues_with(&self, cla: u8, cmd: &CommandApdu) -> bool {
        (self.cla, self.ins, self.p1, self.p2) == (cla, cmd.ins, cmd.p1, cmd.p2)
    }
}

/// The `xx` of `61xx`/`6Cxx`: the length, `00` standing for 256 or more.
fn len_byte(n: usize) -> u8 {
    u8::try_from(n.min(SHORT_LE_MAX) % SHORT_LE_MAX).unwrap_or_default()
}

fn status(sw: StatusWord) -> ResponseApdu {
    ResponseApdu::status(sw)
}

#[cfg(test)]
mod tests;
