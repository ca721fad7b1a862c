//! `engine: ballista://host:port`: the sample pipeline on a real Apache Ballista cluster (a
//! `beacon scheduler` and two `beacon executor` processes on 127.0.0.1, own ports and folders,
//! stopped on drop and with the test process at the latest) publishes what the local engine
//! publishes, read back with DuckDB; a cluster without Beacon's functions is refused before
//! anything is loaded. The cluster tests are in the slow tier and need `--features ballista`;
//! a build without the feature says so.

use crate::common::{beacon, repo, run};

#[cfg(not(feature = "ballista"))]
#[test]
fn a_build_without_ballista_says_how_to_get_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(beacon()
        .args(["validate", "pipelines/beacon.yaml"])
        .args(["--engine", "ballista://127.0.0.1:9"])
        .current_dir(repo()));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--features ballista"), "{stderr}");
    assert!(stderr.contains("--engine local"), "{stderr}");
    let raw = tmp.path().join("raw");
    let (code, _, stderr) = run(beacon()
        .args(["run", "pipelines/beacon.yaml", "--date", "2026-11-15"])
        .args(["--engine", "ballista://127.0.0.1:9"])
        .arg("--set")
        .arg(format!("raw={}", raw.display()))
        .arg("--set")
        .arg(format!("output={}", tmp.path().join("out").display()))
        .arg("--set")
        .arg(format!("work={}", tmp.path().join("work").display()))
        .current_dir(repo()));
    assert_ne!(code, 0);
    assert!(stderr.contains("--features ballista"), "{stderr}");
    assert!(!raw.exists(), "nothing was loaded");
}

#[cfg(feature = "ballista")]
mod cluster {
    use super::*;
    use crate::common::{beacon_path, python, sample_command, slow_tests};
    use serde_json::Value;
    use std::net::TcpListener;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A free port on 127.0.0.1 (the OS picks it; the listener is closed at once).
    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn wait_for_port(port: u16, what: &str, log: &Path) {
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{what} did not listen on {port}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A scheduler and executors, each `beacon` under a shell that stops it when this test
    /// process is gone (so that not even a killed test leaves them running).
    pub struct Cluster {
        pub dir: tempfile::TempDir,
        pub port: u16,
        children: Vec<Child>,
    }

    impl Cluster {
        pub fn start(executors: usize, extra_executor_args: &[&str]) -> Cluster {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let mut cluster = Cluster {
                dir,
                port,
                children: Vec::new(),
            };
            let log = cluster.dir.path().join("scheduler.log");
            // Finished queries' results are deleted 30 s after the query (not Ballista's 300): the
            // client reads them at once, and the run must not depend on them staying longer.
            cluster.spawn(
                &[
                    "scheduler",
                    "--port",
                    &port.to_string(),
                    "--keep-results-seconds",
                    "30",
                ],
                &log,
            );
            wait_for_port(port, "the scheduler", &log);
            for i in 0..executors {
                let (flight, grpc) = (free_port(), free_port());
                let work = cluster.dir.path().join(format!("executor-{i}"));
                let log = cluster.dir.path().join(format!("executor-{i}.log"));
                let mut args: Vec<String> = [
                    "executor",
                    "--scheduler",
                    &format!("127.0.0.1:{port}"),
                    "--port",
                    &flight.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                    "--vcores",
                    "1",
                    "--memory-limit",
                    "1GiB",
                    "--work-dir",
                    &work.to_string_lossy(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                args.extend(extra_executor_args.iter().map(|s| s.to_string()));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                cluster.spawn(&args, &log);
                wait_for_port(flight, "an executor", &log);
            }
            cluster
        }

        fn spawn(&mut self, args: &[&str], log: &Path) {
            let out = std::fs::File::create(log).unwrap();
            let script = r#"owner=$1; shift
"$@" & child=$!
trap 'kill $child 2>/dev/null; exit 0' TERM INT
while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill $child 2>/dev/null; wait $child"#;
            let child = Command::new("sh")
                .arg("-c")
                .arg(script)
                .arg("sh")
                .arg(std::process::id().to_string())
                .arg(beacon_path())
                .args(args)
                .env("BEACON_LOG", "info")
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("sh runs beacon");
            self.children.push(child);
        }

        pub fn url(&self) -> String {
            format!("ballista://127.0.0.1:{}", self.port)
        }
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            // SIGTERM to each shell (it stops its beacon), then make sure.
            for c in &self.children {
                let _ = Command::new("kill").arg(c.id().to_string()).status();
            }
            for c in &mut self.children {
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(5) {
                    if let Ok(Some(_)) = c.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    /// Runs the shipped pipeline on the sample data for 2026-11-15 into `dir`, on `engine`.
    fn run_sample(dir: &Path, engine: &str) -> (i32, String, String) {
        run(sample_command("run", dir)
            .args(["--date", "2026-11-15"])
            .args(["--engine", engine]))
    }

    /// `beacon validate` of the shipped pipeline against `cluster`.
    fn validate_on(cluster: &Cluster) -> (i32, String, String) {
        run(beacon()
            .args([
                "validate",
                "pipelines/beacon.yaml",
                "--engine",
                &cluster.url(),
            ])
            .current_dir(repo()))
    }

    fn published(output: &Path) -> Vec<String> {
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(output.join("_beacon/runs/run_date=2026-11-15/manifest.json")).unwrap(),
        )
        .unwrap();
        manifest["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["model"].as_str().unwrap().to_string())
            .collect()
    }

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    out.extend(files_under(&e.path()));
                } else {
                    out.push(e.path());
                }
            }
        }
        out
    }

    #[test]
    fn the_sample_pipeline_on_a_cluster_publishes_what_the_local_engine_publishes() {
        if !slow_tests("the Ballista cluster test") {
            return;
        }
        let cluster = Cluster::start(2, &[]);
        let (code, stdout, stderr) = validate_on(&cluster);
        assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");

        let tmp = tempfile::tempdir().unwrap();
        let (local, remote) = (tmp.path().join("local"), tmp.path().join("cluster"));
        let (code, stdout, stderr) = run_sample(&local, "local");
        assert_eq!(code, 0, "local run\nstdout:\n{stdout}\nstderr:\n{stderr}");
        let (code, stdout, stderr) = run_sample(&remote, &cluster.url());
        assert_eq!(
            code,
            0,
            "cluster run\nstdout:\n{stdout}\nstderr:\n{stderr}\nscheduler log:\n{}",
            std::fs::read_to_string(cluster.dir.path().join("scheduler.log")).unwrap_or_default()
        );
        // The queries ran on the cluster: both executors ran tasks.
        let tasks: Vec<usize> = (0..2)
            .map(|i| {
                let log = cluster.dir.path().join(format!("executor-{i}.log"));
                let text = std::fs::read_to_string(log).unwrap_or_default();
                text.matches("Finished task").count()
            })
            .collect();
        assert!(
            tasks.iter().all(|n| *n > 0),
            "tasks per executor: {tasks:?}"
        );

        let tables = published(&local.join("output"));
        assert_eq!(tables.len(), 12, "{tables:?}");
        let mut remote_tables = published(&remote.join("output"));
        remote_tables.sort();
        let mut sorted = tables.clone();
        sorted.sort();
        assert_eq!(sorted, remote_tables);
        let out = Command::new(python())
            .arg(repo().join("tests/scripts/compare_outputs.py"))
            .arg(local.join("output"))
            .arg(remote.join("output"))
            .arg("2026-11-15")
            .args(&tables)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        for t in &tables {
            let r = &report[t];
            assert!(r["rows_a"].as_u64().unwrap() > 0, "{t}: {r}");
            assert_eq!(r["rows_a"], r["rows_b"], "{t}: {r}");
            assert_eq!(r["only_a"], 0, "{t}: rows only the local run has: {r}");
            assert_eq!(r["only_b"], 0, "{t}: rows only the cluster run has: {r}");
            assert!(
                r["max_relative_difference"].as_f64().unwrap() < 1e-12,
                "{t}: {r}"
            );
        }
        // Not a vacuous comparison: the lead scores are there, every lead once.
        assert_eq!(report["lead_scores"]["rows_b"], 20000);
    }

    #[test]
    fn a_cluster_without_beacons_functions_is_refused_before_anything_is_loaded() {
        if !slow_tests("the stock Ballista executor test") {
            return;
        }
        let cluster = Cluster::start(1, &["--without-beacon-functions"]);
        let (code, _, stderr) = validate_on(&cluster);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("engine:"), "{stderr}");
        assert!(stderr.contains("Beacon's"), "{stderr}");
        assert!(
            stderr.contains("`logistic_"),
            "names the function: {stderr}"
        );
        assert!(stderr.contains("beacon executor"), "{stderr}");

        let tmp = tempfile::tempdir().unwrap();
        let (code, _, stderr) = run_sample(tmp.path(), &cluster.url());
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("`logistic_"), "{stderr}");
        assert!(
            files_under(&tmp.path().join("raw")).is_empty(),
            "no source was loaded"
        );
        assert!(
            !tmp.path()
                .join("output/_beacon/runs/run_date=2026-11-15/manifest.json")
                .exists(),
            "nothing was published"
        );
    }

    #[test]
    fn the_kubernetes_manifests_use_flags_this_beacon_has() {
        use serde::Deserialize;
        let text =
            std::fs::read_to_string(repo().join("pipelines/scheduling/ballista-cluster.yaml"))
                .unwrap();
        let mut commands = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let doc = serde_yaml::Value::deserialize(doc).unwrap();
            if doc["kind"] != "Deployment" {
                continue;
            }
            let container = &doc["spec"]["template"]["spec"]["containers"][0];
            let args: Vec<String> = container["args"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                container["envFrom"][0]["secretRef"]["name"], "beacon-object-store",
                "{args:?} gets the object-store credentials"
            );
            // clap reports an unknown flag before it gets to --help.
            let (code, _, stderr) = run(beacon().args(&args).arg("--help"));
            assert_eq!(code, 0, "{args:?}: {stderr}");
            commands.push(args[0].clone());
        }
        commands.sort();
        assert_eq!(commands, ["executor", "scheduler"]);
    }

    #[test]
    fn an_unreachable_scheduler_is_a_validation_problem() {
        let port = free_port();
        let (code, _, stderr) = run(beacon()
            .args(["validate", "pipelines/beacon.yaml"])
            .args(["--engine", &format!("ballista://127.0.0.1:{port}")])
            .current_dir(repo()));
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("cannot reach the scheduler"), "{stderr}");
    }
}
