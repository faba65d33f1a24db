//! What the in-process integration tests share.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// A new emulator card in `state` with this EID and the GP test keys `40…4F` (KVN 30) on its
/// ISD-R (`CardState::new`).
pub fn new_card(state: &Path, eid: &str) {
    let eid: [u8; 16] = hex::decode(eid).unwrap().try_into().unwrap();
    let mut emulator =
        euicc_emulator::Emulator::create(state, euicc_emulator::CardState::new(Some(eid)), false)
            .unwrap();
    emulator.power_off();
}

/// The shared test data (`SMSR_SHARED`, default `../shared` beside the checkout).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("SMSR_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    )
}

/// The TS.48 packages, or `None` (announced) without the shared test data; with
/// `SMSR_REQUIRE_TESTDATA=1` their absence is a failure.
pub fn ts48() -> Option<Vec<PathBuf>> {
    let dir = shared_dir().join("testdata/saip-ts48");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "der"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    if out.is_empty() {
        assert!(
            std::env::var("SMSR_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "SMSR_REQUIRE_TESTDATA=1 but {} holds no TS.48 package",
            dir.display()
        );
        println!("skipped: no ../shared/testdata");
        return None;
    }
    Some(out)
}

/// A path as a command-line argument.
pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `args` with `--json` appended.
pub fn with_json<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.push("--json");
    all
}

/// The JSON on stdout of an `smsr` run that must have succeeded.
pub fn success_json(args: &[&str], out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "smsr {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
pub mod services;

/// The UDP payloads (GSMTAP) of a classic pcap file of raw IPv4 packets, checked along the way;
/// TCP packets (the BIP channels of `trace export`) are passed over.
pub fn pcap_payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&bytes[..4], &[0xD4, 0xC3, 0xB2, 0xA1]);
    assert_eq!(&bytes[20..24], &101u32.to_le_bytes());
    let mut at = 24;
    let mut out = Vec::new();
    while at < bytes.len() {
        let len = usize::try_from(u32::from_le_bytes(
            bytes[at + 8..at + 12].try_into().unwrap(),
        ))
        .unwrap();
        let packet = &bytes[at + 16..at + 16 + len];
        assert_eq!(packet[0], 0x45);
        at += 16 + len;
        if packet[9] == 6 {
            continue;
        }
        assert_eq!(packet[9], 17);
        assert_eq!(&packet[22..24], &4729u16.to_be_bytes());
        out.push(packet[28..].to_vec());
    }
    assert_eq!(at, bytes.len());
    out
}

/// tshark's path when it runs; `None` (a visible skip) when it does not, unless
/// `SMSR_REQUIRE_TSHARK=1`.
pub fn tshark(test: &str) -> Option<&'static str> {
    match std::process::Command::new("tshark")
        .arg("--version")
        .output()
    {
        Ok(o) if o.status.success() => Some("tshark"),
        outcome => {
            assert!(
                std::env::var("SMSR_REQUIRE_TSHARK").as_deref() != Ok("1"),
                "{test}: SMSR_REQUIRE_TSHARK=1 but `tshark --version` did not run: {outcome:?}"
            );
            eprintln!("{test}: skipped: tshark not installed");
            None
        }
    }
}
