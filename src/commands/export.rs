//! `smsr trace export FILE --pcap OUT.pcap`: a trace as a pcap file Wireshark and pySim-trace
//! read, one GSMTAP (type SIM) frame per exchange ([`crate::trace::gsmtap`]).

use super::{print_json, CliError};
use crate::cli::GlobalArgs;
use crate::trace::gsmtap::{indexed_frames, write_pcap, Frame};
use crate::trace::{read_trace, Record};
use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `smsr trace export --help`.
pub const LONG_ABOUT: &str = "Write a trace as a pcap file for Wireshark: one GSMTAP frame of \
type SIM per exchange (a UDP datagram to 127.0.0.1:4729, timestamped with the exchange's `ts`), \
the command and its response in one frame as SIMtrace sends them, which Wireshark's GSM SIM \
dissector (`gsm_sim`) decodes: instruction, P1 P2 P3, data, status word.

A command recorded as REDACTED (keys) is written as `FF FF 00 00` with its real response. With \
--decrypted, the plain APDUs of the trace's secure channel sessions (keys as for `smsr trace \
decrypt`) follow the exchange that carried each, as frames of their own. The file holds what the trace holds: keep \
it as private.

Examples:
  smsr --trace run.jsonl info && smsr trace export run.jsonl --pcap run.pcap
  tshark -r run.pcap -Y gsm_sim                           one line per exchange
  tshark -r run.pcap -Y gsm_sim -T fields -e frame.number -e gsm_sim.apdu.ins -e gsm_sim.apdu.sw
  wireshark run.pcap                                       (display filter: gsm_sim)
  pySim-trace.py gsmtap-pyshark-pcap -f run.pcap
Live instead of a file: `smsr --gsmtap 127.0.0.1 ...` and capture the loopback interface.";

/// `smsr trace export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The trace (JSON Lines; lines with only "c_apdu" and "r_apdu" are accepted).
    pub file: PathBuf,
    /// The pcap file to write (refused when it exists, unless --force).
    #[arg(long, value_name = "OUT.pcap")]
    pub pcap: PathBuf,
    /// Replace OUT.pcap when it exists.
    #[arg(long)]
    pub force: bool,
    /// Also write the plain APDUs inside the trace's secure channels (SCP03 sessions, the ES5
    /// scripts of SCP80 packets and SCP81 sessions), each after the exchange that carried it;
    /// keys from the key log (global --keylog FILE) and --eis.
    #[arg(long)]
    pub decrypted: bool,
    /// An EIS whose ISD-R SCP80 and SCP03 keys open the trace (with --decrypted).
    #[arg(long, value_name = "EIS.json", requires = "decrypted")]
    pub eis: Option<PathBuf>,
}

/// What was written (`--json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Exported {
    pcap: String,
    frames: usize,
    exchanges: usize,
    redacted: usize,
    decrypted: usize,
}

/// The plain inner APDUs of the trace's secure channels ([`crate::trace::layers`]), each with
/// the index in `records` of the exchange that carried it.
fn inner_frames(
    g: &GlobalArgs,
    records: &[Record],
    args: &ExportArgs,
) -> Result<Vec<(usize, Frame)>, CliError> {
    let keys = super::decrypt::trace_keys(g, args.eis.as_deref(), None)?;
    let decoded = crate::trace::layers::decode(records, &keys);
    // Exchange number → record index.
    let at: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Record::Exchange(_)))
        .map(|(i, _)| i)
        .collect();
    Ok(decoded
        .inner
        .into_iter()
        .filter_map(|x| {
            let index = *at.get(x.exchange)?;
            let ts = match records.get(index) {
                Some(Record::Exchange(e)) => e.ts.clone(),
                _ => None,
            };
            Some((
                index,
                Frame {
                    ts,
                    c_apdu: x.c_apdu,
                    r_apdu: x.r_apdu,
                },
            ))
        })
        .collect())
}

/// The outer frames with the inner ones after the exchange each belongs to, in trace order.
fn merge(outer: Vec<(usize, Frame)>, mut inner: Vec<(usize, Frame)>) -> Vec<Frame> {
    // Stable: inner frames of one exchange keep their order.
    inner.sort_by_key(|(i, _)| *i);
    let mut inner = inner.into_iter().peekable();
    let mut out = Vec::new();
    for (index, frame) in outer {
        // Inner frames naming an exchange before this one (an index that is not an exchange)
        // come before it, so none is lost.
        while let Some((_, f)) = inner.next_if(|(i, _)| *i < index) {
            out.push(f);
        }
        out.push(frame);
        while let Some((_, f)) = inner.next_if(|(i, _)| *i == index) {
            out.push(f);
        }
    }
    out.extend(inner.map(|(_, f)| f));
    out
}

fn write_file(path: &Path, bytes: &[u8], force: bool) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Input(format!(
                "{} exists; give --force to replace it, or another path to --pcap",
                path.display()
            ))
        } else {
            CliError::Input(format!(
                "cannot create {}: {e}; give a writable path to --pcap",
                path.display()
            ))
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))
}

/// Runs `smsr trace export`.
pub fn run(g: &GlobalArgs, args: &ExportArgs) -> Result<(), CliError> {
    let records = read_trace(&args.file)?;
    let outer = indexed_frames(&records);
    let exchanges = outer.len();
    let redacted = records
        .iter()
        .filter(|r| matches!(r, Record::Exchange(x) if x.c_apdu.bytes().is_none()))
        .count();
    let inner = if args.decrypted {
        inner_frames(g, &records, args)?
    } else {
        Vec::new()
    };
    let decrypted = inner.len();
    let frames = merge(outer, inner);
    // Made in memory first: a frame that cannot be written leaves no half file behind.
    let mut bytes = Vec::new();
    write_pcap(&mut bytes, &frames).map_err(|e| {
        CliError::Input(format!(
            "cannot export {}: {e}; the trace holds an exchange larger than a UDP datagram",
            args.file.display()
        ))
    })?;
    write_file(&args.pcap, &bytes, args.force)?;
    let summary = Exported {
        pcap: args.pcap.display().to_string(),
        frames: frames.len(),
        exchanges,
        redacted,
        decrypted,
    };
    if g.json {
        print_json(&summary);
    } else {
        println!(
            "{}: {} frames ({} exchanges, {} redacted, {} decrypted); read it with `tshark -r {} \
             -Y gsm_sim` or Wireshark",
            summary.pcap,
            summary.frames,
            summary.exchanges,
            summary.redacted,
            summary.decrypted,
            summary.pcap
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(tag: u8) -> Frame {
        Frame {
            ts: None,
            c_apdu: vec![0x80, tag, 0, 0],
            r_apdu: vec![0x90, 0x00],
        }
    }

    #[test]
    fn inner_frames_follow_their_exchange() {
        let outer = vec![(1, f(1)), (3, f(3)), (4, f(4))];
        let inner = vec![(3, f(0x31)), (1, f(0x11)), (3, f(0x32)), (9, f(0x91))];
        let tags: Vec<u8> = merge(outer, inner).iter().map(|f| f.c_apdu[1]).collect();
        assert_eq!(tags, [1, 0x11, 3, 0x31, 0x32, 4, 0x91]);
    }

    #[test]
    fn an_existing_file_is_kept_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.pcap");
        std::fs::write(&path, b"old").unwrap();
        let err = write_file(&path, b"new", false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        write_file(&path, b"new", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}
