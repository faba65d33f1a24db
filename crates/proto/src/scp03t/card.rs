//! The ISD-P side of SCP03t (SGP.02 §2.5.2–§2.5.3): a receiver fed the `84`/`85`/`86` command
//! TLVs of ES8 scripts one by one.
//!
//! - `84`: the key set is looked up and the pseudo-random challenge computed by the ISD-P's
//!   [`Scp03Card`] exactly as for an INITIALIZE UPDATE APDU (the sequence counter is incremented
//!   there, so SCP03 and SCP03t share it); the answer is `84 20` and the INITIALIZE UPDATE
//!   response data.
//! - `85`: level `33`, host cryptogram, then the C-MAC with a zero chaining value; `85 00`.
//! - `86`: C-MAC (chained, which also checks the order and the implicit encryption counter),
//!   decryption with the counter's ICV, strict `80 00…` padding; the plaintext is appended to
//!   the package buffer. The answer is `86 00` until the package is complete, which is when the
//!   buffer holds whole PEs ending with the End PE ([`package_complete`]). The whole package
//!   then goes to the caller's installer, and its [`EuiccResponse`] comes back encrypted and
//!   R-MACed in the `86` answer to the last segment.
//!
//! Every failure answers `9F44`/`9F45`/`9F46 01 xx` (reason in [`Scp03tError::reason`]), ends the
//! session, wipes its keys and drops the partial package; the next command must be `84`.

use super::{
    command_icv, response_icv, tlv_mac, ErrorTag, Scp03tError, Session, CHALLENGE_LEN, MAC_LEN,
    MAX_PACKAGE_LEN, SECURITY_LEVEL, TAG_EXTERNAL_AUTHENTICATE, TAG_INITIALIZE_UPDATE,
    TAG_PROFILE_DATA,
};
use crate::apdu::CommandApdu;
use crate::ota::executor::RawOutcome;
use crate::saip::{EuiccResponse, PeKind};
use crate::scp03::cipher::{cbc_decrypt, cbc_encrypt_padded, unpad, BLOCK};
use crate::scp03::cryptogram::host_cryptogram;
use crate::scp03::initialize_update::INS_INITIALIZE_UPDATE;
use crate::scp03::{InitializeUpdateResponse, Scp03Card, ScpError, ScpMode, SessionKeys};
use crate::tlv::{Tlv, TlvError};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Key identifiers accepted in `84`: `00` ("any", sent by whty's SM-DP) and `01` (the
/// identifier of Key-ENC in a GP SCP03 key set, sent by njiwa). SGP.02 names the field but
/// public material shows no other value.
pub const ACCEPTED_KEY_IDENTIFIERS: [u8; 2] = [0x00, 0x01];

enum State {
    Idle,
    Initialized {
        keys: SessionKeys,
        host_challenge: [u8; CHALLENGE_LEN],
        card_challenge: Vec<u8>,
    },
    Open(Session),
    Done,
}

/// The ISD-P's SCP03t receiver.
pub struct Scp03tCard {
    state: State,
    buffer: Zeroizing<Vec<u8>>,
    last_error: Option<Scp03tError>,
}

impl fmt::Debug for Scp03tCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scp03tCard")
            .field("state", &self.state_name())
            .field("buffered", &self.buffer.len())
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl Default for Scp03tCard {
    fn default() -> Self {
        Self::new()
    }
}

impl Scp03tCard {
    pub fn new() -> Self {
        Self {
            state: State::Idle,
            buffer: Zeroizing::new(Vec::new()),
            last_error: None,
        }
    }

    /// `idle`, `initialized` (after `84`), `open` (after `85`) or `done` (package handed over).
    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Idle => "idle",
            State::Initialized { .. } => "initialized",
            State::Open(_) => "open",
            State::Done => "done",
        }
    }

    /// Whether `86` segments are accepted now.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// Bytes of the package received so far.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Why the last command was refused.
    pub fn last_error(&self) -> Option<&Scp03tError> {
        self.last_error.as_ref()
    }

    /// Ends the session: keys and partial package are dropped.
    pub fn terminate(&mut self) {
        self.state = State::Idle;
        self.buffer.clear();
    }

    /// Processes one command TLV. `sd` is the ISD-P's SCP03 configuration (key sets, sequence
    /// counters, AID); `install` receives the complete package once and returns the verdict.
    /// The outcome is what an ETSI TS 102 226 script executor reports. After an `84` the
    /// caller persists `sd`'s sequence counter ([`Scp03Card::sequence_counter`]), as after an
    /// INITIALIZE UPDATE APDU: a counter that goes back would let old downloads replay.
    pub fn process<F>(&mut self, sd: &mut Scp03Card, tlv: &Tlv, install: F) -> RawOutcome
    where
        F: FnOnce(&[u8]) -> EuiccResponse,
    {
        let tag = tlv.tag.value();
        let Some(error_tag) = ErrorTag::for_command(tag) else {
            return RawOutcome::Unsupported;
        };
        let result = match tag {
            TAG_INITIALIZE_UPDATE => self.initialize_update(sd, &tlv.value),
            TAG_EXTERNAL_AUTHENTICATE => self.external_authenticate(&tlv.value),
            _ => self.profile_data(&tlv.value, install),
        };
        match result {
            Ok(answer) => {
                self.last_error = None;
                RawOutcome::Continue(answer)
            }
            Err(e) => {
                self.terminate();
                let answer = Tlv::new(error_tag.tag(), vec![e.reason().to_byte()]);
                self.last_error = Some(e);
                RawOutcome::Stop(answer)
            }
        }
    }

    fn initialize_update(&mut self, sd: &mut Scp03Card, value: &[u8]) -> Result<Tlv, Scp03tError> {
        self.terminate();
        let [kvn, key_id, ref challenge @ ..] = value[..] else {
            return Err(bad_length(TAG_INITIALIZE_UPDATE, "10", value.len()));
        };
        let host_challenge: [u8; CHALLENGE_LEN] = challenge
            .try_into()
            .map_err(|_| bad_length(TAG_INITIALIZE_UPDATE, "10", value.len()))?;
        if !ACCEPTED_KEY_IDENTIFIERS.contains(&key_id) {
            return Err(Scp03tError::KeyIdentifier(key_id));
        }
        if sd.options().mode != ScpMode::S8 {
            return Err(Scp03tError::OutOfOrder(
                "needs an S8 key set configuration (8-byte challenges)",
            ));
        }
        let apdu = CommandApdu::new(0x80, INS_INITIALIZE_UPDATE, kvn, 0x00)
            .with_data(host_challenge.to_vec());
        let (response, _pending) = sd.initialize_update(&apdu).map_err(|r| r.reason)?;
        let data = response
            .into_success()
            .map_err(|_| Scp03tError::OutOfOrder("INITIALIZE UPDATE failed"))?;
        let info = InitializeUpdateResponse::parse(&data)?;
        let static_keys = sd
            .keyset(info.kvn)
            .ok_or(ScpError::KeySetNotFound(info.kvn))?;
        let keys = SessionKeys::derive(static_keys, &host_challenge, &info.card_challenge);
        self.state = State::Initialized {
            keys,
            host_challenge,
            card_challenge: info.card_challenge,
        };
        Ok(Tlv::new(TAG_INITIALIZE_UPDATE, data))
    }

    fn external_authenticate(&mut self, value: &[u8]) -> Result<Tlv, Scp03tError> {
        let State::Initialized {
            keys,
            host_challenge,
            card_challenge,
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return Err(Scp03tError::OutOfOrder("85 without a preceding 84"));
        };
        if value.len() != 1 + CHALLENGE_LEN + MAC_LEN {
            return Err(bad_length(TAG_EXTERNAL_AUTHENTICATE, "17", value.len()));
        }
        let (body, mac) = value.split_at(1 + CHALLENGE_LEN);
        if body[0] != SECURITY_LEVEL {
            return Err(Scp03tError::SecurityLevel(body[0]));
        }
        let expected = host_cryptogram(&keys.s_mac, &host_challenge, &card_challenge, ScpMode::S8);
        if !bool::from(expected.ct_eq(&body[1..])) {
            return Err(Scp03tError::HostCryptogramMismatch);
        }
        let full = tlv_mac(&keys.s_mac, &[0; 16], TAG_EXTERNAL_AUTHENTICATE, body);
        if !bool::from(full[..MAC_LEN].ct_eq(mac)) {
            return Err(Scp03tError::CMacMismatch);
        }
        self.state = State::Open(Session::new(keys, full));
        Ok(Tlv::new(TAG_EXTERNAL_AUTHENTICATE, Vec::new()))
    }

    fn profile_data<F>(&mut self, value: &[u8], install: F) -> Result<Tlv, Scp03tError>
    where
        F: FnOnce(&[u8]) -> EuiccResponse,
    {
        let State::Open(session) = &mut self.state else {
            return Err(Scp03tError::OutOfOrder(
                "86 outside an authenticated session",
            ));
        };
        let data_len = value.len().saturating_sub(MAC_LEN);
        if data_len == 0 || !data_len.is_multiple_of(BLOCK) {
            return Err(bad_length(
                TAG_PROFILE_DATA,
                "16·n + 8 (n ≥ 1)",
                value.len(),
            ));
        }
        let (data, mac) = value.split_at(data_len);
        let counter = session.next_counter()?;
        let full = tlv_mac(&session.keys.s_mac, &session.mcv, TAG_PROFILE_DATA, data);
        if !bool::from(full[..MAC_LEN].ct_eq(mac)) {
            return Err(Scp03tError::CMacMismatch);
        }
        *session.mcv = full;
        let icv = command_icv(&session.keys.s_enc, counter);
        let plain = Zeroizing::new(cbc_decrypt(&session.keys.s_enc, &icv, data)?);
        let plain = Zeroizing::new(unpad(&plain, true).map_err(|_| Scp03tError::BadPadding)?);
        if self.buffer.len() + plain.len() > MAX_PACKAGE_LEN {
            return Err(Scp03tError::Package(format!(
                "larger than {MAX_PACKAGE_LEN} bytes"
            )));
        }
        self.buffer.extend_from_slice(&plain);
        if !package_complete(&self.buffer)? {
            return Ok(Tlv::new(TAG_PROFILE_DATA, Vec::new()));
        }
        let verdict = install(&self.buffer);
        let icv = response_icv(&session.keys.s_enc, counter);
        let mut answer = cbc_encrypt_padded(&session.keys.s_enc, &icv, &verdict.to_der());
        let rmac = tlv_mac(
            &session.keys.s_rmac,
            &session.mcv,
            TAG_PROFILE_DATA,
            &answer,
        );
        answer.extend_from_slice(&rmac[..MAC_LEN]);
        self.state = State::Done;
        self.buffer.clear();
        Ok(Tlv::new(TAG_PROFILE_DATA, answer))
    }
}

fn bad_length(tag: u32, expected: &'static str, got: usize) -> Scp03tError {
    Scp03tError::BadLength {
        tag: tag.into(),
        expected,
        got,
    }
}

/// Whether `buffer` is a whole profile package: a sequence of complete TLVs (PEs) whose last is
/// the End PE (`AA`). A TLV cut short means more segments are to come; bytes after the End PE,
/// or broken framing, are a structure error. This is the one place the card decides that the
/// download is over: SGP.02 sends the package as an opaque blob with no count, and SAIP makes
/// the End PE the last element of every package.
pub fn package_complete(buffer: &[u8]) -> Result<bool, Scp03tError> {
    let mut at = 0;
    while at < buffer.len() {
        match Tlv::parse_prefix(&buffer[at..]) {
            Ok((tlv, used)) => {
                at += used;
                if PeKind::from_tag(tlv.tag) == PeKind::End {
                    if at != buffer.len() {
                        return Err(Scp03tError::Package(format!(
                            "{} bytes after the End PE",
                            buffer.len() - at
                        )));
                    }
                    return Ok(true);
                }
            }
            Err(TlvError::Truncated { .. }) => return Ok(false),
            Err(e) => return Err(Scp03tError::Package(e.shifted(at).to_string())),
        }
    }
    Ok(false)
}
