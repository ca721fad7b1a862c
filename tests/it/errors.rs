//! Every error path: a clear message naming file, line and column, a documented exit code, and
//! nothing published (the previous run's outputs stay intact).

use crate::common::{beacon, duckdb, fixture, hive, run};
use serde_json::json;
use std::path::Path;

fn run_tiny(dir: &Path, date: &str) -> (i32, String, String) {
    run(beacon()
        .args(["run", "pipeline.yaml", "--date", date])
        .current_dir(dir))
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} in {}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

fn published_rows(dir: &Path, date: &str) -> Vec<Vec<serde_json::Value>> {
    duckdb(&format!(
        "SELECT channel, leads FROM {} WHERE CAST(run_date AS VARCHAR) = '{date}' ORDER BY channel",
        hive(&dir.join("out/published/leads_by_source"))
    ))
}

#[test]
fn bad_yaml_names_file_line_column_and_suggests() {
    let dir = fixture("tiny");
    edit(&dir.path().join("pipeline.yaml"), "    primary_key: [Id]\n    columns:\n      Id: string required\n      CreatedDate: timestamp required\n      LeadSource", "    primary_kee: [Id]\n    columns:\n      Id: string required\n      CreatedDate: timestamp required\n      LeadSource");
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("pipeline.yaml:16:5: sources.leads.primary_kee: unknown key `primary_kee`, did you mean `primary_key`?"), "{stderr}");
    assert!(
        !dir.path().join("out").exists(),
        "nothing is read or written"
    );
}

#[test]
fn wrong_type_in_yaml_is_located() {
    let dir = fixture("tiny");
    edit(
        &dir.path().join("pipeline.yaml"),
        "      NumberOfEmployees: integer",
        "      NumberOfEmployees: integr",
    );
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("pipeline.yaml:23:7: sources.leads.columns.NumberOfEmployees: unknown type `integr`, did you mean `integer`?"), "{stderr}");
}

#[test]
fn missing_required_column_names_file_and_column() {
    let dir = fixture("tiny");
    assert_eq!(run_tiny(dir.path(), "2026-03-30").0, 0);
    edit(
        &dir.path().join("data/opportunities.csv"),
        "Id,CreatedDate,",
        "Id,Created,",
    );
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("opportunities.csv"), "{stderr}");
    assert!(stderr.contains("`CreatedDate`"), "{stderr}");
    assert!(
        !dir.path()
            .join("out/published/leads_by_source/run_date=2026-03-31")
            .exists(),
        "nothing published"
    );
    assert_eq!(
        published_rows(dir.path(), "2026-03-30").len(),
        3,
        "the previous run is intact"
    );
}

#[test]
fn malformed_rows_are_quarantined_with_line_column_and_reason() {
    let dir = fixture("tiny");
    let csv = dir.path().join("data/leads.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    // 200 good rows, then one unparseable value and one duplicate key: under the 1 % threshold.
    for i in 0..200 {
        text.push_str(&format!("L{i},2026-03-01T00:00:00Z,Web,false,1,1,\n"));
    }
    text.push_str("BAD1,2026-03-01T00:00:00Z,Web,maybe,1,1,\n");
    text.push_str("L7,2026-03-01T00:00:00Z,Web,false,1,1,\n");
    std::fs::write(&csv, text).unwrap();
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 0, "{stderr}");
    let q = duckdb(&format!(
        "SELECT line, \"column\", reason, value FROM {} ORDER BY line",
        hive(&dir.path().join("out/raw/_quarantine/leads"))
    ));
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(
        q[0][0],
        json!(207),
        "BOM header is line 1, the quoted newline spans lines 2-3"
    );
    assert_eq!(q[0][1], json!("IsConverted"));
    assert!(q[0][2].as_str().unwrap().contains("not a boolean"), "{q:?}");
    assert_eq!(q[0][3], json!("maybe"));
    assert_eq!(q[1][0], json!(208));
    assert!(
        q[1][2].as_str().unwrap().contains("duplicate primary key"),
        "{q:?}"
    );
    let web = published_rows(dir.path(), "2026-03-31");
    assert_eq!(
        web.last().unwrap(),
        &vec![json!("Web"), json!(202)],
        "rejected rows are not loaded"
    );
}

#[test]
fn too_many_rejected_rows_fail_the_run_and_publish_nothing() {
    let dir = fixture("tiny");
    assert_eq!(run_tiny(dir.path(), "2026-03-31").0, 0);
    edit(
        &dir.path().join("data/leads.csv"),
        "00Q2,2026-03-04T23:30:00.000+0000",
        "00Q2,yesterday",
    );
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("leads"), "{stderr}");
    assert!(
        stderr.contains("threshold") || stderr.contains("rejected"),
        "{stderr}"
    );
    assert_eq!(
        published_rows(dir.path(), "2026-03-31").len(),
        3,
        "the previous run of that date is intact"
    );
    // The rejected row is kept with its reason even though the run failed.
    let q = duckdb(&format!(
        "SELECT line, \"column\" FROM {}",
        hive(&dir.path().join("out/raw/_quarantine/leads"))
    ));
    assert_eq!(q, vec![vec![json!(4), json!("CreatedDate")]]);
}

#[test]
fn a_cycle_names_the_files() {
    let dir = fixture("tiny");
    std::fs::write(dir.path().join("sql/staging/a.sql"), "SELECT * FROM b").unwrap();
    std::fs::write(dir.path().join("sql/staging/b.sql"), "SELECT * FROM a").unwrap();
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("dependency cycle"), "{stderr}");
    assert!(
        stderr.contains("sql/staging/a.sql") && stderr.contains("sql/staging/b.sql"),
        "{stderr}"
    );
}

#[test]
fn unknown_table_is_located_with_a_suggestion() {
    let dir = fixture("tiny");
    std::fs::write(
        dir.path().join("sql/marts/x.sql"),
        "-- x\nSELECT *\nFROM stg_lead",
    )
    .unwrap();
    let (code, _, stderr) = run(beacon()
        .args(["validate", "pipeline.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sql/marts/x.sql:3:6: `stg_lead` is not a source or model of this pipeline, did you mean `stg_leads`?"), "{stderr}");
}

#[test]
fn ddl_and_copy_are_rejected() {
    let dir = fixture("tiny");
    std::fs::write(
        dir.path().join("sql/marts/evil.sql"),
        "COPY (SELECT 1) TO '/tmp/x.parquet'",
    )
    .unwrap();
    let (code, _, stderr) = run(beacon()
        .args(["validate", "pipeline.yaml"])
        .current_dir(dir.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("evil.sql: only a SELECT query is allowed in a model, found COPY"),
        "{stderr}"
    );
}

#[test]
fn a_failing_model_publishes_nothing() {
    let dir = fixture("tiny");
    assert_eq!(run_tiny(dir.path(), "2026-03-31").0, 0);
    edit(
        &dir.path().join("sql/marts/opportunity_summary.sql"),
        "COUNT(*) AS opportunities",
        "COUNT(no_such_column) AS opportunities",
    );
    let (code, _, stderr) = run_tiny(dir.path(), "2026-03-31");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("opportunity_summary"), "{stderr}");
    assert!(stderr.contains("no_such_column"), "{stderr}");
    assert_eq!(
        published_rows(dir.path(), "2026-03-31").len(),
        3,
        "the other model's new output was not published over the old"
    );
    let results = std::fs::read_to_string(
        dir.path()
            .join("out/published/_beacon/runs/run_date=2026-03-31/run_results.json"),
    )
    .unwrap();
    assert!(results.contains("\"status\": \"error\""), "{results}");
}
