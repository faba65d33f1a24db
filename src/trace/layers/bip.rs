//! BIP channels (SCP81): the bytes of OPEN CHANNEL … CLOSE CHANNEL in both directions, their
//! TLS 1.2 records, the GP Amendment B HTTP inside and its scripts.

use super::*;

/// The bytes of one BIP channel, OPEN CHANNEL to CLOSE CHANNEL, each direction with the
/// exchange that carried each piece (as (end offset, exchange)).
#[derive(Default)]
pub(super) struct BipSession {
    pub(super) opened_at: usize,
    pub(super) pieces: Vec<ChannelPiece>,
    pub(super) to_server: Vec<u8>,
    pub(super) to_server_marks: Vec<(usize, usize)>,
    pub(super) to_card: Vec<u8>,
    pub(super) to_card_marks: Vec<(usize, usize)>,
}

impl BipSession {
    /// The exchange that carried byte `end - 1` of a direction.
    fn exchange_of(marks: &[(usize, usize)], end: usize) -> Option<usize> {
        marks.iter().find(|(e, _)| *e >= end).map(|(_, x)| *x)
    }
}

impl Decoder<'_> {
    /// A proactive command: BIP channel commands feed the channel's streams.
    pub(super) fn fetch(&mut self, app: &AppExchange) {
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
    pub(super) fn terminal_response(&mut self, app: &AppExchange, cmd: &CommandApdu) {
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
    pub(super) fn tls_session(&mut self, mut b: BipSession) {
        use crate::trace::tls12::{self, Direction, Verdict};
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
}
