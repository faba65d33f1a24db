//! The card logic, without I/O: [`Card::handle`] takes one whole command APDU (short or
//! extended, chaining already resolved) and returns the whole response.
//!
//! It implements the card-level commands, SELECT (ISO/IEC 7816-4 §11.1.1, ETSI TS 102 221
//! §11.1.1, GlobalPlatform Card Specification v2.3.1 §11.9) and MANAGE CHANNEL (ISO/IEC 7816-4
//! §11.1.2, TS 102 221 §11.1.17, GP §11.7), keeps the selection of each logical channel and
//! routes every other command to the application selected on its channel. While an ISD-P
//! holding an installed package is ENABLED, SELECT by FID/path works in that profile's file
//! system and SELECT by AID also finds its ADFs (the USIM); see [`crate::usim`]. The ISO transport
//! rules a terminal sees (61xx, 6Cxx, GET RESPONSE, chaining) are [`crate::adapter`]'s.
//!
//! General checks, in order: class byte (`6E00`), logical channel open (`6881`), chaining
//! bit (`6884`: chains are reassembled before reaching the card), then the instruction.
//! ENVELOPE, FETCH and TERMINAL RESPONSE (CLA `80`, basic channel) go to [`crate::ota`]
//! whatever is selected.

use crate::class::Class;
use crate::ecasd::{self, ECASD_AID};
use crate::fs::{self, MF_FILE_ID};
use crate::isd_p::sd as isd_p_sd;
use crate::isd_r::{self, ISD_R_AID};
use crate::nv::Nv;
use crate::ota;
use crate::state::CardState;
use crate::usim::{self, FsSelection};
use smsr_proto::scp03::SecurityLevel;
use smsr_proto::tlv::tlv;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// Number of logical channels: the basic channel 0 and channels 1–3.
pub const LOGICAL_CHANNELS: u8 = 4;

/// SELECT.
pub const INS_SELECT: u8 = 0xA4;
/// MANAGE CHANNEL.
pub const INS_MANAGE_CHANNEL: u8 = 0x70;

/// Longest AID (ISO/IEC 7816-4 §12.2.3).
const AID_MAX: usize = 16;

/// The applications selectable by AID, in the order SELECT by partial AID finds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Application {
    IsdR,
    Ecasd,
}

impl Application {
    /// All of them, in SELECT order.
    pub const ALL: [Self; 2] = [Self::IsdR, Self::Ecasd];

    /// The instance AID.
    pub fn aid(self) -> &'static [u8] {
        match self {
            Self::IsdR => &ISD_R_AID,
            Self::Ecasd => &ECASD_AID,
        }
    }

    /// The FCI returned by SELECT (GP §11.9.3.1): `6F { 84 AID, A5 { 9F65 max data length } }`.
    pub fn fci(self) -> Vec<u8> {
        fci(self.aid())
    }

    fn selection(self) -> Selection {
        match self {
            Self::IsdR => Selection::IsdR(Box::default()),
            Self::Ecasd => Selection::Ecasd,
        }
    }
}

/// The FCI of a Security Domain (GP §11.9.3.1): `6F { 84 AID, A5 { 9F65 max data length } }`.
pub fn fci(aid: &[u8]) -> Vec<u8> {
    let proprietary = tlv(0xA5u8, &tlv(0x9F65u16, &[0xFF]));
    tlv(0x6Fu8, &[tlv(0x84u8, aid), proprietary].concat())
}

/// What is selected on a logical channel, as seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selected {
    /// The master file `3F00`.
    Mf,
    /// An application.
    Application(Application),
    /// A personalized ISD-P, by its AID.
    IsdP([u8; 16]),
    /// A file of the enabled profile other than its MF (an ADF, DF or EF).
    ProfileFile,
}

/// The current selection of a channel, with the selected application's volatile state.
#[derive(Debug)]
enum Selection {
    Mf,
    Ecasd,
    IsdR(Box<isd_r::Session>),
    IsdP(Box<isd_p_sd::Session>),
    /// A file of the enabled profile ([`crate::usim`]).
    Profile(FsSelection),
}

impl Selection {
    fn public(&self) -> Selected {
        match self {
            Self::Mf => Selected::Mf,
            Self::Ecasd => Selected::Application(Application::Ecasd),
            Self::IsdR(_) => Selected::Application(Application::IsdR),
            Self::IsdP(s) => Selected::IsdP(s.aid),
            Self::Profile(s) if s.ef.is_none() && s.df == usim::tree::MF => Selected::Mf,
            Self::Profile(_) => Selected::ProfileFile,
        }
    }

    /// The same selection with a fresh application state (for a newly opened channel).
    fn fresh(&self) -> Self {
        if let Self::Profile(s) = self {
            return Self::Profile(s.clone());
        }
        match self.public() {
            Selected::Mf => Self::Mf,
            Selected::Application(app) => app.selection(),
            Selected::IsdP(aid) => Self::IsdP(Box::new(isd_p_sd::Session::new(aid))),
            Selected::ProfileFile => Self::Mf,
        }
    }
}

/// The whole card: non-volatile state and the volatile state of each logical channel.
#[derive(Debug)]
pub struct Card {
    nv: Nv,
    /// `Some` for an open channel.
    channels: [Option<Selection>; LOGICAL_CHANNELS as usize],
    /// SMS-PP download (SCP80) state.
    ota: ota::Ota,
}

impl Card {
    /// A card just powered on.
    pub fn new(state: CardState) -> Self {
        let mut card = Self {
            nv: Nv::new(state),
            channels: std::array::from_fn(|_| None),
            ota: ota::Ota::default(),
        };
        card.reset();
        card
    }

    /// Clears the volatile state: only the basic channel is open, with the MF selected
    /// (TS 102 221 §8.6: the MF is selected after activation).
    ///
    /// A reset also stands for the REFRESH after which a real eUICC runs with its newly enabled
    /// profile: the profile changes pending until reset are applied (SGP.02 §3.2, see
    /// [`smsr_proto::sgp02::codings::CHANGE_IMMEDIATE_PENDING_RESET`]).
    pub fn reset(&mut self) {
        self.channels = std::array::from_fn(|_| None);
        self.channels[0] = Some(Selection::Mf);
        self.ota = ota::Ota::default();
        if self.nv.get().reset_pending() {
            self.nv.get_mut().clear_reset_pending();
        }
    }

    /// The non-volatile state.
    pub fn state(&self) -> &CardState {
        self.nv.get()
    }

    /// Write access to the non-volatile state; marks it as changed.
    pub fn state_mut(&mut self) -> &mut CardState {
        self.nv.get_mut()
    }

    /// Whether the non-volatile state changed since the last call (and clears the flag).
    pub fn take_dirty(&mut self) -> bool {
        self.nv.take_dirty()
    }

    /// Whether a logical channel is open.
    pub fn is_channel_open(&self, channel: u8) -> bool {
        self.slot(channel).is_some()
    }

    /// What is selected on a channel (`None` if the channel is closed).
    pub fn selected(&self, channel: u8) -> Option<Selected> {
        self.slot(channel).map(Selection::public)
    }

    /// The security level of the ISD-R's secure channel session on a channel: `None` when the
    /// ISD-R is not selected there or has no open (unaborted) session.
    pub fn secure_channel_level(&self, channel: u8) -> Option<SecurityLevel> {
        match self.slot(channel)? {
            Selection::IsdR(session) => session.channel.level(),
            Selection::IsdP(session) => session.channel.level(),
            _ => None,
        }
    }

    /// INITIALIZE UPDATE to the ISD-R selected on `channel` with an injected card challenge
    /// (replays of published sessions whose challenges are not pseudo-random).
    #[cfg(test)]
    pub(crate) fn initialize_update_with_challenge(
        &mut self,
        channel: u8,
        cmd: &CommandApdu,
        challenge: &[u8],
    ) -> ResponseApdu {
        let Some(Some(Selection::IsdR(session))) = self.channels.get_mut(usize::from(channel))
        else {
            return status(StatusWord::InsNotSupported);
        };
        match self
            .nv
            .peek_mut()
            .scp03_mut()
            .initialize_update_from_values(cmd, Some(challenge))
        {
            Ok((resp, pending)) => {
                session.channel = smsr_proto::scp03::CardChannel::Pending(pending);
                resp
            }
            Err(r) => status(r.sw),
        }
    }

    fn slot(&self, channel: u8) -> Option<&Selection> {
        self.channels.get(usize::from(channel))?.as_ref()
    }

    /// Processes one whole command.
    pub fn handle(&mut self, cmd: &CommandApdu) -> ResponseApdu {
        let Some(class) = Class::parse(cmd.cla) else {
            return status(StatusWord::ClaNotSupported);
        };
        if !self.is_channel_open(class.channel) {
            return status(StatusWord::LogicalChannelNotSupported);
        }
        if class.chaining {
            return status(StatusWord::CommandChainingNotSupported);
        }
        match cmd.ins {
            INS_SELECT | INS_MANAGE_CHANNEL if class.proprietary => {
                status(StatusWord::ClaNotSupported)
            }
            INS_SELECT | INS_MANAGE_CHANNEL if class.secure_messaging => {
                status(StatusWord::SecureMessagingNotSupported)
            }
            ota::INS_ENVELOPE
            | ota::INS_FETCH
            | ota::INS_TERMINAL_RESPONSE
            | ota::INS_TERMINAL_PROFILE
                if class.proprietary && !class.secure_messaging && class.channel == 0 =>
            {
                match cmd.ins {
                    ota::INS_ENVELOPE => self.ota.envelope(&mut self.nv, cmd),
                    ota::INS_FETCH => self.ota.fetch(cmd),
                    ota::INS_TERMINAL_PROFILE => self.ota.terminal_profile(cmd),
                    _ => self.ota.terminal_response(&mut self.nv, cmd),
                }
            }
            INS_SELECT => self.select(class.channel, cmd),
            INS_MANAGE_CHANNEL => self.manage_channel(class.channel, cmd),
            _ => self.route(class, cmd),
        }
    }

    /// Hands a command to the application selected on its channel.
    fn route(&mut self, class: Class, cmd: &CommandApdu) -> ResponseApdu {
        let Some(Some(selection)) = self.channels.get_mut(usize::from(class.channel)) else {
            return status(StatusWord::LogicalChannelNotSupported);
        };
        if matches!(selection, Selection::Mf) {
            // With an enabled profile the MF is that profile's (READ by SFI from the MF...).
            if let Some((aid, _)) = usim::enabled_profile(self.nv.get()) {
                *selection = Selection::Profile(FsSelection::mf(aid.as_bytes()));
            }
        }
        match selection {
            Selection::Mf => fs::process(class, cmd),
            Selection::Ecasd => ecasd::process(&self.nv, class, cmd),
            Selection::IsdR(session) => isd_r::process(session, &mut self.nv, class, cmd),
            Selection::IsdP(session) => isd_p_sd::process(session, &mut self.nv, cmd),
            Selection::Profile(sel) => {
                if class.secure_messaging {
                    return status(StatusWord::SecureMessagingNotSupported);
                }
                let Some(profile) = usim::enabled_profile_mut(self.nv.peek_mut(), &sel.isd_p)
                else {
                    // The profile of this selection is no longer the enabled one.
                    return status(StatusWord::ConditionsOfUseNotSatisfied);
                };
                // Persist only when AUTHENTICATE moved the SQN array.
                let before = profile
                    .aka
                    .iter()
                    .map(|a| a.sqn.clone())
                    .collect::<Vec<_>>();
                let resp = usim::app::process(profile, sel, class.proprietary, cmd);
                if profile.aka.iter().map(|a| &a.sqn).ne(before.iter()) {
                    self.nv.mark_dirty();
                }
                resp
            }
        }
    }

    fn set_selection(&mut self, channel: u8, selection: Selection) {
        if let Some(slot) = self.channels.get_mut(usize::from(channel)) {
            *slot = Some(selection);
        }
    }

    /// SELECT: P1 `04` by DF name (AID), P1 `00` by file identifier; P1 `01`/`02`/`03`/`08`/`09`
    /// address files that do not exist here. A failed SELECT leaves the selection unchanged.
    fn select(&mut self, channel: u8, cmd: &CommandApdu) -> ResponseApdu {
        match cmd.p1 {
            0x04 => self.select_by_name(channel, cmd),
            0x00 | 0x01 | 0x02 | 0x03 | 0x08 | 0x09 => self.select_file(channel, cmd),
            _ => status(StatusWord::IncorrectP1P2),
        }
    }

    /// SELECT by DF name. P2: b4 b3 = `00` FCI (GP) or `01` FCP (TS 102 221; the FCI is
    /// returned for a security domain too) or `11` no data; b2 b1 = `00` first or `10` next
    /// occurrence. No data selects the ISD-R (GP §11.9.2.1: the issuer security domain).
    fn select_by_name(&mut self, channel: u8, cmd: &CommandApdu) -> ResponseApdu {
        let p2 = cmd.p2;
        let with_fci = match p2 & 0x0C {
            0x00 | 0x04 => true,
            0x0C => false,
            _ => return status(StatusWord::IncorrectP1P2),
        };
        let next = match p2 & 0x03 {
            0x00 => false,
            0x02 => true,
            _ => return status(StatusWord::IncorrectP1P2),
        };
        if p2 & 0xF0 != 0 {
            return status(StatusWord::IncorrectP1P2);
        }
        let name = cmd.data.as_slice();
        if name.len() > AID_MAX {
            return status(StatusWord::WrongLength);
        }
        let found = if name.is_empty() {
            (!next).then_some(Application::IsdR)
        } else {
            let after = match (next, self.selected(channel)) {
                (true, Some(Selected::Application(current))) if current.aid().starts_with(name) => {
                    Application::ALL.iter().position(|&a| a == current)
                }
                _ => None,
            };
            Application::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| after.is_none_or(|a| *i > a))
                .map(|(_, &app)| app)
                .find(|app| app.aid().starts_with(name))
        };
        let Some(app) = found else {
            let r = self.select_isd_p(channel, name, next, with_fci);
            if r.sw != StatusWord::FileNotFound {
                return r;
            }
            return self.select_adf(channel, name, next, with_fci);
        };
        self.set_selection(channel, app.selection());
        if with_fci {
            ResponseApdu::success(app.fci())
        } else {
            status(StatusWord::Success)
        }
    }

    /// SELECT of a personalized ISD-P (one with a key set, see [`crate::isd_p::sd`]) by its AID or a
    /// unique-enough prefix, first occurrence only.
    fn select_isd_p(
        &mut self,
        channel: u8,
        name: &[u8],
        next: bool,
        with_fci: bool,
    ) -> ResponseApdu {
        let state = self.nv.get();
        let found = state
            .registry()
            .isd_ps()
            .map(|r| r.aid.as_bytes())
            .filter(|aid| !name.is_empty() && !next && aid.starts_with(name))
            .filter(|aid| state.isd_p_scp03(aid).is_some())
            .find_map(|aid| <[u8; 16]>::try_from(aid).ok());
        let Some(aid) = found else {
            return status(StatusWord::FileNotFound);
        };
        self.set_selection(
            channel,
            Selection::IsdP(Box::new(isd_p_sd::Session::new(aid))),
        );
        if with_fci {
            ResponseApdu::success(fci(&aid))
        } else {
            status(StatusWord::Success)
        }
    }

    /// SELECT by DF name of an ADF of the enabled profile (TS 102 221 §11.1.1.2: partial AID,
    /// first or next occurrence); answers its FCP (P2 `04` or `00`) or no data (`0C`).
    fn select_adf(&mut self, channel: u8, name: &[u8], next: bool, with_fcp: bool) -> ResponseApdu {
        let Some((aid, profile)) = usim::enabled_profile(self.nv.get()) else {
            return status(StatusWord::FileNotFound);
        };
        if name.is_empty() {
            return status(StatusWord::FileNotFound);
        }
        let after = match self.slot(channel) {
            Some(Selection::Profile(s)) if next => s.adf,
            _ => None,
        };
        let Some(adf) = profile.find_adf(name, after) else {
            return status(StatusWord::FileNotFound);
        };
        let mut sel = FsSelection::mf(aid.as_bytes());
        sel.set(profile, adf);
        let fcp = profile.fs.fcp(adf);
        self.set_selection(channel, Selection::Profile(sel));
        if with_fcp {
            ResponseApdu::success(fcp)
        } else {
            status(StatusWord::Success)
        }
    }

    /// SELECT by file identifier or path in the enabled profile's file system.
    fn select_profile_file(
        &mut self,
        channel: u8,
        cmd: &CommandApdu,
        with_fcp: bool,
    ) -> Option<ResponseApdu> {
        let (aid, profile) = usim::enabled_profile(self.nv.get())?;
        let mut sel = match self.slot(channel) {
            Some(Selection::Profile(s)) if s.isd_p == aid.as_bytes() => s.clone(),
            _ => FsSelection::mf(aid.as_bytes()),
        };
        let found = match usim::app::select_file(profile, &sel, cmd.p1, &cmd.data) {
            Ok(id) => id,
            Err(sw) => return Some(status(sw)),
        };
        sel.set(profile, found);
        let fcp = profile.fs.fcp(found);
        self.set_selection(channel, Selection::Profile(sel));
        Some(if with_fcp {
            ResponseApdu::success(fcp)
        } else {
            status(StatusWord::Success)
        })
    }

    /// SELECT by file identifier or path (TS 102 221 §11.1.1.2): P2 `04` returns the FCP,
    /// `0C` no data. With an enabled profile holding a file system, its files; otherwise only
    /// the card's MF exists.
    fn select_file(&mut self, channel: u8, cmd: &CommandApdu) -> ResponseApdu {
        let with_fcp = match cmd.p2 {
            0x04 => true,
            0x0C => false,
            _ => return status(StatusWord::IncorrectP1P2),
        };
        if let Some(resp) = self.select_profile_file(channel, cmd, with_fcp) {
            return resp;
        }
        let data = cmd.data.as_slice();
        let found_mf = match cmd.p1 {
            // By file identifier; no data also means the MF (ISO/IEC 7816-4 §11.1.1).
            0x00 => match data {
                [] => true,
                [_, _] => data == MF_FILE_ID,
                _ => return status(StatusWord::WrongLength),
            },
            // Child DF or EF of the current DF: there are none.
            0x01 | 0x02 if data.len() != 2 => return status(StatusWord::WrongLength),
            // Parent DF: the MF has none, and applications are not children of a DF here.
            0x03 if !data.is_empty() => return status(StatusWord::WrongLength),
            // A path (from the MF or the current DF) names at least one file below it.
            0x08 | 0x09 if data.is_empty() || !data.len().is_multiple_of(2) => {
                return status(StatusWord::WrongLength)
            }
            _ => false,
        };
        if !found_mf {
            return status(StatusWord::FileNotFound);
        }
        self.set_selection(channel, Selection::Mf);
        if with_fcp {
            ResponseApdu::success(fs::mf_fcp())
        } else {
            status(StatusWord::Success)
        }
    }

    /// MANAGE CHANNEL: P1 `00` opens (P2 `00`: the card picks the lowest free channel and
    /// returns its number; P2 `01`–`13`: that channel), P1 `80` closes channel P2 (`00`: the
    /// channel the command came on). The basic channel cannot be closed. A channel opened from
    /// the basic channel starts with the MF selected, one opened from another channel with that
    /// channel's selection (TS 102 221 §11.1.17).
    fn manage_channel(&mut self, channel: u8, cmd: &CommandApdu) -> ResponseApdu {
        if !cmd.data.is_empty() {
            return status(StatusWord::WrongLength);
        }
        if cmd.p2 > 19 {
            return status(StatusWord::IncorrectP1P2);
        }
        match cmd.p1 {
            0x00 => {
                let target = if cmd.p2 == 0 {
                    match (1..LOGICAL_CHANNELS).find(|&c| !self.is_channel_open(c)) {
                        Some(c) => c,
                        None => return status(StatusWord::FunctionNotSupported),
                    }
                } else if cmd.p2 >= LOGICAL_CHANNELS {
                    return status(StatusWord::LogicalChannelNotSupported);
                } else if self.is_channel_open(cmd.p2) {
                    return status(StatusWord::ConditionsOfUseNotSatisfied);
                } else {
                    cmd.p2
                };
                let selection = match self.slot(channel) {
                    Some(s) if channel != 0 => s.fresh(),
                    _ => Selection::Mf,
                };
                self.set_selection(target, selection);
                if cmd.p2 == 0 {
                    ResponseApdu::success([target])
                } else {
                    status(StatusWord::Success)
                }
            }
            0x80 => {
                let target = if cmd.p2 == 0 { channel } else { cmd.p2 };
                if target == 0 {
                    status(StatusWord::IncorrectP1P2)
                } else if target >= LOGICAL_CHANNELS {
                    status(StatusWord::LogicalChannelNotSupported)
                } else if let Some(slot) = self.channels.get_mut(usize::from(target)) {
                    match slot.take() {
                        Some(_) => status(StatusWord::Success),
                        // GP §11.7.2: closing a closed channel is a warning.
                        None => status(StatusWord::Other(0x6200)),
                    }
                } else {
                    status(StatusWord::LogicalChannelNotSupported)
                }
            }
            _ => status(StatusWord::IncorrectP1P2),
        }
    }
}

fn status(sw: StatusWord) -> ResponseApdu {
    ResponseApdu::status(sw)
}

#[cfg(test)]
mod tests;
