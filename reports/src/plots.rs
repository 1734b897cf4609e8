//! The report's plots, drawn server-side with plotters into inline SVG: latency over time
//! (per operation kind, ok/fail/info marked), latency quantiles over time, throughput over
//! time. Fault intervals are shaded and labelled on each.
//!
//! ```text
//!  History.ops ──bucket by completion time──▶ points / quantiles / rates ──plotters──▶ <svg>
//! ```
//! Scatter series are thinned to at most [`MAX_POINTS`] points per (kind, outcome) so the SVG
//! stays small on 100,000-operation histories; quantiles and rates use every operation.

use faultline_checker::{History, Operation, Outcome};
use plotters::prelude::*;

use crate::error::ReportError;
use crate::nemesis::Interval;

/// Most points drawn per (kind, outcome) scatter series.
pub const MAX_POINTS: usize = 2500;
const W: u32 = 960;
const H: u32 = 300;
/// Colours per operation kind (in order of first appearance).
const KIND_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

/// Three inline SVG documents.
#[derive(Debug, Clone)]
pub struct Plots {
    /// Latency over time per kind, ok/fail/info marked.
    pub latency: String,
    /// p50/p95/p99/max latency of ok operations over time.
    pub quantiles: String,
    /// Completions per second over time, per outcome.
    pub throughput: String,
}

/// The colour of a fault family, shared with the page's script.
pub fn fault_color(kind: &str) -> RGBColor {
    match kind {
        "partition" | "figure8" => RGBColor(255, 152, 0),
        "kill" => RGBColor(229, 57, 53),
        "pause" => RGBColor(142, 36, 170),
        "clock" => RGBColor(30, 136, 229),
        "loss" => RGBColor(0, 137, 123),
        _ => RGBColor(120, 120, 120),
    }
}

struct Axis {
    /// Nanoseconds per x unit.
    div: f64,
    unit: &'static str,
    end: f64,
    /// The anomaly's time (history ns), marked on every plot.
    mark: Option<u64>,
}

impl Axis {
    fn new(end_ns: u64) -> Axis {
        let (div, unit) = if end_ns >= 2_000_000_000 { (1e9, "s") } else { (1e6, "ms") };
        Axis { div, unit, end: (end_ns.max(1) as f64 / div).max(1e-9), mark: None }
    }
    fn x(&self, ns: u64) -> f64 {
        ns as f64 / self.div
    }
}

fn err(name: &'static str) -> impl Fn(String) -> ReportError {
    move |message| ReportError::Plot { name, message }
}

fn latency_ms(op: &Operation) -> Option<f64> {
    op.ret.map(|r| (r.saturating_sub(op.call)) as f64 / 1e6)
}

/// Draws all three plots.
///
/// # Errors
/// [`ReportError::Plot`] if plotters fails (it does not on an in-memory SVG in practice).
pub fn draw(
    history: &History,
    faults: &[Interval],
    end_ns: u64,
    anomaly: Option<u64>,
) -> Result<Plots, ReportError> {
    let mut axis = Axis::new(end_ns);
    axis.mark = anomaly;
    Ok(Plots {
        latency: latency(history, faults, &axis).map_err(err("latency"))?,
        quantiles: quantiles(history, faults, &axis).map_err(err("quantiles"))?,
        throughput: throughput(history, faults, &axis).map_err(err("throughput"))?,
    })
}

fn shade<DB: DrawingBackend, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    faults: &[Interval],
    axis: &Axis,
    y: (f64, f64),
) -> Result<(), String>
where
    CT: CoordTranslate<From = (f64, f64)>,
{
    for f in faults {
        let c = fault_color(&f.kind);
        let (x0, mut x1) = (axis.x(f.start), axis.x(f.end));
        if x1 <= x0 {
            x1 = x0 + axis.end / 400.0;
        }
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, y.0), (x1, y.1)],
                c.mix(0.13).filled(),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                f.label.clone(),
                (x0, y.1),
                ("sans-serif", 11).into_font().color(&c),
            )))
            .map_err(|e| e.to_string())?;
    }
    if let Some(t) = axis.mark {
        let x = axis.x(t);
        let red = RGBColor(198, 40, 40);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, y.0), (x, y.1)],
                red.stroke_width(2),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                "anomaly",
                (x, y.1),
                ("sans-serif", 12).into_font().color(&red),
            )))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn kinds(history: &History) -> Vec<&str> {
    let mut ks: Vec<&str> = Vec::new();
    for op in &history.ops {
        if !ks.contains(&op.f.as_str()) {
            ks.push(&op.f);
        }
    }
    ks
}

fn latency(history: &History, faults: &[Interval], axis: &Axis) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let lat: Vec<f64> = history.ops.iter().filter_map(latency_ms).collect();
        let lo = lat.iter().copied().fold(f64::INFINITY, f64::min).clamp(1e-4, 1.0);
        let hi = lat.iter().copied().fold(0.0, f64::max).max(lo * 10.0) * 1.5;
        let mut chart = ChartBuilder::on(&root)
            .caption("Latency per operation (ms, log scale)", ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..axis.end, (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(format!("time ({})", axis.unit))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| e.to_string())?;
        shade(&mut chart, faults, axis, (lo, hi))?;
        for (ki, kind) in kinds(history).into_iter().enumerate() {
            let color = KIND_COLORS[ki % KIND_COLORS.len()];
            for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Unknown] {
                let pts: Vec<(f64, f64)> = history
                    .ops
                    .iter()
                    .filter(|o| o.f == kind && o.outcome == outcome)
                    .filter_map(|o| latency_ms(o).map(|l| (axis.x(o.call), l.max(lo))))
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                let step = pts.len().div_ceil(MAX_POINTS);
                let pts = pts.into_iter().step_by(step);
                let label = format!("{kind} {}", outcome_word(outcome));
                let anno =
                    match outcome {
                        Outcome::Ok => chart
                            .draw_series(pts.map(|p| Circle::new(p, 2, color.mix(0.55).filled()))),
                        Outcome::Fail => chart.draw_series(pts.map(|p| Cross::new(p, 4, color))),
                        Outcome::Unknown => chart
                            .draw_series(pts.map(|p| TriangleMarker::new(p, 5, color.filled()))),
                    }
                    .map_err(|e| e.to_string())?;
                anno.label(label).legend(move |(x, y)| match outcome {
                    Outcome::Ok => Circle::new((x + 6, y), 3, color.filled()).into_dyn(),
                    Outcome::Fail => Cross::new((x + 6, y), 4, color).into_dyn(),
                    Outcome::Unknown => {
                        TriangleMarker::new((x + 6, y), 5, color.filled()).into_dyn()
                    }
                });
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Unknown => "info",
    }
}

/// Number of time buckets for the quantile and throughput plots.
fn buckets(history: &History) -> usize {
    (history.ops.len() / 20).clamp(1, 100)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn quantiles(history: &History, faults: &[Interval], axis: &Axis) -> Result<String, String> {
    let nb = buckets(history);
    let width = axis.end / nb as f64;
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); nb];
    for op in history.ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        if let (Some(l), Some(r)) = (latency_ms(op), op.ret) {
            let b = ((axis.x(r) / width) as usize).min(nb - 1);
            per[b].push(l);
        }
    }
    // A bucket with no completion is a gap, not a ramp: each run of non-empty buckets is
    // its own segment.
    let mut series: [Vec<Vec<(f64, f64)>>; 4] = Default::default();
    let mut gap = true;
    for (b, v) in per.iter_mut().enumerate() {
        if v.is_empty() {
            gap = true;
            continue;
        }
        v.sort_by(f64::total_cmp);
        let x = (b as f64 + 0.5) * width;
        for (s, q) in series.iter_mut().zip([0.5, 0.95, 0.99, 1.0]) {
            if gap {
                s.push(Vec::new());
            }
            if let Some(seg) = s.last_mut() {
                seg.push((x, quantile(v, q)));
            }
        }
        gap = false;
    }
    let hi = series[3].iter().flatten().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.15;
    let colors = [
        RGBColor(44, 160, 44),
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(214, 39, 40),
    ];
    let lines = ["p50", "p95", "p99", "max"]
        .into_iter()
        .zip(colors)
        .zip(series)
        .map(|((n, c), s)| (n, c, s));
    line_chart("Latency quantiles of ok operations (ms)", faults, axis, hi, lines.collect())
}

/// A named, coloured line: segments of `(x, y)` points (a gap between segments stays a gap).
type Line<'a> = (&'a str, RGBColor, Vec<Vec<(f64, f64)>>);

/// One line per `(name, colour, points)`, fault intervals shaded, a legend: the shape of the
/// quantile and throughput plots.
fn line_chart(
    caption: &str,
    faults: &[Interval],
    axis: &Axis,
    hi: f64,
    lines: Vec<Line<'_>>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..axis.end, 0f64..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(format!("time ({})", axis.unit))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| e.to_string())?;
        shade(&mut chart, faults, axis, (0.0, hi))?;
        for (name, color, segments) in lines {
            for (i, pts) in segments.into_iter().enumerate() {
                // A segment of one bucket (completions on both sides are missing) is a dot: a
                // line needs two points.
                if pts.len() == 1 {
                    chart
                        .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                        .map_err(|e| e.to_string())?;
                }
                let drawn = chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
                if i == 0 {
                    drawn.label(name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
                }
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn throughput(history: &History, faults: &[Interval], axis: &Axis) -> Result<String, String> {
    let nb = buckets(history);
    let width = axis.end / nb as f64;
    let secs = width * axis.div / 1e9;
    let mut counts = vec![[0u64; 3]; nb];
    for op in &history.ops {
        let Some(r) = op.ret else { continue };
        let b = ((axis.x(r) / width) as usize).min(nb - 1);
        let o = match op.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Unknown => 2,
        };
        counts[b][o] += 1;
    }
    let rate = |c: u64| c as f64 / secs.max(1e-12);
    let hi =
        counts.iter().flat_map(|c| c.iter().copied()).map(rate).fold(0.0, f64::max).max(1.0) * 1.15;
    let colors = [RGBColor(46, 125, 50), RGBColor(198, 40, 40), RGBColor(239, 108, 0)];
    let lines = ["ok", "fail", "info"]
        .into_iter()
        .zip(colors)
        .enumerate()
        .map(|(o, (name, color))| {
            let pts = counts
                .iter()
                .enumerate()
                .map(|(b, c)| ((b as f64 + 0.5) * width, rate(c[o])))
                .collect();
            // Throughput is defined in every bucket (zero is a value): one segment.
            (name, color, vec![pts])
        })
        .collect();
    line_chart("Throughput (completions per second)", faults, axis, hi, lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `n` ok reads completing 0.5 ms after they start at each of `starts` (ms).
    fn history(starts: &[u64]) -> History {
        let ops = starts
            .iter()
            .enumerate()
            .map(|(id, &t)| {
                serde_json::from_value(json!({
                    "id": id, "process": id, "f": "read", "input": null, "output": 1,
                    "outcome": "ok", "call": t * 1_000_000, "ret": t * 1_000_000 + 500_000,
                    "invoke_index": 2 * id, "complete_index": 2 * id + 1
                }))
                .unwrap()
            })
            .collect();
        History { ops, nemesis: Vec::new() }
    }

    #[test]
    fn quantile_gaps_stay_gaps_and_lone_buckets_show() {
        // 60 ops in 3 buckets: the first and the last hold completions, the middle none.
        let starts: Vec<u64> = (0..30).map(|_| 0).chain((0..30).map(|_| 9)).collect();
        let h = history(&starts);
        let mut axis = Axis::new(10_000_000);
        axis.mark = Some(5_000_000);
        let svg = quantiles(&h, &[], &axis).unwrap();
        // Four quantile series, two one-bucket segments each: a dot per segment, and no line
        // across the empty middle bucket.
        assert_eq!(svg.matches("<circle").count(), 8, "{svg}");
        assert!(svg.contains("\nanomaly\n"), "the anomaly is marked: {svg}");
    }
}
