//! The report's charts, drawn by plotters into SVG strings (its SVG backend, text measured by
//! its naive metrics: the browser lays out the text itself).
//!
//! Each function returns the `<svg>` element, or `None` when there is nothing to draw; a
//! drawing error comes back as its message, which the page shows in place of the chart.

use super::{Knee, OperationStats, Stage, StepMedian, TimePoint};
use plotters::prelude::*;

type Drawn = Result<Option<String>, String>;

/// A value of a row, for one series.
type Pick<T> = fn(&T) -> f64;

/// Chart width and height (px).
const SIZE: (u32, u32) = (860, 340);
const FONT: &str = "sans-serif";

/// Tableau 10: distinguishable, print-safe.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of series `i`.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `#rrggbb` of series `i` (for the tables next to a chart).
pub fn color_hex(i: usize) -> String {
    let RGBColor(r, g, b) = color(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The label of category `x` (an integer position) among `names`, else nothing.
fn category(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    names.get(i as usize).cloned().unwrap_or_default()
}

/// Grouped bars per operation: p50, p90, p99 and max of the end-to-end latency (log scale).
pub fn latency_percentiles(ops: &[OperationStats]) -> Drawn {
    let ops: Vec<&OperationStats> = ops.iter().filter(|o| o.ok + o.errors > 0).collect();
    if ops.is_empty() {
        return Ok(None);
    }
    let series: [(&str, Pick<OperationStats>); 4] = [
        ("p50", |o| o.p50_ms),
        ("p90", |o| o.p90_ms),
        ("p99", |o| o.p99_ms),
        ("max", |o| o.max_ms),
    ];
    let values = ops
        .iter()
        .flat_map(|o| series.iter().map(move |(_, f)| f(o)))
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        return Ok(None);
    }
    // Headroom above the bars for the legend.
    let (lo, hi) = ((lo / 2.0).max(0.01), hi * 6.0);
    let names: Vec<String> = ops.iter().map(|o| o.name.clone()).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        #[allow(clippy::cast_precision_loss)]
        let n = names.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "End-to-end latency per operation (request to result)",
                (FONT, 16),
            )
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..n - 0.5, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .disable_x_mesh()
            .x_labels(names.len() + 2)
            .x_label_formatter(&|x| category(&names, *x))
            .y_desc("ms (log scale)")
            .y_label_formatter(&|y| format_ms(*y))
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        let width = 0.8 / series.len() as f64;
        for (k, (label, f)) in series.iter().enumerate() {
            let c = color(k);
            #[allow(clippy::cast_precision_loss)]
            let bars = ops.iter().enumerate().filter_map(|(i, o)| {
                let v = f(o);
                (v.is_finite() && v > 0.0).then(|| {
                    let x0 = i as f64 - 0.4 + k as f64 * width;
                    Rectangle::new([(x0, lo), (x0 + width * 0.9, v)], c.filled())
                })
            });
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(*label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            #[allow(clippy::cast_precision_loss)]
            let values = ops.iter().enumerate().filter_map(|(i, o)| {
                let v = f(o);
                (v.is_finite() && v > 0.0).then(|| {
                    let x0 = i as f64 - 0.4 + k as f64 * width;
                    Text::new(format_ms(v), (x0, v * 1.15), (FONT, 11).into_font())
                })
            });
            chart.draw_series(values).map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// Operations started, succeeded and failed per second of the run.
pub fn timeline(points: &[TimePoint]) -> Drawn {
    if points.is_empty() {
        return Ok(None);
    }
    let t_max = points.iter().map(|p| p.t).fold(1.0, f64::max) + 1.0;
    #[allow(clippy::cast_precision_loss)]
    let y_max = points
        .iter()
        .map(|p| p.started.max(p.ok).max(p.errors) as f64)
        .fold(1.0, f64::max)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Throughput and errors over time", (FONT, 16))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..t_max, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc("seconds since the start")
            .y_desc("operations per second")
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        #[allow(clippy::cast_precision_loss)]
        let lines: [(&str, RGBColor, Pick<TimePoint>); 3] = [
            ("started", color(7), |p| p.started as f64),
            ("Executed-Success", color(2), |p| p.ok as f64),
            ("failed", color(3), |p| p.errors as f64),
        ];
        for (label, c, f) in lines {
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.t + 0.5, f(p))),
                    c.stroke_width(2),
                ))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2))
                });
            if points.len() < 30 {
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|p| Circle::new((p.t + 0.5, f(p)), 3, c.filled())),
                    )
                    .map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// One stacked bar per column: the median of each card step. `columns` are (label, medians).
pub fn steps_stacked(columns: &[(String, Vec<StepMedian>)]) -> Drawn {
    let columns: Vec<&(String, Vec<StepMedian>)> =
        columns.iter().filter(|(_, m)| !m.is_empty()).collect();
    if columns.is_empty() {
        return Ok(None);
    }
    let mut steps: Vec<String> = Vec::new();
    for (_, medians) in &columns {
        for m in medians {
            if !steps.contains(&m.step) {
                steps.push(m.step.clone());
            }
        }
    }
    let total = |m: &[StepMedian]| m.iter().map(|s| s.ms.max(0.0)).sum::<f64>();
    let y_max = columns.iter().map(|(_, m)| total(m)).fold(1.0, f64::max) * 1.12;
    let names: Vec<String> = columns.iter().map(|(l, _)| l.clone()).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        #[allow(clippy::cast_precision_loss)]
        let n = names.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption("Time per card step (median, stacked)", (FONT, 16))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .disable_x_mesh()
            .x_labels(names.len() + 2)
            .x_label_formatter(&|x| category(&names, *x))
            .y_desc("ms")
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        for (k, step) in steps.iter().enumerate() {
            let c = color(k);
            #[allow(clippy::cast_precision_loss)]
            let bars = columns.iter().enumerate().filter_map(|(i, (_, medians))| {
                let pos = medians.iter().position(|m| &m.step == step)?;
                let base = total(&medians[..pos]);
                let top = base + medians[pos].ms.max(0.0);
                let x = i as f64;
                Some(Rectangle::new(
                    [(x - 0.3, base), (x + 0.3, top)],
                    c.filled(),
                ))
            });
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(step.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// Throughput (left axis) and p99 (right axis) against the offered rate of each stage, the
/// ideal throughput as a dashed diagonal, and the knee marked.
pub fn stress(stages: &[Stage], knee: Option<&Knee>) -> Drawn {
    let stages: Vec<&Stage> = stages.iter().filter(|s| s.offered_rate > 0.0).collect();
    if stages.len() < 2 {
        return Ok(None);
    }
    let x_max = stages.iter().map(|s| s.offered_rate).fold(1.0, f64::max) * 1.08;
    let y_max = stages
        .iter()
        .map(|s| s.throughput.max(s.offered_rate))
        .fold(1.0, f64::max)
        * 1.1;
    let p_max = stages
        .iter()
        .map(|s| s.p99_ms)
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Throughput and p99 per offered rate", (FONT, 16))
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(err)?
            .set_secondary_coord(0.0..x_max, 0.0..p_max);
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc("offered rate (operations started per second)")
            .y_desc("completed per second")
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_desc("p99 ms")
            .label_style((FONT, 12))
            .draw()
            .map_err(err)?;
        let ideal = color(7);
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (x_max, x_max)],
                6,
                4,
                ideal.stroke_width(1),
            ))
            .map_err(err)?
            .label("ideal (completed = offered)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], ideal));
        let (tc, pc) = (color(0), color(3));
        chart
            .draw_series(LineSeries::new(
                stages.iter().map(|s| (s.offered_rate, s.throughput)),
                tc.stroke_width(2),
            ))
            .map_err(err)?
            .label("completed per second")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], tc.stroke_width(2)));
        chart
            .draw_series(
                stages
                    .iter()
                    .map(|s| Circle::new((s.offered_rate, s.throughput), 3, tc.filled())),
            )
            .map_err(err)?;
        chart
            .draw_secondary_series(LineSeries::new(
                stages.iter().map(|s| (s.offered_rate, s.p99_ms)),
                pc.stroke_width(2),
            ))
            .map_err(err)?
            .label("p99 (right axis)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], pc.stroke_width(2)));
        chart
            .draw_secondary_series(
                stages
                    .iter()
                    .map(|s| Circle::new((s.offered_rate, s.p99_ms), 3, pc.filled())),
            )
            .map_err(err)?;
        if let Some(k) = knee {
            let kc = BLACK;
            chart
                .draw_series(DashedLineSeries::new(
                    [(k.offered_rate, 0.0), (k.offered_rate, y_max)],
                    3,
                    3,
                    kc.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("knee: {:.1}/s", k.offered_rate))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], kc.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// `12.3`, `1.2k`: a tick label in ms.
fn format_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, p50: f64) -> OperationStats {
        OperationStats {
            name: name.into(),
            count: 10,
            ok: 10,
            min_ms: p50 / 2.0,
            p50_ms: p50,
            p90_ms: p50 * 1.5,
            p99_ms: p50 * 2.0,
            max_ms: p50 * 3.0,
            ..OperationStats::default()
        }
    }

    #[test]
    fn charts_are_svg_with_their_labels() {
        let svg = latency_percentiles(&[op("es2.DownloadProfile", 60.0), op("es4.AuditEIS", 9.0)])
            .unwrap()
            .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert!(svg.contains("es2.DownloadProfile") && svg.contains("p99"));
        let points: Vec<TimePoint> = (0..5)
            .map(|t| TimePoint {
                t: f64::from(t),
                started: 5,
                ok: 4,
                errors: 1,
            })
            .collect();
        assert!(timeline(&points).unwrap().unwrap().contains("failed"));
        let medians = vec![
            StepMedian {
                step: "create-isdp".into(),
                ms: 5.0,
            },
            StepMedian {
                step: "download".into(),
                ms: 9.0,
            },
        ];
        let svg = steps_stacked(&[("5/s".into(), medians.clone()), ("10/s".into(), medians)])
            .unwrap()
            .unwrap();
        assert!(svg.contains("create-isdp") && svg.contains("10/s"));
        let stages: Vec<Stage> = [(5.0, 5.0, 90.0), (10.0, 9.9, 100.0), (20.0, 12.0, 800.0)]
            .iter()
            .enumerate()
            .map(|(index, &(offered_rate, throughput, p99_ms))| Stage {
                index,
                offered_rate,
                throughput,
                p99_ms,
                ..Stage::default()
            })
            .collect();
        let knee = super::super::knee(&stages, 0.9);
        assert!(stress(&stages, knee.as_ref())
            .unwrap()
            .unwrap()
            .contains("knee: 10.0/s"));
        assert!(latency_percentiles(&[]).unwrap().is_none());
        assert!(stress(&stages[..1], None).unwrap().is_none());
    }
}
