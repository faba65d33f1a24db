//! The EUM's output is the SM-SR's input: a card personalized by `euicc_emulator::eum` with a
//! PKI made by `smsr pki init` yields an EIS that `smsr eis register` accepts, and whose ECASD
//! certificate `smsr pki show` verifies up to the CI (ECASD ← EUM ← CI).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::path;
use euicc_emulator::{eum, CardState};
use smsr_proto::pki::dir::certificate_path;
use smsr_proto::pki::Issuers;
use std::path::Path;
use std::process::{Command, Output};

fn smsr(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsr"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("SMSR_TRACE")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn eis_of_the_emulator_registers_and_its_ecasd_certificate_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("smsr.db");
    let pki = tmp.path().join("pki");
    let out = smsr(&db, &["pki", "init", "--dir", path(&pki)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let issuers = Issuers::read_dir(&pki).unwrap();

    let mut card = CardState::generate(None).unwrap();
    eum::personalize(&mut card, &issuers).unwrap();
    let eis_path = tmp.path().join("eis.json");
    std::fs::write(&eis_path, eum::eis_json(&card, &issuers).as_bytes()).unwrap();

    // The SM-SR's reading of the file.
    let eis =
        smsr::sm_sr::eis::Eis::from_json(&std::fs::read_to_string(&eis_path).unwrap()).unwrap();
    assert_eq!(eis.eid_bytes(), card.eid());
    assert_eq!(eis.isd_r_tar(), [0x00, 0x00, 0x01]);
    assert_eq!(eis.isd_r.scp80.len(), 1);
    assert_eq!(eis.isd_r.scp80[0].kvn, 1);
    assert_eq!(eis.isd_r.scp03[0].kvn, 0x30);
    assert_eq!(
        eis.isd_r.scp03[0].enc.bytes().unwrap().as_slice(),
        card.scp03().keysets()[0].keys.enc().as_bytes()
    );
    let out = smsr(&db, &["eis", "register", path(&eis_path)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = smsr(&db, &["eis", "list", "--json"]);
    assert!(
        text(&listed.stdout).contains(&eis.eid),
        "{}",
        text(&listed.stdout)
    );

    // The ECASD certificate from the EIS: signed by the EUM, whose certificate the CI signed.
    let ecasd_file = tmp.path().join("ecasd.der");
    let eum_file = tmp.path().join("eum-from-eis.der");
    std::fs::write(
        &ecasd_file,
        hex::decode(eis.ecasd.certificate.as_deref().unwrap()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        &eum_file,
        hex::decode(eis.eum_certificate.as_deref().unwrap()).unwrap(),
    )
    .unwrap();
    let ecasd = smsr(
        &db,
        &[
            "pki",
            "show",
            path(&ecasd_file),
            "--issuer",
            path(&eum_file),
            "--json",
        ],
    );
    assert!(ecasd.status.success(), "{}", text(&ecasd.stdout));
    let v: serde_json::Value = serde_json::from_slice(&ecasd.stdout).unwrap();
    assert_eq!(v["key_usage"], "0080");
    assert_eq!(v["subject_id"], eis.eid);
    assert_eq!(v["issuer"]["verified"], true);
    let ci = certificate_path(&pki, "ci");
    let eum = smsr(
        &db,
        &["pki", "show", path(&eum_file), "--issuer", path(&ci)],
    );
    assert!(eum.status.success(), "{}", text(&eum.stdout));
    // Not signed by the CI directly.
    let direct = smsr(
        &db,
        &["pki", "show", path(&ecasd_file), "--issuer", path(&ci)],
    );
    assert_eq!(direct.status.code(), Some(1));
}
