//! The layered reading of a trace behind `smsr trace decrypt` and `smsr trace show`: each
//! exchange is opened through every layer it carries, as far as the keys go.
//!
//! - SCP03 on the card (`--es5 scp03`, `gp`): sessions found and opened by
//!   [`smsr_proto::scp03::Observer`] (static keys, or a key log's session keys); every
//!   cryptogram, C-MAC and R-MAC checked. A script for an ISD-P in INSTALL [for
//!   personalization] + STORE DATA blocks is joined and read as a command script, the last
//!   block's answer as its response script.
//! - SMS-PP download ENVELOPEs: SMS-DELIVER (originator, PID, DCS, user data header) →
//!   concatenated messages joined → the SCP80 command packet (SPI, KIc, KID, TAR readable
//!   without keys; with the key set: counter, padding, checksum) → the secured data (a command
//!   script or an HTTPS administration session trigger); the ENVELOPE's answer (after GET
//!   RESPONSE) is the PoR → status, counter, checksum → the response script.
//! - BIP (SCP81): the bytes of each channel (OPEN CHANNEL to CLOSE CHANNEL) in both directions,
//!   TLS 1.2 records opened with a key log's master secret or one derived from an EIS's PSK
//!   ([`super::tls12`]), the HTTP messages of GP Amendment B, their bodies read as scripts.
//! - SCP03t inside the scripts to an ISD-P ([`smsr_proto::scp03t::Scp03tObserver`]): every
//!   MAC checked, the segments decrypted and joined into the profile package.
//!
//! What is checked is reported on the exchange that completes it (the last ENVELOPE of a
//! packet, the GET RESPONSE that brings the PoR, the exchange that carries a TLS record's last
//! byte). A check that fails is a [`Check`] with `ok: Some(false)`; one that needs keys the
//! reader lacks says so with `ok: None`.

use super::{Record, Recorded};
use crate::hexfmt;
use crate::keylog::KeyMaterial;
use crate::names::describe_command;
use serde::Serialize;
use smsr_proto::apdu::CommandApdu;
use smsr_proto::ota::response::{ResponseScript, ResponseTlv};
use smsr_proto::ota::scp80::{CommandHeader, CommandPacket, KeySet, PorStatus, ResponsePacket};
use smsr_proto::ota::script::{CommandScript, CommandTlv};
use smsr_proto::ota::sms::{Reassembler, SmsPpDownload};
use smsr_proto::scp03::{Diversification, ExchangeKind, ObservedExchange, Observer, StaticKeys};
use smsr_proto::scp03t::Scp03tObserver;
use smsr_proto::scp81::AdminTrigger;
use smsr_proto::tlv::Tlv;
use std::collections::HashMap;

/// What the reader may use.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    /// From `--keylog` (and SCP80 key sets and SCP81 PSKs from `--eis`).
    pub material: KeyMaterial,
    /// Static SCP03 key sets (`--key-enc/--key-mac`, `--eis`), tried on every session.
    pub scp03: Vec<StaticKeys>,
    pub diversification: Diversification,
    /// Show the profile package's plaintext (it holds K and OPc).
    pub show_secrets: bool,
}

/// One verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub what: String,
    /// `Some(true)` verified, `Some(false)` failed, `None` not verifiable (no keys).
    pub ok: Option<bool>,
}

/// What one layer of an exchange holds.
#[derive(Clone, Debug, Serialize)]
pub struct Layer {
    /// `scp03`, `sms-pp`, `scp80`, `script`, `por`, `response-script`, `scp03t`, `bip`, `tls`,
    /// `http`, `trigger`, `trace`.
    pub layer: &'static str,
    /// One line for people.
    pub text: String,
    /// Plain content in hex, where the layer has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain: Option<String>,
    /// Further lines (script items).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

impl Layer {
    fn new(layer: &'static str, text: impl Into<String>) -> Self {
        Self {
            layer,
            text: text.into(),
            plain: None,
            items: Vec::new(),
            checks: Vec::new(),
        }
    }

    fn check(mut self, what: impl Into<String>, ok: Option<bool>) -> Self {
        self.checks.push(Check {
            what: what.into(),
            ok,
        });
        self
    }

    fn plain(mut self, bytes: &[u8]) -> Self {
        self.plain = Some(hexfmt::upper(bytes));
        self
    }
}

/// One exchange of the trace with its layers.
#[derive(Clone, Debug, Serialize)]
pub struct ExchangeView {
    pub seq: Option<u64>,
    /// Position among the trace's exchanges (from 0).
    pub index: usize,
    pub command: String,
    pub c_apdu: String,
    pub r_apdu: String,
    pub layers: Vec<Layer>,
}

/// An inner command and its response, as the application saw them (for `export --decrypted`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InnerApdu {
    /// The exchange (index into [`Decoded::exchanges`]) that completed it.
    pub exchange: usize,
    pub c_apdu: Vec<u8>,
    /// Response data ‖ SW1 SW2.
    pub r_apdu: Vec<u8>,
}

/// A piece of a BIP channel's byte stream (SCP81: TLS), as one SEND DATA or RECEIVE DATA
/// carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelPiece {
    /// The exchange (index into [`Decoded::exchanges`]) that carried it.
    pub exchange: usize,
    /// Card → SM-SR (the TLS client's bytes); else SM-SR → card.
    pub to_server: bool,
    pub data: Vec<u8>,
}

/// The whole reading.
#[derive(Debug, Default)]
pub struct Decoded {
    pub exchanges: Vec<ExchangeView>,
    /// Each BIP channel (OPEN CHANNEL to CLOSE CHANNEL) as the pieces of its two streams, in
    /// trace order: what a TCP connection would have carried.
    pub channels: Vec<Vec<ChannelPiece>>,
    /// The trace ends with the last of [`Self::channels`] still open (no CLOSE CHANNEL).
    pub last_channel_open: bool,
    /// The SCP03 observer's reading of each exchange.
    pub observed: Vec<ObservedExchange>,
    /// Profile packages reassembled from SCP03t segments, one per download session, in order.
    pub packages: Vec<Vec<u8>>,
    pub inner: Vec<InnerApdu>,
}

impl Decoded {
    /// How many checks verified, failed, and could not be made (no keys).
    pub fn tally(&self) -> (usize, usize, usize) {
        let mut t = (0, 0, 0);
        for c in self
            .exchanges
            .iter()
            .flat_map(|x| &x.layers)
            .flat_map(|l| &l.checks)
        {
            match c.ok {
                Some(true) => t.0 += 1,
                Some(false) => t.1 += 1,
                None => t.2 += 1,
            }
        }
        t
    }

    /// The failed checks: (sequence number or index, what).
    pub fn failures(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for x in &self.exchanges {
            for l in &x.layers {
                for c in &l.checks {
                    if c.ok == Some(false) {
                        let at = x
                            .seq
                            .map_or_else(|| format!("exchange {}", x.index), |s| format!("#{s}"));
                        out.push((at, format!("{}: {}", l.layer, c.what)));
                    }
                }
            }
        }
        out
    }
}

/// A command as the application saw it, with its whole response.
struct AppExchange {
    /// The exchange that completes the response (the last GET RESPONSE of a chain).
    at: usize,
    cmd: Option<CommandApdu>,
    data: Vec<u8>,
    sw: u16,
}

/// A script sent to a target, waiting for its answer.
struct SentScript {
    target: Vec<u8>,
    script: CommandScript,
}

/// An SCP80 packet sent, waiting for its PoR.
struct SentPacket {
    /// `None` when the packet could not be opened (no keys): the PoR is read as far as it
    /// goes without them.
    header: Option<CommandHeader>,
    keysets: Vec<KeySet>,
    /// The script it carried, when its data was one.
    script: Option<SentScript>,
}

struct Decoder<'k> {
    keys: &'k Keys,
    views: Vec<ExchangeView>,
    sms: Reassembler,
    /// Last counter per key version: the counter belongs to the key set (ETSI TS 102 225
    /// §5.1.1), whichever TAR a packet names.
    counters: HashMap<u8, u64>,
    scp03t: HashMap<Vec<u8>, Scp03tObserver<'k>>,
    /// The package of the SCP03t session in progress per target.
    segments: HashMap<Vec<u8>, Vec<u8>>,
    packages: Vec<Vec<u8>>,
    perso: Option<(Vec<u8>, Vec<u8>)>,
    inner: Vec<InnerApdu>,
    channels: Vec<Vec<ChannelPiece>>,
    /// The BIP channel open (SCP81).
    bip: Option<BipSession>,
}

/// The bytes of one BIP channel, OPEN CHANNEL to CLOSE CHANNEL, each direction with the
/// exchange that carried each piece (as (end offset, exchange)).
#[derive(Default)]
struct BipSession {
    opened_at: usize,
    pieces: Vec<ChannelPiece>,
    to_server: Vec<u8>,
    to_server_marks: Vec<(usize, usize)>,
    to_card: Vec<u8>,
    to_card_marks: Vec<(usize, usize)>,
}

impl BipSession {
    /// The exchange that carried byte `end - 1` of a direction.
    fn exchange_of(marks: &[(usize, usize)], end: usize) -> Option<usize> {
        marks.iter().find(|(e, _)| *e >= end).map(|(_, x)| *x)
    }
}

/// Reads `records` through every layer `keys` open.
pub fn decode(records: &[Record], keys: &Keys) -> Decoded {
    let exchanges: Vec<(&super::Exchange, Option<u64>)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(x) => Some((x, x.seq)),
            Record::Event(_) => None,
        })
        .collect();
    let mut d = Decoder {
        keys,
        views: Vec::with_capacity(exchanges.len()),
        sms: Reassembler::new(),
        counters: HashMap::new(),
        scp03t: HashMap::new(),
        segments: HashMap::new(),
        packages: Vec::new(),
        perso: None,
        inner: Vec::new(),
        channels: Vec::new(),
        bip: None,
    };
    for (i, (x, seq)) in exchanges.iter().enumerate() {
        let (command, c_apdu) = match &x.c_apdu {
            Recorded::Bytes(b) => (describe_command(b), hexfmt::upper(b)),
            Recorded::Redacted => ("(redacted: carries keys)".into(), super::REDACTED.into()),
        };
        d.views.push(ExchangeView {
            seq: *seq,
            index: i,
            command,
            c_apdu,
            r_apdu: hexfmt::upper(&x.r_apdu),
            layers: Vec::new(),
        });
    }
    sequence_checks(records, &mut d.views);
    // SCP03 first: it turns secured APDUs into the plain ones the other layers read (and
    // joins the responses continued by GET RESPONSE).
    let pairs = exchange_pairs(records);
    let logged = keys.material.scp03.clone();
    let observer = Observer::new(keys.scp03.clone())
        .with_diversification(keys.diversification)
        .with_sessions(logged);
    let observed = observer.observe(&pairs);
    let mut apps = Vec::new();
    let mut i = 0;
    while i < observed.len() {
        let o = &observed[i];
        let mut last = i;
        while observed
            .get(last + 1)
            .is_some_and(|n| n.kind == ExchangeKind::GetResponse { command: i })
        {
            last += 1;
        }
        if o.kind == ExchangeKind::WrongLe {
            i += 1;
            continue;
        }
        let secured = matches!(
            o.kind,
            ExchangeKind::Secured | ExchangeKind::ExternalAuthenticate
        );
        if secured || o.kind == ExchangeKind::InitializeUpdate {
            let mut layer = Layer::new(
                "scp03",
                match o.kind {
                    ExchangeKind::InitializeUpdate => "INITIALIZE UPDATE".to_owned(),
                    ExchangeKind::ExternalAuthenticate => "EXTERNAL AUTHENTICATE".to_owned(),
                    _ => format!("secured: {}", describe_command(&o.c_apdu_plain)),
                },
            );
            if secured {
                layer = layer.plain(&o.c_apdu_plain);
            }
            if let Some(c) = o.cryptogram_ok {
                layer = layer.check("cryptogram", Some(c));
            }
            if let Some(c) = o.c_mac_ok {
                layer = layer.check("C-MAC", Some(c));
            }
            if let Some(n) = &o.note {
                layer.items.push(n.clone());
            }
            d.push(i, layer);
            let end = &observed[last];
            if let Some(r) = end.r_mac_ok {
                let mut l = Layer::new("scp03", "response").check("R-MAC", Some(r));
                if !end.r_data_plain.is_empty() {
                    l = l.plain(&end.r_data_plain);
                }
                d.push(last, l);
            }
        } else if let Some(n) = &o.note {
            if o.kind == ExchangeKind::Clear && n.contains("outside a session") {
                d.push(
                    i,
                    Layer::new("scp03", n.clone()).check("secure messaging", None),
                );
            }
        }
        // The command as the application saw it (as recorded outside a session), and its whole
        // response, on the last exchange of a GET RESPONSE chain.
        let cmd = CommandApdu::parse(&o.c_apdu_plain).ok();
        let end = &observed[last];
        let data = if last > i {
            end.r_data_plain.clone()
        } else {
            o.r_data_plain.clone()
        };
        let sw = end.sw.map_or(0, |s| s.to_u16());
        if secured {
            let mut r = data.clone();
            r.extend_from_slice(&sw.to_be_bytes());
            d.inner.push(InnerApdu {
                exchange: last,
                c_apdu: o.c_apdu_plain.clone(),
                r_apdu: r,
            });
        }
        apps.push(AppExchange {
            at: last,
            cmd,
            data,
            sw,
        });
        i = last + 1;
    }
    for app in &apps {
        d.application(app);
    }
    d.finish(observed)
}

/// The (command, response) bytes of each exchange, as the SCP03 observer reads them (a
/// REDACTED command as no bytes).
pub fn exchange_pairs(records: &[Record]) -> Vec<(Vec<u8>, Vec<u8>)> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(x) => Some((
                x.c_apdu.bytes().map(<[u8]>::to_vec).unwrap_or_default(),
                x.r_apdu.clone(),
            )),
            Record::Event(_) => None,
        })
        .collect()
}

/// Gaps and reversals of the recorder's sequence numbers: a dropped or reordered line.
fn sequence_checks(records: &[Record], views: &mut [ExchangeView]) {
    let mut previous: Option<u64> = None;
    let mut index = 0;
    for r in records {
        let seq = match r {
            Record::Exchange(x) => x.seq,
            Record::Event(e) => e.seq,
        };
        // A new run appended to the same file starts again at 0 with a connect event.
        let restart = matches!(r, Record::Event(e) if e.kind == super::EventKind::Connect);
        if let (Some(p), Some(s), false) = (previous, seq, restart) {
            let problem = if s <= p {
                Some(format!(
                    "sequence number {s} after {p}: lines reordered or repeated"
                ))
            } else if s > p + 1 {
                Some(format!(
                    "sequence number {s} after {p}: {} line(s) missing",
                    s - p - 1
                ))
            } else {
                None
            };
            if let Some(what) = problem {
                let at = if matches!(r, Record::Exchange(_)) {
                    index
                } else {
                    index.min(views.len().saturating_sub(1))
                };
                if let Some(v) = views.get_mut(at) {
                    v.layers
                        .push(Layer::new("trace", what.clone()).check(what, Some(false)));
                }
            }
        }
        if seq.is_some() {
            previous = seq;
        }
        if matches!(r, Record::Exchange(_)) {
            index += 1;
        }
    }
}

impl<'k> Decoder<'k> {
    fn push(&mut self, at: usize, layer: Layer) {
        if let Some(v) = self.views.get_mut(at) {
            v.layers.push(layer);
        }
    }

    fn finish(mut self, observed: Vec<ObservedExchange>) -> Decoded {
        let last_channel_open = self.bip.is_some();
        if let Some(session) = self.bip.take() {
            let at = self.views.len().saturating_sub(1);
            self.push(
                at,
                Layer::new("bip", "the trace ends with the BIP channel open"),
            );
            self.tls_session(session);
        }
        let pending: Vec<Vec<u8>> = self
            .segments
            .drain()
            .map(|(_, p)| p)
            .filter(|p| !p.is_empty())
            .collect();
        if let (Some(last), false) = (self.views.len().checked_sub(1), pending.is_empty()) {
            self.push(
                last,
                Layer::new(
                    "scp03t",
                    "the trace ends inside a download: its segments are not a whole package",
                )
                .check("download complete", None),
            );
        }
        if self.sms.pending() > 0 {
            if let Some(last) = self.views.len().checked_sub(1) {
                self.push(
                    last,
                    Layer::new(
                        "sms-pp",
                        "the trace ends with a concatenated SMS incomplete",
                    )
                    .check("all parts received", None),
                );
            }
        }
        Decoded {
            exchanges: self.views,
            channels: self.channels,
            last_channel_open,
            observed,
            packages: self.packages,
            inner: self.inner,
        }
    }

    fn application(&mut self, app: &AppExchange) {
        let Some(cmd) = &app.cmd else { return };
        match (cmd.cla, cmd.ins) {
            (_, 0xC2) if cmd.data.first() == Some(&0xD1) => self.envelope(app, cmd),
            (_, 0xE6) if cmd.p1 == 0x20 => {
                // INSTALL [for personalization]: STORE DATA blocks for this application follow.
                let aid = cmd
                    .data
                    .get(2)
                    .and_then(|&n| cmd.data.get(3..3 + usize::from(n)))
                    .map(<[u8]>::to_vec);
                self.perso = aid.map(|a| (a, Vec::new()));
            }
            (_, 0xE2) if self.perso.is_some() => self.store_data(app, cmd),
            (0x80, 0x12) => self.fetch(app),
            (0x80, 0x14) => self.terminal_response(app, cmd),
            _ => {}
        }
    }

    /// A proactive command: BIP channel commands feed the channel's streams.
    fn fetch(&mut self, app: &AppExchange) {
        use smsr_proto::cat::Proactive;
        let Ok(p) = Proactive::parse(&app.data) else {
            return;
        };
        match p {
            Proactive::OpenChannel(_) => {
                if let Some(old) = self.bip.take() {
                    self.tls_session(old);
                }
                self.bip = Some(BipSession {
                    opened_at: app.at,
                    ..BipSession::default()
                });
                self.push(
                    app.at,
                    Layer::new("bip", "channel opened: a new TLS session"),
                );
            }
            Proactive::SendData(s) => {
                if let Some(b) = &mut self.bip {
                    b.pieces.push(ChannelPiece {
                        exchange: app.at,
                        to_server: true,
                        data: s.data.clone(),
                    });
                    b.to_server.extend_from_slice(&s.data);
                    b.to_server_marks.push((b.to_server.len(), app.at));
                    let text = format!(
                        "card → SM-SR: {} bytes (stream bytes {}..{})",
                        s.data.len(),
                        b.to_server.len() - s.data.len(),
                        b.to_server.len()
                    );
                    self.push(app.at, Layer::new("bip", text));
                }
            }
            Proactive::CloseChannel(_) => {
                if let Some(b) = self.bip.take() {
                    self.push(app.at, Layer::new("bip", "channel closed"));
                    self.tls_session(b);
                }
            }
            _ => {}
        }
    }

    /// A TERMINAL RESPONSE to RECEIVE DATA carries the SM-SR's bytes to the card.
    fn terminal_response(&mut self, app: &AppExchange, cmd: &CommandApdu) {
        use smsr_proto::cat::{tags, TerminalResponse};
        let Ok(tr) = TerminalResponse::from_apdu(cmd) else {
            return;
        };
        let Some(data) = tr.find(tags::CHANNEL_DATA) else {
            return;
        };
        if let Some(b) = &mut self.bip {
            b.pieces.push(ChannelPiece {
                exchange: app.at,
                to_server: false,
                data: data.value.clone(),
            });
            b.to_card.extend_from_slice(&data.value);
            b.to_card_marks.push((b.to_card.len(), app.at));
            let text = format!(
                "SM-SR → card: {} bytes (stream bytes {}..{})",
                data.value.len(),
                b.to_card.len() - data.value.len(),
                b.to_card.len()
            );
            self.push(app.at, Layer::new("bip", text));
        }
    }

    /// Opens one channel's TLS session and the GP Amendment B HTTP inside.
    fn tls_session(&mut self, mut b: BipSession) {
        use super::tls12::{self, Direction, Verdict};
        self.channels.push(std::mem::take(&mut b.pieces));
        let view = tls12::decode_with(&b.to_server, &b.to_card, &self.keys.material);
        let mut head = Layer::new(
            "tls",
            format!(
                "TLS 1.2 session{}{}",
                view.suite_name()
                    .map(|n| format!(", {n}"))
                    .unwrap_or_default(),
                view.client_random
                    .map(|r| format!(", client random {}", hexfmt::upper(&r)))
                    .unwrap_or_default()
            ),
        );
        if let Some(id) = &view.psk_identity {
            head.items
                .push(format!("PSK identity {}", tls12::printable(id)));
        }
        if let Some(hint) = &view.psk_identity_hint {
            head.items
                .push(format!("PSK identity hint {}", tls12::printable(hint)));
        }
        if let Some(source) = &view.secret_source {
            head.items.push(format!("master secret: {source}"));
        }
        if let Some(n) = &view.note {
            head.items.push(n.clone());
        }
        if let Some(v) = view.handshake_verified {
            head = head.check("handshake (both Finished messages)", Some(v));
        }
        self.push(b.opened_at, head);
        for e in &view.errors {
            let marks = match e.direction {
                Direction::ClientToServer => &b.to_server_marks,
                Direction::ServerToClient => &b.to_card_marks,
            };
            let at = BipSession::exchange_of(marks, e.offset + 1).unwrap_or(b.opened_at);
            self.push(
                at,
                Layer::new("tls", e.to_string()).check("TLS record structure", Some(false)),
            );
        }
        // Records in the order their last byte crossed the card interface.
        let mut records: Vec<(usize, &tls12::TlsRecord)> = view
            .records
            .iter()
            .map(|r| {
                let marks = match r.direction {
                    Direction::ClientToServer => &b.to_server_marks,
                    Direction::ServerToClient => &b.to_card_marks,
                };
                (
                    BipSession::exchange_of(marks, r.offset_end).unwrap_or(b.opened_at),
                    r,
                )
            })
            .collect();
        records.sort_by_key(|(at, _)| *at);
        let mut requests = smsr_proto::scp81::MessageReader::new();
        let mut responses = smsr_proto::scp81::MessageReader::new();
        let mut sent: Option<SentScript> = None;
        for (at, r) in records {
            let arrow = match r.direction {
                Direction::ClientToServer => "card → SM-SR",
                Direction::ServerToClient => "SM-SR → card",
            };
            let mut layer = Layer::new("tls", format!("{arrow}: {}", r.describe()));
            layer = match &r.verdict {
                Verdict::Clear => layer,
                Verdict::Ok => layer.check("record MAC/tag", Some(true)),
                Verdict::Failed(why) => layer.check(format!("record: {why}"), Some(false)),
                Verdict::NoKey => layer.check(
                    "record (no master secret in the key log, nor a PSK, for this session)",
                    None,
                ),
                Verdict::NotDecrypted(why) => layer.check(format!("record: {why}"), None),
                Verdict::Truncated => {
                    layer.check("record cut by the end of the channel", Some(false))
                }
            };
            self.push(at, layer);
            if r.verdict != Verdict::Ok || r.content_type != 23 {
                continue;
            }
            let Some(plain) = &r.plaintext else { continue };
            match r.direction {
                Direction::ClientToServer => {
                    requests.push(plain);
                    while let Ok(Some(m)) = requests.next_request() {
                        self.http_request(at, &m, sent.take());
                    }
                }
                Direction::ServerToClient => {
                    responses.push(plain);
                    while let Ok(Some(m)) = responses.next_response() {
                        sent = self.http_response(at, &m);
                    }
                }
            }
        }
    }

    /// A POST of the card's agent: its body answers the script sent before it.
    fn http_request(
        &mut self,
        at: usize,
        m: &smsr_proto::scp81::HttpMessage,
        sent: Option<SentScript>,
    ) {
        match smsr_proto::scp81::AdminRequest::from_message(m) {
            Ok(req) => {
                let mut layer = Layer::new(
                    "http",
                    format!(
                        "POST {}{}{}",
                        req.uri,
                        req.script_status
                            .map(|s| format!(", script status {}", s.as_str()))
                            .unwrap_or_default(),
                        if req.from.is_empty() {
                            String::new()
                        } else {
                            format!(", from {}", req.from)
                        }
                    ),
                );
                if !req.body.is_empty() {
                    layer = layer.plain(&req.body);
                }
                self.push(at, layer);
                if let Some(s) = sent {
                    if req.body.is_empty() {
                        self.run_script(at, &s, None);
                    } else {
                        self.response_script(at, &s, &req.body);
                    }
                }
            }
            Err(e) => self.push(
                at,
                Layer::new("http", format!("not a GP Amendment B request: {e}"))
                    .check("admin request", Some(false)),
            ),
        }
    }

    /// The SM-SR's answer: a command script (for the ISD-R, or the targeted application).
    fn http_response(
        &mut self,
        at: usize,
        m: &smsr_proto::scp81::HttpMessage,
    ) -> Option<SentScript> {
        match smsr_proto::scp81::AdminResponse::from_message(m) {
            Ok(smsr_proto::scp81::AdminResponse::Script {
                next_uri,
                targeted,
                body,
            }) => {
                let target = targeted
                    .as_ref()
                    .map_or_else(|| b"ISD-R".to_vec(), |a| a.as_bytes().to_vec());
                let label = targeted.as_ref().map_or_else(
                    || "for the ISD-R".to_owned(),
                    |a| format!("for {}", crate::names::aid_label(a.as_bytes())),
                );
                self.push(
                    at,
                    Layer::new("http", format!("200, script {label}, next URI {next_uri}"))
                        .plain(&body),
                );
                self.command_script(at, &body, &label)
                    .map(|script| SentScript { target, script })
            }
            Ok(smsr_proto::scp81::AdminResponse::End) => {
                self.push(at, Layer::new("http", "204: the session ends"));
                None
            }
            Err(e) => {
                self.push(
                    at,
                    Layer::new("http", format!("not a GP Amendment B response: {e}"))
                        .check("admin response", Some(false)),
                );
                None
            }
        }
    }

    /// STORE DATA blocks of a script for the application of the INSTALL [for personalization]
    /// before them (the `--es5 scp03` path).
    fn store_data(&mut self, app: &AppExchange, cmd: &CommandApdu) {
        let Some((target, mut data)) = self.perso.take() else {
            return;
        };
        data.extend_from_slice(&cmd.data);
        if cmd.p1 & 0x80 == 0 {
            if app.sw == 0x9000 {
                self.perso = Some((target, data));
            }
            return;
        }
        let label = crate::names::aid_label(&target);
        let script = self.command_script(app.at, &data, &format!("for {label}"));
        if let Some(script) = script {
            let sent = SentScript { target, script };
            if app.sw == 0x9000 {
                self.response_script(app.at, &sent, &app.data);
            } else {
                self.run_script(app.at, &sent, None);
            }
        }
    }

    fn envelope(&mut self, app: &AppExchange, cmd: &CommandApdu) {
        let download = match SmsPpDownload::from_apdu(cmd) {
            Ok(d) => d,
            Err(e) => {
                self.push(
                    app.at,
                    Layer::new("sms-pp", format!("not an SMS-PP download: {e}"))
                        .check("ENVELOPE structure", Some(false)),
                );
                return;
            }
        };
        let m = &download.tpdu;
        let mut text = format!(
            "SMS-DELIVER from {}, PID {:02X}, DCS {:02X}",
            if m.originator.digits.is_empty() {
                "(no number)".to_owned()
            } else {
                m.originator.digits.clone()
            },
            m.pid,
            m.dcs
        );
        for ie in &m.udh {
            match (ie.iei, &ie.data[..]) {
                (0x00, [r, n, s]) => text.push_str(&format!(", part {s} of {n} (reference {r})")),
                (0x08, [r1, r2, n, s]) => text.push_str(&format!(
                    ", part {s} of {n} (reference {})",
                    u16::from_be_bytes([*r1, *r2])
                )),
                (0x70, _) => text.push_str(", command packet (IEI 70)"),
                (iei, _) => text.push_str(&format!(", IE {iei:02X}")),
            }
        }
        let mut layer = Layer::new("sms-pp", text);
        if cmd.cla != 0x80 {
            layer = layer.check(
                format!(
                    "ENVELOPE class {:02X}, not 80: the header was altered",
                    cmd.cla
                ),
                Some(false),
            );
        }
        self.push(app.at, layer);
        let packet = match self.sms.push(m) {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                self.push(
                    app.at,
                    Layer::new("sms-pp", format!("{e}")).check("concatenation", Some(false)),
                );
                return;
            }
        };
        let sent = self.command_packet(app.at, &packet);
        if let Some(sent) = sent {
            self.por(app, sent);
        }
    }

    /// Opens a command packet; returns what the PoR needs.
    fn command_packet(&mut self, at: usize, packet: &[u8]) -> Option<SentPacket> {
        let clear = match CommandPacket::peek(packet) {
            Ok(c) => c,
            Err(e) => {
                self.push(
                    at,
                    Layer::new("scp80", format!("command packet: {e}"))
                        .check("packet structure", Some(false)),
                );
                return None;
            }
        };
        let spi_bytes = [
            packet.get(3).copied().unwrap_or(0),
            packet.get(4).copied().unwrap_or(0),
        ];
        let head = format!(
            "command packet, {} bytes: SPI {}, KIc {:02X}, KID {:02X}, TAR {}",
            packet.len(),
            hexfmt::upper(&spi_bytes),
            clear.kic.0,
            clear.kid.0,
            hexfmt::upper(&clear.tar)
        );
        let spi = match clear.spi {
            Ok(s) => s,
            Err(e) => {
                self.push(
                    at,
                    Layer::new("scp80", format!("{head}: {e}")).check("SPI", Some(false)),
                );
                return None;
            }
        };
        let keysets = self.keys.material.scp80_for(clear.tar);
        if keysets.is_empty() {
            let where_counter = if spi.ciphered {
                "counter, padding count and checksum are ciphered"
            } else {
                "not ciphered"
            };
            self.push(
                at,
                Layer::new(
                    "scp80",
                    format!("{head} ({where_counter}; give the key log or the EIS to open it)"),
                )
                .check("checksum", None),
            );
            return Some(SentPacket {
                header: None,
                keysets: Vec::new(),
                script: None,
            });
        }
        let opened = keysets
            .iter()
            .map(|k| CommandPacket::decode(packet, std::slice::from_ref(k)).map(|p| (p, k)))
            .find_map(Result::ok);
        let Some((opened, keyset)) = opened else {
            let why = CommandPacket::decode(packet, &keysets)
                .err()
                .map_or_else(|| "no key set opens it".to_owned(), |e| e.to_string());
            self.push(
                at,
                Layer::new("scp80", format!("{head}: {why}")).check(
                    "deciphered and checksum verified (a tampered packet, or the key set given \
                     is not the one the packet was made with)",
                    Some(false),
                ),
            );
            return None;
        };
        let h = opened.header;
        let mut layer = Layer::new(
            "scp80",
            format!(
                "{head}, counter {:010X}, key set {:02X}",
                h.counter, keyset.kvn
            ),
        )
        .check("checksum (CC)", Some(true));
        let key = keyset.kvn;
        match self.counters.get(&key) {
            Some(&last) if h.counter <= last => {
                layer = layer.check(
                    format!(
                        "counter {:010X} not above the last one {last:010X}: a replayed or \
                         reordered packet (the card refuses it)",
                        h.counter
                    ),
                    Some(false),
                );
            }
            Some(&last) if h.counter > last + 1 => {
                layer.items.push(format!(
                    "counter skips {} value(s) after {last:010X} (allowed: the SM-SR may have \
                     reserved them, or a packet is missing)",
                    h.counter - last - 1
                ));
            }
            _ => {}
        }
        self.counters.insert(key, h.counter);
        // SCP03t sessions are kept per target: here the TAR (an ISD-P's is bytes 13-15 of
        // its AID).
        let target = h.tar.to_vec();
        self.push(at, layer.plain(&opened.data));
        if let Ok(trigger) = AdminTrigger::parse(&opened.data) {
            self.push(at, trigger_layer(&trigger));
            return Some(SentPacket {
                header: Some(h),
                keysets: vec![keyset.clone()],
                script: None,
            });
        }
        let label = format!("for TAR {}", hexfmt::upper(&h.tar));
        let script = self
            .command_script(at, &opened.data, &label)
            .map(|script| SentScript { target, script });
        Some(SentPacket {
            header: Some(h),
            keysets: vec![keyset.clone()],
            script,
        })
    }

    fn por(&mut self, app: &AppExchange, sent: SentPacket) {
        if app.data.is_empty() {
            self.push(
                app.at,
                Layer::new(
                    "por",
                    format!(
                        "no PoR in the answer ({:04X}): the card did not answer the packet",
                        app.sw
                    ),
                ),
            );
            if let Some(s) = &sent.script {
                self.run_script(app.at, s, None);
            }
            return;
        }
        // RHL 0A: no checksum, nothing ciphered: an error report the card could not secure
        // (ETSI TS 102 225 §5.1.2), readable without keys.
        let unsecured = app.data.get(5) == Some(&0x0A);
        let Some(header) = sent.header else {
            let layer = match ResponsePacket::decode_unsecured(&app.data) {
                Ok(por) if unsecured => Layer::new(
                    "por",
                    format!(
                        "PoR for TAR {}, sent unsecured: status {:02X} ({:?}), counter {:010X}",
                        hexfmt::upper(&por.tar),
                        por.status.to_byte(),
                        por.status,
                        por.counter
                    ),
                ),
                _ => Layer::new(
                    "por",
                    format!(
                        "PoR, {} bytes{}: counter, status and checksum are ciphered",
                        app.data.len(),
                        app.data
                            .get(6..9)
                            .map(|t| format!(" for TAR {}", hexfmt::upper(t)))
                            .unwrap_or_default()
                    ),
                )
                .check("checksum", None),
            };
            self.push(app.at, layer);
            return;
        };
        match ResponsePacket::decode(&app.data, &header, &sent.keysets) {
            Ok(por) if unsecured && por.status.is_sent_unsecured() => {
                self.push(
                    app.at,
                    Layer::new(
                        "por",
                        format!(
                            "PoR for TAR {}, sent unsecured: status {:02X} ({:?}): the card \
                             refused the packet",
                            hexfmt::upper(&por.tar),
                            por.status.to_byte(),
                            por.status
                        ),
                    ),
                );
                if let Some(s) = &sent.script {
                    self.run_script(app.at, s, None);
                }
            }
            Ok(por) => {
                let mut layer = Layer::new(
                    "por",
                    format!(
                        "PoR for TAR {}: status {:02X} ({:?}), counter {:010X}",
                        hexfmt::upper(&por.tar),
                        por.status.to_byte(),
                        por.status,
                        por.counter
                    ),
                )
                .check("checksum (CC)", Some(true));
                if por.counter != header.counter {
                    layer = layer.check(
                        format!(
                            "PoR counter {:010X} is not the packet's {:010X}",
                            por.counter, header.counter
                        ),
                        Some(false),
                    );
                }
                if por.tar != header.tar {
                    layer = layer.check("PoR TAR is not the packet's", Some(false));
                }
                if !por.data.is_empty() {
                    layer = layer.plain(&por.data);
                }
                self.push(app.at, layer);
                match (&sent.script, por.status) {
                    (Some(s), PorStatus::Ok) if !por.data.is_empty() => {
                        self.response_script(app.at, s, &por.data);
                    }
                    (Some(s), _) => self.run_script(app.at, s, None),
                    (None, _) => {}
                }
            }
            Err(e) => {
                self.push(
                    app.at,
                    Layer::new("por", format!("PoR: {e}")).check(
                        "deciphered and checksum verified (tampered PoR, or not the key set)",
                        Some(false),
                    ),
                );
                if let Some(s) = &sent.script {
                    self.run_script(app.at, s, None);
                }
            }
        }
    }

    /// Reads a command script and lists it; `None` when it is not one.
    fn command_script(&mut self, at: usize, bytes: &[u8], label: &str) -> Option<CommandScript> {
        match CommandScript::parse(bytes) {
            Ok(script) => {
                let apdus = script
                    .items
                    .iter()
                    .filter(|c| matches!(c, CommandTlv::Apdu(_)))
                    .count();
                let raw = script
                    .items
                    .iter()
                    .filter(|c| matches!(c, CommandTlv::Raw(_)))
                    .count();
                let mut layer = Layer::new(
                    "script",
                    format!(
                        "command script {label}: {apdus} C-APDU(s), {raw} other TLV(s){}",
                        script
                            .chaining()
                            .map(|c| format!(", chaining {:02X}", c.to_byte()))
                            .unwrap_or_default()
                    ),
                );
                for item in &script.items {
                    match item {
                        CommandTlv::Apdu(a) => {
                            let bytes = a.to_bytes().unwrap_or_default();
                            layer.items.push(format!(
                                "{}  {}",
                                describe_command(&bytes),
                                hexfmt::upper(&bytes)
                            ));
                        }
                        CommandTlv::Raw(t) => layer.items.push(format!(
                            "TLV {:X}, {} bytes",
                            t.tag.value(),
                            t.value.len()
                        )),
                        _ => {}
                    }
                }
                self.push(at, layer);
                Some(script)
            }
            Err(e) => {
                self.push(
                    at,
                    Layer::new(
                        "script",
                        format!("secured data {label}: not a command script ({e})"),
                    ),
                );
                None
            }
        }
    }

    fn response_script(&mut self, at: usize, sent: &SentScript, bytes: &[u8]) {
        match ResponseScript::parse(bytes) {
            Ok(r) => {
                let mut layer = Layer::new(
                    "response-script",
                    format!(
                        "response script: {} command TLV(s) executed, {} answer(s)",
                        r.executed,
                        r.items.len()
                    ),
                );
                for item in &r.items {
                    match item {
                        ResponseTlv::Apdu(a) => layer.items.push(format!(
                            "R-APDU {} {}",
                            hexfmt::upper(&a.data),
                            crate::commands::sw_hex(a.sw)
                        )),
                        ResponseTlv::BadFormat(b) => {
                            layer.items.push(format!("bad format {:02X}", b.to_byte()));
                        }
                        ResponseTlv::Raw(t) => layer.items.push(format!(
                            "TLV {:X}, {} bytes",
                            t.tag.value(),
                            t.value.len()
                        )),
                        ResponseTlv::ImmediateActionResponse(v) => layer
                            .items
                            .push(format!("immediate action response {}", hexfmt::upper(v))),
                    }
                }
                self.push(at, layer);
                self.run_script(at, sent, Some(&r));
            }
            Err(e) => {
                self.push(
                    at,
                    Layer::new("response-script", format!("not a response script: {e}"))
                        .check("response script structure", Some(false)),
                );
                self.run_script(at, sent, None);
            }
        }
    }

    /// Pairs a script's commands with its answers: C-APDUs with R-APDUs (inner APDUs), SCP03t
    /// TLVs through the target's observer.
    fn run_script(&mut self, at: usize, sent: &SentScript, answer: Option<&ResponseScript>) {
        let mut answers_apdu = answer
            .map(|r| {
                r.items
                    .iter()
                    .filter_map(|i| match i {
                        ResponseTlv::Apdu(a) => Some(a.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter();
        let mut answers_raw = answer
            .map(|r| {
                r.items
                    .iter()
                    .filter_map(|i| match i {
                        ResponseTlv::Raw(t) => Some(t.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter();
        for item in &sent.script.items {
            match item {
                CommandTlv::Apdu(c) => {
                    let r = answers_apdu.next();
                    if let (Ok(c), Some(r)) = (c.to_bytes(), r) {
                        let mut rb = r.data.clone();
                        rb.extend_from_slice(&r.sw.to_u16().to_be_bytes());
                        self.inner.push(InnerApdu {
                            exchange: at,
                            c_apdu: c,
                            r_apdu: rb,
                        });
                    }
                }
                CommandTlv::Raw(t) if matches!(t.tag.value(), 0x84..=0x86) => {
                    let r = answers_raw.next();
                    self.scp03t_step(at, &sent.target, t, r.as_ref());
                }
                _ => {}
            }
        }
    }

    fn scp03t_step(&mut self, at: usize, target: &[u8], cmd: &Tlv, answer: Option<&Tlv>) {
        let material = &self.keys.material;
        let obs = self
            .scp03t
            .entry(target.to_vec())
            .or_insert_with(|| Scp03tObserver::new(&material.scp03t, &[]));
        let c = obs.command(cmd);
        let r = answer.map(|a| obs.response(a));
        let tag = cmd.tag.value();
        if tag == 0x84 {
            // A new session: a package in progress is abandoned.
            self.segments.insert(target.to_vec(), Vec::new());
        }
        let mut layer = Layer::new(
            "scp03t",
            c.note.clone().unwrap_or_else(|| format!("TLV {tag:X}")),
        );
        if let Some(ok) = c.ok {
            layer = layer.check(format!("{tag:X} command"), Some(ok));
        } else if c.note.as_deref().is_some_and(|n| n.contains("no keys")) {
            layer = layer.check(format!("{tag:X} command"), None);
        }
        if let Some(p) = &c.plain {
            if self.keys.show_secrets {
                layer = layer.plain(p);
            } else {
                layer.items.push(
                    "plaintext hidden: the profile package holds K and OPc (--show-secrets shows \
                     it; --extract-profile writes it)"
                        .into(),
                );
            }
            self.segments
                .entry(target.to_vec())
                .or_default()
                .extend_from_slice(p);
        }
        self.push(at, layer);
        if let Some(r) = r {
            let mut layer = Layer::new(
                "scp03t",
                format!("answer: {}", r.note.clone().unwrap_or_default()),
            );
            if let Some(ok) = r.ok {
                layer = layer.check(format!("{tag:X} answer"), Some(ok));
            }
            if answer.is_some_and(|a| (0x9F44..=0x9F46).contains(&a.tag.value())) {
                // The ISD-P ended the session: its partial package is dropped, as on the card.
                self.segments.remove(target);
            }
            if let Some(p) = &r.plain {
                layer = layer.plain(p);
                // The EUICCResponse closes the download: the package is whole.
                if let Some(pkg) = self.segments.remove(target) {
                    if !pkg.is_empty() {
                        self.packages.push(pkg);
                    }
                }
            }
            self.push(at, layer);
        }
    }
}

/// The layers as indented text lines (after an exchange of a listing).
pub fn render_layers(layers: &[Layer], indent: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for l in layers {
        let checks: Vec<String> = l
            .checks
            .iter()
            .map(|c| {
                let v = match c.ok {
                    Some(true) => "ok",
                    Some(false) => "FAILED",
                    None => "not verifiable",
                };
                format!("{} {v}", c.what)
            })
            .collect();
        let _ = write!(s, "{indent}{}: {}", l.layer, l.text);
        if !checks.is_empty() {
            let _ = write!(s, "  [{}]", checks.join("; "));
        }
        s.push('\n');
        for item in &l.items {
            let _ = writeln!(s, "{indent}    {item}");
        }
        if let Some(p) = &l.plain {
            let _ = writeln!(s, "{indent}    plain {p}");
        }
    }
    s
}

fn trigger_layer(t: &AdminTrigger) -> Layer {
    let mut text = "HTTPS administration session trigger (GP Amendment B)".to_owned();
    if let Some(s) = &t.security {
        text.push_str(&format!(
            ": PSK identity {}, key set {:02X}/{:02X}",
            String::from_utf8_lossy(&s.psk_identity),
            s.kvn,
            s.kid
        ));
    }
    if let Some(u) = &t.admin_uri {
        text.push_str(&format!(", URI {u}"));
    }
    Layer::new("trigger", text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::keylog::Scp80Keys;
    use crate::trace::{Exchange, Record, Recorded};
    use smsr_proto::ota::sms::{command_packet_messages, sms_pp_download, Address};

    fn h(s: &str) -> Vec<u8> {
        hexfmt::parse(s).unwrap()
    }

    /// pySim's `test_ota.py` AES-128 vector (sysmoISIM-SJA5, SPI 06 19, KIc/KID 22, TAR
    /// B00011): the command packet, sent as one SMS-PP ENVELOPE, and the card's PoR.
    fn pysim_trace(flip_packet: Option<usize>, flip_por: Option<usize>) -> Vec<Record> {
        let mut packet = h(
            "00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058",
        );
        if let Some(i) = flip_packet {
            packet[i] ^= 1;
        }
        let mut por = h(
            "027100002412b00011ebc6b497e2cad7aedf36ace0e3a29b38853f0fe9ccde81913be5702b73abce1f",
        );
        if let Some(i) = flip_por {
            por[i] ^= 1;
        }
        por.extend([0x90, 0x00]);
        let messages =
            command_packet_messages(&packet, &Address::international("0"), [0; 7], 0).unwrap();
        let envelope = sms_pp_download(&messages[0], None).unwrap();
        vec![Record::Exchange(Exchange {
            seq: Some(1),
            ts: None,
            elapsed_us: None,
            reader: None,
            c_apdu: Recorded::Bytes(envelope.to_bytes().unwrap()),
            r_apdu: por,
        })]
    }

    fn keys() -> Keys {
        let mut k = Keys::default();
        k.material.scp80.push(Scp80Keys {
            tar: Some([0xB0, 0x00, 0x11]),
            keyset: KeySet::aes(
                2,
                &h("200102030405060708090a0b0c0d0e0f"),
                &h("201102030405060708090a0b0c0d0e0f"),
            ),
        });
        k
    }

    fn layer<'a>(d: &'a Decoded, name: &str) -> &'a Layer {
        d.exchanges[0]
            .layers
            .iter()
            .find(|l| l.layer == name)
            .unwrap_or_else(|| panic!("no {name} layer: {:#?}", d.exchanges[0].layers))
    }

    #[test]
    fn pysim_vector_opens_through_sms_scp80_and_por() {
        let d = decode(&pysim_trace(None, None), &keys());
        assert!(d.failures().is_empty(), "{:?}", d.failures());
        let scp80 = layer(&d, "scp80");
        assert!(
            scp80
                .text
                .contains("SPI 0619, KIc 22, KID 22, TAR B00011, counter 0000000000"),
            "{}",
            scp80.text
        );
        assert_eq!(scp80.plain.as_deref(), Some("00A40004023F00"));
        assert_eq!(scp80.checks[0].ok, Some(true));
        let por = layer(&d, "por");
        assert!(por.text.contains("status 00"), "{}", por.text);
        assert_eq!(por.plain.as_deref(), Some("016132"));
    }

    #[test]
    fn pysim_vector_without_keys_shows_the_clear_header() {
        let d = decode(&pysim_trace(None, None), &Keys::default());
        assert!(d.failures().is_empty());
        let scp80 = layer(&d, "scp80");
        assert!(
            scp80.text.contains("TAR B00011")
                && scp80
                    .text
                    .contains("counter, padding count and checksum are ciphered"),
            "{}",
            scp80.text
        );
        assert_eq!(scp80.checks[0].ok, None);
    }

    #[test]
    fn a_flipped_byte_fails_the_layer_that_covers_it() {
        // In the ciphered part of the packet (byte 20), and in the PoR's (byte 15).
        let d = decode(&pysim_trace(Some(20), None), &keys());
        assert_eq!(d.failures().len(), 1, "{:?}", d.failures());
        assert!(d.failures()[0].1.starts_with("scp80"));
        let d = decode(&pysim_trace(None, Some(15)), &keys());
        assert_eq!(d.failures().len(), 1, "{:?}", d.failures());
        assert!(d.failures()[0].1.starts_with("por"));
    }

    proptest::proptest! {
        /// Any exchanges, shaped like what the layers look at (ENVELOPE, FETCH, TERMINAL
        /// RESPONSE, INSTALL, STORE DATA, GET RESPONSE) or not: decoding never panics.
        #[test]
        fn decoding_any_exchanges_never_panics(
            xs in proptest::collection::vec(
                (0usize..7, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                 proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)),
                1..12,
            )
        ) {
            let heads: [&[u8]; 7] = [
                &[0x80, 0xC2, 0, 0], &[0x80, 0x12, 0, 0], &[0x80, 0x14, 0, 0],
                &[0x80, 0xE6, 0x20, 0], &[0x80, 0xE2, 0x80, 0], &[0x00, 0xC0, 0, 0],
                &[0x84, 0xE2, 0, 0],
            ];
            let records: Vec<Record> = xs
                .into_iter()
                .enumerate()
                .map(|(i, (h, body, mut r))| {
                    let mut c = heads[h].to_vec();
                    c.push(u8::try_from(body.len().min(255)).unwrap());
                    c.extend(body.iter().take(255));
                    r.extend([0x90, 0x00]);
                    Record::Exchange(Exchange {
                        seq: u64::try_from(i).ok(),
                        ts: None,
                        elapsed_us: None,
                        reader: None,
                        c_apdu: Recorded::Bytes(c),
                        r_apdu: r,
                    })
                })
                .collect();
            let _ = decode(&records, &keys());
        }
    }

    proptest::proptest! {
        /// pySim's packet and PoR with any bytes changed: each layer fails or opens, never
        /// panics.
        #[test]
        fn a_damaged_packet_or_por_never_panics(
            flips in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 0..6),
            cut in 0usize..50,
        ) {
            let mut records = pysim_trace(None, None);
            if let Record::Exchange(x) = &mut records[0] {
                if let Recorded::Bytes(c) = &mut x.c_apdu {
                    for (i, b) in &flips {
                        let n = c.len();
                        c[(i + 20) % n] ^= b;
                    }
                }
                let keep = x.r_apdu.len().saturating_sub(cut).max(2);
                x.r_apdu.drain(..x.r_apdu.len() - keep);
            }
            let _ = decode(&records, &keys());
        }
    }
}
