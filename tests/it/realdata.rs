//! Real exports nobody here wrote (../shared/realdata): skipped cleanly when the folder is absent.

use crate::common::{beacon, duckdb, fixture, hive, repo, run};
use serde_json::{json, Value};
use std::path::PathBuf;

/// `../shared/realdata/<name>` beside the repository, or under `$BEACON_REALDATA` when set.
fn realdata(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os("BEACON_REALDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/realdata"));
    let dir = root.join(name);
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

/// The X Education leads (real, anonymised: ../shared/realdata/SOURCES.md) through
/// pipelines/x_education.yaml: Beacon's learned score must match or beat a plain scikit-learn
/// logistic regression on the same fair columns (AUC about 0.86), and stay calibrated. Slow tier
/// (BEACON_SLOW_TESTS=1): it reads real data that is not part of the repository.
#[test]
fn x_education_leads_are_scored_as_well_as_a_plain_logistic_regression() {
    if std::env::var("BEACON_SLOW_TESTS").as_deref() != Ok("1") {
        eprintln!("skipping: slow test (set BEACON_SLOW_TESTS=1)");
        return;
    }
    let Some(data) = realdata("x_education_leads") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("output");
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipelines/x_education.yaml", "--date", "2026-11-22"])
        .env("X_EDUCATION_DIR", &data)
        .arg("--set")
        .arg(format!("raw={}", tmp.path().join("raw").display()))
        .arg("--set")
        .arg(format!("output={}", out.display()))
        .arg("--set")
        .arg(format!("work={}", tmp.path().join("work").display()))
        .current_dir(repo()));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("published 3 tables"),
        "only the lead-scoring tables: {stdout}"
    );
    let e = duckdb(&format!(
        "SELECT holdout_split, train_rows, test_rows, test_positives, auc, top_decile_lift, brier,
                max_decile_calibration_error, is_calibrated
         FROM {}",
        hive(&out.join("lead_score_evaluation"))
    ));
    eprintln!("x_education evaluation: {e:?}");
    let row = &e[0];
    assert_eq!(row[0], json!("hash"));
    assert_eq!(
        row[1].as_u64().unwrap() + row[2].as_u64().unwrap(),
        9240,
        "every lead is history: {row:?}"
    );
    // A deterministic 30 % split of the Prospect ID.
    let test_rows = row[2].as_u64().unwrap();
    assert!((2600..=2950).contains(&test_rows), "{row:?}");
    assert!(row[4].as_f64().unwrap() >= 0.86, "AUC {row:?}");
    // The top decile converts at more than 2.4x the average (at most 1 / 0.38 = 2.6 is possible).
    assert!(row[5].as_f64().unwrap() >= 2.4, "lift {row:?}");
    assert!(row[6].as_f64().unwrap() <= 0.15, "Brier {row:?}");
    assert!(row[7].as_f64().unwrap() <= 0.05, "calibration {row:?}");
    assert_eq!(row[8], json!(true));
    // The reasons name fair columns only: nothing recorded after the sales team worked the lead.
    let leaks = duckdb(&format!(
        "SELECT count(*) FILTER (WHERE regexp_matches(lower(top_reasons), 'tags|quality|profile|activity|asymmetrique')),
                count(*) FILTER (WHERE len(string_split(top_reasons, '; ')) = 3)
         FROM {}",
        hive(&out.join("lead_scores"))
    ));
    assert_eq!(leaks[0][0], json!(0), "{leaks:?}");
    assert_eq!(leaks[0][1], json!(9240), "{leaks:?}");
}
