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
    assert_eq!(json["state_version"], 5);
    assert_eq!(json["isd_r"]["kvns"], serde_json::json!([0x30]));
    assert_eq!(json["isd_r"]["scp03_i"], "70");
    assert_eq!(
        json["registry"][0]["aid"],
        "A0000005591010FFFFFFFF8900000100"
    );
    assert_eq!(json["registry"][0]["privileges"], "80FE80");
    assert_eq!(json["registry"].as_array().unwrap().len(), 3);

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

#[test]
fn keys_export_and_show_never_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let eid = "89044011112233441122334411223321";
    let out = run(&[
        "init",
        "--state",
        path(&state),
        "--eid",
        eid,
        "--keys",
        "default",
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = run(&["keys", "--state", path(&state), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let key = "404142434445464748494A4B4C4D4E4F";
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "{{\"version\":1,\"keysets\":[{{\"name\":\"emulator\",\"eid\":\"{eid}\",\"kvn\":48,\"enc\":\"{key}\",\"mac\":\"{key}\",\"dek\":\"{key}\"}}]}}\n"
        )
    );
    let out = run(&["keys", "--state", path(&state)]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("KVN  30") && text.contains(key) && text.contains("504A77"),
        "{text}"
    );

    let keystore = dir.path().join("keystore.json");
    let out = run(&["keys", "--state", path(&state), "--out", path(&keystore)]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&keystore).unwrap()).unwrap();
    assert_eq!(doc["keysets"][0]["dek"], key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keystore).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    for args in [vec!["show"], vec!["show", "--json"]] {
        let mut args = args;
        args.extend(["--state", path(&state)]);
        let out = run(&args);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(eid), "{text}");
        assert!(!text.contains(key), "{text}");
    }
    let out = run(&["show", "--state", path(&state)]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("A0000005591010FFFFFFFF8900000200 life cycle 0F"),
        "{text}"
    );
    assert!(text.contains("key versions 30 (i = 70"), "{text}");

    // Random keys by default: two cards, two key sets, neither the test key.
    let other = dir.path().join("other.json");
    assert!(run(&["init", "--state", path(&other)]).status.success());
    let out = run(&["keys", "--state", path(&other), "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(doc["keysets"][0]["enc"], key);
    assert_ne!(doc["keysets"][0]["enc"], doc["keysets"][0]["mac"]);
}

#[test]
fn version_1_state_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    let eid = "89044011112233441122334411223321";
    std::fs::write(&state, format!("{{\"version\": 1, \"eid\": \"{eid}\"}}")).unwrap();
    let first = run(&["keys", "--state", path(&state), "--json"]);
    assert!(first.status.success(), "{first:?}");
    let second = run(&["keys", "--state", path(&state), "--json"]);
    assert_eq!(first.stdout, second.stdout, "migrated once, keys kept");
    let out = run(&["show", "--state", path(&state), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["state_version"], 5);
    assert_eq!(json["eid"], eid);
}

#[test]
fn profile_add_is_the_test_installer() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    assert!(run(&["init", "--state", path(&state), "--keys", "default"])
        .status
        .success());
    let isdp = "A0000005591010FFFFFFFF8900001000";
    let out = run(&[
        "profile-add",
        "--state",
        path(&state),
        "--isdp",
        isdp,
        "--iccid",
        "8949449999999990023",
        "--fallback",
        "--pol1",
        "04",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{isdp} ICCID 8949449999999990023 DISABLED, fallback\n")
    );
    let out = run(&["show", "--state", path(&state), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = json["registry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["aid"] == isdp)
        .unwrap();
    assert_eq!(entry["life_cycle"], "1F");
    assert_eq!(entry["privileges"], "80C000");
    let profile = &entry["isd_p"]["profile"];
    assert_eq!(profile["iccid"], "8949449999999990023");
    assert_eq!(profile["fallback"], true);
    assert_eq!(profile["pol1"], "04");
    assert_eq!(json["notifications"][0]["type"], "01");
    let out = run(&["show", "--state", path(&state)]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("profile ICCID 8949449999999990023 POL1 04 fallback"),
        "{text}"
    );
    // The ISD-P holds a profile already: refused, exit code 5.
    let again = run(&[
        "profile-add",
        "--state",
        path(&state),
        "--isdp",
        isdp,
        "--iccid",
        "8949449999999990031",
    ]);
    assert_eq!(again.status.code(), Some(5), "{again:?}");
    assert!(String::from_utf8(again.stderr).unwrap().contains("1F"));
    // Not an ISD-P AID: exit code 2.
    let bad = run(&[
        "profile-add",
        "--state",
        path(&state),
        "--isdp",
        "A0000005591010FFFFFFFF8900000200",
        "--iccid",
        "8949449999999990031",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8(bad.stderr).unwrap().contains("--isdp"));
    // The help names it.
    let help = run(&["--help"]);
    assert!(String::from_utf8(help.stdout)
        .unwrap()
        .contains("Test installer"));
}

#[test]
fn init_with_a_pki_plays_the_eum_and_writes_the_eis() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let issuers = smsr_proto::pki::Issuers::generate().unwrap();
    issuers.write_dir(&pki, false).unwrap();
    let state = dir.path().join("card.json");
    let eis = dir.path().join("eis.json");
    let eid = "89034011560010000000000000000121";
    let out = run(&[
        "init",
        "--state",
        path(&state),
        "--eid",
        eid,
        "--pki",
        path(&pki),
        "--eis-out",
        path(&eis),
    ]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&eis).unwrap()).unwrap();
    assert_eq!(v["eid"], eid);
    assert_eq!(v["isd_r"]["tar"], "000001");
    assert_eq!(v["isd_r"]["scp80"][0]["kvn"], 1);
    assert_eq!(v["isd_r"]["scp80"][0]["counter"], 0);
    let cert = smsr_proto::pki::Certificate::decode(
        &hex::decode(v["ecasd"]["certificate"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    smsr_proto::pki::test_pki::verify_ecasd_certificate(
        &cert,
        &issuers.eum.certificate,
        issuers.ci.public_key(),
    )
    .unwrap();
    assert_eq!(cert.body.subject_id, hex::decode(eid).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&eis).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the EIS holds keys");
    }
    let card = euicc_emulator::CardState::load(&state).unwrap();
    assert_eq!(card.ecasd_keys().unwrap().certificate, cert);
    let shown = run(&["show", "--state", path(&state), "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["isd_r"]["scp80_kvns"], serde_json::json!([1]));
    assert_eq!(shown["ecasd"]["certificate"], v["ecasd"]["certificate"]);
    let text = run(&["show", "--state", path(&state)]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("SCP80 key versions 01 (counter 0)"));
    assert_eq!(
        card.scp80_keysets()[0].kic.as_bytes(),
        hex::decode(v["isd_r"]["scp80"][0]["kic"].as_str().unwrap()).unwrap()
    );

    // --eis-out needs --pki; a directory that is no PKI is exit code 6.
    let other = dir.path().join("other.json");
    let out = run(&["init", "--state", path(&other), "--eis-out", path(&eis)]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["init", "--state", path(&other), "--pki", path(dir.path())]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert!(!other.exists());
}

/// `profile-add` with `--iccid` on the first ISD-P of `state`.
fn profile_add(state: &Path, isdp: &str) -> Output {
    run(&[
        "profile-add",
        "--state",
        path(state),
        "--isdp",
        isdp,
        "--iccid",
        "8949449999999990023",
    ])
}

/// stderr of a run refused because `pid` serves the card of `state`: exit code 3 and the
/// message naming the process and the fix.
fn assert_in_use(out: &Output, pid: u32, state: &Path) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "card in use: process {pid} serves the card state {}",
            state.display()
        )) && err.contains("stop that process, or use another state file"),
        "{err}"
    );
}

#[test]
fn a_served_card_is_not_changed_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card.json");
    assert!(run(&["init", "--state", path(&state)]).status.success());
    let before = std::fs::read(&state).unwrap();

    // This process serves the card: profile-add and init --force are refused, show reads it.
    let served = euicc_emulator::Emulator::open(&state).unwrap();
    let out = profile_add(&state, "A0000005591010FFFFFFFF8900001000");
    assert_in_use(&out, std::process::id(), &state);
    let out = run(&["init", "--state", path(&state), "--force"]);
    assert_in_use(&out, std::process::id(), &state);
    assert!(run(&["show", "--state", path(&state)]).status.success());
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "the card is unchanged"
    );
    drop(served);
    let out = profile_add(&state, "A0000005591010FFFFFFFF8900001000");
    assert!(out.status.success(), "{out:?}");

    // `run` holds the lock for its life, while it waits for vpcd too (here a closed port).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_euicc-emulator"))
        .args(["run", "--state", path(&state), "--vpcd"])
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("EUICC_STATE")
        .env_remove("EUICC_VPCD")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join("card.json.lock");
    let holder = server.id().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != holder {
        assert!(
            std::time::Instant::now() < deadline,
            "euicc-emulator run never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = profile_add(&state, "A0000005591010FFFFFFFF8900001100");
    assert_in_use(&out, server.id(), &state);
    server.kill().unwrap();
    server.wait().unwrap();
    let out = profile_add(&state, "A0000005591010FFFFFFFF8900001100");
    assert!(out.status.success(), "{out:?}");
}
