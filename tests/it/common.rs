//! Shared helpers: run the real binary, copy fixtures to a temp folder, read Parquet with DuckDB.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `beacon` binary built for this test run.
pub fn beacon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_beacon"));
    c.env("BEACON_LOG", "info");
    c
}

/// `beacon SUB pipelines/beacon.yaml` from the repository, with its raw zone, output and work
/// folder under `dir`.
pub fn sample_command(sub: &str, dir: &Path) -> Command {
    let mut c = beacon();
    c.args([sub, "pipelines/beacon.yaml"])
        .arg("--set")
        .arg(format!("raw={}", dir.join("raw").display()))
        .arg("--set")
        .arg(format!("output={}", dir.join("output").display()))
        .arg("--set")
        .arg(format!("work={}", dir.join("work").display()))
        .current_dir(repo());
    c
}

/// Runs a command and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("the beacon binary runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Copies a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of `tests/fixtures/<name>` in a fresh temp folder.
pub fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("tests/fixtures").join(name), dir.path());
    dir
}

/// The Python with DuckDB installed by tests/run.sh.
pub fn python() -> String {
    if let Ok(p) = std::env::var("BEACON_TEST_PYTHON") {
        return p;
    }
    let venv = repo().join(".venv-test/bin/python");
    assert!(
        venv.exists(),
        "DuckDB is needed to read the outputs: run tests/run.sh (it installs it into .venv-test)"
    );
    venv.to_string_lossy().into_owned()
}

/// Runs a DuckDB query and returns its rows, each as a vector of JSON values.
pub fn duckdb(sql: &str) -> Vec<Vec<serde_json::Value>> {
    let script = r#"
import duckdb, json, sys, datetime, decimal
def conv(v):
    if isinstance(v, (datetime.date, datetime.datetime)): return v.isoformat()
    if isinstance(v, decimal.Decimal): return float(v)
    return v
rows = duckdb.connect().execute(sys.argv[1]).fetchall()
print(json.dumps([[conv(v) for v in r] for r in rows]))
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(sql)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "duckdb failed on {sql}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("duckdb output is JSON")
}

/// `read_parquet` over a published table with Hive partitioning, as a warehouse would.
pub fn hive(table_dir: &Path) -> String {
    format!(
        "read_parquet('{}/*/*.parquet', hive_partitioning=true)",
        table_dir.display()
    )
}

/// The path of the `beacon` binary built for this test run.
pub fn beacon_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_beacon"))
}

/// Whether the slow tier is on (BEACON_SLOW_TESTS=1); prints why a slow test is skipped.
pub fn slow_tests(what: &str) -> bool {
    let on = std::env::var("BEACON_SLOW_TESTS").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipping {what}: slow tier (set BEACON_SLOW_TESTS=1)");
    }
    on
}
