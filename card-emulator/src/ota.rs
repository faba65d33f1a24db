//! SCP80 on the card: remote management of the ISD-R by SMS-PP data download (ETSI TS 102 225,
//! TS 102 226, 3GPP TS 31.115/31.111; SGP.02 §2.4.3 ES5 over SMS; `shared/protocol/SGP02.md`
//! §6.3 and §6.5).
//!
//! ```text
//! 80 C2 00 00 Lc D1 L { 82 02 83 81, [06 L SC address], 8B L <SMS-DELIVER, PID 7F, DCS F6,
//!                       UDH 02 70 00 (concatenation 00 03 … when split), command packet> }
//!   → 9000 with the PoR (02 71 00 …) when SPI2 asks for it in the ENVELOPE response,
//!   → 91xx when SPI2 asks for it by SMS-SUBMIT: FETCH (80 12 00 00 xx) gives the SEND SHORT
//!     MESSAGE, TERMINAL RESPONSE (80 14 …) is answered 9000,
//!   → 9000 without data for a part of a concatenated message or when no PoR is due.
//! ```
//!
//! The ISD-R answers TAR [`crate::eum::isd_r_tar`] (`000001`) with the SCP80 key sets the EUM
//! gave it ([`crate::CardState::scp80_keysets`]; their counters persist). An accepted packet's
//! expanded or compact script runs on the ISD-R under the rules of an SCP03 session with C-MAC
//! (ES5 functions, INSTALL, STORE DATA, DELETE, GET STATUS, GET DATA; ES8 key establishment,
//! whose two STORE DATA travel in two scripts, see `isd_r/es8.rs`); PUT KEY is refused (`6985`).
//! The ISD-R state of these scripts (STORE DATA blocks, personalization) lasts until the card
//! is reset.
//!
//! Each ISD-P answers its own TAR (bytes 13–15 of its AID) with the same key sets and minimum
//! security level: ES8 profile download, SCP03t scripts run on the ISD-P (`isd_p/download.rs`).

use crate::admin_agent::{Agent, Ending};
use crate::eum::isd_r_tar;
use crate::isd_r;
use crate::nv::Nv;
use smsr_proto::cat::{self, Event, Proactive, TerminalResponse};
use smsr_proto::ota::card::OtaCard;
use smsr_proto::ota::scp80::MinimumSecurityLevel;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// ENVELOPE (TS 102 221 §10.1.3), CLA `80`.
pub const INS_ENVELOPE: u8 = 0xC2;
/// FETCH (TS 102 221 §10.1.4), CLA `80`.
pub const INS_FETCH: u8 = 0x12;
/// TERMINAL RESPONSE (TS 102 221 §10.1.5), CLA `80`.
pub const INS_TERMINAL_RESPONSE: u8 = 0x14;

/// The minimum security level of the ISD-R's TAR: cryptographic checksum, ciphering and a
/// counter that must be higher (SPI1 `16`). Reasoning: SGP.02 asks for every ES5 command to be
/// integrity- and confidentiality-protected; `16` is the SPI1 SGP.02 deployments use
/// (`shared/protocol/SGP02.md` §6.3) and what the SCP03 path asks for (C-MAC) and more.
pub const ISD_R_MSL: MinimumSecurityLevel = MinimumSecurityLevel::CC_CIPHERED_COUNTER;

/// The card's SMS-PP state: reassembly, the ISD-R's state for OTA scripts, the ISD-Ps'
/// SCP03t receivers, and a proactive command waiting for FETCH. Volatile: a reset clears it.
#[derive(Debug, Default)]
pub(crate) struct Ota {
    card: OtaCard,
    isd_r: isd_r::Session,
    downloads: crate::isd_p::download::Downloads,
    proactive: Option<Vec<u8>>,
    /// The SCP81 session (GP Amendment B over BIP), while one runs.
    admin: Option<Agent>,
    /// How the last SCP81 session ended.
    pub(crate) last_admin_ending: Option<Ending>,
}

/// The event download ENVELOPE's tag (TS 102 223 §7.5).
const TAG_EVENT_DOWNLOAD: u8 = 0xD6;

/// TERMINAL PROFILE (TS 102 221 §10.1.2), CLA `80`.
pub const INS_TERMINAL_PROFILE: u8 = 0x10;

/// The events the card subscribes to when the terminal announces BIP: Data available and
/// Channel status (TS 102 223 §8.25).
pub const BIP_EVENTS: [u8; 2] = [cat::event::DATA_AVAILABLE, cat::event::CHANNEL_STATUS];

/// `91xx` for a proactive command of `len` bytes (`00` for 256).
fn pending_sw(len: usize) -> StatusWord {
    StatusWord::ProactiveCommandPending(u8::try_from(len & 0xFF).unwrap_or(0))
}

impl Ota {
    /// ENVELOPE (SMS-PP download).
    pub(crate) fn envelope(&mut self, nv: &mut Nv, cmd: &CommandApdu) -> ResponseApdu {
        if cmd.data.first() == Some(&TAG_EVENT_DOWNLOAD) {
            return self.event(cmd);
        }
        let Self {
            card,
            isd_r,
            downloads,
            proactive,
            admin,
            ..
        } = self;
        card.entity.keysets = nv.get().scp80_keysets().to_vec();
        card.entity.tars = std::iter::once(isd_r_tar())
            .chain(
                crate::isd_p::download::isd_p_tars(nv.get())
                    .into_iter()
                    .map(|(t, _)| t),
            )
            .map(|t| (t, ISD_R_MSL))
            .collect();
        downloads.forget_unkeyed(nv.get());
        let mut target = crate::isd_p::download::Router::new(isd_r, downloads, nv);
        target.admin_busy = admin.as_ref().is_some_and(|a| !a.finished());
        let outcome = card.envelope(cmd, &mut target);
        let started = target.started.take();
        let counters_moved = card
            .entity
            .keysets
            .iter()
            .zip(nv.get().scp80_keysets())
            .any(|(now, stored)| now.counter != stored.counter);
        if counters_moved {
            for (stored, now) in nv
                .get_mut()
                .scp80_keysets_mut()
                .iter_mut()
                .zip(&card.entity.keysets)
            {
                stored.counter = now.counter;
            }
        }
        if outcome.proactive.is_some() {
            *proactive = outcome.proactive;
        }
        if let Some(agent) = started {
            *admin = Some(agent);
            return self.with_pending(outcome.response);
        }
        outcome.response
    }

    /// `response` with `91xx` when a proactive command waits.
    fn with_pending(&self, response: ResponseApdu) -> ResponseApdu {
        let len = self
            .proactive
            .as_ref()
            .map(Vec::len)
            .or_else(|| self.admin.as_ref().and_then(Agent::pending_len));
        match len {
            Some(n) if response.sw.is_success() => ResponseApdu::new(response.data, pending_sw(n)),
            _ => response,
        }
    }

    /// An event download ENVELOPE (`D6`): BIP events go to the SCP81 session.
    fn event(&mut self, cmd: &CommandApdu) -> ResponseApdu {
        let Ok(event) = Event::parse(&cmd.data) else {
            return ResponseApdu::status(StatusWord::IncorrectData);
        };
        if let Some(agent) = self.admin.as_mut() {
            agent.event(&event);
        }
        self.with_pending(ResponseApdu::success(vec![]))
    }

    /// TERMINAL PROFILE: a terminal announcing BIP gets SET UP EVENT LIST for the events the
    /// SCP81 session needs.
    pub(crate) fn terminal_profile(&mut self, cmd: &CommandApdu) -> ResponseApdu {
        if cmd.data.is_empty() {
            return ResponseApdu::status(StatusWord::WrongLength);
        }
        if cat::announces_bip(&cmd.data) {
            let setup = Proactive::SetUpEventList {
                number: 1,
                events: BIP_EVENTS.to_vec(),
            };
            if let Ok(bytes) = setup.to_bytes() {
                self.proactive = Some(bytes);
            }
        }
        self.with_pending(ResponseApdu::success(vec![]))
    }

    /// FETCH: the pending proactive command (the PoR's SEND SHORT MESSAGE); `6985` when none
    /// is pending.
    pub(crate) fn fetch(&mut self, cmd: &CommandApdu) -> ResponseApdu {
        if !cmd.data.is_empty() {
            return ResponseApdu::status(StatusWord::WrongLength);
        }
        let command = self
            .proactive
            .take()
            .or_else(|| self.admin.as_mut().and_then(Agent::fetch));
        match command {
            Some(command) => ResponseApdu::success(command),
            None => ResponseApdu::status(StatusWord::ConditionsOfUseNotSatisfied),
        }
    }

    /// TERMINAL RESPONSE: the terminal reports the proactive command's outcome; the SCP81
    /// session takes those of its commands and may have the next one waiting (`91xx`).
    pub(crate) fn terminal_response(&mut self, nv: &mut Nv, cmd: &CommandApdu) -> ResponseApdu {
        if cmd.data.is_empty() {
            return ResponseApdu::status(StatusWord::WrongLength);
        }
        let Self {
            isd_r,
            downloads,
            admin,
            ..
        } = self;
        if let (Some(agent), Ok(response)) = (admin.as_mut(), TerminalResponse::parse(&cmd.data)) {
            if agent.awaits(&response.details) {
                downloads.forget_unkeyed(nv.get());
                let mut target = crate::isd_p::download::Router::new(isd_r, downloads, nv);
                agent.terminal_response(&response, &mut target);
            }
            if agent.finished() {
                self.last_admin_ending = agent.ending().cloned();
                self.admin = None;
            }
        }
        self.with_pending(ResponseApdu::success(vec![]))
    }
}

#[cfg(test)]
mod tests;
