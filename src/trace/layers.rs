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

mod bip;
mod ota;
mod scripts;

use bip::BipSession;
use scripts::SentScript;

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

#[cfg(test)]
mod tests;
