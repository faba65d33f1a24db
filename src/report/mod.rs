//! The run report of `smsr-load` and of `smsr provision --report`: what was measured, as
//! `report.json` (this module's types, a stable schema) and as a self-contained `report.html`
//! (inline SVG charts drawn by plotters, inline CSS, no script and no fetch).
//!
//! - [`Report`]: the document; [`Report::write`] writes both files into a directory.
//! - [`environment`]: the machine, the build and the commit the figures come from.
//! - [`charts`]: the SVG charts; [`html`]: the page around them.
//! - [`percentile`], [`StepSamples`], [`knee`], [`growing_step`]: the statistics both
//!   producers share (`stats.rs`).
//!
//! Every figure is measured; the report draws no conclusion the numbers do not hold: the
//! bottleneck is the step over [`BOTTLENECK_SHARE`] of the time, the knee the last stage whose
//! throughput still followed the offered rate.

pub mod charts;
pub mod environment;
pub mod html;
mod stats;

pub use environment::Environment;
pub use stats::{growing_step, knee, median, percentile, StepSamples};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The schema name and version written in every report.
pub const SCHEMA: &str = "smsr-report/1";

/// A step taking more than this share (percent) of the total time is a bottleneck.
pub const BOTTLENECK_SHARE: f64 = 20.0;

/// What the report is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    /// A load run of `smsr-load`.
    #[default]
    Load,
    /// One `smsr provision`.
    Provision,
}

/// The report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    pub title: String,
    pub kind: ReportKind,
    /// `smoke`, `performance`, `stress`, `lifecycle` (load runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// RFC 3339, UTC.
    pub started: String,
    pub duration_s: f64,
    /// The options of the run, as given (rate, users, thresholds...).
    pub settings: BTreeMap<String, String>,
    pub verdict: Verdict,
    pub environment: Environment,
    /// The services as `GET /status` showed them before the run.
    pub components: Vec<Component>,
    /// Per SGP.02 function: end-to-end latency (request to result) and outcomes.
    pub operations: Vec<OperationStats>,
    /// Per HTTP request name, as the load generator (goose) timed each request.
    pub requests: Vec<RequestStats>,
    /// Per second of the run.
    pub timeline: Vec<TimePoint>,
    /// The card steps of the DownloadProfile results (or of the one provisioning).
    pub steps: StepSummary,
    /// The load levels of the run (one for a steady run; the ramp of a stress run).
    pub stages: Vec<Stage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knee: Option<Knee>,
    /// One provisioning's totals (`smsr provision --report`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provision: Option<ProvisionSummary>,
    /// Plain remarks (how the figures were taken, what was left out).
    pub notes: Vec<String>,
}

/// Pass or fail, and why.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub passed: bool,
    pub rules: Vec<RuleResult>,
    /// Failed operations, grouped by function and status code, most frequent first.
    pub failures: Vec<Failure>,
}

/// One threshold.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleResult {
    /// e.g. `error rate of es2.DownloadProfile <= 1%`.
    pub rule: String,
    pub observed: f64,
    pub limit: f64,
    pub passed: bool,
}

/// Failures of one function with one status code.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub operation: String,
    /// `Failed 8.2.1/3.9`, `HTTP 403`, `transport`...
    pub code: String,
    pub count: u64,
    /// The message of one of them.
    pub example: String,
}

/// A service before the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub service: String,
    pub url: String,
    pub ok: bool,
    /// TCP connect and TLS handshake of the status request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_ms: Option<f64>,
    /// Cards the SM-SR reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards: Option<usize>,
    pub detail: String,
}

/// One function's outcomes and end-to-end latency.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStats {
    /// `es2.DownloadProfile`, `es4.EnableProfile`...
    pub name: String,
    pub count: u64,
    pub ok: u64,
    pub errors: u64,
    /// Percent of `count`.
    pub error_rate: f64,
    pub errors_by_code: BTreeMap<String, u64>,
    /// Successful operations per second of the run.
    pub throughput: f64,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// p99 counted from when the operation was due by the schedule (coordinated omission
    /// corrected), for operations started at a fixed rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_corrected_ms: Option<f64>,
}

/// One HTTP request name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStats {
    /// `POST es2.DownloadProfile`, `GET es2.DownloadProfile:result`...
    pub name: String,
    pub count: u64,
    pub failures: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One second of the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimePoint {
    /// Seconds since the start.
    pub t: f64,
    /// Operations started in this second.
    pub started: u64,
    /// Operations that ended with `Executed-Success` in this second.
    pub ok: u64,
    /// Operations that ended otherwise in this second.
    pub errors: u64,
}

/// The card steps.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSummary {
    pub steps: Vec<StepStats>,
    /// The step over [`BOTTLENECK_SHARE`] of the time with the largest share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bottleneck: Option<String>,
    /// The step whose median grew most from the lowest load stage to the highest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growing: Option<Growth>,
}

/// One step over the results.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepStats {
    pub step: String,
    pub count: u64,
    pub median_ms: f64,
    pub p90_ms: f64,
    /// Percent of the sum of the step medians.
    pub share: f64,
    pub apdus: f64,
    pub bytes: f64,
    pub bottleneck: bool,
    /// What the step did (one provisioning).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub detail: String,
}

/// How much a step's median grew with load.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Growth {
    pub step: String,
    pub from_ms: f64,
    pub to_ms: f64,
    pub from_rate: f64,
    pub to_rate: f64,
}

/// One load level.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub index: usize,
    /// Operations (flows) started per second by the schedule; 0 for as fast as the users go.
    pub offered_rate: f64,
    pub seconds: f64,
    pub started: u64,
    pub ok: u64,
    pub errors: u64,
    /// Successful flows per second.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The median of each card step in this stage, in step order.
    pub step_medians: Vec<StepMedian>,
}

/// A step's median.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepMedian {
    pub step: String,
    pub ms: f64,
}

/// Where throughput stopped following the offered load.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Knee {
    pub stage: usize,
    pub offered_rate: f64,
    pub throughput: f64,
    pub p99_ms: f64,
    pub detail: String,
}

/// One provisioning.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionSummary {
    pub eid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iccid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isdp: Option<String>,
    pub total_ms: f64,
    pub apdus: u64,
    pub bytes: u64,
}

impl Report {
    /// An empty report of `kind`, started now, on this machine.
    pub fn new(kind: ReportKind, title: impl Into<String>) -> Self {
        Self {
            schema: SCHEMA.into(),
            title: title.into(),
            kind,
            started: crate::trace::now_rfc3339(),
            environment: Environment::of_this_machine(),
            ..Self::default()
        }
    }

    /// Writes `DIR/report.json` and `DIR/report.html` (the directory is made if needed);
    /// returns their paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join("report.json");
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&json, text + "\n")?;
        let page = dir.join("report.html");
        std::fs::write(&page, html::render(self))?;
        Ok((json, page))
    }
}

/// The report of one provisioning (`smsr provision --report`): its steps, APDUs and bytes.
pub fn provisioning(done: &crate::sm_dp::provision::Provisioned) -> Report {
    let mut r = Report::new(
        ReportKind::Provision,
        format!("smsr provision {}", done.eid),
    );
    let mut samples = StepSamples::default();
    for s in &done.steps {
        samples.add(&s.step, s.ms, s.apdus, s.bytes, &s.detail);
    }
    r.steps = samples.summary(true);
    r.duration_s = done.total_ms / 1000.0;
    r.verdict.passed = true;
    r.provision = Some(ProvisionSummary {
        eid: done.eid.to_string(),
        iccid: done.iccid.clone(),
        isdp: done.isdp.as_ref().map(ToString::to_string),
        total_ms: done.total_ms,
        apdus: done.apdus,
        bytes: done.bytes,
    });
    r.notes.push(
        "One provisioning in this process: each step timed by the SM-DP and SM-SR roles, \
         APDUs and bytes counted on the card link."
            .into(),
    );
    r
}
