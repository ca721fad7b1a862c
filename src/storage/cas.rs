//! Conditional writes on any store: create an object only if it is absent, replace it only if it
//! has not changed since it was read. The run lock and the manifest commit are built on these.
//!
//! On object stores they are object_store's `PutMode::Create` (`If-None-Match: *`) and
//! `PutMode::Update` (`If-Match: <e-tag>`). object_store's local file system has no `Update`, so
//! on local disks both run under an exclusive `flock` on a hidden guard file next to the object
//! (`.<name>.guard`), with the content hash as the version; every writer of these objects takes
//! that guard, so the check and the write are one step for them.
//!
//! A lost response is not a lost write: a create-only PUT whose response was dropped comes back
//! as an error although it landed (and a retried one as "already exists", answered by our own
//! write). So every failure is resolved by reading the object back: if it holds exactly the
//! bytes we wrote, the write is ours. Callers make each body unique (run id, time, sequence).
//! If it did not land, the write is tried again (a few times, with a growing pause): being
//! conditional, a repeated write can never overwrite someone else's. This covers what
//! object_store does not retry by itself (a reset or timeout of a non-idempotent request).

use super::Location;
use bytes::Bytes;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use std::io::Write;
use std::path::PathBuf;

/// The version of an object as read: what a replace-if-unchanged must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

impl From<Version> for UpdateVersion {
    fn from(v: Version) -> Self {
        UpdateVersion {
            e_tag: v.e_tag,
            version: v.version,
        }
    }
}

/// An object's bytes and version.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub body: Bytes,
    pub version: Version,
}

/// The state a conditional write expects.
#[derive(Debug, Clone)]
pub enum Expect {
    /// The object does not exist.
    Absent,
    /// The object still has this version.
    Unchanged(Version),
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Our bytes are in place, with this version.
    Written(Version),
    /// The object was not in the expected state; nothing was written.
    Conflict,
}

/// Errors of conditional reads and writes (the object's location, never credentials).
#[derive(Debug, thiserror::Error)]
pub enum CasError {
    #[error("{source}")]
    Store {
        location: String,
        source: Box<object_store::Error>,
    },
    /// The store answered with a refusal that means the write was not applied (503 SlowDown,
    /// 429), and reading the object back confirmed it.
    #[error("{source}")]
    Rejected {
        location: String,
        source: Box<object_store::Error>,
    },
    #[error("{}: {source}", path.display())]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn local_path(loc: &Location, path: &ObjPath) -> Option<PathBuf> {
    loc.local
        .as_ref()
        .map(|_| PathBuf::from(format!("/{path}")))
}

fn hash_version(body: &[u8]) -> Version {
    Version {
        e_tag: Some(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(body))),
        version: None,
    }
}

/// Reads an object with its version; `None` when it does not exist.
pub async fn read(loc: &Location, path: &ObjPath) -> Result<Option<Versioned>, CasError> {
    if let Some(file) = local_path(loc, path) {
        return blocking(move || read_local(&file)).await;
    }
    let err = |source| CasError::Store {
        location: loc.display_object(path),
        source: Box::new(source),
    };
    match loc.store.get(path).await {
        Ok(r) => {
            let version = Version {
                e_tag: r.meta.e_tag.clone(),
                version: r.meta.version.clone(),
            };
            let body = r.bytes().await.map_err(err)?;
            Ok(Some(Versioned { body, version }))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(err(e)),
    }
}

/// Tries of a conditional write that failed without landing.
const ATTEMPTS: u32 = 4;

/// Writes `body` at `path` if the object is in the `expect`ed state.
pub async fn put_if(
    loc: &Location,
    path: &ObjPath,
    body: Bytes,
    expect: Expect,
) -> Result<Outcome, CasError> {
    if let Some(file) = local_path(loc, path) {
        return blocking(move || with_guard(&file, |f| put_local(f, &body, &expect))).await;
    }
    let mut attempt = 1;
    loop {
        match put_remote(loc, path, body.clone(), expect.clone()).await {
            Err(e) if attempt < ATTEMPTS => {
                drop(e);
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn put_remote(
    loc: &Location,
    path: &ObjPath,
    body: Bytes,
    expect: Expect,
) -> Result<Outcome, CasError> {
    let mode = match &expect {
        Expect::Absent => PutMode::Create,
        Expect::Unchanged(v) => PutMode::Update(v.clone().into()),
    };
    let opts = PutOptions {
        mode,
        ..Default::default()
    };
    match loc
        .store
        .put_opts(path, PutPayload::from(body.clone()), opts)
        .await
    {
        Ok(r) => {
            let version = Version {
                e_tag: r.e_tag,
                version: r.version,
            };
            if version.e_tag.is_some() || version.version.is_some() {
                return Ok(Outcome::Written(version));
            }
            // A store that does not return the new e-tag: read it (the object is ours now).
            match read(loc, path).await? {
                Some(v) if v.body == body => Ok(Outcome::Written(v.version)),
                _ => Ok(Outcome::Conflict),
            }
        }
        Err(e) => {
            let refused = matches!(
                e,
                object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. }
            );
            // The write may have landed although its response was lost: look before deciding.
            match read(loc, path).await {
                Ok(Some(current)) if current.body == body => Ok(Outcome::Written(current.version)),
                Ok(_) if refused => Ok(Outcome::Conflict),
                Ok(_) if throttled(&e) => Err(CasError::Rejected {
                    location: loc.display_object(path),
                    source: Box::new(e),
                }),
                _ => Err(CasError::Store {
                    location: loc.display_object(path),
                    source: Box::new(e),
                }),
            }
        }
    }
}

/// Deletes the object if it still has `version` (on object stores: if it still holds `body`,
/// checked just before the delete; object_store has no conditional delete). Returns whether it
/// deleted.
pub async fn delete_if(
    loc: &Location,
    path: &ObjPath,
    body: &Bytes,
    version: &Version,
) -> Result<bool, CasError> {
    if let Some(file) = local_path(loc, path) {
        let version = version.clone();
        return blocking(move || {
            with_guard(&file, |f| match read_local(f)? {
                Some(cur) if cur.version == version => match std::fs::remove_file(f) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(source) => Err(CasError::Local {
                        path: f.clone(),
                        source,
                    }),
                },
                _ => Ok(false),
            })
        })
        .await;
    }
    match read(loc, path).await? {
        Some(cur) if cur.body == body => match loc.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(true),
            Err(source) => Err(CasError::Store {
                location: loc.display_object(path),
                source: Box::new(source),
            }),
        },
        _ => Ok(false),
    }
}

/// Whether an error is the store's "slow down" answer, given before a request is applied. A
/// timeout or a reset is not: the store may still apply such a request. object_store does not
/// expose the status of its errors, so this reads the message; a miss only keeps more files.
fn throttled(e: &object_store::Error) -> bool {
    let text = e.to_string();
    [
        "503 Service Unavailable",
        "429 Too Many Requests",
        "SlowDown",
    ]
    .iter()
    .any(|t| text.contains(t))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CasError> + Send + 'static,
) -> Result<T, CasError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(CasError::Local {
            path: PathBuf::new(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

fn read_local(file: &PathBuf) -> Result<Option<Versioned>, CasError> {
    match std::fs::read(file) {
        Ok(bytes) => Ok(Some(Versioned {
            version: hash_version(&bytes),
            body: Bytes::from(bytes),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CasError::Local {
            path: file.clone(),
            source,
        }),
    }
}

/// Runs `f` holding an exclusive lock on `.<name>.guard` beside `file` (released on return, and
/// by the kernel if the process dies).
fn with_guard<T>(
    file: &PathBuf,
    f: impl FnOnce(&PathBuf) -> Result<T, CasError>,
) -> Result<T, CasError> {
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| CasError::Local { path, source }
    };
    let dir = file.parent().map(PathBuf::from).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let guard_path = dir.join(format!(".{name}.guard"));
    let guard = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&guard_path)
        .map_err(io(&guard_path))?;
    guard.lock().map_err(io(&guard_path))?;
    let result = f(file);
    let _ = guard.unlock();
    result
}

fn put_local(file: &PathBuf, body: &Bytes, expect: &Expect) -> Result<Outcome, CasError> {
    let current = read_local(file)?;
    let ok = match (expect, &current) {
        (Expect::Absent, None) => true,
        (Expect::Unchanged(v), Some(cur)) => &cur.version == v,
        _ => false,
    };
    if !ok {
        return Ok(Outcome::Conflict);
    }
    // Write beside the target and rename over it: readers see the old or the new bytes.
    let tmp = file.with_file_name(format!(
        ".{}.{}.tmp",
        file.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| CasError::Local { path, source }
    };
    let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    out.write_all(body).map_err(io(&tmp))?;
    out.sync_all().map_err(io(&tmp))?;
    drop(out);
    std::fs::rename(&tmp, file).map_err(io(file))?;
    Ok(Outcome::Written(hash_version(body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[tokio::test]
    async fn local_create_and_replace_are_conditional() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::new(dir.path());
        let loc = storage.resolve("locks").unwrap();
        let path = loc.path.clone().join("a.lock");
        let first = put_if(&loc, &path, Bytes::from("one"), Expect::Absent)
            .await
            .unwrap();
        let Outcome::Written(v1) = first else {
            panic!("the first create wins")
        };
        assert_eq!(
            put_if(&loc, &path, Bytes::from("two"), Expect::Absent)
                .await
                .unwrap(),
            Outcome::Conflict,
            "a second create is refused"
        );
        let stale = Version {
            e_tag: Some("0".into()),
            version: None,
        };
        assert_eq!(
            put_if(&loc, &path, Bytes::from("two"), Expect::Unchanged(stale))
                .await
                .unwrap(),
            Outcome::Conflict
        );
        let Outcome::Written(v2) = put_if(
            &loc,
            &path,
            Bytes::from("two"),
            Expect::Unchanged(v1.clone()),
        )
        .await
        .unwrap() else {
            panic!("replace with the current version wins")
        };
        let now = read(&loc, &path).await.unwrap().unwrap();
        assert_eq!(now.body, Bytes::from("two"));
        assert_eq!(now.version, v2);
        assert!(!delete_if(&loc, &path, &Bytes::from("one"), &v1)
            .await
            .unwrap());
        assert!(delete_if(&loc, &path, &Bytes::from("two"), &v2)
            .await
            .unwrap());
        assert!(read(&loc, &path).await.unwrap().is_none());
    }
}
