//! `views:`: models planned inside the models that read them instead of written to Parquet. The
//! published tables are the same either way; a view leaves nothing in the work folder, is defined
//! again by every run that needs it, and a `views:` entry that selects nothing or selects a
//! published model is refused with its line.

use crate::common::{beacon, duckdb, fixture, hive, run};
use serde_json::Value;
use std::path::Path;

const DATE: &str = "2026-03-31";

fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).unwrap();
    s.push_str(text);
    std::fs::write(path, s).unwrap();
}

fn results(dir: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(dir.join(format!(
            "out/published/_beacon/runs/run_date={DATE}/run_results.json"
        )))
        .unwrap(),
    )
    .unwrap()
}

fn model<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no model {name} in {results}"))
}

/// Every folder under `root` named `name`.
fn folders_named(root: &Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_dir() {
                if e.file_name() == name {
                    out.push(e.path());
                }
                stack.push(e.path());
            }
        }
    }
    out
}

/// Rows of `table` in `a` that `b` lacks, and the other way round (EXCEPT ALL both ways).
fn differences(a: &Path, b: &Path, table: &str) -> i64 {
    let (ta, tb) = (
        hive(&a.join("out/published").join(table)),
        hive(&b.join("out/published").join(table)),
    );
    let cols = "* EXCLUDE (run_date)";
    let rows = duckdb(&format!(
        "SELECT (SELECT count(*) FROM (SELECT {cols} FROM {ta} EXCEPT ALL SELECT {cols} FROM {tb}))
              + (SELECT count(*) FROM (SELECT {cols} FROM {tb} EXCEPT ALL SELECT {cols} FROM {ta})),
                (SELECT count(*) FROM {ta})"
    ));
    assert!(rows[0][1].as_i64().unwrap() > 0, "{table} is empty");
    rows[0][0].as_i64().unwrap()
}

#[test]
fn a_view_publishes_the_same_rows_and_leaves_nothing_in_the_work_folder() {
    let tables = fixture("tiny");
    let views = fixture("tiny");
    append(&views.path().join("pipeline.yaml"), "views: [stg_*]\n");
    for dir in [tables.path(), views.path()] {
        let (code, _, stderr) = run(beacon()
            .args(["run", "pipeline.yaml", "--date", DATE])
            .current_dir(dir));
        assert_eq!(code, 0, "{stderr}");
    }
    for t in ["leads_by_source", "opportunity_summary"] {
        assert_eq!(differences(tables.path(), views.path(), t), 0, "{t}");
    }
    let r = results(views.path());
    assert_eq!(model(&r, "stg_leads")["view"], true);
    assert_eq!(model(&r, "stg_leads")["rows"], 0);
    assert!(model(&r, "leads_by_source").get("view").is_none());
    assert!(!folders_named(&tables.path().join("out/work"), "stg_leads").is_empty());
    assert_eq!(
        folders_named(&views.path().join("out/work"), "stg_leads"),
        Vec::<std::path::PathBuf>::new(),
        "a view writes nothing"
    );
    let pipeline_json: Value = serde_json::from_slice(
        &std::fs::read(views.path().join(format!(
            "out/published/_beacon/runs/run_date={DATE}/pipeline.json"
        )))
        .unwrap(),
    )
    .unwrap();
    let entry = pipeline_json["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "stg_leads")
        .unwrap();
    assert_eq!(entry["materialized"], "view");
    let (code, dag, _) = run(beacon()
        .args(["dag", "pipeline.yaml"])
        .current_dir(views.path()));
    assert_eq!(code, 0);
    assert!(dag.contains("stg_leads (staging, view) <- leads"), "{dag}");

    // A selection run defines the view again (it is stored nowhere), so it loads its source.
    let (code, _, stderr) = run(beacon()
        .args([
            "run",
            "pipeline.yaml",
            "--date",
            DATE,
            "--select",
            "leads_by_source",
        ])
        .current_dir(views.path()));
    assert_eq!(code, 0, "{stderr}");
    let r = results(views.path());
    let built: Vec<&str> = r["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(built, vec!["stg_leads", "leads_by_source"]);
    assert_eq!(r["sources"][0]["name"], "leads");
    assert_eq!(
        differences(tables.path(), views.path(), "leads_by_source"),
        0
    );

    // `beacon show` of a model reading a view, and of the view itself.
    for m in ["leads_by_source", "stg_leads"] {
        let (code, stdout, stderr) = run(beacon()
            .args(["show", m, "pipeline.yaml", "--date", DATE])
            .current_dir(views.path()));
        assert_eq!(code, 0, "{m}: {stderr}");
        assert!(stdout.lines().count() > 3, "{m}: {stdout}");
    }
}

#[test]
fn views_that_select_nothing_or_a_published_model_are_refused_with_their_line() {
    let dir = fixture("tiny");
    let d = dir.path();
    append(
        &d.join("pipeline.yaml"),
        "views:\n  - stg_lead\n  - leads_by_source\n",
    );
    let lines = std::fs::read_to_string(d.join("pipeline.yaml"))
        .unwrap()
        .lines()
        .count();
    for cmd in [
        vec!["run", "pipeline.yaml", "--date", DATE],
        vec!["validate", "pipeline.yaml"],
    ] {
        let (code, _, stderr) = run(beacon().args(&cmd).current_dir(d));
        let cmd = cmd[0];
        assert_ne!(code, 0, "{cmd}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "pipeline.yaml:{}: views[0]: `stg_lead` selects no model, did you mean `stg_leads`?",
                lines - 1
            )),
            "{cmd}: {stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "pipeline.yaml:{lines}: views[1]: `leads_by_source` is published, and a published model is written as a table"
            )),
            "{cmd}: {stderr}"
        );
    }
    assert!(!d.join("out/published").exists(), "nothing was published");
}
