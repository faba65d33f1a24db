//! `smsr pki init` and `smsr pki show`: the PKI directory written, refused when present, its
//! certificates decoded and their chain verified; a certificate checked against the wrong
//! issuer fails with exit code 1.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::path;
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
