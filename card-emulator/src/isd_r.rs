//! The Issuer Security Domain Root (GSMA SGP.02 §2.2.1.1, AID per SGP.02 Annex H), a
//! GlobalPlatform Security Domain: SCP03 secure channel sessions (GP Card Specification v2.3
//! Amendment D) on each logical channel, and the GlobalPlatform commands of GPCS v2.3.1
//! chapter 11 on the card's registry and keys.
//!
//! Every command on a channel where the ISD-R is selected goes through that channel's
//! [`CardChannel`] (smsr-proto): INITIALIZE UPDATE and EXTERNAL AUTHENTICATE open a session at
//! level `00`, `01`, `03`, `11`, `13` or `33`; in a session each command is verified and
//! decrypted (C-MAC, C-DECRYPTION) before it is processed and its response protected (R-MAC,
//! R-ENCRYPTION) after. A command that fails verification, or comes with less protection than
//! the session's level, is answered `6982` and ends the session. Selecting an application,
//! closing the channel and resetting the card end the session too (a new session state replaces
//! the old one).
//!
//! | INS | command | needs |
//! |---|---|---|
//! | `CA`/`CB` | GET DATA (`get_data.rs`) | nothing (in clear or in a session); `00E1` notifications: a session with C-MAC |
//! | `F2` | GET STATUS (`get_status.rs`) | a session with C-MAC |
//! | `D8` | PUT KEY (`put_key.rs`) | a session with C-MAC |
//! | `E2` | STORE DATA (`store_data.rs`): personalization, ES5 Enable/Disable/SetFallbackAttribute/HandleNotificationConfirmation | a session with C-MAC |
//! | `E4` | DELETE (`delete.rs`): ES5 DeleteProfile, key sets | a session with C-MAC |
//! | `E6` | INSTALL (`install.rs`): ES5 CreateISDP; [for personalization] of an ISD-P starts ES8 key establishment (`es8.rs`), the STORE DATA that follow go there | a session with C-MAC |
//! | `E8`, `F0` | LOAD, SET STATUS | a session with C-MAC; then `6A81` (not offered) |
//!
//! The SGP.02 codings these follow, where the public record leaves them open, are the one
//! table [`smsr_proto::sgp02::codings`]; the profile rules live in [`crate::state`]
//! ([`crate::state::ProfileError`]).
//!
//! GPCS Table 11-2 asks only for an authenticated session for these; the ISD-R asks for a
//! C-MAC as well, as SGP.02 has every ISD-R command integrity-protected. Without it:
//! `6982`. A command with a secure-messaging class outside a session: `6982`.

mod delete;
mod es8;
mod get_data;
mod get_status;
mod install;
mod put_key;
mod store_data;

use crate::class::Class;
use crate::nv::Nv;
use smsr_proto::gp::BlockAssembler;
use smsr_proto::scp03::{CardChannel, CardStep};
use smsr_proto::sgp02::codings::GET_DATA_NOTIFICATION;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

pub use get_status::GET_STATUS_PAGE_MAX;

/// The ISD-R instance AID.
pub const ISD_R_AID: [u8; 16] = smsr_proto::gp::aid::ISD_R;

/// GET DATA (even instruction).
pub const INS_GET_DATA: u8 = 0xCA;
/// GET DATA with a tag list in the data field (ISO class only).
pub const INS_GET_DATA_ODD: u8 = 0xCB;
/// GET STATUS.
pub const INS_GET_STATUS: u8 = 0xF2;
/// PUT KEY.
pub const INS_PUT_KEY: u8 = 0xD8;
/// STORE DATA.
pub const INS_STORE_DATA: u8 = 0xE2;
/// DELETE.
pub const INS_DELETE: u8 = 0xE4;
/// INSTALL.
pub const INS_INSTALL: u8 = 0xE6;
/// LOAD.
pub const INS_LOAD: u8 = 0xE8;
/// SET STATUS.
pub const INS_SET_STATUS: u8 = 0xF0;

/// The ISD-R's volatile state on one logical channel; a new one on every SELECT, lost on
/// reset and when the channel closes.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// The secure channel of this channel.
    pub(crate) channel: CardChannel,
    /// GET STATUS pages not yet sent (after `6310`).
    paging: Option<get_status::Paging>,
    /// STORE DATA blocks received so far.
    store_data: BlockAssembler,
    /// The ISD-P an INSTALL [for personalization] named, and its key establishment's state.
    personalization: Option<es8::Personalization>,
    /// The SCP03t receivers of the ISD-Ps that scripts forwarded by STORE DATA reached.
    downloads: crate::isd_p::download::Downloads,
}

impl Session {
    /// Forgets what belongs to a secure channel session (pending pages and blocks).
    fn end_of_session(&mut self) {
        self.paging = None;
        self.store_data.reset();
        self.personalization = None;
    }
}

/// Commands addressed to the ISD-R selected on a channel.
pub(crate) fn process(
    session: &mut Session,
    nv: &mut Nv,
    _class: Class,
    cmd: &CommandApdu,
) -> ResponseApdu {
    let counters = sequence_counters(nv);
    let step = session.channel.process(nv.peek_mut().scp03_mut(), cmd);
    if sequence_counters(nv) != counters {
        // A pseudo-random card challenge used up a sequence counter value: persist it.
        nv.mark_dirty();
    }
    match step {
        CardStep::Respond(resp) => {
            // INITIALIZE UPDATE, EXTERNAL AUTHENTICATE or a rejected command: whichever, a
            // session starts or ends here.
            session.end_of_session();
            resp
        }
        CardStep::Dispatch(plain) => {
            let resp = dispatch(session, nv, &plain);
            session.channel.wrap_response(resp)
        }
    }
}

fn sequence_counters(nv: &Nv) -> Vec<u32> {
    nv.get()
        .scp03()
        .keysets()
        .iter()
        .map(|k| k.sequence_counter)
        .collect()
}

/// The integrity protection a command came with, which the management commands need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protection {
    /// An SCP03 session with C-MAC, opened with this key set.
    Scp03 { kvn: u8 },
    /// An SCP80 command packet that met the ISD-R TAR's minimum security level
    /// ([`crate::ota::ISD_R_MSL`]: cryptographic checksum, ciphering, counter).
    Scp80,
}

/// A command of a remote management script that came through SCP80 (SMS-PP download, see
/// [`crate::ota`]): the same rules as in an SCP03 session with C-MAC, except PUT KEY (its key
/// data would be encrypted with a Key-DEK the SCP80 key set does not have): `6985`.
pub(crate) fn process_scp80(session: &mut Session, nv: &mut Nv, cmd: &CommandApdu) -> ResponseApdu {
    dispatch_with(session, nv, cmd, Some(Protection::Scp80))
}

/// A command as the application sees it (unwrapped if a session is open).
fn dispatch(session: &mut Session, nv: &mut Nv, cmd: &CommandApdu) -> ResponseApdu {
    let protection = session
        .channel
        .session()
        .filter(|s| s.level().is_some_and(|l| l.c_mac()))
        .map(|s| Protection::Scp03 { kvn: s.kvn() });
    dispatch_with(session, nv, cmd, protection)
}

fn dispatch_with(
    session: &mut Session,
    nv: &mut Nv,
    cmd: &CommandApdu,
    protection: Option<Protection>,
) -> ResponseApdu {
    let Some(class) = Class::parse(cmd.cla) else {
        return status(StatusWord::ClaNotSupported);
    };
    if class.secure_messaging {
        // Secure messaging without a session (an open session has removed it).
        return status(StatusWord::SecurityStatusNotSatisfied);
    }
    if cmd.ins != INS_GET_STATUS {
        // Paging answers the GET STATUS commands that follow each other.
        session.paging = None;
    }
    if cmd.ins == INS_GET_DATA || cmd.ins == INS_GET_DATA_ODD {
        if u16::from_be_bytes([cmd.p1, cmd.p2]) == GET_DATA_NOTIFICATION && protection.is_none() {
            // Notifications belong to the SM-SR: only through its secure channel.
            return status(StatusWord::SecurityStatusNotSatisfied);
        }
        return get_data::process(nv.get(), cmd);
    }
    let management = [
        INS_GET_STATUS,
        INS_PUT_KEY,
        INS_STORE_DATA,
        INS_DELETE,
        INS_INSTALL,
        INS_LOAD,
        INS_SET_STATUS,
    ];
    if !management.contains(&cmd.ins) {
        return status(StatusWord::InsNotSupported);
    }
    if class.is_interindustry() {
        return status(StatusWord::ClaNotSupported);
    }
    let Some(protection) = protection else {
        return status(StatusWord::SecurityStatusNotSatisfied);
    };
    if cmd.ins != INS_STORE_DATA && session.store_data.in_progress() {
        // GPCS §11.11.2.2: another command breaks a STORE DATA block sequence.
        session.store_data.reset();
    }
    let personalization_install = cmd.ins == INS_INSTALL && cmd.p1 == es8::P1_FOR_PERSONALIZATION;
    if personalization_install {
        return es8::install(&mut session.personalization, nv, cmd);
    }
    if cmd.ins == INS_STORE_DATA && session.personalization.is_some() {
        return es8::store_data(
            &mut session.personalization,
            &mut session.downloads,
            nv,
            cmd,
        );
    }
    // STORE DATA goes to the ISD-P only while nothing else comes between.
    session.personalization = None;
    match cmd.ins {
        INS_GET_STATUS => get_status::process(&mut session.paging, nv.get(), cmd),
        INS_PUT_KEY => match protection {
            Protection::Scp03 { kvn } => put_key::process(nv, kvn, cmd),
            Protection::Scp80 => status(StatusWord::ConditionsOfUseNotSatisfied),
        },
        INS_STORE_DATA => store_data::process(&mut session.store_data, nv, cmd),
        INS_DELETE => delete::process(nv, cmd),
        INS_INSTALL => install::process(nv, cmd),
        // LOAD and SET STATUS are not offered: the ISD-R loads no code.
        _ => status(StatusWord::FunctionNotSupported),
    }
}

fn status(sw: StatusWord) -> ResponseApdu {
    ResponseApdu::status(sw)
}

#[cfg(test)]
mod tests;
