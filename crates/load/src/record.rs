//! What the run measured, as it goes: per SGP.02 function the end-to-end latency (request to
//! result) in HDR histograms, the outcomes by status code; per second the starts and ends;
//! per stage the flows and the card steps of the DownloadProfile results.

use crate::plan::lock;
use hdrhistogram::Histogram;
use smsr::report::{OperationStats, StepSamples, TimePoint};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Latencies are kept in µs, from 1 µs to 1 h, 3 significant digits.
fn histogram() -> Histogram<u64> {
    // The bounds are valid constants: this cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[allow(clippy::cast_precision_loss)]
fn ms_at(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        f64::NAN
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Not `Executed-Success`: the status code (`Failed 8.2.1/3.9`, `HTTP 403`, `timeout`)
    /// and the message.
    Failure {
        code: String,
        message: String,
    },
}

#[derive(Debug)]
struct Op {
    latency: Histogram<u64>,
    /// From when the operation was due by the schedule.
    corrected: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, (u64, String)>,
}

#[derive(Debug, Default)]
struct StageRec {
    started: u64,
    ended: u64,
    ok: u64,
    errors: u64,
    flow: Option<Histogram<u64>>,
    steps: StepSamples,
}

#[derive(Debug, Default)]
struct Inner {
    order: Vec<String>,
    ops: BTreeMap<String, Op>,
    seconds: Vec<TimePoint>,
    stages: Vec<StageRec>,
    steps: StepSamples,
    failed_checks: Vec<String>,
    /// When each successful flow ended (seconds since the start).
    flows_ok_at: Vec<f64>,
    /// When the last flow ended.
    last_end: Option<Instant>,
}

/// The recorder, shared by every user.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

impl Inner {
    fn second(&mut self, start: Instant, at: Instant) -> &mut TimePoint {
        let s = at.saturating_duration_since(start).as_secs();
        let i = usize::try_from(s).unwrap_or(usize::MAX).min(100_000);
        while self.seconds.len() <= i {
            #[allow(clippy::cast_precision_loss)]
            let t = self.seconds.len() as f64;
            self.seconds.push(TimePoint {
                t,
                ..TimePoint::default()
            });
        }
        &mut self.seconds[i]
    }

    fn stage(&mut self, i: usize) -> &mut StageRec {
        while self.stages.len() <= i {
            self.stages.push(StageRec::default());
        }
        &mut self.stages[i]
    }
}

/// A stage's flows as recorded.
#[derive(Clone, Debug, Default)]
pub struct StageFigures {
    pub started: u64,
    pub ended: u64,
    pub ok: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub steps: StepSamples,
}

impl Recorder {
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    /// A flow of stage `stage` was given its start.
    pub fn flow_started(&self, stage: usize) {
        lock(&self.inner).stage(stage).started += 1;
    }

    /// A flow of stage `stage` ended at `end`, due at `due`; `ok` if every operation succeeded.
    pub fn flow_ended(&self, stage: usize, due: Instant, end: Instant, ok: bool) {
        let mut i = lock(&self.inner);
        i.last_end = Some(i.last_end.map_or(end, |t| t.max(end)));
        let s = i.stage(stage);
        s.ended += 1;
        if ok {
            s.ok += 1;
            let took = micros(end.saturating_duration_since(due));
            s.flow.get_or_insert_with(histogram).saturating_record(took);
            let at = end.saturating_duration_since(self.start).as_secs_f64();
            i.flows_ok_at.push(at);
        } else {
            s.errors += 1;
        }
    }

    /// One operation: sent at `sent`, due at `due`, result at `end`.
    pub fn operation(
        &self,
        name: &str,
        due: Instant,
        sent: Instant,
        end: Instant,
        outcome: &Outcome,
    ) {
        let mut i = lock(&self.inner);
        if !i.ops.contains_key(name) {
            i.order.push(name.to_owned());
            i.ops.insert(
                name.to_owned(),
                Op {
                    latency: histogram(),
                    corrected: histogram(),
                    ok: 0,
                    errors: BTreeMap::new(),
                },
            );
        }
        let start = self.start;
        i.second(start, sent).started += 1;
        match outcome {
            Outcome::Success => i.second(start, end).ok += 1,
            Outcome::Failure { .. } => i.second(start, end).errors += 1,
        }
        let Some(op) = i.ops.get_mut(name) else {
            return;
        };
        op.latency
            .saturating_record(micros(end.saturating_duration_since(sent)));
        op.corrected
            .saturating_record(micros(end.saturating_duration_since(due.min(sent))));
        match outcome {
            Outcome::Success => op.ok += 1,
            Outcome::Failure { code, message } => {
                let e = op
                    .errors
                    .entry(code.clone())
                    .or_insert_with(|| (0, message.clone()));
                e.0 += 1;
            }
        }
    }

    /// The card steps of a DownloadProfile result of stage `stage`.
    pub fn steps(&self, stage: usize, result: &serde_json::Value) {
        let mut i = lock(&self.inner);
        i.steps.add_result(result);
        i.stage(stage).steps.add_result(result);
    }

    /// A check of the smoke scenario that did not hold.
    pub fn check_failed(&self, what: String) {
        lock(&self.inner).failed_checks.push(what);
    }

    pub fn failed_checks(&self) -> Vec<String> {
        lock(&self.inner).failed_checks.clone()
    }

    /// Each operation's figures, in the order they first ran; `seconds` is the run's length
    /// (for throughput); `paced` adds the p99 counted from the schedule.
    pub fn operations(&self, seconds: f64, paced: bool) -> Vec<OperationStats> {
        let i = lock(&self.inner);
        i.order
            .iter()
            .filter_map(|name| {
                let op = i.ops.get(name)?;
                let errors: u64 = op.errors.values().map(|e| e.0).sum();
                let count = op.ok + errors;
                #[allow(clippy::cast_precision_loss)]
                Some(OperationStats {
                    name: name.clone(),
                    count,
                    ok: op.ok,
                    errors,
                    error_rate: if count > 0 {
                        errors as f64 * 100.0 / count as f64
                    } else {
                        0.0
                    },
                    errors_by_code: op.errors.iter().map(|(c, e)| (c.clone(), e.0)).collect(),
                    throughput: if seconds > 0.0 {
                        op.ok as f64 / seconds
                    } else {
                        0.0
                    },
                    min_ms: if op.latency.is_empty() {
                        f64::NAN
                    } else {
                        op.latency.min() as f64 / 1000.0
                    },
                    p50_ms: ms_at(&op.latency, 0.50),
                    p90_ms: ms_at(&op.latency, 0.90),
                    p99_ms: ms_at(&op.latency, 0.99),
                    max_ms: if op.latency.is_empty() {
                        f64::NAN
                    } else {
                        op.latency.max() as f64 / 1000.0
                    },
                    p99_corrected_ms: paced.then(|| ms_at(&op.corrected, 0.99)),
                })
            })
            .collect()
    }

    /// (operation, status code, count, one message) of every failure, most frequent first.
    pub fn failures(&self) -> Vec<(String, String, u64, String)> {
        let i = lock(&self.inner);
        let mut all: Vec<(String, String, u64, String)> = i
            .ops
            .iter()
            .flat_map(|(name, op)| {
                op.errors
                    .iter()
                    .map(move |(code, (n, msg))| (name.clone(), code.clone(), *n, msg.clone()))
            })
            .collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        all
    }

    pub fn timeline(&self) -> Vec<TimePoint> {
        lock(&self.inner).seconds.clone()
    }

    pub fn all_steps(&self) -> StepSamples {
        lock(&self.inner).steps.clone()
    }

    /// Stage `i`'s flows.
    pub fn stage(&self, i: usize) -> StageFigures {
        let inner = lock(&self.inner);
        let Some(s) = inner.stages.get(i) else {
            return StageFigures::default();
        };
        let (p50_ms, p99_ms) = match &s.flow {
            Some(h) => (ms_at(h, 0.5), ms_at(h, 0.99)),
            None => (f64::NAN, f64::NAN),
        };
        StageFigures {
            started: s.started,
            ended: s.ended,
            ok: s.ok,
            errors: s.errors,
            p50_ms,
            p99_ms,
            steps: s.steps.clone(),
        }
    }

    /// Successful flows that ended between `from` and `to` (seconds since the start).
    pub fn flows_ok_between(&self, from: f64, to: f64) -> u64 {
        let i = lock(&self.inner);
        i.flows_ok_at
            .iter()
            .filter(|t| **t >= from && **t < to)
            .count() as u64
    }

    /// When the last flow ended.
    pub fn last_flow_end(&self) -> Option<Instant> {
        lock(&self.inner).last_end
    }

    /// Flows started and not ended, over every stage.
    pub fn in_flight(&self) -> u64 {
        let i = lock(&self.inner);
        i.stages
            .iter()
            .map(|s| s.started - s.ended.min(s.started))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_failures_are_counted() {
        let t0 = Instant::now();
        let r = Recorder::new(t0);
        let ms = |n| t0 + Duration::from_millis(n);
        r.flow_started(0);
        r.operation("es2.DownloadProfile", t0, ms(10), ms(70), &Outcome::Success);
        r.flow_ended(0, t0, ms(70), true);
        for _ in 0..3 {
            r.operation(
                "es2.DownloadProfile",
                ms(100),
                ms(100),
                ms(105),
                &Outcome::Failure {
                    code: "Failed 8.2.1/3.9".into(),
                    message: "unknown ICCID".into(),
                },
            );
        }
        let ops = r.operations(1.0, true);
        assert_eq!(ops.len(), 1);
        let o = &ops[0];
        assert_eq!((o.count, o.ok, o.errors), (4, 1, 3));
        assert!((o.error_rate - 75.0).abs() < 1e-9);
        assert!((o.max_ms - 60.0).abs() < 0.1, "{o:?}");
        // The schedule said t0: the flow's first request went 10 ms late.
        assert!((o.p99_corrected_ms.unwrap() - 70.0).abs() < 0.1);
        assert_eq!(
            r.failures(),
            [(
                "es2.DownloadProfile".to_owned(),
                "Failed 8.2.1/3.9".to_owned(),
                3,
                "unknown ICCID".to_owned()
            )]
        );
        let s = r.stage(0);
        assert_eq!((s.started, s.ok, s.errors), (1, 1, 0));
        assert_eq!(r.in_flight(), 0);
        assert_eq!(r.timeline()[0].errors, 3);
        assert_eq!(r.timeline()[0].started, 4);
        assert_eq!(r.flows_ok_between(0.0, 1.0), 1);
    }
}
