//! End-to-end runs that succeed: the tiny fixture and the shipped sample pipeline.

use crate::common::{beacon, duckdb, fixture, hive, repo, run};
use serde_json::{json, Value};
use std::path::Path;

fn run_tiny(dir: &Path, date: &str) -> (i32, String, String) {
    run(beacon()
        .args(["run", "pipeline.yaml", "--date", date])
        .current_dir(dir))
}

#[test]
fn tiny_pipeline_publishes_hive_partitioned_parquet() {
    let dir = fixture("tiny");
    let (code, stdout, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("leads_by_source"), "{stdout}");
    assert!(
        stdout.contains("published 2 tables for run_date=2026-03-31"),
        "{stdout}"
    );

    let out = dir.path().join("out/published");
    let rows = duckdb(&format!(
        "SELECT channel, leads, converted, CAST(run_date AS VARCHAR) FROM {} ORDER BY channel",
        hive(&out.join("leads_by_source"))
    ));
    assert_eq!(
        rows,
        vec![
            vec![json!("Event"), json!(1), json!(0), json!("2026-03-31")],
            vec![json!("Partner"), json!(1), json!(1), json!("2026-03-31")],
            vec![json!("Web"), json!(2), json!(1), json!("2026-03-31")],
        ]
    );
    let rows = duckdb(&format!(
        "SELECT opportunities, won_amount, usage_events FROM {}",
        hive(&out.join("opportunity_summary"))
    ));
    assert_eq!(rows, vec![vec![json!(3), json!(12000.0), json!(0)]]);

    // The partition is marked complete, and the manifest lists files, row counts and schemas.
    assert!(out
        .join("leads_by_source/run_date=2026-03-31/_SUCCESS")
        .exists());
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(out.join("_beacon/runs/run_date=2026-03-31/manifest.json")).unwrap(),
    )
    .unwrap();
    let tables = manifest["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2);
    let leads = tables
        .iter()
        .find(|t| t["model"] == "leads_by_source")
        .unwrap();
    assert_eq!(leads["rows"], 3);
    assert_eq!(leads["files"].as_array().unwrap().len(), 1);
    assert_eq!(leads["schema"][0]["name"], "channel");
    let results: Value = serde_json::from_slice(
        &std::fs::read(out.join("_beacon/runs/run_date=2026-03-31/run_results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["status"], "success");
    let usage = results["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "usage_events")
        .unwrap();
    assert_eq!(
        usage["status"], "skipped",
        "a missing optional source is an empty table"
    );
    let models = results["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    assert!(models.iter().all(|m| m["status"] == "success"));
    // Nothing of the run is left in staging.
    let staging = out.join("_beacon/staging");
    assert!(!staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none());
}

#[test]
fn raw_zone_keeps_types_extra_columns_and_utc_times() {
    let dir = fixture("tiny");
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 0, "{stderr}");
    let raw = dir.path().join("out/raw");
    let rows = duckdb(&format!(
        "SELECT \"Id\", CAST(\"CreatedDate\" AS VARCHAR), \"IsConverted\", \"AnnualRevenue\", \"NumberOfEmployees\", \"Notes\" FROM {} ORDER BY \"Id\"",
        hive(&raw.join("leads"))
    ));
    assert_eq!(
        rows[0],
        vec![
            json!("00Q1"),
            json!("2026-03-04 10:15:00"),
            json!(true),
            json!(1000000.0),
            json!(50),
            json!("first line\nsecond line")
        ]
    );
    assert_eq!(
        rows[1][1],
        json!("2026-03-04 23:30:00"),
        "23:30 +0000 stays on the same UTC day"
    );
    assert_eq!(rows[1][3], Value::Null, "empty = NULL");
    assert_eq!(rows[2][1], json!("2026-03-05 08:00:00"));
    assert_eq!(rows[2][2], json!(true), "1 is true");
    assert_eq!(
        rows[3][1],
        json!("2026-03-06 00:00:00"),
        "a bare date is midnight UTC"
    );
    assert_eq!(rows[3][5], json!("with \"quotes\""));
    let opp = duckdb(&format!(
        "SELECT CAST(\"CreatedDate\" AS VARCHAR) FROM {} WHERE \"Id\" = '006B'",
        hive(&raw.join("opportunities"))
    ));
    assert_eq!(
        opp,
        vec![vec![json!("2026-03-11 07:00:00")]],
        "+0200 is converted to UTC"
    );
    let results: Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("out/published/_beacon/runs/run_date=2026-03-31/run_results.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let leads = results["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "leads")
        .unwrap();
    assert_eq!(leads["schema_drift"], json!(["Notes"]));
    assert_eq!(leads["rows_loaded"], 4);
}

#[test]
fn rerunning_a_date_replaces_it_and_other_dates_stay() {
    let dir = fixture("tiny");
    for date in ["2026-03-31", "2026-03-31", "2026-04-01"] {
        let (code, _, stderr) = run_tiny(dir.path(), date);
        assert_eq!(code, 0, "{stderr}");
    }
    let table = dir.path().join("out/published/leads_by_source");
    let rows = duckdb(&format!(
        "SELECT CAST(run_date AS VARCHAR), COUNT(*) FROM {} GROUP BY 1 ORDER BY 1",
        hive(&table)
    ));
    assert_eq!(
        rows,
        vec![
            vec![json!("2026-03-31"), json!(3)],
            vec![json!("2026-04-01"), json!(3)]
        ]
    );
    let files: Vec<_> = std::fs::read_dir(table.join("run_date=2026-03-31"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        files.len(),
        2,
        "one Parquet file and _SUCCESS, no leftovers: {files:?}"
    );
}

#[test]
fn the_run_date_filters_events_as_of_that_day() {
    let dir = fixture("tiny");
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-04");
    assert_eq!(code, 0, "{stderr}");
    let rows = duckdb(&format!(
        "SELECT channel, leads FROM {} ORDER BY channel",
        hive(&dir.path().join("out/published/leads_by_source"))
    ));
    assert_eq!(
        rows,
        vec![vec![json!("Web"), json!(2)]],
        "the 23:30 lead counts on its own day"
    );
}

#[test]
fn validate_and_dag_describe_the_tiny_project() {
    let dir = fixture("tiny");
    let (code, stdout, stderr) = run(beacon()
        .args(["validate", "pipeline.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("ok (3 sources, 3 models, 2 published, 0 tests)"),
        "{stdout}"
    );
    let (code, stdout, _) = run(beacon()
        .args(["dag", "pipeline.yaml", "--format", "mermaid"])
        .current_dir(dir.path()));
    assert_eq!(code, 0);
    assert!(stdout.contains("stg_leads --> leads_by_source"), "{stdout}");
    assert!(stdout.contains("leads --> stg_leads"), "{stdout}");
}

#[test]
fn sample_pipeline_runs_end_to_end() {
    let repo = repo();
    if !repo.join("sample_data/leads.csv.gz").exists() {
        panic!("sample_data/ is missing: it is committed with the repository");
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("output");
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipelines/beacon.yaml", "--date", "2026-11-15"])
        .arg("--set")
        .arg(format!("raw={}", tmp.path().join("raw").display()))
        .arg("--set")
        .arg(format!("output={}", out.display()))
        .arg("--set")
        .arg(format!("work={}", tmp.path().join("work").display()))
        .current_dir(&repo));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(out.join("_beacon/runs/run_date=2026-11-15/manifest.json")).unwrap(),
    )
    .unwrap();
    for table in manifest["tables"].as_array().unwrap() {
        let model = table["model"].as_str().unwrap();
        let rows = duckdb(&format!("SELECT COUNT(*) FROM {}", hive(&out.join(model))));
        assert_eq!(
            rows[0][0], table["rows"],
            "DuckDB reads every row of {model}"
        );
        assert!(
            table["rows"].as_u64().unwrap() > 0,
            "{model} is not empty on the sample data"
        );
    }
}

#[test]
fn local_output_follows_the_commit_protocol_and_reader_rule() {
    let dir = fixture("tiny");
    let out = dir.path().join("out/published");
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (code, stdout, stderr) = run_tiny(dir.path(), "2026-03-31");
        assert_eq!(code, 0, "{stderr}");
        runs.push(stdout.split_whitespace().nth(1).unwrap().to_string());
    }
    let state = crate::s3env::reader_state(
        &[],
        &out.to_string_lossy(),
        "2026-03-31",
        &["leads_by_source", "opportunity_summary"],
    );
    // Both rules see the second run, and only its files are left.
    assert_eq!(state["manifest"]["run_id"], json!(runs[1]));
    assert_eq!(
        state["manifest"]["tables"]["leads_by_source"]["rows"],
        json!([["Event", 1, 0], ["Partner", 1, 1], ["Web", 2, 1]])
    );
    for t in ["leads_by_source", "opportunity_summary"] {
        assert_eq!(state["success"][t]["run_id"], json!(runs[1]), "{state}");
    }
    let parquet: Vec<&str> = state["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.as_str())
        .filter(|o| o.ends_with(".parquet"))
        .collect();
    assert_eq!(
        parquet,
        vec![
            format!(
                "leads_by_source/run_date=2026-03-31/part-{}-00000.parquet",
                runs[1]
            ),
            format!(
                "opportunity_summary/run_date=2026-03-31/part-{}-00000.parquet",
                runs[1]
            ),
        ]
    );
    assert!(!out.join("_beacon/locks/run_date=2026-03-31.lock").exists());
}

#[test]
fn gzip_compressed_exports_load_like_plain_ones() {
    use std::io::Write;
    let dir = fixture("tiny");
    let d = dir.path();
    // The same leads, gzip-compressed, plus a malformed row: same rows, same line numbers.
    let mut csv = std::fs::read_to_string(d.join("data/leads.csv")).unwrap();
    csv.push_str("BAD1,2026-03-01T00:00:00Z,Web,maybe,1,1,\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    std::fs::write(d.join("data/leads.csv.gz"), gz.finish().unwrap()).unwrap();
    std::fs::remove_file(d.join("data/leads.csv")).unwrap();
    let yaml = std::fs::read_to_string(d.join("pipeline.yaml"))
        .unwrap()
        .replace(
            "location: data/leads.csv",
            "location: data/leads.csv.gz\n    max_rejected_share: 0.5",
        );
    std::fs::write(d.join("pipeline.yaml"), yaml).unwrap();
    let (code, _, stderr) = run_tiny(d, "2026-03-31");
    assert_eq!(code, 0, "{stderr}");
    let rows = duckdb(&format!(
        "SELECT \"Id\", \"Notes\" FROM {} ORDER BY \"Id\"",
        hive(&d.join("out/raw/leads"))
    ));
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0][1], json!("first line\nsecond line"));
    let q = duckdb(&format!(
        "SELECT line, \"column\", file FROM {}",
        hive(&d.join("out/raw/_quarantine/leads"))
    ));
    assert_eq!(q[0][0], json!(7), "line numbers count decompressed lines");
    assert_eq!(q[0][1], json!("IsConverted"));
    assert!(q[0][2].as_str().unwrap().ends_with("leads.csv.gz"), "{q:?}");
}
