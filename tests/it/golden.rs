//! The metrics are right, not plausible: the shipped SQL on the hand-worked golden fixture, and on
//! the sample data against an independent implementation of METRICS.md (tests/reference/).

use crate::common::{beacon, python, repo, run};
use std::path::Path;
use std::process::Command;

/// Runs the shipped pipeline on `sources` for `date`, publishing under `out`.
fn run_shipped(sources: &Path, out: &Path, date: &str) {
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipelines/beacon.yaml", "--date", date])
        .env("BEACON_SOURCES", sources)
        .arg("--set")
        .arg(format!("raw={}", out.join("raw").display()))
        .arg("--set")
        .arg(format!("output={}", out.join("published").display()))
        .arg("--set")
        .arg(format!("work={}", out.join("work").display()))
        .current_dir(repo()));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
}

fn compare(published: &Path, expected: &Path, date: &str) {
    let out = Command::new(python())
        .arg(repo().join("tests/reference/compare.py"))
        .arg("--published")
        .arg(published)
        .arg("--expected")
        .arg(expected)
        .args(["--run-date", date])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "published tables differ from {}:\n{report}{}",
        expected.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn golden_fixture_matches_hand_worked_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = repo().join("tests/fixtures/golden");
    run_shipped(&fixture.join("input"), tmp.path(), "2026-06-15");
    compare(
        &tmp.path().join("published"),
        &fixture.join("expected"),
        "2026-06-15",
    );
}

#[test]
fn sample_data_matches_the_independent_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = repo().join("sample_data");
    let date = "2026-11-15";
    let expected = tmp.path().join("expected");
    std::fs::create_dir_all(&expected).unwrap();
    let out = Command::new(python())
        .arg(repo().join("tests/reference/metrics_reference.py"))
        .arg("--input")
        .arg(&sample)
        .args(["--run-date", date])
        .arg("--out")
        .arg(&expected)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_shipped(&sample, tmp.path(), date);
    compare(&tmp.path().join("published"), &expected, date);
}
