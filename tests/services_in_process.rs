//! The SM-SR and SM-DP services in this process, on loopback with mutual TLS, over a fleet of
//! emulator cards: a download ordered through ES2 end to end, the refusals of the binding, a
//! repeated call, and many cards (and many operations on one card) at once.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::services::{codes, fleet, pki, profile, status, Services};
use serde_json::json;
use smsr::service::client::ClientError;
use std::sync::Arc;

const ICCID: &str = "89882800000000000011";
const IMSI: &str = "001010000000011";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_with_enable_then_audit_and_profile_check() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let cards = fleet(tmp.path(), &pki, 1);
    let (eid, eis) = &cards[0];
    let s = Services::start(tmp.path(), &pki, Some(tmp.path().join("fleet")), false).await;
    s.register(eis).await;
    let (package, der) = profile(tmp.path(), ICCID, IMSI);
    s.stock(&[&der]);

    let a = s.download(eid, ICCID, true).await;
    assert_eq!(status(&a), "Executed-Success", "{a:#}");
    let steps: Vec<&str> = a["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "get-eis",
            "create-isdp",
            "establish-keys",
            "download",
            "download-completed",
            "enable"
        ]
    );
    // The card exchanges the SM-SR counted reach the SM-DP's table.
    assert!(a["apdus"].as_u64().unwrap() > 10, "{a:#}");
    assert!(a["header"]["processingStart"].is_string());

    let isdps = s.audit(eid).await;
    assert_eq!(
        isdps,
        [(
            a["isdPAid"].as_str().unwrap().to_owned(),
            Some(ICCID.to_owned()),
            "enabled".to_owned()
        )]
    );
    // The stock gave the profile once.
    let stock = smsr::sm_dp::stock::Stock::open(&s.dp_db)
        .unwrap()
        .list()
        .unwrap();
    assert_eq!(
        (stock[0].state.as_str(), stock[0].eid.as_deref()),
        ("downloaded", Some(eid.as_str()))
    );
    s.stop().await;

    // The SM-SR let go of the card: `smsr profile check` authenticates with the profile's K/OPc.
    let state = tmp.path().join("fleet/card-0.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smsr"))
        .args(["--transport", "emulator", "--emulator-state"])
        .arg(&state)
        .args(["profile", "check", "--eid", eid, "--profile"])
        .arg(&package)
        // Its own registry: the default one in $HOME may belong to another smsr.
        .arg("--db")
        .arg(tmp.path().join("check.db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("AUTHENTICATE RES/CK/IK verified"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_the_binding() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let cards = fleet(tmp.path(), &pki, 1);
    let (eid, eis) = &cards[0];
    let s = Services::start(tmp.path(), &pki, Some(tmp.path().join("fleet")), false).await;
    s.register(eis).await;

    // A client without a certificate: refused in the handshake (seen at the request in TLS 1.3).
    let roots = {
        let mut r = rustls::RootCertStore::empty();
        let pem = std::fs::read(pki.join("tls-ca.crt.pem")).unwrap();
        for c in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
            r.add(c.unwrap()).unwrap();
        }
        r
    };
    let anonymous = Arc::new(
        rustls::ClientConfig::builder_with_provider(smsr::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let c = smsr::service::client::Client::new(&s.sr_url, anonymous).unwrap();
    let e = c
        .call("/es4/GetEIS", &s.header("mno"), json!({"eid": eid}), true)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");

    // A certificate from another CA: refused as well.
    let other = tempfile::tempdir().unwrap();
    smsr::tls::init_pki(other.path(), false).unwrap();
    let foreign_files = smsr::tls::TlsFiles {
        ca: pki.join("tls-ca.crt.pem"),
        cert: other.path().join("mno.tls.crt.pem"),
        key: other.path().join("mno.tls.key.pem"),
    };
    let foreign = smsr::service::client::Client::new(
        &s.sr_url,
        smsr::tls::client_config(&foreign_files).unwrap(),
    )
    .unwrap();
    let e = foreign
        .call("/es4/GetEIS", &s.header("mno"), json!({"eid": eid}), true)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");

    // The wrong role: an MNO calling ES3 gets 403 and 1.1.
    let e = s
        .client("mno", &s.sr_url)
        .call(
            "/es3/CreateISDP",
            &s.header("mno"),
            json!({"eid": eid, "iccid": ICCID}),
            true,
        )
        .await
        .unwrap_err();
    match e {
        ClientError::Http {
            status: 403, body, ..
        } => {
            assert_eq!(status_of(&body), "Failed");
            assert_eq!(codes(&body).1, "1.1");
        }
        e => panic!("expected 403, got {e}"),
    }
    // A requester identifier that is not the certificate's name: 403 too.
    let mut h = s.header("mno");
    h.function_requester_identifier = "someone-else".into();
    let e = s
        .client("mno", &s.sr_url)
        .call("/es4/GetEIS", &h, json!({"eid": eid}), true)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Http { status: 403, .. }), "{e}");

    // An unknown EID: 8.1.1 / 3.9, at the SM-SR and through the SM-DP.
    let unknown = "89049032000000000000000000001234";
    let a = s
        .call("mno", &s.sr_url, "/es4/AuditEIS", json!({"eid": unknown}))
        .await;
    assert_eq!(
        (status(&a), codes(&a)),
        ("Failed", ("8.1.1".into(), "3.9".into())),
        "{a:#}"
    );
    let a = s
        .call("mno", &s.dp_url, "/es2/GetEIS", json!({"eid": unknown}))
        .await;
    assert_eq!(codes(&a), ("8.1.1".into(), "3.9".into()), "{a:#}");
    // A profile not in stock: 8.2.1 / 3.9.
    let a = s.download(eid, ICCID, false).await;
    assert_eq!(codes(&a), ("8.2.1".into(), "3.9".into()), "{a:#}");
    // A mandatory field missing: 2.2.
    let a = s.call("mno", &s.sr_url, "/es4/AuditEIS", json!({})).await;
    assert_eq!(codes(&a).1, "2.2", "{a:#}");

    // An ICCID already on the card: the profile downloaded, a second package with the same
    // ICCID in another SM-DP's stock is refused by the SM-SR (3.3), nothing sent to the card,
    // and its stock keeps it available.
    let (_, der) = profile(tmp.path(), ICCID, IMSI);
    s.stock(&[&der]);
    assert_eq!(
        status(&s.download(eid, ICCID, false).await),
        "Executed-Success"
    );
    let before = s.audit(eid).await;
    let a = s
        .call(
            "sm-dp",
            &s.sr_url,
            "/es3/CreateISDP",
            json!({"eid": eid, "iccid": ICCID}),
        )
        .await;
    assert_eq!(codes(&a), ("8.2.1".into(), "3.3".into()), "{a:#}");
    // The SM-DP's stock marks it downloaded: ordering it again is 3.3 as well.
    let a = s.download(eid, ICCID, false).await;
    assert_eq!(codes(&a), ("8.2.1".into(), "3.3".into()), "{a:#}");
    assert_eq!(s.audit(eid).await, before);
    s.stop().await;
}

fn status_of(v: &serde_json::Value) -> &str {
    status(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_call_identifier_returns_the_first_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let cards = fleet(tmp.path(), &pki, 1);
    let (eid, eis) = &cards[0];
    let s = Services::start(tmp.path(), &pki, Some(tmp.path().join("fleet")), false).await;
    s.register(eis).await;
    let (_, der) = profile(tmp.path(), ICCID, IMSI);
    s.stock(&[&der]);
    let mno = s.client("mno", &s.dp_url);
    let header = s.header("mno");
    let fields = json!({"eid": eid, "iccid": ICCID, "enableProfile": false});
    let first = mno
        .call("/es2/DownloadProfile", &header, fields.clone(), false)
        .await
        .unwrap();
    let again = mno
        .call("/es2/DownloadProfile", &header, fields.clone(), false)
        .await
        .unwrap();
    assert_eq!(
        first["operationId"], again["operationId"],
        "{first:#} {again:#}"
    );
    let done = mno
        .wait_operation(first["operationId"].as_str().unwrap(), 60)
        .await
        .unwrap();
    assert_eq!(status(&done), "Executed-Success", "{done:#}");
    // After it is done, the same call identifier still names it: no second download.
    let third = mno
        .call("/es2/DownloadProfile", &header, fields, true)
        .await
        .unwrap();
    assert_eq!(third, done);
    assert_eq!(s.audit(eid).await.len(), 1);
    // Another requester cannot read the operation.
    let other = s.client("sm-dp", &s.dp_url);
    let e = other
        .wait_operation(first["operationId"].as_str().unwrap(), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Http { status: 404, .. }), "{e}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_cards_provisioned_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let cards = fleet(tmp.path(), &pki, 20);
    let s =
        Arc::new(Services::start(tmp.path(), &pki, Some(tmp.path().join("fleet")), false).await);
    let mut packages = Vec::new();
    for (i, (_, eis)) in cards.iter().enumerate() {
        s.register(eis).await;
        packages.push(
            profile(
                tmp.path(),
                &format!("898828000000000001{i:02}"),
                &format!("0010100000001{i:02}"),
            )
            .1,
        );
    }
    let refs: Vec<&[u8]> = packages.iter().map(Vec::as_slice).collect();
    s.stock(&refs);
    let mut tasks = Vec::new();
    for (i, (eid, _)) in cards.iter().enumerate() {
        let (s, eid) = (s.clone(), eid.clone());
        tasks.push(tokio::spawn(async move {
            let iccid = format!("898828000000000001{i:02}");
            (
                eid.clone(),
                iccid.clone(),
                s.download(&eid, &iccid, true).await,
            )
        }));
    }
    for t in tasks {
        let (eid, iccid, a) = t.await.unwrap();
        assert_eq!(status(&a), "Executed-Success", "{eid}: {a:#}");
        let isdps = s.audit(&eid).await;
        assert_eq!(isdps.len(), 1, "{eid}: {isdps:?}");
        assert_eq!(
            (isdps[0].1.as_deref(), isdps[0].2.as_str()),
            (Some(iccid.as_str()), "enabled")
        );
    }
    // The registry agrees with every card's own state file.
    let s = Arc::into_inner(s).unwrap();
    s.stop().await;
    let registry = smsr::sm_sr::registry::Registry::open(&tmp.path().join("sr.db")).unwrap();
    for (i, (eid, _)) in cards.iter().enumerate() {
        let state =
            euicc_emulator::CardState::load(&tmp.path().join(format!("fleet/card-{i}.json")))
                .unwrap();
        let on_card: Vec<(String, u8)> = state
            .registry()
            .isd_ps()
            .map(|e| (hex::encode_upper(e.aid.as_bytes()), e.life_cycle))
            .collect();
        let known: Vec<(String, u8)> = registry
            .isdps(eid)
            .unwrap()
            .into_iter()
            .map(|r| (r.aid, smsr_proto::gp::life_cycle::ISD_P_ENABLED))
            .collect();
        assert_eq!(known, on_card, "{eid}");
    }
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_operations_on_one_card_run_one_after_another() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let cards = fleet(tmp.path(), &pki, 1);
    let (eid, eis) = &cards[0];
    let s =
        Arc::new(Services::start(tmp.path(), &pki, Some(tmp.path().join("fleet")), false).await);
    s.register(eis).await;
    let iccids: Vec<String> = (0..8).map(|i| format!("8988280000000000020{i}")).collect();
    let packages: Vec<Vec<u8>> = iccids
        .iter()
        .enumerate()
        .map(|(i, iccid)| profile(tmp.path(), iccid, &format!("00101000000020{i}")).1)
        .collect();
    let refs: Vec<&[u8]> = packages.iter().map(Vec::as_slice).collect();
    s.stock(&refs);
    let mut tasks = Vec::new();
    for iccid in &iccids {
        let (s, eid, iccid) = (s.clone(), eid.clone(), iccid.clone());
        tasks.push(tokio::spawn(async move {
            s.download(&eid, &iccid, false).await
        }));
    }
    let mut spans = Vec::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(status(&a), "Executed-Success", "{a:#}");
        let h = &a["header"];
        spans.push((
            h["processingStart"].as_str().unwrap().to_owned(),
            h["processingEnd"].as_str().unwrap().to_owned(),
        ));
    }
    // RFC 3339 UTC with microseconds: the text order is the time order. No two overlap.
    spans.sort();
    for w in spans.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "overlapping operations on one card: {w:?}"
        );
    }
    let isdps = s.audit(eid).await;
    assert_eq!(isdps.len(), 8, "{isdps:?}");
    assert!(
        isdps.iter().all(|(_, _, state)| state == "disabled"),
        "{isdps:?}"
    );
    Arc::into_inner(s).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_cut_by_a_crash_is_cleaned_up_and_done_once() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let cards = fleet(tmp.path(), &pki, 1);
    let (eid, eis) = &cards[0];
    let fleet_dir = tmp.path().join("fleet");
    let s = Services::start(tmp.path(), &pki, Some(fleet_dir.clone()), false).await;
    s.register(eis).await;
    let (_, der) = profile(tmp.path(), ICCID, IMSI);
    s.stock(&[&der]);
    // An order cut short: the SM-DP reserved the profile and had the ISD-P created, then
    // stopped (here: both services stop).
    smsr::sm_dp::stock::Stock::open(&s.dp_db)
        .unwrap()
        .reserve(ICCID, eid)
        .unwrap();
    let a = s
        .call(
            "sm-dp",
            &s.sr_url,
            "/es3/CreateISDP",
            json!({"eid": eid, "iccid": ICCID}),
        )
        .await;
    assert_eq!(status(&a), "Executed-Success", "{a:#}");
    let half_done = a["isdPAid"].as_str().unwrap().to_owned();
    s.stop().await;

    // Started again, the SM-DP returns the profile to the stock; the order again cleans the
    // half-done ISD-P and downloads the profile once.
    let s = Services::start(tmp.path(), &pki, Some(fleet_dir), false).await;
    let a = s.download(eid, ICCID, true).await;
    assert_eq!(status(&a), "Executed-Success", "{a:#}");
    let isdps = s.audit(eid).await;
    assert_eq!(isdps.len(), 1, "{isdps:?}");
    assert_eq!(
        (isdps[0].1.as_deref(), isdps[0].2.as_str()),
        (Some(ICCID), "enabled")
    );
    // The half-done ISD-P was deleted first (its AID, free again, is the new one's).
    let history = smsr::sm_sr::registry::Registry::open(&s.sr_db)
        .unwrap()
        .history(eid)
        .unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.operation == "delete" && h.detail.contains(&half_done)),
        "{history:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_life_cycle_through_es2_and_es4_with_policy_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let cards = fleet(tmp.path(), &pki, 1);
    let (eid, eis) = &cards[0];
    let s = Services::start(tmp.path(), &pki, Some(tmp.path().join("fleet")), false).await;
    s.register(eis).await;
    let (a_iccid, b_iccid) = ("89882800000000000071", "89882800000000000072");
    let a_der = profile(tmp.path(), a_iccid, "001010000000071").1;
    let b_der = profile(tmp.path(), b_iccid, "001010000000072").1;
    s.stock(&[&a_der, &b_der]);
    let ok = |a: &serde_json::Value| assert_eq!(status(a), "Executed-Success", "{a:#}");
    ok(&s.download(eid, a_iccid, true).await);
    ok(&s.download(eid, b_iccid, false).await);
    let target = |iccid: &str| json!({"eid": eid, "iccid": iccid});
    // A holds the Fallback Attribute (ES4); B enabled through the SM-DP (ES2 → ES3).
    ok(&s
        .call(
            "mno",
            &s.sr_url,
            "/es4/SetFallBackAttribute",
            target(a_iccid),
        )
        .await);
    ok(&s
        .call("mno", &s.dp_url, "/es2/EnableProfile", target(b_iccid))
        .await);
    let state = |isdps: &[(String, Option<String>, String)], iccid: &str| {
        isdps
            .iter()
            .find(|i| i.1.as_deref() == Some(iccid))
            .map(|i| i.2.clone())
            .unwrap()
    };
    let isdps = s.audit(eid).await;
    assert_eq!(
        (state(&isdps, a_iccid), state(&isdps, b_iccid)),
        ("disabled".into(), "enabled".into())
    );
    // Disabling B (ES4) hands over to the fallback profile A.
    ok(&s
        .call("mno", &s.sr_url, "/es4/DisableProfile", target(b_iccid))
        .await);
    let isdps = s.audit(eid).await;
    assert_eq!(
        (state(&isdps, a_iccid), state(&isdps, b_iccid)),
        ("enabled".into(), "disabled".into())
    );
    // POL2 through ES2 (relayed as ES3): B may not be deleted; the SM-SR refuses before the card.
    let rule = json!([{"subject": "PROFILE", "action": "DELETE", "qualification": "Not-Allowed"}]);
    let mut fields = target(b_iccid);
    fields["pol2"] = rule;
    let a = s
        .call("mno", &s.dp_url, "/es2/UpdatePolicyRules", fields)
        .await;
    ok(&a);
    assert_eq!(a["isdP"]["pol2"][0]["action"], "DELETE", "{a:#}");
    let a = s
        .call("mno", &s.sr_url, "/es4/DeleteProfile", target(b_iccid))
        .await;
    assert_eq!(
        (status(&a), codes(&a)),
        ("Failed", ("8.2.1".into(), "1.2".into())),
        "{a:#}"
    );
    // Rules cleared (ES4), then deleted through ES2.
    let mut fields = target(b_iccid);
    fields["pol2"] = json!([]);
    ok(&s
        .call("mno", &s.sr_url, "/es4/UpdatePolicyRules", fields)
        .await);
    ok(&s
        .call("mno", &s.dp_url, "/es2/DeleteProfile", target(b_iccid))
        .await);
    let isdps = s.audit(eid).await;
    assert_eq!(isdps.len(), 1, "{isdps:?}");
    assert_eq!(state(&isdps, a_iccid), "enabled");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_is_posted_to_reply_to() {
    use smsr::service::http::{Handler, Response, Server};
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let cards = fleet(tmp.path(), &pki, 1);
    let (eid, eis) = &cards[0];
    let s = Services::start(tmp.path(), &pki, Some(tmp.path().join("fleet")), false).await;
    s.register(eis).await;
    // The MNO's receiver: an HTTPS server with its certificate, recording what it is sent.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handler: Handler = Arc::new(move |req| {
        let tx = tx.clone();
        Box::pin(async move {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let _ = tx.send((req.path, req.peer.name, body));
            Response::new(204, serde_json::Value::Null)
        })
    });
    let files = smsr::tls::TlsFiles::in_dir(&pki, "mno");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver =
        Server::spawn(listener, smsr::tls::server_config(&files).unwrap(), handler).unwrap();
    let mut header = s.header("mno");
    header.reply_to = Some(format!("https://{}/callbacks", receiver.local_addr()));
    let first = s
        .client("mno", &s.sr_url)
        .call("/es4/AuditEIS", &header, json!({"eid": eid}), false)
        .await
        .unwrap();
    let (path, from, body) = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(path, "/callbacks/AuditEISResponse");
    assert_eq!(from, "sm-sr");
    assert_eq!(status(&body), "Executed-Success", "{body:#}");
    assert_eq!(
        body["header"]["functionCallIdentifier"],
        header.function_call_identifier.as_str()
    );
    // The same document as the operation's result.
    let polled = s
        .client("mno", &s.sr_url)
        .wait_operation(first["operationId"].as_str().unwrap(), 10)
        .await
        .unwrap();
    assert_eq!(polled, body);
    receiver.stop().await;
    s.stop().await;
}
