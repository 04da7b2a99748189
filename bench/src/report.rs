//! `bench report`: the table, `report.json` and the latency chart, from what the runs wrote
//! under `target/bench/` (the in-process run's `handlers.json`; the binaries' and the local
//! stack's `binaries.json` and `load.json` when those steps ran).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;
use serde_json::{Value, json};

use crate::budgets;
use crate::results::HandlerRun;

/// Prints the report, writes `report.json` and draws `latency.svg` in `dir`.
pub fn report(dir: &Path) -> anyhow::Result<()> {
    let handlers_path = dir.join("handlers.json");
    let handlers: HandlerRun =
        serde_json::from_str(&std::fs::read_to_string(&handlers_path).with_context(|| {
            format!(
                "reading {} (run `bench run` or `make bench` first)",
                handlers_path.display()
            )
        })?)
        .with_context(|| format!("parsing {}", handlers_path.display()))?;
    let binaries = read_optional(&dir.join("binaries.json"))?;
    let load = read_optional(&dir.join("load.json"))?;

    let mut text = handler_table(&handlers);
    for (title, file, value) in [
        ("Release binaries", "binaries.json", &binaries),
        ("Through the local stack", "load.json", &load),
    ] {
        text.push('\n');
        match value {
            Some(value) => text.push_str(&json_table(title, value)),
            None => {
                let _ = writeln!(text, "{title}: not measured ({file} is absent)");
            }
        }
    }
    let verdicts = budgets::judge(&handlers, binaries.as_ref(), load.as_ref());
    text.push('\n');
    text.push_str(&budgets::table(&verdicts));
    print!("{text}");

    let report = json!({
        "handlers": handlers,
        "binaries": binaries,
        "load": load,
        "budgets": verdicts,
    });
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    let chart = dir.join("latency.svg");
    draw_latency(&handlers, &chart)?;
    println!(
        "\nwrote {} and {}",
        dir.join("report.json").display(),
        chart.display()
    );
    Ok(())
}

fn read_optional(path: &Path) -> anyhow::Result<Option<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The in-process table: each endpoint against the floor, then the floor and Argon2 alone.
pub fn handler_table(run: &HandlerRun) -> String {
    let machine = &run.machine;
    let mut out = format!(
        "Handler cost in process: {} ({} cores), PostgreSQL {} on loopback, pool of {}\n",
        machine.cpu, machine.cores, machine.postgres, machine.pool_size
    );
    let _ = writeln!(
        out,
        "{:<18} {:>7} {:>10} {:>9} {:>8} {:>11}",
        "endpoint", "calls", "median ms", "p99 ms", "x floor", "statements"
    );
    for endpoint in &run.endpoints {
        let statements = endpoint
            .statements_per_request
            .map_or_else(|| "n/a".to_owned(), format_count);
        let _ = writeln!(
            out,
            "{:<18} {:>7} {:>10.3} {:>9.3} {:>8.1} {:>11}",
            endpoint.endpoint,
            endpoint.summary.iterations,
            endpoint.summary.median_ms,
            endpoint.summary.p99_ms,
            endpoint.floor_ratio,
            statements
        );
    }
    let floor_statements = run
        .floor_statements
        .map_or_else(|| "n/a".to_owned(), format_count);
    for (name, summary, statements) in [
        ("floor", &run.floor, floor_statements.as_str()),
        ("argon2id hash", &run.argon2_hash, "0"),
        ("argon2id verify", &run.argon2_verify, "0"),
    ] {
        let _ = writeln!(
            out,
            "{:<18} {:>7} {:>10.3} {:>9.3} {:>8.1} {:>11}",
            name,
            summary.iterations,
            summary.median_ms,
            summary.p99_ms,
            summary.median_ms / run.floor.median_ms,
            statements
        );
    }
    out.push_str(
        "floor = a pooled connection + one prepared SELECT 1 + one access-token verification; \
         statements = executed per request in steady state, counted by pg_stat_statements \
         (BEGIN/COMMIT included)\n",
    );
    if let Some(why) = &run.statements_unavailable {
        let _ = writeln!(out, "statements not counted: {why}");
    }
    out
}

/// Whole numbers as such, others with two decimals.
fn format_count(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Renders another step's JSON without knowing its shape in advance: a list of records (or an
/// object of named records) becomes a table with a column per field, anything else one line per
/// field.
pub fn json_table(title: &str, value: &Value) -> String {
    let mut out = format!("{title}\n");
    match value {
        Value::Array(rows) if rows.iter().all(Value::is_object) => {
            let rows: Vec<(Option<&str>, &Value)> = rows.iter().map(|row| (None, row)).collect();
            out.push_str(&records(&rows));
        }
        Value::Object(fields) if !fields.is_empty() && fields.values().all(Value::is_object) => {
            let rows: Vec<(Option<&str>, &Value)> = fields
                .iter()
                .map(|(name, row)| (Some(name.as_str()), row))
                .collect();
            out.push_str(&records(&rows));
        }
        Value::Object(fields) => {
            for (key, field) in fields {
                match field {
                    Value::Array(_) | Value::Object(_) => {
                        out.push_str(&json_table(&format!("{key}:"), field));
                    }
                    scalar => {
                        let _ = writeln!(out, "{key}: {}", cell(scalar));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{}", cell(other));
        }
    }
    out
}

/// A table of JSON objects, one column per field (in first-seen order), optionally named rows.
fn records(rows: &[(Option<&str>, &Value)]) -> String {
    let mut columns: Vec<String> = Vec::new();
    if rows.iter().any(|(name, _)| name.is_some()) {
        columns.push(String::new());
    }
    let named = !columns.is_empty();
    for (_, row) in rows {
        for key in row.as_object().into_iter().flat_map(|o| o.keys()) {
            if !columns[usize::from(named)..].contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(name, row)| {
            columns
                .iter()
                .enumerate()
                .map(|(i, column)| match (i, named) {
                    (0, true) => name.unwrap_or_default().to_owned(),
                    _ => row.get(column).map_or_else(String::new, cell),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].len())
                .chain([columns[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: &[String]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value:>width$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&columns);
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => format!("{x:.2}"),
            _ => n.to_string(),
        },
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// Per endpoint, the median (dot) and p99 (cross) on a log scale, and the floor's median as a
/// dashed line. SVG text is left to the viewer's fonts, so drawing needs none installed.
pub fn draw_latency(run: &HandlerRun, path: &Path) -> anyhow::Result<()> {
    let names: Vec<&str> = run.endpoints.iter().map(|e| e.endpoint.as_str()).collect();
    let count = names.len() as i32;
    let lowest = run
        .endpoints
        .iter()
        .map(|e| e.summary.median_ms)
        .chain([run.floor.median_ms])
        .fold(f64::INFINITY, f64::min);
    let highest = run
        .endpoints
        .iter()
        .map(|e| e.summary.p99_ms)
        .fold(run.floor.p99_ms, f64::max);
    // A decade of headroom above the slowest p99 keeps the legend clear of the points.
    let (bottom, top) = (decade_below(lowest), decade_above(highest) * 10.0);

    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Handler latency in process (ms, log scale)",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(70)
        .y_label_area_size(60)
        .build_cartesian_2d((0..count).into_segmented(), (bottom..top).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len())
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names
                .get(usize::try_from(*i).unwrap_or(usize::MAX))
                .map_or_else(String::new, |n| (*n).to_owned()),
            SegmentValue::Last => String::new(),
        })
        .x_label_style(("sans-serif", 11))
        .y_desc("milliseconds")
        .y_label_formatter(&|y| format_count(*y))
        .draw()?;

    let floor = run.floor.median_ms;
    chart
        .draw_series(DashedLineSeries::new(
            [(SegmentValue::Exact(0), floor), (SegmentValue::Last, floor)],
            6,
            4,
            ShapeStyle::from(&RED).stroke_width(2),
        ))?
        .label(format!("floor median ({floor:.3} ms)"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    let at = |i: usize| SegmentValue::CenterOf(i32::try_from(i).unwrap_or(i32::MAX));
    chart.draw_series(run.endpoints.iter().enumerate().map(|(i, e)| {
        PathElement::new(
            [(at(i), e.summary.median_ms), (at(i), e.summary.p99_ms)],
            BLACK.mix(0.4),
        )
    }))?;
    chart
        .draw_series(
            run.endpoints
                .iter()
                .enumerate()
                .map(|(i, e)| Circle::new((at(i), e.summary.median_ms), 5, BLUE.filled())),
        )?
        .label("median")
        .legend(|(x, y)| Circle::new((x + 10, y), 5, BLUE.filled()));
    chart
        .draw_series(
            run.endpoints
                .iter()
                .enumerate()
                .map(|(i, e)| Cross::new((at(i), e.summary.p99_ms), 6, BLACK.stroke_width(2))),
        )?
        .label("p99")
        .legend(|(x, y)| Cross::new((x + 10, y), 6, BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

fn decade_below(value: f64) -> f64 {
    10f64.powf(value.max(1e-3).log10().floor())
}

fn decade_above(value: f64) -> f64 {
    10f64.powf(value.max(1e-3).log10().floor() + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_records_becomes_a_table_with_a_column_per_field() {
        let value = json!([
            {"function": "signin", "stripped_bytes": 5_000_000, "zipped_bytes": 2_000_000},
            {"function": "dashboard", "stripped_bytes": 4_500_000, "peak_rss_mb": 21.5},
        ]);
        let table = json_table("Release binaries", &value);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "Release binaries");
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["function", "stripped_bytes", "zipped_bytes", "peak_rss_mb"]
        );
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            ["dashboard", "4500000", "21.50"],
            "absent fields stay blank: {table}"
        );
    }

    #[test]
    fn an_object_of_named_records_keeps_the_names_and_its_scalars() {
        let value = json!({
            "duration_s": 10,
            "runs": {"dashboard c1": {"rps": 900.5}, "signin c16": {"rps": 30}},
        });
        let table = json_table("Through the local stack", &value);
        assert!(table.contains("duration_s: 10"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["signin", "c16", "30"]),
            "{table}"
        );
    }

    #[test]
    fn decades_enclose_the_values() {
        assert_eq!((decade_below(0.42), decade_above(37.0)), (0.1, 100.0));
        assert_eq!(decade_above(10.0), 100.0);
    }
}
