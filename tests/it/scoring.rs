//! Lead scoring quality guards: the shipped sample and a generated 20k-lead sample through the real
//! pipeline, read back with DuckDB (METRICS.md lead_scores / lead_score_evaluation).

use crate::common::{beacon, duckdb, hive, repo, run, sample_command};
use serde_json::Value;
use std::path::Path;

/// Runs pipelines/beacon.yaml for 2026-11-15 (the generator's end date) into `dir`; `sources`
/// overrides BEACON_SOURCES (default: the shipped sample_data/).
pub fn run_sample(dir: &Path, sources: Option<&Path>) {
    let mut cmd = sample_command("run", dir);
    cmd.args(["--date", "2026-11-15"]);
    match sources {
        Some(s) => cmd.env("BEACON_SOURCES", s),
        None => cmd.env_remove("BEACON_SOURCES"),
    };
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
}

/// The one row of lead_score_evaluation as (column, value) pairs.
fn evaluation(output: &Path) -> serde_json::Map<String, Value> {
    let columns = [
        "auc",
        "top_decile_lift",
        "brier",
        "test_rows",
        "test_positives",
        "max_decile_calibration_error",
        "max_decile_calibration_z",
        "is_calibrated",
        "model_version",
        "test_conversion_rate",
        "test_mean_predicted",
    ];
    let rows = duckdb(&format!(
        "SELECT {} FROM {}",
        columns.join(", "),
        hive(&output.join("lead_score_evaluation"))
    ));
    assert_eq!(rows.len(), 1, "one evaluation row per run");
    columns
        .iter()
        .map(|c| c.to_string())
        .zip(rows[0].iter().cloned())
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn shipped_sample_ranks_explains_and_reproduces_its_scores() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    run_sample(first.path(), None);
    run_sample(second.path(), None);
    let out = first.path().join("output");
    let e = evaluation(&out);
    eprintln!("shipped sample evaluation: {e:?}");
    assert!(f(&e["auc"]) >= 0.75, "holdout AUC {e:?}");
    assert!(f(&e["top_decile_lift"]) >= 3.0, "top-decile lift {e:?}");
    assert!(e["test_rows"].as_u64().unwrap_or(0) >= 500, "{e:?}");
    // Calibration (METRICS.md): on the holdout, each decile's mean prediction within 5 points of
    // its observed rate. The shipped sample has 20,000 leads so that its holdout (~2,300 leads) can
    // show it: at 5,000 leads a perfectly calibrated model would pass only 4 times in 10.
    assert!(e["test_rows"].as_u64().unwrap_or(0) >= 2000, "{e:?}");
    assert_eq!(e["is_calibrated"], Value::Bool(true), "{e:?}");
    assert!(
        (f(&e["test_mean_predicted"]) - f(&e["test_conversion_rate"])).abs() <= 0.02,
        "calibration in the large {e:?}"
    );
    let per_decile = duckdb(&format!(
        "SELECT decile, mean_predicted, observed_rate FROM {} ORDER BY decile",
        hive(&out.join("lead_score_calibration"))
    ));
    assert_eq!(per_decile.len(), 10);
    for d in &per_decile {
        assert!(
            (f(&d[1]) - f(&d[2])).abs() <= 0.05,
            "decile {d:?} is more than 5 points off"
        );
    }
    let deciles = duckdb(&format!(
        "SELECT count(*), sum(leads) FROM {}",
        hive(&out.join("lead_score_calibration"))
    ));
    assert_eq!(deciles[0][0], Value::from(10));
    assert_eq!(deciles[0][1], e["test_rows"]);

    // Every open lead: a probability, 3 reasons, the production model's version.
    let scores = hive(&out.join("lead_scores"));
    let open = duckdb(&format!(
        "SELECT count(*),
                count(*) FILTER (WHERE len(string_split(top_reasons, '; ')) = 3),
                count(*) FILTER (WHERE regexp_full_match(model_version, 'lr-[0-9a-f]{{12}}')),
                count(DISTINCT model_version),
                min(model_version),
                count(*) FILTER (WHERE conversion_probability > 0 AND conversion_probability < 1
                                   AND score BETWEEN 0 AND 100 AND grade IN ('A', 'B', 'C', 'D')),
                count(*) FILTER (WHERE regexp_matches(top_reasons, '\\((raises|lowers)\\)$'))
         FROM {scores} WHERE is_open"
    ));
    let row = &open[0];
    let n = row[0].as_u64().unwrap();
    assert!(n > 100, "the sample has open leads: {row:?}");
    assert_eq!(row[1].as_u64(), Some(n), "three reasons each: {row:?}");
    assert_eq!(row[2].as_u64(), Some(n), "a model_version each: {row:?}");
    assert_eq!(row[3].as_u64(), Some(1), "one model per run: {row:?}");
    assert_eq!(row[4], e["model_version"], "the evaluated run's model");
    assert_eq!(
        row[5].as_u64(),
        Some(n),
        "probability, score, grade: {row:?}"
    );
    assert_eq!(
        row[6].as_u64(),
        Some(n),
        "reasons say raises/lowers: {row:?}"
    );

    // Two runs on the same inputs publish the same scores, bit for bit.
    let other = hive(&second.path().join("output/lead_scores"));
    let diff = duckdb(&format!(
        "SELECT count(*), count(*) FILTER (WHERE a.conversion_probability IS DISTINCT FROM b.conversion_probability
                                             OR a.score IS DISTINCT FROM b.score
                                             OR a.grade IS DISTINCT FROM b.grade
                                             OR a.route IS DISTINCT FROM b.route
                                             OR a.top_reasons IS DISTINCT FROM b.top_reasons
                                             OR a.model_version IS DISTINCT FROM b.model_version)
         FROM {scores} a FULL JOIN {other} b USING (lead_id)"
    ));
    assert_eq!(diff[0][0], Value::from(20000), "{diff:?}");
    assert_eq!(diff[0][1], Value::from(0), "scores differ between two runs");
    let e2 = evaluation(&second.path().join("output"));
    assert_eq!(e, e2, "the evaluation is reproducible too");
}

/// hot_list.sql as shipped, on hand-made inputs (tests/fixtures/hot_list/sql/inputs): 100 AE hours,
/// candidates whose value per AE hour is worked out by hand in the comments below.
#[test]
fn hot_list_ranks_by_value_per_ae_hour_breaks_ties_by_account_and_stops_at_capacity() {
    let dir = crate::common::fixture("hot_list");
    let marts = dir.path().join("sql/marts");
    std::fs::create_dir_all(&marts).unwrap();
    std::fs::copy(
        repo().join("sql/marts/hot_list.sql"),
        marts.join("hot_list.sql"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .current_dir(dir.path()));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let rows = duckdb(&format!(
        "SELECT rank, account_id, account_name, source, stage, p_win, expected_ltv, expected_value,
                required_ae_hours, cumulative_ae_hours, ae_available_hours
         FROM {} ORDER BY rank",
        hive(&dir.path().join("out/published/hot_list"))
    ));
    let got: Vec<(i64, &str, f64, f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[1].as_str().unwrap(),
                f(&r[5]),
                f(&r[7]),
                f(&r[8]),
                f(&r[9]),
            )
        })
        .collect();
    // (rank, account, p_win, expected_value, required_ae_hours, cumulative_ae_hours)
    let want = vec![
        // Consulting: no AE activity, so no AE hours: ahead of everything, takes no capacity
        (1, "ACC-G", 0.2, 20_000.0, 0.0, 0.0),
        // Implementation: 0.8 x Web LTV 100k (90k x 1 and 105k x 2 new customers); 20 x 0.25 + 10 h
        (2, "ACC-C", 0.8, 80_000.0, 15.0, 15.0),
        // Paid Search has no LTV in the last 12 months: the ALL LTV, 50k; 2667 per hour
        (3, "ACC-F", 0.8, 40_000.0, 15.0, 30.0),
        // Two Solution deals at 2500 per hour: ACC-A (moved to Solution in its history) before
        // ACC-B by account_id, though O-B comes first in the input
        (4, "ACC-A", 0.5, 50_000.0, 20.0, 50.0),
        (5, "ACC-B", 0.5, 50_000.0, 20.0, 70.0),
        // Needs Analysis, Event LTV: 40k for 25 h
        (6, "ACC-E", 0.4, 40_000.0, 25.0, 95.0),
        // ACC-D (Qualification, 30 h: its move to Implementation is after the run date) would
        // bring the total to 125 > 100 hours: the list stops there, and the grade A lead L1 after
        // it (0.3 x 50k for 30 h) is not listed either.
    ];
    assert_eq!(got.len(), want.len(), "{rows:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((g.0, g.1), (w.0, w.1), "{rows:?}");
        for (a, b) in [(g.2, w.2), (g.3, w.3), (g.4, w.4), (g.5, w.5)] {
            assert!((a - b).abs() < 1e-6, "{g:?} vs {w:?}");
        }
    }
    assert!(
        rows.iter().all(|r| f(&r[10]) == 100.0),
        "AE hours of the AE role only"
    );
    assert_eq!(rows[1][2], Value::from("Gamma"));
    assert_eq!(
        rows[1][4],
        Value::from("Implementation"),
        "ACC-C once, for its best deal"
    );
}
