//! The off-card entity's side of SCP03 (Amendment D v1.2 §5.2 mutual authentication, §7.1.1
//! INITIALIZE UPDATE, §7.1.2 EXTERNAL AUTHENTICATE) as typed states, each consuming the last:
//!
//! [`Scp03Host`] → [`CardAuthenticated`] → [`AwaitingExternalAuthenticate`] → [`Established`].
//!
//! The card cryptogram is checked before anything is derived from the card's answer further,
//! and before any EXTERNAL AUTHENTICATE exists: a failing step returns an error and drops the
//! state with its keys. In [`Established`], an R-MAC or decryption failure terminates the
//! session: keys are wiped and every later call returns [`ScpError::SessionTerminated`].

use super::cryptogram::{
    card_cryptogram, host_cryptogram, pseudo_random_card_challenge, ScpMode, SecurityLevel,
};
use super::diversify::Diversification;
use super::initialize_update::{InitializeUpdate, InitializeUpdateResponse};
use super::keys::{SessionKeys, StaticKeys};
use super::wrap::SecureMessaging;
use super::ScpError;
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;
use subtle::ConstantTimeEq;

/// What the host asks for when opening a session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostOptions {
    /// KVN for INITIALIZE UPDATE P1 ('00' = the card's first available key set). When not
    /// '00', the card must answer with this KVN.
    pub kvn: u8,
    /// S8 or S16: sets the host challenge length.
    pub mode: ScpMode,
    /// Logical channel of the session (0–19).
    pub channel: u8,
    /// How to get the card's keys from the given keys and the card's KDD.
    pub diversification: Diversification,
    /// Allow extended-length APDUs when a wrapped command outgrows a short Lc.
    pub extended_length: bool,
}

/// Start state: keys, options and the host challenge.
#[derive(Debug)]
pub struct Scp03Host {
    keys: StaticKeys,
    options: HostOptions,
    host_challenge: Vec<u8>,
}

impl Scp03Host {
    /// A handshake with a host challenge from the OS random number generator.
    pub fn new(keys: StaticKeys, options: HostOptions) -> Result<Self, ScpError> {
        let mut challenge = vec![0u8; options.mode.challenge_len()];
        getrandom::getrandom(&mut challenge).map_err(|e| ScpError::Rng(e.to_string()))?;
        Self::from_values(keys, options, &challenge)
    }

    /// A handshake with a given host challenge (tests, replays).
    pub fn from_values(
        keys: StaticKeys,
        options: HostOptions,
        host_challenge: &[u8],
    ) -> Result<Self, ScpError> {
        let expected = options.mode.challenge_len();
        if host_challenge.len() != expected {
            return Err(ScpError::BadChallengeLength {
                expected,
                got: host_challenge.len(),
            });
        }
        if options.channel > 19 {
            return Err(crate::apdu::ApduError::BadChannel(options.channel).into());
        }
        Ok(Self {
            keys,
            options,
            host_challenge: host_challenge.to_vec(),
        })
    }

    /// The host challenge.
    pub fn host_challenge(&self) -> &[u8] {
        &self.host_challenge
    }

    /// INITIALIZE UPDATE: `8x 50 KVN 00 Lc host-challenge 00`.
    pub fn initialize_update_command(&self) -> Result<CommandApdu, ScpError> {
        InitializeUpdate {
            kvn: self.options.kvn,
            host_challenge: self.host_challenge.clone(),
            channel: self.options.channel,
        }
        .to_command()
    }

    /// Checks the INITIALIZE UPDATE response: status word, SCP identifier, length, mode, KVN,
    /// then the card cryptogram, in that order.
    pub fn on_initialize_update_response(
        self,
        resp: &ResponseApdu,
    ) -> Result<CardAuthenticated, ScpError> {
        if resp.sw != StatusWord::Success {
            return Err(ScpError::InitializeUpdateRefused { sw: resp.sw });
        }
        let info = InitializeUpdateResponse::parse(&resp.data)?;
        if info.options.mode != self.options.mode {
            return Err(ScpError::ModeMismatch {
                requested: self.options.mode,
                card: info.options.mode,
            });
        }
        if self.options.kvn != 0 && info.kvn != self.options.kvn {
            return Err(ScpError::KvnMismatch {
                requested: self.options.kvn,
                returned: info.kvn,
            });
        }
        let card_keys = self
            .options
            .diversification
            .apply(&self.keys, &info.kdd)
            .with_kvn(info.kvn);
        let session = SessionKeys::derive(&card_keys, &self.host_challenge, &info.card_challenge);
        let expected = card_cryptogram(
            &session.s_mac,
            &self.host_challenge,
            &info.card_challenge,
            self.options.mode,
        );
        if !bool::from(expected.ct_eq(&info.card_cryptogram)) {
            return Err(ScpError::CardCryptogramMismatch { kvn: info.kvn });
        }
        Ok(CardAuthenticated {
            card_keys,
            session,
            info,
            options: self.options,
            host_challenge: self.host_challenge,
        })
    }
}

/// The card proved knowledge of the keys; EXTERNAL AUTHENTICATE not sent yet.
#[derive(Debug)]
pub struct CardAuthenticated {
    card_keys: StaticKeys,
    session: SessionKeys,
    info: InitializeUpdateResponse,
    options: HostOptions,
    host_challenge: Vec<u8>,
}

impl CardAuthenticated {
    /// The card's INITIALIZE UPDATE data: KVN, SCP identifier, "i", KDD, sequence counter.
    pub fn info(&self) -> &InitializeUpdateResponse {
        &self.info
    }

    /// The session keys, for a key log (`--keylog`).
    pub fn session_keys(&self) -> &SessionKeys {
        &self.session
    }

    /// The host challenge sent in INITIALIZE UPDATE.
    pub fn host_challenge(&self) -> &[u8] {
        &self.host_challenge
    }

    /// The card's static keys (after diversification), under the KVN the card used.
    pub fn card_keys(&self) -> &StaticKeys {
        &self.card_keys
    }

    /// For pseudo-random cards: whether the card challenge is the one derived from the
    /// sequence counter and `sd_aid` (§6.2.2.1). `None` for random challenges. Hosts are not
    /// required to check this; some cards do not derive it.
    pub fn pseudo_random_challenge_matches(&self, sd_aid: &[u8]) -> Option<bool> {
        let seq = self.info.sequence_counter?;
        let expected =
            pseudo_random_card_challenge(self.card_keys.enc(), seq, sd_aid, self.options.mode)
                .ok()?;
        Some(bool::from(expected.ct_eq(&self.info.card_challenge)))
    }

    /// EXTERNAL AUTHENTICATE for `level`: `84 82 P1 00 Lc host-cryptogram C-MAC`, MACed with a
    /// zero chaining value and never encrypted.
    pub fn external_authenticate_command(
        self,
        level: SecurityLevel,
    ) -> Result<(CommandApdu, AwaitingExternalAuthenticate), ScpError> {
        if !self.info.options.supports(level) {
            return Err(ScpError::LevelNotSupported {
                level: level.p1(),
                i: self.info.i(),
            });
        }
        let mode = self.options.mode;
        let cryptogram = host_cryptogram(
            &self.session.s_mac,
            &self.host_challenge,
            &self.info.card_challenge,
            mode,
        );
        let plain = CommandApdu::new(0x80, 0x82, level.p1(), 0x00)
            .with_data(cryptogram)
            .with_channel(self.options.channel)?;
        let mut sm = SecureMessaging::new(self.session, mode, level)
            .with_extended_length(self.options.extended_length);
        let command = sm.mac_only(&plain)?;
        Ok((
            command,
            AwaitingExternalAuthenticate {
                sm,
                card_keys: self.card_keys,
                info: self.info,
                channel: self.options.channel,
            },
        ))
    }
}

/// EXTERNAL AUTHENTICATE sent; waiting for the card's '9000'.
#[derive(Debug)]
pub struct AwaitingExternalAuthenticate {
    sm: SecureMessaging,
    card_keys: StaticKeys,
    info: InitializeUpdateResponse,
    channel: u8,
}

impl AwaitingExternalAuthenticate {
    /// Opens the session on '9000' with no data (the response carries no R-MAC, §6.2.5).
    pub fn on_external_authenticate_response(
        self,
        resp: &ResponseApdu,
    ) -> Result<Established, ScpError> {
        if resp.sw != StatusWord::Success {
            return Err(ScpError::ExternalAuthenticateRefused { sw: resp.sw });
        }
        if !resp.data.is_empty() {
            return Err(ScpError::UnexpectedResponseData("EXTERNAL AUTHENTICATE"));
        }
        Ok(Established {
            sm: Some(self.sm),
            card_keys: Some(self.card_keys),
            info: self.info,
            channel: self.channel,
        })
    }
}

/// An open secure channel session.
#[derive(Debug)]
pub struct Established {
    sm: Option<SecureMessaging>,
    card_keys: Option<StaticKeys>,
    info: InitializeUpdateResponse,
    channel: u8,
}

impl Established {
    /// Protects a command at the session's level. Errors about the command itself (length,
    /// class, channel) leave the session as it was.
    pub fn wrap_command(&mut self, cmd: CommandApdu) -> Result<CommandApdu, ScpError> {
        let sm = self.sm.as_mut().ok_or(ScpError::SessionTerminated)?;
        if cmd.channel() != self.channel {
            return Err(ScpError::ChannelMismatch {
                session: self.channel,
                command: cmd.channel(),
            });
        }
        sm.wrap_command(&cmd)
    }

    /// Verifies and decrypts the response to the last wrapped command (after any 61xx/GET
    /// RESPONSE reassembly). A missing or wrong R-MAC, or bad padding, terminates the session.
    pub fn unwrap_response(&mut self, resp: ResponseApdu) -> Result<ResponseApdu, ScpError> {
        let sm = self.sm.as_ref().ok_or(ScpError::SessionTerminated)?;
        let result = sm.check_response(&resp).and_then(|checked| {
            if checked.mac_ok == Some(false) {
                Err(ScpError::RMacMismatch)
            } else {
                sm.open_response(checked)
            }
        });
        if result.is_err() {
            self.terminate();
        }
        result
    }

    /// Ends the session and wipes its keys.
    pub fn terminate(&mut self) {
        self.sm = None;
        self.card_keys = None;
    }

    /// Whether the session was terminated.
    pub fn is_terminated(&self) -> bool {
        self.sm.is_none()
    }

    /// The security level of the session, unless terminated.
    pub fn level(&self) -> Option<SecurityLevel> {
        self.sm.as_ref().map(SecureMessaging::level)
    }

    /// S8 or S16.
    pub fn mode(&self) -> ScpMode {
        self.info.options.mode
    }

    /// The logical channel of the session.
    pub fn channel(&self) -> u8 {
        self.channel
    }

    /// The card's INITIALIZE UPDATE data.
    pub fn info(&self) -> &InitializeUpdateResponse {
        &self.info
    }

    /// The card's static keys (Key-DEK encrypts PUT KEY data), unless terminated.
    pub fn card_keys(&self) -> Result<&StaticKeys, ScpError> {
        self.card_keys.as_ref().ok_or(ScpError::SessionTerminated)
    }

    /// The encryption counter of the last command, unless terminated.
    pub fn counter(&self) -> Option<u128> {
        self.sm.as_ref().map(SecureMessaging::counter)
    }
}

#[cfg(test)]
mod tests;
