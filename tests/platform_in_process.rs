//! The SM-SR commands against the emulator linked in: register an EIS, create ISD-Ps, audit,
//! delete, and reconcile a crash between the card's answer and the registry's commit.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::path;
use std::path::PathBuf;
use std::process::{Command, Output};

const EID: &str = "89001999000010000000000000000022";
const GP_TEST_KEY: &str = "404142434445464748494A4B4C4D4E4F";

struct Setup {
    _dir: tempfile::TempDir,
    state: PathBuf,
    db: PathBuf,
    eis: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    common::new_card(&state, EID);
    let eis = dir.path().join("eis.json");
    std::fs::write(
        &eis,
        format!(
            r#"{{"version":1,"eid":"{EID}","isd_r":{{"aid":"A0000005591010FFFFFFFF8900000100",
            "scp03":[{{"kvn":48,"enc":"{GP_TEST_KEY}","mac":"{GP_TEST_KEY}","dek":"{GP_TEST_KEY}"}}]}}}}"#
        ),
    )
    .unwrap();
    Setup {
        db: dir.path().join("smsr.db"),
        state,
        eis,
        _dir: dir,
    }
}

fn smsr(s: &Setup, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(["--transport", "emulator", "--emulator-state"])
        .arg(&s.state)
        .arg("--db")
        .arg(&s.db)
        .args(args)
        .env_remove("SMSR_TRACE")
        .env_remove("SMSR_READER")
        // These EIS carry only the ISD-R's SCP03 keys (the SCP80 path: provision_in_process).
        .env("SMSR_ES5", "scp03")
        .output()
        .unwrap()
}

fn ok(s: &Setup, args: &[&str]) -> serde_json::Value {
    common::success_json(args, &smsr(s, &common::with_json(args)))
}

#[test]
fn eis_register_show_list() {
    let s = setup();
    ok(&s, &["eis", "register", path(&s.eis)]);
    let again = smsr(&s, &["eis", "register", path(&s.eis)]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--replace"));
    ok(&s, &["eis", "register", "--replace", path(&s.eis)]);
    let shown = ok(&s, &["eis", "show", EID]);
    assert_eq!(shown["eis"]["eid"], EID);
    assert_eq!(shown["eis"]["isd_r"]["scp03"][0]["enc"], "REDACTED");
    // Without an EID: the card's.
    let shown = ok(&s, &["eis", "show"]);
    assert_eq!(shown["eis"]["eid"], EID);
    let list = ok(&s, &["eis", "list"]);
    assert_eq!(list["euiccs"][0]["eid"], EID);
    let unknown = smsr(&s, &["eis", "show", "89001999000010000000000000000119"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("smsr eis register"));
    let bad = s.eis.with_file_name("bad.json");
    std::fs::write(&bad, "{\"version\":1,\"eid\":\"12\"}").unwrap();
    let out = smsr(&s, &["eis", "register", path(&bad)]);
    assert_eq!(out.status.code(), Some(5));
}
#[test]
fn create_audit_delete() {
    let s = setup();
    ok(&s, &["eis", "register", path(&s.eis)]);
    let first = ok(
        &s,
        &[
            "isdp",
            "create",
            "--eid",
            EID,
            "--iccid",
            "89882800000000000011",
        ],
    );
    assert_eq!(first["aid"], "A0000005591010FFFFFFFF8900001000");
    let second = ok(&s, &["isdp", "create", "--eid", EID, "--memory", "16384"]);
    assert_eq!(second["aid"], "A0000005591010FFFFFFFF8900001100");
    let audit = ok(&s, &["audit", "--eid", EID]);
    assert_eq!(audit["changes"].as_array().unwrap().len(), 0, "{audit}");
    assert_eq!(audit["isdps"].as_array().unwrap().len(), 2);
    assert_eq!(audit["isdps"][0]["state"], "created");
    ok(
        &s,
        &[
            "profile",
            "delete",
            "--eid",
            EID,
            "--iccid",
            "89882800000000000011",
        ],
    );
    let audit = ok(&s, &["audit", "--eid", EID]);
    let isdps = audit["isdps"].as_array().unwrap();
    assert_eq!(isdps.len(), 1);
    assert_eq!(isdps[0]["aid"], "A0000005591010FFFFFFFF8900001100");
    // A wrong EID for the card in the reader is refused before anything is sent.
    let other = s.eis.with_file_name("other.json");
    let text = std::fs::read_to_string(&s.eis)
        .unwrap()
        .replace(EID, "89001999000010000000000000000119");
    std::fs::write(&other, text).unwrap();
    ok(&s, &["eis", "register", path(&other)]);
    let out = smsr(
        &s,
        &[
            "isdp",
            "create",
            "--eid",
            "89001999000010000000000000000119",
        ],
    );
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--reader"));
}

#[test]
fn audit_reconciles_a_crash_between_card_and_registry() {
    use smsr::sm_sr::es5::Es5Link;
    let s = setup();
    ok(&s, &["eis", "register", path(&s.eis)]);
    ok(&s, &["isdp", "create", "--eid", EID]);
    {
        let mut registry = smsr::sm_sr::registry::Registry::open(&s.db).unwrap();
        // Crash after the card answered, before the registry committed: the intent is
        // recorded and the card holds the ISD-P.
        let answered = "A0000005591010FFFFFFFF8900001100";
        let eid = EID.parse().unwrap();
        registry
            .begin_create(&eid, &answered.parse().unwrap(), None, None)
            .unwrap();
        let eis = registry.eis(&eid).unwrap();
        let transport = smsr::transport::in_process::InProcess::open(&s.state).unwrap();
        let mut link = smsr::sm_sr::es5::Scp03Link::new(transport, &eis).unwrap();
        let aid = smsr_proto::gp::aid::Aid::new(&hex::decode(answered).unwrap()).unwrap();
        let apdus = smsr_proto::gp::install::Install::create_isd_p(aid, None)
            .to_apdus()
            .unwrap();
        let responses = link.run(&apdus).unwrap();
        assert!(responses.last().unwrap().sw.is_success());
        // Crash before the command was sent: the intent alone.
        registry
            .begin_create(
                &eid,
                &"A0000005591010FFFFFFFF8900001200".parse().unwrap(),
                None,
                None,
            )
            .unwrap();
    }
    let audit = ok(&s, &["audit", "--eid", EID]);
    let isdps = audit["isdps"].as_array().unwrap();
    let aids: Vec<&str> = isdps.iter().map(|i| i["aid"].as_str().unwrap()).collect();
    assert_eq!(
        aids,
        [
            "A0000005591010FFFFFFFF8900001000",
            "A0000005591010FFFFFFFF8900001100"
        ],
        "{audit}"
    );
    assert!(isdps
        .iter()
        .all(|i| i["pending"].is_null() && i["state"] == "created"));
    let changes = audit["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{audit}");
    assert!(changes
        .iter()
        .any(|c| c["aid"] == "A0000005591010FFFFFFFF8900001200"
            && c["action"].as_str().unwrap().contains("removed")));
    // A second audit finds nothing to change.
    let again = ok(&s, &["audit", "--eid", EID]);
    assert_eq!(again["changes"].as_array().unwrap().len(), 0, "{again}");
}

/// The test installer puts a profile into an ISD-P (until ES8 download is used).
fn add_profile(s: &Setup, aid: &str, iccid: &str, fallback: bool, pol1: &str) {
    let p = euicc_emulator::test_installer::TestProfile::parse(aid, iccid, fallback, pol1).unwrap();
    euicc_emulator::test_installer::add_profile(&s.state, &p).unwrap();
}

fn states(v: &serde_json::Value) -> Vec<(String, String, bool)> {
    v["isdps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["aid"].as_str().unwrap().to_owned(),
                i["state"].as_str().unwrap().to_owned(),
                i["fallback"].as_bool().unwrap(),
            )
        })
        .collect()
}

const P1: &str = "A0000005591010FFFFFFFF8900001000";
const P2: &str = "A0000005591010FFFFFFFF8900001100";

#[test]
fn enable_disable_fallback_notifications() {
    let s = setup();
    ok(&s, &["eis", "register", path(&s.eis)]);
    ok(
        &s,
        &[
            "isdp",
            "create",
            "--eid",
            EID,
            "--iccid",
            "89882800000000000011",
        ],
    );
    ok(
        &s,
        &[
            "isdp",
            "create",
            "--eid",
            EID,
            "--iccid",
            "89882800000000000029",
        ],
    );
    add_profile(&s, P1, "89882800000000000011", true, "00");
    add_profile(&s, P2, "89882800000000000029", false, "00");
    // The audit learns the profiles and the Fallback Attribute from the card.
    let audit = ok(&s, &["audit", "--eid", EID]);
    assert_eq!(
        states(&audit),
        [
            (P1.into(), "disabled".into(), true),
            (P2.into(), "disabled".into(), false)
        ],
        "{audit}"
    );
    // The first notification: the eUICC declaration of a new card.
    let n = ok(&s, &["notifications", "--eid", EID]);
    assert_eq!(n["notifications"][0]["kind"], "01", "{n}");
    assert_eq!(
        ok(&s, &["notifications", "--eid", EID])["notifications"],
        serde_json::json!([])
    );

    let e = ok(
        &s,
        &["profile", "enable", "--eid", EID, "--isdp", P2, "--reset"],
    );
    assert_eq!(
        states(&e),
        [
            (P1.into(), "disabled".into(), true),
            (P2.into(), "enabled".into(), false)
        ],
        "{e}"
    );
    let n = ok(&s, &["notifications", "--eid", EID]);
    assert_eq!(n["notifications"][0]["kind"], "02", "{n}");
    assert_eq!(n["notifications"][0]["isd_p"], P2);

    // Enabling another disables this one.
    let e = ok(
        &s,
        &[
            "profile",
            "enable",
            "--eid",
            EID,
            "--iccid",
            "89882800000000000011",
        ],
    );
    assert_eq!(states(&e)[0].1, "enabled");
    assert_eq!(states(&e)[1].1, "disabled");
    // The fallback profile can be neither disabled nor deleted.
    let out = smsr(&s, &["profile", "disable", "--eid", EID, "--isdp", P1]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("6985"));
    let out = smsr(&s, &["profile", "delete", "--eid", EID, "--isdp", P1]);
    assert_eq!(out.status.code(), Some(1));
    // The refusals left nothing pending.
    let shown = ok(&s, &["eis", "show", EID]);
    assert!(shown["isdps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["pending"].is_null()));

    // Move the Fallback Attribute, then disabling P1 enables the fallback P2.
    let f = ok(&s, &["profile", "set-fallback", "--eid", EID, "--isdp", P2]);
    assert_eq!(
        states(&f),
        [
            (P1.into(), "enabled".into(), false),
            (P2.into(), "disabled".into(), true)
        ],
        "{f}"
    );
    let d = ok(&s, &["profile", "disable", "--eid", EID, "--isdp", P1]);
    assert_eq!(states(&d)[0].1, "disabled");
    assert_eq!(states(&d)[1].1, "enabled");
    let n = ok(&s, &["notifications", "--eid", EID]);
    let kinds: Vec<&str> = n["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["02", "05"], "{n}");
    // A disabled, non-fallback profile can be deleted.
    ok(&s, &["profile", "delete", "--eid", EID, "--isdp", P1]);
    let audit = ok(&s, &["audit", "--eid", EID]);
    assert_eq!(
        states(&audit),
        [(P2.into(), "enabled".into(), true)],
        "{audit}"
    );
    assert_eq!(audit["changes"], serde_json::json!([]));
}

#[test]
fn pol1_refusal_and_delete_when_disabled() {
    const P3: &str = "A0000005591010FFFFFFFF8900001200";
    let s = setup();
    ok(&s, &["eis", "register", path(&s.eis)]);
    for _ in 0..3 {
        ok(&s, &["isdp", "create", "--eid", EID]);
    }
    // P1: fallback. P2: delete when disabled (POL1 04). P3: deletion not allowed (POL1 02).
    add_profile(&s, P1, "89882800000000000011", true, "00");
    add_profile(&s, P2, "89882800000000000029", false, "04");
    add_profile(&s, P3, "89882800000000000037", false, "02");
    ok(&s, &["audit", "--eid", EID]);
    let out = smsr(&s, &["profile", "delete", "--eid", EID, "--isdp", P3]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("69E1"));
    ok(&s, &["profile", "enable", "--eid", EID, "--isdp", P2]);
    ok(&s, &["notifications", "--eid", EID]);
    // Disabling P2 (back to the fallback) makes the card delete it on confirmation.
    ok(&s, &["profile", "disable", "--eid", EID, "--isdp", P2]);
    let n = ok(&s, &["notifications", "--eid", EID]);
    let deleted: Vec<&str> = n["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|x| x["deleted"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(deleted, [P2], "{n}");
    let shown = ok(&s, &["eis", "show", EID]);
    assert_eq!(
        states(&shown),
        [
            (P1.into(), "enabled".into(), true),
            (P3.into(), "disabled".into(), false)
        ],
        "{shown}"
    );
}

#[test]
fn pol2_checked_before_sending_and_auto_delete() {
    let s = setup();
    ok(&s, &["eis", "register", path(&s.eis)]);
    ok(&s, &["isdp", "create", "--eid", EID]);
    ok(&s, &["isdp", "create", "--eid", EID]);
    add_profile(&s, P1, "89882800000000000011", true, "00");
    add_profile(&s, P2, "89882800000000000029", false, "00");
    let audit = ok(&s, &["audit", "--eid", EID]);
    assert!(
        audit["resources"]["free_non_volatile_memory"]
            .as_u64()
            .unwrap()
            > 0
    );
    let rules = ok(
        &s,
        &[
            "profile",
            "pol2",
            "--eid",
            EID,
            "--isdp",
            P2,
            "--rule",
            "delete-not-allowed",
            "--rule",
            "enable-not-allowed",
        ],
    );
    assert_eq!(
        rules["pol2"],
        serde_json::json!(["delete-not-allowed", "enable-not-allowed"])
    );
    for op in ["delete", "enable"] {
        let out = smsr(&s, &["profile", op, "--eid", EID, "--isdp", P2]);
        assert_eq!(out.status.code(), Some(1), "{op}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("POL2") && err.contains("nothing was sent"),
            "{err}"
        );
    }
    // Nothing reached the card: the history has no pending or refused entry for these.
    let shown = ok(&s, &["eis", "show", EID]);
    assert!(shown["isdps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["pending"].is_null()));
    // auto-delete: enabling P1 disables P2, which the SM-SR then deletes.
    ok(
        &s,
        &[
            "profile",
            "pol2",
            "--eid",
            EID,
            "--isdp",
            P2,
            "--rule",
            "auto-delete",
        ],
    );
    ok(&s, &["profile", "enable", "--eid", EID, "--isdp", P2]);
    let e = ok(&s, &["profile", "enable", "--eid", EID, "--isdp", P1]);
    assert_eq!(e["auto_deleted"], serde_json::json!([P2]), "{e}");
    assert_eq!(states(&e), [(P1.into(), "enabled".into(), true)], "{e}");
    let cleared = ok(
        &s,
        &["profile", "pol2", "--eid", EID, "--isdp", P1, "--clear"],
    );
    assert_eq!(cleared["pol2"], serde_json::json!([]));
}
