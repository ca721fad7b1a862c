//! Real exports nobody here wrote (../shared/realdata): skipped cleanly when the folder is absent.

use crate::common::{beacon, duckdb, fixture, hive, repo, run};
use serde_json::{json, Value};
use std::path::PathBuf;

fn realdata(name: &str) -> Option<PathBuf> {
    let dir = repo().join("../shared/realdata").join(name);
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}

#[test]
fn salesforce_data_export_loads_as_it_is() {
    let Some(export) = realdata("sfdc_devorg_sample") else {
        return;
    };
    let dir = fixture("sfdc");
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-11-22"])
        .env("SFDC_EXPORT", &export)
        .current_dir(dir.path()));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let results: Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("out/published/_beacon/runs/run_date=2026-11-22/run_results.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let sources = results["sources"].as_array().unwrap();
    let loaded: Vec<(String, u64, u64)> = sources
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["rows_loaded"].as_u64().unwrap(),
                s["rows_rejected"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        loaded,
        vec![
            ("accounts".into(), 12, 0),
            ("campaigns".into(), 4, 0),
            ("opportunities".into(), 31, 0),
            ("opportunity_history".into(), 62, 0)
        ]
    );
    let drift = sources[2]["schema_drift"].as_array().unwrap();
    assert!(
        drift.contains(&json!("CampaignId")) && drift.len() > 20,
        "{drift:?}"
    );
    let raw = dir.path().join("out/raw/opportunities");
    // The null-lookup sentinel is NULL, `YYYY-MM-DD 00:00:00` dates are dates, 0/1 are booleans.
    let rows = duckdb(&format!(
        "SELECT COUNT(*) FILTER (WHERE \"CampaignId\" IS NULL), COUNT(*) FILTER (WHERE \"IsWon\"), CAST(MIN(\"CloseDate\") AS VARCHAR), CAST(MIN(\"CreatedDate\") AS VARCHAR) FROM {}",
        hive(&raw)
    ));
    assert_eq!(rows[0][0], json!(31));
    assert_eq!(rows[0][1], json!(18));
    assert!(rows[0][2].as_str().unwrap().len() == 10, "{rows:?}");
    assert_eq!(rows[0][3], json!("2018-10-13 17:16:45"));
    let by_stage = duckdb(&format!(
        "SELECT stage, opportunities, won_amount, stage_changes FROM {} WHERE stage = 'Closed Won'",
        hive(&dir.path().join("out/published/opportunities_by_stage"))
    ));
    assert_eq!(
        by_stage,
        vec![vec![
            json!("Closed Won"),
            json!(18),
            json!(3645000.0),
            json!(36)
        ]]
    );
}
