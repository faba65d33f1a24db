//! `smsr pki init`, `smsr pki issue` and `smsr pki show`: the PKI directory written (the SGP.02
//! files and the TLS files), refused when present, its certificates decoded and their chain
//! verified; a certificate checked against the wrong issuer fails with exit code 1; TLS leaves
//! issued, read back, refused when present.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{path, with_json};
use smsr::tls::{describe_certificate, pki_paths, Role, TlsFiles};
use smsr_proto::pki::dir::{certificate_path, key_path, PARTIES};
use smsr_proto::pki::{Certificate, Issuers, KeyUsage};
use std::process::{Command, Output};

fn smsr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(args)
        .env_remove("SMSR_TRACE")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_writes_a_pki_that_reads_back_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let out = smsr(&["pki", "init", "--dir", path(&dir)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for stem in PARTIES {
        assert!(certificate_path(&dir, stem).is_file(), "{stem}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(&dir, stem))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{stem} key readable by others");
        }
    }
    let issuers = Issuers::read_dir(&dir).unwrap();
    assert_eq!(
        issuers.sm_dp.certificate.body.subject_id,
        b"TEST-SM-DP".to_vec()
    );
    let before = std::fs::read(certificate_path(&dir, "ci")).unwrap();
    let again = smsr(&["pki", "init", "--dir", path(&dir)]);
    assert_eq!(again.status.code(), Some(5), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read(certificate_path(&dir, "ci")).unwrap(), before);
    let forced = smsr(&["pki", "init", "--dir", path(&dir), "--force"]);
    assert!(forced.status.success());
    assert_ne!(std::fs::read(certificate_path(&dir, "ci")).unwrap(), before);
}

#[test]
fn show_decodes_and_verifies_against_the_issuer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    assert!(smsr(&["pki", "init", "--dir", path(&dir)]).status.success());
    let dp = certificate_path(&dir, "sm-dp");
    let ci = certificate_path(&dir, "ci");
    let eum = certificate_path(&dir, "eum");
    let out = smsr(&["pki", "show", path(&dp), "--issuer", path(&ci), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cert = Certificate::decode(&std::fs::read(&dp).unwrap()).unwrap();
    assert_eq!(v["subject_id"], hex::encode_upper(b"TEST-SM-DP"));
    assert_eq!(v["ca_id"], hex::encode_upper(b"TEST-CI"));
    assert_eq!(v["key_usage"], "0082");
    assert_eq!(v["entity"], "SM-DP");
    assert_eq!(v["discretionary"], "C80101");
    assert_eq!(v["expiry"], "2055-01-01");
    assert_eq!(
        v["public_key"],
        hex::encode_upper(cert.public_key().to_uncompressed())
    );
    assert_eq!(v["issuer"]["verified"], true);
    assert!(cert.body.key_usage == KeyUsage::SIGNATURE_VERIFICATION);

    // Signed by the CI, not by the EUM: exit 1, and the JSON says why.
    let wrong = smsr(&["pki", "show", path(&dp), "--issuer", path(&eum), "--json"]);
    assert_eq!(wrong.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&wrong.stdout).unwrap();
    assert_eq!(v["issuer"]["verified"], false);

    // Text form, no issuer.
    let plain = smsr(&["pki", "show", path(&dp)]);
    assert!(plain.status.success());
    assert!(text(&plain.stdout).contains("\"TEST-SM-DP\""));

    // A flipped signature bit fails against the right issuer.
    let mut bytes = std::fs::read(&dp).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = tmp.path().join("tampered.der");
    std::fs::write(&tampered, bytes).unwrap();
    let bad = smsr(&["pki", "show", path(&tampered), "--issuer", path(&ci)]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stdout));

    // Not a certificate: bad input.
    let junk = tmp.path().join("junk.der");
    std::fs::write(&junk, [0x7F, 0x21, 0x01, 0x00]).unwrap();
    assert_eq!(smsr(&["pki", "show", path(&junk)]).status.code(), Some(5));
}

#[cfg(unix)]
fn assert_private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{} readable by others", path.display());
}

#[cfg(not(unix))]
fn assert_private(_: &std::path::Path) {}

#[test]
fn init_also_writes_the_tls_pki_and_lists_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let out = smsr(&["pki", "init", "--dir", path(&dir), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 18, "{listed:?}");
    for file in pki_paths(&dir) {
        assert!(file.is_file(), "{}", file.display());
        assert!(
            listed.contains(&path(&file)),
            "{} not listed",
            file.display()
        );
        if path(&file).ends_with(".key.pem") {
            assert_private(&file);
        }
    }
    for role in Role::ALL {
        let summary = describe_certificate(&TlsFiles::in_dir(&dir, role.as_str()).cert).unwrap();
        assert_eq!(summary.role, Some(role));
        assert_eq!(summary.name, role.as_str());
    }

    // Only the TLS files left: still refused, and the SGP.02 files are not written.
    for stem in PARTIES {
        std::fs::remove_file(certificate_path(&dir, stem)).unwrap();
        std::fs::remove_file(key_path(&dir, stem)).unwrap();
    }
    let again = smsr(&["pki", "init", "--dir", path(&dir)]);
    assert_eq!(again.status.code(), Some(5), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("tls-ca.crt.pem"));
    assert!(text(&again.stderr).contains("--force"));
    assert!(!certificate_path(&dir, "ci").exists());
    let ca = dir.join("tls-ca.crt.pem");
    let before = std::fs::read(&ca).unwrap();
    let forced = smsr(&["pki", "init", "--dir", path(&dir), "--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(text(&forced.stdout).contains("mno.tls.crt.pem"));
    assert!(certificate_path(&dir, "ci").is_file());
    assert_ne!(std::fs::read(&ca).unwrap(), before);
}

#[test]
fn issue_adds_a_tls_leaf_and_refuses_to_replace_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    assert!(smsr(&["pki", "init", "--dir", path(&dir)]).status.success());
    let args = [
        "pki",
        "issue",
        "--dir",
        path(&dir),
        "--role",
        "mno",
        "--name",
        "acme-mobile",
    ];
    let out = smsr(&with_json(&args));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = TlsFiles::in_dir(&dir, "acme-mobile");
    assert_eq!(v["cert"], path(&files.cert));
    assert_eq!(v["key"], path(&files.key));
    assert_eq!(v["role"], "mno");
    assert_eq!(v["name"], "acme-mobile");
    assert_private(&files.key);
    let summary = describe_certificate(&files.cert).unwrap();
    assert_eq!(summary.role, Some(Role::Mno));
    assert_eq!(summary.name, "acme-mobile");
    assert_eq!(
        summary.issuer,
        describe_certificate(&files.ca).unwrap().name
    );

    let again = smsr(&args);
    assert_eq!(again.status.code(), Some(5), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("--force"));
    let forced: Vec<&str> = args.iter().copied().chain(["--force"]).collect();
    let out = smsr(&forced);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{}\n{}\n", path(&files.cert), path(&files.key))
    );

    // Not a role: the command line is wrong. Not a file name, no CA: bad input.
    let role = smsr(&[
        "pki",
        "issue",
        "--dir",
        path(&dir),
        "--role",
        "ci",
        "--name",
        "x",
    ]);
    assert_eq!(role.status.code(), Some(2));
    assert!(text(&role.stderr).contains("sm-dp, sm-sr, mno, eum"));
    let name = smsr(&[
        "pki",
        "issue",
        "--dir",
        path(&dir),
        "--role",
        "eum",
        "--name",
        "a/b",
    ]);
    assert_eq!(name.status.code(), Some(5));
    let empty = tmp.path().join("empty");
    let no_ca = smsr(&[
        "pki",
        "issue",
        "--dir",
        path(&empty),
        "--role",
        "eum",
        "--name",
        "x",
    ]);
    assert_eq!(no_ca.status.code(), Some(5));
    assert!(text(&no_ca.stderr).contains("smsr pki init"));
}

/// A private key others can read is not used: the SM-DP's ES8 key (provision) and a TLS key
/// (a service) are refused with the fix, exit 5.
#[cfg(unix)]
#[test]
fn private_keys_others_can_read_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smsr"))
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["pki", "init", "--dir", pki.to_str().unwrap()])
        .status
        .success());
    let db = dir.path().join("x.db");
    let db = db.to_str().unwrap();
    for (key, args) in [
        (
            pki.join("sm-dp.key.pem"),
            vec![
                "--db",
                db,
                "provision",
                "--eid",
                "89001999000010000000000000000022",
                "--pki",
            ],
        ),
        (
            pki.join("sm-sr.tls.key.pem"),
            vec![
                "--db",
                db,
                "serve",
                "sm-sr",
                "--no-pcsc",
                "--listen",
                "127.0.0.1:0",
                "--pki",
            ],
        ),
    ] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut all: Vec<&str> = args;
        all.push(pki.to_str().unwrap());
        if all.contains(&"provision") {
            all.extend([
                "--iccid",
                "89882800000000000011",
                "--imsi",
                "001010000000011",
                "--ki",
                "000102030405060708090A0B0C0D0E0F",
                "--opc",
                "00112233445566778899AABBCCDDEEFF",
            ]);
        }
        let out = run(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{all:?}: {err}");
        assert!(
            err.contains("chmod 600") && err.contains(key.to_str().unwrap()),
            "{err}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
