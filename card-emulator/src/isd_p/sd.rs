//! An ISD-P as a selectable Security Domain, once ES8 key establishment gave it a key set
//! (SGP.02 §2.2.1.2 and §4.1.3; `shared/protocol/SGP02.md` §4.5: SCP03 in APDU mode to the
//! ISD-P): SELECT by its AID, then SCP03 sessions (GP Amendment D) with that key set, the
//! SCP03 "i" CreateISDP gave it and the card's key diversification data. Each pseudo-random
//! card challenge uses up a sequence counter value, persisted with the key set.
//!
//! An ISD-P without a key set (just created, or holding a profile put there by the test
//! installer) is not selectable: SELECT answers `6A82`, as for an unknown AID.
//!
//! In a session the ISD-P offers no further command here: `6D00` (the profile download
//! through SCP03t and the ISD-P's own GlobalPlatform commands live elsewhere). Commands that
//! come in clear, or with a secure-messaging class outside a session, get `6982`.

use crate::class::Class;
use crate::nv::Nv;
use smsr_proto::scp03::{CardChannel, CardStep};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// The selected ISD-P's volatile state on one logical channel.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) aid: [u8; 16],
    pub(crate) channel: CardChannel,
}

impl Session {
    pub(crate) fn new(aid: [u8; 16]) -> Self {
        Self {
            aid,
            channel: CardChannel::default(),
        }
    }
}

fn counters(nv: &Nv, aid: &[u8]) -> Vec<u32> {
    nv.get()
        .isd_p_scp03(aid)
        .map(|c| c.keysets().iter().map(|k| k.sequence_counter).collect())
        .unwrap_or_default()
}

/// Commands addressed to the ISD-P selected on a channel.
pub(crate) fn process(session: &mut Session, nv: &mut Nv, cmd: &CommandApdu) -> ResponseApdu {
    let before = counters(nv, &session.aid);
    let Some(card) = nv.peek_mut().isd_p_scp03_mut(&session.aid) else {
        // Deleted since it was selected.
        session.channel.terminate();
        return ResponseApdu::status(StatusWord::ConditionsOfUseNotSatisfied);
    };
    let step = session.channel.process(card, cmd);
    if counters(nv, &session.aid) != before {
        nv.mark_dirty();
    }
    match step {
        CardStep::Respond(resp) => resp,
        CardStep::Dispatch(plain) => {
            let resp = dispatch(session, &plain);
            session.channel.wrap_response(resp)
        }
    }
}

fn dispatch(session: &Session, cmd: &CommandApdu) -> ResponseApdu {
    let Some(class) = Class::parse(cmd.cla) else {
        return ResponseApdu::status(StatusWord::ClaNotSupported);
    };
    let in_session = session
        .channel
        .session()
        .is_some_and(|s| s.level().is_some_and(|l| l.c_mac()));
    if class.secure_messaging || !in_session {
        return ResponseApdu::status(StatusWord::SecurityStatusNotSatisfied);
    }
    ResponseApdu::status(StatusWord::InsNotSupported)
}
