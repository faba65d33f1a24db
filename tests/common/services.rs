//! Both services in the test process, on ephemeral loopback ports, over a fleet of emulator
//! cards personalized by the test EUM; clients with the test PKI's certificates.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use euicc_emulator::{eum, CardState, Emulator};
use serde_json::{json, Value};
use smsr::service::cards::Cards;
use smsr::service::client::Client;
use smsr::service::envelope::RequestHeader;
use smsr::service::http::Server;
use smsr::service::sm_dp::{SmDpConfig, SmDpService};
use smsr::service::sm_sr::{SmSr, SmSrConfig};
use smsr::sm_dp::es8::SmDp;
use smsr::sm_sr::link::LinkKind;
use smsr::tls::{self, TlsFiles};
use smsr_proto::pki::Issuers;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A test PKI (`smsr pki init`'s two halves) in `dir/pki`.
pub fn pki(dir: &Path) -> PathBuf {
    let pki = dir.join("pki");
    let issuers = Issuers::generate().unwrap();
    issuers.write_dir(&pki, false).unwrap();
    tls::init_pki(&pki, false).unwrap();
    pki
}

/// `n` EUM-personalized cards in `dir/fleet`; their EIDs and EIS files.
pub fn fleet(dir: &Path, pki: &Path, n: usize) -> Vec<(String, PathBuf)> {
    let fleet = dir.join("fleet");
    std::fs::create_dir_all(&fleet).unwrap();
    let issuers = Issuers::read_dir(pki).unwrap();
    (0..n)
        .map(|i| {
            let mut card = CardState::generate(None).unwrap();
            eum::personalize(&mut card, &issuers).unwrap();
            let eis = dir.join(format!("eis-{i}.json"));
            std::fs::write(&eis, eum::eis_json(&card, &issuers)).unwrap();
            let eid = hex::encode_upper(card.eid());
            let mut e =
                Emulator::create(&fleet.join(format!("card-{i}.json")), card, false).unwrap();
            e.power_off();
            (eid, eis)
        })
        .collect()
}

/// A profile package with this ICCID (MILENAGE, test K/OPc), in `dir`.
pub fn profile(dir: &Path, iccid: &str, imsi: &str) -> (PathBuf, Vec<u8>) {
    let der =
        smsr_proto::saip::minimal::MinimalProfile::milenage(iccid, imsi, [0x11; 16], [0x22; 16])
            .build()
            .unwrap()
            .to_der();
    let path = dir.join(format!("{iccid}.der"));
    std::fs::write(&path, &der).unwrap();
    (path, der)
}

/// Both services.
pub struct Services {
    pub dir: PathBuf,
    pub pki: PathBuf,
    pub sr: Arc<SmSr>,
    pub dp: Arc<SmDpService>,
    sr_server: Server,
    dp_server: Server,
    pub sr_url: String,
    pub dp_url: String,
    pub sr_db: PathBuf,
    pub dp_db: PathBuf,
    calls: AtomicU64,
}

impl Services {
    /// Starts the SM-SR over `fleet` (and the readers with `pcsc`) and the SM-DP over a stock
    /// in `dir`.
    pub async fn start(dir: &Path, pki: &Path, fleet: Option<PathBuf>, pcsc: bool) -> Self {
        Self::start_with(dir, pki, fleet, pcsc, LinkKind::Scp03).await
    }

    pub async fn start_with(
        dir: &Path,
        pki: &Path,
        fleet: Option<PathBuf>,
        pcsc: bool,
        es5: LinkKind,
    ) -> Self {
        Self::start_on(dir, pki, fleet, pcsc, es5, &dir.join("sr.db")).await
    }

    /// [`Services::start_with`] with the SM-SR's registry at `sr_db`.
    pub async fn start_on(
        dir: &Path,
        pki: &Path,
        fleet: Option<PathBuf>,
        pcsc: bool,
        es5: LinkKind,
        sr_db: &Path,
    ) -> Self {
        let (sr_db, dp_db) = (sr_db.to_owned(), dir.join("dp.db"));
        let sr_files = TlsFiles::in_dir(pki, "sm-sr");
        let cards = Arc::new(Cards::new(fleet, pcsc).unwrap());
        let sr = SmSr::new(
            SmSrConfig {
                name: "sm-sr".into(),
                db: sr_db.clone(),
                es5,
                client: Some(tls::client_config(&sr_files).unwrap()),
            },
            cards,
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sr_server = Server::spawn(
            listener,
            tls::server_config(&sr_files).unwrap(),
            sr.handler(),
        )
        .unwrap();
        let sr_url = format!("https://{}", sr_server.local_addr());
        let dp_files = TlsFiles::in_dir(pki, "sm-dp");
        let dp = SmDpService::new(
            SmDpConfig {
                name: "sm-dp".into(),
                db: dp_db.clone(),
                client: tls::client_config(&dp_files).unwrap(),
            },
            SmDp::from_pki_dir(pki).unwrap(),
            &sr_url,
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dp_server = Server::spawn(
            listener,
            tls::server_config(&dp_files).unwrap(),
            dp.handler(),
        )
        .unwrap();
        let dp_url = format!("https://{}", dp_server.local_addr());
        Self {
            dir: dir.to_owned(),
            pki: pki.to_owned(),
            sr,
            dp,
            sr_server,
            dp_server,
            sr_url,
            dp_url,
            sr_db,
            dp_db,
            calls: AtomicU64::new(0),
        }
    }

    /// A client of `url` with the certificate `name` of the test PKI.
    pub fn client(&self, name: &str, url: &str) -> Client {
        let files = TlsFiles::in_dir(&self.pki, name);
        Client::new(url, tls::client_config(&files).unwrap()).unwrap()
    }

    /// A new request header for `name`.
    pub fn header(&self, name: &str) -> RequestHeader {
        RequestHeader {
            function_requester_identifier: name.into(),
            function_call_identifier: format!("t-{}", self.calls.fetch_add(1, Ordering::Relaxed)),
            validity_period: Some(120),
            reply_to: None,
        }
    }

    /// Calls `function` at `url` as `name` and waits for its answer.
    pub async fn call(&self, name: &str, url: &str, function: &str, fields: Value) -> Value {
        self.client(name, url)
            .call(function, &self.header(name), fields, true)
            .await
            .unwrap()
    }

    /// ES1.RegisterEIS of an EIS file, as the EUM.
    pub async fn register(&self, eis: &Path) {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(eis).unwrap()).unwrap();
        let a = self
            .call("eum", &self.sr_url, "/es1/RegisterEIS", json!({"eis": doc}))
            .await;
        assert_eq!(status(&a), "Executed-Success", "{a:#}");
    }

    /// Adds packages to the SM-DP's stock.
    pub fn stock(&self, packages: &[&[u8]]) {
        let mut stock = smsr::sm_dp::stock::Stock::open(&self.dp_db).unwrap();
        for (i, p) in packages.iter().enumerate() {
            stock.add(&format!("package {i}"), p).unwrap();
        }
    }

    /// ES2.DownloadProfile as the MNO, waited for.
    pub async fn download(&self, eid: &str, iccid: &str, enable: bool) -> Value {
        self.call(
            "mno",
            &self.dp_url,
            "/es2/DownloadProfile",
            json!({"eid": eid, "iccid": iccid, "enableProfile": enable}),
        )
        .await
    }

    /// ES4.AuditEIS as the MNO: (ISD-P AID, ICCID, state) of each ISD-P.
    pub async fn audit(&self, eid: &str) -> Vec<(String, Option<String>, String)> {
        let a = self
            .call("mno", &self.sr_url, "/es4/AuditEIS", json!({"eid": eid}))
            .await;
        assert_eq!(status(&a), "Executed-Success", "{a:#}");
        a["isdPs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["isdPAid"].as_str().unwrap().to_owned(),
                    i["iccid"].as_str().map(str::to_owned),
                    i["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Stops both services (the SM-SR lets go of its cards when the last handle goes).
    pub async fn stop(self) {
        self.dp.shut_down(std::time::Duration::from_secs(30)).await;
        self.sr.shut_down(std::time::Duration::from_secs(30)).await;
        self.dp_server.stop().await;
        self.sr_server.stop().await;
    }
}

/// `header.functionExecutionStatus.status`.
pub fn status(answer: &Value) -> &str {
    answer["header"]["functionExecutionStatus"]["status"]
        .as_str()
        .unwrap_or("")
}

/// `(subjectCode, reasonCode)` of a failed answer.
pub fn codes(answer: &Value) -> (String, String) {
    let c = &answer["header"]["functionExecutionStatus"]["statusCodeData"];
    (
        c["subjectCode"].as_str().unwrap_or("").to_owned(),
        c["reasonCode"].as_str().unwrap_or("").to_owned(),
    )
}
