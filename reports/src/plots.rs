//! The report's plots, drawn server-side with plotters into inline SVG: latency over time
//! (per operation kind, ok/fail/info marked), latency quantiles over time, throughput over
//! time, and for the sharded KV which group owned which shard over time. Fault intervals
//! are shaded and labelled on each.
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
use crate::ownership::Span;
use faultline_api::Fault;

/// Most points drawn per (kind, outcome) scatter series.
pub const MAX_POINTS: usize = 2500;
const W: u32 = 960;
const H: u32 = 300;
/// Width of the legend column right of each plot (legends never cover data).
const LEGEND_W: u32 = 110;
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
    /// Which replica group owned which shard over time (the sharded KV only).
    pub ownership: Option<String>,
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
        ownership: {
            let spans = crate::ownership::spans(&history.nemesis, end_ns);
            (!spans.is_empty())
                .then(|| ownership(&spans, faults, &axis))
                .transpose()
                .map_err(err("ownership"))?
        },
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
    for (f, row) in faults.iter().zip(crate::nemesis::tracks(faults)) {
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
                // Overlapping faults' labels go one line lower each.
                (x0, y.1 - (y.1 - y.0) * 0.06 * f64::from(row)),
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
        // On a second line: the first holds the fault labels.
        chart
            .draw_series(std::iter::once(Text::new(
                "anomaly",
                (x, y.1 - (y.1 - y.0) * 0.06),
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

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Swatch {
    Dot(RGBColor),
    Cross(RGBColor),
    Triangle(RGBColor),
    Line(RGBColor),
}

/// The legend, in its own column right of the plot: one entry per series, in order.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(String, Swatch)],
) -> Result<(), String> {
    let font = ("sans-serif", 12).into_font().color(&BLACK);
    // 18 px a line, closer when many entries (5 kv functions × 3 outcomes) must fit.
    let step = 18.min((H as i32 - 50) / entries.len().max(1) as i32).max(12);
    for (i, (name, swatch)) in entries.iter().enumerate() {
        let y = 40 + step * i as i32;
        let at = (12, y);
        let drawn = match *swatch {
            Swatch::Dot(c) => area.draw(&Circle::new(at, 3, c.filled())),
            Swatch::Cross(c) => area.draw(&Cross::new(at, 4, c)),
            Swatch::Triangle(c) => area.draw(&TriangleMarker::new(at, 5, c.filled())),
            Swatch::Line(c) => {
                area.draw(&PathElement::new(vec![(2, y), (20, y)], c.stroke_width(2)))
            }
        };
        drawn.map_err(|e| e.to_string())?;
        area.draw(&Text::new(name.clone(), (26, y - 6), font.clone()))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A label of the latency axis, which is drawn in log10(ms): decades only ("0.1", "1",
/// "10", "1 s"), so labels never crowd however narrow or wide the range.
fn decade_label(v: &f64) -> String {
    if (v - v.round()).abs() > 1e-6 {
        return String::new();
    }
    match v.round() as i32 {
        d if d >= 3 => format!("{} s", 10f64.powi(d - 3)),
        d => format!("{}", 10f64.powi(d)),
    }
}

fn latency(history: &History, faults: &[Interval], axis: &Axis) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot, key_area) = root.split_horizontally(W - LEGEND_W);
        let lat: Vec<f64> = history.ops.iter().filter_map(latency_ms).collect();
        // The y axis is log10(ms) over whole decades, at least two of them.
        let lo_ms = lat.iter().copied().fold(f64::INFINITY, f64::min).clamp(1e-4, 1.0);
        let hi_ms = lat.iter().copied().fold(0.0, f64::max).max(lo_ms * 10.0);
        let lo = lo_ms.log10().floor();
        let hi = hi_ms.log10().ceil().max(lo + 2.0);
        let mut chart = ChartBuilder::on(&plot)
            .caption("Latency per operation (ms, log scale)", ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..axis.end, lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(format!("time ({})", axis.unit))
            .y_labels((hi - lo) as usize + 1)
            .y_label_formatter(&decade_label)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| e.to_string())?;
        shade(&mut chart, faults, axis, (lo, hi))?;
        let mut entries = Vec::new();
        for (ki, kind) in kinds(history).into_iter().enumerate() {
            let color = KIND_COLORS[ki % KIND_COLORS.len()];
            for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Unknown] {
                let pts: Vec<(f64, f64)> = history
                    .ops
                    .iter()
                    .filter(|o| o.f == kind && o.outcome == outcome)
                    .filter_map(|o| latency_ms(o).map(|l| (axis.x(o.call), l.log10().max(lo))))
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                let step = pts.len().div_ceil(MAX_POINTS);
                let pts = pts.into_iter().step_by(step);
                let swatch =
                    match outcome {
                        Outcome::Ok => chart
                            .draw_series(pts.map(|p| Circle::new(p, 2, color.mix(0.55).filled()))),
                        Outcome::Fail => chart.draw_series(pts.map(|p| Cross::new(p, 4, color))),
                        Outcome::Unknown => chart
                            .draw_series(pts.map(|p| TriangleMarker::new(p, 5, color.filled()))),
                    }
                    .map(|_| match outcome {
                        Outcome::Ok => Swatch::Dot(color),
                        Outcome::Fail => Swatch::Cross(color),
                        Outcome::Unknown => Swatch::Triangle(color),
                    })
                    .map_err(|e| e.to_string())?;
                entries.push((format!("{kind} {}", outcome_word(outcome)), swatch));
            }
        }
        legend(&key_area, &entries)?;
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
        let (plot, key_area) = root.split_horizontally(W - LEGEND_W);
        let mut chart = ChartBuilder::on(&plot)
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
        let mut entries = Vec::new();
        for (name, color, segments) in lines {
            entries.push((name.to_string(), Swatch::Line(color)));
            for pts in segments {
                // A segment of one bucket (completions on both sides are missing) is a dot: a
                // line needs two points.
                if pts.len() == 1 {
                    chart
                        .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                        .map_err(|e| e.to_string())?;
                }
                chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
            }
        }
        legend(&key_area, &entries)?;
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

/// One row per shard, coloured by the group that owned it (a lighter stripe where no group
/// did), faults shaded behind: moves line up with the faults around them.
fn ownership(spans: &[Span], faults: &[Interval], axis: &Axis) -> Result<String, String> {
    let shards = spans.iter().map(|s| s.shard + 1).max().unwrap_or(1);
    let mut gids: Vec<u64> = spans.iter().map(|s| s.gid).filter(|g| *g != 0).collect();
    gids.sort_unstable();
    gids.dedup();
    let color = |gid: u64| match gids.iter().position(|g| *g == gid) {
        Some(i) => KIND_COLORS[i % KIND_COLORS.len()],
        None => RGBColor(200, 200, 200),
    };
    let height = (90 + 16 * shards as u32).min(H * 3);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot, key_area) = root.split_horizontally(W - LEGEND_W);
        let top = shards as f64;
        let mut chart = ChartBuilder::on(&plot)
            .caption("Shard ownership (replica group per shard)", ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..axis.end, 0f64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(format!("time ({})", axis.unit))
            .y_labels(0)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| e.to_string())?;
        // Row labels by hand, one at the middle of each row (shard 0 on top); past 32 rows,
        // every k-th.
        let every = shards.div_ceil(32);
        let font = ("sans-serif", 11).into_font().color(&BLACK);
        for shard in (0..shards).step_by(every) {
            let (px, py) = chart.backend_coord(&(0.0, top - shard as f64 - 0.5));
            root.draw(&Text::new(format!("shard {shard}"), (px - 50, py - 6), font.clone()))
                .map_err(|e| e.to_string())?;
        }
        // The moves themselves are the bars' colour changes: shade the other faults only.
        let others: Vec<Interval> =
            faults.iter().filter(|f| f.kind != Fault::Reconfigure.name()).cloned().collect();
        shade(&mut chart, &others, axis, (0.0, top))?;
        chart
            .draw_series(spans.iter().map(|s| {
                let y = top - s.shard as f64;
                Rectangle::new(
                    [(axis.x(s.start), y - 0.85), (axis.x(s.end), y - 0.15)],
                    color(s.gid).mix(0.8).filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        let mut entries: Vec<(String, Swatch)> =
            gids.iter().map(|g| (format!("group {g}"), Swatch::Line(color(*g)))).collect();
        if spans.iter().any(|s| s.gid == 0) {
            entries.push(("no group".into(), Swatch::Line(color(0))));
        }
        legend(&key_area, &entries)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
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

    /// `(x, text)` of every `<text>` element of an SVG.
    fn texts(svg: &str) -> Vec<(f64, String)> {
        svg.split("<text ")
            .skip(1)
            .map(|t| {
                let x = t.split("x=\"").nth(1).unwrap().split('"').next().unwrap();
                let body = t.split('>').nth(1).unwrap().split('<').next().unwrap();
                (x.parse().unwrap(), body.trim().to_string())
            })
            .collect()
    }

    #[test]
    fn legends_sit_in_their_own_column_right_of_the_data() {
        let starts: Vec<u64> = (0..200).collect();
        let h = history(&starts);
        let faults = [Interval {
            kind: "kill".into(),
            label: "kill n1".into(),
            start: 50_000_000,
            end: 150_000_000,
            skipped: false,
            nodes: vec!["n1".into()],
        }];
        let plots = draw(&h, &faults, 200_000_000, Some(120_000_000)).unwrap();
        let column = f64::from(W - LEGEND_W);
        for (svg, names) in [
            (&plots.latency, &["read ok"][..]),
            (&plots.quantiles, &["p50", "p95", "p99", "max"][..]),
            (&plots.throughput, &["ok", "fail", "info"][..]),
        ] {
            let texts = texts(svg);
            for name in names {
                let (x, _) = texts.iter().find(|(_, t)| t == name).expect(name);
                assert!(*x >= column, "legend entry {name} at x={x}, inside the plot");
            }
            // Everything else (axis labels, fault labels, the anomaly) is left of it.
            for (x, t) in texts.iter().filter(|(_, t)| !names.contains(&t.as_str())) {
                assert!(*x < column, "{t:?} at x={x} is in the legend column");
            }
        }
    }

    #[test]
    fn shard_ownership_is_drawn_for_sharded_histories_only() {
        let mut h = history(&(0..100).collect::<Vec<_>>());
        assert!(draw(&h, &[], 100_000_000, None).unwrap().ownership.is_none());
        h.nemesis = vec![serde_json::from_value(json!({
            "index": 0, "type": "info", "process": "nemesis", "f": "move",
            "value": {"change": {"shard": 1, "gid": 2}, "from": 1, "to": 2,
                      "was": [1, 1, 2], "shards": [1, 2, 2]},
            "time": 40_000_000
        }))
        .unwrap()];
        let plots = draw(&h, &[], 100_000_000, None).unwrap();
        let svg = plots.ownership.expect("an ownership plot");
        let texts = texts(&svg);
        let column = f64::from(W - LEGEND_W);
        for name in ["group 1", "group 2"] {
            let (x, _) = texts.iter().find(|(_, t)| t == name).expect(name);
            assert!(*x >= column, "{name} at x={x}");
        }
        // One row label per shard, and 4 bars: shard 1 changes owner, the others do not.
        for row in ["shard 0", "shard 1", "shard 2"] {
            assert!(texts.iter().any(|(_, t)| t == row), "{row}: {texts:?}");
        }
        assert_eq!(crate::ownership::spans(&h.nemesis, 100_000_000).len(), 4);
    }

    #[test]
    fn the_log_latency_axis_is_labelled_by_decades_only() {
        // Latencies from 0.5 ms to 2.5 s: labels 0.1 ms .. 10 s, one per decade.
        let mut h = history(&[0, 1, 2, 3]);
        for (op, ret_ms) in h.ops.iter_mut().zip([0.5, 3.0, 40.0, 2500.0]) {
            op.ret = Some(op.call + (ret_ms * 1e6) as u64);
        }
        let svg = latency(&h, &[], &Axis::new(3_000_000_000)).unwrap();
        // The y axis's labels are the texts left of the plot area.
        let labels: Vec<String> =
            texts(&svg).into_iter().filter(|(x, _)| *x < 60.0).map(|(_, t)| t).collect();
        assert_eq!(labels, ["0.1", "1", "10", "100", "1 s", "10 s"], "{svg}");
    }
}
