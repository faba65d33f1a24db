//! `smsr gp` against the emulator linked in: keys check (right and wrong keys, wrong KVN),
//! registry listing, card information, secure APDUs at a chosen level, PUT KEY rotation then
//! a session with the new keys, DELETE refused for platform entries, STORE DATA.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

const EID: &str = "89001999000010000000000000000022";
const TEST_KEY: &str = "404142434445464748494A4B4C4D4E4F";
const NEW_KEY: &str = "00112233445566778899AABBCCDDEEFF";

struct Card {
    _dir: tempfile::TempDir,
    state: PathBuf,
}

fn card() -> Card {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    common::new_card(&state, EID);
    Card { _dir: dir, state }
}

fn keys(k: &str) -> Vec<String> {
    ["--key-enc", k, "--key-mac", k, "--key-dek", k]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

impl Card {
    fn smsr(&self, args: &[&str], keys: &[String]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_smsr"))
            .args(["--transport", "emulator", "--emulator-state"])
            .arg(&self.state)
            .args(args)
            .args(keys)
            .env_remove("SMSR_TRACE")
            .env_remove("SMSR_KEYSTORE")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str], keys: &[String]) -> serde_json::Value {
        common::success_json(args, &self.smsr(&common::with_json(args), keys))
    }
}

#[test]
fn keys_check_tells_right_from_wrong_keys() {
    let c = card();
    let ok = c.json(&["gp", "keys-check"], &keys(TEST_KEY));
    assert_eq!(ok["matches"], true);
    assert_eq!(ok["session"]["kvn"], "30");
    assert_eq!(ok["session"]["i"], "70");
    assert_eq!(ok["session"]["kdd"].as_str().unwrap().len(), 20);
    // A wrong MAC key: exit 1, no EXTERNAL AUTHENTICATE sent, the answer on stdout.
    let wrong = c.smsr(&["gp", "keys-check", "--json"], &keys(NEW_KEY));
    assert_eq!(wrong.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&wrong.stdout).unwrap();
    assert_eq!(v["matches"], false);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("--kdf"));
    // A key version the card does not have: a security error naming --kvn.
    let mut k = keys(TEST_KEY);
    k.extend(["--kvn".into(), "31".into()]);
    let out = c.smsr(&["gp", "keys-check"], &k);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kvn"));
    // A wrong key opening a session stops before EXTERNAL AUTHENTICATE, with exit code 6.
    let out = c.smsr(&["gp", "list"], &keys(NEW_KEY));
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("retry counter"));
}

#[test]
fn list_and_info() {
    let c = card();
    let list = c.json(&["gp", "list"], &keys(TEST_KEY));
    let entries = list["entries"].as_array().unwrap();
    let find = |aid: &str| {
        entries
            .iter()
            .find(|e| e["aid"] == aid)
            .unwrap_or_else(|| panic!("{aid} in {list}"))
    };
    let isd_r = find("A0000005591010FFFFFFFF8900000100");
    assert_eq!(isd_r["kind"], "isd");
    assert_eq!(isd_r["name"], "ISD-R");
    assert!(isd_r["privilege_names"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "Security Domain"));
    assert_eq!(
        find("A0000005591010FFFFFFFF8900000200")["kind"],
        "security-domain"
    );
    let elf = find("A0000005591010FFFFFFFF8900000D00");
    assert_eq!(elf["kind"], "load-file");
    assert_eq!(elf["modules"][0], "A0000005591010FFFFFFFF8900000E00");
    let text = c.smsr(&["gp", "list"], &keys(TEST_KEY));
    assert!(String::from_utf8_lossy(&text.stdout).contains("(ECASD)"));

    let info = c.json(&["gp", "info"], &keys(TEST_KEY));
    let objects = info["objects"].as_array().unwrap();
    let object = |tag: &str| objects.iter().find(|o| o["tag"] == tag).unwrap();
    assert!(object("66")["decoded"][0]
        .as_str()
        .unwrap()
        .starts_with("GlobalPlatform"));
    assert!(object("E0")["decoded"][0]
        .as_str()
        .unwrap()
        .starts_with("key version 30"));
    assert!(object("FF21")["value"].is_string());
    // An object the card does not hold is listed with its status word, not a failure.
    assert!(object("9F7F")["sw"].as_str().unwrap().starts_with("6A88"));
}

#[test]
fn secure_apdus_at_each_level() {
    let c = card();
    for level in [
        "cmac",
        "cmac-cdec",
        "cmac-rmac",
        "cmac-cdec-rmac",
        "cmac-cdec-rmac-renc",
    ] {
        let out = c.json(
            &["gp", "apdu", "--secure", "--level", level, "80CA00E000"],
            &keys(TEST_KEY),
        );
        let x = &out["exchanges"][0];
        assert_eq!(x["sw"], "9000", "{level}: {out}");
        assert!(
            x["r_data_plain"].as_str().unwrap().starts_with("E0"),
            "{level}: plaintext key information: {out}"
        );
    }
    // GET STATUS needs a session on the ISD-R: in clear it is refused (6982), exit code 1.
    let clear = c.smsr(&["gp", "apdu", "80F24002024F0000"], &keys(TEST_KEY));
    assert_eq!(clear.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&clear.stdout).contains("6982"));
    let bad = c.smsr(&["gp", "apdu", "--secure", "80CA00"], &keys(TEST_KEY));
    assert_eq!(bad.status.code(), Some(5));
}

#[test]
fn put_key_rotation_then_a_session_with_the_new_keys() {
    let c = card();
    let out = c.json(
        &[
            "gp",
            "put-key",
            "--new-kvn",
            "31",
            "--new-key",
            NEW_KEY,
            "--replace",
        ],
        &keys(TEST_KEY),
    );
    assert_eq!(out["kvn"], "31");
    assert_eq!(out["replaced"], "30");
    assert_eq!(out["kcvs"].as_array().unwrap().len(), 3);
    // The old keys no longer open the ISD-R; the new ones do.
    let old = c.smsr(&["gp", "keys-check"], &keys(TEST_KEY));
    assert_eq!(old.status.code(), Some(1));
    let new = c.json(&["gp", "keys-check"], &keys(NEW_KEY));
    assert_eq!(new["matches"], true);
    assert_eq!(new["session"]["kvn"], "31");
    let list = c.json(&["gp", "list"], &keys(NEW_KEY));
    assert!(!list["entries"].as_array().unwrap().is_empty());
    // Rotate back, replacing KVN 31 by name.
    let back = c.json(
        &[
            "gp",
            "put-key",
            "--new-kvn",
            "30",
            "--new-key",
            TEST_KEY,
            "--replace",
            "31",
        ],
        &keys(NEW_KEY),
    );
    assert_eq!(back["kvn"], "30");
    assert_eq!(
        c.json(&["gp", "keys-check"], &keys(TEST_KEY))["matches"],
        true
    );
    // Bad new keys are refused before anything is sent.
    let short = c.smsr(
        &["gp", "put-key", "--new-kvn", "32", "--new-key", "0011"],
        &keys(TEST_KEY),
    );
    assert_eq!(short.status.code(), Some(5));
}

#[test]
fn delete_and_store_data() {
    let c = card();
    // The ECASD belongs to the platform: the card refuses, the tool says so with exit code 1.
    let out = c.smsr(
        &["gp", "delete", "A0000005591010FFFFFFFF8900000200"],
        &keys(TEST_KEY),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DELETE"));
    let bad = c.smsr(&["gp", "delete", "A000"], &keys(TEST_KEY));
    assert_eq!(bad.status.code(), Some(5));
    // STORE DATA of a DGI in two blocks is accepted by the ISD-R.
    let out = c.json(
        &[
            "gp",
            "store-data",
            "--dgi",
            "--block-size",
            "4",
            "0101060102030405FF",
        ],
        &keys(TEST_KEY),
    );
    assert_eq!(out["blocks"], 3);
}

#[test]
fn trace_recorded_from_the_emulator_decrypts() {
    let c = card();
    let trace = c.state.with_file_name("session.jsonl");
    let t = trace.to_str().unwrap();
    c.json(
        &[
            "--trace",
            t,
            "gp",
            "apdu",
            "--secure",
            "--level",
            "33",
            "80CA00E000",
            "80CA006600",
        ],
        &keys(TEST_KEY),
    );
    c.json(
        &["--trace", t, "gp", "list", "--level", "cmac"],
        &keys(TEST_KEY),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args([
            "trace",
            "decrypt",
            t,
            "--json",
            "--key-enc",
            TEST_KEY,
            "--key-mac",
            TEST_KEY,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let plain: Vec<&str> = lines
        .iter()
        .map(|l| l["c_apdu_plain"].as_str().unwrap())
        .collect();
    assert!(plain.contains(&"80CA00E000"), "{plain:?}");
    assert!(plain.iter().any(|p| p.starts_with("80F28002")), "{plain:?}");
    let secured: Vec<&serde_json::Value> =
        lines.iter().filter(|l| !l["c_mac_ok"].is_null()).collect();
    assert!(secured.len() >= 4, "{lines:?}");
    assert!(secured.iter().all(|l| l["c_mac_ok"] == true), "{lines:?}");
    // R-MAC at level 33, none at level 01.
    let get_e0 = lines
        .iter()
        .find(|l| l["c_apdu_plain"] == "80CA00E000")
        .unwrap();
    assert_eq!(get_e0["r_mac_ok"], true);
    assert!(get_e0["r_data_plain"].as_str().unwrap().starts_with("E0"));
    // With a wrong MAC key every check fails and the exit code says so.
    let wrong = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args([
            "trace",
            "decrypt",
            t,
            "--key-enc",
            TEST_KEY,
            "--key-mac",
            NEW_KEY,
        ])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
}
