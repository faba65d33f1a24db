//! `report.html`: one self-contained page (inline CSS and SVG; no script, no font, no image
//! or style fetched from anywhere), readable printed or offline.

use super::charts;
use super::{Report, ReportKind, StepMedian};
use std::fmt::Write;

const CSS: &str = "
body { font-family: sans-serif; margin: 24px auto; max-width: 980px; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
.sub { color: #555; margin-top: 0; }
.verdict { padding: 10px 14px; border-radius: 4px; font-weight: bold; margin: 12px 0; }
.pass { background: #e3f4e1; border: 1px solid #2ca02c; }
.fail { background: #fbe3e3; border: 1px solid #d62728; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; }
td.l, th.l { text-align: left; }
tr.bad td { background: #fdf0f0; }
.chart svg { max-width: 100%; height: auto; border: 1px solid #eee; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.note { color: #555; font-size: 0.9em; }
code { background: #f5f5f5; padding: 0 3px; }
";

/// Text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number of ms, or a dash.
fn ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "–".into()
    }
}

fn chart(out: &mut String, drawn: Result<Option<String>, String>) {
    match drawn {
        Ok(Some(svg)) => {
            let _ = write!(out, "<div class=\"chart\">{svg}</div>");
        }
        Ok(None) => {}
        Err(e) => {
            let _ = write!(out, "<p class=\"note\">chart not drawn: {}</p>", escape(&e));
        }
    }
}

/// A table: header cells (a leading `<` left-aligns the column) and rows of cell HTML.
fn table(out: &mut String, head: &[&str], rows: &[(bool, Vec<String>)]) {
    out.push_str("<table><tr>");
    for h in head {
        let (class, text) = match h.strip_prefix('<') {
            Some(t) => (" class=\"l\"", t),
            None => ("", *h),
        };
        let _ = write!(out, "<th{class}>{}</th>", escape(text));
    }
    out.push_str("</tr>");
    for (bad, cells) in rows {
        out.push_str(if *bad { "<tr class=\"bad\">" } else { "<tr>" });
        for (h, c) in head.iter().zip(cells) {
            let class = if h.starts_with('<') {
                " class=\"l\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

/// The page.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>",
        escape(&r.title)
    );
    let _ = write!(o, "<h1>{}</h1>", escape(&r.title));
    let what = match (r.kind, &r.scenario) {
        (ReportKind::Provision, _) => "one provisioning".to_owned(),
        (ReportKind::Load, Some(s)) => format!("load run, scenario <code>{}</code>", escape(s)),
        (ReportKind::Load, None) => "load run".to_owned(),
    };
    let _ = write!(
        o,
        "<p class=\"sub\">{what}; started {} (UTC); {:.1} s</p>",
        escape(&r.started),
        r.duration_s
    );
    verdict(&mut o, r);
    o.push_str("<h2>Charts</h2>");
    chart(&mut o, charts::latency_percentiles(&r.operations));
    chart(&mut o, charts::timeline(&r.timeline));
    let columns: Vec<(String, Vec<StepMedian>)> = if r.stages.len() > 1 {
        r.stages
            .iter()
            .map(|s| (stage_label(s.offered_rate, s.index), s.step_medians.clone()))
            .collect()
    } else {
        let medians = r
            .steps
            .steps
            .iter()
            .map(|s| StepMedian {
                step: s.step.clone(),
                ms: s.median_ms,
            })
            .collect();
        let label = match r.kind {
            ReportKind::Provision => "this provisioning",
            ReportKind::Load => "all downloads",
        };
        vec![(label.to_owned(), medians)]
    };
    chart(&mut o, charts::steps_stacked(&columns));
    chart(&mut o, charts::stress(&r.stages, r.knee.as_ref()));
    operations(&mut o, r);
    steps(&mut o, r);
    stages(&mut o, r);
    requests(&mut o, r);
    components(&mut o, r);
    environment(&mut o, r);
    if !r.notes.is_empty() {
        o.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = write!(o, "<li class=\"note\">{}</li>", escape(n));
        }
        o.push_str("</ul>");
    }
    o.push_str("</body></html>\n");
    o
}

fn stage_label(rate: f64, index: usize) -> String {
    if rate > 0.0 {
        format!("{rate:.1}/s")
    } else {
        format!("stage {index}")
    }
}

fn verdict(o: &mut String, r: &Report) {
    let (class, text) = if r.verdict.passed {
        ("pass", "PASSED")
    } else {
        ("fail", "FAILED")
    };
    let _ = write!(o, "<div class=\"verdict {class}\" id=\"verdict\">{text}");
    if let Some(f) = r.verdict.failures.first() {
        let _ = write!(
            o,
            ": {} × {} {}",
            f.count,
            escape(&f.operation),
            escape(&f.code)
        );
    }
    o.push_str("</div>");
    if !r.verdict.rules.is_empty() {
        let rows: Vec<(bool, Vec<String>)> = r
            .verdict
            .rules
            .iter()
            .map(|x| {
                (
                    !x.passed,
                    vec![
                        escape(&x.rule),
                        format!("{:.2}", x.observed),
                        format!("{:.2}", x.limit),
                        if x.passed { "pass" } else { "FAIL" }.into(),
                    ],
                )
            })
            .collect();
        table(o, &["<rule", "observed", "limit", "<result"], &rows);
    }
    if !r.verdict.failures.is_empty() {
        o.push_str("<h2>Failures</h2>");
        let rows: Vec<(bool, Vec<String>)> = r
            .verdict
            .failures
            .iter()
            .map(|f| {
                (
                    true,
                    vec![
                        escape(&f.operation),
                        escape(&f.code),
                        f.count.to_string(),
                        escape(&f.example),
                    ],
                )
            })
            .collect();
        table(
            o,
            &["<operation", "<status code", "count", "<example"],
            &rows,
        );
    }
}

fn operations(o: &mut String, r: &Report) {
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

fn steps(o: &mut String, r: &Report) {
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

fn stages(o: &mut String, r: &Report) {
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

fn requests(o: &mut String, r: &Report) {
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

fn components(o: &mut String, r: &Report) {
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

fn environment(o: &mut String, r: &Report) {
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
        let after = e.load_average_after.as_deref().unwrap_or("–");
        rows.push((
            false,
            vec![
                "load average (1, 5, 15 min)".into(),
                format!("{} before, {} after", escape(before), escape(after)),
            ],
        ));
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
    table(o, &["<", "<"], &rows);
    if !r.settings.is_empty() {
        o.push_str("<h2>Settings</h2>");
        let rows: Vec<(bool, Vec<String>)> = r
            .settings
            .iter()
            .map(|(k, v)| (false, vec![escape(k), escape(v)]))
            .collect();
        table(o, &["<", "<"], &rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Failure, OperationStats, Report, ReportKind};

    #[test]
    fn the_page_is_self_contained_and_names_the_failure() {
        let mut r = Report::new(ReportKind::Load, "smsr-load <smoke>");
        r.operations.push(OperationStats {
            name: "es2.DownloadProfile".into(),
            count: 3,
            errors: 3,
            error_rate: 100.0,
            errors_by_code: [("Failed 8.2.1/3.9".to_owned(), 3)].into_iter().collect(),
            min_ms: 1.0,
            p50_ms: 2.0,
            p90_ms: 3.0,
            p99_ms: 3.0,
            max_ms: 3.0,
            ..OperationStats::default()
        });
        r.verdict.failures.push(Failure {
            operation: "es2.DownloadProfile".into(),
            code: "Failed 8.2.1/3.9".into(),
            count: 3,
            example: "unknown ICCID".into(),
        });
        let page = render(&r);
        assert!(page.contains("smsr-load &lt;smoke&gt;"));
        assert!(page.contains("FAILED: 3 × es2.DownloadProfile Failed 8.2.1/3.9"));
        assert!(page.contains("<svg"));
        for external in ["<script", "http://", "https://", "<link", "@import", "url("] {
            let outside_svg_ns = page.replace("http://www.w3.org/2000/svg", "");
            assert!(!outside_svg_ns.contains(external), "{external}");
        }
    }
}
