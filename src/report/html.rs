//! `report.html`: one self-contained page (inline CSS and SVG; no script, no font, no image
//! or style fetched from anywhere), readable printed or offline.

mod sections;

use super::charts;
use super::{Report, ReportKind, StepMedian};
use sections::{components, environment, operations, requests, stages, steps};
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
pub(crate) fn ms(v: f64) -> String {
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
pub(crate) fn table(out: &mut String, head: &[&str], rows: &[(bool, Vec<String>)]) {
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
    let took = if r.duration_s < 10.0 {
        format!("{:.1} ms", r.duration_s * 1000.0)
    } else {
        format!("{:.1} s", r.duration_s)
    };
    let _ = write!(
        o,
        "<p class=\"sub\">{what}; started {} (UTC); {took}</p>",
        escape(&r.started),
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
