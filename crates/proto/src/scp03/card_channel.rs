//! The secure channel state of one logical channel of a Security Domain (Amendment D v1.2
//! §5.6): routes INITIALIZE UPDATE, EXTERNAL AUTHENTICATE and session commands through the
//! [`card`](super::card) states and protects the application's responses.

use super::card::{CardPending, CardSession, Scp03Card, INS_EXTERNAL_AUTHENTICATE};
use super::cryptogram::SecurityLevel;
use super::initialize_update::{has_secure_messaging, INS_INITIALIZE_UPDATE};
use crate::apdu::{CommandApdu, ResponseApdu};

/// What the card does with a command on a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardStep {
    /// The secure channel layer answers (INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, rejection).
    Respond(ResponseApdu),
    /// The application processes this (plain) command; pass its response to
    /// [`CardChannel::wrap_response`].
    Dispatch(CommandApdu),
}

/// The secure channel state of one logical channel of a Security Domain.
///
/// SELECT, MANAGE CHANNEL and GET RESPONSE are not Security Domain commands: the caller
/// handles them before [`CardChannel::process`], and calls [`CardChannel::terminate`] when a
/// selection or a channel close ends the session.
#[derive(Debug, Default)]
pub enum CardChannel {
    /// No session (commands pass in clear; the application applies its own rules).
    #[default]
    Idle,
    /// INITIALIZE UPDATE answered.
    Pending(CardPending),
    /// A session, open or aborted.
    Open(CardSession),
}

impl CardChannel {
    /// Routes a command: INITIALIZE UPDATE (always restarts), EXTERNAL AUTHENTICATE after a
    /// pending INITIALIZE UPDATE, session commands through [`CardSession::unwrap_command`].
    /// Any other command during a pending handshake drops the handshake.
    pub fn process(&mut self, card: &mut Scp03Card, cmd: &CommandApdu) -> CardStep {
        let gp_class = cmd.cla & 0x80 != 0;
        if gp_class && cmd.ins == INS_INITIALIZE_UPDATE && !has_secure_messaging(cmd.cla) {
            *self = Self::Idle;
            return match card.initialize_update(cmd) {
                Ok((resp, pending)) => {
                    *self = Self::Pending(pending);
                    CardStep::Respond(resp)
                }
                Err(r) => CardStep::Respond(ResponseApdu::status(r.sw)),
            };
        }
        match std::mem::take(self) {
            Self::Pending(pending) if gp_class && cmd.ins == INS_EXTERNAL_AUTHENTICATE => {
                match pending.external_authenticate(cmd) {
                    Ok((resp, session)) => {
                        *self = Self::Open(session);
                        CardStep::Respond(resp)
                    }
                    Err(r) => CardStep::Respond(ResponseApdu::status(r.sw)),
                }
            }
            Self::Open(mut session) => {
                let step = match session.unwrap_command(cmd) {
                    Ok(plain) => CardStep::Dispatch(plain),
                    Err(sw) => CardStep::Respond(ResponseApdu::status(sw)),
                };
                *self = Self::Open(session);
                step
            }
            Self::Idle | Self::Pending(_) => CardStep::Dispatch(cmd.clone()),
        }
    }

    /// Protects the application's response to a dispatched command.
    pub fn wrap_response(&self, resp: ResponseApdu) -> ResponseApdu {
        match self {
            Self::Open(session) => session.wrap_response(resp),
            _ => resp,
        }
    }

    /// Ends any session (application selection, channel closed, reset).
    pub fn terminate(&mut self) {
        *self = Self::Idle;
    }

    /// The Current Security Level: `None` without an open, unaborted session.
    pub fn level(&self) -> Option<SecurityLevel> {
        match self {
            Self::Open(s) => s.level(),
            _ => None,
        }
    }

    /// The open or aborted session.
    pub fn session(&self) -> Option<&CardSession> {
        match self {
            Self::Open(s) => Some(s),
            _ => None,
        }
    }
}
