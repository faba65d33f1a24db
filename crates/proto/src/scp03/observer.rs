//! A passive SCP03 decoder for recorded traces (`smsr trace decrypt`): given static key sets
//! and the recorded (command, response) byte pairs, it finds each session (INITIALIZE UPDATE →
//! EXTERNAL AUTHENTICATE, on any logical channel, starting anywhere in the trace), derives the
//! session keys from the recorded challenges (Amendment D v1.2 §6.2.1), checks the card and
//! host cryptograms, every C-MAC and R-MAC, and decrypts C-DECRYPTION / R-ENCRYPTION data
//! with the same engine the host and card use.
//!
//! Transport details handled: a response split by '61xx' and fetched with GET RESPONSE (never
//! wrapped) is reassembled before its R-MAC is checked (GPCS §11.1.5.2); a command answered
//! '6Cxx' and re-sent with the corrected Le was not processed, so it does not advance the
//! session. A clear SELECT by name or MANAGE CHANNEL close ends the session of its channel
//! (Amendment D §5.6); a MAC failure aborts it, as the card does.

use super::cryptogram::{card_cryptogram, host_cryptogram, ScpMode, SecurityLevel};
use super::diversify::Diversification;
use super::initialize_update::{
    has_secure_messaging, InitializeUpdateResponse, INS_INITIALIZE_UPDATE,
};
use super::keys::{SessionKeys, StaticKeys};
use super::wrap::SecureMessaging;
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;
use subtle::ConstantTimeEq;

/// What an exchange was, as far as SCP03 goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeKind {
    /// Outside any known session on its channel.
    Clear,
    /// INITIALIZE UPDATE.
    InitializeUpdate,
    /// EXTERNAL AUTHENTICATE of a session being opened.
    ExternalAuthenticate,
    /// A command of an open session.
    Secured,
    /// GET RESPONSE fetching the rest of the response to exchange `command`.
    GetResponse { command: usize },
    /// Answered '6Cxx' and re-sent with the right Le: not processed by the card.
    WrongLe,
    /// Bytes that are not an APDU.
    Unparsable,
}

/// One decoded exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedExchange {
    /// Position in the trace.
    pub index: usize,
    pub kind: ExchangeKind,
    /// Logical channel of the command.
    pub channel: u8,
    /// The command as the application saw it (MAC removed, data decrypted), or as recorded.
    pub c_apdu_plain: Vec<u8>,
    /// The response data after reassembly, R-MAC removal and decryption. When GET RESPONSE
    /// continues a response, the whole of it is shown on the last exchange of the chain.
    pub r_data_plain: Vec<u8>,
    /// The recorded status word (`None` when the response is shorter than two bytes).
    pub sw: Option<StatusWord>,
    /// C-MAC check, `None` when the command carries no C-MAC.
    pub c_mac_ok: Option<bool>,
    /// R-MAC check, `None` when the response carries no R-MAC.
    pub r_mac_ok: Option<bool>,
    /// Card cryptogram (INITIALIZE UPDATE) or host cryptogram (EXTERNAL AUTHENTICATE) check.
    pub cryptogram_ok: Option<bool>,
    /// What went wrong or what the card will do about it.
    pub note: Option<String>,
}

#[derive(Debug, Default)]
enum ChannelState {
    #[default]
    Idle,
    Pending {
        keys: SessionKeys,
        host_challenge: Vec<u8>,
        card_challenge: Vec<u8>,
        mode: ScpMode,
    },
    Open(SecureMessaging),
    Aborted,
}

/// Session keys a key log recorded for one session, found by its challenges.
#[derive(Clone, Debug)]
pub struct LoggedSession {
    pub host_challenge: Vec<u8>,
    pub card_challenge: Vec<u8>,
    pub keys: SessionKeys,
}

/// The decoder: key sets to try and the diversification that turns them into card keys.
#[derive(Clone, Debug, Default)]
pub struct Observer {
    keysets: Vec<StaticKeys>,
    sessions: Vec<LoggedSession>,
    diversification: Diversification,
}

impl Observer {
    /// An observer trying these key sets (the one whose KVN the card names first).
    pub fn new(keysets: Vec<StaticKeys>) -> Self {
        Self {
            keysets,
            sessions: Vec::new(),
            diversification: Diversification::None,
        }
    }

    /// Also uses these logged session keys (tried first, matched by host and card challenge).
    #[must_use]
    pub fn with_sessions(mut self, sessions: Vec<LoggedSession>) -> Self {
        self.sessions = sessions;
        self
    }

    /// Applies a diversification with each card's KDD.
    #[must_use]
    pub fn with_diversification(mut self, diversification: Diversification) -> Self {
        self.diversification = diversification;
        self
    }

    /// Decodes a trace of (command bytes, response bytes) pairs, one result per pair.
    pub fn observe<C: AsRef<[u8]>, R: AsRef<[u8]>>(
        &self,
        exchanges: &[(C, R)],
    ) -> Vec<ObservedExchange> {
        let mut states: Vec<ChannelState> = (0..20).map(|_| ChannelState::default()).collect();
        let mut out: Vec<ObservedExchange> = Vec::with_capacity(exchanges.len());
        let parsed: Vec<(Option<CommandApdu>, Option<ResponseApdu>)> = exchanges
            .iter()
            .map(|(c, r)| {
                (
                    CommandApdu::parse(c.as_ref()).ok(),
                    ResponseApdu::parse(r.as_ref()).ok(),
                )
            })
            .collect();
        let mut i = 0;
        while i < exchanges.len() {
            let raw_cmd = exchanges[i].0.as_ref().to_vec();
            let (cmd, resp) = &parsed[i];
            let mut first = ObservedExchange {
                index: i,
                kind: ExchangeKind::Unparsable,
                channel: 0,
                c_apdu_plain: raw_cmd,
                r_data_plain: resp.as_ref().map(|r| r.data.clone()).unwrap_or_default(),
                sw: resp.as_ref().map(|r| r.sw),
                c_mac_ok: None,
                r_mac_ok: None,
                cryptogram_ok: None,
                note: None,
            };
            let Some(cmd) = cmd else {
                out.push(first);
                i += 1;
                continue;
            };
            first.channel = cmd.channel();
            if let (Some(r), Some((Some(next), _))) = (resp, parsed.get(i + 1)) {
                if matches!(r.sw, StatusWord::WrongLe(_)) && same_but_le(cmd, next) {
                    first.kind = ExchangeKind::WrongLe;
                    first.note = Some("re-sent with the Le the card asked for".into());
                    out.push(first);
                    i += 1;
                    continue;
                }
            }
            // Reassemble a response continued by GET RESPONSE.
            let mut last = i;
            let mut full = resp.clone();
            while let (Some(r), Some((Some(gr), Some(piece)))) = (&mut full, parsed.get(last + 1)) {
                if !matches!(r.sw, StatusWord::BytesAvailable(_))
                    || !is_get_response(gr, cmd.channel())
                {
                    break;
                }
                r.data.extend_from_slice(&piece.data);
                r.sw = piece.sw;
                last += 1;
            }
            // Outside a session the whole response is what the application saw.
            if let Some(r) = &full {
                first.r_data_plain.clone_from(&r.data);
            }
            let mut scratch = ChannelState::Idle;
            let state = states
                .get_mut(usize::from(cmd.channel()))
                .unwrap_or(&mut scratch);
            if let Some(close) = self.step(state, cmd, full.as_ref(), &mut first) {
                if let Some(s) = states.get_mut(usize::from(close)) {
                    *s = ChannelState::Idle;
                }
            }
            let response_view = (first.r_data_plain.clone(), first.r_mac_ok);
            if last > i {
                first.r_data_plain = parsed[i]
                    .1
                    .as_ref()
                    .map(|r| r.data.clone())
                    .unwrap_or_default();
                first.r_mac_ok = None;
            }
            out.push(first);
            for k in i + 1..=last {
                let piece = parsed[k].1.as_ref();
                let (data, mac) = if k == last {
                    response_view.clone()
                } else {
                    (piece.map(|r| r.data.clone()).unwrap_or_default(), None)
                };
                out.push(ObservedExchange {
                    index: k,
                    kind: ExchangeKind::GetResponse { command: i },
                    channel: parsed[k].0.as_ref().map_or(0, CommandApdu::channel),
                    c_apdu_plain: exchanges[k].0.as_ref().to_vec(),
                    r_data_plain: data,
                    sw: piece.map(|r| r.sw),
                    c_mac_ok: None,
                    r_mac_ok: mac,
                    cryptogram_ok: None,
                    note: None,
                });
            }
            i = last + 1;
        }
        out
    }

    /// Decodes one command and its (reassembled) response, updating the channel state.
    /// Returns a channel to close (MANAGE CHANNEL close).
    fn step(
        &self,
        state: &mut ChannelState,
        cmd: &CommandApdu,
        resp: Option<&ResponseApdu>,
        out: &mut ObservedExchange,
    ) -> Option<u8> {
        out.kind = ExchangeKind::Clear;
        let gp = cmd.cla & 0x80 != 0;
        let sm = has_secure_messaging(cmd.cla);
        let ok = resp.is_some_and(|r| r.sw == StatusWord::Success);
        if gp && !sm && cmd.ins == INS_INITIALIZE_UPDATE {
            out.kind = ExchangeKind::InitializeUpdate;
            *state = ChannelState::Idle;
            if let (true, Some(r)) = (ok, resp) {
                *state = self.initialize_update(cmd, r, out);
            }
            return None;
        }
        if !sm && cmd.ins == 0xA4 && cmd.p1 == 0x04 {
            if !matches!(state, ChannelState::Idle) {
                out.note = Some("SELECT ends the secure channel session of this channel".into());
            }
            *state = ChannelState::Idle;
            return None;
        }
        if !sm && cmd.cla & 0x80 == 0 && matches!(cmd.ins, 0x70 | 0xC0) {
            // MANAGE CHANNEL and GET RESPONSE are transport commands, not the session's.
            if cmd.ins == 0x70 && cmd.p1 == 0x80 {
                return Some(if cmd.p2 == 0 { cmd.channel() } else { cmd.p2 });
            }
            return None;
        }
        match std::mem::take(state) {
            ChannelState::Pending {
                keys,
                host_challenge,
                card_challenge,
                mode,
            } if gp && sm && cmd.ins == 0x82 => {
                out.kind = ExchangeKind::ExternalAuthenticate;
                let Ok(level) = SecurityLevel::from_p1(cmd.p1) else {
                    out.note = Some(format!("invalid security level '{:02X}'", cmd.p1));
                    return None;
                };
                let expected = host_cryptogram(&keys.s_mac, &host_challenge, &card_challenge, mode);
                out.cryptogram_ok = cmd
                    .data
                    .get(..mode.challenge_len())
                    .map(|c| bool::from(expected.ct_eq(c)));
                let mut engine = SecureMessaging::new(keys, mode, level).with_extended_length(true);
                match engine.check_external_authenticate(cmd) {
                    Ok(checked) => {
                        out.c_mac_ok = checked.mac_ok;
                        if let Ok(plain) = engine.open_command(checked, false) {
                            out.c_apdu_plain = plain.to_bytes().unwrap_or_default();
                        }
                    }
                    Err(e) => out.note = Some(e.to_string()),
                }
                let verified = out.c_mac_ok == Some(true) && out.cryptogram_ok == Some(true);
                match (verified, ok) {
                    (true, true) => *state = ChannelState::Open(engine),
                    (true, false) => {
                        out.note = Some("the card refused EXTERNAL AUTHENTICATE".into());
                    }
                    (false, _) => {
                        out.note.get_or_insert_with(|| {
                            "the host cryptogram or C-MAC does not verify with these keys".into()
                        });
                    }
                }
            }
            ChannelState::Open(mut engine) => {
                out.kind = ExchangeKind::Secured;
                match engine.check_command(cmd) {
                    Ok(checked) => {
                        out.c_mac_ok = checked.mac_ok;
                        match engine.open_command(checked, false) {
                            Ok(plain) => out.c_apdu_plain = plain.to_bytes().unwrap_or_default(),
                            Err(e) => out.note = Some(format!("command data: {e}")),
                        }
                    }
                    Err(e) => out.note = Some(e.to_string()),
                }
                if out.c_mac_ok != Some(false) && out.note.is_none() {
                    if let Some(r) = resp {
                        self.response(&engine, r, out);
                    }
                    *state = ChannelState::Open(engine);
                } else {
                    let why = out.note.take().unwrap_or_else(|| "C-MAC mismatch".into());
                    out.note = Some(format!(
                        "{why}: the card rejects this and aborts the session"
                    ));
                    *state = ChannelState::Aborted;
                }
            }
            ChannelState::Aborted => {
                out.note =
                    Some("session aborted earlier: the card rejects secured commands".into());
                *state = ChannelState::Aborted;
            }
            ChannelState::Idle | ChannelState::Pending { .. } => {
                if sm {
                    out.note =
                        Some("secure messaging outside a session known from this trace".into());
                }
            }
        }
        None
    }

    fn initialize_update(
        &self,
        cmd: &CommandApdu,
        resp: &ResponseApdu,
        out: &mut ObservedExchange,
    ) -> ChannelState {
        let info = match InitializeUpdateResponse::parse(&resp.data) {
            Ok(info) => info,
            Err(e) => {
                out.note = Some(e.to_string());
                return ChannelState::Idle;
            }
        };
        let mode = info.options.mode;
        if cmd.data.len() != mode.challenge_len() {
            out.note = Some("host challenge length does not match the card's mode".into());
            return ChannelState::Idle;
        }
        if let Some(logged) = self
            .sessions
            .iter()
            .find(|s| s.host_challenge == cmd.data && s.card_challenge == info.card_challenge)
        {
            let expected =
                card_cryptogram(&logged.keys.s_mac, &cmd.data, &info.card_challenge, mode);
            let ok = bool::from(expected.ct_eq(&info.card_cryptogram));
            out.cryptogram_ok = Some(ok);
            if ok {
                return ChannelState::Pending {
                    keys: logged.keys.clone(),
                    host_challenge: cmd.data.clone(),
                    card_challenge: info.card_challenge,
                    mode,
                };
            }
            out.note = Some("the logged session keys do not verify the card cryptogram".into());
            return ChannelState::Idle;
        }
        let mut candidates: Vec<&StaticKeys> = self
            .keysets
            .iter()
            .filter(|k| k.kvn() == info.kvn)
            .collect();
        candidates.extend(self.keysets.iter().filter(|k| k.kvn() != info.kvn));
        for keys in candidates {
            let card_keys = self.diversification.apply(keys, &info.kdd);
            let session = SessionKeys::derive(&card_keys, &cmd.data, &info.card_challenge);
            let expected = card_cryptogram(&session.s_mac, &cmd.data, &info.card_challenge, mode);
            if bool::from(expected.ct_eq(&info.card_cryptogram)) {
                out.cryptogram_ok = Some(true);
                return ChannelState::Pending {
                    keys: session,
                    host_challenge: cmd.data.clone(),
                    card_challenge: info.card_challenge,
                    mode,
                };
            }
        }
        out.cryptogram_ok = Some(false);
        out.note = Some(format!(
            "no key set verifies the card cryptogram of key version '{:02X}'",
            info.kvn
        ));
        ChannelState::Idle
    }

    fn response(&self, engine: &SecureMessaging, resp: &ResponseApdu, out: &mut ObservedExchange) {
        match engine.check_response(resp) {
            Ok(checked) => {
                out.r_mac_ok = checked.mac_ok;
                match engine.open_response(checked) {
                    Ok(plain) => out.r_data_plain = plain.data,
                    Err(e) => out.note = Some(format!("response data: {e}")),
                }
            }
            Err(e) => {
                out.r_mac_ok = Some(false);
                out.note = Some(e.to_string());
            }
        }
    }
}

/// GET RESPONSE: ISO class on the same channel, INS 'C0', no data.
fn is_get_response(cmd: &CommandApdu, channel: u8) -> bool {
    cmd.ins == 0xC0 && cmd.cla & 0x80 == 0 && cmd.channel() == channel && cmd.data.is_empty()
}

fn same_but_le(a: &CommandApdu, b: &CommandApdu) -> bool {
    (a.cla, a.ins, a.p1, a.p2, &a.data) == (b.cla, b.ins, b.p1, b.p2, &b.data)
}

#[cfg(test)]
mod tests;
