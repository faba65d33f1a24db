//! Two SM-SR instances (`smsr serve sm-sr` processes) on one PostgreSQL registry and one fleet
//! of emulator cards, each behind an SM-DP process of its own, the two SM-DPs sharing one
//! PostgreSQL stock. Every card is ordered a profile at once, half through each SM-DP; one
//! SM-SR is killed (SIGKILL) while the downloads run. Then, through the surviving instance:
//! `AuditEIS` of every card, and the failed orders ordered again. In the end every card holds
//! its profile exactly once, nothing is pending, and no card ever accepted an SCP80 counter
//! the registry did not hand out (the card refuses one it has seen, so a value handed out
//! twice would have failed an operation; the card's last counter is at most the registry's).
//!
//! PostgreSQL only: `SMSR_TEST_POSTGRES` names a scratch database (a database of its own is
//! created there for the run); skipped visibly otherwise, a failure when
//! `SMSR_REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::services::{fleet, pki, profile, status};
use serde_json::{json, Value};
use smsr::service::client::Client;
use smsr::service::envelope::RequestHeader;
use smsr::sm_sr::registry::Registry;
use smsr::tls::{self, TlsFiles};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CARDS: usize = 24;

/// A service process and the URL it printed.
struct Service {
    child: Child,
    url: String,
}

impl Service {
    fn start(db: &str, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smsr"))
            .args(["--db", db])
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("smsr {args:?} printed {line:?}: {e}"));
        Self {
            child,
            url: v["url"].as_str().unwrap().to_owned(),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A database of its own on the scratch server, for this run; its URL.
fn own_database(url: &str) -> String {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut nonce = [0u8; 6];
    getrandom::getrandom(&mut nonce).unwrap();
    let name = format!("smsr_multi_{}", hex::encode(nonce));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

static CALLS: AtomicU64 = AtomicU64::new(0);

async fn call(pki: &Path, who: &str, url: &str, function: &str, fields: Value) -> Value {
    let client = Client::new(
        url,
        tls::client_config(&TlsFiles::in_dir(pki, who)).unwrap(),
    )
    .unwrap();
    let header = RequestHeader {
        function_requester_identifier: who.into(),
        function_call_identifier: format!("m-{}", CALLS.fetch_add(1, Ordering::Relaxed)),
        validity_period: Some(120),
        reply_to: None,
    };
    match client.call(function, &header, fields, true).await {
        Ok(v) => v,
        Err(e) => json!({"error": e.to_string()}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sm_sr_instances_share_one_registry_and_survive_one_killed() {
    let url = match std::env::var("SMSR_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(
                std::env::var("SMSR_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "SMSR_REQUIRE_POSTGRES=1 but SMSR_TEST_POSTGRES is not set"
            );
            eprintln!("skipped: SMSR_TEST_POSTGRES not set");
            return;
        }
    };
    let db = tokio::task::spawn_blocking(move || own_database(&url))
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let pki = pki(&dir);
    let cards = fleet(&dir, &pki, CARDS);
    let fleet_dir = dir.join("fleet");
    let sr_args = |pki: &PathBuf| -> Vec<String> {
        [
            "serve",
            "sm-sr",
            "--pki",
            p(pki),
            "--fleet",
            p(&fleet_dir),
            "--no-pcsc",
            "--es5",
            "scp80",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let args = sr_args(&pki);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut sr_a = Service::start(&db, &args);
    let sr_b = Service::start(&db, &args);
    let dp_a = Service::start(
        &db,
        &["serve", "sm-dp", "--pki", p(&pki), "--sm-sr", &sr_a.url],
    );
    let dp_b = Service::start(
        &db,
        &["serve", "sm-dp", "--pki", p(&pki), "--sm-sr", &sr_b.url],
    );

    // The EUM registers every card (through either instance: one registry).
    let mut iccids = Vec::new();
    let mut packages = Vec::new();
    for (i, (_, eis)) in cards.iter().enumerate() {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(eis).unwrap()).unwrap();
        let to = if i % 2 == 0 { &sr_a.url } else { &sr_b.url };
        let a = call(&pki, "eum", to, "/es1/RegisterEIS", json!({"eis": doc})).await;
        assert_eq!(status(&a), "Executed-Success", "{a:#}");
        let iccid = format!("89882800000000{i:05}1");
        let (_, der) = profile(&dir, &iccid, &format!("0010100000{i:05}"));
        packages.push((iccid.clone(), der));
        iccids.push(iccid);
    }
    // The stores are blocking: used off the async runtime, as the services do.
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut stock = smsr::sm_dp::stock::Stock::open(Path::new(&db2)).unwrap();
        for (iccid, der) in packages {
            stock.add(&iccid, &der).unwrap();
        }
    })
    .await
    .unwrap();

    // Every card ordered at once, alternately through each SM-DP; SM-SR A killed meanwhile.
    let started = Instant::now();
    let orders: Vec<_> = cards
        .iter()
        .zip(&iccids)
        .enumerate()
        .map(|(i, ((eid, _), iccid))| {
            let (pki, eid, iccid) = (pki.clone(), eid.clone(), iccid.clone());
            let dp = if i % 2 == 0 {
                dp_a.url.clone()
            } else {
                dp_b.url.clone()
            };
            tokio::spawn(async move {
                let a = call(
                    &pki,
                    "mno",
                    &dp,
                    "/es2/DownloadProfile",
                    json!({"eid": eid, "iccid": iccid, "enableProfile": false}),
                )
                .await;
                (i, status(&a) == "Executed-Success", a)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed_at = started.elapsed();
    sr_a.child.kill().unwrap();
    sr_a.child.wait().unwrap();
    let mut failed = Vec::new();
    let mut succeeded = 0;
    // The card refuses a counter it has seen ("…has seen a higher counter"): no answer says so.
    let replayed = |a: &Value| a.to_string().contains("higher counter");
    for o in orders {
        let (i, ok, answer) = o.await.unwrap();
        assert!(!replayed(&answer), "card {i}: {answer:#}");
        if ok {
            succeeded += 1;
        } else {
            failed.push((i, answer));
        }
    }
    eprintln!(
        "{CARDS} cards: SM-SR A killed after {killed_at:?}; {succeeded} downloads succeeded, {} failed",
        failed.len()
    );

    // Through the surviving instance: an audit of every card (settling what A left pending,
    // once A's leases expired), then the failed orders again through the SM-DP in front of it.
    let mut settled = 0;
    for (eid, _) in &cards {
        let a = call(&pki, "mno", &sr_b.url, "/es4/AuditEIS", json!({"eid": eid})).await;
        assert_eq!(status(&a), "Executed-Success", "{eid}: {a:#}");
        if a["changes"].as_array().is_some_and(|c| !c.is_empty()) {
            settled += 1;
        }
    }
    let audited_at = started.elapsed();
    let (mut again, mut on_card) = (0, 0);
    for (i, first) in &failed {
        let a = call(
            &pki,
            "mno",
            &dp_b.url,
            "/es2/DownloadProfile",
            json!({"eid": cards[*i].0, "iccid": iccids[*i], "enableProfile": false}),
        )
        .await;
        // A profile that reached the card before A died is refused as on the card already.
        assert!(
            status(&a) == "Executed-Success" || a.to_string().contains("3.3"),
            "card {i}: first {first:#}\nretry {a:#}"
        );
        assert!(!replayed(&a), "card {i}: {a:#}");
        if status(&a) == "Executed-Success" {
            again += 1;
        } else {
            on_card += 1;
        }
    }
    eprintln!(
        "audits through SM-SR B done after {audited_at:?}: {settled} cards had changes to \
         settle; retried {}: {again} downloaded, {on_card} refused as on the card already",
        failed.len()
    );

    // Every card holds its profile exactly once, nothing pending; no counter beyond the
    // registry's.
    let db2 = db.clone();
    let fleet_files = fleet_dir.clone();
    let checks = tokio::task::spawn_blocking(move || {
        let registry = Registry::open(Path::new(&db2)).unwrap();
        let mut checked = 0;
        for entry in std::fs::read_dir(&fleet_files).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let state = euicc_emulator::CardState::load(&path).unwrap();
            let eid: smsr_proto::gp::get_data::Eid =
                hex::encode_upper(state.eid()).parse().unwrap();
            for k in state.scp80_keysets() {
                let reserved = registry.counter(&eid, k.kvn).unwrap();
                assert!(
                    k.counter <= reserved,
                    "{eid}: the card accepted counter {} on key set {}, the registry handed out up to {reserved}",
                    k.counter,
                    k.kvn
                );
            }
            checked += 1;
        }
        checked
    })
    .await
    .unwrap();
    assert_eq!(checks, CARDS);
    // The stock agrees: every profile downloaded, to its card.
    let db2 = db.clone();
    let stock = tokio::task::spawn_blocking(move || {
        smsr::sm_dp::stock::Stock::open(Path::new(&db2))
            .unwrap()
            .list()
            .unwrap()
    })
    .await
    .unwrap();
    for ((eid, _), iccid) in cards.iter().zip(&iccids) {
        let item = stock.iter().find(|i| i.iccid == *iccid).unwrap();
        assert_eq!(
            (item.state.as_str(), item.eid.as_deref()),
            ("downloaded", Some(eid.as_str())),
            "{iccid}"
        );
    }
    for ((eid, _), iccid) in cards.iter().zip(&iccids) {
        let a = call(&pki, "mno", &sr_b.url, "/es4/AuditEIS", json!({"eid": eid})).await;
        assert_eq!(status(&a), "Executed-Success", "{a:#}");
        let isdps = a["isdPs"].as_array().unwrap();
        let holding: Vec<&Value> = isdps
            .iter()
            .filter(|i| i["iccid"].as_str() == Some(iccid.as_str()))
            .collect();
        assert_eq!(holding.len(), 1, "{eid}: {a:#}");
        assert_eq!(isdps.len(), 1, "{eid}: {a:#}");
        assert!(
            ["disabled", "enabled", "personalized"]
                .contains(&holding[0]["state"].as_str().unwrap_or("")),
            "{eid}: {a:#}"
        );
    }
    drop((dp_a, dp_b, sr_b));
}
