//! `smsr fleet init`: cards made in a directory the SM-SR serves, their EISs registered
//! through ES1 at the in-process SM-SR or straight into a registry file.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::services::{pki, status, Services};
use serde_json::json;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_init_registers_through_es1_or_into_the_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let fleet = tmp.path().join("fleet");
    std::fs::create_dir_all(&fleet).unwrap();
    let s = Services::start(tmp.path(), &pki, Some(fleet.clone()), false).await;
    let (sr_url, pki2, fleet2) = (s.sr_url.clone(), pki.clone(), fleet.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_smsr"))
            .args([
                "--json", "fleet", "init", "--count", "3", "--sm-sr", &sr_url,
            ])
            .arg("--dir")
            .arg(&fleet2)
            .arg("--pki")
            .arg(&pki2)
            .arg("--cert")
            .arg(pki2.join("eum.tls.crt.pem"))
            .arg("--key")
            .arg(pki2.join("eum.tls.key.pem"))
            .env_remove("SMSR_DB")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let eids: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(eids.len(), 3);
    for (i, eid) in eids.iter().enumerate() {
        assert!(fleet.join(format!("card-{i:04}.json")).is_file());
        // Registered, and a card the SM-SR reaches: its EIS comes back through ES4.
        let a = s
            .call("mno", &s.sr_url, "/es4/GetEIS", json!({"eid": eid}))
            .await;
        assert_eq!(status(&a), "Executed-Success", "{a:#}");
    }
    s.stop().await;

    // Straight into a registry file; numbering goes on after the cards already there.
    let db = tmp.path().join("other.db");
    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .arg("--db")
        .arg(&db)
        .args(["fleet", "init", "--count", "2", "--jobs", "2"])
        .arg("--dir")
        .arg(&fleet)
        .arg("--pki")
        .arg(&pki)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("card-0003.json") && text.contains("card-0004.json"),
        "{text}"
    );
    let registry = smsr::sm_sr::registry::Registry::open(&db).unwrap();
    assert_eq!(registry.list().unwrap().len(), 2);
    // Neither an SM-SR nor a registry: refused.
    let out = Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(["fleet", "init", "--count", "1"])
        .arg("--dir")
        .arg(&fleet)
        .arg("--pki")
        .arg(&pki)
        .env_remove("SMSR_DB")
        .env_remove("SMSR_SM_SR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
}
