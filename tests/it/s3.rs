//! S3 end to end against a real server (SeaweedFS), with a fault proxy in between where a test
//! needs one: sources, raw zone and outputs on s3://, the commit protocol and the reader rule,
//! credentials, the run lock, transient and persistent faults.

use crate::common::{fixture, run};
use crate::s3env::{beacon_s3, duckdb_s3, reader_state, FaultProxy, S3Server};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

pub(crate) const DATE: &str = "2026-03-31";
pub(crate) const TABLES: [&str; 2] = ["leads_by_source", "opportunity_summary"];
pub(crate) const OUT: &str = "s3://beacon/out";

/// The tiny fixture's sources uploaded to the server: leads as one file, opportunities as a
/// prefix of two files (and a hidden file that is skipped), usage events as a glob.
pub(crate) fn upload_sources(s3: &S3Server, dir: &Path) {
    let leads = std::fs::read(dir.join("data/leads.csv")).unwrap();
    s3.put("src/leads.csv", &leads);
    let opps = std::fs::read_to_string(dir.join("data/opportunities.csv")).unwrap();
    let mut lines = opps.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    s3.put(
        "src/opportunities/part-1.csv",
        format!("{header}\n{}\n", rows[..1].join("\n")).as_bytes(),
    );
    s3.put(
        "src/opportunities/part-2.csv",
        format!("{header}\n{}\n", rows[1..].join("\n")).as_bytes(),
    );
    s3.put("src/opportunities/_SUCCESS", b"");
    s3.put(
        "src/usage/2026-03-a.csv",
        b"AccountId,OccurredAt\n001A,2026-03-10T10:00:00Z\n",
    );
    s3.put(
        "src/usage/2026-03-b.csv",
        b"AccountId,OccurredAt\n001B,2026-03-11T10:00:00Z\n",
    );
    s3.put("src/usage/README.txt", b"not a csv: the glob skips it");
}

pub(crate) fn s3_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "pipeline.yaml",
        "--date",
        DATE,
        "--set",
        "raw=s3://beacon/raw",
        "--set",
        "output=s3://beacon/out",
        "--set",
        "sources.leads.location=s3://beacon/src/leads.csv",
        "--set",
        "sources.opportunities.location=s3://beacon/src/opportunities",
        "--set",
        "sources.usage_events.location=s3://beacon/src/usage/*.csv",
        // Faults in these tests are short: retry quickly.
        "--set",
        "storage.retry_initial_backoff=10ms",
        "--set",
        "storage.retry_max_backoff=200ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run_s3(dir: &Path, env: &[(String, String)], extra: &[&str]) -> (i32, String, String) {
    let args = s3_args(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&mut beacon_s3(dir, env, &args))
}

fn expected_leads() -> Value {
    json!([["Event", 1, 0], ["Partner", 1, 1], ["Web", 2, 1]])
}

/// Asserts a reader following the rule sees one complete run, and returns its run id.
pub(crate) fn assert_complete(state: &Value) -> String {
    let m = &state["manifest"];
    let run = m["run_id"]
        .as_str()
        .expect("a committed manifest")
        .to_string();
    assert_eq!(m["tables"]["leads_by_source"]["rows"], expected_leads());
    assert_eq!(
        m["tables"]["opportunity_summary"]["rows"],
        json!([[3, 12000.0, 2]])
    );
    for t in TABLES {
        assert_eq!(state["success"][t]["run_id"], json!(run), "{state}");
        assert_eq!(state["success"][t]["rows"], m["tables"][t]["rows"]);
    }
    run
}

pub(crate) fn data_files(state: &Value) -> Vec<String> {
    state["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.as_str())
        .filter(|o| o.ends_with(".parquet"))
        .map(str::to_string)
        .collect()
}

#[test]
fn sources_raw_zone_and_outputs_on_s3() {
    let s3 = S3Server::start();
    let dir = fixture("tiny");
    upload_sources(&s3, dir.path());
    let (code, stdout, stderr) = run_s3(dir.path(), &s3.env(), &[]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let first = assert_complete(&reader_state(&s3.env(), OUT, DATE, &TABLES));

    // The raw zone is on S3 too, contract-typed and partitioned by date.
    let raw = s3.list("raw");
    for source in ["leads", "opportunities", "usage_events"] {
        assert!(
            raw.iter()
                .any(|k| k.starts_with(&format!("{source}/run_date={DATE}/"))
                    && k.ends_with(".parquet")),
            "{source} in {raw:?}"
        );
    }
    let opp_ids = duckdb_s3(
        &s3.env(),
        &format!("SELECT \"Id\" FROM read_parquet('s3://beacon/raw/opportunities/run_date={DATE}/*.parquet') ORDER BY 1"),
    );
    assert_eq!(
        opp_ids,
        vec![
            vec![json!("006A")],
            vec![json!("006B")],
            vec![json!("006C")]
        ]
    );

    // A re-run of the date replaces it: the new run is committed, the old one's files are
    // gone, and nothing is left in staging or the lock.
    let (code, _, stderr) = run_s3(dir.path(), &s3.env(), &[]);
    assert_eq!(code, 0, "{stderr}");
    let state = reader_state(&s3.env(), OUT, DATE, &TABLES);
    let second = assert_complete(&state);
    assert_ne!(first, second);
    let files = data_files(&state);
    assert_eq!(files.len(), 2, "one file per table: {files:?}");
    assert!(files.iter().all(|f| f.contains(&second)), "{files:?}");
    let everything = s3.list("out");
    assert!(
        !everything
            .iter()
            .any(|k| k.contains("_beacon/staging") || k.ends_with(".lock")),
        "{everything:?}"
    );

    // The README's reader rule, in DuckDB: the file list from the manifest.
    let rows = duckdb_s3(
        &s3.env(),
        &format!(
            "SET VARIABLE files = (
               SELECT list(f.location) FROM (
                 SELECT unnest(t.files) AS f FROM (
                   SELECT unnest(tables) AS t
                   FROM read_json('s3://beacon/out/_beacon/runs/run_date={DATE}/manifest.json'))
                 WHERE t.model = 'leads_by_source'));
             SELECT channel, leads, CAST(run_date AS VARCHAR)
             FROM read_parquet(getvariable('files'), hive_partitioning = true) ORDER BY channel"
        ),
    );
    assert_eq!(
        rows,
        vec![
            vec![json!("Event"), json!(1), json!(DATE)],
            vec![json!("Partner"), json!(1), json!(DATE)],
            vec![json!("Web"), json!(2), json!(DATE)],
        ]
    );
}

#[test]
fn credentials_come_from_env_or_profile_files_and_are_never_shown() {
    let s3 = S3Server::start();
    let dir = fixture("tiny");
    upload_sources(&s3, dir.path());
    let secret = s3.secret.clone();
    let mut env = s3.env();
    env.push(("BEACON_LOG".into(), "debug".into()));
    let (code, stdout, stderr) = run_s3(dir.path(), &env, &[]);
    assert_eq!(code, 0, "{stderr}");
    // A failing run too (a source that does not exist): its error names the location only.
    let (code, fout, ferr) = run_s3(
        dir.path(),
        &env,
        &[
            "--set",
            "sources.leads.location=s3://beacon/src/nothing-here.csv",
        ],
    );
    assert_eq!(code, 1, "{ferr}");
    assert!(ferr.contains("s3://beacon/src/nothing-here.csv"), "{ferr}");
    // And with a wrong secret: the server refuses, the message shows no key.
    let wrong: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_SECRET_ACCESS_KEY" => (k.clone(), format!("{secret}-wrong")),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let (code, wout, werr) = run_s3(dir.path(), &wrong, &["--set", "storage.max_retries=0"]);
    assert_ne!(code, 0, "{werr}");

    // From the profile files instead of the environment: HOME/.aws/{credentials,config}.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        format!("[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[beacon-test]\naws_access_key_id = beacon\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        format!(
            "[profile beacon-test]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:{}\n",
            s3.port
        ),
    )
    .unwrap();
    let profile_env = vec![
        (
            "HOME".to_string(),
            home.path().to_string_lossy().to_string(),
        ),
        ("AWS_PROFILE".to_string(), "beacon-test".to_string()),
        ("BEACON_LOG".to_string(), "debug".to_string()),
    ];
    let (code, pout, perr) = run_s3(dir.path(), &profile_env, &[]);
    assert_eq!(
        code, 0,
        "the profile files give keys, region and endpoint:\n{perr}"
    );

    let manifest = String::from_utf8(
        s3.get(&format!("out/_beacon/runs/run_date={DATE}/manifest.json"))
            .unwrap(),
    )
    .unwrap();
    let results = String::from_utf8(
        s3.get(&format!(
            "out/_beacon/runs/run_date={DATE}/run_results.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for (name, text) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("failed stdout", &fout),
        ("failed stderr", &ferr),
        ("wrong-key stdout", &wout),
        ("wrong-key stderr", &werr),
        ("profile stdout", &pout),
        ("profile stderr", &perr),
        ("manifest.json", &manifest),
        ("run_results.json", &results),
    ] {
        assert!(!text.contains(&secret), "the secret appears in {name}");
        assert!(
            !text.is_empty() || name.contains("stdout"),
            "{name} is empty"
        );
    }
}

#[test]
fn a_second_run_of_the_same_date_fails_fast_naming_the_holder() {
    let s3 = S3Server::start();
    let dir = fixture("tiny");
    upload_sources(&s3, dir.path());
    // Run A parks on its first staged write (it holds the lock by then).
    let proxy = FaultProxy::start(
        s3.port,
        &json!([{"fault": "hold", "method": "PUT", "path": "_beacon/staging", "times": 1, "seconds": 120}]),
    );
    let args = s3_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = beacon_s3(dir.path(), &s3.env_via(proxy.port), &args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    proxy.wait_for("hold", Duration::from_secs(60));

    let (code, _, stderr) = run_s3(dir.path(), &s3.env(), &[]);
    assert_eq!(
        code, 3,
        "the documented exit code for a held lock:\n{stderr}"
    );
    assert!(
        stderr.contains("another run holds the lock for run_date=2026-03-31"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("(pid {})", a.id())), "{stderr}");
    assert!(stderr.contains("of pipeline `tiny` on host "), "{stderr}");
    assert!(stderr.contains("since 20"), "{stderr}");
    assert!(
        stderr.contains("s3://beacon/out/_beacon/locks/run_date=2026-03-31.lock"),
        "{stderr}"
    );
    assert!(
        s3.get(&format!(
            "out/_beacon/runs/run_date={DATE}/run_results.json"
        ))
        .is_none(),
        "the refused run wrote nothing"
    );

    proxy.set_rules(&json!([]));
    let out = a.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "run A finishes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let holder_run = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let state = reader_state(&s3.env(), OUT, DATE, &TABLES);
    assert_eq!(assert_complete(&state), holder_run);
}

#[test]
fn a_killed_runs_lock_is_taken_over_by_the_next_run() {
    let s3 = S3Server::start();
    let dir = fixture("tiny");
    upload_sources(&s3, dir.path());
    let (code, _, stderr) = run_s3(dir.path(), &s3.env(), &[]);
    assert_eq!(code, 0, "{stderr}");
    let before = assert_complete(&reader_state(&s3.env(), OUT, DATE, &TABLES));
    // A run parked just before its commit, then killed: its lock stays behind.
    let proxy = FaultProxy::start(
        s3.port,
        &json!([{"fault": "hold", "method": "PUT", "path": "manifest\\.json", "times": 1, "seconds": 120}]),
    );
    let args = s3_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut a = beacon_s3(dir.path(), &s3.env_via(proxy.port), &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    proxy.wait_for("hold", Duration::from_secs(60));
    a.kill().unwrap();
    a.wait().unwrap();
    drop(proxy);
    assert!(s3
        .get(&format!("out/_beacon/locks/run_date={DATE}.lock"))
        .is_some());
    let state = reader_state(&s3.env(), OUT, DATE, &TABLES);
    assert_eq!(
        assert_complete(&state),
        before,
        "the killed run is not visible"
    );
    assert!(
        data_files(&state).len() > 2,
        "its placed files are there, named by nothing: {:?}",
        data_files(&state)
    );

    let (code, _, stderr) = run_s3(dir.path(), &s3.env(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("took over the lock"), "{stderr}");
    assert!(stderr.contains(&format!("(pid {})", a.id())), "{stderr}");
    let state = reader_state(&s3.env(), OUT, DATE, &TABLES);
    let after = assert_complete(&state);
    assert_ne!(after, before);
    assert_eq!(
        data_files(&state).len(),
        2,
        "the killed run's files are cleaned up"
    );
}

#[test]
fn transient_faults_are_retried_and_the_run_succeeds() {
    let s3 = S3Server::start();
    let dir = fixture("tiny");
    upload_sources(&s3, dir.path());
    let proxy = FaultProxy::start(
        s3.port,
        &json!([
            // The lock's create-only PUT lands but its answer is lost; the run reads it back.
            {"fault": "lost_response", "method": "PUT", "path": "_beacon/locks", "times": 1},
            // Same for the commit itself.
            {"fault": "lost_response", "method": "PUT", "path": "manifest\\.json", "times": 1},
            {"fault": "slowdown", "every": 4},
            {"fault": "reset", "method": "PUT", "times": 2},
            {"fault": "error500", "method": "GET", "times": 2},
            // Longer than the request timeout below: the client gives up and retries.
            {"fault": "stall", "method": "GET", "times": 1, "seconds": 4},
        ]),
    );
    let (code, stdout, stderr) = run_s3(
        dir.path(),
        &s3.env_via(proxy.port),
        &["--set", "storage.request_timeout=1s"],
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let stats = proxy.stats();
    for fault in ["lost_response", "slowdown", "reset", "error500", "stall"] {
        assert!(proxy.injected(fault) >= 1, "{fault} was injected: {stats}");
    }
    assert_eq!(proxy.injected("lost_response"), 2, "{stats}");
    let state = reader_state(&s3.env(), OUT, DATE, &TABLES);
    assert_complete(&state);
    assert_eq!(data_files(&state).len(), 2);
    assert!(s3
        .get(&format!("out/_beacon/locks/run_date={DATE}.lock"))
        .is_none());
}

#[test]
fn persistent_faults_fail_clearly_and_keep_the_previous_run() {
    let s3 = S3Server::start();
    let dir = fixture("tiny");
    upload_sources(&s3, dir.path());
    let (code, _, stderr) = run_s3(dir.path(), &s3.env(), &[]);
    assert_eq!(code, 0, "{stderr}");
    let before = reader_state(&s3.env(), OUT, DATE, &TABLES);
    let previous = assert_complete(&before);
    let proxy = FaultProxy::start(s3.port, &json!([]));
    let quick = [
        "--set",
        "storage.max_retries=2",
        "--set",
        "storage.request_timeout=1s",
    ];

    // The commit object cannot be written: the store throttles it every time.
    proxy.set_rules(&json!([{"fault": "slowdown", "method": "PUT", "path": "manifest\\.json"}]));
    let (code, _, stderr) = run_s3(dir.path(), &s3.env_via(proxy.port), &quick);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "cannot commit s3://beacon/out/_beacon/runs/run_date=2026-03-31/manifest.json"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("SlowDown"), "{stderr}");
    assert!(
        stderr.contains("nothing of this run is visible"),
        "{stderr}"
    );
    assert!(proxy.injected("slowdown") >= 3, "{}", proxy.stats());
    let after = reader_state(&s3.env(), OUT, DATE, &TABLES);
    assert_eq!(
        assert_complete(&after),
        previous,
        "the previous run is intact"
    );
    assert_eq!(after["manifest"], before["manifest"]);

    // The server stops answering in the middle of the models: requests time out.
    proxy.set_rules(&json!([{"fault": "stall", "path": "_beacon/staging", "seconds": 2}]));
    let (code, _, stderr) = run_s3(
        dir.path(),
        &s3.env_via(proxy.port),
        &[
            "--set",
            "storage.max_retries=1",
            "--set",
            "storage.request_timeout=500ms",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("_beacon/staging"), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");
    let after = reader_state(&s3.env(), OUT, DATE, &TABLES);
    assert_eq!(
        assert_complete(&after),
        previous,
        "the previous run is intact"
    );
    // Neither failed run left a data file in the published folders.
    assert_eq!(data_files(&after), data_files(&before));
}

#[test]
fn the_lock_is_renewed_while_a_run_outlasts_its_ttl() {
    let s3 = S3Server::start();
    let dir = fixture("tiny");
    upload_sources(&s3, dir.path());
    // The run is parked for 3 s, longer than the lock's 1 s lease: it must renew the lock
    // (every third of the lease) or its commit would refuse to go ahead.
    let proxy = FaultProxy::start(
        s3.port,
        &json!([{"fault": "hold", "method": "PUT", "path": "_beacon/staging", "times": 1, "seconds": 3}]),
    );
    let args = s3_args(&["--set", "storage.lock_ttl=1s"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = beacon_s3(dir.path(), &s3.env_via(proxy.port), &args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    proxy.wait_for("hold", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(1500));
    let lock: Value = serde_json::from_slice(
        &s3.get(&format!("out/_beacon/locks/run_date={DATE}.lock"))
            .expect("the parked run holds the lock"),
    )
    .unwrap();
    assert!(lock["renewals"].as_u64().unwrap() >= 1, "{lock}");
    assert!(lock["expires_at"].as_str() > lock["acquired_at"].as_str());
    let out = run.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_complete(&reader_state(&s3.env(), OUT, DATE, &TABLES));
}
