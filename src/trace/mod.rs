//! APDU traces: JSON Lines, one object per line.
//!
//! An exchange:
//! `{"seq":N,"ts":"<RFC 3339>","elapsed_us":N,"reader":"...","c_apdu":"HEX","r_apdu":"HEX"}`,
//! where `c_apdu` is the command as sent and `r_apdu` the response data followed by SW1 SW2.
//! `c_apdu` is `"REDACTED"` when the command carries key material (see [`crate::sensitive`])
//! and the trace was not recorded with `--trace-secrets`.
//!
//! An event: `{"seq":N,"ts":"...","event":"power_on|power_off|reset|connect|disconnect","atr":"HEX"}`.
//!
//! The reader ([`read_trace`]) takes lines that carry only `c_apdu` and `r_apdu` (every other
//! field optional), so traces of other tools convert with a one-line script. Blank lines are
//! skipped; any other line that is not a trace record is an error naming its line number.

pub mod gsmtap;
pub mod pcap;
pub mod tls12;

use crate::hexfmt;

pub mod layers;
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The value written in place of a command that carries keys.
pub const REDACTED: &str = "REDACTED";

/// A command APDU as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The bytes as sent.
    Bytes(Vec<u8>),
    /// Left out because it carries keys.
    Redacted,
}

impl Recorded {
    /// A command as a trace records it: `Redacted` when it carries keys
    /// ([`crate::sensitive::is_sensitive_command`]) and `secrets` (`--trace-secrets`) is off.
    pub fn from_command(command: &[u8], secrets: bool) -> Self {
        if !secrets && crate::sensitive::is_sensitive_command(command) {
            Self::Redacted
        } else {
            Self::Bytes(command.to_vec())
        }
    }

    /// The bytes, when recorded.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            Self::Redacted => None,
        }
    }

    fn to_text(&self) -> String {
        match self {
            Self::Bytes(b) => hexfmt::upper(b),
            Self::Redacted => REDACTED.to_owned(),
        }
    }
}

/// One command and its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub seq: Option<u64>,
    pub ts: Option<String>,
    pub elapsed_us: Option<u64>,
    pub reader: Option<String>,
    pub c_apdu: Recorded,
    /// Response data ‖ SW1 SW2.
    pub r_apdu: Vec<u8>,
}

/// Something that happened to the card other than an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    PowerOn,
    PowerOff,
    Reset,
    Connect,
    Disconnect,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PowerOn => "power_on",
            Self::PowerOff => "power_off",
            Self::Reset => "reset",
            Self::Connect => "connect",
            Self::Disconnect => "disconnect",
        }
    }
}

/// An event line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub seq: Option<u64>,
    pub ts: Option<String>,
    pub kind: EventKind,
    pub atr: Option<Vec<u8>>,
    pub reader: Option<String>,
}

/// One line of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Exchange(Exchange),
    Event(Event),
}

/// The JSON form of a line, for both directions.
#[derive(Serialize, Deserialize, Default)]
struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    elapsed_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reader: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<EventKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    atr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c_apdu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r_apdu: Option<String>,
}

impl Record {
    /// The record as one JSON line (no newline).
    pub fn to_json_line(&self) -> String {
        let line = match self {
            Self::Exchange(x) => Line {
                seq: x.seq,
                ts: x.ts.clone(),
                elapsed_us: x.elapsed_us,
                reader: x.reader.clone(),
                c_apdu: Some(x.c_apdu.to_text()),
                r_apdu: Some(hexfmt::upper(&x.r_apdu)),
                ..Line::default()
            },
            Self::Event(e) => Line {
                seq: e.seq,
                ts: e.ts.clone(),
                reader: e.reader.clone(),
                event: Some(e.kind),
                atr: e.atr.as_deref().map(hexfmt::upper),
                ..Line::default()
            },
        };
        // Strings and integers only: serialization cannot fail.
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Reads one line of a trace. `Ok(None)` for a blank line.
    pub fn from_json_line(text: &str) -> Result<Option<Self>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let line: Line = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let hex = |field: &str, value: &str| {
            hexfmt::parse(value).map_err(|e| format!("field {field:?}: {e}"))
        };
        if let Some(kind) = line.event {
            if line.c_apdu.is_some() || line.r_apdu.is_some() {
                return Err("a line has both \"event\" and \"c_apdu\"/\"r_apdu\"".into());
            }
            let atr = line.atr.as_deref().map(|a| hex("atr", a)).transpose()?;
            return Ok(Some(Self::Event(Event {
                seq: line.seq,
                ts: line.ts,
                kind,
                atr,
                reader: line.reader,
            })));
        }
        let (Some(c), Some(r)) = (line.c_apdu, line.r_apdu) else {
            return Err(
                "neither an exchange (\"c_apdu\" and \"r_apdu\") nor an event (\"event\")".into(),
            );
        };
        let c_apdu = if c == REDACTED {
            Recorded::Redacted
        } else {
            let bytes = hex("c_apdu", &c)?;
            if bytes.len() < 4 {
                return Err(format!(
                    "field \"c_apdu\" has {} bytes, fewer than a command header",
                    bytes.len()
                ));
            }
            Recorded::Bytes(bytes)
        };
        let r_apdu = hex("r_apdu", &r)?;
        if r_apdu.len() < 2 {
            return Err(format!(
                "field \"r_apdu\" has {} bytes, fewer than SW1 SW2",
                r_apdu.len()
            ));
        }
        Ok(Some(Self::Exchange(Exchange {
            seq: line.seq,
            ts: line.ts,
            elapsed_us: line.elapsed_us,
            reader: line.reader,
            c_apdu,
            r_apdu,
        })))
    }
}

/// A trace that cannot be read.
#[derive(Debug, Error)]
pub enum TraceError {
    #[error("cannot read trace {}: {source}; check the path", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "trace {} line {line}: {detail}; each line must be a JSON object with \"c_apdu\" and \
         \"r_apdu\" as hex (see the README's trace format)",
        path.display()
    )]
    Line {
        path: PathBuf,
        line: usize,
        detail: String,
    },
}

/// Reads a whole trace file.
pub fn read_trace(path: &Path) -> Result<Vec<Record>, TraceError> {
    let io = |source| TraceError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    parse_trace(std::io::BufReader::new(file), path)
}

/// Reads a trace from any reader; `path` names it in errors.
pub fn parse_trace(reader: impl BufRead, path: &Path) -> Result<Vec<Record>, TraceError> {
    let mut out = Vec::new();
    let mut reader = reader;
    for i in 0.. {
        // Lines are read up to a bound: a file with no newline (or /dev/zero) is refused once
        // a line passes it, without reading the rest.
        let mut buf = Vec::new();
        let n = std::io::Read::take(&mut reader, smsr_proto::bounded::TRACE_LINE_MAX + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| TraceError::Io {
                path: path.to_owned(),
                source,
            })?;
        if n == 0 {
            break;
        }
        if u64::try_from(buf.len()).unwrap_or(u64::MAX) > smsr_proto::bounded::TRACE_LINE_MAX {
            return Err(TraceError::Line {
                path: path.to_owned(),
                line: i + 1,
                detail: format!(
                    "longer than {} bytes, more than a trace line holds: is it a trace?",
                    smsr_proto::bounded::TRACE_LINE_MAX
                ),
            });
        }
        let line = String::from_utf8(buf).map_err(|e| TraceError::Line {
            path: path.to_owned(),
            line: i + 1,
            detail: format!("not UTF-8 text: {e}"),
        })?;
        let line = line.trim_end_matches(['\n', '\r']);
        match Record::from_json_line(line) {
            Ok(Some(r)) => out.push(r),
            Ok(None) => {}
            Err(detail) => {
                return Err(TraceError::Line {
                    path: path.to_owned(),
                    line: i + 1,
                    detail,
                })
            }
        }
    }
    Ok(out)
}

/// The time now in RFC 3339 with microseconds, UTC.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The trace reader never panics on a line, whatever it holds.
        #[test]
        fn reading_any_line_never_panics(line in ".{0,300}") {
            let _ = Record::from_json_line(&line);
        }

        #[test]
        fn reading_any_json_object_never_panics(
            seq in any::<i64>(), event in "[a-z_]{0,12}", key in "[a-z]{1,8}", value in ".{0,40}"
        ) {
            let line = serde_json::json!({"seq": seq, "event": event, key: value}).to_string();
            let _ = Record::from_json_line(&line);
        }
    }

    #[test]
    fn minimal_foreign_lines_are_accepted() {
        let text =
            "{\"c_apdu\":\"00a4040010A0000005591010FFFFFFFF8900000200\",\"r_apdu\":\"9000\"}\n\n\
                    {\"c_apdu\":\"80 CA 00 5A 00\",\"r_apdu\":\"5A0189 90 00\"}\n";
        let records = parse_trace(text.as_bytes(), Path::new("t")).unwrap();
        assert_eq!(records.len(), 2);
        let Record::Exchange(x) = &records[1] else {
            panic!("not an exchange")
        };
        assert_eq!(
            x.c_apdu,
            Recorded::Bytes(vec![0x80, 0xCA, 0x00, 0x5A, 0x00])
        );
        assert_eq!(x.r_apdu, vec![0x5A, 0x01, 0x89, 0x90, 0x00]);
        assert_eq!(x.seq, None);
    }

    #[test]
    fn records_round_trip() {
        let records = [
            Record::Event(Event {
                seq: Some(0),
                ts: Some("2026-01-01T00:00:00.000001Z".into()),
                kind: EventKind::Connect,
                atr: Some(vec![0x3B, 0x80, 0x80, 0x01, 0x01]),
                reader: Some("Virtual PCD 00 00".into()),
            }),
            Record::Exchange(Exchange {
                seq: Some(1),
                ts: Some("2026-01-01T00:00:00.000002Z".into()),
                elapsed_us: Some(140),
                reader: Some("Virtual PCD 00 00".into()),
                c_apdu: Recorded::Redacted,
                r_apdu: vec![0x90, 0x00],
            }),
        ];
        for r in &records {
            let line = r.to_json_line();
            assert_eq!(Record::from_json_line(&line).unwrap().as_ref(), Some(r));
        }
        assert_eq!(
            records[1].to_json_line(),
            "{\"seq\":1,\"ts\":\"2026-01-01T00:00:00.000002Z\",\"elapsed_us\":140,\"reader\":\
             \"Virtual PCD 00 00\",\"c_apdu\":\"REDACTED\",\"r_apdu\":\"9000\"}"
        );
    }

    #[test]
    fn bad_lines_name_their_number() {
        let text = "{\"c_apdu\":\"00A40400\",\"r_apdu\":\"9000\"}\n{\"c_apdu\":\"0G\",\"r_apdu\":\"9000\"}\n";
        let err = parse_trace(text.as_bytes(), Path::new("t.jsonl")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 2") && msg.contains("c_apdu"), "{msg}");
        for bad in [
            "[]",
            "{}",
            "{\"c_apdu\":\"00A40400\"}",
            "{\"c_apdu\":\"00A4\",\"r_apdu\":\"9000\"}",
            "{\"c_apdu\":\"00A40400\",\"r_apdu\":\"90\"}",
            "{\"event\":\"explode\"}",
            "{\"event\":\"reset\",\"c_apdu\":\"00A40400\",\"r_apdu\":\"9000\"}",
        ] {
            assert!(Record::from_json_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let ts = now_rfc3339();
        assert!(ts.ends_with('Z') && ts.contains('T'), "{ts}");
        assert!(humantime::parse_rfc3339(&ts).is_ok());
    }
}
