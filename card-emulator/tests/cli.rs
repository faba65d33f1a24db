//! The `euicc-emulator` binary: init, show, exit codes.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_euicc-emulator"))
        .args(args)
        .env_remove("EUICC_STATE")
        .env_remove("EUICC_VPCD")
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn init_show_and_refuse_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let eid = "89034011560010000000000000000121";
    let out = run(&["init", "--state", path(&state), "--eid", eid]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{eid}\n"));

    let out = run(&["show", "--state", path(&state), "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["eid"], eid);
    assert_eq!(json["state_version"], 1);

    let out = run(&["init", "--state", path(&state)]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = run(&["init", "--state", path(&state), "--force"]);
    assert!(out.status.success());
    let new_eid = String::from_utf8(out.stdout).unwrap();
    assert_ne!(new_eid.trim(), eid);
    assert!(new_eid.starts_with("89"));
}

#[test]
fn errors_have_exit_codes_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let out = run(&[
        "init",
        "--state",
        path(&state),
        "--eid",
        "8903401156001000000000000000012",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("32 digits"));
    assert!(!state.exists());

    let out = run(&["show", "--state", path(&state)]);
    assert_eq!(out.status.code(), Some(3));
    std::fs::write(&state, "{\"version\": 9, \"eid\": \"00\"}").unwrap();
    let out = run(&["show", "--state", path(&state)]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 9 is not supported"));
    let out = run(&["run", "--state", path(&state)]);
    assert_eq!(out.status.code(), Some(3));
    let out = run(&["run", "--state", path(&state), "--vpcd", "127.0.0.1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}
