//! An SCP03 secure channel session (GP Card Specification v2.3.1 Amendment D) that is itself a
//! [`Transport`]: commands going through [`SecureChannel`] are protected at the session's
//! security level (C-MAC, C-DECRYPTION) and responses are checked and opened (R-MAC,
//! R-ENCRYPTION) with the sans-IO host of [`smsr_proto::scp03`].
//!
//! Opening ([`SecureChannel::open`]): SELECT the Security Domain, INITIALIZE UPDATE with a host
//! challenge from the OS random number generator, diversify the keys with the card's KDD if
//! asked, **check the card cryptogram before EXTERNAL AUTHENTICATE**: with wrong keys, a wrong
//! KVN or a missing diversification the session stops there, and no EXTERNAL AUTHENTICATE (the
//! command cards count failures of) is sent. [`keys_check`] does only that first half.
//!
//! In the session, a response whose R-MAC does not verify ends the session: keys are wiped and
//! every later command fails ([`SecureError::ResponseNotAuthentic`]). SELECT and MANAGE CHANNEL
//! pass in clear; a SELECT ends the session on the card (GPCS §10.6), so here too.
//!
//! Put a [`crate::transport::channel::ResponseAssembler`] *below* the secure channel: R-MAC
//! covers the whole response, after any `61xx`/GET RESPONSE (GPCS §11.1.5.2).

use crate::keys::{LevelChoice, ResolvedKeys};
use crate::transport::{Transport, TransportError};
use serde::Serialize;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::select::Select;
use smsr_proto::scp03::put_key::{put_key_command, PutKeyResponse};
use smsr_proto::scp03::{
    Established, HostOptions, InitializeUpdateResponse, Scp03Host, ScpError, ScpMode,
    SecurityLevel, StaticKeys,
};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

mod error;

pub use error::SecureError;

/// INS of SELECT, MANAGE CHANNEL and GET RESPONSE: never wrapped.
const INS_SELECT: u8 = 0xA4;
const INS_MANAGE_CHANNEL: u8 = 0x70;
const INS_GET_RESPONSE: u8 = 0xC0;

/// The ISD-R of an SGP.02 eUICC, the usual Security Domain for this tool.
pub fn default_sd_aid() -> Aid {
    Aid::isd_r()
}

/// How to open a session, besides keys and level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SessionOptions {
    /// S8 or S16 (the host challenge length).
    pub mode: ScpMode,
    /// Logical channel (0–19) of the SELECT and the session.
    pub channel: u8,
    /// Allow extended-length APDUs when a protected command outgrows a short Lc.
    pub extended_length: bool,
}

/// What INITIALIZE UPDATE told about the card's key set, and the session (for `--json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// The selected Security Domain (hex), `None` when no SELECT was sent.
    pub sd_aid: Option<String>,
    /// KVN the card used (hex, e.g. "30").
    pub kvn: String,
    /// Secure Channel Protocol identifier (hex, "03").
    pub scp: String,
    /// The "i" parameter (hex, e.g. "70").
    pub i: String,
    /// "S8" or "S16".
    pub mode: String,
    /// Key diversification data (hex, 10 bytes).
    pub kdd: String,
    /// Sequence counter of pseudo-random cards.
    pub sequence_counter: Option<u32>,
    /// Diversification applied to the keys ("none", "emv", "visa2", "kdf3").
    pub diversification: String,
    /// Where the keys came from.
    pub keys: String,
    /// Security level of the session (hex P1, e.g. "33"); `None` before EXTERNAL AUTHENTICATE.
    pub level: Option<String>,
    /// The level in words.
    pub level_name: Option<String>,
    /// Logical channel.
    pub channel: u8,
}

impl SessionInfo {
    fn new(
        sd_aid: Option<&Aid>,
        card: &InitializeUpdateResponse,
        keys: &ResolvedKeys,
        channel: u8,
    ) -> Self {
        Self {
            sd_aid: sd_aid.map(|a| hex::encode_upper(a.as_bytes())),
            kvn: format!("{:02X}", card.kvn),
            scp: format!("{:02X}", card.scp_id),
            i: format!("{:02X}", card.i()),
            mode: card.options.mode.to_string(),
            kdd: hex::encode_upper(card.kdd),
            sequence_counter: card.sequence_counter_value(),
            diversification: keys.diversification().to_string(),
            keys: keys.source().to_string(),
            level: None,
            level_name: None,
            channel,
        }
    }

    fn with_level(mut self, level: SecurityLevel) -> Self {
        self.level = Some(format!("{:02X}", level.p1()));
        self.level_name = Some(level.to_string());
        self
    }
}

/// The outcome of [`keys_check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeysCheck {
    /// Whether the card cryptogram verified with the keys.
    pub matches: bool,
    /// The card's INITIALIZE UPDATE data.
    pub session: SessionInfo,
    /// Key check values (hex) of the card keys tried (after diversification): ENC, MAC, DEK.
    pub kcvs: [String; 3],
}

/// The outcome of [`SecureChannel::put_key`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PutKeyOutcome {
    /// The new key set's KVN (hex).
    pub kvn: String,
    /// The KVN replaced (hex), `None` when a key set was added.
    pub replaced: Option<String>,
    /// The key check values the card answered, verified against ours (hex).
    pub kcvs: Vec<String>,
}

/// An open SCP03 session over `T`.
#[derive(Debug)]
pub struct SecureChannel<T: Transport> {
    inner: T,
    session: Established,
    info: SessionInfo,
    has_dek: bool,
    ended: Option<String>,
}

/// SELECT (when `sd_aid` is given) and INITIALIZE UPDATE; the card's answer is checked up to
/// and including the card cryptogram.
fn initialize<T: Transport>(
    transport: &mut T,
    sd_aid: Option<&Aid>,
    keys: &ResolvedKeys,
    options: &SessionOptions,
) -> Result<(Scp03Host, ResponseApdu, SessionInfo), SecureError> {
    let (static_keys, diversification) = keys.host_keys().map_err(SecureError::Keys)?;
    if let Some(aid) = sd_aid {
        let select = Select::by_aid(aid.clone())
            .to_apdu()
            .map_err(|e| SecureError::BadCommand(e.to_string()))?
            .with_channel(options.channel)
            .map_err(TransportError::from)?;
        let resp = transport.send(&select)?;
        if !(resp.sw.is_success() || resp.sw == StatusWord::SelectedFileInvalidated) {
            return Err(SecureError::SelectFailed {
                aid: hex::encode_upper(aid.as_bytes()),
                sw: resp.sw,
            });
        }
    }
    let host = Scp03Host::new(
        static_keys,
        HostOptions {
            kvn: keys.kvn(),
            mode: options.mode,
            channel: options.channel,
            diversification,
            extended_length: options.extended_length,
        },
    )
    .map_err(SecureError::Handshake)?;
    let command = host
        .initialize_update_command()
        .map_err(SecureError::Handshake)?;
    let resp = transport.send(&command)?;
    match resp.sw.to_u16() {
        0x9000 => {}
        0x6A88 => return Err(SecureError::KvnNotFound { kvn: keys.kvn() }),
        0x6982 | 0x6983 => return Err(SecureError::InitializeUpdateBlocked { sw: resp.sw }),
        _ => {
            return Err(SecureError::Handshake(ScpError::InitializeUpdateRefused {
                sw: resp.sw,
            }))
        }
    }
    let card = InitializeUpdateResponse::parse(&resp.data).map_err(SecureError::Handshake)?;
    let info = SessionInfo::new(sd_aid, &card, keys, options.channel);
    Ok((host, resp, info))
}

/// SELECT + INITIALIZE UPDATE only: whether the keys match the card, without EXTERNAL
/// AUTHENTICATE (no retry counter is spent either way). A mismatch is an answer, not an error.
pub fn keys_check<T: Transport>(
    transport: &mut T,
    sd_aid: Option<&Aid>,
    keys: &ResolvedKeys,
    options: &SessionOptions,
) -> Result<KeysCheck, SecureError> {
    let (host, resp, info) = initialize(transport, sd_aid, keys, options)?;
    let card = InitializeUpdateResponse::parse(&resp.data).map_err(SecureError::Handshake)?;
    let tried = keys.card_keys(&card.kdd).map_err(SecureError::Keys)?;
    let kcvs = tried.kcvs().map(hex::encode_upper);
    let matches = match host.on_initialize_update_response(&resp) {
        Ok(_) => true,
        Err(ScpError::CardCryptogramMismatch { .. }) => false,
        Err(e) => return Err(SecureError::Handshake(e)),
    };
    Ok(KeysCheck {
        matches,
        session: info,
        kcvs,
    })
}

impl<T: Transport> SecureChannel<T> {
    /// Opens a session on the Security Domain `sd_aid` ([`default_sd_aid`] for the ISD-R;
    /// `None` = already selected, no SELECT sent). The returned [`SessionInfo`] is also kept
    /// in [`SecureChannel::info`].
    pub fn open(
        mut transport: T,
        sd_aid: Option<&Aid>,
        keys: &ResolvedKeys,
        level: LevelChoice,
        options: &SessionOptions,
    ) -> Result<(Self, SessionInfo), SecureError> {
        let (host, resp, info) = initialize(&mut transport, sd_aid, keys, options)?;
        let authenticated = host
            .on_initialize_update_response(&resp)
            .map_err(|e| match e {
                ScpError::CardCryptogramMismatch { .. } => SecureError::CardCryptogramMismatch {
                    info: Box::new(info.clone()),
                },
                other => SecureError::Handshake(other),
            })?;
        crate::keylog::scp03(
            authenticated.host_challenge(),
            &authenticated.info().card_challenge,
            authenticated.session_keys(),
        );
        let level = level.resolve(authenticated.info().options);
        let (command, awaiting) =
            authenticated
                .external_authenticate_command(level)
                .map_err(|e| match e {
                    ScpError::LevelNotSupported { level, i } => {
                        SecureError::LevelNotSupported { level, i }
                    }
                    other => SecureError::Handshake(other),
                })?;
        let resp = transport.send(&command)?;
        let session = awaiting
            .on_external_authenticate_response(&resp)
            .map_err(|e| match e {
                ScpError::ExternalAuthenticateRefused { sw } => {
                    SecureError::ExternalAuthenticateRefused { sw }
                }
                other => SecureError::Handshake(other),
            })?;
        let info = info.with_level(level);
        let channel = Self {
            inner: transport,
            session,
            info: info.clone(),
            has_dek: keys.has_dek(),
            ended: None,
        };
        Ok((channel, info))
    }

    /// The session as opened.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The security level, `None` once the session ended.
    pub fn level(&self) -> Option<SecurityLevel> {
        self.session.level()
    }

    /// Whether the session is still open.
    pub fn is_open(&self) -> bool {
        !self.session.is_terminated()
    }

    /// Ends the session (keys wiped) and returns the transport.
    pub fn into_inner(mut self) -> T {
        self.session.terminate();
        self.inner
    }

    fn end(&mut self, why: &str) {
        self.session.terminate();
        if self.ended.is_none() {
            self.ended = Some(why.to_owned());
        }
    }

    /// Sends one command through the session.
    pub fn exchange(&mut self, command: &CommandApdu) -> Result<ResponseApdu, SecureError> {
        if let Some(why) = &self.ended {
            return Err(SecureError::SessionEnded { why: why.clone() });
        }
        let iso = command.cla & 0x80 == 0;
        if iso && [INS_SELECT, INS_MANAGE_CHANNEL, INS_GET_RESPONSE].contains(&command.ins) {
            let resp = self.inner.send(command)?;
            if command.ins == INS_SELECT {
                self.end("a SELECT ended it (selecting an application closes the secure channel)");
            }
            return Ok(resp);
        }
        let wrapped = self
            .session
            .wrap_command(command.clone())
            .map_err(SecureError::Protect)?;
        let resp = match self.inner.send(&wrapped) {
            Ok(resp) => resp,
            Err(e) => {
                // The card may or may not have run the command: the MAC chains no longer agree.
                self.end("the link failed during a command, so host and card may disagree on the MAC chain");
                return Err(e.into());
            }
        };
        if matches!(
            resp.sw,
            StatusWord::BytesAvailable(_) | StatusWord::WrongLe(_)
        ) {
            self.end("a 61xx/6Cxx reached it unresolved");
            return Err(SecureError::UnassembledResponse { sw: resp.sw });
        }
        self.session.unwrap_response(resp).map_err(|e| {
            self.end("a response failed R-MAC verification or decryption");
            SecureError::ResponseNotAuthentic(e)
        })
    }

    /// PUT KEY of a new AES key set (`new_keys`, with its KVN), replacing the set with KVN
    /// `replace` or, with `None`, adding it. The keys are encrypted with the session's static
    /// Key-DEK, and the key check values the card answers are verified.
    pub fn put_key(
        &mut self,
        new_keys: &StaticKeys,
        replace: Option<u8>,
    ) -> Result<PutKeyOutcome, SecureError> {
        if !self.has_dek {
            return Err(SecureError::NoDek);
        }
        let command = {
            let card_keys = self
                .session
                .card_keys()
                .map_err(|_| SecureError::SessionEnded {
                    why: self.ended.clone().unwrap_or_default(),
                })?;
            put_key_command(new_keys, replace.unwrap_or(0), card_keys.dek())
                .map_err(SecureError::Protect)?
                .with_channel(self.info.channel)
                .map_err(TransportError::from)?
        };
        let resp = self.exchange(&command)?;
        if !resp.sw.is_success() {
            return Err(SecureError::PutKeyRefused {
                sw: resp.sw,
                kvn: new_keys.kvn(),
                replace,
            });
        }
        let answer = PutKeyResponse::parse(&resp.data, 3).map_err(SecureError::PutKeyCheck)?;
        answer.verify(new_keys).map_err(SecureError::PutKeyCheck)?;
        Ok(PutKeyOutcome {
            kvn: format!("{:02X}", answer.kvn),
            replaced: replace.map(|r| format!("{r:02X}")),
            kcvs: answer.kcvs.iter().map(hex::encode_upper).collect(),
        })
    }
}

impl<T: Transport> Transport for SecureChannel<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let parsed = CommandApdu::parse(command)?;
        match self.exchange(&parsed) {
            Ok(resp) => Ok(resp.to_bytes()),
            Err(SecureError::Transport(e)) => Err(e),
            Err(e) => Err(TransportError::SecureChannel {
                reader: self.inner.reader_name(),
                detail: e.to_string(),
            }),
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.end("the card was reset");
        self.inner.reset()
    }

    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn reader_name(&self) -> String {
        self.inner.reader_name()
    }
}

#[cfg(test)]
mod tests;
