//! The SM-DP side of SCP03t (SGP.02 §2.5.2–§2.5.3): every command TLV is computed offline from
//! the ISD-P key set (put by ES8 EstablishISDPKeySet), the ISD-P AID and the ISD-P's
//! pseudo-random sequence counter, then a [`ResponseChecker`] verifies the card's answers in
//! order and decrypts the final `EUICCResponse`.
//!
//! The card challenge is pseudo-random (i = `70`), so the host predicts it: the ISD-P
//! increments its counter on `84` and derives the challenge from the incremented value
//! ([`session_sequence_counter`]). The host then checks that the `84 20` answer carries exactly
//! the predicted challenge, cryptogram and counter; any difference means that the `85` and `86`
//! sent in the same script were refused.

use super::{
    command_icv, response_icv, tlv_mac, ErrorReason, ErrorTag, Scp03tError, Session, CHALLENGE_LEN,
    MAC_LEN, MAX_SEGMENT_PLAINTEXT, SECURITY_LEVEL, TAG_EXTERNAL_AUTHENTICATE,
    TAG_INITIALIZE_UPDATE, TAG_PROFILE_DATA,
};
use crate::ota::response::{ResponseScript, ResponseTlv};
use crate::ota::script::{CommandScript, ScriptChaining};
use crate::saip::EuiccResponse;
use crate::scp03::cipher::{cbc_decrypt, cbc_encrypt_padded, unpad};
use crate::scp03::cryptogram::{
    card_cryptogram, host_cryptogram, pseudo_random_card_challenge, sequence_counter_bytes,
    SEQUENCE_COUNTER_MAX,
};
use crate::scp03::{InitializeUpdateResponse, ScpError, ScpMode, SessionKeys, StaticKeys};
use crate::tlv::{Tag, Tlv};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The counter value an ISD-P uses for the next session: GP Amendment D §6.2.2.1 increments
/// the stored counter on INITIALIZE UPDATE (here `84`) and uses the incremented value. A key set
/// just put by ES8 has counter 0, so its first session uses 1.
pub fn session_sequence_counter(stored: u32, kvn: u8) -> Result<u32, Scp03tError> {
    if stored >= SEQUENCE_COUNTER_MAX {
        return Err(ScpError::SequenceCounterExhausted(kvn).into());
    }
    Ok(stored + 1)
}

/// What the host needs to protect one package.
#[derive(Debug)]
pub struct Scp03tHost {
    keys: StaticKeys,
    key_id: u8,
    isdp_aid: Vec<u8>,
    sequence_counter: u32,
    host_challenge: Zeroizing<[u8; CHALLENGE_LEN]>,
    segment: usize,
}

impl Scp03tHost {
    /// `keys` is the ISD-P key set (its KVN goes into `84`), `key_id` the key identifier sent in
    /// `84`, `stored_counter` the ISD-P's sequence counter for that key set as last returned
    /// (0 after key establishment). The host challenge comes from the OS RNG.
    pub fn new(
        keys: StaticKeys,
        key_id: u8,
        isdp_aid: &[u8],
        stored_counter: u32,
    ) -> Result<Self, Scp03tError> {
        let mut challenge = [0u8; CHALLENGE_LEN];
        getrandom::getrandom(&mut challenge).map_err(|e| ScpError::Rng(e.to_string()))?;
        Self::from_values(keys, key_id, isdp_aid, stored_counter, challenge)
    }

    /// As [`Scp03tHost::new`] with a given host challenge (tests, reproducible scripts).
    pub fn from_values(
        keys: StaticKeys,
        key_id: u8,
        isdp_aid: &[u8],
        stored_counter: u32,
        host_challenge: [u8; CHALLENGE_LEN],
    ) -> Result<Self, Scp03tError> {
        if !(5..=16).contains(&isdp_aid.len()) {
            return Err(ScpError::BadAidLength(isdp_aid.len()).into());
        }
        let sequence_counter = session_sequence_counter(stored_counter, keys.kvn())?;
        Ok(Self {
            keys,
            key_id,
            isdp_aid: isdp_aid.to_vec(),
            sequence_counter,
            host_challenge: Zeroizing::new(host_challenge),
            segment: MAX_SEGMENT_PLAINTEXT,
        })
    }

    /// Cuts the package into plaintext segments of at most `len` bytes (1..=1007; the default
    /// is the largest that keeps every `86` within 1024 bytes).
    pub fn with_segment_size(mut self, len: usize) -> Result<Self, Scp03tError> {
        if !(1..=MAX_SEGMENT_PLAINTEXT).contains(&len) {
            return Err(Scp03tError::SegmentSize(len));
        }
        self.segment = len;
        Ok(self)
    }

    /// The sequence counter the card will use for this session.
    pub fn sequence_counter(&self) -> u32 {
        self.sequence_counter
    }

    /// Builds `84`, `85` and the `86` segments of `package`, and the checker of the answers.
    pub fn protect(self, package: &[u8]) -> Result<ProtectedDownload, Scp03tError> {
        if package.is_empty() {
            return Err(Scp03tError::Package("empty package".into()));
        }
        let mode = ScpMode::S8;
        let seq = sequence_counter_bytes(self.sequence_counter);
        let card_challenge =
            pseudo_random_card_challenge(self.keys.enc(), seq, &self.isdp_aid, mode)?;
        let host_challenge = &self.host_challenge[..];
        let keys = SessionKeys::derive(&self.keys, host_challenge, &card_challenge);
        let expected_card_cryptogram =
            card_cryptogram(&keys.s_mac, host_challenge, &card_challenge, mode);
        let host_crypto = host_cryptogram(&keys.s_mac, host_challenge, &card_challenge, mode);

        let mut commands = Vec::new();
        let mut init = vec![self.keys.kvn(), self.key_id];
        init.extend_from_slice(host_challenge);
        commands.push(Tlv::new(TAG_INITIALIZE_UPDATE, init));

        let mut auth = vec![SECURITY_LEVEL];
        auth.extend_from_slice(&host_crypto);
        let mac = tlv_mac(&keys.s_mac, &[0; 16], TAG_EXTERNAL_AUTHENTICATE, &auth);
        auth.extend_from_slice(&mac[..MAC_LEN]);
        commands.push(Tlv::new(TAG_EXTERNAL_AUTHENTICATE, auth));

        let mut session = Session::new(keys, mac);
        let mut segments = Vec::new();
        for chunk in package.chunks(self.segment) {
            let counter = session.next_counter()?;
            let icv = command_icv(&session.keys.s_enc, counter);
            let mut value = cbc_encrypt_padded(&session.keys.s_enc, &icv, chunk);
            let mac = tlv_mac(&session.keys.s_mac, &session.mcv, TAG_PROFILE_DATA, &value);
            value.extend_from_slice(&mac[..MAC_LEN]);
            *session.mcv = mac;
            segments.push(SegmentState { mac, counter });
            commands.push(Tlv::new(TAG_PROFILE_DATA, value));
        }
        Ok(ProtectedDownload {
            commands,
            checker: ResponseChecker {
                expected: InitializeUpdateExpectation {
                    kvn: self.keys.kvn(),
                    card_challenge,
                    card_cryptogram: expected_card_cryptogram,
                    sequence_counter: seq,
                },
                keys: Some(session.keys),
                segments,
                next: 0,
                result: None,
            },
        })
    }
}

/// The command TLVs of one download and the checker of their answers.
#[derive(Debug)]
pub struct ProtectedDownload {
    /// `84`, `85`, then one `86` per segment, in order.
    pub commands: Vec<Tlv>,
    pub checker: ResponseChecker,
}

impl ProtectedDownload {
    /// The ES8 command scripts (ETSI TS 102 226 expanded format) that carry the download to
    /// the ISD-P, chained as in SGP.02 Annex K (njiwa's reading, `shared/protocol/SGP02.md`
    /// §4.4): the first script holds `84` and `85` and opens the chain with `83 01 11` (first
    /// script, chaining kept across a reset); each `86` travels in its own script with
    /// `83 01 02`, the last with `83 01 03`.
    /// The session's host challenge, card challenge and session keys, for a key log
    /// (`--keylog`): what a trace reader needs to open this session and nothing longer-lived.
    /// `None` once the checker ended the session (keys wiped).
    pub fn session_secrets(&self) -> Option<(&[u8], &[u8], &SessionKeys)> {
        let host_challenge = self.commands.first()?.value.get(2..)?;
        let keys = self.checker.keys.as_ref()?;
        Some((host_challenge, &self.checker.expected.card_challenge, keys))
    }

    pub fn scripts(&self) -> Vec<CommandScript> {
        self.scripts_of(0)
    }

    /// [`Self::scripts`] for a transport that carries larger scripts (HTTPS): the `86`
    /// segments are grouped, in order, into scripts of at most `limit` bytes of command TLVs
    /// (at least one segment each; `0` keeps one segment per script). The chaining is the
    /// same: `83 01 02` for each script after the first, `83 01 03` for the last.
    pub fn scripts_of(&self, limit: usize) -> Vec<CommandScript> {
        let mut out = Vec::new();
        let mut first = CommandScript::new().chained(ScriptChaining::FirstKeepOnReset);
        for c in self.commands.iter().take(2) {
            first = first.raw(c.clone());
        }
        out.push(first);
        let mut groups: Vec<Vec<&Tlv>> = Vec::new();
        let mut size = 0;
        for c in self.commands.iter().skip(2) {
            let len = c.to_bytes().len();
            match groups.last_mut() {
                Some(g) if limit > 0 && size + len <= limit => {
                    g.push(c);
                    size += len;
                }
                _ => {
                    groups.push(vec![c]);
                    size = len;
                }
            }
        }
        let count = groups.len();
        for (i, g) in groups.into_iter().enumerate() {
            let chaining = if i + 1 == count {
                ScriptChaining::Last
            } else {
                ScriptChaining::Subsequent
            };
            let mut script = CommandScript::new().chained(chaining);
            for c in g {
                script = script.raw(c.clone());
            }
            out.push(script);
        }
        out
    }
}

#[derive(Debug)]
struct InitializeUpdateExpectation {
    kvn: u8,
    card_challenge: Vec<u8>,
    card_cryptogram: Vec<u8>,
    sequence_counter: [u8; 3],
}

#[derive(Clone)]
struct SegmentState {
    mac: [u8; 16],
    counter: u32,
}

impl std::fmt::Debug for SegmentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SegmentState {{ counter: {} }}", self.counter)
    }
}

/// What one answer said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostEvent {
    /// `84 20` matched the offline computation.
    Initialized(InitializeUpdateResponse),
    /// `85 00`.
    Authenticated,
    /// `86 00` for segment `index` (0-based).
    SegmentAccepted { index: usize },
    /// `86` with data for segment `index`: the decrypted `EUICCResponse`.
    Result {
        index: usize,
        response: EuiccResponse,
    },
}

/// The outcome of a whole download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadOutcome {
    pub events: Vec<HostEvent>,
    /// The `EUICCResponse` that came back, if any.
    pub response: Option<EuiccResponse>,
}

/// Checks the card's response TLVs in the order of the commands. Any failure ends the checker
/// and wipes its keys.
#[derive(Debug)]
pub struct ResponseChecker {
    expected: InitializeUpdateExpectation,
    keys: Option<SessionKeys>,
    segments: Vec<SegmentState>,
    /// Index of the next command whose answer is expected (0 = `84`).
    next: usize,
    result: Option<EuiccResponse>,
}

impl ResponseChecker {
    /// Number of answers still expected.
    pub fn remaining(&self) -> usize {
        (self.segments.len() + 2).saturating_sub(self.next)
    }

    /// Whether every command was answered and checked.
    pub fn is_complete(&self) -> bool {
        self.keys.is_some() && self.remaining() == 0
    }

    /// Whether an earlier failure ended the checker.
    pub fn is_terminated(&self) -> bool {
        self.keys.is_none()
    }

    /// Ends the checker and wipes its keys.
    pub fn terminate(&mut self) {
        self.keys = None;
        self.segments.clear();
    }

    /// Checks the answer to the next command.
    pub fn check(&mut self, tlv: &Tlv) -> Result<HostEvent, Scp03tError> {
        let result = self.check_inner(tlv);
        match &result {
            Ok(_) => self.next += 1,
            Err(_) => self.terminate(),
        }
        result
    }

    /// Checks every answer of a response script (its SCP03t TLVs, in order). The card stops at
    /// its first error, so an error TLV ends the check with [`Scp03tError::CardError`].
    pub fn check_all<'a>(
        &mut self,
        tlvs: impl IntoIterator<Item = &'a Tlv>,
    ) -> Result<DownloadOutcome, Scp03tError> {
        let mut events = Vec::new();
        for t in tlvs {
            events.push(self.check(t)?);
        }
        Ok(DownloadOutcome {
            events,
            response: self.result.clone(),
        })
    }

    /// Checks the SCP03t answers of one response script. A bad format TLV (`90`) is an error:
    /// the script did not reach the ISD-P as sent.
    pub fn check_response_script(
        &mut self,
        script: &ResponseScript,
    ) -> Result<Vec<HostEvent>, Scp03tError> {
        let mut events = Vec::new();
        for item in &script.items {
            match item {
                ResponseTlv::Raw(t) => events.push(self.check(t)?),
                ResponseTlv::BadFormat(b) => {
                    self.terminate();
                    return Err(Scp03tError::BadScript(b.to_byte()));
                }
                ResponseTlv::Apdu(_) | ResponseTlv::ImmediateActionResponse(_) => {}
            }
        }
        Ok(events)
    }

    /// The `EUICCResponse` received so far.
    pub fn response(&self) -> Option<&EuiccResponse> {
        self.result.as_ref()
    }

    fn check_inner(&mut self, tlv: &Tlv) -> Result<HostEvent, Scp03tError> {
        let keys = self.keys.as_ref().ok_or(Scp03tError::SessionClosed)?;
        let tag = tlv.tag.value();
        if let Some(error) = ErrorTag::from_tag(tag) {
            let [b] = tlv.value[..] else {
                return Err(Scp03tError::BadLength {
                    tag: tlv.tag,
                    expected: "1",
                    got: tlv.value.len(),
                });
            };
            return Err(Scp03tError::CardError {
                tag: error,
                reason: ErrorReason::from_byte(b),
            });
        }
        match self.next {
            0 => {
                expect(
                    tlv,
                    TAG_INITIALIZE_UPDATE,
                    "84 (INITIALIZE UPDATE response)",
                )?;
                let r = InitializeUpdateResponse::parse(&tlv.value)?;
                let e = &self.expected;
                if r.kvn != e.kvn {
                    return Err(ScpError::KvnMismatch {
                        requested: e.kvn,
                        returned: r.kvn,
                    }
                    .into());
                }
                if r.options.mode != ScpMode::S8 || !r.options.pseudo_random {
                    return Err(Scp03tError::InitializeMismatch {
                        what: "\"i\" parameter (SGP.02 requires 70)",
                    });
                }
                if r.sequence_counter != Some(e.sequence_counter) {
                    return Err(Scp03tError::InitializeMismatch {
                        what: "sequence counter",
                    });
                }
                if !bool::from(r.card_challenge.ct_eq(&e.card_challenge)) {
                    return Err(Scp03tError::InitializeMismatch { what: "challenge" });
                }
                if !bool::from(r.card_cryptogram.ct_eq(&e.card_cryptogram)) {
                    return Err(Scp03tError::InitializeMismatch { what: "cryptogram" });
                }
                Ok(HostEvent::Initialized(r))
            }
            1 => {
                expect(
                    tlv,
                    TAG_EXTERNAL_AUTHENTICATE,
                    "85 (EXTERNAL AUTHENTICATE response)",
                )?;
                if !tlv.value.is_empty() {
                    return Err(Scp03tError::BadLength {
                        tag: tlv.tag,
                        expected: "0",
                        got: tlv.value.len(),
                    });
                }
                Ok(HostEvent::Authenticated)
            }
            n => {
                let index = n - 2;
                let seg = self
                    .segments
                    .get(index)
                    .ok_or(Scp03tError::OutOfOrder("answer after the last command"))?;
                expect(tlv, TAG_PROFILE_DATA, "86 (profile data response)")?;
                if tlv.value.is_empty() {
                    return Ok(HostEvent::SegmentAccepted { index });
                }
                let split = tlv
                    .value
                    .len()
                    .checked_sub(MAC_LEN)
                    .ok_or(Scp03tError::BadLength {
                        tag: tlv.tag,
                        expected: "0, or encrypted data and an 8-byte R-MAC",
                        got: tlv.value.len(),
                    })?;
                let (data, rmac) = tlv.value.split_at(split);
                let full = tlv_mac(&keys.s_rmac, &seg.mac, TAG_PROFILE_DATA, data);
                if !bool::from(full[..MAC_LEN].ct_eq(rmac)) {
                    return Err(Scp03tError::RMacMismatch);
                }
                let icv = response_icv(&keys.s_enc, seg.counter);
                let plain = cbc_decrypt(&keys.s_enc, &icv, data)?;
                let plain = unpad(&plain, true).map_err(|_| Scp03tError::BadPadding)?;
                let response = EuiccResponse::from_der(&plain)?;
                self.result = Some(response.clone());
                Ok(HostEvent::Result { index, response })
            }
        }
    }
}

fn expect(tlv: &Tlv, tag: u32, expected: &'static str) -> Result<(), Scp03tError> {
    if tlv.tag != Tag::new(tag) {
        return Err(Scp03tError::UnexpectedTag {
            expected,
            got: tlv.tag,
        });
    }
    Ok(())
}
