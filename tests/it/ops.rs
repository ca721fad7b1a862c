//! Nightly operations: idempotent re-runs, backfills, OpenLineage events, artifacts, and no
//! secret in any of them.

use crate::common::{beacon, duckdb, fixture, hive, python, run};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn run_tiny(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(beacon()
        .arg("run")
        .arg("pipeline.yaml")
        .args(args)
        .current_dir(dir))
}

/// The Parquet files of a partition: (name without the run id, bytes). Names carry the run id
/// (`part-<run_id>-00000.parquet`), so a re-run has new names for the same bytes.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".parquet") {
            continue;
        }
        let seq = name.rsplit('-').next().unwrap().to_string();
        out.push((seq, std::fs::read(&p).unwrap()));
    }
    out.sort();
    out
}

#[test]
fn a_rerun_of_a_date_publishes_the_same_bytes() {
    let dir = fixture("tiny");
    let d = dir.path();
    assert_eq!(run_tiny(d, &["--date", "2026-03-31"]).0, 0);
    let part = d.join("out/published/leads_by_source/run_date=2026-03-31");
    let first = files_of(&part);
    assert_eq!(run_tiny(d, &["--date", "2026-03-31"]).0, 0);
    assert_eq!(files_of(&part), first, "same files, byte for byte");
    let rows = duckdb(&format!(
        "SELECT count(*) FROM {}",
        hive(&d.join("out/published/leads_by_source"))
    ));
    assert_eq!(rows[0][0], 3, "no duplicated rows");
}

#[test]
fn backfill_runs_each_date_once_unless_forced() {
    let dir = fixture("tiny");
    let d = dir.path();
    assert_eq!(run_tiny(d, &["--date", "2026-03-31"]).0, 0);
    let (code, stdout, stderr) = run_tiny(d, &["--from", "2026-03-30", "--to", "2026-04-01"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("run_date=2026-03-31: already committed, skipped (--force re-runs it)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("backfill 2026-03-30..2026-04-01: 2 dates run, 1 skipped"),
        "{stdout}"
    );
    let rows = duckdb(&format!(
        "SELECT CAST(run_date AS VARCHAR) AS d, count(*) FROM {} GROUP BY d ORDER BY d",
        hive(&d.join("out/published/leads_by_source"))
    ));
    let dates: Vec<&str> = rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(dates, vec!["2026-03-30", "2026-03-31", "2026-04-01"]);
    // The order is the dates' order: the last date's results were written last.
    let t = |date: &str| {
        std::fs::metadata(d.join(format!(
            "out/published/_beacon/runs/run_date={date}/manifest.json"
        )))
        .unwrap()
        .modified()
        .unwrap()
    };
    assert!(t("2026-03-30") <= t("2026-04-01"));
    let (code, stdout, _) = run_tiny(
        d,
        &["--from", "2026-03-30", "--to", "2026-04-01", "--force"],
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("3 dates run, 0 skipped"), "{stdout}");
    let (code, _, stderr) = run_tiny(d, &["--from", "2026-04-02", "--to", "2026-04-01"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--from 2026-04-02 is after --to 2026-04-01"),
        "{stderr}"
    );
}

/// A local HTTP server that records each POST (headers and body) as one JSON line.
struct Collector {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Collector {
    fn start(dir: &Path) -> Collector {
        let log = dir.join("posts.ndjson");
        let script = r#"
import http.server, json, sys
log = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"), "body": json.loads(body)}) + "\n")
        self.send_response(201); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
        let mut child = Command::new(python())
            .arg("-c")
            .arg(script)
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Collector {
            child,
            port: line.trim().parse().unwrap(),
            log,
        }
    }

    fn posts(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn lineage_events_and_artifacts_name_datasets_and_never_secrets() {
    let dir = fixture("tiny");
    let d = dir.path();
    let server = Collector::start(d);
    let mut yaml = std::fs::read_to_string(d.join("pipeline.yaml")).unwrap();
    yaml.push_str(&format!(
        "lineage:\n  namespace: growth\n  file: out/lineage.ndjson\n  url: http://127.0.0.1:{}/api/v1/lineage\n",
        server.port
    ));
    std::fs::write(d.join("pipeline.yaml"), yaml).unwrap();
    let secret = "s3cr3t-Do-Not-Print-42";
    let token = "lineage-token-Do-Not-Print-7";
    let mut cmd = beacon();
    cmd.args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
        .env("OPENLINEAGE_API_KEY", token)
        .current_dir(d);
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "{stderr}");

    // The file and the endpoint got the same two events of one run.
    let file: Vec<Value> = std::fs::read_to_string(d.join("out/lineage.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let posts = server.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    for (i, kind) in ["START", "COMPLETE"].iter().enumerate() {
        assert_eq!(file[i]["eventType"], *kind);
        assert_eq!(posts[i]["body"]["eventType"], *kind);
        assert_eq!(posts[i]["path"], "/api/v1/lineage");
        assert_eq!(
            posts[i]["auth"],
            format!("Bearer {token}"),
            "the key goes in the header"
        );
        assert_eq!(file[i]["job"]["namespace"], "growth");
        assert_eq!(file[i]["job"]["name"], "tiny");
    }
    assert_eq!(file[0]["run"]["runId"], file[1]["run"]["runId"]);
    let inputs: Vec<&str> = file[0]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        inputs.iter().any(|i| i.ends_with("/data/leads.csv")),
        "{inputs:?}"
    );
    let outputs = file[1]["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2);
    let leads = outputs
        .iter()
        .find(|o| o["name"].as_str().unwrap().contains("leads_by_source"))
        .unwrap();
    assert_eq!(leads["namespace"], "file");
    assert_eq!(leads["outputFacets"]["outputStatistics"]["rowCount"], 3);
    assert_eq!(leads["facets"]["schema"]["fields"][0]["name"], "channel");

    // The pipeline manifest describes models, dependencies and schemas.
    let meta = d.join("out/published/_beacon/runs/run_date=2026-03-31");
    let pipeline: Value =
        serde_json::from_slice(&std::fs::read(meta.join("pipeline.json")).unwrap()).unwrap();
    let by_source = pipeline["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "leads_by_source")
        .unwrap();
    assert_eq!(
        by_source["depends_on_models"],
        serde_json::json!(["stg_leads"])
    );
    assert_eq!(by_source["published"], true);
    assert_eq!(by_source["columns"][1]["name"], "leads");
    assert_eq!(pipeline["sources"][0]["columns"][0]["name"], "Id");

    // A failing run sends FAIL with the error.
    std::fs::write(
        d.join("sql/marts/leads_by_source.sql"),
        "SELECT nope FROM stg_leads",
    )
    .unwrap();
    let mut cmd = beacon();
    cmd.args(["run", "pipeline.yaml", "--date", "2026-04-01"])
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("OPENLINEAGE_API_KEY", token)
        .current_dir(d);
    let (code, stdout2, stderr2) = run(&mut cmd);
    assert_eq!(code, 1);
    let posts = server.posts();
    assert_eq!(posts.last().unwrap()["body"]["eventType"], "FAIL");
    assert!(
        posts.last().unwrap()["body"]["run"]["facets"]["errorMessage"]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );

    // No secret anywhere: output, logs, artifacts, events.
    let mut everything = format!("{stdout}{stderr}{stdout2}{stderr2}");
    for f in ["manifest.json", "run_results.json", "pipeline.json"] {
        everything.push_str(&std::fs::read_to_string(meta.join(f)).unwrap());
    }
    everything.push_str(&std::fs::read_to_string(d.join("out/lineage.ndjson")).unwrap());
    for p in server.posts() {
        everything.push_str(&p["body"].to_string());
    }
    assert!(!everything.contains(secret), "the secret key leaked");
    assert!(
        !everything.contains(token),
        "the lineage token leaked outside its header"
    );
}

#[test]
fn an_unreachable_lineage_endpoint_is_a_warning_not_a_failure() {
    let dir = fixture("tiny");
    let d = dir.path();
    let mut yaml = std::fs::read_to_string(d.join("pipeline.yaml")).unwrap();
    // Port 9 (discard) on loopback: nothing listens there.
    yaml.push_str("lineage:\n  url: http://user:pw@127.0.0.1:9/api/v1/lineage\n");
    std::fs::write(d.join("pipeline.yaml"), yaml).unwrap();
    let (code, _, stderr) = run_tiny(d, &["--date", "2026-03-31"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("cannot send the lineage event to http://127.0.0.1:9/api/v1/lineage"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw@"), "{stderr}");
    let results: Value = serde_json::from_slice(
        &std::fs::read(d.join("out/published/_beacon/runs/run_date=2026-03-31/run_results.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(results["warnings"].as_array().unwrap().len(), 2);
}

fn opportunities_csv(rows: &[(&str, &str, &str)]) -> String {
    let mut s = String::from("Id,CreatedDate,CloseDate,StageName,Amount,SystemModstamp\n");
    for (id, amount, stamp) in rows {
        s.push_str(&format!(
            "{id},2026-03-02T10:00:00Z,2026-03-20,Closed Won,{amount},{stamp}\n"
        ));
    }
    s
}

fn raw_opportunities(d: &Path, date: &str) -> Vec<(String, f64)> {
    duckdb(&format!(
        "SELECT \"Id\", \"Amount\" FROM read_parquet('{}/out/raw/opportunities/run_date={date}/*.parquet') ORDER BY \"Id\"",
        d.display()
    ))
    .into_iter()
    .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_f64().unwrap()))
    .collect()
}

#[test]
fn incremental_sources_merge_new_rows_by_key_from_the_committed_watermark() {
    let dir = fixture("tiny");
    let d = dir.path();
    let yaml = std::fs::read_to_string(d.join("pipeline.yaml")).unwrap().replace(
        "      StageName: string\n      Amount: decimal\n",
        "      StageName: string\n      Amount: decimal\n      SystemModstamp: timestamp\n    incremental:\n      cursor: SystemModstamp\n",
    );
    std::fs::write(d.join("pipeline.yaml"), yaml).unwrap();
    let csv = d.join("data/opportunities.csv");
    let t1 = "2026-03-30T08:00:00Z";
    let t2 = "2026-03-31T08:00:00Z";
    std::fs::write(
        &csv,
        opportunities_csv(&[
            ("006A", "12000", t1),
            ("006B", "5000", t1),
            ("006C", "1", t1),
        ]),
    )
    .unwrap();
    assert_eq!(run_tiny(d, &["--date", "2026-03-30"]).0, 0);
    assert_eq!(raw_opportunities(d, "2026-03-30").len(), 3);

    // The next export holds only what changed: 006A twice (the later version wins, nothing is
    // quarantined), a new 006D, and an old version of 006B from before the watermark (ignored).
    std::fs::write(
        &csv,
        opportunities_csv(&[
            ("006A", "14000", "2026-03-31T07:00:00Z"),
            ("006A", "15000", t2),
            ("006D", "700", t2),
            ("006B", "1", "2026-03-01T00:00:00Z"),
        ]),
    )
    .unwrap();
    let (code, _, stderr) = run_tiny(d, &["--date", "2026-03-31"]);
    assert_eq!(code, 0, "{stderr}");
    let expected = vec![
        ("006A".to_string(), 15000.0),
        ("006B".to_string(), 5000.0),
        ("006C".to_string(), 1.0),
        ("006D".to_string(), 700.0),
    ];
    assert_eq!(raw_opportunities(d, "2026-03-31"), expected);
    let results: Value = serde_json::from_slice(
        &std::fs::read(d.join("out/published/_beacon/runs/run_date=2026-03-31/run_results.json"))
            .unwrap(),
    )
    .unwrap();
    let opp = results["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "opportunities")
        .unwrap();
    assert_eq!(opp["rows_new"], 3, "{opp}");
    assert_eq!(opp["rows_loaded"], 4);
    assert_eq!(opp["rows_rejected"], 0);
    assert_eq!(opp["incremental_from"], "run_date=2026-03-30");
    assert_eq!(opp["watermark"], "2026-03-31T08:00:00");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(d.join("out/published/_beacon/runs/run_date=2026-03-31/manifest.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["sources"]["opportunities"]["watermark"],
        "2026-03-31T08:00:00"
    );
    // A re-run of the date merges into the same previous commit: the same state.
    assert_eq!(run_tiny(d, &["--date", "2026-03-31"]).0, 0);
    assert_eq!(raw_opportunities(d, "2026-03-31"), expected);
    let rows = duckdb(&format!(
        "SELECT opportunities, won_amount FROM {} WHERE CAST(run_date AS VARCHAR) = '2026-03-31'",
        hive(&d.join("out/published/opportunity_summary"))
    ));
    assert_eq!(
        rows,
        vec![vec![serde_json::json!(4), serde_json::json!(20701.0)]]
    );

    // A new machine (no work folder) continues from the committed state in the output and raw zone.
    std::fs::remove_dir_all(d.join("out/work")).unwrap();
    std::fs::write(
        &csv,
        opportunities_csv(&[("006E", "9", "2026-04-01T08:00:00Z")]),
    )
    .unwrap();
    assert_eq!(run_tiny(d, &["--date", "2026-04-01"]).0, 0);
    assert_eq!(raw_opportunities(d, "2026-04-01").len(), 5);

    // --full-refresh forgets the state: only what the export holds now.
    let (code, _, stderr) = run_tiny(d, &["--date", "2026-04-01", "--full-refresh"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        raw_opportunities(d, "2026-04-01"),
        vec![("006E".to_string(), 9.0)]
    );
}

#[test]
fn resume_reuses_what_the_failed_run_built_and_builds_the_rest() {
    let dir = fixture("tiny");
    let d = dir.path();
    let model = d.join("sql/marts/opportunity_summary.sql");
    let good = std::fs::read_to_string(&model).unwrap();
    std::fs::write(
        &model,
        good.replace("COUNT(*) AS opportunities", "COUNT(nope) AS opportunities"),
    )
    .unwrap();
    let (code, _, _) = run_tiny(d, &["--date", "2026-03-31"]);
    assert_eq!(code, 1);
    // Nothing to resume on another date; a usage error on conflicting options.
    let (code, _, stderr) = run_tiny(d, &["--date", "2026-04-01", "--resume"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--resume: no failed run of run_date=2026-04-01"),
        "{stderr}"
    );
    let (code, _, _) = run_tiny(
        d,
        &["--date", "2026-03-31", "--resume", "--select", "stg_leads"],
    );
    assert_eq!(code, 2);

    std::fs::write(&model, &good).unwrap();
    let (code, _, stderr) = run_tiny(d, &["--date", "2026-03-31", "--resume"]);
    assert_eq!(code, 0, "{stderr}");
    let meta = d.join("out/published/_beacon/runs/run_date=2026-03-31");
    let results: Value =
        serde_json::from_slice(&std::fs::read(meta.join("run_results.json")).unwrap()).unwrap();
    let built: Vec<&str> = results["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        built,
        vec!["opportunity_summary"],
        "only the failed model is built again"
    );
    // The loaded sources are re-used; only the missing optional one is looked for again.
    let looked: Vec<(&str, &str)> = results["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(looked, vec![("usage_events", "skipped")]);
    assert!(results["resumed_from"].as_str().is_some());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(meta.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["tables"].as_array().unwrap().len(),
        2,
        "both tables are committed"
    );
    assert_eq!(manifest["run_id"], results["run_id"]);
    let rows = duckdb(&format!(
        "SELECT channel, leads FROM {} ORDER BY channel",
        hive(&d.join("out/published/leads_by_source"))
    ));
    assert_eq!(
        rows.len(),
        3,
        "the model the failed run built is published: {rows:?}"
    );
    let rows = duckdb(&format!(
        "SELECT opportunities FROM {}",
        hive(&d.join("out/published/opportunity_summary"))
    ));
    assert_eq!(rows, vec![vec![serde_json::json!(3)]]);
    // Its files carry the committing run's id, as the reader rule expects.
    let success: Value = serde_json::from_slice(
        &std::fs::read(d.join("out/published/leads_by_source/run_date=2026-03-31/_SUCCESS"))
            .unwrap(),
    )
    .unwrap();
    let run_id = results["run_id"].as_str().unwrap();
    assert_eq!(success["run_id"], run_id);
    for f in success["files"].as_array().unwrap() {
        assert!(
            f.as_str().unwrap().starts_with(&format!("part-{run_id}-")),
            "{success}"
        );
    }
    // The failed run is forgotten: a second --resume has nothing to do.
    let (code, _, stderr) = run_tiny(d, &["--date", "2026-03-31", "--resume"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no failed run"), "{stderr}");
    assert!(
        !d.join("out/published/_beacon/staging/run_date=2026-03-31")
            .exists()
            || std::fs::read_dir(d.join("out/published/_beacon/staging/run_date=2026-03-31"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn resume_after_a_failed_load_loads_what_is_missing() {
    let dir = fixture("tiny");
    let d = dir.path();
    let csv = d.join("data/opportunities.csv");
    let good = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, good.replace("Id,CreatedDate,", "Id,Created,")).unwrap();
    assert_eq!(run_tiny(d, &["--date", "2026-03-31"]).0, 1);
    std::fs::write(&csv, &good).unwrap();
    let (code, _, stderr) = run_tiny(d, &["--date", "2026-03-31", "--resume"]);
    assert_eq!(code, 0, "{stderr}");
    let results: Value = serde_json::from_slice(
        &std::fs::read(d.join("out/published/_beacon/runs/run_date=2026-03-31/run_results.json"))
            .unwrap(),
    )
    .unwrap();
    let loaded: Vec<&str> = results["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        loaded,
        vec!["opportunities", "usage_events"],
        "leads loaded before the failure is re-used"
    );
    assert_eq!(results["models"].as_array().unwrap().len(), 3);
}

#[test]
fn retention_keeps_the_newest_committed_dates_and_deletes_older_ones_whole() {
    let dir = fixture("tiny");
    let d = dir.path();
    let mut yaml = std::fs::read_to_string(d.join("pipeline.yaml")).unwrap();
    yaml.push_str("retention:\n  keep_runs: 2\n");
    std::fs::write(d.join("pipeline.yaml"), yaml).unwrap();
    let (code, _, stderr) = run_tiny(d, &["--from", "2026-03-28", "--to", "2026-03-31"]);
    assert_eq!(code, 0, "{stderr}");
    let out = d.join("out/published");
    let dates = |table: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(out.join(table))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("run_date="))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        dates("leads_by_source"),
        vec!["run_date=2026-03-30", "run_date=2026-03-31"]
    );
    assert_eq!(
        dates("opportunity_summary"),
        vec!["run_date=2026-03-30", "run_date=2026-03-31"]
    );
    assert_eq!(
        dates("_beacon/runs"),
        vec!["run_date=2026-03-30", "run_date=2026-03-31"]
    );
    assert_eq!(
        dates("../raw/leads"),
        vec!["run_date=2026-03-30", "run_date=2026-03-31"],
        "raw zone too"
    );
    let results: Value = serde_json::from_slice(
        &std::fs::read(out.join("_beacon/runs/run_date=2026-03-31/run_results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        results["deleted_run_dates"],
        serde_json::json!(["2026-03-29"])
    );
    // Readers see what is left: two dates.
    let rows = duckdb(&format!(
        "SELECT count(DISTINCT run_date) FROM {}",
        hive(&out.join("leads_by_source"))
    ));
    assert_eq!(rows[0][0], 2);
    // Re-running an old date keeps it (the run just committed is never deleted) and deletes no
    // newer date: "the newest" is by run date, not by commit time.
    assert_eq!(run_tiny(d, &["--date", "2026-03-01"]).0, 0);
    assert_eq!(
        dates("leads_by_source"),
        vec![
            "run_date=2026-03-01",
            "run_date=2026-03-30",
            "run_date=2026-03-31"
        ]
    );
    // The next run of a new date applies the rule again: the two newest stay.
    assert_eq!(run_tiny(d, &["--date", "2026-04-01"]).0, 0);
    assert_eq!(
        dates("leads_by_source"),
        vec!["run_date=2026-03-31", "run_date=2026-04-01"]
    );
}
