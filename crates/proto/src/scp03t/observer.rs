//! A passive SCP03t decoder for recorded traces: fed the `84`/`85`/`86` command TLVs of ES8
//! scripts and the response TLVs the ISD-P answered, in the order the card processed them
//! (command, then its answer), it finds the session keys (a key log's session keys found by the
//! challenges, or the ISD-P's static keys), checks the card and host cryptograms, every C-MAC and
//! R-MAC, and decrypts the segments and the final `EUICCResponse` with the same primitives both
//! ends use ([`super::tlv_mac`], [`super::command_icv`], [`super::response_icv`]).
//!
//! A failure ends the session, as it does on the card: later segments are listed as not
//! verifiable until the next `84`.

use super::{
    command_icv, response_icv, tlv_mac, ErrorReason, ErrorTag, CHALLENGE_LEN, MAC_LEN,
    SECURITY_LEVEL, TAG_EXTERNAL_AUTHENTICATE, TAG_INITIALIZE_UPDATE, TAG_PROFILE_DATA,
};
use crate::scp03::cipher::{cbc_decrypt, unpad, BLOCK};
use crate::scp03::cryptogram::{card_cryptogram, host_cryptogram};
use crate::scp03::observer::LoggedSession;
use crate::scp03::{InitializeUpdateResponse, ScpMode, SessionKeys, StaticKeys};
use crate::tlv::Tlv;
use subtle::ConstantTimeEq;

/// What one TLV showed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlvCheck {
    /// The plaintext: a segment of the profile package (`86` command) or the `EUICCResponse`
    /// (`86` response with data).
    pub plain: Option<Vec<u8>>,
    /// Cryptogram and MAC checks: `Some(false)` when one failed, `None` when there was nothing
    /// to check (or no keys).
    pub ok: Option<bool>,
    /// What the TLV is, or why it could not be checked.
    pub note: Option<String>,
}

impl TlvCheck {
    fn note(text: impl Into<String>) -> Self {
        Self {
            note: Some(text.into()),
            ..Self::default()
        }
    }

    fn failed(text: impl Into<String>) -> Self {
        Self {
            ok: Some(false),
            note: Some(text.into()),
            plain: None,
        }
    }
}

#[derive(Default)]
enum State {
    #[default]
    Idle,
    /// `84` sent.
    Initiating { kvn: u8, host_challenge: Vec<u8> },
    /// `84` answered, keys found.
    Initialized {
        keys: SessionKeys,
        host_challenge: Vec<u8>,
        card_challenge: Vec<u8>,
    },
    /// `84` answered, no keys for it.
    NoKeys,
    Open {
        keys: SessionKeys,
        mcv: [u8; 16],
        counter: u32,
    },
    /// A check failed or the card answered an error: nothing more until the next `84`.
    Ended(&'static str),
}

/// The decoder of one card's SCP03t traffic.
pub struct Scp03tObserver<'a> {
    sessions: &'a [LoggedSession],
    keysets: &'a [StaticKeys],
    state: State,
}

impl std::fmt::Debug for Scp03tObserver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scp03tObserver").finish_non_exhaustive()
    }
}

impl<'a> Scp03tObserver<'a> {
    /// A decoder using logged session keys (found by host and card challenge) and static ISD-P
    /// key sets (found by key version).
    pub fn new(sessions: &'a [LoggedSession], keysets: &'a [StaticKeys]) -> Self {
        Self {
            sessions,
            keysets,
            state: State::Idle,
        }
    }

    /// A command TLV as the ISD-P received it.
    pub fn command(&mut self, tlv: &Tlv) -> TlvCheck {
        let value = &tlv.value[..];
        match tlv.tag.value() {
            TAG_INITIALIZE_UPDATE => match value {
                [kvn, _key_id, challenge @ ..] if challenge.len() == CHALLENGE_LEN => {
                    self.state = State::Initiating {
                        kvn: *kvn,
                        host_challenge: challenge.to_vec(),
                    };
                    TlvCheck::note(format!("INITIALIZE UPDATE, key version {kvn:02X}"))
                }
                _ => {
                    self.state = State::Ended("malformed 84");
                    TlvCheck::failed(format!("84 of {} bytes, not 10", value.len()))
                }
            },
            TAG_EXTERNAL_AUTHENTICATE => self.external_authenticate(value),
            TAG_PROFILE_DATA => self.profile_data(value),
            _ => TlvCheck::default(),
        }
    }

    fn external_authenticate(&mut self, value: &[u8]) -> TlvCheck {
        let State::Initialized {
            keys,
            host_challenge,
            card_challenge,
        } = std::mem::take(&mut self.state)
        else {
            let why = match &self.state {
                State::NoKeys => "EXTERNAL AUTHENTICATE: no keys for this session",
                _ => "EXTERNAL AUTHENTICATE without an answered 84 before it",
            };
            let check = TlvCheck::note(why);
            if !matches!(self.state, State::NoKeys) {
                self.state = State::Ended("85 out of order");
            }
            return check;
        };
        if value.len() != 1 + CHALLENGE_LEN + MAC_LEN {
            self.state = State::Ended("malformed 85");
            return TlvCheck::failed(format!("85 of {} bytes, not 17", value.len()));
        }
        let (body, mac) = value.split_at(1 + CHALLENGE_LEN);
        let expected = host_cryptogram(&keys.s_mac, &host_challenge, &card_challenge, ScpMode::S8);
        let cryptogram_ok = bool::from(expected.ct_eq(&body[1..]));
        let full = tlv_mac(&keys.s_mac, &[0; 16], TAG_EXTERNAL_AUTHENTICATE, body);
        let mac_ok = bool::from(full[..MAC_LEN].ct_eq(mac));
        let level = body[0];
        match (cryptogram_ok, mac_ok) {
            (true, true) => {
                self.state = State::Open {
                    keys,
                    mcv: full,
                    counter: 0,
                };
                let mut check = TlvCheck::note(format!(
                    "EXTERNAL AUTHENTICATE, security level {level:02X}: host cryptogram and \
                     C-MAC verified"
                ));
                check.ok = Some(true);
                if level != SECURITY_LEVEL {
                    check.note = Some(format!(
                        "EXTERNAL AUTHENTICATE with security level {level:02X}, not 33: the \
                         ISD-P refuses it"
                    ));
                    check.ok = Some(false);
                    self.state = State::Ended("security level");
                }
                check
            }
            (false, _) => {
                self.state = State::Ended("host cryptogram");
                TlvCheck::failed("EXTERNAL AUTHENTICATE: the host cryptogram does not verify")
            }
            (true, false) => {
                self.state = State::Ended("C-MAC");
                TlvCheck::failed("EXTERNAL AUTHENTICATE: the C-MAC does not verify")
            }
        }
    }

    fn profile_data(&mut self, value: &[u8]) -> TlvCheck {
        let (keys, mcv, counter) = match &mut self.state {
            State::Open { keys, mcv, counter } => (keys, mcv, counter),
            State::NoKeys => return TlvCheck::note("segment: no keys for this session"),
            State::Ended(why) => {
                return TlvCheck::note(format!(
                    "segment after the session ended ({why}): not verifiable"
                ))
            }
            _ => {
                self.state = State::Ended("86 outside a session");
                return TlvCheck::failed("segment outside an authenticated session");
            }
        };
        let data_len = value.len().saturating_sub(MAC_LEN);
        if data_len == 0 || !data_len.is_multiple_of(BLOCK) {
            self.state = State::Ended("malformed 86");
            return TlvCheck::failed(format!("segment of {} bytes, not 16·n + 8", value.len()));
        }
        let (data, mac) = value.split_at(data_len);
        *counter = counter.saturating_add(1);
        let n = *counter;
        let full = tlv_mac(&keys.s_mac, mcv, TAG_PROFILE_DATA, data);
        if !bool::from(full[..MAC_LEN].ct_eq(mac)) {
            self.state = State::Ended("C-MAC");
            return TlvCheck::failed(format!(
                "segment {n}: the C-MAC does not verify (tampered, reordered or missing segment)"
            ));
        }
        *mcv = full;
        let icv = command_icv(&keys.s_enc, *counter);
        let plain = cbc_decrypt(&keys.s_enc, &icv, data)
            .ok()
            .and_then(|p| unpad(&p, true).ok());
        match plain {
            Some(p) => TlvCheck {
                note: Some(format!(
                    "segment {counter}: {} bytes of profile package, C-MAC verified",
                    p.len()
                )),
                plain: Some(p),
                ok: Some(true),
            },
            None => {
                self.state = State::Ended("padding");
                TlvCheck::failed(format!("segment {n}: bad padding after decryption"))
            }
        }
    }

    /// The ISD-P's answer to the last command given to [`Self::command`].
    pub fn response(&mut self, tlv: &Tlv) -> TlvCheck {
        let tag = tlv.tag.value();
        if let Some(error) = ErrorTag::from_tag(tag) {
            let reason = tlv.value.first().copied().map(ErrorReason::from_byte);
            self.state = State::Ended("the card answered an error");
            return TlvCheck::note(format!(
                "the ISD-P refused the {:X} command: {}",
                error.tag() & 0xFF,
                reason.map_or_else(|| "no reason".to_owned(), |r| format!("{r:?}"))
            ));
        }
        match tag {
            TAG_INITIALIZE_UPDATE => self.initialize_update_response(&tlv.value),
            TAG_EXTERNAL_AUTHENTICATE => TlvCheck::note("authenticated"),
            TAG_PROFILE_DATA if tlv.value.is_empty() => TlvCheck::note("segment accepted"),
            TAG_PROFILE_DATA => self.profile_response(&tlv.value),
            _ => TlvCheck::default(),
        }
    }

    fn initialize_update_response(&mut self, value: &[u8]) -> TlvCheck {
        let State::Initiating {
            kvn,
            host_challenge,
        } = std::mem::take(&mut self.state)
        else {
            return TlvCheck::note("an 84 answer without an 84 before it");
        };
        let info = match InitializeUpdateResponse::parse(value) {
            Ok(i) => i,
            Err(e) => {
                self.state = State::Ended("malformed 84 answer");
                return TlvCheck::failed(format!("INITIALIZE UPDATE answer: {e}"));
            }
        };
        let logged = self.sessions.iter().find(|s| {
            s.host_challenge == host_challenge && s.card_challenge == info.card_challenge
        });
        let keys = match logged {
            Some(s) => Some(s.keys.clone()),
            None => self
                .keysets
                .iter()
                .filter(|k| k.kvn() == info.kvn || k.kvn() == kvn)
                .map(|k| SessionKeys::derive(k, &host_challenge, &info.card_challenge))
                .find(|s| {
                    let c = card_cryptogram(
                        &s.s_mac,
                        &host_challenge,
                        &info.card_challenge,
                        ScpMode::S8,
                    );
                    bool::from(c.ct_eq(&info.card_cryptogram))
                }),
        };
        let Some(keys) = keys else {
            self.state = State::NoKeys;
            return TlvCheck::note(format!(
                "INITIALIZE UPDATE answer, key version {:02X}: no keys for this session (give \
                 the key log of the run)",
                info.kvn
            ));
        };
        let expected = card_cryptogram(
            &keys.s_mac,
            &host_challenge,
            &info.card_challenge,
            ScpMode::S8,
        );
        if !bool::from(expected.ct_eq(&info.card_cryptogram)) {
            self.state = State::Ended("card cryptogram");
            return TlvCheck::failed(
                "INITIALIZE UPDATE answer: the card cryptogram does not verify",
            );
        }
        self.state = State::Initialized {
            keys,
            host_challenge,
            card_challenge: info.card_challenge,
        };
        TlvCheck {
            ok: Some(true),
            note: Some(format!(
                "INITIALIZE UPDATE answer, key version {:02X}: card cryptogram verified",
                info.kvn
            )),
            plain: None,
        }
    }

    fn profile_response(&mut self, value: &[u8]) -> TlvCheck {
        let State::Open { keys, mcv, counter } = &self.state else {
            return TlvCheck::note("segment answer outside a verified session");
        };
        let data_len = value.len().saturating_sub(MAC_LEN);
        if data_len == 0 || !data_len.is_multiple_of(BLOCK) {
            self.state = State::Ended("malformed 86 answer");
            return TlvCheck::failed(format!(
                "segment answer of {} bytes, not 16·n + 8",
                value.len()
            ));
        }
        let (data, mac) = value.split_at(data_len);
        let rmac = tlv_mac(&keys.s_rmac, mcv, TAG_PROFILE_DATA, data);
        if !bool::from(rmac[..MAC_LEN].ct_eq(mac)) {
            self.state = State::Ended("R-MAC");
            return TlvCheck::failed("segment answer: the R-MAC does not verify");
        }
        let icv = response_icv(&keys.s_enc, *counter);
        let plain = cbc_decrypt(&keys.s_enc, &icv, data)
            .ok()
            .and_then(|p| unpad(&p, true).ok());
        self.state = State::Ended("the download is complete");
        match plain {
            Some(p) => TlvCheck {
                note: Some("the ISD-P's EUICCResponse, R-MAC verified".into()),
                plain: Some(p),
                ok: Some(true),
            },
            None => TlvCheck::failed("segment answer: bad padding after decryption"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scp03t::Scp03tHost;

    fn keys() -> StaticKeys {
        StaticKeys::new(0x01, &[0x11; 16], &[0x22; 16], &[0x33; 16]).unwrap()
    }

    const AID: [u8; 16] = [
        0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x10,
        0x00,
    ];

    /// A package of whole PEs is not needed: the observer decrypts whatever the segments hold.
    fn download(package: &[u8]) -> crate::scp03t::ProtectedDownload {
        Scp03tHost::from_values(keys(), 0x01, &AID, 0, [7; 8])
            .unwrap()
            .with_segment_size(40)
            .unwrap()
            .protect(package)
            .unwrap()
    }

    /// The `84` answer a card with `keys()` gives (pseudo-random challenge, counter 1).
    fn initialize_answer(host_challenge: &[u8]) -> Tlv {
        let seq = [0, 0, 1];
        let cc = crate::scp03::cryptogram::pseudo_random_card_challenge(
            keys().enc(),
            seq,
            &AID,
            ScpMode::S8,
        )
        .unwrap();
        let s = SessionKeys::derive(&keys(), host_challenge, &cc);
        let crypto = card_cryptogram(&s.s_mac, host_challenge, &cc, ScpMode::S8);
        let mut data = vec![0; 10];
        data.extend([0x01, 0x03, 0x70]);
        data.extend(&cc);
        data.extend(&crypto);
        data.extend(seq);
        Tlv::new(TAG_INITIALIZE_UPDATE, data)
    }

    fn run(obs: &mut Scp03tObserver<'_>, d: &crate::scp03t::ProtectedDownload) -> Vec<TlvCheck> {
        let mut out = Vec::new();
        for (i, c) in d.commands.iter().enumerate() {
            out.push(obs.command(c));
            let answer = match i {
                0 => initialize_answer(&c.value[2..]),
                1 => Tlv::new(TAG_EXTERNAL_AUTHENTICATE, Vec::new()),
                _ => Tlv::new(TAG_PROFILE_DATA, Vec::new()),
            };
            out.push(obs.response(&answer));
        }
        out
    }

    #[test]
    fn static_keys_open_every_segment() {
        let package: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        let d = download(&package);
        let ks = [keys()];
        let mut obs = Scp03tObserver::new(&[], &ks);
        let out = run(&mut obs, &d);
        assert_eq!(out[1].ok, Some(true), "{:?}", out[1]);
        assert_eq!(out[2].ok, Some(true), "{:?}", out[2]);
        let joined: Vec<u8> = out
            .iter()
            .step_by(2)
            .skip(2)
            .flat_map(|c| c.plain.clone().unwrap())
            .collect();
        assert_eq!(joined, package);
    }

    #[test]
    fn logged_session_keys_open_every_segment() {
        let package = vec![0x5A; 100];
        let d = download(&package);
        let (hc, cc, s) = d.session_secrets().unwrap();
        let logged = [LoggedSession {
            host_challenge: hc.to_vec(),
            card_challenge: cc.to_vec(),
            keys: s.clone(),
        }];
        let mut obs = Scp03tObserver::new(&logged, &[]);
        let out = run(&mut obs, &d);
        assert!(out.iter().all(|c| c.ok != Some(false)), "{out:?}");
        assert_eq!(out[4].plain.as_deref(), Some(&package[..40]));
    }

    #[test]
    fn tampered_segment_fails_there_and_ends_the_session() {
        let d = download(&[0x42; 130]);
        let mut d2 = download(&[0x42; 130]);
        d2.commands[3].value[5] ^= 1;
        let ks = [keys()];
        let out = run(&mut Scp03tObserver::new(&[], &ks), &d2);
        assert_eq!(out[4].ok, Some(true));
        assert_eq!(out[6].ok, Some(false));
        assert!(out[6].note.as_deref().unwrap().contains("segment 2"));
        assert_eq!(out[8].ok, None);
        // Segments out of order break the chain too.
        let mut d3 = d;
        d3.commands.swap(3, 4);
        let out = run(&mut Scp03tObserver::new(&[], &ks), &d3);
        assert_eq!(out[6].ok, Some(false));
    }

    #[test]
    fn without_keys_nothing_fails() {
        let d = download(&[1; 50]);
        let out = run(&mut Scp03tObserver::new(&[], &[]), &d);
        assert!(out.iter().all(|c| c.ok.is_none()), "{out:?}");
        assert!(out[1].note.as_deref().unwrap().contains("no keys"));
    }
}
