//! The Security Domain's side of SCP03 (Amendment D v1.2 §5.5 security level, §5.6 protocol
//! rules, §6.2.2.1 card challenge, §7.1.1 INITIALIZE UPDATE, §7.1.2 EXTERNAL AUTHENTICATE).
//!
//! [`Scp03Card`] holds what persists: key sets by KVN with their pseudo-random sequence
//! counters (the caller saves them after each INITIALIZE UPDATE), the Security Domain AID, the
//! "i" parameter and the key diversification data. A handshake runs through typed states,
//! [`CardPending`] → [`CardSession`]. An open session checks every command against its level
//! whatever the CLA says; a wrong, missing or insufficient MAC, or bad padding, rejects the
//! command with '6982' and aborts the session: every later command gets '6982' until a new
//! INITIALIZE UPDATE or the end of the session (selection, channel close, reset).
//!
//! [`CardChannel`](super::card_channel::CardChannel) routes the commands of one logical
//! channel through these states.
//! BEGIN/END R-MAC SESSION (optional, §7.1.3–§7.1.4) are not implemented.

use super::cryptogram::{
    card_cryptogram, host_cryptogram, pseudo_random_card_challenge, sequence_counter_bytes,
    ScpMode, ScpOptions, SecurityLevel, SEQUENCE_COUNTER_MAX,
};
use super::initialize_update::{
    has_secure_messaging, InitializeUpdateResponse, INS_INITIALIZE_UPDATE,
};
use super::keys::{SessionKeys, StaticKeys};
use super::wrap::SecureMessaging;
use super::{ScpError, SCP03_ID};
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;
use std::fmt;
use subtle::ConstantTimeEq;

/// INS of EXTERNAL AUTHENTICATE.
pub const INS_EXTERNAL_AUTHENTICATE: u8 = 0x82;

/// A refused handshake command: the status word to send and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub sw: StatusWord,
    pub reason: ScpError,
}

impl Rejection {
    fn new(sw: StatusWord, reason: ScpError) -> Self {
        Self { sw, reason }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.sw, self.reason)
    }
}

impl From<Rejection> for StatusWord {
    fn from(r: Rejection) -> Self {
        r.sw
    }
}

/// A key set held by the card with its pseudo-random sequence counter.
#[derive(Clone, Debug)]
pub struct CardKeySet {
    pub keys: StaticKeys,
    pub sequence_counter: u32,
}

/// The persistent SCP03 configuration of a Security Domain.
#[derive(Clone, Debug)]
pub struct Scp03Card {
    keysets: Vec<CardKeySet>,
    sd_aid: Vec<u8>,
    options: ScpOptions,
    kdd: [u8; 10],
}

impl Scp03Card {
    /// A Security Domain with AID `sd_aid` (5–16 bytes), "i" options and key diversification
    /// data, without key sets yet.
    pub fn new(sd_aid: &[u8], options: ScpOptions, kdd: [u8; 10]) -> Result<Self, ScpError> {
        if !(5..=16).contains(&sd_aid.len()) {
            return Err(ScpError::BadAidLength(sd_aid.len()));
        }
        Ok(Self {
            keysets: Vec::new(),
            sd_aid: sd_aid.to_vec(),
            options,
            kdd,
        })
    }

    /// Adds a key set with a saved sequence counter, replacing one with the same KVN. The
    /// first key set added answers INITIALIZE UPDATE with KVN '00'.
    pub fn add_keyset(&mut self, keys: StaticKeys, sequence_counter: u32) {
        let set = CardKeySet {
            keys,
            sequence_counter: sequence_counter.min(SEQUENCE_COUNTER_MAX),
        };
        match self
            .keysets
            .iter_mut()
            .find(|k| k.keys.kvn() == set.keys.kvn())
        {
            Some(old) => *old = set,
            None => self.keysets.push(set),
        }
    }

    /// Creates or wholly replaces a key set (PUT KEY / STORE DATA): its counter restarts at 0.
    pub fn replace_keyset(&mut self, keys: StaticKeys) {
        self.add_keyset(keys, 0);
    }

    /// Removes a key set; whether it existed.
    pub fn remove_keyset(&mut self, kvn: u8) -> bool {
        let before = self.keysets.len();
        self.keysets.retain(|k| k.keys.kvn() != kvn);
        self.keysets.len() != before
    }

    /// The key set with this KVN.
    pub fn keyset(&self, kvn: u8) -> Option<&StaticKeys> {
        self.keysets
            .iter()
            .find(|k| k.keys.kvn() == kvn)
            .map(|k| &k.keys)
    }

    /// All key sets in order.
    pub fn keysets(&self) -> &[CardKeySet] {
        &self.keysets
    }

    /// The sequence counter of a key set (to persist after INITIALIZE UPDATE).
    pub fn sequence_counter(&self, kvn: u8) -> Option<u32> {
        self.keysets
            .iter()
            .find(|k| k.keys.kvn() == kvn)
            .map(|k| k.sequence_counter)
    }

    /// The "i" parameter options.
    pub fn options(&self) -> ScpOptions {
        self.options
    }

    /// The Security Domain AID.
    pub fn sd_aid(&self) -> &[u8] {
        &self.sd_aid
    }

    /// INITIALIZE UPDATE with a card challenge from the OS RNG (random mode) or derived from the
    /// sequence counter (pseudo-random mode).
    pub fn initialize_update(
        &mut self,
        cmd: &CommandApdu,
    ) -> Result<(ResponseApdu, CardPending), Rejection> {
        self.initialize_update_from_values(cmd, None)
    }

    /// INITIALIZE UPDATE with an injected card challenge (tests, replays). `None` behaves as
    /// [`Scp03Card::initialize_update`]. In pseudo-random mode the counter still advances.
    pub fn initialize_update_from_values(
        &mut self,
        cmd: &CommandApdu,
        card_challenge: Option<&[u8]>,
    ) -> Result<(ResponseApdu, CardPending), Rejection> {
        let bad_cmd = |sw, reason| {
            Rejection::new(
                sw,
                ScpError::BadCommand {
                    command: "INITIALIZE UPDATE",
                    reason,
                },
            )
        };
        if cmd.ins != INS_INITIALIZE_UPDATE {
            return Err(bad_cmd(StatusWord::InsNotSupported, "INS is not '50'"));
        }
        if cmd.cla & 0x80 == 0 || has_secure_messaging(cmd.cla) || cmd.is_chained() {
            return Err(bad_cmd(
                StatusWord::ClaNotSupported,
                "CLA must be '80'-'83' or 'C0'-'CF'",
            ));
        }
        if cmd.p2 != 0x00 {
            return Err(bad_cmd(StatusWord::IncorrectP1P2, "P2 must be '00'"));
        }
        let mode = self.options.mode;
        if cmd.data.len() != mode.challenge_len() {
            return Err(bad_cmd(
                StatusWord::WrongLength,
                "host challenge length does not match the mode",
            ));
        }
        let aid = self.sd_aid.clone();
        let options = self.options;
        let kdd = self.kdd;
        let not_found = || {
            Rejection::new(
                StatusWord::ReferencedDataNotFound,
                ScpError::KeySetNotFound(cmd.p1),
            )
        };
        let set = if cmd.p1 == 0 {
            self.keysets.first_mut().ok_or_else(not_found)?
        } else {
            self.keysets
                .iter_mut()
                .find(|k| k.keys.kvn() == cmd.p1)
                .ok_or_else(not_found)?
        };
        let kvn = set.keys.kvn();
        let sequence_counter = if options.pseudo_random {
            if set.sequence_counter >= SEQUENCE_COUNTER_MAX {
                return Err(Rejection::new(
                    StatusWord::ConditionsOfUseNotSatisfied,
                    ScpError::SequenceCounterExhausted(kvn),
                ));
            }
            set.sequence_counter += 1;
            Some(sequence_counter_bytes(set.sequence_counter))
        } else {
            None
        };
        let internal = |e: ScpError| Rejection::new(StatusWord::NoPreciseDiagnosis, e);
        let challenge = match (card_challenge, sequence_counter) {
            (Some(c), _) if c.len() == mode.challenge_len() => c.to_vec(),
            (Some(c), _) => {
                return Err(internal(ScpError::BadChallengeLength {
                    expected: mode.challenge_len(),
                    got: c.len(),
                }))
            }
            (None, Some(seq)) => {
                pseudo_random_card_challenge(set.keys.enc(), seq, &aid, mode).map_err(internal)?
            }
            (None, None) => {
                let mut c = vec![0u8; mode.challenge_len()];
                getrandom::getrandom(&mut c).map_err(|e| internal(ScpError::Rng(e.to_string())))?;
                c
            }
        };
        let session = SessionKeys::derive(&set.keys, &cmd.data, &challenge);
        let cryptogram = card_cryptogram(&session.s_mac, &cmd.data, &challenge, mode);
        let response = InitializeUpdateResponse {
            kdd,
            kvn,
            scp_id: SCP03_ID,
            options,
            card_challenge: challenge.clone(),
            card_cryptogram: cryptogram,
            sequence_counter,
        };
        Ok((
            ResponseApdu::success(response.to_bytes()),
            CardPending {
                session,
                host_challenge: cmd.data.clone(),
                card_challenge: challenge,
                options,
                kvn,
                channel: cmd.channel(),
            },
        ))
    }
}

/// INITIALIZE UPDATE answered; EXTERNAL AUTHENTICATE expected next.
#[derive(Debug)]
pub struct CardPending {
    session: SessionKeys,
    host_challenge: Vec<u8>,
    card_challenge: Vec<u8>,
    options: ScpOptions,
    kvn: u8,
    channel: u8,
}

impl CardPending {
    /// The KVN of the key set being authenticated.
    pub fn kvn(&self) -> u8 {
        self.kvn
    }

    /// Checks EXTERNAL AUTHENTICATE: class with secure messaging, P1 a level the card supports,
    /// P2 '00', Lc, host cryptogram ('6300' when wrong), then the C-MAC with a zero chaining
    /// value ('6982'). Answers '9000' without R-MAC and opens the session.
    pub fn external_authenticate(
        self,
        cmd: &CommandApdu,
    ) -> Result<(ResponseApdu, CardSession), Rejection> {
        let bad_cmd = |sw, reason| {
            Rejection::new(
                sw,
                ScpError::BadCommand {
                    command: "EXTERNAL AUTHENTICATE",
                    reason,
                },
            )
        };
        if cmd.ins != INS_EXTERNAL_AUTHENTICATE {
            return Err(bad_cmd(StatusWord::InsNotSupported, "INS is not '82'"));
        }
        if cmd.cla & 0x80 == 0 || !has_secure_messaging(cmd.cla) {
            return Err(Rejection::new(
                StatusWord::SecurityStatusNotSatisfied,
                ScpError::BelowSecurityLevel(cmd.cla),
            ));
        }
        if cmd.channel() != self.channel {
            return Err(bad_cmd(
                StatusWord::ConditionsOfUseNotSatisfied,
                "not on the channel of INITIALIZE UPDATE",
            ));
        }
        let level = SecurityLevel::from_p1(cmd.p1)
            .map_err(|e| Rejection::new(StatusWord::IncorrectP1P2, e))?;
        if !self.options.supports(level) {
            return Err(Rejection::new(
                StatusWord::IncorrectP1P2,
                ScpError::LevelNotSupported {
                    level: level.p1(),
                    i: self.options.to_i(),
                },
            ));
        }
        if cmd.p2 != 0x00 {
            return Err(bad_cmd(StatusWord::IncorrectP1P2, "P2 must be '00'"));
        }
        let mode = self.options.mode;
        if cmd.data.len() != 2 * mode.challenge_len() {
            return Err(bad_cmd(
                StatusWord::WrongLength,
                "Lc must be '10' (S8) or '20' (S16)",
            ));
        }
        let expected = host_cryptogram(
            &self.session.s_mac,
            &self.host_challenge,
            &self.card_challenge,
            mode,
        );
        if !bool::from(expected.ct_eq(&cmd.data[..mode.challenge_len()])) {
            return Err(Rejection::new(
                StatusWord::AuthenticationFailed,
                ScpError::HostCryptogramMismatch,
            ));
        }
        let mut sm = SecureMessaging::new(self.session, mode, level).with_extended_length(true);
        let security = |e| Rejection::new(StatusWord::SecurityStatusNotSatisfied, e);
        let checked = sm.check_external_authenticate(cmd).map_err(security)?;
        if checked.mac_ok != Some(true) {
            return Err(security(ScpError::CMacMismatch));
        }
        Ok((
            ResponseApdu::status(StatusWord::Success),
            CardSession {
                sm: Some(sm),
                kvn: self.kvn,
                channel: self.channel,
                last_rejection: None,
            },
        ))
    }
}

/// An open (or aborted) secure channel session on the card.
#[derive(Debug)]
pub struct CardSession {
    sm: Option<SecureMessaging>,
    kvn: u8,
    channel: u8,
    last_rejection: Option<ScpError>,
}

impl CardSession {
    /// Verifies and decrypts a command at the session's level; on any failure answers '6982'
    /// and aborts the session (keys wiped; every later command gets '6982').
    pub fn unwrap_command(&mut self, cmd: &CommandApdu) -> Result<CommandApdu, StatusWord> {
        let Some(sm) = self.sm.as_mut() else {
            self.last_rejection = Some(ScpError::SessionTerminated);
            return Err(StatusWord::SecurityStatusNotSatisfied);
        };
        let result = sm.check_command(cmd).and_then(|checked| {
            if checked.mac_ok == Some(false) {
                Err(ScpError::CMacMismatch)
            } else {
                sm.open_command(checked, true)
            }
        });
        result.map_err(|e| {
            self.sm = None;
            self.last_rejection = Some(e);
            StatusWord::SecurityStatusNotSatisfied
        })
    }

    /// Protects a response to the last command (R-ENCRYPTION, R-MAC) when the level asks for it;
    /// error status words and aborted sessions pass unchanged.
    pub fn wrap_response(&self, resp: ResponseApdu) -> ResponseApdu {
        match &self.sm {
            Some(sm) => sm.wrap_response(&resp),
            None => resp,
        }
    }

    /// Why the last command was rejected.
    pub fn last_rejection(&self) -> Option<&ScpError> {
        self.last_rejection.as_ref()
    }

    /// Whether a security error aborted the session.
    pub fn is_aborted(&self) -> bool {
        self.sm.is_none()
    }

    /// The Current Security Level, `None` once aborted.
    pub fn level(&self) -> Option<SecurityLevel> {
        self.sm.as_ref().map(SecureMessaging::level)
    }

    /// S8 or S16, `None` once aborted.
    pub fn mode(&self) -> Option<ScpMode> {
        self.sm.as_ref().map(SecureMessaging::mode)
    }

    /// KVN of the key set of the session.
    pub fn kvn(&self) -> u8 {
        self.kvn
    }

    /// Logical channel of the session.
    pub fn channel(&self) -> u8 {
        self.channel
    }
}

#[cfg(test)]
mod tests;
