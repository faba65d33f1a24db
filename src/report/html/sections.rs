//! The tables of `report.html`, one function per section.

use super::{escape, ms, table};
use crate::report::{charts, Report};
use std::fmt::Write;

pub(super) fn operations(o: &mut String, r: &Report) {
    if r.operations.is_empty() {
        return;
    }
    o.push_str("<h2>Operations (end to end: request to result)</h2>");
    let corrected = r.operations.iter().any(|x| x.p99_corrected_ms.is_some());
    let rows: Vec<(bool, Vec<String>)> = r
        .operations
        .iter()
        .map(|x| {
            let codes = x
                .errors_by_code
                .iter()
                .map(|(c, n)| format!("{} × {n}", escape(c)))
                .collect::<Vec<_>>()
                .join(", ");
            let mut cells = vec![
                escape(&x.name),
                x.count.to_string(),
                x.ok.to_string(),
                x.errors.to_string(),
                format!("{:.2}%", x.error_rate),
                format!("{:.2}", x.throughput),
                ms(x.min_ms),
                ms(x.p50_ms),
                ms(x.p90_ms),
                ms(x.p99_ms),
                ms(x.max_ms),
            ];
            if corrected {
                cells.push(x.p99_corrected_ms.map_or_else(|| "–".into(), ms));
            }
            cells.push(codes);
            (x.errors > 0, cells)
        })
        .collect();
    let mut head = vec![
        "<operation",
        "count",
        "ok",
        "errors",
        "error rate",
        "per s",
        "min ms",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
    ];
    if corrected {
        head.push("p99 ms from schedule");
    }
    head.push("<errors by status code");
    table(o, &head, &rows);
}

pub(super) fn steps(o: &mut String, r: &Report) {
    let s = &r.steps;
    if s.steps.is_empty() {
        return;
    }
    o.push_str("<h2>Card steps</h2>");
    let with_detail = s.steps.iter().any(|x| !x.detail.is_empty());
    let rows: Vec<(bool, Vec<String>)> = s
        .steps
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let mut cells = vec![
                format!(
                    "<span class=\"swatch\" style=\"background:{}\"></span>{}",
                    charts::color_hex(i),
                    escape(&x.step)
                ),
                x.count.to_string(),
                ms(x.median_ms),
                ms(x.p90_ms),
                format!("{:.1}%", x.share),
                format!("{:.0}", x.apdus),
                format!("{:.0}", x.bytes),
                if x.bottleneck { "bottleneck" } else { "" }.into(),
            ];
            if with_detail {
                cells.push(escape(&x.detail));
            }
            (false, cells)
        })
        .collect();
    let mut head = vec![
        "<step",
        "count",
        "median ms",
        "p90 ms",
        "share",
        "APDUs",
        "bytes",
        "<",
    ];
    if with_detail {
        head.push("<detail");
    }
    table(o, &head, &rows);
    if let Some(b) = &s.bottleneck {
        let _ = write!(
            o,
            "<p>Bottleneck: <b>{}</b> (the largest step over 20 % of the time).</p>",
            escape(b)
        );
    }
    if let Some(g) = &s.growing {
        let _ = write!(
            o,
            "<p>Grows most with load: <b>{}</b>, median {} ms at {:.1}/s → {} ms at {:.1}/s.</p>",
            escape(&g.step),
            ms(g.from_ms),
            g.from_rate,
            ms(g.to_ms),
            g.to_rate
        );
    }
}

pub(super) fn stages(o: &mut String, r: &Report) {
    if r.stages.len() < 2 && r.knee.is_none() {
        return;
    }
    o.push_str("<h2>Load stages</h2>");
    let knee_stage = r.knee.as_ref().map(|k| k.stage);
    let rows: Vec<(bool, Vec<String>)> = r
        .stages
        .iter()
        .map(|s| {
            (
                s.errors > 0,
                vec![
                    s.index.to_string(),
                    format!("{:.1}", s.offered_rate),
                    format!("{:.0}", s.seconds),
                    s.started.to_string(),
                    s.ok.to_string(),
                    s.errors.to_string(),
                    format!("{:.2}", s.throughput),
                    ms(s.p50_ms),
                    ms(s.p99_ms),
                    if knee_stage == Some(s.index) {
                        "knee"
                    } else {
                        ""
                    }
                    .into(),
                ],
            )
        })
        .collect();
    table(
        o,
        &[
            "stage",
            "offered /s",
            "s",
            "started",
            "ok",
            "errors",
            "completed /s",
            "p50 ms",
            "p99 ms",
            "<",
        ],
        &rows,
    );
    match &r.knee {
        Some(k) => {
            let _ = write!(
                o,
                "<p id=\"knee\">Knee: <b>{:.1}/s</b>: {}.</p>",
                k.offered_rate,
                escape(&k.detail)
            );
        }
        None if r.scenario.as_deref() == Some("stress") => {
            o.push_str("<p id=\"knee\">No knee within the ramp: throughput kept up with every stage, or fell behind from the first.</p>");
        }
        None => {}
    }
}

pub(super) fn requests(o: &mut String, r: &Report) {
    if r.requests.is_empty() {
        return;
    }
    o.push_str("<h2>HTTP requests (as goose timed them)</h2><p class=\"note\">A card operation is a request answered 202 and the polls of its result (<code>:result</code>); the operations table above times the whole.</p>");
    let rows: Vec<(bool, Vec<String>)> = r
        .requests
        .iter()
        .map(|x| {
            (
                x.failures > 0,
                vec![
                    escape(&x.name),
                    x.count.to_string(),
                    x.failures.to_string(),
                    ms(x.p50_ms),
                    ms(x.p99_ms),
                    ms(x.max_ms),
                ],
            )
        })
        .collect();
    table(
        o,
        &[
            "<request", "count", "failures", "p50 ms", "p99 ms", "max ms",
        ],
        &rows,
    );
}

pub(super) fn components(o: &mut String, r: &Report) {
    if r.components.is_empty() {
        return;
    }
    o.push_str("<h2>Components</h2>");
    let rows: Vec<(bool, Vec<String>)> = r
        .components
        .iter()
        .map(|c| {
            (
                !c.ok,
                vec![
                    escape(&c.service),
                    escape(&c.url),
                    if c.ok { "up" } else { "DOWN" }.into(),
                    c.tls_ms.map_or_else(|| "–".into(), ms),
                    c.response_ms.map_or_else(|| "–".into(), ms),
                    c.cards.map_or_else(|| "–".into(), |n| n.to_string()),
                    escape(&c.detail),
                ],
            )
        })
        .collect();
    table(
        o,
        &[
            "<service",
            "<URL",
            "<status",
            "TLS handshake ms",
            "response ms",
            "cards reached",
            "<detail",
        ],
        &rows,
    );
}

pub(super) fn environment(o: &mut String, r: &Report) {
    let e = &r.environment;
    o.push_str("<h2>Environment</h2>");
    let mut rows: Vec<(bool, Vec<String>)> = vec![
        ("machine", format!("{} × {}", e.cores, e.cpu_model)),
        ("memory", format!("{} MiB", e.memory_mb)),
        ("kernel", e.kernel.clone()),
        ("build profile", e.build_profile.clone()),
        (
            "git commit",
            e.git_commit.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("tool", e.tool.clone()),
        ("command line", e.command_line.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (false, vec![k.to_owned(), escape(&v)]))
    .collect();
    if let Some(n) = e.fleet_size {
        rows.push((false, vec!["fleet".into(), format!("{n} card(s)")]));
    }
    if let Some(s) = &e.store {
        rows.push((false, vec!["store".into(), escape(s)]));
    }
    if let Some(before) = &e.load_average_before {
        let value = match &e.load_average_after {
            Some(after) => format!("{} before, {} after", escape(before), escape(after)),
            None => escape(before),
        };
        rows.push((false, vec!["load average (1, 5, 15 min)".into(), value]));
    }
    if let Some(p) = &r.provision {
        rows.push((false, vec!["EID".into(), escape(&p.eid)]));
        if let Some(i) = &p.iccid {
            rows.push((false, vec!["ICCID".into(), escape(i)]));
        }
        rows.push((
            false,
            vec![
                "total".into(),
                format!(
                    "{} ms, {} APDUs, {} bytes",
                    ms(p.total_ms),
                    p.apdus,
                    p.bytes
                ),
            ],
        ));
    }
    table(o, &["<what", "<value"], &rows);
    if !r.settings.is_empty() {
        o.push_str("<h2>Settings</h2>");
        let rows: Vec<(bool, Vec<String>)> = r
            .settings
            .iter()
            .map(|(k, v)| (false, vec![escape(k), escape(v)]))
            .collect();
        table(o, &["<setting", "<value"], &rows);
    }
}
