//! `smsr fleet init`: a fleet of EUM-personalized emulator cards for the SM-SR's `--fleet`
//! (and for load tests), each one's EIS registered with the SM-SR.
//!
//! Each card is what `euicc-emulator init --pki` makes (random EID and ISD-R keys, ECASD key
//! pair and certificate from the EUM of the PKI, an SCP80 key set), written as
//! `DIR/card-NNNN.json`, numbered after the cards already there. The cards are made on every
//! core; their EISs (which hold the ISD-R keys) are never written to a file: they go to the
//! SM-SR through ES1 (`--sm-sr URL --cert --key`, the EUM's certificate) or straight into a
//! registry file (`--db FILE`).

use super::{print_json, CliError};
use crate::cli::GlobalArgs;
use crate::service::client::Client;
use crate::service::envelope::{status_of, FunctionError, RequestHeader, Status};
use crate::sm_sr::eis::Eis;
use crate::sm_sr::registry::Registry;
use crate::tls::{self, TlsFiles};
use clap::{Args, Subcommand};
use euicc_emulator::{eum, CardState, Emulator};
use smsr_proto::pki::Issuers;
use std::path::{Path, PathBuf};
use std::time::Instant;
use zeroize::Zeroizing;

/// `smsr fleet ...`.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Make N EUM-personalized emulator cards in DIR (`card-NNNN.json`) and register each
    /// card's EIS with the SM-SR (ES1, `--sm-sr`) or in its registry (`--db`); prints the EIDs.
    Init(InitArgs),
}

/// `smsr fleet init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The fleet directory (made if needed); the SM-SR serves it with `--fleet DIR`.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// How many cards to make.
    #[arg(long, short = 'n', value_name = "N")]
    pub count: usize,
    /// The PKI directory (`smsr pki init`): the EUM that personalizes the cards and the CI.
    #[arg(long, value_name = "DIR", env = "SMSR_PKI")]
    pub pki: PathBuf,
    /// Register through ES1 at this SM-SR (with --cert/--key, the EUM's TLS certificate).
    #[arg(long, value_name = "URL", env = "SMSR_SM_SR")]
    pub sm_sr: Option<String>,
    /// The EUM's TLS certificate, e.g. pki/eum.tls.crt.pem.
    #[arg(long, value_name = "FILE", env = "SMSR_CERT", requires = "sm_sr")]
    pub cert: Option<PathBuf>,
    /// Its private key.
    #[arg(long, value_name = "FILE", env = "SMSR_KEY", requires = "sm_sr")]
    pub key: Option<PathBuf>,
    /// The TLS CA certificate (default: tls-ca.crt.pem beside --cert).
    #[arg(long, value_name = "FILE", env = "SMSR_CA")]
    pub ca: Option<PathBuf>,
    /// Threads making cards (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// A card made: its number, EID, state file and EIS.
struct Made {
    index: usize,
    eid: String,
    state: PathBuf,
    eis: Zeroizing<String>,
}

/// The first free card number in `dir` (after the highest `card-N.json`).
fn next_index(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("card-")?
                .strip_suffix(".json")?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |n| n + 1)
}

/// Makes card `index` in `dir`.
fn make(dir: &Path, index: usize, issuers: &Issuers) -> Result<Made, CliError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        CliError::Failed(format!("card {index}: {what}: {e}"))
    };
    let mut card = CardState::generate(None).map_err(|e| fail("key generation", &e))?;
    eum::personalize(&mut card, issuers).map_err(|e| fail("EUM personalization", &e))?;
    let eis = eum::eis_json(&card, issuers);
    let eid = crate::hexfmt::upper(&card.eid());
    let state = dir.join(format!("card-{index:04}.json"));
    let mut emulator = Emulator::create(&state, card, false)
        .map_err(|e| CliError::Input(format!("{}: {e}", state.display())))?;
    emulator.power_off();
    Ok(Made {
        index,
        eid,
        state,
        eis,
    })
}

/// Makes `count` cards from number `first` on `jobs` threads.
fn make_all(
    dir: &Path,
    first: usize,
    count: usize,
    jobs: usize,
    issuers: &Issuers,
) -> Result<Vec<Made>, CliError> {
    let jobs = jobs.clamp(1, count.max(1));
    let mut made: Vec<Made> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|j| {
                scope.spawn(move || {
                    (first + j..first + count)
                        .step_by(jobs)
                        .map(|i| make(dir, i, issuers))
                        .collect::<Result<Vec<Made>, CliError>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count);
        for w in workers {
            match w.join() {
                Ok(part) => all.extend(part?),
                Err(_) => return Err(CliError::Failed("a card-making thread panicked".into())),
            }
        }
        Ok(all)
    })?;
    made.sort_by_key(|m| m.index);
    Ok(made)
}

/// Registers every EIS through ES1, four requests at a time.
fn register_es1(url: &str, files: &TlsFiles, made: &[Made]) -> Result<(), CliError> {
    let config = tls::client_config(files).map_err(|e| CliError::Input(e.to_string()))?;
    let me = tls::describe_certificate(&files.cert).map_err(|e| CliError::Input(e.to_string()))?;
    let client = Client::new(url, config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the client runtime: {e}")))?;
    let run_id = std::process::id();
    rt.block_on(async {
        for chunk in made.chunks(4) {
            let mut calls = tokio::task::JoinSet::new();
            for m in chunk {
                let client = client.clone();
                let header = RequestHeader {
                    function_requester_identifier: me.name.clone(),
                    function_call_identifier: format!("fleet-{run_id}-{}", m.index),
                    validity_period: Some(60),
                    reply_to: None,
                };
                let (eid, eis) = (m.eid.clone(), m.eis.clone());
                calls.spawn(async move {
                    let doc: serde_json::Value = serde_json::from_str(&eis)
                        .map_err(|e| CliError::Failed(format!("EIS of {eid}: {e}")))?;
                    let answer = client
                        .call(
                            "/es1/RegisterEIS",
                            &header,
                            serde_json::json!({"eis": doc}),
                            true,
                        )
                        .await?;
                    match status_of(&answer) {
                        Some(Status::ExecutedSuccess) => Ok(()),
                        _ => Err(CliError::Failed(format!(
                            "ES1.RegisterEIS of {eid}: {}",
                            FunctionError::from_answer(&answer)
                                .map_or_else(|| answer.to_string(), |e| e.to_string())
                        ))),
                    }
                });
            }
            while let Some(r) = calls.join_next().await {
                r.map_err(|e| CliError::Failed(format!("registration task: {e}")))??;
            }
        }
        Ok::<(), CliError>(())
    })
}

/// Registers every EIS in the registry file.
fn register_db(path: &Path, made: &[Made]) -> Result<(), CliError> {
    let mut registry = Registry::open(path).map_err(|e| CliError::Input(e.to_string()))?;
    for m in made {
        let eis = Eis::from_json(&m.eis)
            .map_err(|e| CliError::Failed(format!("EIS of {}: {e}", m.eid)))?;
        registry.register(&eis, false)?;
    }
    Ok(())
}

/// Runs `smsr fleet ...`.
pub fn run(g: &GlobalArgs, cmd: &FleetCommand) -> Result<(), CliError> {
    let FleetCommand::Init(args) = cmd;
    /// Where the EISs go.
    enum Target {
        Es1 { url: String, files: TlsFiles },
        Registry(PathBuf),
    }
    let target = match (&args.sm_sr, &g.db) {
        (Some(url), _) => {
            let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
                return Err(CliError::Input(
                    "--sm-sr needs --cert FILE --key FILE: the EUM's TLS certificate (pki/eum.tls.crt.pem)".into(),
                ));
            };
            Target::Es1 {
                url: url.clone(),
                files: TlsFiles::beside(cert, key, args.ca.as_deref()),
            }
        }
        (None, Some(db)) => Target::Registry(db.clone()),
        (None, None) => {
            return Err(CliError::Input(
                "say where the EISs go: --sm-sr URL --cert FILE --key FILE (ES1 as the EUM) or \
                 --db FILE (the SM-SR registry)"
                    .into(),
            ))
        }
    };
    let issuers = Issuers::read_dir(&args.pki)
        .map_err(|e| CliError::Input(format!("PKI {}: {e}", args.pki.display())))?;
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| CliError::Input(format!("cannot make {}: {e}", args.dir.display())))?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let first = next_index(&args.dir);
    let start = Instant::now();
    let made = make_all(&args.dir, first, args.count, jobs, &issuers)?;
    let made_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    match &target {
        Target::Es1 { url, files } => register_es1(url, files, &made)?,
        Target::Registry(db) => register_db(db, &made)?,
    }
    let registered_s = start.elapsed().as_secs_f64();
    eprintln!(
        "smsr: {} card(s) made in {made_s:.1} s ({jobs} thread(s)), registered in {registered_s:.1} s",
        made.len()
    );
    if g.json {
        print_json(&made.iter().map(|m| m.eid.as_str()).collect::<Vec<_>>());
    } else {
        for m in &made {
            println!("{}  {}", m.eid, m.state.display());
        }
    }
    Ok(())
}
