//! `smsr-load`: the load generator of the smsr services, on goose.
//!
//! The operator (MNO) calls ES2 at the SM-DP and ES4 at the SM-SR over mutual TLS: each goose
//! user gets a reqwest client built on our rustls configuration (ring provider, the test CA
//! as the only root, the MNO certificate), so the handshakes are those of the product. A
//! card-touching function answers `202`; the flow polls its operation and the whole — request
//! to result — is what [`record`] times (HDR histograms, per function), while goose times each
//! HTTP request under its function's name (`es2.DownloadProfile`, `…:result` for the polls).
//!
//! - [`args`]: the command line; [`setup`]: fleet, stock, component status;
//! - [`plan`]: the schedule (stages of a fixed start rate), the cards, the ICCIDs;
//! - [`call`]: one function end to end through goose; [`flows`]: the scenarios;
//! - [`record`]: what was measured; [`summary`]: the report, the verdict, the summary.
//!
//! The report is [`smsr::report`]'s: `report.json` and a self-contained `report.html`.

pub mod args;
pub mod call;
pub mod flows;
pub mod plan;
pub mod record;
pub mod setup;
pub mod summary;

use args::{Args, Scenario};
use call::Caller;
use flows::Run;
use goose::config::GooseConfiguration;
use goose::goose::Scenario as GooseScenario;
use goose::prelude::*;
use plan::{CardPool, Iccids, Pacer, StageSpec};
use smsr::tls::{self, TlsFiles};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit codes.
pub mod exit {
    /// The thresholds held.
    pub const PASSED: u8 = 0;
    /// A threshold (or a smoke check) failed.
    pub const FAILED: u8 = 1;
    /// The command line is wrong.
    pub const USAGE: u8 = 2;
    /// A file or value is wrong: fleet, stock, certificate.
    pub const INPUT: u8 = 5;
    /// A service could not be reached.
    pub const SERVICE: u8 = 7;
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Service(String),
    #[error("goose: {0}")]
    Goose(String),
}

impl LoadError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::Input(_) => exit::INPUT,
            Self::Service(_) => exit::SERVICE,
            Self::Goose(_) => exit::FAILED,
        }
    }
}

/// The stages of a scenario.
fn stages(args: &Args) -> Vec<StageSpec> {
    let rates = args.rates();
    match args.scenario {
        Scenario::Smoke => vec![StageSpec {
            rate: 0.0,
            seconds: 3600.0,
        }],
        Scenario::Performance | Scenario::Lifecycle => rates
            .iter()
            .map(|&rate| StageSpec {
                rate,
                seconds: args.duration,
            })
            .collect(),
        Scenario::Stress => (0..args.max_stages)
            .map(|i| StageSpec {
                rate: rates[0] * args.ramp.powi(i32::try_from(i).unwrap_or(i32::MAX)),
                seconds: args.duration,
            })
            .collect(),
    }
}

/// Profiles the run may need: the count, else what the schedule can start (flows as fast as
/// the users go count 50 per second), plus one base profile per card for lifecycle.
fn profiles_needed(args: &Args, stages: &[StageSpec], cards: usize) -> usize {
    if args.scenario == Scenario::Smoke {
        return 1;
    }
    let scheduled: f64 = stages
        .iter()
        .map(|s| if s.rate > 0.0 { s.rate } else { 50.0 } * s.seconds)
        .sum();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let flows = match args.count {
        Some(c) => usize::try_from(c).unwrap_or(usize::MAX),
        None => scheduled.ceil() as usize + 1,
    };
    flows.saturating_add(if args.scenario == Scenario::Lifecycle {
        cards
    } else {
        0
    })
}

/// Runs the goose attack over `run` with `users` users, at most `limit` seconds.
async fn attack(run: Arc<Run>, users: usize, limit: Duration) -> Result<GooseMetrics, LoadError> {
    let r = Arc::clone(&run);
    let client: TransactionFunction = Arc::new(move |user| {
        let r = Arc::clone(&r);
        Box::pin(async move {
            let builder = reqwest::Client::builder()
                .tls_backend_preconfigured(r.tls.clone())
                .http1_only()
                .tcp_nodelay(true)
                .no_proxy()
                .timeout(Duration::from_secs(60));
            user.set_client_builder(builder).await?;
            Ok(())
        })
    });
    let r = Arc::clone(&run);
    let flow: TransactionFunction = Arc::new(move |user| {
        let r = Arc::clone(&r);
        Box::pin(async move { flows::flow(&r, user).await })
    });
    let scenario = GooseScenario::new(run.scenario.as_str())
        .register_transaction(
            Transaction::new(client)
                .set_name("mTLS client")
                .set_on_start(),
        )
        .register_transaction(Transaction::new(flow).set_name(run.scenario.as_str()));
    let g = |e: GooseError| LoadError::Goose(e.to_string());
    let limit = usize::try_from(limit.as_secs())
        .unwrap_or(usize::MAX)
        .max(1);
    GooseAttack::initialize_with_config(GooseConfiguration::default())
        .map_err(g)?
        .register_scenario(scenario)
        .set_default(GooseDefault::Host, run.sm_dp[0].as_str())
        .map_err(g)?
        .set_default(GooseDefault::Users, users)
        .map_err(g)?
        .set_default(GooseDefault::IncreaseRate, "1000")
        .map_err(g)?
        .set_default(GooseDefault::RunTime, limit)
        .map_err(g)?
        .set_default(GooseDefault::NoResetMetrics, true)
        .map_err(g)?
        .set_default(GooseDefault::NoTelnet, true)
        .map_err(g)?
        .set_default(GooseDefault::NoPrintMetrics, true)
        .map_err(g)?
        .set_default(GooseDefault::Quiet, 1usize)
        .map_err(g)?
        .execute()
        .await
        .map_err(g)
}

/// Runs `smsr-load` with `args`; the report and the exit code.
pub async fn run(args: Args) -> Result<(smsr::report::Report, u8), LoadError> {
    args.check().map_err(LoadError::Usage)?;
    let files = TlsFiles::beside(&args.cert, &args.key, args.ca.as_deref());
    let tls_config = tls::client_config(&files).map_err(|e| LoadError::Input(e.to_string()))?;
    let requester = tls::describe_certificate(&args.cert)
        .map_err(|e| LoadError::Input(e.to_string()))?
        .name;
    let mut report = summary::new_report(&args);
    report.components = Vec::new();
    for (service, urls) in [("sm-dp", &args.sm_dp), ("sm-sr", &args.sm_sr)] {
        for url in urls {
            report
                .components
                .push(setup::component(service, url, Arc::clone(&tls_config)).await);
        }
    }
    if let Some(down) = report.components.iter().find(|c| !c.ok) {
        return Err(LoadError::Service(format!(
            "{} at {}: {}",
            down.service, down.url, down.detail
        )));
    }
    let eids = setup::fleet_eids(&args.fleet, args.cards).map_err(LoadError::Input)?;
    let stages = stages(&args);
    let needed = profiles_needed(&args, &stages, eids.len());
    let iccids = match (&args.stock_db, &args.iccids) {
        (Some(db), _) => {
            // Blocking, and the PostgreSQL client runs a runtime of its own: not on this one.
            let (db, template) = (db.clone(), args.profile_template.clone());
            tokio::task::spawn_blocking(move || setup::fill_stock(&db, needed, template.as_deref()))
                .await
                .map_err(|e| LoadError::Input(e.to_string()))?
                .map_err(LoadError::Input)?
        }
        (None, Some(file)) => setup::iccid_file(file).map_err(LoadError::Input)?,
        (None, None) => {
            return Err(LoadError::Usage(
                "give --stock-db FILE or --iccids FILE".into(),
            ))
        }
    };
    let cards = eids.len();
    if needed > cards * 20 {
        eprintln!(
            "smsr-load: warning: up to {needed} downloads over {cards} card(s): an emulator card \
             holds about 30 profiles (then 6A84, not enough memory) and each one it holds slows \
             its commands; give a larger fleet or a smaller --count/--duration"
        );
    }
    report.environment.fleet_size = Some(cards);
    report.environment.store = Some(match &args.stock_db {
        Some(db) => format!("SM-DP stock {} (SQLite)", db.display()),
        None => "ICCIDs from a list; the SM-DP's stock filled by the caller".into(),
    });
    let users = if args.scenario == Scenario::Smoke {
        1
    } else {
        args.users
    };
    let count = if args.scenario == Scenario::Smoke {
        Some(1)
    } else {
        args.count
    };
    let paced = stages.iter().any(|s| s.rate > 0.0);
    let limit = Duration::from_secs_f64(stages.iter().map(|s| s.seconds).sum::<f64>().min(7200.0))
        + Duration::from_secs(args.timeout + 30);
    let settings = [
        ("scenario", args.scenario.as_str().to_owned()),
        ("users", users.to_string()),
        (
            "rates /s",
            stages
                .iter()
                .map(|s| format!("{:.2}", s.rate))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("seconds per stage", format!("{}", args.duration)),
        ("count", count.map_or_else(|| "-".into(), |c| c.to_string())),
        (
            "enable",
            (!args.no_enable || args.scenario == Scenario::Smoke).to_string(),
        ),
        ("max error rate %", args.max_error_rate.to_string()),
        ("p99 limit ms", args.p99_ms.to_string()),
        ("operation timeout s", args.timeout.to_string()),
        ("profiles available", iccids.len().to_string()),
    ];
    report.settings = settings
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let run = Arc::new(Run::new(
        args.scenario,
        args.sm_dp
            .iter()
            .map(|u| u.trim_end_matches('/').to_owned())
            .collect(),
        args.sm_sr
            .iter()
            .map(|u| u.trim_end_matches('/').to_owned())
            .collect(),
        Caller {
            requester,
            run_id,
            timeout: Duration::from_secs(args.timeout),
        },
        (*tls_config).clone(),
        Pacer::new(stages, count),
        CardPool::new(eids),
        Iccids::new(iccids),
        !args.no_enable || args.scenario == Scenario::Smoke,
        (args.max_error_rate, args.p99_ms),
    ));
    let started = Instant::now();
    run.pacer.start(started);
    let metrics = attack(Arc::clone(&run), users, limit).await?;
    let now = Instant::now();
    report.environment.load_average_after = smsr::report::environment::load_average();
    let seconds = now.duration_since(run.recorder.start()).as_secs_f64();
    report.duration_s = seconds;
    report.operations = run.recorder.operations(seconds, paced);
    report.requests = summary::requests(&metrics);
    report.timeline = run.recorder.timeline();
    report.stages = summary::stages(&run, run.recorder.last_flow_end().unwrap_or(now));
    report.steps = run.recorder.all_steps().summary(false);
    summary::analyse(&mut report, &args);
    report.verdict = summary::verdict(&args, &run, &report);
    if let Some(d) = report
        .operations
        .iter()
        .find(|o| o.name == "es2.DownloadProfile")
    {
        #[allow(clippy::cast_precision_loss)]
        report.notes.push(format!(
            "{} DownloadProfile over {cards} card(s), {:.1} per card: each profile a card holds \
             makes its state file (rewritten after each command that changes it) longer.",
            d.count,
            d.count as f64 / cards as f64
        ));
    }
    if let Some(reason) = run.pacer.stop_reason() {
        report.notes.push(format!("The schedule ended: {reason}."));
    }
    report.notes.push(format!(
        "End-to-end latency is timed from the request to its result (the 202 and the polls of \
         GET /operations/{{id}}); {} goose user(s){}.",
        users,
        if paced {
            "; flows start on a fixed schedule and the p99 \"from the schedule\" counts a late \
             start against the operation (coordinated omission corrected)"
        } else {
            ""
        }
    ));
    if let Some(dir) = &args.report {
        report
            .write(dir)
            .map_err(|e| LoadError::Input(format!("report {}: {e}", dir.display())))?;
        if let Ok(text) = serde_json::to_string_pretty(&metrics) {
            let _ = std::fs::write(dir.join("goose.json"), text);
        }
    }
    let code = if report.verdict.passed {
        exit::PASSED
    } else {
        exit::FAILED
    };
    Ok((report, code))
}
