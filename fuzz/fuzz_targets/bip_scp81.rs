//! The SCP81 link's parsers: ETSI TS 102 223 proactive commands, terminal responses and event
//! downloads (what the card and the terminal send each other), the GP Amendment B trigger
//! parameters and PSK identity, and the admin HTTP messages (what arrives over TLS), fed in
//! pieces as BIP relays them.
//!
//! The first byte selects the parser, the rest is its input. Nothing may panic; what parses
//! must encode again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smsr_proto::cat::{parse_ctlvs, Event, Proactive, TerminalResponse};
use smsr_proto::scp81::{
    parse_admin_from, parse_targeted_application, AdminRequest, AdminResponse, AdminTrigger,
    MessageReader, PskIdentity,
};

/// Feeds `d` to a reader in pieces whose sizes come from the data, taking messages as they
/// complete.
fn http(d: &[u8], requests: bool) {
    let Some((&piece, rest)) = d.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let mut reader = MessageReader::new();
    for chunk in rest.chunks(piece) {
        reader.push(chunk);
        loop {
            let next = if requests {
                reader.next_request()
            } else {
                reader.next_response()
            };
            match next {
                Ok(Some(m)) => {
                    if requests {
                        if let Ok(r) = AdminRequest::from_message(&m) {
                            let _ = r.to_bytes();
                        }
                    } else if let Ok(r) = AdminResponse::from_message(&m) {
                        let _ = r.to_bytes();
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 7 {
        0 => {
            let _ = parse_ctlvs(rest);
            if let Ok(p) = Proactive::parse(rest) {
                let _ = p.to_bytes();
                let _ = p.name();
            }
        }
        1 => {
            if let Ok(r) = TerminalResponse::parse(rest) {
                let _ = r.to_bytes();
            }
        }
        2 => {
            if let Ok(e) = Event::parse(rest) {
                let _ = e.to_bytes();
            }
        }
        3 => {
            if let Ok(t) = AdminTrigger::parse(rest) {
                let _ = t.to_bytes();
            }
        }
        4 => http(rest, true),
        5 => http(rest, false),
        _ => {
            let _ = PskIdentity::parse(rest);
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = parse_admin_from(text);
                let _ = parse_targeted_application(text);
            }
        }
    }
});
