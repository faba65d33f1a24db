//! `smsr-load` against both services in the test process (the harness of the smsr package's
//! own service tests), over a fleet of emulator cards: smoke and a short performance run meet
//! their thresholds; a run whose every download fails exits 1 and its report names the
//! operation and the status code; a stress report opens in headless Chromium with its charts.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../../../tests/common/services.rs"]
mod services;

use serde_json::Value;
use services::{fleet, pki, Services};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Services over a registered fleet of `n` cards.
async fn services(dir: &Path, n: usize) -> Services {
    let pki = pki(dir);
    let cards = fleet(dir, &pki, n);
    let s = Services::start(dir, &pki, Some(dir.join("fleet")), false).await;
    for (_, eis) in &cards {
        s.register(eis).await;
    }
    s
}

/// Runs `smsr-load` against `s` with `extra` options (off the runtime's threads).
async fn load(s: &Services, extra: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_smsr-load"));
    cmd.args(["--sm-dp", &s.dp_url, "--sm-sr", &s.sr_url, "--cert"])
        .arg(s.pki.join("mno.tls.crt.pem"))
        .arg("--key")
        .arg(s.pki.join("mno.tls.key.pem"))
        .arg("--fleet")
        .arg(s.dir.join("fleet"))
        .args(extra)
        .env_remove("SMSR_LOG");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn op<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_downloads_enables_and_checks_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    let s = services(tmp.path(), 1).await;
    let dir = tmp.path().join("report");
    let stock = s.dp_db.display().to_string();
    let out = load(
        &s,
        &[
            "--scenario",
            "smoke",
            "--stock-db",
            &stock,
            "--report",
            dir.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&dir);
    assert_eq!(r["verdict"]["passed"], true, "{r:#}");
    assert_eq!(op(&r, "es2.DownloadProfile")["ok"], 1);
    assert_eq!(op(&r, "es4.AuditEIS")["ok"], 1);
    let steps: Vec<&str> = r["steps"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, smsr_load::flows::DOWNLOAD_STEPS);
    // Both services are in the component table, the SM-SR with its card.
    assert_eq!(r["components"][1]["cards"], 1, "{r:#}");
    // goose timed the 202 and the polls under the function's name.
    let names: Vec<&str> = r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"POST es2.DownloadProfile")
            && names.contains(&"GET es2.DownloadProfile:result"),
        "{names:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_performance_run_meets_its_thresholds() {
    let tmp = tempfile::tempdir().unwrap();
    let s = services(tmp.path(), 20).await;
    let dir = tmp.path().join("report");
    let stock = s.dp_db.display().to_string();
    let out = load(
        &s,
        &[
            "--scenario",
            "performance",
            "--rate",
            "2",
            "--duration",
            "8",
            "--users",
            "8",
            "--stock-db",
            &stock,
            "--max-error-rate",
            "0",
            "--p99-ms",
            "8000",
            "--report",
            dir.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&dir);
    let d = op(&r, "es2.DownloadProfile");
    assert_eq!(d["errors"], 0, "{r:#}");
    assert!(d["ok"].as_u64().unwrap() >= 14, "{d:#}");
    assert!(d["p99CorrectedMs"].as_f64().unwrap() >= d["p50Ms"].as_f64().unwrap());
    assert!(r["steps"]["bottleneck"].is_string(), "{r:#}");
    assert_eq!(r["environment"]["fleetSize"], 20);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 3, "charts missing");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_of_profiles_not_in_stock_fail_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let s = services(tmp.path(), 3).await;
    let dir = tmp.path().join("report");
    let list = tmp.path().join("iccids.txt");
    let iccids: Vec<String> = (1..=6).map(smsr_load::setup::iccid).collect();
    std::fs::write(&list, iccids.join("\n")).unwrap();
    let out = load(
        &s,
        &[
            "--scenario",
            "performance",
            "--rate",
            "0",
            "--count",
            "6",
            "--users",
            "3",
            "--iccids",
            list.to_str().unwrap(),
            "--report",
            dir.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = report(&dir);
    assert_eq!(r["verdict"]["passed"], false);
    let f = &r["verdict"]["failures"][0];
    assert_eq!(f["operation"], "es2.DownloadProfile", "{r:#}");
    assert!(
        f["code"].as_str().unwrap().starts_with("Failed 8.2.1/"),
        "{f:#}"
    );
    assert_eq!(f["count"], 6);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(
        stdout.contains("failed: es2.DownloadProfile Failed 8.2.1/"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("FAILED: 6 × es2.DownloadProfile Failed 8.2.1/"));
    s.stop().await;
}

/// Chromium, if there is one.
fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stress_report_opens_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("SMSR_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "SMSR_REQUIRE_CHROMIUM=1 and no /usr/bin/chromium (scripts/install-deps.sh installs it)"
        );
        eprintln!("skipped: no chromium");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let s = services(tmp.path(), 10).await;
    let dir = tmp.path().join("report");
    let stock = s.dp_db.display().to_string();
    let out = load(
        &s,
        &[
            "--scenario",
            "stress",
            "--rate",
            "1",
            "--ramp",
            "2",
            "--duration",
            "3",
            "--max-stages",
            "3",
            "--users",
            "8",
            "--stock-db",
            &stock,
            "--report",
            dir.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    s.stop().await;
    let r = report(&dir);
    assert!(r["stages"].as_array().unwrap().len() >= 2, "{r:#}");
    let profile = tmp.path().join("chromium-profile");
    let page = format!("file://{}", dir.join("report.html").display());
    let out = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", &page])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("id=\"verdict\""), "{dom}");
    // Latency, timeline, steps per stage, stress ramp.
    assert!(dom.matches("<svg").count() >= 4, "{dom}");
    assert!(!dom.contains("chart not drawn"), "{dom}");
    assert!(dom.contains("per offered rate"), "{dom}");
    let shot = tmp.path().join("report.png");
    let out = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1000,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&page)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}
