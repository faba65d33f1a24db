//! `smsr serve sm-sr|sm-dp`: the roles as HTTPS services with mutual TLS ([`crate::service`]).
//! The process prints the URL it serves on stdout once it listens (a JSON object with
//! `--json`), logs to stderr, and on SIGTERM or Ctrl-C lets running card operations finish
//! (up to `--drain-seconds`) before it stops.

use super::platform::Es5Args;
use super::CliError;
use crate::cli::GlobalArgs;
use crate::service::cards::Cards;
use crate::service::http::{Handler, Server};
use crate::service::sm_dp::{SmDpConfig, SmDpService};
use crate::service::sm_sr::{SmSr, SmSrConfig};
use crate::sm_dp::es8::SmDp;
use crate::tls::{self, TlsFiles};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// `smsr serve ...`.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The SM-SR: ES1 RegisterEIS (EUM), ES3 (SM-DP) and ES4 (MNO) over the registry (--db)
    /// and the cards it reaches: PC/SC readers, and the emulator cards of --fleet DIR.
    #[command(name = "sm-sr")]
    SmSr(SmSrArgs),
    /// The SM-DP: ES2 (MNO) over its profile stock (--db, `smsr stock add`), driving the
    /// SM-SR through ES3 (--sm-sr URL); it never touches a card.
    #[command(name = "sm-dp")]
    SmDp(SmDpArgs),
}

/// What both services take.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// The PKI directory (`smsr pki init`): the TLS CA and this service's NAME.tls.crt.pem
    /// and NAME.tls.key.pem.
    #[arg(long, value_name = "DIR", env = "SMSR_PKI")]
    pub pki: PathBuf,
    /// Seconds running card operations get to finish after SIGTERM.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120,
        env = "SMSR_DRAIN_SECONDS"
    )]
    pub drain_seconds: u64,
}

/// `smsr serve sm-sr`.
#[derive(Debug, Args)]
pub struct SmSrArgs {
    /// Address to listen on (port 0: any free port; the URL is printed).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8443",
        env = "SMSR_SM_SR_LISTEN"
    )]
    pub listen: String,
    /// Its name in the PKI directory (certificate NAME.tls.crt.pem, role sm-sr).
    #[arg(long, default_value = "sm-sr", env = "SMSR_SM_SR_NAME")]
    pub name: String,
    /// A directory of emulator card state files (`euicc-emulator init`), each a card served.
    #[arg(long, value_name = "DIR", env = "SMSR_FLEET")]
    pub fleet: Option<PathBuf>,
    /// Do not use PC/SC readers (only the fleet).
    #[arg(long, env = "SMSR_NO_PCSC")]
    pub no_pcsc: bool,
    #[command(flatten)]
    pub es5: Es5Args,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `smsr serve sm-dp`.
#[derive(Debug, Args)]
pub struct SmDpArgs {
    /// Address to listen on (port 0: any free port; the URL is printed).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8444",
        env = "SMSR_SM_DP_LISTEN"
    )]
    pub listen: String,
    /// Its name in the PKI directory (certificate NAME.tls.crt.pem, role sm-dp; CERT.DP.ECDSA
    /// of the directory for ES8).
    #[arg(long, default_value = "sm-dp", env = "SMSR_SM_DP_NAME")]
    pub name: String,
    /// The SM-SR's URL (https://HOST:PORT).
    #[arg(long, value_name = "URL", env = "SMSR_SM_SR")]
    pub sm_sr: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("smsr-service")
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the service runtime: {e}")))
}

fn tls_error(e: tls::TlsError) -> CliError {
    CliError::Input(e.to_string())
}

/// Runs `smsr serve ...`.
pub fn run(g: &GlobalArgs, cmd: &ServeCommand) -> Result<(), CliError> {
    let rt = runtime()?;
    match cmd {
        ServeCommand::SmSr(a) => {
            let files = TlsFiles::in_dir(&a.common.pki, &a.name);
            let server_tls = tls::server_config(&files).map_err(tls_error)?;
            let client_tls = tls::client_config(&files).map_err(tls_error)?;
            let db =
                g.db.clone()
                    .or_else(crate::sm_sr::registry::default_path)
                    .ok_or_else(|| {
                        CliError::Input("give the registry with --db FILE (or SMSR_DB)".into())
                    })?;
            let cards = Arc::new(
                Cards::new(a.fleet.clone(), !a.no_pcsc)
                    .map_err(|e| CliError::Input(e.to_string()))?,
            );
            let service = SmSr::new(
                SmSrConfig {
                    name: a.name.clone(),
                    db,
                    es5: a.es5.es5.into(),
                    client: Some(client_tls),
                },
                cards.clone(),
            )
            .map_err(|e| CliError::Input(e.message))?;
            let stop_scan = Arc::new(AtomicBool::new(false));
            cards.watch_readers(stop_scan.clone());
            tracing::info!("{} card(s) reached at start", cards.list().len());
            let handler = service.handler();
            let drain = Duration::from_secs(a.common.drain_seconds);
            let s = service.clone();
            rt.block_on(serve(
                g,
                "sm-sr",
                &a.listen,
                server_tls,
                handler,
                async move { s.shut_down(drain).await },
            ))?;
            stop_scan.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        ServeCommand::SmDp(a) => {
            let files = TlsFiles::in_dir(&a.common.pki, &a.name);
            let server_tls = tls::server_config(&files).map_err(tls_error)?;
            let client_tls = tls::client_config(&files).map_err(tls_error)?;
            let db =
                g.db.clone()
                    .or_else(crate::sm_dp::stock::default_path)
                    .ok_or_else(|| {
                        CliError::Input("give the stock with --db FILE (or SMSR_DB)".into())
                    })?;
            let dp = SmDp::from_pki_dir(&a.common.pki)?;
            let service = SmDpService::new(
                SmDpConfig {
                    name: a.name.clone(),
                    db,
                    client: client_tls,
                },
                dp,
                &a.sm_sr,
            )
            .map_err(|e| CliError::Input(e.message))?;
            let handler = service.handler();
            let drain = Duration::from_secs(a.common.drain_seconds);
            let s = service.clone();
            rt.block_on(serve(
                g,
                "sm-dp",
                &a.listen,
                server_tls,
                handler,
                async move { s.shut_down(drain).await },
            ))
        }
    }
}

async fn serve(
    g: &GlobalArgs,
    what: &str,
    listen: &str,
    tls: Arc<rustls::ServerConfig>,
    handler: Handler,
    drain: impl std::future::Future<Output = u64>,
) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        CliError::Input(format!(
            "cannot listen on {listen}: {e}; choose another --listen address (port 0 takes any free port)"
        ))
    })?;
    let server = Server::spawn(listener, tls, handler)
        .map_err(|e| CliError::Failed(format!("cannot serve on {listen}: {e}")))?;
    let url = format!("https://{}", server.local_addr());
    if g.json {
        println!("{}", serde_json::json!({"service": what, "url": url}));
    } else {
        println!("{what} listening on {url}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    stopped().await;
    eprintln!("smsr: {what} stopping: running operations get to finish");
    let left = drain.await;
    if left > 0 {
        eprintln!(
            "smsr: {what}: {left} operation(s) still running at shutdown; the registry records \
             what was sent, and AuditEIS reconciles the cards"
        );
    }
    server.stop().await;
    eprintln!("smsr: {what} stopped");
    Ok(())
}

/// Waits for SIGTERM or Ctrl-C.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `smsr serve --help`.
pub const LONG_ABOUT: &str = "Run the SM-SR or the SM-DP as an HTTPS service with mutual TLS.

Both take a PKI directory (`smsr pki init`): the TLS CA, and their own certificate and key
(NAME.tls.crt.pem, NAME.tls.key.pem). A client without a certificate from that CA is refused
in the handshake; a certificate of the wrong role gets HTTP 403 and status Failed, reason 1.1.

API (our JSON binding of SGP.02; POST, JSON body {\"header\": {\"functionRequesterIdentifier\",
\"functionCallIdentifier\", \"validityPeriod\"?, \"replyTo\"?}, ...fields}):

  service  path                              caller   answer
  sm-sr    /es1/RegisterEIS                  eum      200
  sm-sr    /es3/GetEIS                       sm-dp    200
  sm-sr    /es3/CreateISDP                   sm-dp    202 operation
  sm-sr    /es3/SendData                     sm-dp    202 operation
  sm-sr    /es3/ProfileDownloadCompleted     sm-dp    200
  sm-sr    /es3/EnableProfile|DisableProfile sm-dp    202 operation
  sm-sr    /es3/DeleteISDP                   sm-dp    202 operation
  sm-sr    /es3/UpdatePolicyRules            sm-dp    200
  sm-sr    /es4/GetEIS, /es4/UpdatePolicyRules  mno   200
  sm-sr    /es4/AuditEIS, EnableProfile, DisableProfile, DeleteProfile,
           SetFallBackAttribute              mno      202 operation
  sm-dp    /es2/GetEIS, /es2/UpdatePolicyRules  mno   200
  sm-dp    /es2/DownloadProfile, EnableProfile, DisableProfile, DeleteProfile
                                             mno      202 operation
  both     GET /operations/{id}?waitSeconds=N  the operation's requester
  both     GET /status                       any role

Examples:
  smsr pki init --dir pki
  smsr --db sr.db serve sm-sr --pki pki --listen 127.0.0.1:8443 --fleet cards/ --no-pcsc
  smsr --db dp.db stock add p.der
  smsr --db dp.db serve sm-dp --pki pki --listen 127.0.0.1:8444 --sm-sr https://127.0.0.1:8443
  smsr mno download-profile --sm-dp https://127.0.0.1:8444 --cert pki/mno.tls.crt.pem \\
      --key pki/mno.tls.key.pem --eid EID --iccid ICCID --enable";
