//! The HTML report: written after a run, re-rendered by `beacon report`, self-contained, and
//! (slow tier) rendered in headless Chromium.

use crate::common::{beacon, fixture, python, repo, run, sample_command};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every chart of the report on the sample data, by SVG id.
const CHARTS: &[&str] = &[
    "chart-readiness",
    "spark-renewal",
    "spark-lir",
    "spark-ltv-cac",
    "spark-payback",
    "spark-magic",
    "chart-funnel-sql",
    "chart-funnel-won",
    "chart-stage-conversion",
    "chart-stage-duration",
    "chart-logo-retention",
    "chart-revenue-retention",
    "chart-ue-ltv-cac",
    "chart-ue-payback",
    "chart-ue-magic-number",
    "chart-ue-channels-ltv-cac",
    "chart-ue-channels-payback",
    "chart-capacity",
    "chart-roc",
    "chart-calibration",
    "chart-lift",
];

/// The report's HTML tables, by id.
const TABLES: &[&str] = &["table-hot-list", "table-campaigns", "table-inventory"];

/// A report of the sample data stays far below this (it holds aggregates only).
const MAX_REPORT_BYTES: u64 = 3 << 20;

const DATE: &str = "2026-11-15";

/// Runs the shipped pipeline on the sample data into a temp folder; returns (temp, output dir).
fn run_sample() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("output");
    let (code, stdout, stderr) = run(sample_command("run", tmp.path()).args(["--date", DATE]));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("report: "), "{stdout}");
    (tmp, out)
}

fn report_path(out: &Path, date: &str) -> PathBuf {
    out.join(format!("_beacon/runs/run_date={date}/report.html"))
}

fn run_results(out: &Path, date: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(out.join(format!("_beacon/runs/run_date={date}/run_results.json"))).unwrap(),
    )
    .unwrap()
}

#[test]
fn run_writes_a_self_contained_report_that_beacon_report_reproduces() {
    let (tmp, out) = run_sample();
    let path = report_path(&out, DATE);
    let html = std::fs::read_to_string(&path).expect("the run wrote its report");
    let bytes = html.len() as u64;

    for id in CHARTS {
        assert!(
            html.contains(&format!(r#"<svg id="{id}""#)),
            "chart {id} is in the report"
        );
    }
    for id in TABLES {
        assert!(html.contains(&format!(r#"<table id="{id}""#)), "{id}");
    }
    assert!(
        html.matches("<title").count() > CHARTS.len(),
        "each chart has a <title>"
    );
    // Self-contained: nothing is fetched, no script runs.
    for needle in [
        "http://", "https://", "<script", "<link", "<img", "<iframe", "@import", "url(http",
    ] {
        assert!(!html.contains(needle), "the report contains `{needle}`");
    }
    assert!(!html.contains("NaN") && !html.contains("inf%"), "no NaN");
    assert!(
        !html.contains("No data") && !html.contains("could not be drawn"),
        "every panel has data on the sample"
    );
    assert!(
        bytes < MAX_REPORT_BYTES && bytes > 50_000,
        "report size {bytes} bytes"
    );

    let results = run_results(&out, DATE);
    assert_eq!(results["status"], "success");
    assert_eq!(results["report"]["status"], "success");
    assert_eq!(results["report"]["bytes"], bytes);
    assert_eq!(results["report"]["warnings"], serde_json::json!([]));
    assert!(results["report"]["location"]
        .as_str()
        .unwrap()
        .ends_with("report.html"));

    // A warehouse reading the tables with Hive partitioning never sees the report.
    assert!(path.starts_with(out.join("_beacon")));

    // Re-rendering the committed run gives the same bytes, with an explicit date or the latest.
    std::fs::remove_file(&path).unwrap();
    let (code, stdout, stderr) = run(sample_command("report", tmp.path()).args(["--date", DATE]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("report for run_date={DATE}")),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), html);
    let (code, _, stderr) = run(&mut sample_command("report", tmp.path()));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), html);
}

#[test]
fn report_without_a_committed_run_fails_with_a_clear_message() {
    let dir = fixture("tiny");
    let (code, _, stderr) = run(beacon()
        .args(["report", "pipeline.yaml", "--date", "2020-01-01"])
        .current_dir(dir.path()));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("no committed run for run_date=2020-01-01"),
        "{stderr}"
    );
    assert!(stderr.contains("beacon run --date 2020-01-01"), "{stderr}");
    let (code, _, stderr) = run(beacon()
        .args(["report", "pipeline.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no committed run under"), "{stderr}");
}

#[test]
fn a_pipeline_without_the_growth_tables_gets_a_report_of_no_data_panels() {
    let dir = fixture("tiny");
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .current_dir(dir.path()));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let html =
        std::fs::read_to_string(report_path(&dir.path().join("out/published"), "2026-03-31"))
            .unwrap();
    assert!(
        html.contains("No data: `scaling_readiness` is not published by this pipeline."),
        "{html}"
    );
    assert!(html.contains("No data: `hot_list` is not published"));
    assert!(
        html.contains("<code>leads_by_source</code>"),
        "the inventory"
    );
    assert!(!html.contains("<svg"), "no chart without its table");
}

#[test]
fn a_report_that_cannot_be_written_leaves_the_commit_and_exits_4() {
    let dir = fixture("tiny");
    // A folder where the report file should go makes its write fail after the commit.
    let blocker = report_path(&dir.path().join("out/published"), "2026-03-31");
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "x").unwrap();
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .current_dir(dir.path()));
    assert_eq!(code, 4, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the run was committed, but its report could not be written"),
        "{stderr}"
    );
    assert!(stdout.contains("published 2 tables"), "{stdout}");
    let out = dir.path().join("out/published");
    assert!(out
        .join("_beacon/runs/run_date=2026-03-31/manifest.json")
        .exists());
    assert!(out
        .join("leads_by_source/run_date=2026-03-31/_SUCCESS")
        .exists());
    let results = run_results(&out, "2026-03-31");
    assert_eq!(results["status"], "success", "the data stays published");
    assert_eq!(results["report"]["status"], "error");
    assert!(
        results["report"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot write the report"),
        "{}",
        results["report"]
    );
}

#[test]
fn report_takes_the_dates_lock_and_fails_while_a_run_holds_it() {
    let dir = fixture("tiny");
    let (code, _, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .current_dir(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    let out = dir.path().join("out/published");
    let path = report_path(&out, "2026-03-31");
    std::fs::remove_file(&path).unwrap();
    // A live run of the date (this test process, as far as Beacon can tell) holds the lock.
    let lock = out.join("_beacon/locks/run_date=2026-03-31.lock");
    let now = chrono::Utc::now();
    let holder = serde_json::json!({
        "pipeline": "tiny",
        "run_id": "20260331T000000Z-0000beef",
        "host": std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim(),
        "pid": std::process::id(),
        "acquired_at": now.to_rfc3339(),
        "renewed_at": now.to_rfc3339(),
        "expires_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
    });
    std::fs::write(&lock, serde_json::to_vec(&holder).unwrap()).unwrap();
    let report = || {
        run(beacon()
            .args(["report", "pipeline.yaml", "--date", "2026-03-31"])
            .current_dir(dir.path()))
    };
    let (code, _, stderr) = report();
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("another run holds the lock"), "{stderr}");
    assert!(
        !path.exists(),
        "nothing written while the run holds the lock"
    );
    std::fs::remove_file(&lock).unwrap();
    let (code, _, stderr) = report();
    assert_eq!(code, 0, "{stderr}");
    assert!(path.exists());
    assert!(!lock.exists(), "the report released the lock");
}

/// Where test artifacts (the browser screenshot) are kept: `target/test-artifacts/`.
fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("test-artifacts"))
        .unwrap_or_else(|| repo().join("target/test-artifacts"))
}

#[test]
fn report_renders_in_headless_chromium_without_console_errors() {
    if std::env::var("BEACON_SLOW_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set BEACON_SLOW_TESTS=1 (tests/run.sh installs Chromium for it)");
        return;
    }
    assert!(
        Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists(),
        "Chromium is needed: tests/scripts/install-browser.sh installs it (tests/run.sh calls it in the slow tier)"
    );
    let (_tmp, out) = run_sample();
    let screenshot = artifacts_dir().join("report.png");
    let _ = std::fs::remove_file(&screenshot);
    let output = Command::new(python())
        .arg(repo().join("tests/scripts/report_browser.py"))
        .arg(report_path(&out, DATE))
        .arg("--screenshot")
        .arg(&screenshot)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "the browser check failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let page: Value = serde_json::from_slice(&output.stdout).unwrap();
    for id in CHARTS {
        let size = &page["charts"][id];
        let (w, h) = (
            size[0].as_f64().unwrap_or(0.0),
            size[1].as_f64().unwrap_or(0.0),
        );
        assert!(w > 0.0 && h > 0.0, "chart {id} is laid out: {size}");
    }
    assert_eq!(page["tables"]["table-hot-list"], 20, "{}", page["tables"]);
    assert!(page["tables"]["table-campaigns"].as_u64().unwrap_or(0) > 0);
    let errors: Vec<&Value> = page["console"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert_eq!(
        page["resources"],
        serde_json::json!([]),
        "the page fetched nothing"
    );
    assert!(page["title"].as_str().unwrap().contains(DATE));
    let png = std::fs::metadata(&screenshot).expect("a screenshot was kept");
    assert!(png.len() > 50_000, "screenshot of {} bytes", png.len());
}
