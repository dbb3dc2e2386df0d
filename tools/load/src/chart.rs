//! Charts of one or more runs, as one SVG: throughput per operation (left)
//! and latency percentiles per operation (right), a bar per run.

use crate::report::RunResult;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

const COLORS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

pub fn draw(runs: &[&RunResult], path: &Path) -> Result<()> {
    let mut names: Vec<&str> = runs.iter().flat_map(|r| r.operations.keys().map(String::as_str)).collect();
    names.sort();
    names.dedup();
    let root = SVGBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(700);

    let throughput: Vec<Vec<f64>> = runs
        .iter()
        .map(|run| names.iter().map(|n| run.operations.get(*n).map_or(0.0, |o| o.per_second)).collect())
        .collect();
    bars(&left, "requests per second", &names, runs, &throughput)?;

    // Latency: for each operation, p50 / p95 / p99 of each run.
    let labels: Vec<String> = names.iter().flat_map(|n| ["p50", "p95", "p99"].map(|p| format!("{n} {p}"))).collect();
    let latency: Vec<Vec<f64>> = runs
        .iter()
        .map(|run| {
            names
                .iter()
                .flat_map(|n| {
                    let op = run.operations.get(*n);
                    [op.map_or(0.0, |o| o.p50_ms), op.map_or(0.0, |o| o.p95_ms), op.map_or(0.0, |o| o.p99_ms)]
                })
                .collect()
        })
        .collect();
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    bars(&right, "latency, ms", &label_refs, runs, &latency)?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Grouped bars: one group per label, one bar per run.
fn bars(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    title: &str,
    labels: &[&str],
    runs: &[&RunResult],
    values: &[Vec<f64>],
) -> Result<()> {
    let max = values.iter().flatten().cloned().fold(0.0, f64::max).max(1e-9) * 1.1;
    let groups = labels.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(110)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..groups as f64, 0.0..max)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups)
        .x_label_formatter(&|x| labels.get(x.floor() as usize).map(|l| l.to_string()).unwrap_or_default())
        .x_label_style(("sans-serif", 11).into_font().transform(FontTransform::Rotate90))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let width = 0.8 / runs.len() as f64;
    for (r, run) in runs.iter().enumerate() {
        let color = COLORS[r % COLORS.len()];
        let rects = values[r].iter().enumerate().map(move |(g, v)| {
            let x0 = g as f64 + 0.1 + r as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, *v)], color.filled())
        });
        chart
            .draw_series(rects)
            .map_err(|e| anyhow!("{e}"))?
            .label(run.label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart.configure_series_labels().background_style(WHITE).border_style(BLACK).draw().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
