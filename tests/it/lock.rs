//! The run lock on a local output: a live holder blocks a second run with a clear message and
//! exit code 3; a holder whose process is gone is taken over.

use crate::common::{beacon, fixture, run};
use serde_json::json;
use std::path::Path;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

fn place_lock(dir: &Path, pid: u32) {
    let lock = dir.join("out/published/_beacon/locks/run_date=2026-03-31.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let now = chrono::Utc::now();
    let holder = json!({
        "pipeline": "tiny",
        "run_id": "20260331T000000Z-0000beef",
        "host": hostname(),
        "pid": pid,
        "acquired_at": now.to_rfc3339(),
        "renewed_at": now.to_rfc3339(),
        "expires_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
    });
    std::fs::write(&lock, serde_json::to_vec(&holder).unwrap()).unwrap();
}

fn run_tiny(dir: &Path) -> (i32, String, String) {
    run(beacon()
        .args(["run", "pipeline.yaml", "--date", "2026-03-31"])
        .current_dir(dir))
}

#[test]
fn a_live_holder_blocks_the_run_with_its_name() {
    let dir = fixture("tiny");
    // This test process is alive: as far as Beacon can tell, it is a run in progress.
    place_lock(dir.path(), std::process::id());
    let (code, _, stderr) = run_tiny(dir.path());
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("another run holds the lock for run_date=2026-03-31: run 20260331T000000Z-0000beef of pipeline `tiny`"), "{stderr}");
    assert!(
        stderr.contains(&format!("(pid {})", std::process::id())),
        "{stderr}"
    );
    assert!(stderr.contains("run_date=2026-03-31.lock"), "{stderr}");
    assert!(
        !dir.path().join("out/raw").exists(),
        "nothing was read or written"
    );
    assert!(!dir
        .path()
        .join("out/published/_beacon/runs/run_date=2026-03-31/run_results.json")
        .exists());
}

#[test]
fn a_dead_holders_lock_is_taken_over() {
    let dir = fixture("tiny");
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    place_lock(dir.path(), gone.id());
    let (code, stdout, stderr) = run_tiny(dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("took over the lock"), "{stderr}");
    assert!(stdout.contains("published 2 tables"), "{stdout}");
    assert!(
        !dir.path()
            .join("out/published/_beacon/locks/run_date=2026-03-31.lock")
            .exists(),
        "released at the end"
    );
}
