//! Scenarios against a real eUICC in a PC/SC reader. They are `#[ignore]`d: `cargo test` lists
//! them as ignored, never as passed. Run them with the reader named:
//!
//! ```sh
//! SMSR_TEST_CARD_READER="ACS ACR39U ICC Reader 00 00" cargo test --test real_card -- --ignored
//! ```
//!
//! - `SMSR_TEST_CARD_READER` (required): the reader holding the card. The read-only tests
//!   (reader listed, EID read with valid check digits, ISD-R and ECASD selectable, a trace
//!   written) need nothing else.
//! - `SMSR_TEST_CARD_EIS`: the card's EIS (JSON, e.g. from the vendor's key sheet). With it the
//!   SM-SR registers the card in a throw-away registry and audits it (GET STATUS and `FF21` over
//!   `SMSR_TEST_CARD_ES5`, default `scp80`; an SCP80 packet moves the card's counter, nothing
//!   else changes on the card).
//! - `SMSR_TEST_CARD_PKI` and `SMSR_TEST_CARD_PROVISION=1`: provisions a built profile (the
//!   SM-DP's PKI directory must hold a CERT.DP.ECDSA the card's CI signed), checks it with
//!   AUTHENTICATE, enables the profile that was enabled before (the card must have one), and
//!   deletes the new one. This changes the card; it is asked for separately.
//!
//! The tests take turns on the card and share one SM-SR registry that outlives the run
//! (`SMSR_TEST_CARD_DB`, default `real-card-smsr.db` in Cargo's test temporary directory): a
//! real card keeps its SCP80 counter, so a new registry every run would fall behind it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// The card is one: tests take turns.
static CARD: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    CARD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The registry the tests share, kept between runs.
fn registry() -> String {
    std::env::var("SMSR_TEST_CARD_DB").unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("real-card-smsr.db")
            .to_str()
            .expect("utf-8 path")
            .to_owned()
    })
}

/// Registers the EIS named by `SMSR_TEST_CARD_EIS` in [`registry`] (replacing an earlier
/// registration: ISD-Ps, history and counters kept); returns the EID.
fn register(db: &str) -> String {
    let Some(eis) = optional_path("SMSR_TEST_CARD_EIS") else {
        panic!("SMSR_TEST_CARD_EIS must name the card's EIS (JSON) for this test");
    };
    let registered = json(&[
        "--db",
        db,
        "eis",
        "register",
        "--replace",
        common::path(&eis),
    ]);
    let eid = registered["registered"]
        .as_str()
        .expect("registered")
        .to_owned();
    assert_eq!(
        json(&["info"])["eid"],
        eid.as_str(),
        "the EIS is not this card's"
    );
    eid
}

/// The reader named by `SMSR_TEST_CARD_READER`; a run with `--ignored` without it fails, so
/// that it cannot pass having checked nothing.
fn reader() -> String {
    std::env::var("SMSR_TEST_CARD_READER").expect(
        "SMSR_TEST_CARD_READER must name the reader holding the eUICC (see tests/real_card.rs)",
    )
}

fn smsr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(["--reader", &reader()])
        .args(args)
        .env_remove("SMSR_TRACE")
        .env_remove("SMSR_TRANSPORT")
        .output()
        .expect("run smsr")
}

fn json(args: &[&str]) -> serde_json::Value {
    common::success_json(args, &smsr(&common::with_json(args)))
}

fn optional_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from)
}

#[test]
#[ignore = "needs a real eUICC: SMSR_TEST_CARD_READER=... cargo test --test real_card -- --ignored"]
fn reader_is_listed_and_the_eid_is_read() {
    let _turn = turn();
    let name = reader();
    let readers = json(&["readers"]);
    let listed = readers.to_string();
    assert!(listed.contains(&name), "{name} not in {readers}");
    let info = json(&["info"]);
    let eid = info["eid"].as_str().expect("eid").to_owned();
    let checked = euicc_emulator::eid::parse_eid(&eid);
    assert!(
        checked.is_ok(),
        "EID {eid}: {checked:?} (ISO 7064 MOD 97-10)"
    );
    let apps = info["applications"].as_array().expect("applications");
    for name in ["ISD-R", "ECASD"] {
        let app = apps
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {info}"));
        assert_eq!(app["selectable"], true, "{info}");
    }
}

#[test]
#[ignore = "needs a real eUICC: SMSR_TEST_CARD_READER=... cargo test --test real_card -- --ignored"]
fn a_trace_of_the_eid_read_is_written_and_shown() {
    let _turn = turn();
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("trace.jsonl");
    let trace = trace.to_str().expect("utf-8 path");
    let out = smsr(&["--trace", trace, "info"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = json(&["trace", "show", trace]);
    let text = shown.to_string();
    // SELECT of the ECASD and GET DATA of the EID are in it.
    assert!(text.contains("A0000005591010FFFFFFFF8900000200"), "{shown}");
    assert!(text.to_uppercase().contains("CA005A00"), "{shown}");
}

#[test]
#[ignore = "needs a real eUICC and its EIS: SMSR_TEST_CARD_READER, SMSR_TEST_CARD_EIS"]
fn the_registered_card_is_audited() {
    let _turn = turn();
    let es5 = std::env::var("SMSR_TEST_CARD_ES5").unwrap_or_else(|_| "scp80".into());
    let db = registry();
    let db = db.as_str();
    let eid = register(db);
    let audit = json(&["--db", db, "audit", "--eid", &eid, "--es5", &es5]);
    assert!(audit["isdps"].is_array(), "{audit}");
    // The registry took the card's view: a second audit changes nothing.
    let again = json(&["--db", db, "audit", "--eid", &eid, "--es5", &es5]);
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
}

#[test]
#[ignore = "changes the card: SMSR_TEST_CARD_READER, SMSR_TEST_CARD_EIS, SMSR_TEST_CARD_PKI, SMSR_TEST_CARD_PROVISION=1"]
fn a_built_profile_is_provisioned_checked_and_deleted() {
    assert_eq!(
        std::env::var("SMSR_TEST_CARD_PROVISION").as_deref(),
        Ok("1"),
        "set SMSR_TEST_CARD_PROVISION=1 to let this test create and delete a profile"
    );
    let _turn = turn();
    let pki = optional_path("SMSR_TEST_CARD_PKI").expect("SMSR_TEST_CARD_PKI");
    let es5 = std::env::var("SMSR_TEST_CARD_ES5").unwrap_or_else(|_| "scp80".into());
    let db = registry();
    let db = db.as_str();
    let eid = register(db);
    let before = json(&["--db", db, "audit", "--eid", &eid, "--es5", &es5]);
    let enabled_before = before["isdps"]
        .as_array()
        .expect("isdps")
        .iter()
        .find(|i| i["state"] == "enabled")
        .and_then(|i| i["aid"].as_str())
        .map(str::to_owned);
    // A delivered eUICC has an enabled profile; the new one is deleted after switching back
    // to it (an enabled profile cannot be deleted, and disabling needs a fallback profile).
    let Some(enabled_before) = enabled_before else {
        panic!("the card has no enabled profile to return to: {before}");
    };
    let inline = [
        "--iccid",
        "89882800000000000045",
        "--imsi",
        "001010000000045",
        "--ki",
        "000102030405060708090A0B0C0D0E0F",
        "--opc",
        "00112233445566778899AABBCCDDEEFF",
    ];
    let mut args = vec![
        "--db",
        db,
        "provision",
        "--eid",
        &eid,
        "--pki",
        common::path(&pki),
        "--es5",
        &es5,
    ];
    args.extend(inline);
    let out = json(&args);
    assert_eq!(out["check"]["authenticated"], true, "{out}");
    let new = out["isdp"].as_str().expect("isdp").to_owned();
    // Back to the profile enabled before, then the new one goes.
    json(&[
        "--db",
        db,
        "profile",
        "enable",
        "--eid",
        &eid,
        "--isdp",
        &enabled_before,
        "--reset",
        "--es5",
        &es5,
    ]);
    json(&[
        "--db", db, "profile", "delete", "--eid", &eid, "--isdp", &new, "--es5", &es5,
    ]);
    let after = json(&["--db", db, "audit", "--eid", &eid, "--es5", &es5]);
    assert!(
        !after.to_string().contains(&new),
        "ISD-P {new} still on the card: {after}"
    );
}
