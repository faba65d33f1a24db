//! `smsr mno ...` and `smsr eum register`: clients of the services. Each presents a
//! certificate of the test PKI (`--cert`/`--key`, the CA defaulting to `tls-ca.crt.pem` beside
//! the certificate), names itself with the certificate's name, waits for the operation of a
//! long function (`--no-wait` prints its id instead) and prints the result.
//!
//! Exit codes: 0 when the function's status is `Executed-Success`, 1 when it is `Failed` (the
//! message and SGP.02 codes are printed), 7 when the service cannot be reached.

use super::{print_json, CliError};
use crate::cli::GlobalArgs;
use crate::service::client::{Client, ClientError};
use crate::service::envelope::{status_of, FunctionError, RequestHeader, Status};
use crate::tls::{self, TlsFiles};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;

/// The client's identity.
#[derive(Debug, Args)]
pub struct Identity {
    /// The client certificate (PEM), e.g. pki/mno.tls.crt.pem.
    #[arg(long, value_name = "FILE", env = "SMSR_CERT")]
    pub cert: PathBuf,
    /// Its private key (PEM).
    #[arg(long, value_name = "FILE", env = "SMSR_KEY")]
    pub key: PathBuf,
    /// The TLS CA certificate (default: tls-ca.crt.pem beside --cert).
    #[arg(long, value_name = "FILE", env = "SMSR_CA")]
    pub ca: Option<PathBuf>,
    /// Print the operation id and return at once instead of waiting for the result.
    #[arg(long)]
    pub no_wait: bool,
    /// The functionCallIdentifier (default: a new one); the same one again returns the first
    /// call's operation.
    #[arg(long, value_name = "ID")]
    pub call_id: Option<String>,
    /// Seconds to wait for a long function's result.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub validity: u64,
}

/// `smsr mno ...`: the operator's functions (ES2 at the SM-DP, ES4 at the SM-SR).
#[derive(Debug, Subcommand)]
pub enum MnoCommand {
    /// ES2.DownloadProfile: the SM-DP downloads a profile of its stock into the card (through
    /// the SM-SR), and enables it with --enable; prints each step's time.
    DownloadProfile {
        #[arg(long)]
        eid: String,
        #[arg(long)]
        iccid: String,
        /// Enable the profile once downloaded.
        #[arg(long)]
        enable: bool,
        #[command(flatten)]
        sm_dp: SmDpUrl,
        #[command(flatten)]
        id: Identity,
    },
    /// EnableProfile: ES4 at the SM-SR with --sm-sr, else ES2 at the SM-DP.
    Enable(ProfileTarget),
    /// DisableProfile: ES4 at the SM-SR with --sm-sr, else ES2 at the SM-DP.
    Disable(ProfileTarget),
    /// DeleteProfile: ES4 at the SM-SR with --sm-sr, else ES2 at the SM-DP.
    Delete(ProfileTarget),
    /// ES4.SetFallBackAttribute at the SM-SR.
    SetFallback {
        #[arg(long)]
        eid: String,
        #[arg(long)]
        iccid: String,
        #[command(flatten)]
        sm_sr: SmSrUrl,
        #[command(flatten)]
        id: Identity,
    },
    /// ES4.AuditEIS at the SM-SR: the card's ISD-Ps as the card reports them.
    Audit {
        #[arg(long)]
        eid: String,
        #[command(flatten)]
        sm_sr: SmSrUrl,
        #[command(flatten)]
        id: Identity,
    },
    /// ES4.GetEIS at the SM-SR (keys left out).
    GetEis {
        #[arg(long)]
        eid: String,
        #[command(flatten)]
        sm_sr: SmSrUrl,
        #[command(flatten)]
        id: Identity,
    },
}

/// `--sm-dp URL`.
#[derive(Debug, Args)]
pub struct SmDpUrl {
    /// The SM-DP's URL.
    #[arg(long = "sm-dp", value_name = "URL", env = "SMSR_SM_DP")]
    pub url: String,
}

/// `--sm-sr URL`.
#[derive(Debug, Args)]
pub struct SmSrUrl {
    /// The SM-SR's URL.
    #[arg(long = "sm-sr", value_name = "URL", env = "SMSR_SM_SR")]
    pub url: String,
}

/// A profile on a card, and where to ask.
#[derive(Debug, Args)]
pub struct ProfileTarget {
    #[arg(long)]
    pub eid: String,
    #[arg(long)]
    pub iccid: String,
    /// Ask the SM-SR (ES4).
    #[arg(long, value_name = "URL", env = "SMSR_SM_SR", conflicts_with = "sm_dp")]
    pub sm_sr: Option<String>,
    /// Ask the SM-DP (ES2).
    #[arg(long, value_name = "URL", env = "SMSR_SM_DP")]
    pub sm_dp: Option<String>,
    #[command(flatten)]
    pub id: Identity,
}

/// `smsr eum ...`.
#[derive(Debug, Subcommand)]
pub enum EumCommand {
    /// ES1.RegisterEIS: registers a card's EIS (the JSON `euicc-emulator init --eis-out`
    /// writes) with the SM-SR.
    Register {
        /// The EIS file.
        eis: PathBuf,
        #[command(flatten)]
        sm_sr: SmSrUrl,
        #[command(flatten)]
        id: Identity,
    },
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Url(_) => CliError::Input(e.to_string()),
            ClientError::Http { status: 403, .. } | ClientError::Http { status: 400, .. } => {
                CliError::Failed(e.to_string())
            }
            _ => CliError::Service(e.to_string()),
        }
    }
}

fn call_id() -> String {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    format!("smsr-{}", crate::hexfmt::upper(&b).to_lowercase())
}

/// Calls `function` at `url` and prints the answer; a `Failed` status is an error (exit 1).
fn call(
    g: &GlobalArgs,
    url: &str,
    function: &str,
    fields: Value,
    id: &Identity,
) -> Result<(), CliError> {
    let files = TlsFiles::beside(&id.cert, &id.key, id.ca.as_deref());
    let config = tls::client_config(&files).map_err(|e| CliError::Input(e.to_string()))?;
    let me = tls::describe_certificate(&id.cert).map_err(|e| CliError::Input(e.to_string()))?;
    let header = RequestHeader {
        function_requester_identifier: me.name,
        function_call_identifier: id.call_id.clone().unwrap_or_else(call_id),
        validity_period: Some(id.validity),
        reply_to: None,
    };
    let client = Client::new(url, config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the client runtime: {e}")))?;
    let answer = rt
        .block_on(client.call(function, &header, fields, !id.no_wait))
        .map_err(|e| match e {
            ClientError::Http {
                status: 403, body, ..
            } => CliError::Failed(
                FunctionError::from_answer(&body)
                    .map(|f| f.to_string())
                    .unwrap_or_else(|| "HTTP 403".into()),
            ),
            e => e.into(),
        })?;
    if g.json {
        print_json(&answer);
    } else {
        print_answer(function, &answer);
    }
    match FunctionError::from_answer(&answer) {
        Some(e) => Err(CliError::Failed(format!("{function}: {e}"))),
        None => Ok(()),
    }
}

fn print_answer(function: &str, answer: &Value) {
    if answer.get("operationId").is_some() && status_of(answer).is_none() {
        println!(
            "{function}: operation {} {}",
            answer["operationId"].as_str().unwrap_or("?"),
            answer["state"].as_str().unwrap_or("")
        );
        return;
    }
    let status = status_of(answer).unwrap_or(Status::Failed);
    println!("{function}: {status:?}");
    if let Some(steps) = answer.get("steps").and_then(Value::as_array) {
        let steps: Vec<crate::sm_dp::provision::Step> = steps
            .iter()
            .filter_map(|s| serde_json::from_value(s.clone()).ok())
            .collect();
        super::provision::print_steps(
            &steps,
            answer["totalMs"].as_f64().unwrap_or(0.0),
            answer["apdus"].as_u64().unwrap_or(0),
            answer["bytes"].as_u64().unwrap_or(0),
        );
    }
    if let Some(isdps) = answer.get("isdPs").and_then(Value::as_array) {
        for i in isdps {
            println!(
                "  ISD-P {}  {:<12} ICCID {}{}",
                i["isdPAid"].as_str().unwrap_or("?"),
                i["state"].as_str().unwrap_or("?"),
                i["iccid"].as_str().unwrap_or("-"),
                if i["fallbackAttribute"] == true {
                    "  fallback"
                } else {
                    ""
                }
            );
        }
    }
    for field in ["isdPAid", "iccid", "eid"] {
        if let Some(v) = answer.get(field).and_then(Value::as_str) {
            if answer.get("steps").is_none() {
                println!("  {field}: {v}");
            }
        }
    }
}

/// Runs `smsr mno ...`.
pub fn mno(g: &GlobalArgs, cmd: &MnoCommand) -> Result<(), CliError> {
    match cmd {
        MnoCommand::DownloadProfile {
            eid,
            iccid,
            enable,
            sm_dp,
            id,
        } => call(
            g,
            &sm_dp.url,
            "/es2/DownloadProfile",
            json!({"eid": eid, "iccid": iccid, "enableProfile": enable}),
            id,
        ),
        MnoCommand::Enable(t) => target(g, t, "EnableProfile"),
        MnoCommand::Disable(t) => target(g, t, "DisableProfile"),
        MnoCommand::Delete(t) => target(g, t, "DeleteProfile"),
        MnoCommand::SetFallback {
            eid,
            iccid,
            sm_sr,
            id,
        } => call(
            g,
            &sm_sr.url,
            "/es4/SetFallBackAttribute",
            json!({"eid": eid, "iccid": iccid}),
            id,
        ),
        MnoCommand::Audit { eid, sm_sr, id } => {
            call(g, &sm_sr.url, "/es4/AuditEIS", json!({"eid": eid}), id)
        }
        MnoCommand::GetEis { eid, sm_sr, id } => {
            call(g, &sm_sr.url, "/es4/GetEIS", json!({"eid": eid}), id)
        }
    }
}

fn target(g: &GlobalArgs, t: &ProfileTarget, function: &str) -> Result<(), CliError> {
    let fields = json!({"eid": t.eid, "iccid": t.iccid});
    match (&t.sm_sr, &t.sm_dp) {
        (Some(url), _) => call(g, url, &format!("/es4/{function}"), fields, &t.id),
        (None, Some(url)) => call(g, url, &format!("/es2/{function}"), fields, &t.id),
        (None, None) => Err(CliError::Input(format!(
            "{function}: give --sm-sr URL (ES4) or --sm-dp URL (ES2)"
        ))),
    }
}

/// Runs `smsr eum ...`.
pub fn eum(g: &GlobalArgs, cmd: &EumCommand) -> Result<(), CliError> {
    match cmd {
        EumCommand::Register { eis, sm_sr, id } => {
            let text = smsr_proto::bounded::read_to_string(
                eis,
                smsr_proto::bounded::DOCUMENT_MAX,
                "an EIS",
            )
            .map_err(|e| CliError::Input(format!("cannot read EIS {}: {e}", eis.display())))?;
            let doc: Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Input(format!("EIS {}: not JSON: {e}", eis.display())))?;
            call(g, &sm_sr.url, "/es1/RegisterEIS", json!({"eis": doc}), id)
        }
    }
}
