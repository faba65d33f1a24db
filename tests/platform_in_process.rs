//! The SM-SR commands against the emulator linked in: register an EIS, create ISD-Ps, audit,
//! delete, and reconcile a crash between the card's answer and the registry's commit.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EID: &str = "89001999000010000000000000000018";
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
    let eid: [u8; 16] = hex::decode(EID).unwrap().try_into().unwrap();
    // CardState::new gives the ISD-R the GP test keys (KVN 30).
    let mut emulator =
        euicc_emulator::Emulator::create(&state, euicc_emulator::CardState::new(Some(eid)), false)
            .unwrap();
    emulator.power_off();
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
        .output()
        .unwrap()
}

fn ok(s: &Setup, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = smsr(s, &all);
    assert!(
        out.status.success(),
        "smsr {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
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
    let unknown = smsr(&s, &["eis", "show", "89001999000010000000000000000026"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("smsr eis register"));
    let bad = s.eis.with_file_name("bad.json");
    std::fs::write(&bad, "{\"version\":1,\"eid\":\"12\"}").unwrap();
    let out = smsr(&s, &["eis", "register", path(&bad)]);
    assert_eq!(out.status.code(), Some(5));
}
