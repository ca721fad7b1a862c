//! The Airflow DAG in pipelines/scheduling parses with a real Airflow and, run by Airflow for a
//! logical date, publishes that date (`{{ ds }}` reaches `beacon run --date`). Slow tier: needs
//! the Airflow venv that tests/run.sh installs when BEACON_SLOW_TESTS=1.

use crate::common::{beacon_path, fixture, repo, slow_tests};
use std::process::Command;

#[test]
fn airflow_parses_the_dag_and_runs_beacon_for_the_logical_date() {
    if !slow_tests("the Airflow DAG test") {
        return;
    }
    let airflow_venv = std::env::var("BEACON_TEST_AIRFLOW")
        .unwrap_or_else(|_| repo().join(".venv-airflow").to_string_lossy().into_owned());
    let bin = std::path::Path::new(&airflow_venv).join("bin");
    assert!(
        bin.join("airflow").exists(),
        "Airflow is not installed in {airflow_venv}: tests/run.sh installs it for the slow tier"
    );
    let dir = fixture("tiny");
    let home = dir.path().join("airflow-home");
    let dags = repo().join("pipelines/scheduling");
    let env = |c: &mut Command| {
        c.env("AIRFLOW_HOME", &home)
            .env("AIRFLOW__CORE__DAGS_FOLDER", &dags)
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
            .env("AIRFLOW_VAR_BEACON_BIN", beacon_path())
            .env(
                "AIRFLOW_VAR_BEACON_PIPELINE",
                dir.path().join("pipeline.yaml"),
            )
            .env("AIRFLOW_VAR_BEACON_OUTPUT", dir.path().join("airflow-out"));
    };

    let mut parse = Command::new(bin.join("python"));
    parse.arg("-c").arg(
        "from airflow.models import DagBag\n\
         import sys\n\
         db = DagBag(sys.argv[1], safe_mode=False)\n\
         assert not db.import_errors, db.import_errors\n\
         d = db.dags['beacon_nightly']\n\
         t = d.get_task('beacon_run')\n\
         assert '--date {{ ds }}' in t.bash_command, t.bash_command\n\
         print('parsed', sorted(db.dags))\n",
    );
    parse.arg(&dags);
    env(&mut parse);
    let out = parse.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("parsed ['beacon_nightly']"));

    let mut migrate = Command::new(bin.join("airflow"));
    migrate.args(["db", "migrate"]);
    env(&mut migrate);
    let out = migrate.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut test = Command::new(bin.join("airflow"));
    test.args(["dags", "test", "beacon_nightly", "2026-03-31"]);
    env(&mut test);
    let out = test.output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(log.contains("state=success"), "{log}");
    assert!(dir
        .path()
        .join("airflow-out/leads_by_source/run_date=2026-03-31/_SUCCESS")
        .exists());
    assert!(dir
        .path()
        .join("airflow-out/_beacon/runs/run_date=2026-03-31/manifest.json")
        .exists());
}
