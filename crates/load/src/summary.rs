//! After the run: the report (operations, stages, knee, steps, verdict) from what the
//! recorder and goose measured, and its summary on the terminal.

use crate::args::{Args, Scenario};
use crate::flows::Run;
use smsr::report::{self, Failure, Report, ReportKind, RequestStats, RuleResult, Stage, Verdict};
use std::time::Instant;

/// The stages that started flows, with their throughput (successful flows ending within the
/// stage's window, per second) and step medians.
pub fn stages(run: &Run, now: Instant) -> Vec<Stage> {
    let start = run.recorder.start();
    run.pacer
        .stages()
        .iter()
        .enumerate()
        .filter_map(|(index, spec)| {
            let (from, to) = run.pacer.stage_window(index, now)?;
            let f = run.recorder.stage(index);
            if f.started == 0 {
                return None;
            }
            let a = from.saturating_duration_since(start).as_secs_f64();
            let b = to.saturating_duration_since(start).as_secs_f64();
            let seconds = (b - a).max(1e-3);
            #[allow(clippy::cast_precision_loss)]
            let throughput = run.recorder.flows_ok_between(a, b) as f64 / seconds;
            Some(Stage {
                index,
                offered_rate: spec.rate,
                seconds,
                started: f.started,
                ok: f.ok,
                errors: f.errors,
                throughput,
                p50_ms: f.p50_ms,
                p99_ms: f.p99_ms,
                step_medians: f.steps.medians(),
            })
        })
        .collect()
}

/// HTTP requests as goose timed them.
pub fn requests(metrics: &goose::metrics::GooseMetrics) -> Vec<RequestStats> {
    #[allow(clippy::cast_precision_loss)]
    let ms = |us: u64| us as f64 / 1000.0;
    let mut out: Vec<RequestStats> = metrics
        .requests
        .iter()
        .map(|(name, r)| RequestStats {
            name: name.clone(),
            count: (r.success_count + r.fail_count) as u64,
            failures: r.fail_count as u64,
            p50_ms: ms(r.raw_data.percentile_us(0.5)),
            p99_ms: ms(r.raw_data.percentile_us(0.99)),
            max_ms: ms(r.raw_data.maximum_time_us),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The thresholds judged: every operation's error rate and p99 (from the schedule when the
/// run had one); for stress, the first stage only (the ramp beyond is what it measures); for
/// smoke, the checks too.
pub fn verdict(args: &Args, run: &Run, report: &Report) -> Verdict {
    let mut rules = Vec::new();
    let ran: u64 = report.operations.iter().map(|o| o.count).sum();
    #[allow(clippy::cast_precision_loss)]
    rules.push(RuleResult {
        rule: "operations run, at least".into(),
        observed: ran as f64,
        limit: 1.0,
        passed: ran >= 1,
    });
    let mut rule = |rule: String, observed: f64, limit: f64| {
        rules.push(RuleResult {
            passed: observed <= limit,
            rule,
            observed,
            limit,
        });
    };
    if args.scenario == Scenario::Stress {
        if let Some(s) = report.stages.first() {
            #[allow(clippy::cast_precision_loss)]
            let rate = if s.started > 0 {
                s.errors as f64 * 100.0 / s.started as f64
            } else {
                0.0
            };
            rule(
                format!("error rate of the first stage ({:.1}/s), %", s.offered_rate),
                rate,
                args.max_error_rate,
            );
            let p99 = if s.p99_ms.is_finite() { s.p99_ms } else { 0.0 };
            rule(
                format!("p99 of the first stage ({:.1}/s), ms", s.offered_rate),
                p99,
                args.p99_ms,
            );
        }
    } else {
        for o in &report.operations {
            rule(
                format!("error rate of {}, %", o.name),
                o.error_rate,
                args.max_error_rate,
            );
            let p99 = o.p99_corrected_ms.unwrap_or(o.p99_ms);
            if p99.is_finite() {
                let from = if o.p99_corrected_ms.is_some() {
                    " (from the schedule)"
                } else {
                    ""
                };
                rule(format!("p99 of {}{from}, ms", o.name), p99, args.p99_ms);
            }
        }
    }
    if args.scenario == Scenario::Smoke {
        let failed = run.recorder.failed_checks();
        #[allow(clippy::cast_precision_loss)]
        rule(
            format!(
                "smoke checks failed{}",
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", failed.join("; "))
                }
            ),
            failed.len() as f64,
            0.0,
        );
    }
    let failures: Vec<Failure> = run
        .recorder
        .failures()
        .into_iter()
        .map(|(operation, code, count, example)| Failure {
            operation,
            code,
            count,
            example,
        })
        .collect();
    Verdict {
        passed: rules.iter().all(|r| r.passed),
        rules,
        failures,
    }
}

/// The report's knee and growing step (stress), bottleneck (every run).
pub fn analyse(report: &mut Report, args: &Args) {
    if args.scenario == Scenario::Stress {
        report.knee = report::knee(&report.stages, 0.9);
    }
    report.steps.growing = report::growing_step(&report.stages);
}

/// The summary printed on stdout.
pub fn print(report: &Report) {
    let v = if report.verdict.passed {
        "PASSED"
    } else {
        "FAILED"
    };
    println!("{}: {v} in {:.1} s", report.title, report.duration_s);
    println!(
        "{:<28} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "operation",
        "count",
        "ok",
        "errors",
        "per s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "p99 sched"
    );
    for o in &report.operations {
        println!(
            "{:<28} {:>6} {:>6} {:>6} {:>8.2} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9}",
            o.name,
            o.count,
            o.ok,
            o.errors,
            o.throughput,
            o.p50_ms,
            o.p90_ms,
            o.p99_ms,
            o.max_ms,
            o.p99_corrected_ms
                .map_or_else(|| "-".into(), |p| format!("{p:.1}"))
        );
    }
    if !report.steps.steps.is_empty() {
        let steps: Vec<String> = report
            .steps
            .steps
            .iter()
            .map(|s| format!("{} {:.1} ms ({:.0}%)", s.step, s.median_ms, s.share))
            .collect();
        println!("card steps (median): {}", steps.join(", "));
    }
    if let Some(b) = &report.steps.bottleneck {
        println!("bottleneck: {b}");
    }
    if let Some(g) = &report.steps.growing {
        println!(
            "grows most with load: {} ({:.1} ms at {:.1}/s -> {:.1} ms at {:.1}/s)",
            g.step, g.from_ms, g.from_rate, g.to_ms, g.to_rate
        );
    }
    if report.stages.len() > 1 {
        for s in &report.stages {
            println!(
                "stage {:>2}: offered {:>7.1}/s  completed {:>7.2}/s  p50 {:>8.1} ms  p99 {:>8.1} ms  errors {}",
                s.index, s.offered_rate, s.throughput, s.p50_ms, s.p99_ms, s.errors
            );
        }
    }
    if let Some(k) = &report.knee {
        println!("knee: {:.1}/s: {}", k.offered_rate, k.detail);
    }
    for r in report.verdict.rules.iter().filter(|r| !r.passed) {
        println!(
            "threshold failed: {} = {:.2} (limit {:.2})",
            r.rule, r.observed, r.limit
        );
    }
    for f in &report.verdict.failures {
        println!(
            "failed: {} {} x {}: {}",
            f.operation, f.code, f.count, f.example
        );
    }
    if let Some(before) = &report.environment.load_average_before {
        println!(
            "machine load average: {before} before, {} after ({} cores)",
            report
                .environment
                .load_average_after
                .as_deref()
                .unwrap_or("-"),
            report.environment.cores
        );
    }
    for n in &report.notes {
        println!("note: {n}");
    }
}

/// A new report for a load run.
pub fn new_report(args: &Args) -> Report {
    let mut r = Report::new(
        ReportKind::Load,
        format!("smsr-load {}", args.scenario.as_str()),
    );
    r.scenario = Some(args.scenario.as_str().into());
    r
}
