//! ES5/ES8 command and response scripts, paired command by answer: C-APDUs with R-APDUs,
//! SCP03t TLVs through the target's observer.

use super::*;

/// A script sent to a target, waiting for its answer.
pub(super) struct SentScript {
    pub(super) target: Vec<u8>,
    pub(super) script: CommandScript,
}

impl Decoder<'_> {
    /// Reads a command script and lists it; `None` when it is not one.
    pub(super) fn command_script(
        &mut self,
        at: usize,
        bytes: &[u8],
        label: &str,
    ) -> Option<CommandScript> {
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

    pub(super) fn response_script(&mut self, at: usize, sent: &SentScript, bytes: &[u8]) {
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
    pub(super) fn run_script(
        &mut self,
        at: usize,
        sent: &SentScript,
        answer: Option<&ResponseScript>,
    ) {
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
