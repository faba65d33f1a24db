//! The services as processes (`smsr serve`), driven by the command-line clients (`smsr eum
//! register`, `smsr stock add`, `smsr mno …`) over loopback with mutual TLS; refusals and exit
//! codes as a user sees them; a graceful stop on SIGTERM.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::services::{fleet, pki, profile};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

fn smsr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(args)
        .env_remove("SMSR_DB")
        .output()
        .unwrap()
}

/// A service process and the URL it printed.
struct Service {
    child: Child,
    url: String,
}

impl Service {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smsr"))
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("smsr {args:?} printed {line:?}: {e}"));
        Self {
            child,
            url: v["url"].as_str().unwrap().to_owned(),
        }
    }

    /// SIGTERM, then the exit status and what it wrote on stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err).unwrap();
        }
        (status, err)
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

fn identity<'a>(pki: &'a Path, name: &str, out: &'a mut Vec<String>) -> Vec<&'a str> {
    out.clear();
    out.push("--cert".into());
    out.push(p(&pki.join(format!("{name}.tls.crt.pem"))).to_owned());
    out.push("--key".into());
    out.push(p(&pki.join(format!("{name}.tls.key.pem"))).to_owned());
    let _ = pki;
    out.iter().map(String::as_str).collect()
}

#[test]
fn services_as_processes_download_a_profile_ordered_by_the_mno() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pki = pki(dir);
    let cards = fleet(dir, &pki, 1);
    let (eid, eis) = &cards[0];
    let (sr_db, dp_db) = (dir.join("sr.db"), dir.join("dp.db"));
    let sr = Service::start(&[
        "--db",
        p(&sr_db),
        "serve",
        "sm-sr",
        "--pki",
        p(&pki),
        "--fleet",
        p(&dir.join("fleet")),
        "--no-pcsc",
        "--es5",
        "scp80",
    ]);
    let dp = Service::start(&[
        "--db",
        p(&dp_db),
        "serve",
        "sm-dp",
        "--pki",
        p(&pki),
        "--sm-sr",
        &sr.url,
    ]);
    let mut buf = Vec::new();

    // The EUM registers the card with the SM-SR (ES1).
    let mut args = vec!["--json", "eum", "register", p(eis), "--sm-sr", &sr.url];
    args.extend(identity(&pki, "eum", &mut buf));
    let out = smsr(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The wrong role: the MNO's certificate for ES1 → exit 1, reason 1.1.
    let mut args = vec!["eum", "register", p(eis), "--sm-sr", &sr.url];
    args.extend(identity(&pki, "mno", &mut buf));
    let out = smsr(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reason 1.1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The SM-DP's stock, then the order through ES2, waited for, with the step table.
    let (package, _) = profile(dir, "89882800000000000061", "001010000000061");
    let out = smsr(&["--db", p(&dp_db), "stock", "add", p(&package)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut args = vec![
        "--json",
        "mno",
        "download-profile",
        "--sm-dp",
        &dp.url,
        "--eid",
        eid,
        "--iccid",
        "89882800000000000061",
        "--enable",
    ];
    args.extend(identity(&pki, "mno", &mut buf));
    let out = smsr(&args);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["header"]["functionExecutionStatus"]["status"],
        "Executed-Success"
    );
    assert_eq!(v["steps"].as_array().unwrap().len(), 6, "{v:#}");

    // ES4 audit by the MNO shows it enabled.
    let mut args = vec!["--json", "mno", "audit", "--sm-sr", &sr.url, "--eid", eid];
    args.extend(identity(&pki, "mno", &mut buf));
    let out = smsr(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["isdPs"][0]["iccid"], "89882800000000000061", "{v:#}");
    assert_eq!(v["isdPs"][0]["state"], "enabled", "{v:#}");

    // The same order again: the stock gave it already (3.3), exit 1.
    let mut args = vec![
        "mno",
        "download-profile",
        "--sm-dp",
        &dp.url,
        "--eid",
        eid,
        "--iccid",
        "89882800000000000061",
    ];
    args.extend(identity(&pki, "mno", &mut buf));
    let out = smsr(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reason 3.3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // --no-wait prints the operation; the stock list shows the profile downloaded.
    let out = smsr(&["--db", p(&dp_db), "--json", "stock", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profiles"][0]["state"], "downloaded", "{v:#}");

    // doctor's component table: both services up, the card the SM-SR reaches. Its card
    // checks look at the fleet's card (held by the SM-SR: in use), not at PC/SC readers, which
    // this test leaves alone; only the components are looked at.
    let card = dir.join("fleet/card-0.json");
    let mut args = vec![
        "--json",
        "--transport",
        "emulator",
        "--emulator-state",
        p(&card),
        "doctor",
        "--sm-dp",
        &dp.url,
        "--sm-sr",
        &sr.url,
    ];
    args.extend(identity(&pki, "mno", &mut buf));
    let out = smsr(&args);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = v["components"].as_array().unwrap();
    assert_eq!(c.len(), 2, "{v:#}");
    assert!(
        c.iter()
            .all(|c| c["verdict"] == "ok" && c["tls_ms"].as_f64().is_some()),
        "{v:#}"
    );
    assert_eq!(c[1]["cards"][0]["eid"], eid.as_str(), "{v:#}");

    // SIGTERM: both stop cleanly, exit 0.
    let (status, err) = dp.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains("sm-dp stopped"), "{err}");
    let (status, err) = sr.stop();
    assert!(status.success(), "{err}");

    // A service that is down: exit 7 with the fix.
    let mut args = vec![
        "mno",
        "audit",
        "--sm-sr",
        "https://127.0.0.1:9",
        "--eid",
        eid,
    ];
    args.extend(identity(&pki, "mno", &mut buf));
    let out = smsr(&args);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the service running"));
}

/// curl (OpenSSL's TLS, not ours) as the MNO and the EUM: the binding works from any HTTPS
/// client with the certificates, and a client without one is refused in the handshake.
#[test]
fn curl_speaks_to_the_sm_sr_with_a_client_certificate() {
    if Command::new("curl").arg("--version").output().is_err() {
        println!("skipped: curl is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pki = pki(dir);
    let cards = fleet(dir, &pki, 1);
    let (eid, eis) = &cards[0];
    let sr = Service::start(&[
        "--db",
        p(&dir.join("sr.db")),
        "serve",
        "sm-sr",
        "--pki",
        p(&pki),
        "--fleet",
        p(&dir.join("fleet")),
        "--no-pcsc",
    ]);
    let curl = |name: Option<&str>, path: &str, body: &str| -> (bool, String) {
        let mut c = Command::new("curl");
        c.args(["-sS", "--max-time", "30", "--cacert"])
            .arg(pki.join("tls-ca.crt.pem"));
        if let Some(n) = name {
            c.arg("--cert")
                .arg(pki.join(format!("{n}.tls.crt.pem")))
                .arg("--key")
                .arg(pki.join(format!("{n}.tls.key.pem")));
        }
        let out = c
            .args(["-H", "Content-Type: application/json", "-d", body])
            .arg(format!("{}{path}", sr.url))
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let header = |who: &str, call: &str| {
        format!(
            r#""header":{{"functionRequesterIdentifier":"{who}","functionCallIdentifier":"{call}"}}"#
        )
    };
    let eis_doc = std::fs::read_to_string(eis).unwrap();
    let (ok, out) = curl(
        Some("eum"),
        "/es1/RegisterEIS",
        &format!("{{{},\"eis\":{eis_doc}}}", header("eum", "c-1")),
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["header"]["functionExecutionStatus"]["status"], "Executed-Success",
        "{v:#}"
    );
    let (ok, out) = curl(
        Some("mno"),
        "/es4/GetEIS",
        &format!(r#"{{{},"eid":"{eid}"}}"#, header("mno", "c-2")),
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["eis"]["eid"], eid.as_str(), "{v:#}");
    for key in ["\"kic\"", "\"kid\"", "\"enc\"", "\"mac\"", "\"dek\""] {
        assert!(
            !out.contains(key),
            "GetEIS leaves the ISD-R keys out: {out}"
        );
    }
    // No client certificate: the TLS layer refuses (curl reports the alert).
    let (ok, out) = curl(
        None,
        "/es4/GetEIS",
        &format!(r#"{{{},"eid":"{eid}"}}"#, header("mno", "c-3")),
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("alert") || out.contains("certificate"),
        "{out}"
    );
}
