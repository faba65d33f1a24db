//! The statistics both report producers share: nearest-rank percentiles, the card steps of
//! many results, the step that grows with load, the knee of a ramp.

use super::{Growth, Knee, Stage, StepMedian, StepStats, StepSummary, BOTTLENECK_SHARE};
use std::collections::BTreeMap;

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
