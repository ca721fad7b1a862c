//! URL -> object store: the only place that knows about schemes, buckets and credentials.
//!
//! Every location Beacon reads or writes (sources, raw zone, outputs) goes through [`Storage::resolve`]:
//! local paths and `file://`, `s3://`, `gs://`, `az://`/`abfs(s)://` and `http(s)://`. Cloud
//! credentials and endpoints come from the standard places of each cloud, never from the pipeline
//! file: for S3 the `AWS_*` environment variables and the AWS profile files ([`aws`]), for GCS and
//! Azure their environment variables. Timeouts and retries ([`StorageOptions`], the pipeline's
//! `storage:` section) apply to every remote store. Stores are cached per bucket so DataFusion and
//! the loader share them. [`cas`] gives the conditional writes (create-if-absent,
//! replace-if-unchanged) that the run lock and the commit are built on.

pub mod aws;
pub mod cas;
mod options;

pub use options::StorageOptions;

use futures::TryStreamExt;
use globset::{Glob, GlobMatcher};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ClientConfigKey, ObjectMeta, ObjectStore, ObjectStoreExt};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use url::Url;

/// Errors resolving or listing a location. Messages name the location, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("`{location}` is not a valid location: {message}")]
    BadLocation { location: String, message: String },
    #[error("unsupported scheme `{scheme}` in `{location}`: use a path, file://, s3://, gs://, az://, abfss:// or http(s)://")]
    UnsupportedScheme { location: String, scheme: String },
    #[error("cannot configure the object store for `{location}`: {source}")]
    Configure {
        location: String,
        source: object_store::Error,
    },
    #[error("no files found at `{location}`")]
    NotFound { location: String },
    #[error("cannot list `{location}`: {source}")]
    List {
        location: String,
        source: object_store::Error,
    },
    #[error("cannot configure S3 for `{location}`: {source}")]
    Aws {
        location: String,
        source: aws::AwsConfigError,
    },
}

/// A resolved location: a store, a path inside it, and an optional glob on file paths.
#[derive(Debug, Clone)]
pub struct Location {
    /// `scheme://authority/` of the store (what DataFusion registers stores under).
    pub store_url: Url,
    pub store: Arc<dyn ObjectStore>,
    /// The path inside the store (for a glob: the fixed prefix before the first wildcard).
    pub path: ObjPath,
    glob: Option<GlobMatcher>,
    /// The location as shown to users (absolute path or URL, without credentials).
    pub display: String,
    /// The local file system path, for `file` locations.
    pub local: Option<PathBuf>,
}

impl Location {
    /// A location under this one (`child("leads/run_date=2026-01-01")`).
    pub fn child(&self, rel: &str) -> Location {
        let mut path = self.path.clone();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            path = path.join(part);
        }
        Location {
            store_url: self.store_url.clone(),
            store: Arc::clone(&self.store),
            display: format!(
                "{}/{}",
                self.display.trim_end_matches('/'),
                rel.trim_matches('/')
            ),
            local: self.local.as_ref().map(|l| l.join(rel)),
            path,
            glob: None,
        }
    }

    /// The URL DataFusion uses for this location as a table path (ends with `/` for folders).
    pub fn table_url(&self) -> String {
        format!("{}{}/", self.store_url, self.path)
    }

    /// Display string for an object inside this location's store.
    pub fn display_object(&self, path: &ObjPath) -> String {
        match &self.local {
            Some(_) => format!("/{path}"),
            None => format!("{}{path}", self.store_url),
        }
    }
}

/// Resolves locations and caches one store per bucket/host.
#[derive(Debug)]
pub struct Storage {
    base_dir: PathBuf,
    options: StorageOptions,
    stores: Mutex<BTreeMap<String, Arc<dyn ObjectStore>>>,
}

impl Storage {
    /// Relative paths are resolved against `base_dir` (the pipeline file's folder); remote stores
    /// get the default [`StorageOptions`].
    pub fn new(base_dir: &Path) -> Self {
        Self::with_options(base_dir, StorageOptions::default())
    }

    /// Like [`Storage::new`] with the timeouts and retries of a pipeline's `storage:` section.
    pub fn with_options(base_dir: &Path, options: StorageOptions) -> Self {
        Storage {
            base_dir: base_dir.to_path_buf(),
            options,
            stores: Mutex::new(BTreeMap::new()),
        }
    }

    /// The timeouts, retries and lock lease in force.
    pub fn options(&self) -> &StorageOptions {
        &self.options
    }

    /// All stores resolved so far, by `scheme://authority/`, for registration with the engine.
    pub fn stores(&self) -> Vec<(Url, Arc<dyn ObjectStore>)> {
        let guard = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .iter()
            .filter_map(|(k, s)| Url::parse(k).ok().map(|u| (u, Arc::clone(s))))
            .collect()
    }

    /// Resolves a path or URL from the pipeline file or the command line.
    pub fn resolve(&self, location: &str) -> Result<Location, StorageError> {
        let loc = location.trim();
        let bad = |message: String| StorageError::BadLocation {
            location: loc.to_string(),
            message,
        };
        if let Some((scheme, _)) = loc.split_once("://") {
            if scheme == "file" {
                let url = Url::parse(loc).map_err(|e| bad(e.to_string()))?;
                let path = url
                    .to_file_path()
                    .map_err(|_| bad("not an absolute file path".into()))?;
                return self.local(&path, loc);
            }
            return self.remote(loc, scheme);
        }
        let p = Path::new(loc);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        };
        let abs = std::path::absolute(&abs).map_err(|e| bad(e.to_string()))?;
        self.local(&normalize(&abs), loc)
    }

    fn cached(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<Arc<dyn ObjectStore>, object_store::Error>,
        location: &str,
    ) -> Result<Arc<dyn ObjectStore>, StorageError> {
        let mut guard = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = guard.get(key) {
            return Ok(Arc::clone(s));
        }
        let store = make().map_err(|source| StorageError::Configure {
            location: location.to_string(),
            source,
        })?;
        guard.insert(key.to_string(), Arc::clone(&store));
        Ok(store)
    }

    fn local(&self, abs: &Path, original: &str) -> Result<Location, StorageError> {
        let text = abs.to_string_lossy().to_string();
        let (prefix, glob) = split_glob(&text);
        let prefix_path = PathBuf::from(if prefix.is_empty() {
            "/"
        } else {
            prefix.as_str()
        });
        let path =
            ObjPath::from_absolute_path(&prefix_path).map_err(|e| StorageError::BadLocation {
                location: original.to_string(),
                message: e.to_string(),
            })?;
        let glob = match glob {
            Some(_) => Some(compile_glob(text.trim_start_matches('/'), original)?),
            None => None,
        };
        let store = self.cached(
            "file:///",
            || Ok(Arc::new(LocalFileSystem::new()) as Arc<dyn ObjectStore>),
            original,
        )?;
        Ok(Location {
            store_url: Url::parse("file:///").map_err(|e| StorageError::BadLocation {
                location: original.to_string(),
                message: e.to_string(),
            })?,
            store,
            path,
            glob,
            display: text.clone(),
            local: Some(prefix_path),
        })
    }

    fn remote(&self, loc: &str, scheme: &str) -> Result<Location, StorageError> {
        let url = Url::parse(loc).map_err(|e| StorageError::BadLocation {
            location: loc.to_string(),
            message: e.to_string(),
        })?;
        let authority = url.host_str().unwrap_or_default().to_string();
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let store_key = format!("{scheme}://{authority}{port}/");
        let display = redact(&url);
        let opts = &self.options;
        let timeout = options::config_duration(opts.request_timeout);
        let connect = options::config_duration(opts.connect_timeout);
        let store = match scheme {
            "s3" | "s3a" => {
                let env: BTreeMap<String, String> = std::env::vars().collect();
                let home = std::env::var_os("HOME").map(PathBuf::from);
                let builder =
                    aws::s3_builder(&authority, &env, home.as_deref()).map_err(|source| {
                        StorageError::Aws {
                            location: display.clone(),
                            source,
                        }
                    })?;
                self.cached(
                    &store_key,
                    || {
                        use object_store::aws::AmazonS3ConfigKey as K;
                        builder
                            .with_config(K::Client(ClientConfigKey::Timeout), &timeout)
                            .with_config(K::Client(ClientConfigKey::ConnectTimeout), &connect)
                            .with_retry(opts.retry_config())
                            .build()
                            .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                    },
                    &display,
                )?
            }
            "gs" | "gcs" => self.cached(
                &store_key,
                || {
                    use object_store::gcp::GoogleConfigKey as K;
                    object_store::gcp::GoogleCloudStorageBuilder::from_env()
                        .with_bucket_name(&authority)
                        .with_config(K::Client(ClientConfigKey::Timeout), &timeout)
                        .with_config(K::Client(ClientConfigKey::ConnectTimeout), &connect)
                        .with_retry(opts.retry_config())
                        .build()
                        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                },
                &display,
            )?,
            "az" | "azure" | "abfs" | "abfss" | "adl" => self.cached(
                &store_key,
                || {
                    use object_store::azure::AzureConfigKey as K;
                    object_store::azure::MicrosoftAzureBuilder::from_env()
                        .with_url(format!("{scheme}://{authority}"))
                        .with_config(K::Client(ClientConfigKey::Timeout), &timeout)
                        .with_config(K::Client(ClientConfigKey::ConnectTimeout), &connect)
                        .with_retry(opts.retry_config())
                        .build()
                        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                },
                &display,
            )?,
            "http" | "https" => self.cached(
                &store_key,
                || {
                    object_store::http::HttpBuilder::new()
                        .with_url(format!("{scheme}://{authority}{port}"))
                        .with_config(ClientConfigKey::Timeout, &timeout)
                        .with_config(ClientConfigKey::ConnectTimeout, &connect)
                        .with_retry(opts.retry_config())
                        .build()
                        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                },
                &display,
            )?,
            other => {
                return Err(StorageError::UnsupportedScheme {
                    location: display,
                    scheme: other.to_string(),
                })
            }
        };
        let decoded = url.path().trim_start_matches('/').to_string();
        let (prefix, glob) = split_glob(&decoded);
        let path = ObjPath::parse(prefix.trim_end_matches('/')).map_err(|e| {
            StorageError::BadLocation {
                location: display.clone(),
                message: e.to_string(),
            }
        })?;
        let glob = match glob {
            Some(_) => Some(compile_glob(&decoded, &display)?),
            None => None,
        };
        let store_url = Url::parse(&store_key).map_err(|e| StorageError::BadLocation {
            location: display.clone(),
            message: e.to_string(),
        })?;
        Ok(Location {
            store_url,
            store,
            path,
            glob,
            display,
            local: None,
        })
    }

    /// The data files a source location names: the file itself, every file under a folder or
    /// prefix (hidden `_`/`.` names skipped), or the files matching a glob. Sorted by path.
    pub async fn list_files(&self, loc: &Location) -> Result<Vec<ObjectMeta>, StorageError> {
        let list_err = |source| StorageError::List {
            location: loc.display.clone(),
            source,
        };
        if loc.glob.is_none() {
            if let Ok(meta) = loc.store.head(&loc.path).await {
                return Ok(vec![meta]);
            }
        }
        let prefix = if loc.path.as_ref().is_empty() {
            None
        } else {
            Some(&loc.path)
        };
        let mut files: Vec<ObjectMeta> = match loc.store.list(prefix).try_collect().await {
            Ok(f) => f,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(list_err(e)),
        };
        let prefix_parts = loc.path.parts().count();
        files.retain(|m| {
            let hidden = m
                .location
                .parts()
                .skip(prefix_parts)
                .any(|p| p.as_ref().starts_with(['_', '.']));
            let matches = loc
                .glob
                .as_ref()
                .is_none_or(|g| g.is_match(m.location.as_ref()));
            !hidden && matches
        });
        files.sort_by(|a, b| a.location.cmp(&b.location));
        if files.is_empty() {
            return Err(StorageError::NotFound {
                location: loc.display.clone(),
            });
        }
        Ok(files)
    }
}

/// Splits `a/b/*.csv` into the fixed prefix `a/b` and the pattern part.
fn split_glob(path: &str) -> (String, Option<String>) {
    let Some(first) = path.find(['*', '?', '[', '{']) else {
        return (path.trim_end_matches('/').to_string(), None);
    };
    let prefix_end = path[..first].rfind('/').unwrap_or(0);
    (
        path[..prefix_end].to_string(),
        Some(path[prefix_end..].to_string()),
    )
}

fn compile_glob(pattern: &str, location: &str) -> Result<GlobMatcher, StorageError> {
    Glob::new(pattern.trim_start_matches('/'))
        .map(|g| g.compile_matcher())
        .map_err(|e| StorageError::BadLocation {
            location: location.to_string(),
            message: e.to_string(),
        })
}

/// Removes `.` and `..` components without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A URL without user info or query (where signed-URL tokens live).
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_glob_finds_fixed_prefix() {
        assert_eq!(
            split_glob("/data/in/*.csv"),
            ("/data/in".into(), Some("/*.csv".into()))
        );
        assert_eq!(
            split_glob("/data/in/leads.csv"),
            ("/data/in/leads.csv".into(), None)
        );
        assert_eq!(
            split_glob("bucket/x/2026-*/a.csv"),
            ("bucket/x".into(), Some("/2026-*/a.csv".into()))
        );
    }

    #[test]
    fn relative_paths_resolve_against_base_dir() -> Result<(), StorageError> {
        let s = Storage::new(Path::new("/srv/project/pipelines"));
        let loc = s.resolve("../sample_data/leads.csv")?;
        assert_eq!(loc.display, "/srv/project/sample_data/leads.csv");
        assert_eq!(loc.path.as_ref(), "srv/project/sample_data/leads.csv");
        assert_eq!(loc.store_url.as_str(), "file:///");
        Ok(())
    }

    #[test]
    fn urls_never_show_credentials() -> Result<(), StorageError> {
        let s = Storage::new(Path::new("/"));
        let loc = s.resolve("https://user:secret@example.invalid/exports/leads.csv?sig=abc")?;
        assert!(!loc.display.contains("secret"), "{}", loc.display);
        assert!(!loc.display.contains("sig=abc"), "{}", loc.display);
        Ok(())
    }

    #[test]
    fn unknown_scheme_is_an_error() {
        let s = Storage::new(Path::new("/"));
        let err = s.resolve("ftp://host/x.csv").map(|_| ()).unwrap_err();
        assert!(
            err.to_string().contains("unsupported scheme `ftp`"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn lists_globs_and_folders_skipping_hidden_files(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a.csv"), "x\n1\n")?;
        std::fs::write(dir.path().join("b.csv"), "x\n2\n")?;
        std::fs::write(dir.path().join("c.json"), "{}")?;
        std::fs::write(dir.path().join("_SUCCESS"), "")?;
        let s = Storage::new(dir.path());
        let glob = s.resolve("*.csv")?;
        let files = s.list_files(&glob).await?;
        assert_eq!(files.len(), 2);
        let folder = s.resolve(".")?;
        assert_eq!(s.list_files(&folder).await?.len(), 3);
        let missing = s.resolve("nothing/*.csv")?;
        assert!(matches!(
            s.list_files(&missing).await,
            Err(StorageError::NotFound { .. })
        ));
        Ok(())
    }
}
