//! The analyst's loop: validate (every problem at once, located), run --select, data tests,
//! beacon test, beacon show.

use crate::common::{beacon, duckdb, fixture, hive, run};
use serde_json::{json, Value};
use std::path::Path;

fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).unwrap();
    s.push_str(text);
    std::fs::write(path, s).unwrap();
}

fn results(dir: &Path, date: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(dir.join(format!(
            "out/published/_beacon/runs/run_date={date}/run_results.json"
        )))
        .unwrap(),
    )
    .unwrap()
}

fn model_names(results: &Value) -> Vec<String> {
    results["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

const CHECKS: &str = "
checks:
  leads_by_source:
    columns:
      channel: [not_null, unique, {accepted_values: [Web, Partner, Event]}]
      leads: [{expression: leads > 0}]
      converted:
    tests:
      - row_count: {min: 1, max: 10}
      - expression: converted <= leads
  stg_leads:
    columns:
      lead_id: [unique, not_null]
";

#[test]
fn validate_reports_every_problem_with_file_line_and_column() {
    let dir = fixture("tiny");
    let d = dir.path();
    // A misspelt column, a type mismatch (file-level), an unknown table, a contract column the
    // model does not have, a test on a missing column, and a singular test on an unknown table.
    std::fs::write(
        d.join("sql/marts/leads_by_source.sql"),
        "-- Grain: channel.\nSELECT channel, COUNT(*) AS leads,\n       SUM(CASE WHEN is_convertd THEN 1 ELSE 0 END) AS converted\nFROM stg_leads\nGROUP BY channel\n",
    )
    .unwrap();
    std::fs::write(
        d.join("sql/marts/bad_join.sql"),
        "SELECT *\nFROM stg_lead\n",
    )
    .unwrap();
    std::fs::write(
        d.join("sql/marts/typed.sql"),
        "SELECT lead_id + 1 AS x FROM stg_leads\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("sql/tests")).unwrap();
    std::fs::write(
        d.join("sql/tests/no_ghosts.sql"),
        "SELECT * FROM ghosts WHERE 1 = 1\n",
    )
    .unwrap();
    append(
        &d.join("pipeline.yaml"),
        "checks:\n  opportunity_summary:\n    columns:\n      opportunities:\n      won_acv:\n    tests:\n      - expression: won_amont >= 0\n",
    );
    let (code, stdout, stderr) = run(beacon().args(["validate", "pipeline.yaml"]).current_dir(d));
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(!d.join("out").exists(), "validate reads and writes no data");
    for expected in [
        "error: sql/marts/bad_join.sql:2:6: `stg_lead` is not a source or model of this pipeline, did you mean `stg_leads`?",
        "error: sql/marts/leads_by_source.sql:3:22: model `leads_by_source`: column 'is_convertd' not found, did you mean stg_leads.is_converted?",
        "error: sql/marts/typed.sql:1:8: model `typed`: expressions have incompatible types; has type Utf8View; has type Int64",
        "error: pipeline.yaml:40: checks.opportunity_summary.columns.won_acv: published model `opportunity_summary` has no column `won_acv` (it has `won_amount`), which its output contract requires",
        "error: pipeline.yaml:45: checks.opportunity_summary.tests[0]: opportunity_summary: expression(won_amont >= 0): No field named won_amont. Did you mean 'opportunity_summary.won_amount'?",
        "error: sql/tests/no_ghosts.sql: `ghosts` is not a source or model of this pipeline",
    ] {
        assert!(stderr.contains(expected), "missing:\n{expected}\nin:\n{stderr}");
    }
    assert!(stderr.contains("pipeline.yaml: 6 problems"), "{stderr}");
}

#[test]
fn select_runs_only_what_is_selected_and_keeps_the_rest_of_the_commit() {
    let dir = fixture("tiny");
    let d = dir.path();
    let (code, _, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    let manifest = |d: &Path| -> Value {
        serde_json::from_slice(
            &std::fs::read(d.join("out/published/_beacon/runs/run_date=2026-03-31/manifest.json"))
                .unwrap(),
        )
        .unwrap()
    };
    let before = manifest(d);

    // Only the selected model runs; no source is loaded, the staging model comes from the commit.
    let (code, _, stderr) = run(beacon()
        .args([
            "run",
            "pipeline.yaml",
            "--date",
            "2026-03-31",
            "--select",
            "leads_by_source",
        ])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    let r = results(d, "2026-03-31");
    assert_eq!(model_names(&r), vec!["leads_by_source"]);
    assert_eq!(r["sources"], json!([]));
    assert_eq!(r["selected"], json!(["leads_by_source"]));
    let after = manifest(d);
    let tables = |m: &Value| -> Vec<String> {
        m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["model"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        tables(&after),
        vec!["leads_by_source", "opportunity_summary"]
    );
    assert_ne!(after["run_id"], before["run_id"]);
    // The table it did not build keeps its files; the selected one was rewritten.
    assert_eq!(after["tables"][1], before["tables"][1]);
    let rows = duckdb(&format!(
        "SELECT channel, leads FROM {} ORDER BY channel",
        hive(&d.join("out/published/leads_by_source"))
    ));
    assert_eq!(rows.len(), 3);

    // +model: the model and everything upstream (here the staging model, which reads a source).
    let (code, _, stderr) = run(beacon()
        .args([
            "run",
            "pipeline.yaml",
            "--date",
            "2026-03-31",
            "--select",
            "+leads_by_source",
        ])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    let r = results(d, "2026-03-31");
    assert_eq!(model_names(&r), vec!["stg_leads", "leads_by_source"]);
    let loaded: Vec<&str> = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        loaded,
        vec!["leads"],
        "only the source the selection reads is loaded"
    );

    // model+ minus --exclude.
    let (code, _, stderr) = run(beacon()
        .args([
            "run",
            "pipeline.yaml",
            "--date",
            "2026-03-31",
            "-s",
            "stg_leads+",
            "--exclude",
            "leads_by_source",
        ])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(model_names(&results(d, "2026-03-31")), vec!["stg_leads"]);

    // A selector that matches nothing is a usage error with a suggestion.
    let (code, _, stderr) = run(beacon()
        .args([
            "run",
            "pipeline.yaml",
            "--date",
            "2026-03-31",
            "--select",
            "leads_by_sorce+",
        ])
        .current_dir(d));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`leads_by_sorce+` selects no model, did you mean `leads_by_source`?"),
        "{stderr}"
    );
}

#[test]
fn select_on_a_fresh_date_builds_what_it_needs() {
    let dir = fixture("tiny");
    let d = dir.path();
    let (code, _, stderr) = run(beacon()
        .args([
            "run",
            "pipeline.yaml",
            "--date",
            "2026-04-02",
            "--select",
            "leads_by_source",
        ])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    let r = results(d, "2026-04-02");
    assert_eq!(
        model_names(&r),
        vec!["stg_leads", "leads_by_source"],
        "no committed run to read stg_leads from: it is built"
    );
}

#[test]
fn failing_error_tests_block_the_publish_and_warnings_do_not() {
    let dir = fixture("tiny");
    let d = dir.path();
    append(&d.join("pipeline.yaml"), CHECKS);
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("tests: 8 of 8 passed"), "{stdout}");

    // Break a test: Event is not an accepted channel any more.
    let p = d.join("pipeline.yaml");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("[Web, Partner, Event]", "[Web, Partner]");
    std::fs::write(&p, text).unwrap();
    let (code, _, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-04-01"])
        .current_dir(d));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("1 data test failed; nothing was published"),
        "{stderr}"
    );
    assert!(
        stderr.contains("leads_by_source: accepted_values(channel, 2 values) (pipeline.yaml:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("| Event"),
        "the offending row is shown: {stderr}"
    );
    assert!(
        !d.join("out/published/leads_by_source/run_date=2026-04-01")
            .exists(),
        "nothing published"
    );
    let r = results(d, "2026-04-01");
    assert_eq!(r["status"], "error");
    let failed: Vec<&Value> = r["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["failing_rows"], 1);
    assert_eq!(failed[0]["sample"][0]["channel"], "Event");

    // The same test as a warning: published, reported.
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "{accepted_values: [Web, Partner]}",
        "{accepted_values: [Web, Partner], severity: warn}",
    );
    std::fs::write(&p, text).unwrap();
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-04-01"])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("WARN  leads_by_source: accepted_values(channel, 2 values)"),
        "{stdout}"
    );
    assert!(d
        .join("out/published/leads_by_source/run_date=2026-04-01/_SUCCESS")
        .exists());
}

#[test]
fn beacon_test_checks_the_last_committed_run_and_show_previews_a_model() {
    let dir = fixture("tiny");
    let d = dir.path();
    let (code, _, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    // Tests added after the run are checked against its committed tables, with a singular test.
    append(&d.join("pipeline.yaml"), CHECKS);
    std::fs::create_dir_all(d.join("sql/tests")).unwrap();
    std::fs::write(
        d.join("sql/tests/web_is_the_biggest_channel.sql"),
        "-- severity: warn\nSELECT channel, leads FROM leads_by_source\nWHERE leads > (SELECT max(leads) FROM leads_by_source WHERE channel = 'Web')\n",
    )
    .unwrap();
    std::fs::write(
        d.join("sql/tests/every_lead_converted.sql"),
        "SELECT lead_id FROM stg_leads WHERE NOT is_converted\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(beacon().args(["test", "pipeline.yaml"]).current_dir(d));
    assert_eq!(code, 1, "an error test fails: {stdout}\n{stderr}");
    assert!(stdout.contains("tests of run_date=2026-03-31"), "{stdout}");
    assert!(
        stdout.contains("PASS  leads_by_source: unique(channel)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PASS  tests/web_is_the_biggest_channel"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  tests/every_lead_converted"),
        "{stdout}"
    );
    assert!(stdout.contains("2 offending rows"), "{stdout}");
    assert!(
        stdout.contains("9 passed, 1 failed, 0 warnings, 0 skipped"),
        "{stdout}"
    );
    // --select narrows the tests to a model's.
    let (code, stdout, _) = run(beacon()
        .args(["test", "pipeline.yaml", "--select", "leads_by_source"])
        .current_dir(d));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("7 passed, 0 failed"), "{stdout}");

    // show: a model computed now from the committed tables, even after its SQL changed.
    std::fs::write(
        d.join("sql/marts/leads_by_source.sql"),
        "SELECT channel, COUNT(*) * 10 AS leads_times_ten FROM stg_leads GROUP BY channel ORDER BY channel\n",
    )
    .unwrap();
    let (code, stdout, stderr) = run(beacon()
        .args(["show", "leads_by_source", "pipeline.yaml", "--limit", "2"])
        .current_dir(d));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("| channel | leads_times_ten |"), "{stdout}");
    assert!(stdout.contains("| Event   | 10              |"), "{stdout}");
    assert!(!stdout.contains("Web"), "--limit 2: {stdout}");
    assert!(
        stdout.contains("2 rows of `leads_by_source` (run_date=2026-03-31, --limit 2)"),
        "{stdout}"
    );
    // Nothing was published by show.
    let rows = duckdb(&format!(
        "SELECT count(*) FROM {}",
        hive(&d.join("out/published/leads_by_source"))
    ));
    assert_eq!(rows, vec![vec![json!(3)]]);
    let (code, _, stderr) = run(beacon()
        .args(["show", "leads_by_sorce", "pipeline.yaml"])
        .current_dir(d));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("did you mean `leads_by_source`?"),
        "{stderr}"
    );
}

#[test]
fn models_cannot_write_or_create_tables() {
    let dir = fixture("tiny");
    let d = dir.path();
    for (file, sql, expected) in [
        (
            "a.sql",
            "SELECT * INTO copy_of_leads FROM stg_leads",
            "SELECT ... INTO creates a table",
        ),
        (
            "b.sql",
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "found CREATE EXTERNAL TABLE",
        ),
        (
            "c.sql",
            "INSERT INTO stg_leads SELECT * FROM stg_leads",
            "found INSERT INTO",
        ),
        (
            "d.sql",
            "SELECT * FROM public.leads",
            "`public.leads` is a qualified name",
        ),
        (
            "e.sql",
            "SELECT * FROM '/etc/hosts'",
            "is not a source or model",
        ),
    ] {
        std::fs::write(d.join("sql/marts").join(file), sql).unwrap();
        let (code, _, stderr) = run(beacon().args(["validate", "pipeline.yaml"]).current_dir(d));
        assert_eq!(code, 2, "{sql}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{sql}: expected `{expected}` in {stderr}"
        );
        std::fs::remove_file(d.join("sql/marts").join(file)).unwrap();
    }
}
