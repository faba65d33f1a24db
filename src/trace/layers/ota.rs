//! SMS-PP download ENVELOPEs, the SCP80 command packets they carry and the PoRs that answer
//! them; the STORE DATA path of `--es5 scp03` scripts.

use super::*;

/// An SCP80 packet sent, waiting for its PoR.
struct SentPacket {
    /// `None` when the packet could not be opened (no keys): the PoR is read as far as it
    /// goes without them.
    header: Option<CommandHeader>,
    keysets: Vec<KeySet>,
    /// The script it carried, when its data was one.
    script: Option<SentScript>,
}

/// `PoR for TAR …[, sent unsecured]: status SS (name), counter CCCCCCCCCC`.
fn por_text(por: &ResponsePacket, unsecured: bool) -> String {
    format!(
        "PoR for TAR {}{}: status {:02X} ({:?}), counter {:010X}",
        hexfmt::upper(&por.tar),
        if unsecured { ", sent unsecured" } else { "" },
        por.status.to_byte(),
        por.status,
        por.counter
    )
}

/// The layer of an HTTPS administration session trigger (SCP81's wake-up).
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

impl Decoder<'_> {
    /// STORE DATA blocks of a script for the application of the INSTALL [for personalization]
    /// before them (the `--es5 scp03` path).
    pub(super) fn store_data(&mut self, app: &AppExchange, cmd: &CommandApdu) {
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

    pub(super) fn envelope(&mut self, app: &AppExchange, cmd: &CommandApdu) {
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
                Ok(por) if unsecured => Layer::new("por", por_text(&por, true)),
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
                        format!("{}: the card refused the packet", por_text(&por, true)),
                    ),
                );
                if let Some(s) = &sent.script {
                    self.run_script(app.at, s, None);
                }
            }
            Ok(por) => {
                let mut layer =
                    Layer::new("por", por_text(&por, false)).check("checksum (CC)", Some(true));
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
}
