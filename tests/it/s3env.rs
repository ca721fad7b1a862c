//! A real S3 server (SeaweedFS via tests/scripts/s3-server.sh), the fault proxy in front of it,
//! direct object access for setting up and inspecting buckets, and the DuckDB reader that
//! follows Beacon's reader rule. Every server and proxy has its own ports and folder and is
//! stopped on drop (also when a test fails), and with the test process at the latest.

use crate::common::repo;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::Value;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python of .venv-s3 (DuckDB 1.5.5 with httpfs), installed by tests/run.sh.
pub fn s3_python() -> String {
    if let Ok(p) = std::env::var("BEACON_TEST_S3_PYTHON") {
        return p;
    }
    let venv = repo().join(".venv-s3/bin/python");
    assert!(
        venv.exists(),
        "the S3 tests need .venv-s3: run tests/run.sh (or tests/scripts/s3-server.sh install)"
    );
    venv.to_string_lossy().into_owned()
}

/// A running SeaweedFS S3 server with a bucket `beacon`.
pub struct S3Server {
    dir: tempfile::TempDir,
    pub port: u16,
    pub secret: String,
    env: Vec<(String, String)>,
}

impl S3Server {
    pub fn start() -> S3Server {
        let dir = tempfile::tempdir().unwrap();
        let secret = format!("s3cr3t-{:016x}", rand::random::<u64>());
        let out = Command::new(repo().join("tests/scripts/s3-server.sh"))
            .args(["start", "--dir"])
            .arg(dir.path())
            .args(["--owner", &std::process::id().to_string()])
            .env("S3_SECRET_KEY", &secret)
            .env("S3_ACCESS_KEY", "beacon")
            .output()
            .expect("s3-server.sh runs");
        assert!(
            out.status.success(),
            "SeaweedFS did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(dir.path().join("env")).unwrap();
        let env: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let port = env
            .iter()
            .find(|(k, _)| k == "BEACON_S3_PORT")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap();
        S3Server {
            dir,
            port,
            secret,
            env,
        }
    }

    /// The AWS_* variables that point Beacon (or DuckDB) at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter(|(k, _)| k.starts_with("AWS_"))
            .cloned()
            .collect()
    }

    /// The same, with the endpoint replaced (the fault proxy in front of the server).
    pub fn env_via(&self, port: u16) -> Vec<(String, String)> {
        self.env()
            .into_iter()
            .map(|(k, v)| {
                if k == "AWS_ENDPOINT" {
                    (k, format!("http://127.0.0.1:{port}"))
                } else {
                    (k, v)
                }
            })
            .collect()
    }

    pub fn store(&self) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_bucket_name("beacon")
            .with_region("us-east-1")
            .with_endpoint(format!("http://127.0.0.1:{}", self.port))
            .with_allow_http(true)
            .with_access_key_id("beacon")
            .with_secret_access_key(&self.secret)
            .build()
            .unwrap()
    }

    pub fn put(&self, key: &str, body: &[u8]) {
        let store = self.store();
        block_on(store.put(&ObjPath::from(key), PutPayload::from(body.to_vec()))).unwrap();
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let store = self.store();
        block_on(async {
            match store.get(&ObjPath::from(key)).await {
                Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("get {key}: {e}"),
            }
        })
    }

    /// Every key under a prefix, relative to it, sorted.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        use futures::TryStreamExt;
        let store = self.store();
        let p = ObjPath::from(prefix);
        let mut keys: Vec<String> = block_on(store.list(Some(&p)).try_collect::<Vec<_>>())
            .unwrap()
            .into_iter()
            .map(|m| {
                m.location
                    .as_ref()
                    .strip_prefix(&format!("{prefix}/"))
                    .unwrap_or(m.location.as_ref())
                    .to_string()
            })
            .collect();
        keys.sort();
        keys
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/scripts/s3-server.sh"))
            .args(["stop", "--grace", "0.5", "--dir"])
            .arg(self.dir.path())
            .output();
    }
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// tests/scripts/fault_proxy.py between Beacon and the server.
pub struct FaultProxy {
    child: Child,
    pub port: u16,
}

impl FaultProxy {
    pub fn start(upstream: u16, rules: &Value) -> FaultProxy {
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let child = Command::new("python3")
            .arg(repo().join("tests/scripts/fault_proxy.py"))
            .args(["--upstream", &format!("127.0.0.1:{upstream}")])
            .arg("--port-file")
            .arg(&port_file)
            .args(["--rules", &rules.to_string()])
            .args(["--owner", &std::process::id().to_string()])
            .args(["--max-seconds", "900"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the fault proxy");
        let start = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p.trim().parse().unwrap();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "fault proxy did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        FaultProxy { child, port }
    }

    fn http(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    /// Replaces the rules (and zeroes the counts).
    pub fn set_rules(&self, rules: &Value) {
        assert_eq!(
            self.http("POST", "/__proxy/rules", &rules.to_string()),
            "ok"
        );
    }

    /// `{"requests": N, "faults": {"slowdown": n, ...}}` since the last rule change.
    pub fn stats(&self) -> Value {
        serde_json::from_str(&self.http("GET", "/__proxy/stats", "")).unwrap()
    }

    /// Times a fault was injected since the last rule change.
    pub fn injected(&self, fault: &str) -> u64 {
        self.stats()["faults"][fault].as_u64().unwrap_or(0)
    }

    /// Waits until a fault was injected at least once (e.g. a `hold` parked a run).
    pub fn wait_for(&self, fault: &str, limit: Duration) {
        let start = Instant::now();
        while self.injected(fault) == 0 {
            assert!(start.elapsed() < limit, "no `{fault}` was injected");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a reader following the rule sees (see tests/scripts/read_published.py). Panics with
/// the reader's message if a file named by the manifest or a `_SUCCESS` is missing or short.
pub fn reader_state(env: &[(String, String)], output: &str, date: &str, tables: &[&str]) -> Value {
    let out = Command::new(s3_python())
        .arg(repo().join("tests/scripts/read_published.py"))
        .args(["state", output, date])
        .args(tables)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("the reader runs");
    assert!(
        out.status.success(),
        "a rule-following reader saw a partial run:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Rows of a DuckDB query run with httpfs against the server.
pub fn duckdb_s3(env: &[(String, String)], sql: &str) -> Vec<Vec<Value>> {
    let out = Command::new(s3_python())
        .arg(repo().join("tests/scripts/read_published.py"))
        .args(["sql", sql])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("the reader runs");
    assert!(
        out.status.success(),
        "duckdb failed on {sql}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The AWS variables a test must not inherit from the machine running it.
pub const AWS_VARS: [&str; 12] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ALLOW_HTTP",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// `beacon run` of a pipeline in `dir` with exactly the given AWS settings.
pub fn beacon_s3(dir: &std::path::Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut c = crate::common::beacon();
    c.current_dir(dir);
    for k in AWS_VARS {
        c.env_remove(k);
    }
    c.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    c.args(args);
    c
}
