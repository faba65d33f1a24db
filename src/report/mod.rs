//! The run report of `smsr-load` and of `smsr provision --report`: what was measured, as
//! `report.json` (this module's types, a stable schema) and as a self-contained `report.html`
//! (inline SVG charts drawn by plotters, inline CSS, no script and no fetch).
//!
//! - [`Report`]: the document; [`Report::write`] writes both files into a directory.
//! - [`environment`]: the machine, the build and the commit the figures come from.
//! - [`charts`]: the SVG charts; [`html`]: the page around them.
//! - [`percentile`], [`StepSamples`]: the statistics both producers share.
//!
//! Every figure is measured; the report draws no conclusion the numbers do not hold: the
//! bottleneck is the step over [`BOTTLENECK_SHARE`] of the time, the knee the last stage whose
//! throughput still followed the offered rate.

pub mod charts;
pub mod environment;
pub mod html;

pub use environment::Environment;

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
        eid: done.eid.clone(),
        iccid: done.iccid.clone(),
        isdp: done.isdp.clone(),
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

/// The `p`-th percentile (0–100, nearest rank) of values sorted ascending; NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => {
            let rank = (p / 100.0 * n as f64).ceil().max(1.0);
            // `rank` is in 1..=n: the cast keeps it.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = (rank as usize).min(n) - 1;
            sorted[i]
        }
    }
}

/// The steps of many results (or of one), in the order they first came.
#[derive(Clone, Debug, Default)]
pub struct StepSamples {
    order: Vec<String>,
    ms: BTreeMap<String, Vec<f64>>,
    apdus: BTreeMap<String, Vec<f64>>,
    bytes: BTreeMap<String, Vec<f64>>,
    detail: BTreeMap<String, String>,
}

impl StepSamples {
    /// Adds one result's step.
    pub fn add(&mut self, step: &str, ms: f64, apdus: u64, bytes: u64, detail: &str) {
        if !self.ms.contains_key(step) {
            self.order.push(step.to_owned());
        }
        self.ms.entry(step.to_owned()).or_default().push(ms);
        #[allow(clippy::cast_precision_loss)]
        {
            self.apdus
                .entry(step.to_owned())
                .or_default()
                .push(apdus as f64);
            self.bytes
                .entry(step.to_owned())
                .or_default()
                .push(bytes as f64);
        }
        self.detail.insert(step.to_owned(), detail.to_owned());
    }

    /// Adds the `steps` array of a DownloadProfile result.
    pub fn add_result(&mut self, result: &serde_json::Value) {
        for s in result["steps"].as_array().into_iter().flatten() {
            self.add(
                s["step"].as_str().unwrap_or("?"),
                s["ms"].as_f64().unwrap_or(0.0),
                s["apdus"].as_u64().unwrap_or(0),
                s["bytes"].as_u64().unwrap_or(0),
                s["detail"].as_str().unwrap_or(""),
            );
        }
    }

    /// Whether no step was added.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Each step's median, in step order.
    pub fn medians(&self) -> Vec<StepMedian> {
        self.order
            .iter()
            .map(|s| StepMedian {
                step: s.clone(),
                ms: median(self.ms.get(s).map(Vec::as_slice).unwrap_or_default()),
            })
            .collect()
    }

    /// The statistics of each step, their shares of the sum of medians, and the bottleneck.
    /// `with_detail` keeps each step's last detail (one provisioning).
    pub fn summary(&self, with_detail: bool) -> StepSummary {
        let sorted = |m: &BTreeMap<String, Vec<f64>>, s: &str| {
            let mut v = m.get(s).cloned().unwrap_or_default();
            v.sort_by(f64::total_cmp);
            v
        };
        let mut steps: Vec<StepStats> = self
            .order
            .iter()
            .map(|s| {
                let ms = sorted(&self.ms, s);
                StepStats {
                    step: s.clone(),
                    count: ms.len() as u64,
                    median_ms: percentile(&ms, 50.0),
                    p90_ms: percentile(&ms, 90.0),
                    share: 0.0,
                    apdus: percentile(&sorted(&self.apdus, s), 50.0),
                    bytes: percentile(&sorted(&self.bytes, s), 50.0),
                    bottleneck: false,
                    detail: if with_detail {
                        self.detail.get(s).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    },
                }
            })
            .collect();
        let total: f64 = steps.iter().map(|s| s.median_ms).sum();
        for s in &mut steps {
            s.share = if total > 0.0 {
                s.median_ms / total * 100.0
            } else {
                0.0
            };
            s.bottleneck = s.share > BOTTLENECK_SHARE;
        }
        let bottleneck = steps
            .iter()
            .filter(|s| s.bottleneck)
            .max_by(|a, b| a.share.total_cmp(&b.share))
            .map(|s| s.step.clone());
        StepSummary {
            steps,
            bottleneck,
            growing: None,
        }
    }
}

/// The median of unsorted values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    percentile(&v, 50.0)
}

/// The step whose median grew most between the first and the last of `stages` that have
/// step medians.
pub fn growing_step(stages: &[Stage]) -> Option<Growth> {
    let with_steps: Vec<&Stage> = stages
        .iter()
        .filter(|s| !s.step_medians.is_empty())
        .collect();
    let (first, last) = (with_steps.first()?, with_steps.last()?);
    if first.index == last.index {
        return None;
    }
    last.step_medians
        .iter()
        .filter_map(|m| {
            let from = first.step_medians.iter().find(|f| f.step == m.step)?;
            Some(Growth {
                step: m.step.clone(),
                from_ms: from.ms,
                to_ms: m.ms,
                from_rate: first.offered_rate,
                to_rate: last.offered_rate,
            })
        })
        .max_by(|a, b| (a.to_ms - a.from_ms).total_cmp(&(b.to_ms - b.from_ms)))
}

/// The knee of a ramp: the last stage (before the first that fell behind) whose throughput
/// kept up with its offered rate (at least `follow` of it, e.g. 0.9) without an error; `None`
/// when the first stage already fell behind, or when every stage kept up (no knee within the
/// ramp). The p99 of the knee and of the stage after it say how latency climbed.
pub fn knee(stages: &[Stage], follow: f64) -> Option<Knee> {
    let keeps_up = |s: &Stage| {
        s.offered_rate > 0.0 && s.throughput >= follow * s.offered_rate && s.errors == 0
    };
    let first_behind = stages.iter().position(|s| !keeps_up(s))?;
    let knee = stages.get(first_behind.checked_sub(1)?)?;
    let next = &stages[first_behind];
    Some(Knee {
        stage: knee.index,
        offered_rate: knee.offered_rate,
        throughput: knee.throughput,
        p99_ms: knee.p99_ms,
        detail: format!(
            "at {:.1}/s offered the services completed {:.1}/s (p99 {:.0} ms); at {:.1}/s \
             offered they completed {:.1}/s with p99 {:.0} ms and {} error(s)",
            knee.offered_rate,
            knee.throughput,
            knee.p99_ms,
            next.offered_rate,
            next.throughput,
            next.p99_ms,
            next.errors
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn steps_over_a_fifth_are_bottlenecks() {
        let mut s = StepSamples::default();
        for (step, ms) in [("a", 10.0), ("b", 50.0), ("c", 40.0)] {
            s.add(step, ms, 1, 2, "");
        }
        let sum = s.summary(false);
        assert_eq!(sum.bottleneck.as_deref(), Some("b"));
        let names: Vec<_> = sum
            .steps
            .iter()
            .map(|s| (s.step.as_str(), s.bottleneck))
            .collect();
        assert_eq!(names, [("a", false), ("b", true), ("c", true)]);
        assert!((sum.steps[1].share - 50.0).abs() < 1e-9);
    }

    fn stage(index: usize, rate: f64, throughput: f64, p99: f64) -> Stage {
        Stage {
            index,
            offered_rate: rate,
            throughput,
            p99_ms: p99,
            step_medians: vec![
                StepMedian {
                    step: "x".into(),
                    ms: p99 / 10.0,
                },
                StepMedian {
                    step: "y".into(),
                    ms: 1.0,
                },
            ],
            ..Stage::default()
        }
    }

    #[test]
    fn the_knee_is_the_last_stage_that_kept_up() {
        let stages = [
            stage(0, 5.0, 5.0, 100.0),
            stage(1, 10.0, 9.8, 120.0),
            stage(2, 20.0, 12.0, 900.0),
            stage(3, 40.0, 12.5, 3000.0),
        ];
        let k = knee(&stages, 0.9).unwrap();
        assert_eq!((k.stage, k.offered_rate), (1, 10.0));
        assert!(
            k.detail.contains("completed 12.0/s with p99 900 ms"),
            "{}",
            k.detail
        );
        // Kept up throughout: no knee within the ramp; behind from the start: none either.
        assert!(knee(&stages[..2], 0.9).is_none());
        assert!(knee(&stages[2..], 0.9).is_none());
        // An error is falling behind too.
        let mut with_error = stages.clone();
        with_error[1].errors = 1;
        assert_eq!(knee(&with_error, 0.9).unwrap().stage, 0);
        let g = growing_step(&stages).unwrap();
        assert_eq!((g.step.as_str(), g.from_ms, g.to_ms), ("x", 10.0, 300.0));
    }
}
