//! `smsr trace export --pcap` and `--gsmtap` against the bundled emulator linked in: the pcap
//! file holds one GSMTAP (type SIM) frame per exchange of the trace, tshark's `gsm_sim`
//! dissector reads each with the right instruction, and the live frames equal the file's.
//!
//! tshark (Wireshark's command line) is used when it is on PATH; without it the tshark check
//! prints "skipped: tshark not installed", unless `SMSR_REQUIRE_TSHARK=1` (set by
//! `scripts/test.sh`, whose `install-deps.sh` installs it), which makes that a failure.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use smsr::trace::gsmtap::{frames, gsmtap_payload, REDACTED_COMMAND};
use smsr::trace::{read_trace, Record, Recorded};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const EID: &str = "89001999000010000000000000000022";
const ISD_R: &str = "A0000005591010FFFFFFFF8900000100";

fn card(dir: &Path) -> PathBuf {
    let state = dir.join("card.json");
    let eid: [u8; 16] = hex::decode(EID).unwrap().try_into().unwrap();
    let mut emulator =
        euicc_emulator::Emulator::create(&state, euicc_emulator::CardState::new(Some(eid)), false)
            .unwrap();
    emulator.power_off();
    state
}

fn smsr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(args)
        .env_remove("SMSR_TRACE")
        .env_remove("SMSR_GSMTAP")
        .env_remove("SMSR_READER")
        .output()
        .unwrap()
}

/// Runs `args` on the card with the trace (and `extra` global options); exit 0 or, with
/// `refusal_ok`, 1 (an error status word) expected.
fn on_card(state: &Path, trace: &Path, extra: &[&str], args: &[&str], refusal_ok: bool) -> Output {
    let state = state.to_str().unwrap();
    let trace = trace.to_str().unwrap();
    let mut all = vec![
        "--transport",
        "emulator",
        "--emulator-state",
        state,
        "--trace",
        trace,
    ];
    all.extend_from_slice(extra);
    all.extend_from_slice(args);
    let out = smsr(&all);
    assert!(
        out.status.success() || refusal_ok && out.status.code() == Some(1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A few commands of every ISO case, a GET RESPONSE, an ENVELOPE and a redacted PUT KEY.
fn record_session(state: &Path, trace: &Path, extra: &[&str]) {
    on_card(state, trace, extra, &["info"], false);
    let select_with_le = format!("00A4040010{ISD_R}00");
    // Without Le the card answers 61xx: a GET RESPONSE follows.
    let select = format!("00A4040010{ISD_R}");
    on_card(
        state,
        trace,
        extra,
        &[
            "apdu",
            "--keep-going",
            &select_with_le,
            &select,
            // Case 1: MANAGE CHANNEL close channel 1 (never opened: refused).
            "00708001",
            "80CA005A00",
            // An SMS-PP download without a secured packet: the card refuses it; the frame is
            // still an ENVELOPE.
            "80C2000009D10782020183060100",
            // Key material: recorded as REDACTED.
            "80D8008102AABB",
        ],
        true,
    );
}

fn exchanges(records: &[Record]) -> Vec<&smsr::trace::Exchange> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Exchange(x) => Some(x),
            Record::Event(_) => None,
        })
        .collect()
}

#[test]
fn export_writes_one_gsm_sim_frame_per_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let state = card(dir.path());
    let trace = dir.path().join("t.jsonl");
    record_session(&state, &trace, &[]);
    let records = read_trace(&trace).unwrap();
    let xs = exchanges(&records);
    // info: SELECT ISD-R, GET RESPONSE, SELECT ECASD, GET RESPONSE, GET DATA...; then apdu.
    assert!(xs.len() >= 6, "{xs:?}");
    assert!(xs.iter().any(|x| x.c_apdu == Recorded::Redacted));

    let pcap = dir.path().join("t.pcap");
    let out = smsr(&[
        "--json",
        "trace",
        "export",
        trace.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["frames"], xs.len());
    assert_eq!(summary["exchanges"], xs.len());
    assert_eq!(summary["redacted"], 1);

    // The file holds exactly the library's payloads, in trace order.
    let expected: Vec<Vec<u8>> = frames(&records).iter().map(gsmtap_payload).collect();
    assert_eq!(
        common::pcap_payloads(&std::fs::read(&pcap).unwrap()),
        expected
    );

    // An existing file is not replaced without --force.
    let again = ["trace", "export", trace.to_str().unwrap(), "--pcap"];
    let out = smsr(&[&again[..], &[pcap.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--force"), "{err}");
    let out = smsr(&[&again[..], &[pcap.to_str().unwrap(), "--force"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let Some(tshark) = common::tshark("export_writes_one_gsm_sim_frame_per_exchange") else {
        return;
    };
    let out = Command::new(tshark)
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "gsm_sim",
            "-T",
            "fields",
        ])
        .args(["-e", "frame.number", "-e", "gsm_sim.apdu.ins"])
        .args(["-e", "gsm_sim.apdu.sw", "-e", "_ws.col.Info"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), xs.len(), "{text}");
    for (i, (line, x)) in lines.iter().zip(&xs).enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields[0], (i + 1).to_string(), "{line}");
        let c = x.c_apdu.bytes().unwrap_or(&REDACTED_COMMAND);
        let ins = u8::from_str_radix(fields[1].trim_start_matches("0x"), 16).unwrap();
        assert_eq!(ins, c[1], "{line}");
        let sw = u16::from_str_radix(fields[2].trim_start_matches("0x"), 16).unwrap();
        let r = &x.r_apdu;
        assert_eq!(
            sw,
            u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]),
            "{line}"
        );
        let info = fields[3];
        let name = match c[1] {
            0xA4 => Some("SELECT"),
            0xC0 => Some("GET RESPONSE"),
            0xC2 => Some("ENVELOPE"),
            0x70 => Some("MANAGE CHANNEL"),
            _ => None,
        };
        if let Some(name) = name {
            assert!(info.contains(name), "{line}");
        }
        if c[1] == 0xA4 && c[2] == 0x04 {
            // The AID as Wireshark reads it from the command data (P3 bytes after P3).
            let aid = hex::encode(&c[5..5 + usize::from(c[4])]);
            assert!(info.to_lowercase().contains(&aid.to_lowercase()), "{line}");
        }
    }
}

#[test]
fn live_frames_equal_the_exported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let state = card(dir.path());
    let trace = dir.path().join("t.jsonl");
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    record_session(&state, &trace, &["--gsmtap", &target]);

    let records = read_trace(&trace).unwrap();
    let expected: Vec<Vec<u8>> = frames(&records).iter().map(gsmtap_payload).collect();
    // Every datagram was sent before its command returned; they wait in the socket's buffer.
    listener
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = listener.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
}

#[test]
fn gsmtap_without_a_listener_and_bad_targets() {
    let dir = tempfile::tempdir().unwrap();
    let state = card(dir.path());
    let trace = dir.path().join("t.jsonl");
    // Nothing listens there: the command still succeeds.
    let free = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = free.local_addr().unwrap().to_string();
    drop(free);
    on_card(&state, &trace, &["--gsmtap", &target], &["info"], false);
    // A malformed target is a usage error naming the form; an unknown host an input error.
    let s = state.to_str().unwrap();
    let base = ["--transport", "emulator", "--emulator-state", s];
    let out = smsr(&[&base[..], &["--gsmtap", "127.0.0.1:x", "info"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"));
    let out = smsr(&[&base[..], &["--gsmtap", "no-such-host.invalid", "info"]].concat());
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--gsmtap no-such-host.invalid:4729"));
}
