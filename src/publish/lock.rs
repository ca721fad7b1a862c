//! The run lock: one run per output location and run date at a time.
//!
//! The lock is one small JSON object, `<output>/_beacon/locks/run_date=D.lock`, naming its holder
//! (pipeline, run id, host, pid, since when, until when). It is taken with a create-only write
//! (`If-None-Match: *` on object stores; see [`crate::storage::cas`]), so of two runs starting at
//! once exactly one gets it; the other fails at once with [`LockError::Held`], which names the
//! holder. The holder renews the lock every third of its time to live (`storage.lock_ttl`) with a
//! replace-if-unchanged write, so a live run never loses it to expiry.
//!
//! A lock whose holder died is taken over, with a replace-if-unchanged write on the stale lock's
//! version (of several runs trying, one wins): when it expired, or at once when its holder ran
//! on this host and its process is gone (checked in `/proc` by pid and process start time, so a
//! reused pid does not count as alive).
//!
//! A run that cannot renew its lock (another run took it over after a long stall, or the store is
//! unreachable until it expires) is told by [`RunLock::check`] and stops before its commit.

use crate::storage::cas::{self, CasError, Expect, Outcome, Version};
use crate::storage::Location;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::path::Path as ObjPath;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Who holds a lock, as written in the lock object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockHolder {
    pub pipeline: String,
    pub run_id: String,
    pub host: String,
    pub pid: u32,
    /// Start time of the holder's process (clock ticks since boot, from `/proc`), to tell a
    /// reused pid from the holder.
    #[serde(default)]
    pub pid_started: Option<u64>,
    pub acquired_at: DateTime<Utc>,
    pub renewed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Renewals so far (also makes every written body unique).
    #[serde(default)]
    pub renewals: u64,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} of pipeline `{}` on host {} (pid {}), since {}",
            self.run_id,
            self.pipeline,
            self.host,
            self.pid,
            self.acquired_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }
}

/// Errors taking or keeping the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another run holds the lock for {key}: {holder}; it expires at {} unless renewed. Nothing was read or written. If that run is dead, wait for the expiry or delete {lock}", holder.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))]
    Held {
        key: String,
        lock: String,
        holder: Box<LockHolder>,
    },
    #[error("cannot take the run lock {lock}: {source}")]
    Storage { lock: String, source: CasError },
    #[error("the run lost its lock {lock}: {reason}")]
    Lost { lock: String, reason: String },
    #[error("cannot encode the run lock: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Debug)]
struct State {
    holder: LockHolder,
    body: Bytes,
    version: Version,
    lost: Option<String>,
}

/// A held run lock. Renewed in the background until [`RunLock::release`].
#[derive(Debug)]
pub struct RunLock {
    loc: Location,
    path: ObjPath,
    key: String,
    ttl: Duration,
    state: Arc<Mutex<State>>,
    renewer: Option<tokio::task::JoinHandle<()>>,
    /// The dead holder whose lock this run took over, if any.
    pub took_over: Option<LockHolder>,
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn ttl_chrono(ttl: Duration) -> chrono::Duration {
    chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
}

impl RunLock {
    /// Where the lock of `key` (e.g. `run_date=2026-11-22`) lives under an output location.
    pub fn location_of(output: &Location, key: &str) -> (Location, ObjPath) {
        let dir = output.child("_beacon/locks");
        let path = dir.path.clone().join(format!("{key}.lock").as_str());
        (dir, path)
    }

    /// Takes the lock of `key` under `output` for `run_id`, or fails naming the holder.
    pub async fn acquire(
        output: &Location,
        key: &str,
        pipeline: &str,
        run_id: &str,
        ttl: Duration,
    ) -> Result<RunLock, LockError> {
        let (loc, path) = Self::location_of(output, key);
        let display = loc.display_object(&path);
        let storage_err = |source| LockError::Storage {
            lock: display.clone(),
            source,
        };
        let t = now();
        let me = LockHolder {
            pipeline: pipeline.to_string(),
            run_id: run_id.to_string(),
            host: hostname(),
            pid: std::process::id(),
            pid_started: process_start(std::process::id()),
            acquired_at: t,
            renewed_at: t,
            expires_at: t + ttl_chrono(ttl),
            renewals: 0,
        };
        let body = Bytes::from(serde_json::to_vec_pretty(&me)?);
        // A few rounds: the lock can be released or taken over between our reads and writes.
        for _ in 0..5 {
            match cas::put_if(&loc, &path, body.clone(), Expect::Absent)
                .await
                .map_err(storage_err)?
            {
                Outcome::Written(version) => {
                    return Ok(Self::held(loc, path, key, ttl, me, body, version, None))
                }
                Outcome::Conflict => {}
            }
            let Some(current) = cas::read(&loc, &path).await.map_err(storage_err)? else {
                continue;
            };
            let holder: Option<LockHolder> = serde_json::from_slice(&current.body).ok();
            // A lock that does not parse was not written by a live Beacon (writes are whole):
            // it is treated as stale.
            let stale = holder.as_ref().is_none_or(|h| is_stale(h, now()));
            if !stale {
                return Err(LockError::Held {
                    key: key.to_string(),
                    lock: display,
                    holder: Box::new(holder.unwrap_or_else(|| me.clone())),
                });
            }
            match cas::put_if(
                &loc,
                &path,
                body.clone(),
                Expect::Unchanged(current.version),
            )
            .await
            .map_err(storage_err)?
            {
                Outcome::Written(version) => {
                    return Ok(Self::held(loc, path, key, ttl, me, body, version, holder))
                }
                Outcome::Conflict => continue,
            }
        }
        let holder = cas::read(&loc, &path)
            .await
            .map_err(storage_err)?
            .and_then(|c| serde_json::from_slice::<LockHolder>(&c.body).ok());
        match holder {
            Some(h) => Err(LockError::Held {
                key: key.to_string(),
                lock: display,
                holder: Box::new(h),
            }),
            None => Err(LockError::Lost {
                lock: display,
                reason: "the lock kept changing while it was being taken".into(),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn held(
        loc: Location,
        path: ObjPath,
        key: &str,
        ttl: Duration,
        holder: LockHolder,
        body: Bytes,
        version: Version,
        took_over: Option<LockHolder>,
    ) -> RunLock {
        let state = Arc::new(Mutex::new(State {
            holder,
            body,
            version,
            lost: None,
        }));
        let renewer = tokio::spawn(renew_loop(
            loc.clone(),
            path.clone(),
            ttl,
            Arc::clone(&state),
        ));
        RunLock {
            loc,
            path,
            key: key.to_string(),
            ttl,
            state,
            renewer: Some(renewer),
            took_over,
        }
    }

    /// The lock object, as shown to users.
    pub fn display(&self) -> String {
        self.loc.display_object(&self.path)
    }

    /// The key this lock protects (`run_date=D`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The lease in force.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Ok while this run still holds the lock with time to spare; call before each step that
    /// must not happen without it (the commit, deleting older runs' files).
    pub fn check(&self) -> Result<(), LockError> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reason) = &state.lost {
            return Err(LockError::Lost {
                lock: self.display(),
                reason: reason.clone(),
            });
        }
        // Keep a margin: a step started now must end before anyone may take the lock over.
        let margin = ttl_chrono(self.ttl / 6);
        if now() + margin >= state.holder.expires_at {
            return Err(LockError::Lost {
                lock: self.display(),
                reason: format!(
                    "it could not be renewed and expires at {}",
                    state
                        .holder
                        .expires_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            });
        }
        Ok(())
    }

    /// Stops renewing and deletes the lock if it is still ours. Best effort: a lock left behind
    /// expires, or is taken over at once by the next run on this host.
    pub async fn release(mut self) {
        if let Some(r) = self.renewer.take() {
            r.abort();
            let _ = r.await;
        }
        let (body, version) = {
            let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            (s.body.clone(), s.version.clone())
        };
        let _ = cas::delete_if(&self.loc, &self.path, &body, &version).await;
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if let Some(r) = self.renewer.take() {
            r.abort();
        }
    }
}

async fn renew_loop(loc: Location, path: ObjPath, ttl: Duration, state: Arc<Mutex<State>>) {
    let every = (ttl / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        let (mut next, version) = {
            let s = state.lock().unwrap_or_else(|e| e.into_inner());
            if s.lost.is_some() {
                return;
            }
            (s.holder.clone(), s.version.clone())
        };
        let t = now();
        next.renewed_at = t;
        next.expires_at = t + ttl_chrono(ttl);
        next.renewals += 1;
        let Ok(body) = serde_json::to_vec_pretty(&next).map(Bytes::from) else {
            continue;
        };
        match cas::put_if(&loc, &path, body.clone(), Expect::Unchanged(version)).await {
            Ok(Outcome::Written(version)) => {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                s.holder = next;
                s.body = body;
                s.version = version;
            }
            Ok(Outcome::Conflict) => {
                let who = match cas::read(&loc, &path).await {
                    Ok(Some(c)) => serde_json::from_slice::<LockHolder>(&c.body)
                        .map(|h| format!("it is now held by {h}"))
                        .unwrap_or_else(|_| "it was replaced".into()),
                    Ok(None) => "it was deleted".into(),
                    Err(e) => format!("it changed and cannot be read: {e}"),
                };
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                s.lost = Some(who);
                return;
            }
            // A failed renewal is retried at the next tick; `check` notices if time runs out.
            Err(_) => {}
        }
    }
}

/// Whether a holder can no longer be holding its lock.
fn is_stale(h: &LockHolder, at: DateTime<Utc>) -> bool {
    if at >= h.expires_at {
        return true;
    }
    h.host == hostname() && !process_alive(h.pid, h.pid_started)
}

/// This machine's name, as recorded in locks.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

/// Start time of a process in clock ticks since boot (Linux `/proc/<pid>/stat`, field 22).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a process of this host is alive. Without `/proc` (not Linux) a holder is assumed
/// alive, and only the lock's expiry frees it.
fn process_alive(pid: u32, started: Option<u64>) -> bool {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return true;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .unwrap_or("");
    if matches!(state, "Z" | "X" | "x") {
        return false;
    }
    match (started, process_start(pid)) {
        (Some(want), Some(have)) => want == have,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    fn holder(host: &str, pid: u32, expires_in: i64) -> LockHolder {
        let t = now();
        LockHolder {
            pipeline: "p".into(),
            run_id: "other-run".into(),
            host: host.into(),
            pid,
            pid_started: None,
            acquired_at: t,
            renewed_at: t,
            expires_at: t + chrono::Duration::seconds(expires_in),
            renewals: 0,
        }
    }

    #[test]
    fn own_process_is_alive_and_start_time_tells_reuse() {
        let me = std::process::id();
        let started = process_start(me);
        assert!(started.is_some());
        assert!(process_alive(me, started));
        assert!(!process_alive(me, started.map(|s| s + 1)), "a reused pid");
        assert!(!process_alive(u32::MAX - 1, None), "no such process");
        assert!(!is_stale(&holder(&hostname(), me, 60), now()));
        assert!(is_stale(&holder(&hostname(), me, -1), now()), "expired");
        assert!(is_stale(&holder(&hostname(), u32::MAX - 1, 60), now()));
        assert!(!is_stale(&holder("elsewhere", u32::MAX - 1, 60), now()));
    }

    #[tokio::test]
    async fn second_acquire_fails_naming_holder_then_succeeds_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let out = Storage::new(dir.path()).resolve("out").unwrap();
        let ttl = Duration::from_secs(60);
        let a = RunLock::acquire(&out, "run_date=2026-01-01", "p", "run-a", ttl)
            .await
            .unwrap();
        let err = RunLock::acquire(&out, "run_date=2026-01-01", "p", "run-b", ttl)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("run run-a of pipeline `p`"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(a.check().is_ok());
        // Another date is another lock.
        let c = RunLock::acquire(&out, "run_date=2026-01-02", "p", "run-c", ttl)
            .await
            .unwrap();
        a.release().await;
        c.release().await;
        let b = RunLock::acquire(&out, "run_date=2026-01-01", "p", "run-b", ttl)
            .await
            .unwrap();
        assert!(b.took_over.is_none());
        b.release().await;
    }

    #[tokio::test]
    async fn stale_locks_are_taken_over_and_live_foreign_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let out = Storage::new(dir.path()).resolve("out").unwrap();
        let (loc, path) = RunLock::location_of(&out, "run_date=2026-01-01");
        let put = |h: LockHolder| {
            let loc = loc.clone();
            let path = path.clone();
            async move {
                let body = Bytes::from(serde_json::to_vec(&h).unwrap());
                let cur = cas::read(&loc, &path).await.unwrap();
                let expect = match cur {
                    Some(c) => Expect::Unchanged(c.version),
                    None => Expect::Absent,
                };
                cas::put_if(&loc, &path, body, expect).await.unwrap();
            }
        };
        let ttl = Duration::from_secs(60);
        put(holder("elsewhere", 1, 60)).await;
        let err = RunLock::acquire(&out, "run_date=2026-01-01", "p", "me", ttl)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("on host elsewhere (pid 1)"),
            "{err}"
        );
        put(holder("elsewhere", 1, -5)).await;
        let l = RunLock::acquire(&out, "run_date=2026-01-01", "p", "me", ttl)
            .await
            .unwrap();
        assert_eq!(
            l.took_over.as_ref().map(|h| h.host.as_str()),
            Some("elsewhere")
        );
        l.release().await;
        put(holder(&hostname(), u32::MAX - 1, 600)).await;
        let l = RunLock::acquire(&out, "run_date=2026-01-01", "p", "me", ttl)
            .await
            .unwrap();
        assert!(l.took_over.is_some(), "a dead process on this host");
        l.release().await;
    }

    #[tokio::test]
    async fn the_lock_is_renewed_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let out = Storage::new(dir.path()).resolve("out").unwrap();
        let l = RunLock::acquire(&out, "k", "p", "me", Duration::from_secs(2))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(l.check().is_ok(), "renewed past its first expiry");
        let (loc, path) = RunLock::location_of(&out, "k");
        let cur = cas::read(&loc, &path).await.unwrap().unwrap();
        let h: LockHolder = serde_json::from_slice(&cur.body).unwrap();
        assert!(h.renewals >= 1, "{h:?}");
        l.release().await;
    }
}
