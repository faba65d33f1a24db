//! `smsr profile inspect | build | personalize`: every TS.48 package from the shared test data
//! (`SMSR_SHARED`, default `../shared`), build → inspect and personalize → inspect round trips,
//! secrets redacted by default, and the exit code of bad input.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const K: &str = "000102030405060708090A0B0C0D0E0F";
const OPC: &str = "F0E0D0C0B0A090807060504030201000";

use common::{path, ts48};

fn smsr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(args)
        .env_remove("SMSR_TRACE")
        .env_remove("SMSR_READER")
        .env("SMSR_DB", "/nonexistent/dir/smsr.db")
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    common::success_json(args, &smsr(&common::with_json(args)))
}

/// Checks the PE table covers the file exactly, ends with `end`, and returns the report.
fn inspect(file: &Path, secrets: bool) -> Value {
    let mut args = vec!["profile", "inspect", path(file)];
    if secrets {
        args.push("--show-secrets");
    }
    let r = ok_json(&args);
    let size = r["size"].as_u64().unwrap();
    assert_eq!(size, std::fs::metadata(file).unwrap().len());
    let pes = r["pes"].as_array().unwrap();
    let mut at = 0;
    for pe in pes {
        assert_eq!(pe["offset"].as_u64().unwrap(), at);
        at += pe["length"].as_u64().unwrap();
    }
    assert_eq!(at, size);
    assert_eq!(pes[0]["kind"], "header");
    assert_eq!(pes.last().unwrap()["kind"], "end");
    r
}

#[test]
fn inspects_every_ts48_package() {
    let Some(files) = ts48() else { return };
    for f in files {
        let r = inspect(&f, false);
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let h = &r["header"];
        assert!(h["iccid"].as_str().unwrap().starts_with("89"), "{name}");
        assert!(h["version"].as_str().unwrap().starts_with("2."), "{name}");
        assert!(h["mandatory_services"]
            .as_array()
            .unwrap()
            .contains(&Value::from("usim")));
        assert_eq!(r["imsi"].as_str().unwrap().len(), 15, "{name}");
        let aka = r["aka"].as_array().unwrap();
        assert!(!aka.is_empty(), "{name}");
        for a in aka {
            assert_eq!(a["k"], "REDACTED");
            assert_eq!(a["opc"], "REDACTED");
        }
        assert!(r["pins"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["value"] == "REDACTED" || p["value"].is_null()));
        assert!(!r["puks"].as_array().unwrap().is_empty());
        assert!(
            !r["security_domains"].as_array().unwrap().is_empty(),
            "{name}"
        );
        assert!(r["file_count"].as_u64().unwrap() > 50, "{name}");
        // cdmaParameter is kept as bytes, with its offset.
        for u in r["undecoded"].as_array().unwrap() {
            let i = usize::try_from(u["index"].as_u64().unwrap()).unwrap();
            assert_eq!(u["offset"], r["pes"][i]["offset"]);
        }
        assert!(
            r["problems"].as_array().unwrap().is_empty(),
            "{name}: {}",
            r["problems"]
        );

        // With --show-secrets the keys appear, and without they appear nowhere in the output.
        let s = inspect(&f, true);
        let k = s["aka"][0]["k"].as_str().unwrap().to_string();
        assert_eq!(k.len(), 32);
        for args in [
            vec!["profile", "inspect", path(&f)],
            vec!["profile", "inspect", path(&f), "--json"],
        ] {
            let out = smsr(&args);
            assert!(out.status.success());
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                !text.contains(&k),
                "{name}: K printed without --show-secrets"
            );
            assert!(text.contains("REDACTED"));
        }
    }
}

#[test]
fn build_then_inspect() {
    let dir = tempfile::tempdir().unwrap();
    for (algo, name) in [("milenage", "milenage"), ("test", "usim-test-algorithm")] {
        let out = dir.path().join(format!("{algo}.der"));
        let w = ok_json(&[
            "profile",
            "build",
            "--iccid",
            "8949449999999990031",
            "--imsi",
            "001010000000031",
            "--ki",
            K,
            "--opc",
            OPC,
            "--algo",
            algo,
            "--out",
            path(&out),
        ]);
        assert_eq!(
            w["size"].as_u64().unwrap(),
            std::fs::metadata(&out).unwrap().len()
        );
        let r = inspect(&out, true);
        assert_eq!(r["header"]["iccid"], "8949449999999990031");
        assert_eq!(r["imsi"], "001010000000031");
        assert_eq!(r["aka"][0]["algorithm"], name);
        assert_eq!(r["aka"][0]["k"], K);
        assert_eq!(r["aka"][0]["opc"], OPC);
        assert!(
            r["problems"].as_array().unwrap().is_empty(),
            "{}",
            r["problems"]
        );
        assert!(r["undecoded"].as_array().unwrap().is_empty());
        assert_eq!(r["security_domains"].as_array().unwrap().len(), 1);
    }
}

fn personalize_and_check(input: &Path, out: &Path) {
    let before = inspect(input, false);
    ok_json(&[
        "profile",
        "personalize",
        path(input),
        "--out",
        path(out),
        "--iccid",
        "8949449999999990049",
        "--imsi",
        "001019876543210",
        "--ki",
        K,
        "--opc",
        OPC,
    ]);
    let after = inspect(out, true);
    assert_eq!(after["header"]["iccid"], "8949449999999990049");
    assert_eq!(after["imsi"], "001019876543210");
    for a in after["aka"].as_array().unwrap() {
        if a["algorithm"] != "mapping" {
            assert_eq!(a["k"], K);
            assert_eq!(a["opc"], OPC);
        }
    }
    assert_eq!(
        after["pes"].as_array().unwrap().len(),
        before["pes"].as_array().unwrap().len()
    );
    assert_eq!(after["aka"][0]["algorithm"], before["aka"][0]["algorithm"]);
    assert_eq!(after["problems"], before["problems"]);
}

#[test]
fn personalize_then_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("built.der");
    ok_json(&[
        "profile",
        "build",
        "--iccid",
        "8949449999999990031",
        "--imsi",
        "001010000000031",
        "--ki",
        OPC,
        "--opc",
        K,
        "--out",
        path(&built),
    ]);
    personalize_and_check(&built, &dir.path().join("built-p.der"));
    let Some(files) = ts48() else { return };
    for f in files {
        personalize_and_check(&f, &dir.path().join("p.der"));
    }
}

#[test]
fn bad_input_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.der");
    let garbage = dir.path().join("garbage.der");
    std::fs::write(&garbage, [0x30, 0x05, 0x01]).unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["profile", "inspect", "/nonexistent/file.der"],
        vec!["profile", "inspect", path(&garbage)],
        vec![
            "profile",
            "build",
            "--iccid",
            "8949449999999990031",
            "--imsi",
            "001010000000031",
            "--ki",
            "0011",
            "--opc",
            OPC,
            "--out",
            path(&out),
        ],
        vec![
            "profile",
            "build",
            "--iccid",
            "12AB",
            "--imsi",
            "001010000000031",
            "--ki",
            K,
            "--opc",
            OPC,
            "--out",
            path(&out),
        ],
        vec![
            "profile",
            "personalize",
            path(&garbage),
            "--out",
            path(&out),
            "--iccid",
            "8949449999999990031",
        ],
    ];
    for args in cases {
        let o = smsr(&args);
        assert_eq!(o.status.code(), Some(5), "{args:?}");
        assert!(!o.stderr.is_empty());
    }
    // --ki without --opc is a usage error.
    let o = smsr(&[
        "profile",
        "personalize",
        path(&garbage),
        "--out",
        path(&out),
        "--ki",
        K,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

/// A built or personalized package holds K and OPc: its file is the owner's alone (0600), also
/// when it replaces a file others could read.
#[cfg(unix)]
#[test]
fn packages_with_keys_are_written_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.der");
    std::fs::write(&out, b"old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let built = smsr(&[
        "profile",
        "build",
        "--iccid",
        "89882800000000000011",
        "--imsi",
        "001010000000011",
        "--ki",
        K,
        "--opc",
        OPC,
        "--out",
        path(&out),
    ]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o600);
    let again = dir.path().join("q.der");
    let personalized = smsr(&[
        "profile",
        "personalize",
        path(&out),
        "--iccid",
        "89882800000000000012",
        "--out",
        path(&again),
    ]);
    assert!(
        personalized.status.success(),
        "{}",
        String::from_utf8_lossy(&personalized.stderr)
    );
    assert_eq!(mode(&again), 0o600);
}
