//! Slow tier: `beacon run` killed with SIGKILL at random moments of its load and publish, many
//! times in a row, against a real S3 server. After every kill a reader following the rule sees
//! the previous complete run or a complete new one (never a partial or mixed run), and the next
//! run succeeds (it takes over the dead run's lock).
//!
//! BEACON_SLOW_TESTS=1 switches it on; BEACON_CRASH_ITERATIONS (default 50) and
//! BEACON_CRASH_SEED (default: random, printed) tune it.

use crate::s3::{assert_complete, data_files, s3_args, upload_sources, DATE, OUT, TABLES};
use crate::s3env::{beacon_s3, reader_state, FaultProxy, S3Server};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// After a kill: the manifest names one complete run (the previous one or, if the kill came
/// after the commit, the new one), and each folder's `_SUCCESS` names a complete run, the
/// manifest's or the previous one (a kill between two `_SUCCESS` updates leaves some folders on
/// the previous run until the next commit). The reader itself already failed if a named file
/// was missing or short. Returns the manifest's run.
fn assert_rule_readers_see_complete_runs(state: &Value, previous: &str) -> String {
    let m = &state["manifest"];
    let run = m["run_id"]
        .as_str()
        .expect("a committed manifest")
        .to_string();
    assert_eq!(
        m["tables"]["leads_by_source"]["rows"],
        json!([["Event", 1, 0], ["Partner", 1, 1], ["Web", 2, 1]]),
        "{state}"
    );
    assert_eq!(
        m["tables"]["opportunity_summary"]["rows"],
        json!([[3, 12000.0, 2]]),
        "{state}"
    );
    for t in TABLES {
        let s = &state["success"][t];
        let r = s["run_id"].as_str().expect("every folder has _SUCCESS");
        assert!(
            r == run || r == previous,
            "{t}: _SUCCESS names {r}: {state}"
        );
        assert_eq!(s["rows"], m["tables"][t]["rows"], "{state}");
    }
    run
}

fn slow_tier() -> bool {
    if std::env::var("BEACON_SLOW_TESTS").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("skipped: slow tier (set BEACON_SLOW_TESTS=1 to run it)");
    false
}

/// The step a log line announces, if it announces one.
fn phase_of(line: &str) -> Option<&'static str> {
    [
        (" locked", "locked"),
        (" took over the lock", "locked"),
        (" loading ", "load"),
        (" loaded ", "load"),
        (" model started", "models"),
        (" model finished", "models"),
        (" committing", "commit"),
        (" committed", "after commit"),
    ]
    .iter()
    .find(|(needle, _)| line.contains(needle))
    .map(|(_, p)| *p)
}

#[test]
fn killed_runs_never_expose_a_partial_run() {
    if !slow_tier() {
        return;
    }
    let iterations: usize = std::env::var("BEACON_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("BEACON_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash loop: {iterations} iterations, BEACON_CRASH_SEED={seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();

    let s3 = S3Server::start();
    let dir = crate::common::fixture("tiny");
    upload_sources(&s3, dir.path());
    // A little latency on every request stretches load and commit, so that random kills land
    // inside them and not only between requests.
    let proxy = FaultProxy::start(s3.port, &json!([{"fault": "delay", "seconds": 0.01}]));
    let args = s3_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Calibration: one complete run through the proxy, timing its commit.
    let t0 = Instant::now();
    let mut child = beacon_s3(dir.path(), &s3.env_via(proxy.port), &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut commit_at = None;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        if phase_of(&line.unwrap()) == Some("commit") {
            commit_at = Some(t0.elapsed());
        }
    }
    assert!(child.wait().unwrap().success());
    let full = t0.elapsed();
    let commit = full - commit_at.expect("the run logs `committing`");
    let mut previous = assert_complete(&reader_state(&s3.env(), OUT, DATE, &TABLES));
    eprintln!(
        "calibration: a run takes {:.2}s through the proxy, its commit {:.2}s",
        full.as_secs_f64(),
        commit.as_secs_f64()
    );

    let mut killed_in: BTreeMap<&str, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..iterations {
        let mut child = beacon_s3(dir.path(), &s3.env_via(proxy.port), &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(p) = phase_of(&line) {
                    let _ = tx.send(p);
                }
            }
        });
        // Half the kills at a uniform moment of the whole run, half inside the commit.
        let aim_commit = i % 2 == 1;
        let mut last = "start";
        let t = Instant::now();
        let deadline = if aim_commit {
            loop {
                match rx.recv_timeout(Duration::from_secs(60)) {
                    Ok(p) => {
                        last = p;
                        if p == "commit" {
                            break Instant::now() + commit.mul_f64(rng.random_range(0.0..1.1));
                        }
                    }
                    Err(_) => break Instant::now(),
                }
            }
        } else {
            t + full.mul_f64(rng.random_range(0.0..1.1))
        };
        while Instant::now() < deadline {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(p) => last = p,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                    break;
                }
            }
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let _ = reader.join();
        while let Ok(p) = rx.try_recv() {
            last = p;
        }
        let phase = if status.success() {
            "finished before the kill"
        } else {
            last
        };
        *killed_in.entry(phase).or_default() += 1;

        // What a reader following the rule sees now: a complete run, old or new.
        let state = reader_state(&s3.env(), OUT, DATE, &TABLES);
        let seen = assert_rule_readers_see_complete_runs(&state, &previous);
        *outcomes
            .entry(if seen == previous {
                "previous run intact"
            } else {
                "new run complete"
            })
            .or_default() += 1;

        // The next run succeeds (taking over the killed run's lock) and cleans up.
        let (code, _, stderr) = crate::common::run(&mut beacon_s3(dir.path(), &s3.env(), &args));
        assert_eq!(
            code, 0,
            "iteration {i} (seed {seed}): the run after a kill failed:\n{stderr}"
        );
        let state = reader_state(&s3.env(), OUT, DATE, &TABLES);
        let next = assert_complete(&state);
        assert_ne!(next, seen);
        assert_eq!(
            data_files(&state).len(),
            TABLES.len(),
            "no leftovers after a good run"
        );
        previous = next;
    }
    eprintln!(
        "crash loop done: {iterations} kills in {:.1}s; killed during: {killed_in:?}; readers saw: {outcomes:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(outcomes.values().sum::<usize>(), iterations);
}
