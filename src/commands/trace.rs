//! `smsr trace show`: a readable listing of a JSON Lines trace.

use super::{print_json, sw_hex, CliError};
use crate::cli::{GlobalArgs, ShowArgs};
use crate::hexfmt;
use crate::names::describe_command;
use crate::trace::layers::{self, Layer};
use crate::trace::{read_trace, Record, Recorded};
use serde::Serialize;
use smsr_proto::tlv::Tlv;
use smsr_proto::StatusWord;
use std::fmt::Write as _;

/// One line of the listing, as JSON.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Listed {
    Exchange {
        seq: Option<u64>,
        ts: Option<String>,
        elapsed_us: Option<u64>,
        command: String,
        c_apdu: String,
        #[serde(serialize_with = "crate::hexfmt::serialize")]
        r_data: Vec<u8>,
        sw: String,
        meaning: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        layers: Vec<Layer>,
    },
    Event {
        seq: Option<u64>,
        ts: Option<String>,
        event: &'static str,
        #[serde(serialize_with = "crate::hexfmt::serialize_opt")]
        atr: Option<Vec<u8>>,
    },
}

fn split_response(r_apdu: &[u8]) -> (&[u8], StatusWord) {
    match r_apdu {
        [data @ .., sw1, sw2] => (data, StatusWord::from_bytes(*sw1, *sw2)),
        // The trace reader refuses responses without SW1 SW2.
        _ => (r_apdu, StatusWord::from_u16(0)),
    }
}

/// The listing of `records` as text.
pub fn render(records: &[Record]) -> String {
    render_with(records, &layers::decode(records, &layers::Keys::default()))
}

/// The listing with the layers `decoded` found in each exchange.
pub fn render_with(records: &[Record], decoded: &layers::Decoded) -> String {
    let mut views = decoded.exchanges.iter();
    let mut out = String::new();
    let mut previous_ts: Option<std::time::SystemTime> = None;
    for record in records {
        match record {
            Record::Event(e) => {
                let seq = e.seq.map(|s| format!("#{s} ")).unwrap_or_default();
                let _ = write!(
                    out,
                    "{seq}{}",
                    e.kind.as_str().replace('_', " ").to_uppercase()
                );
                if let Some(atr) = &e.atr {
                    let _ = write!(out, "  ATR {}", hexfmt::upper(atr));
                }
                if let Some(reader) = &e.reader {
                    let _ = write!(out, "  ({reader})");
                }
                out.push('\n');
            }
            Record::Exchange(x) => {
                let seq = x.seq.map(|s| format!("#{s} ")).unwrap_or_default();
                let timing = match (x.elapsed_us, &x.ts) {
                    (Some(us), _) => format!("  [{}.{:03} ms]", us / 1000, us % 1000),
                    _ => String::new(),
                };
                let gap =
                    x.ts.as_deref()
                        .and_then(|t| humantime::parse_rfc3339(t).ok())
                        .and_then(|t| {
                            let gap = previous_ts.and_then(|p| t.duration_since(p).ok());
                            previous_ts = Some(t);
                            gap
                        })
                        .filter(|g| g.as_millis() >= 100)
                        .map(|g| format!("  (+{} ms idle before)", g.as_millis()))
                        .unwrap_or_default();
                let (command, c_hex) = match &x.c_apdu {
                    Recorded::Bytes(b) => (describe_command(b), hexfmt::upper(b)),
                    Recorded::Redacted => (
                        "(redacted: carries keys; record with --trace-secrets to see it)".into(),
                        "REDACTED".into(),
                    ),
                };
                let _ = writeln!(out, "{seq}{command}{timing}{gap}");
                let _ = writeln!(out, "  > {c_hex}");
                let (data, sw) = split_response(&x.r_apdu);
                if !data.is_empty() {
                    let _ = writeln!(out, "  < {}", hexfmt::upper(data));
                    let fetch =
                        matches!(&x.c_apdu, Recorded::Bytes(b) if b.starts_with(&[0x80, 0x12]));
                    if let Some(p) = fetch
                        .then(|| crate::names::describe_proactive(data))
                        .flatten()
                    {
                        let _ = writeln!(out, "  proactive command: {p}");
                    }
                    if let Ok(tlvs) = Tlv::parse_all(data) {
                        for t in &tlvs {
                            tlv_tree(&mut out, t, 2);
                        }
                    }
                }
                let _ = writeln!(out, "  < {} {}", sw_hex(sw), sw.meaning());
                if let Some(v) = views.next() {
                    out.push_str(&layers::render_layers(&v.layers, "  "));
                }
            }
        }
    }
    out
}

/// TLV trees are expanded this many levels deep in a listing; deeper ones are shown as hex, with
/// a note. It bounds the listing's recursion (a card or a file can nest a TLV thousands deep
/// within one extended R-APDU) and its size (the indentation grows with the depth).
pub const MAX_TLV_DEPTH: usize = 24;

/// Writes a TLV and its children, indented.
fn tlv_tree(out: &mut String, t: &Tlv, depth: usize) {
    let indent = "  ".repeat(depth);
    let tag = hexfmt::upper(&t.tag.to_bytes());
    if t.tag.is_constructed() {
        if depth >= MAX_TLV_DEPTH {
            let _ = writeln!(
                out,
                "{indent}{tag} {}  (nested deeper than {MAX_TLV_DEPTH} levels: not expanded)",
                hexfmt::upper(&t.value)
            );
            return;
        }
        if let Ok(children) = t.children() {
            let _ = writeln!(out, "{indent}{tag} ({} bytes)", t.value.len());
            for c in &children {
                tlv_tree(out, c, depth + 1);
            }
            return;
        }
    }
    let _ = writeln!(out, "{indent}{tag} {}", hexfmt::upper(&t.value));
}

fn listed(records: &[Record], decoded: &layers::Decoded) -> Vec<Listed> {
    let mut views = decoded.exchanges.iter();
    records
        .iter()
        .map(|r| match r {
            Record::Event(e) => Listed::Event {
                seq: e.seq,
                ts: e.ts.clone(),
                event: e.kind.as_str(),
                atr: e.atr.clone(),
            },
            Record::Exchange(x) => {
                let (data, sw) = split_response(&x.r_apdu);
                let (command, c_apdu) = match &x.c_apdu {
                    Recorded::Bytes(b) => (describe_command(b), hexfmt::upper(b)),
                    Recorded::Redacted => ("(redacted)".into(), "REDACTED".into()),
                };
                Listed::Exchange {
                    seq: x.seq,
                    ts: x.ts.clone(),
                    elapsed_us: x.elapsed_us,
                    command,
                    c_apdu,
                    r_data: data.to_vec(),
                    sw: sw_hex(sw),
                    meaning: sw.meaning(),
                    layers: views.next().map(|v| v.layers.clone()).unwrap_or_default(),
                }
            }
        })
        .collect()
}

pub fn show(g: &GlobalArgs, args: &ShowArgs) -> Result<(), CliError> {
    let keys = super::decrypt::trace_keys(g, args.eis.as_deref(), None)?;
    let records = read_trace(&args.file)?;
    let decoded = layers::decode(&records, &keys);
    if g.json {
        print_json(&listed(&records, &decoded));
    } else {
        print!("{}", render_with(&records, &decoded));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::parse_trace;
    use std::path::Path;

    #[test]
    fn listing_names_commands_aids_and_status_words() {
        let text = "\
{\"seq\":0,\"event\":\"connect\",\"atr\":\"3B8080010181\"}
{\"seq\":1,\"elapsed_us\":1234,\"c_apdu\":\"00A4040010A0000005591010FFFFFFFF8900000200\",\"r_apdu\":\"6F128410A0000005591010FFFFFFFF89000002009000\"}
{\"c_apdu\":\"80CA005A00\",\"r_apdu\":\"6A88\"}
{\"c_apdu\":\"REDACTED\",\"r_apdu\":\"9000\"}
";
        let records = parse_trace(text.as_bytes(), Path::new("t")).unwrap();
        let listing = render(&records);
        assert!(
            listing.contains("#0 CONNECT  ATR 3B8080010181"),
            "{listing}"
        );
        assert!(
            listing.contains("#1 SELECT ECASD (A0000005591010FFFFFFFF8900000200)  [1.234 ms]"),
            "{listing}"
        );
        assert!(
            listing.contains("    6F (18 bytes)\n      84 A0000005591010FFFFFFFF8900000200\n"),
            "{listing}"
        );
        assert!(
            listing.contains("GET DATA 5A (EID)\n  > 80CA005A00\n  < 6A88 "),
            "{listing}"
        );
        assert!(listing.contains("(redacted: carries keys"), "{listing}");
        let decoded = layers::decode(&records, &layers::Keys::default());
        let json = serde_json::to_value(listed(&records, &decoded)).unwrap();
        assert_eq!(
            json[1]["command"],
            "SELECT ECASD (A0000005591010FFFFFFFF8900000200)"
        );
        assert_eq!(json[2]["sw"], "6A88");
        assert_eq!(json[0]["event"], "connect");
    }

    /// A TLV nested 16,000 deep in one extended R-APDU: listed without overflowing the stack,
    /// in a bounded listing, with a note where the expansion stops.
    #[test]
    fn deeply_nested_tlv_is_listed_truncated() {
        let mut tlv = vec![0xE1, 0x00];
        for _ in 0..16_000 {
            let len = tlv.len();
            let mut outer = vec![0xE1];
            match len {
                0..=0x7F => outer.push(u8::try_from(len).unwrap_or(0)),
                0x80..=0xFF => outer.extend([0x81, u8::try_from(len).unwrap_or(0)]),
                _ => outer.extend([
                    0x82,
                    u8::try_from(len >> 8).unwrap_or(0),
                    u8::try_from(len & 0xFF).unwrap_or(0),
                ]),
            }
            outer.extend(tlv);
            tlv = outer;
        }
        assert!(tlv.len() < 65_536, "{}", tlv.len());
        let line = format!(
            "{{\"c_apdu\":\"80CA00E000\",\"r_apdu\":\"{}9000\"}}\n",
            hexfmt::upper(&tlv)
        );
        let records = parse_trace(line.as_bytes(), Path::new("t")).unwrap();
        let listing = render(&records);
        assert!(
            listing.contains("nested deeper than 24 levels: not expanded"),
            "{}",
            &listing[..2000.min(listing.len())]
        );
        // The R-APDU's hex twice (the raw line and the cut-off subtree) and a few short lines.
        assert!(
            listing.len() < 4 * tlv.len() + 10_000,
            "{} bytes",
            listing.len()
        );
    }
}
