//! The foundation scenarios over real pcscd + vpcd + the bundled emulator.
//!
//! `scripts/test.sh` starts the virtual reader and sets `SMSR_TEST_VPCD_READER` (and
//! `SMSR_REQUIRE_VPCD=1`, which turns a missing reader into a failure). Run alone with plain
//! `cargo test`, these tests say "skipped" and pass nothing off as checked.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// The virtual reader is one card: tests take turns.
static CARD: Mutex<()> = Mutex::new(());

struct Vpcd {
    reader: String,
    _turn: MutexGuard<'static, ()>,
}

fn vpcd(test: &str) -> Option<Vpcd> {
    let Ok(reader) = std::env::var("SMSR_TEST_VPCD_READER") else {
        assert!(
            std::env::var("SMSR_REQUIRE_VPCD").as_deref() != Ok("1"),
            "{test}: SMSR_REQUIRE_VPCD=1 but SMSR_TEST_VPCD_READER is not set"
        );
        eprintln!("{test}: skipped: SMSR_TEST_VPCD_READER not set (scripts/test.sh runs these)");
        return None;
    };
    let turn = CARD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(Vpcd {
        reader,
        _turn: turn,
    })
}

/// The SM-SR registry the SCP80 tests share: the card's SCP80 counter moves with every packet,
/// so a second registry starting from the EIS's counter would be behind it.
fn scp80_registry() -> String {
    static DB: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DB.get_or_init(|| tempfile::tempdir().expect("tempdir"));
    dir.path()
        .join("smsr.db")
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_dir() -> PathBuf {
    std::env::var_os("SMSR_RUN_DIR")
        .map_or_else(|| root().join("target/virtual-reader"), PathBuf::from)
}

impl Vpcd {
    fn smsr(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_smsr"))
            .arg("--reader")
            .arg(&self.reader)
            .args(args)
            .env_remove("SMSR_TRACE")
            .output()
            .expect("run smsr")
    }

    fn smsr_ok(&self, args: &[&str]) -> String {
        let out = self.smsr(args);
        assert!(
            out.status.success(),
            "smsr {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// [`Vpcd::json`] on the registry the SCP80 tests share ([`scp80_registry`]).
    fn scp80_json(&self, args: &[&str]) -> serde_json::Value {
        let db = scp80_registry();
        let mut all = vec!["--db", db.as_str()];
        all.extend(args);
        self.json(&all)
    }

    /// Registers the card's EIS (from the run directory) in the shared SCP80 registry, again
    /// if an earlier test did (counters kept).
    fn register_scp80(&self) {
        let eis = run_dir().join("eis.json");
        self.scp80_json(&[
            "eis",
            "register",
            "--replace",
            eis.to_str().expect("utf-8 path"),
        ]);
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.smsr_ok(&all)).expect("JSON output")
    }

    /// The EID the emulator holds in its state file, as 32 hex digits.
    fn expected_eid(&self) -> String {
        let state = run_dir().join("card.json");
        let out = Command::new(root().join("target/debug/euicc-emulator"))
            .args(["show", "--json", "--state"])
            .arg(&state)
            .output()
            .expect("run euicc-emulator show");
        assert!(
            out.status.success(),
            "euicc-emulator show: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["eid"].as_str().expect("eid field").to_uppercase()
    }

    fn script(&self, action: &str) {
        let status = Command::new(root().join("scripts/virtual-reader.sh"))
            .arg(action)
            .env("SMSR_RUN_DIR", run_dir())
            .status()
            .expect("run virtual-reader.sh");
        assert!(status.success(), "virtual-reader.sh {action} failed");
    }

    /// Runs `euicc-emulator` on the virtual reader's card state (`--state` added last).
    fn emulator(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new(root().join("target/debug/euicc-emulator"))
            .args(args)
            .arg("--state")
            .arg(run_dir().join("card.json"))
            .output()
            .expect("run euicc-emulator");
        assert!(
            out.status.success(),
            "euicc-emulator {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn eid_read(&self) -> String {
        let info = self.json(&["info"]);
        info["eid"]
            .as_str()
            .expect("eid in smsr info --json")
            .to_uppercase()
    }
}

#[test]
fn readers_lists_the_virtual_reader_with_a_card() {
    let Some(v) = vpcd("readers_lists_the_virtual_reader_with_a_card") else {
        return;
    };
    let readers = v.json(&["readers"]);
    let list = readers["readers"].as_array().expect("readers array");
    let ours = list
        .iter()
        .find(|r| r["name"].as_str() == Some(v.reader.as_str()))
        .expect("virtual reader listed");
    assert_eq!(ours["card_present"], true);
    assert_eq!(
        ours["atr"].as_str().map(str::to_uppercase).as_deref(),
        Some(hex::encode_upper(euicc_emulator::ATR).as_str())
    );
}

#[test]
fn info_reads_the_eid_through_pcscd() {
    let Some(v) = vpcd("info_reads_the_eid_through_pcscd") else {
        return;
    };
    assert_eq!(v.eid_read(), v.expected_eid());
    let text = v.smsr_ok(&["info"]);
    assert!(
        text.contains(&v.expected_eid()),
        "plain output names the EID: {text}"
    );
}

#[test]
fn raw_apdus_select_ecasd_and_get_eid() {
    let Some(v) = vpcd("raw_apdus_select_ecasd_and_get_eid") else {
        return;
    };
    let out = v.json(&[
        "apdu",
        "00A4040010A0000005591010FFFFFFFF8900000200",
        "80CA005A00",
    ]);
    let text = out.to_string().to_uppercase();
    assert!(
        text.contains(&format!("5A10{}", v.expected_eid())),
        "EID TLV in {text}"
    );
    assert!(text.contains("9000"), "{text}");
    // An instruction the card does not know comes back as 6D00 (or 6E00 from an application
    // of an enabled profile that does not take class 80), reported as a failure.
    let bad = v.smsr(&["apdu", "80FE000000"]);
    assert!(!bad.status.success());
    let text = String::from_utf8_lossy(&bad.stdout).to_uppercase();
    assert!(text.contains("6D00") || text.contains("6E00"), "{text}");
}

#[test]
fn trace_is_written_and_shown() {
    let Some(v) = vpcd("trace_is_written_and_shown") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("info.jsonl");
    let trace_s = trace.to_str().expect("utf-8 path");
    v.smsr_ok(&["--trace", trace_s, "info"]);
    let lines = std::fs::read_to_string(&trace).expect("trace written");
    let exchanges: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .filter(|o: &serde_json::Value| o.get("c_apdu").is_some())
        .collect();
    assert!(
        exchanges.len() >= 2,
        "SELECT and GET DATA recorded: {lines}"
    );
    for e in &exchanges {
        assert_eq!(e["reader"].as_str(), Some(v.reader.as_str()));
        assert!(e["seq"].is_u64() && e["elapsed_us"].is_u64() && e["ts"].is_string());
    }
    let shown = v.smsr_ok(&["trace", "show", trace_s]);
    assert!(
        shown.contains("SELECT") && shown.contains("GET DATA"),
        "{shown}"
    );
    assert!(shown.contains("ECASD"), "AID named: {shown}");
}

#[test]
fn scriptor_an_independent_client_reads_the_eid_over_t0() {
    let Some(v) = vpcd("scriptor_an_independent_client_reads_the_eid_over_t0") else {
        return;
    };
    // pcsc-tools' scriptor connects with T=0 and sends exactly what it is given: a case 3 SELECT,
    // a case 1 GET DATA (the card answers 61 12) and the GET RESPONSE that fetches the EID.
    let script = "00 A4 04 0C 10 A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 02 00\n\
                  80 CA 00 5A\n\
                  00 C0 00 00 12\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("eid.scriptor");
    std::fs::write(&file, script).expect("write script");
    let out = Command::new("scriptor")
        .args(["-r", &v.reader, "-p", "T=0"])
        .arg(&file)
        .output()
        .expect("scriptor installed (scripts/install-deps.sh)");
    // scriptor wraps long responses: compare without any whitespace.
    let text: String = String::from_utf8_lossy(&out.stdout)
        .to_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(
        out.status.success(),
        "scriptor: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("6112"),
        "GET DATA without Le answered 61 12 under T=0: {text}"
    );
    assert!(
        text.contains(&format!("5A10{}9000", v.expected_eid())),
        "EID read by scriptor: {text}"
    );
}

/// Runs `scriptor` on `reader` with `protocol` ("T=0" or "T=1"); its output, uppercase,
/// without whitespace, and whether it succeeded.
fn scriptor(reader: &str, protocol: &str, script: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("script");
    std::fs::write(&file, script).expect("write script");
    let out = Command::new("scriptor")
        .args(["-r", reader, "-p", protocol])
        .arg(&file)
        .output()
        .expect("scriptor installed (scripts/install-deps.sh)");
    let text: String = (String::from_utf8_lossy(&out.stdout).into_owned()
        + &String::from_utf8_lossy(&out.stderr))
        .to_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (out.status.success() && !text.contains("ERROR"), text)
}

#[test]
fn the_default_atr_offers_t0_only_and_a_t1_card_talks_t1() {
    let Some(v) = vpcd("the_default_atr_offers_t0_only_and_a_t1_card_talks_t1") else {
        return;
    };
    let get_eid = "00 A4 04 0C 10 A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 02 00\n\
                   80 CA 00 5A 00\n";
    // The reader's card: its ATR offers T=0 only, as an eUICC in a device does; pcscd talks
    // T=0 and refuses a client that asks for T=1.
    let atr = v.json(&["info"])["atr"]
        .as_str()
        .expect("atr in smsr info --json")
        .to_uppercase();
    assert_eq!(atr, hex::encode_upper(euicc_emulator::ATR));
    let (ok, text) = scriptor(&v.reader, "T=1", get_eid);
    assert!(!ok, "a T=1 client of a T=0 card fails: {text}");
    // A card made with --protocols t1 in the other vpcd slot: T=1 works, T=0 does not, and
    // smsr (which takes what pcscd negotiated) reads its EID.
    let (port, second) = match std::env::var("SMSR_VPCD_PORT").as_deref() {
        Ok("35964") => ("35963", "Virtual PCD 00 00"),
        _ => ("35964", "Virtual PCD 00 01"),
    };
    let readers = v.json(&["readers"]);
    let taken = readers["readers"].as_array().is_some_and(|l| {
        l.iter()
            .any(|r| r["name"] == second && r["card_present"] == true)
    });
    if taken {
        // Another card (scripts/demo.sh leaves one) holds the other slot here.
        eprintln!("the_default_atr_offers_t0_only_and_a_t1_card_talks_t1: the T=1 part skipped: {second} holds a card");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("t1.json");
    let init = Command::new(root().join("target/debug/euicc-emulator"))
        .args(["init", "--protocols", "t1", "--keys", "default", "--state"])
        .arg(&state)
        .output()
        .expect("run euicc-emulator init");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let run = Command::new(root().join("target/debug/euicc-emulator"))
        .args(["run", "--vpcd", &format!("127.0.0.1:{port}"), "--state"])
        .arg(&state)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run euicc-emulator run");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _run = Kill(run);
    let mut read = None;
    for _ in 0..100 {
        let out = Command::new(root().join("target/debug/smsr"))
            .args(["--reader", second, "--json", "info"])
            .output()
            .expect("run smsr");
        if out.status.success() {
            read = Some(String::from_utf8_lossy(&out.stdout).into_owned());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let info: serde_json::Value =
        serde_json::from_str(&read.expect("the T=1 card reached through the second reader"))
            .expect("json");
    let eid = info["eid"].as_str().expect("eid").to_uppercase();
    let (ok, text) = scriptor(second, "T=1", get_eid);
    assert!(ok, "T=1 client of a T=1 card: {text}");
    assert!(text.contains(&format!("5A10{eid}9000")), "{text}");
    let (ok, text) = scriptor(second, "T=0", get_eid);
    assert!(!ok, "a T=0 client of a T=1 card fails: {text}");
}

#[test]
fn eid_survives_emulator_and_pcscd_restarts() {
    let Some(v) = vpcd("eid_survives_emulator_and_pcscd_restarts") else {
        return;
    };
    let before = v.eid_read();
    v.script("restart-emulator");
    assert_eq!(v.eid_read(), before, "EID after the emulator restarted");
    if run_dir().join("pcscd.pid").exists() {
        v.script("restart-pcscd");
        assert_eq!(v.eid_read(), before, "EID after pcscd restarted");
    } else {
        eprintln!("eid_survives_emulator_and_pcscd_restarts: pcscd restart skipped: pcscd was not started by scripts/virtual-reader.sh");
    }
}

#[test]
fn gp_keys_check_list_secure_apdu_and_key_rotation() {
    let Some(v) = vpcd("gp_keys_check_list_secure_apdu_and_key_rotation") else {
        return;
    };
    // The card's ISD-R keys, exported as a keystore found by the card's EID.
    let dir = tempfile::tempdir().expect("tempdir");
    let keystore = dir.path().join("keys.json");
    v.emulator(&["keys", "--out", keystore.to_str().expect("utf-8 path")]);
    let ks = keystore.to_str().expect("utf-8 path");
    let check = v.json(&["gp", "keys-check", "--keystore", ks]);
    assert_eq!(check["matches"], true, "{check}");
    let kvn = check["session"]["kvn"].as_str().expect("kvn").to_owned();
    let list = v.json(&["gp", "list", "--keystore", ks]);
    assert!(
        list["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["name"] == "ISD-R"),
        "{list}"
    );
    let apdu = v.json(&[
        "gp",
        "apdu",
        "--secure",
        "--keystore",
        ks,
        "--level",
        "33",
        "80CA00E000",
    ]);
    assert_eq!(apdu["exchanges"][0]["sw"], "9000", "{apdu}");
    // Rotate the ISD-R key set to new keys, open a session with them, rotate back.
    let new_key = "000102030405060708090A0B0C0D0E0F";
    let rotated = v.json(&[
        "gp",
        "put-key",
        "--keystore",
        ks,
        "--new-kvn",
        "32",
        "--new-key",
        new_key,
        "--replace",
    ]);
    assert_eq!(
        rotated["replaced"].as_str(),
        Some(kvn.as_str()),
        "{rotated}"
    );
    let new_keys = [
        "--key-enc",
        new_key,
        "--key-mac",
        new_key,
        "--key-dek",
        new_key,
    ];
    let mut list_args = vec!["gp", "list"];
    list_args.extend(new_keys);
    let list = v.json(&list_args);
    assert!(!list["entries"].as_array().expect("entries").is_empty());
    let old = v.smsr(&["gp", "keys-check", "--keystore", ks]);
    // The keystore names the old key version, which the card no longer holds.
    assert_eq!(
        old.status.code(),
        Some(6),
        "old key set gone after rotation"
    );
    assert!(String::from_utf8_lossy(&old.stderr).contains("no key set with key version"));
    let keys_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keystore).expect("keystore")).expect("JSON");
    let ks0 = &keys_json["keysets"][0];
    let (enc, mac, dek) = (
        ks0["enc"].as_str().expect("enc"),
        ks0["mac"].as_str().expect("mac"),
        ks0["dek"].as_str().expect("dek"),
    );
    let mut back = vec![
        "gp",
        "put-key",
        "--replace",
        "32",
        "--new-kvn",
        kvn.as_str(),
    ];
    back.extend([
        "--new-key-enc",
        enc,
        "--new-key-mac",
        mac,
        "--new-key-dek",
        dek,
    ]);
    back.extend(new_keys);
    v.json(&back);
    let check = v.json(&["gp", "keys-check", "--keystore", ks]);
    assert_eq!(check["matches"], true, "original keys back: {check}");
}

#[test]
fn sm_sr_profile_life_cycle_through_pcscd() {
    let Some(v) = vpcd("sm_sr_profile_life_cycle_through_pcscd") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // An EIS with the card's ISD-R SCP03 keys, as an EUM would hand it over.
    let keys: serde_json::Value =
        serde_json::from_slice(&v.emulator(&["keys", "--json"])).expect("keys JSON");
    let k = &keys["keysets"][0];
    let eid = v.expected_eid();
    let eis = serde_json::json!({
        "version": 1, "eid": eid,
        "isd_r": {"aid": "A0000005591010FFFFFFFF8900000100",
                  "scp03": [{"kvn": k["kvn"], "enc": k["enc"], "mac": k["mac"], "dek": k["dek"]}]}
    });
    let eis_file = dir.path().join("eis.json");
    std::fs::write(&eis_file, eis.to_string()).expect("write EIS");
    let db = dir.path().join("smsr.db");
    let db = db.to_str().expect("utf-8 path");
    let eid = eid.as_str();
    let sm = |args: &[&str]| {
        let mut all = vec!["--db", db];
        all.extend(args);
        // The EIS carries only the ISD-R's SCP03 keys.
        if !["eis"].contains(&args[0]) {
            all.extend(["--es5", "scp03"]);
        }
        v.json(&all)
    };
    sm(&["eis", "register", eis_file.to_str().expect("utf-8 path")]);
    // The registry learns what the card holds already, then two ISD-Ps are created.
    sm(&["audit", "--eid", eid]);
    let a = sm(&["isdp", "create", "--eid", eid]);
    let b = sm(&["isdp", "create", "--eid", eid]);
    let (a, b) = (
        a["aid"].as_str().expect("aid").to_owned(),
        b["aid"].as_str().expect("aid").to_owned(),
    );
    // Profiles from the emulator's test installer, with the card out of the reader (the
    // installer refuses a card the emulator serves), then back in.
    v.script("stop-emulator");
    for (aid, iccid, fallback) in [
        (&a, "89882800000000000011", true),
        (&b, "89882800000000000029", false),
    ] {
        let mut args = vec!["profile-add", "--isdp", aid, "--iccid", iccid];
        if fallback {
            args.push("--fallback");
        }
        v.emulator(&args);
    }
    v.script("start-emulator");
    sm(&["audit", "--eid", eid]);
    let state_of = |j: &serde_json::Value, aid: &str| {
        j["isdps"]
            .as_array()
            .expect("isdps")
            .iter()
            .find(|i| i["aid"] == aid)
            .map(|i| i["state"].as_str().expect("state").to_owned())
    };
    let e = sm(&["profile", "enable", "--eid", eid, "--isdp", &b, "--reset"]);
    assert_eq!(state_of(&e, &b).as_deref(), Some("enabled"), "{e}");
    assert_eq!(state_of(&e, &a).as_deref(), Some("disabled"), "{e}");
    let n = sm(&["notifications", "--eid", eid]);
    assert!(
        n["notifications"]
            .as_array()
            .expect("notifications")
            .iter()
            .any(|x| x["kind"] == "02" && x["isd_p"] == b.as_str()),
        "{n}"
    );
    let d = sm(&["profile", "disable", "--eid", eid, "--isdp", &b, "--reset"]);
    assert_eq!(
        state_of(&d, &a).as_deref(),
        Some("enabled"),
        "fallback took over: {d}"
    );
    sm(&["profile", "delete", "--eid", eid, "--isdp", &b]);
    let audit = sm(&["audit", "--eid", eid]);
    assert_eq!(state_of(&audit, &b), None, "{audit}");
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
}

#[test]
fn provision_through_pcscd_over_scp80() {
    let Some(v) = vpcd("provision_through_pcscd_over_scp80") else {
        return;
    };
    // virtual-reader.sh made the card with a test EUM: its PKI and EIS are in the run directory.
    let run = run_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let eid = v.expected_eid();
    let sm = |args: &[&str]| v.scp80_json(args);
    v.register_scp80();
    // Learn what other tests left on the card (ISD-Ps), over SCP80.
    sm(&["audit", "--eid", &eid]);
    let profile = dir.path().join("profile.der");
    sm(&[
        "profile",
        "build",
        "--iccid",
        "89882800000000000037",
        "--imsi",
        "001010000000037",
        "--ki",
        "000102030405060708090A0B0C0D0E0F",
        "--opc",
        "00112233445566778899AABBCCDDEEFF",
        "--out",
        profile.to_str().expect("utf-8 path"),
    ]);
    let out = sm(&[
        "provision",
        "--eid",
        &eid,
        "--profile",
        profile.to_str().expect("utf-8 path"),
        "--pki",
        run.join("pki").to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out["check"]["authenticated"], true, "{out}");
    assert_eq!(out["check"]["imsi"], "001010000000037", "{out}");
    let aid = out["isdp"].as_str().expect("isdp").to_owned();
    // The card and the registry agree after an emulator restart (and a pcscd restart when this
    // run started pcscd).
    v.script("restart-emulator");
    if run.join("pcscd.pid").exists() {
        v.script("restart-pcscd");
    }
    let audit = sm(&["audit", "--eid", &eid]);
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
    let mine = audit["isdps"]
        .as_array()
        .expect("isdps")
        .iter()
        .find(|i| i["aid"] == aid.as_str())
        .expect("provisioned ISD-P");
    assert_eq!(mine["state"], "enabled", "{audit}");

    // Every TS.48 package downloads through pcscd+vpcd and authenticates once enabled (the
    // test algorithm with K 000102…0F).
    if let Some(packages) = common::ts48() {
        for p in packages {
            let out = sm(&[
                "provision",
                "--eid",
                &eid,
                "--profile",
                p.to_str().expect("utf-8 path"),
                "--pki",
                run.join("pki").to_str().expect("utf-8 path"),
            ]);
            assert_eq!(
                out["check"]["authenticated"],
                true,
                "{}: {out}",
                p.display()
            );
        }
    }
    // And once over SCP03: the scripts forwarded by the ISD-R in STORE DATA. The biggest
    // package, under an ICCID of its own (the card holds the first download of it already, and
    // the SM-SR refuses an ICCID the card holds).
    let big = common::ts48()
        .and_then(|p| {
            p.into_iter()
                .max_by_key(|p| p.metadata().map(|m| m.len()).unwrap_or(0))
        })
        .map_or(profile, |p| {
            let copy = dir.path().join("big.der");
            sm(&[
                "profile",
                "personalize",
                p.to_str().expect("utf-8 path"),
                "--iccid",
                "89882800000000000038",
                "--out",
                copy.to_str().expect("utf-8 path"),
            ]);
            copy
        });
    let out = sm(&[
        "provision",
        "--eid",
        &eid,
        "--profile",
        big.to_str().expect("utf-8 path"),
        "--pki",
        run.join("pki").to_str().expect("utf-8 path"),
        "--es5",
        "scp03",
    ]);
    assert_eq!(out["check"]["authenticated"], true, "{out}");

    // And over SCP81: the card opens a BIP channel, smsr relays it to its PSK-TLS admin
    // server, the whole download is one TLS session.
    let tls = dir.path().join("scp81.der");
    sm(&[
        "profile",
        "personalize",
        big.to_str().expect("utf-8 path"),
        "--iccid",
        "89882800000000000046",
        "--out",
        tls.to_str().expect("utf-8 path"),
    ]);
    let out = sm(&[
        "provision",
        "--eid",
        &eid,
        "--profile",
        tls.to_str().expect("utf-8 path"),
        "--pki",
        run.join("pki").to_str().expect("utf-8 path"),
        "--es5",
        "scp81",
    ]);
    assert_eq!(out["check"]["authenticated"], true, "{out}");
    let audit = sm(&["audit", "--eid", &eid, "--es5", "scp81"]);
    assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
}

#[test]
fn two_downloaded_profiles_switch_fallback_delete_through_pcscd() {
    let Some(v) = vpcd("two_downloaded_profiles_switch_fallback_delete_through_pcscd") else {
        return;
    };
    let run = run_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let eid = v.expected_eid();
    let eid = eid.as_str();
    let pki = run.join("pki");
    let pki = pki.to_str().expect("utf-8 path");
    let db = scp80_registry();
    let db = db.as_str();
    let sm = |args: &[&str]| v.scp80_json(args);
    // `(AID, state, Fallback Attribute)` of the ISD-Ps in a --json answer.
    let isdps = |j: &serde_json::Value| -> Vec<(String, String, bool)> {
        j["isdps"]
            .as_array()
            .expect("isdps")
            .iter()
            .map(|i| {
                (
                    i["aid"].as_str().expect("aid").to_owned(),
                    i["state"].as_str().expect("state").to_owned(),
                    i["fallback"].as_bool().expect("fallback"),
                )
            })
            .collect()
    };
    let of = |j: &serde_json::Value, aid: &str| {
        isdps(j)
            .into_iter()
            .find(|i| i.0 == aid)
            .map(|i| (i.1, i.2))
    };
    // The registry and the card agree: an audit changes nothing.
    let agree = || {
        let audit = sm(&["audit", "--eid", eid]);
        assert_eq!(audit["changes"], serde_json::json!([]), "{audit}");
        let shown = sm(&["eis", "show", eid]);
        assert_eq!(isdps(&shown), isdps(&audit), "{shown}\n{audit}");
        audit
    };
    let refused = |op: &str, aid: &str| {
        let out = v.smsr(&["--db", db, "profile", op, "--eid", eid, "--isdp", aid]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{op}: {err}");
        assert!(
            err.contains("6985") && err.contains("Fallback Attribute"),
            "{op}: {err}"
        );
    };
    v.register_scp80();
    // Learn what other tests left on the card, and which profile had the attribute.
    let before = sm(&["audit", "--eid", eid]);
    let prior_fallback = isdps(&before).into_iter().find(|i| i.2).map(|i| i.0);
    let build = |iccid: &str, imsi: &str, ki: &str| {
        let out = dir.path().join(format!("{iccid}.der"));
        let out_s = out.to_str().expect("utf-8 path").to_owned();
        sm(&[
            "profile",
            "build",
            "--iccid",
            iccid,
            "--imsi",
            imsi,
            "--ki",
            ki,
            "--opc",
            "000102030405060708090A0B0C0D0E0F",
            "--out",
            &out_s,
        ]);
        out_s
    };
    let a = build(
        "89882800000000000045",
        "001010000000045",
        "11223344556677889900AABBCCDDEEFF",
    );
    let b = build(
        "89882800000000000052",
        "001010000000052",
        "000102030405060708090A0B0C0D0E0F",
    );
    // A provisioned and enabled, B downloaded and left disabled.
    let out = sm(&["provision", "--eid", eid, "--profile", &a, "--pki", pki]);
    assert_eq!(out["check"]["authenticated"], true, "{out}");
    let pa = out["isdp"].as_str().expect("isdp").to_owned();
    let out = sm(&[
        "provision",
        "--eid",
        eid,
        "--profile",
        &b,
        "--pki",
        pki,
        "--no-enable",
    ]);
    let pb = out["isdp"].as_str().expect("isdp").to_owned();
    let audit = agree();
    assert_eq!(of(&audit, &pa).map(|s| s.0).as_deref(), Some("enabled"));
    assert_eq!(of(&audit, &pb), Some(("disabled".to_owned(), false)));

    // Switch to B: B's USIM answers with B's K.
    let e = sm(&["profile", "enable", "--eid", eid, "--isdp", &pb, "--reset"]);
    assert_eq!(of(&e, &pa).map(|s| s.0).as_deref(), Some("disabled"), "{e}");
    assert_eq!(of(&e, &pb).map(|s| s.0).as_deref(), Some("enabled"), "{e}");
    sm(&["notifications", "--eid", eid]);
    let check = sm(&["profile", "check", "--eid", eid, "--profile", &b]);
    assert_eq!(check["imsi"], "001010000000052", "{check}");

    // The Fallback Attribute moves to B: exactly one profile has it, and B can be neither
    // disabled nor deleted, even once another profile is enabled.
    let f = sm(&["profile", "set-fallback", "--eid", eid, "--isdp", &pb]);
    assert_eq!(isdps(&f).iter().filter(|i| i.2).count(), 1, "{f}");
    assert_eq!(of(&f, &pb), Some(("enabled".to_owned(), true)), "{f}");
    refused("disable", &pb);
    refused("delete", &pb);
    sm(&["profile", "enable", "--eid", eid, "--isdp", &pa, "--reset"]);
    refused("delete", &pb);
    agree();

    // Disabling A: the fallback B takes over; A (disabled, not the fallback) is deleted.
    let d = sm(&["profile", "disable", "--eid", eid, "--isdp", &pa, "--reset"]);
    assert_eq!(of(&d, &pb), Some(("enabled".to_owned(), true)), "{d}");
    sm(&["notifications", "--eid", eid]);
    sm(&["profile", "delete", "--eid", eid, "--isdp", &pa]);
    let audit = agree();
    assert_eq!(of(&audit, &pa), None, "{audit}");

    // The attribute goes back where it was, and B goes too.
    if let Some(p) = prior_fallback.filter(|p| of(&audit, p).is_some()) {
        sm(&["profile", "set-fallback", "--eid", eid, "--isdp", &p]);
        sm(&["profile", "enable", "--eid", eid, "--isdp", &p, "--reset"]);
        sm(&["notifications", "--eid", eid]);
        sm(&["profile", "delete", "--eid", eid, "--isdp", &pb]);
        let audit = agree();
        assert_eq!(of(&audit, &pb), None, "{audit}");
        assert_eq!(of(&audit, &p).map(|s| s.1), Some(true), "{audit}");
    }
}

/// The SM-SR service serves the virtual reader's card (PC/SC, no fleet) and the SM-DP service
/// downloads a profile into it through ES3, ordered through ES2; the profile then
/// authenticates through pcscd.
#[test]
fn services_download_into_the_virtual_readers_card() {
    let Some(v) = vpcd("services_download_into_the_virtual_readers_card") else {
        return;
    };
    let run = run_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    // The card's PKI (its EUM signed the ECASD certificate), with the TLS half when the run
    // directory's PKI predates it.
    let pki = dir.path().join("pki");
    std::fs::create_dir_all(&pki).expect("pki dir");
    for entry in std::fs::read_dir(run.join("pki")).expect("run dir PKI") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), pki.join(entry.file_name())).expect("copy PKI file");
    }
    if !pki.join("tls-ca.crt.pem").exists() {
        smsr::tls::init_pki(&pki, false).expect("TLS PKI");
    }
    let eid = v.expected_eid();
    v.register_scp80();
    let db = std::path::PathBuf::from(scp80_registry());
    let (package, der) =
        common::services::profile(dir.path(), "89882800000000000051", "001010000000051");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = common::services::Services::start_on(
            dir.path(),
            &pki,
            None,
            true,
            smsr::sm_sr::link::LinkKind::Scp80,
            &db,
        )
        .await;
        // The SM-SR read the reader's card at start.
        assert!(
            s.sr.cards().list().iter().any(|c| c.eid == eid),
            "{:?}",
            s.sr.cards().list()
        );
        s.audit(&eid).await;
        s.stock(&[&der]);
        let a = s.download(&eid, "89882800000000000051", true).await;
        assert_eq!(common::services::status(&a), "Executed-Success", "{a:#}");
        let isdps = s.audit(&eid).await;
        let mine = isdps
            .iter()
            .find(|(aid, _, _)| a["isdPAid"] == aid.as_str())
            .expect("the new ISD-P");
        assert_eq!(mine.2, "enabled", "{isdps:?}");
        s.stop().await;
    });
    let out = v.json(&[
        "profile",
        "check",
        "--eid",
        &eid,
        "--profile",
        package.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out["authenticated"], true, "{out}");
}

/// Collects the datagrams of a UDP socket on a thread (a provisioning sends hundreds, more than
/// a socket buffer holds) until `stop` is called.
struct Capture {
    target: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Vec<u8>>>,
}

impl Capture {
    fn start() -> Self {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let target = socket.local_addr().expect("address").to_string();
        socket
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .expect("timeout");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65_536];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => got.push(buf[..n].to_vec()),
                    Err(_) if flag.load(std::sync::atomic::Ordering::SeqCst) => return got,
                    Err(_) => {}
                }
            }
        });
        Self {
            target,
            stop,
            thread,
        }
    }

    fn stop(self) -> Vec<Vec<u8>> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().expect("capture thread")
    }
}

/// A TS.48 package provisioned over SCP80, SCP03 and SCP81 through pcscd with `--trace`,
/// `--keylog` and `--gsmtap`: `trace decrypt --extract-profile` gives back the package byte for
/// byte with every check passed; the exported pcap has one frame per exchange, tshark's
/// `gsm_sim` reads each, and the live GSMTAP frames equal the file's.
#[test]
fn ts48_provisionings_decrypt_and_open_in_wireshark_through_pcscd() {
    let Some(v) = vpcd("ts48_provisionings_decrypt_and_open_in_wireshark_through_pcscd") else {
        return;
    };
    let Some(packages) = common::ts48() else {
        return;
    };
    let run = run_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |path: &std::path::Path| path.to_str().expect("utf-8 path").to_owned();
    let eid = v.expected_eid();
    v.register_scp80();
    v.scp80_json(&["audit", "--eid", &eid]);
    for (es5, iccid, ins) in [
        ("scp80", "89882800000000001856", "0xc2"),
        ("scp03", "89882800000000001864", "0xe2"),
        ("scp81", "89882800000000001872", "0x12"),
    ] {
        let package = dir.path().join(format!("{es5}.der"));
        v.scp80_json(&[
            "profile",
            "personalize",
            &p(&packages[0]),
            "--iccid",
            iccid,
            "--out",
            &p(&package),
        ]);
        let trace = dir.path().join(format!("{es5}.jsonl"));
        let keys = dir.path().join(format!("{es5}.keys"));
        let capture = Capture::start();
        let mut args = vec![
            "--trace".to_owned(),
            p(&trace),
            "--keylog".to_owned(),
            p(&keys),
            "--gsmtap".to_owned(),
            capture.target.clone(),
        ];
        if es5 == "scp03" {
            // The ES8 scripts ride in STORE DATA under C-DECRYPTION: redacted unless asked.
            args.push("--trace-secrets".into());
        }
        for a in [
            "provision",
            "--eid",
            &eid,
            "--profile",
            &p(&package),
            "--pki",
            &p(&run.join("pki")),
            "--es5",
            es5,
        ] {
            args.push(a.to_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = v.scp80_json(&args);
        let live = capture.stop();
        assert_eq!(out["check"]["authenticated"], true, "{es5}: {out}");

        let extracted = dir.path().join(format!("{es5}.out.der"));
        v.smsr_ok(&[
            "trace",
            "decrypt",
            &p(&trace),
            "--keylog",
            &p(&keys),
            "--extract-profile",
            &p(&extracted),
        ]);
        assert_eq!(
            std::fs::read(&extracted).expect("extracted"),
            std::fs::read(&package).expect("package"),
            "{es5}"
        );

        let pcap = dir.path().join(format!("{es5}.pcap"));
        let export = v.json(&["trace", "export", &p(&trace), "--pcap", &p(&pcap)]);
        let payloads = common::pcap_payloads(&std::fs::read(&pcap).expect("pcap"));
        assert_eq!(
            Some(u64::try_from(payloads.len()).expect("count")),
            export["exchanges"].as_u64(),
            "{es5}: {export}"
        );
        assert_eq!(live.len(), payloads.len(), "{es5}: live frames");
        assert!(
            live == payloads,
            "{es5}: the live frames differ from the file's"
        );

        let Some(tshark) = common::tshark("ts48_provisionings_decrypt_and_open_in_wireshark")
        else {
            continue;
        };
        let out = Command::new(tshark)
            .args([
                "-r",
                &p(&pcap),
                "-Y",
                "gsm_sim",
                "-T",
                "fields",
                "-e",
                "gsm_sim.apdu.ins",
            ])
            .output()
            .expect("tshark");
        let listed = String::from_utf8_lossy(&out.stdout);
        assert_eq!(listed.lines().count(), payloads.len(), "{es5}: {listed}");
        assert!(
            listed.lines().any(|l| l.trim() == ins),
            "{es5}: no {ins} in {listed}"
        );
    }
}
