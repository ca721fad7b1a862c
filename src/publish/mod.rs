//! Publishing a run: run-unique files, one commit object written last, then markers and cleanup.
//!
//! Layout under the output location (the same on local disks and object stores):
//!
//! ```text
//! <output>/<model>/run_date=D/part-<run_id>-00000.parquet  a run's data (Hive partitioning)
//! <output>/<model>/run_date=D/_SUCCESS                     names the committed run of this folder
//! <output>/_beacon/runs/run_date=D/manifest.json           THE COMMIT: run id, every table's files
//! <output>/_beacon/runs/run_date=D/run_results.json        what the last run of D did
//! <output>/_beacon/locks/run_date=D.lock                   the run lock (see [`lock`])
//! <output>/_beacon/staging/run_date=D/<run_id>/<model>/    a run in progress (hidden from readers)
//! ```
//!
//! # Protocol
//!
//! A run of date D, holding the lock of D (taken before anything is read or written):
//!
//! 1. writes each published model under its staging prefix, files named `part-<run_id>-NNNNN`;
//! 2. places them in `<model>/run_date=D/` under the same run-unique names (a rename on a local
//!    disk, a server-side copy on object stores); files of other runs in that folder stay;
//! 3. **commits** by writing `manifest.json`, the one object that makes the run visible, with a
//!    conditional write against the manifest it found (`If-Match` on its e-tag, or
//!    `If-None-Match: *` when there was none), so a run that lost its lock can never replace a
//!    newer commit;
//! 4. rewrites each folder's `_SUCCESS` to name the committed run and its files;
//! 5. only then deletes the files of other runs from those folders, and the staging prefixes of
//!    D (also those that killed runs left behind).
//!
//! A failure before step 3 removes what the run placed; nothing of it was ever named by a
//! manifest or a `_SUCCESS`. A kill at any moment leaves the previous commit intact: the files
//! it names are deleted only in step 5 of a later run that committed.
//!
//! # Reader rule
//!
//! Read a date's tables from the file list of `_beacon/runs/run_date=D/manifest.json`
//! (`tables[].files[].location`): that is one consistent run for all its tables. Or, per table,
//! read `<model>/run_date=D/` only if it has `_SUCCESS`, and only the files that `_SUCCESS` names
//! (`files`, or the `part-<run_id>-` prefix). A reader following either never sees a partial or
//! mixed run. `_SUCCESS` is per table: tables read through their `_SUCCESS` can come from two
//! runs while a commit is in step 4 (or after a kill there, until the next commit); the manifest
//! is the consistent view of all tables. A plain glob over the folders sees exactly one run per date while no run of that
//! date is committing and none was killed in the middle of step 2 to 5; it is fine for ad hoc
//! looks at a local output, not for production readers. A reader that resolved its file list
//! just before a newer commit may find those files deleted by step 5: it reads the new manifest
//! and starts over.
//!
//! `_`- and `.`-prefixed names are ignored by DuckDB, Spark, Trino and Hive.

pub mod lock;
pub mod writer;

pub use lock::{LockError, LockHolder, RunLock};
pub use writer::{write_dataframe, WriteOptions, WrittenFile, WrittenTable};

use crate::storage::cas::{self, CasError, Expect, Outcome};
use crate::storage::Location;
use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Format version of `manifest.json`.
pub const MANIFEST_VERSION: u32 = 1;

/// Errors publishing a run. None of them leaves a partial run visible.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot place {from} at {to}: {source}")]
    Place {
        from: String,
        to: String,
        source: object_store::Error,
    },
    #[error("cannot write {location}: {source}")]
    Put {
        location: String,
        source: object_store::Error,
    },
    #[error("cannot read {location}: {source}")]
    Read { location: String, source: CasError },
    #[error("cannot commit {location}: {source}. The store refused the write: nothing of this run is visible, the previous run is intact")]
    CommitRefused { location: String, source: CasError },
    #[error("cannot commit {location}: {source}. Whether the write landed is unknown: the manifest names either the previous run or this one, complete either way; the next run of this date cleans up")]
    Commit { location: String, source: CasError },
    #[error("{location} changed while this run was going (now run {run_id}): another run committed this date; this run published nothing")]
    Superseded { location: String, run_id: String },
    #[error("run committed ({manifest}), but {location} could not be updated: {source}. Readers of that folder's _SUCCESS still see the previous run (whose files are kept); run the date again")]
    Marker {
        manifest: String,
        location: String,
        source: object_store::Error,
    },
    #[error("cannot encode {what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
}

/// A column of a published table, in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    /// Arrow data type, e.g. `Int64`, `Float64`, `Date32`, `Utf8`.
    pub data_type: String,
    pub nullable: bool,
}

/// One data file of a committed run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublishedFile {
    /// Path relative to the output location: `<model>/run_date=D/part-<run_id>-00000.parquet`.
    pub path: String,
    /// Where readers open it: `s3://bucket/prefix/...`, or an absolute path on local disks.
    #[serde(default)]
    pub location: String,
    pub rows: u64,
    pub bytes: u64,
}

/// One published table in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    pub model: String,
    /// The partition folder, e.g. `s3://bucket/beacon/campaign_cohorts_weekly/run_date=2026-11-22/`.
    pub location: String,
    pub rows: u64,
    pub bytes: u64,
    pub files: Vec<PublishedFile>,
    pub schema: Vec<ColumnInfo>,
}

/// The commit record of a run: what readers of the date read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    #[serde(default)]
    pub manifest_version: u32,
    pub pipeline: String,
    pub run_id: String,
    pub run_date: NaiveDate,
    pub committed_at: String,
    pub beacon_version: String,
    /// The output location the paths are relative to.
    #[serde(default)]
    pub output: String,
    pub tables: Vec<TableEntry>,
    /// The state of each source as this run left it in the raw zone (incremental sources: the
    /// watermark the next run continues from).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceState>,
}

/// A source's loaded state, recorded with the commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceState {
    /// The raw-zone table (a folder of Parquet files).
    pub location: String,
    pub rows: u64,
    /// Incremental sources: the largest cursor value loaded so far, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
}

/// Content of a partition's `_SUCCESS`: the committed run of that folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SuccessMarker {
    pub run_id: String,
    pub run_date: NaiveDate,
    pub committed_at: String,
    /// The run's manifest, relative to the output location.
    pub manifest: String,
    /// The data files of the run in this folder (names in the folder).
    pub files: Vec<String>,
    pub rows: u64,
}

impl Manifest {
    /// The URL of a file of this manifest, for the query engine (`s3://b/out/m/run_date=D/f`).
    pub fn file_url(output: &Location, file: &PublishedFile) -> String {
        format!("{}{}", output.store_url, output.child(&file.path).path)
    }

    /// A manifest written before `manifest_version` 1 named files by their path in the store;
    /// this rewrites them to the current form (relative to the output, with a location).
    fn upgraded(mut self, output: &Location) -> Manifest {
        if self.manifest_version >= MANIFEST_VERSION {
            return self;
        }
        let prefix = format!("{}/", output.path);
        for t in &mut self.tables {
            for f in &mut t.files {
                let store_path = ObjPath::from(f.path.as_str());
                f.location = output.display_object(&store_path);
                if let Some(rel) = f.path.strip_prefix(&prefix) {
                    f.path = rel.to_string();
                }
            }
        }
        self.manifest_version = MANIFEST_VERSION;
        self.output = output.display.clone();
        self
    }
}

/// Describes a schema for the manifest.
pub fn schema_info(schema: &SchemaRef) -> Vec<ColumnInfo> {
    schema
        .fields()
        .iter()
        .map(|f| ColumnInfo {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
        })
        .collect()
}

/// Publishes one run of one pipeline to an output location.
#[derive(Debug, Clone)]
pub struct Publisher {
    output: Location,
    run_date: NaiveDate,
    run_id: String,
    pipeline: String,
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn hidden(name: &str) -> bool {
    name.starts_with(['_', '.'])
}

impl Publisher {
    pub fn new(output: Location, pipeline: &str, run_date: NaiveDate, run_id: &str) -> Self {
        Publisher {
            output,
            run_date,
            run_id: run_id.to_string(),
            pipeline: pipeline.to_string(),
        }
    }

    /// `run_date=YYYY-MM-DD`: the partition of this run, and the key of its lock.
    pub fn partition(&self) -> String {
        format!("run_date={}", self.run_date.format("%Y-%m-%d"))
    }

    /// Folder of this date's metadata (manifest, run results).
    pub fn run_meta(&self) -> Location {
        self.output
            .child(&format!("_beacon/runs/{}", self.partition()))
    }

    fn staging_of_date(&self) -> Location {
        self.output
            .child(&format!("_beacon/staging/{}", self.partition()))
    }

    fn staging_of_run(&self) -> Location {
        self.staging_of_date().child(&self.run_id)
    }

    /// Where a published model of this run is written before the commit.
    pub fn staging(&self, model: &str) -> Location {
        self.staging_of_run().child(model)
    }

    /// Write options for published models: run-unique file names.
    pub fn write_options(&self) -> WriteOptions {
        WriteOptions {
            file_stem: format!("part-{}", self.run_id),
            ..WriteOptions::default()
        }
    }

    /// The published partition of a model.
    pub fn partition_of(&self, model: &str) -> Location {
        self.output.child(&format!("{model}/{}", self.partition()))
    }

    /// Takes the run lock of this output and date; fails naming the holder if another run has it.
    pub async fn lock(&self, ttl: Duration) -> Result<RunLock, LockError> {
        RunLock::acquire(
            &self.output,
            &self.partition(),
            &self.pipeline,
            &self.run_id,
            ttl,
        )
        .await
    }

    /// Commits the staged tables (steps 2 to 5 of the protocol) and returns the manifest.
    /// `carried` are tables of the date's previous commit that this run did not rebuild (a
    /// `--select` run): their files, folders and `_SUCCESS` stay as they are, and the new
    /// manifest lists them too. `sources` is the raw-zone state recorded with the commit.
    pub async fn commit(
        &self,
        tables: &[(String, WrittenTable)],
        carried: &[TableEntry],
        sources: BTreeMap<String, SourceState>,
        lock: &RunLock,
    ) -> Result<Manifest, PublishError> {
        lock.check()?;
        let meta = self.run_meta();
        let manifest_path = meta.path.clone().join("manifest.json");
        let manifest_display = meta.display_object(&manifest_path);
        let previous =
            cas::read(&meta, &manifest_path)
                .await
                .map_err(|source| PublishError::Read {
                    location: manifest_display.clone(),
                    source,
                })?;

        // Step 2: place the files under their run-unique names.
        let mut placed: Vec<(Location, ObjPath)> = Vec::new();
        let mut entries = Vec::new();
        for (model, table) in tables {
            let target = self.partition_of(model);
            let mut files = Vec::new();
            for f in &table.files {
                let from = ObjPath::from(f.path.as_str());
                let name = file_name(&f.path);
                let to = target.path.clone().join(name);
                if let Err(source) = place(&target, &from, &to).await {
                    self.unplace(&placed).await;
                    return Err(PublishError::Place {
                        from: target.display_object(&from),
                        to: target.display_object(&to),
                        source,
                    });
                }
                placed.push((target.clone(), to.clone()));
                files.push(PublishedFile {
                    path: format!("{model}/{}/{name}", self.partition()),
                    location: target.display_object(&to),
                    rows: f.rows,
                    bytes: f.bytes,
                });
            }
            entries.push(TableEntry {
                model: model.clone(),
                location: target.table_url(),
                rows: table.rows,
                bytes: table.bytes,
                files,
                schema: schema_info(&table.schema),
            });
        }
        let built: BTreeSet<String> = entries.iter().map(|e| e.model.clone()).collect();
        entries.extend(
            carried
                .iter()
                .filter(|c| !built.contains(&c.model))
                .cloned(),
        );
        entries.sort_by(|a, b| a.model.cmp(&b.model));
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            pipeline: self.pipeline.clone(),
            run_id: self.run_id.clone(),
            run_date: self.run_date,
            committed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            beacon_version: env!("CARGO_PKG_VERSION").to_string(),
            output: self.output.display.clone(),
            tables: entries,
            sources,
        };
        let body = serde_json::to_vec_pretty(&manifest).map_err(|source| PublishError::Json {
            what: manifest_display.clone(),
            source,
        })?;

        // Step 3: the commit point.
        if let Err(e) = lock.check() {
            self.unplace(&placed).await;
            return Err(e.into());
        }
        let expect = match &previous {
            Some(p) => Expect::Unchanged(p.version.clone()),
            None => Expect::Absent,
        };
        match cas::put_if(&meta, &manifest_path, body.into(), expect).await {
            Ok(Outcome::Written(_)) => {}
            Ok(Outcome::Conflict) => {
                self.unplace(&placed).await;
                let run_id = match cas::read(&meta, &manifest_path).await {
                    Ok(Some(m)) => serde_json::from_slice::<Manifest>(&m.body)
                        .map(|m| m.run_id)
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                return Err(PublishError::Superseded {
                    location: manifest_display,
                    run_id,
                });
            }
            // The store refused the write and it did not land: nothing of the run is named.
            Err(source @ CasError::Rejected { .. }) => {
                self.unplace(&placed).await;
                return Err(PublishError::CommitRefused {
                    location: manifest_display,
                    source,
                });
            }
            // Whether the manifest landed is unknown (a timeout, a reset): keep the files it
            // may name; the next committed run of the date removes them if it did not.
            Err(source) => {
                return Err(PublishError::Commit {
                    location: manifest_display,
                    source,
                })
            }
        }

        // Step 4: each rebuilt folder's _SUCCESS names the committed run.
        let rebuilt = || manifest.tables.iter().filter(|e| built.contains(&e.model));
        for entry in rebuilt() {
            let target = self.partition_of(&entry.model);
            let marker = SuccessMarker {
                run_id: self.run_id.clone(),
                run_date: self.run_date,
                committed_at: manifest.committed_at.clone(),
                manifest: format!("_beacon/runs/{}/manifest.json", self.partition()),
                files: entry
                    .files
                    .iter()
                    .map(|f| file_name(&f.path).to_string())
                    .collect(),
                rows: entry.rows,
            };
            let path = target.path.clone().join("_SUCCESS");
            let body = serde_json::to_vec_pretty(&marker).map_err(|source| PublishError::Json {
                what: target.display_object(&path),
                source,
            })?;
            target
                .store
                .put(&path, PutPayload::from(body))
                .await
                .map_err(|source| PublishError::Marker {
                    manifest: manifest_display.clone(),
                    location: target.display_object(&path),
                    source,
                })?;
        }

        // Step 5: other runs' files, and this date's staging. Best effort: leftovers are named
        // by no manifest or _SUCCESS, and the next committed run of the date removes them.
        if lock.check().is_ok() {
            for entry in rebuilt() {
                let keep: BTreeSet<&str> = entry.files.iter().map(|f| file_name(&f.path)).collect();
                let target = self.partition_of(&entry.model);
                delete_where(&target, |name| !hidden(name) && !keep.contains(name)).await;
            }
            remove_all(&self.staging_of_date()).await;
        }
        Ok(manifest)
    }

    /// Removes files this run placed before its commit failed.
    async fn unplace(&self, placed: &[(Location, ObjPath)]) {
        for (loc, path) in placed {
            let _ = loc.store.delete(path).await;
        }
    }

    /// Removes this run's staging area (a run that failed). Published data is not touched.
    pub async fn discard(&self) {
        remove_all(&self.staging_of_run()).await;
    }

    /// After a failed run: removes the staging of the date's other runs, keeping this run's
    /// for `--resume` (the next commit of the date removes it).
    pub async fn discard_others(&self) {
        let date = self.staging_of_date();
        let Ok(listed) = date.store.list_with_delimiter(Some(&date.path)).await else {
            return;
        };
        for prefix in listed.common_prefixes {
            if prefix.filename() != Some(self.run_id.as_str()) {
                if let Some(run) = prefix.filename() {
                    remove_all(&date.child(run)).await;
                }
            }
        }
    }

    /// Brings a published model that an earlier (failed) run of the date staged into this
    /// run's staging under this run's file names, so that this run can commit it unchanged.
    pub async fn adopt(
        &self,
        model: &str,
        files: &[WrittenFile],
        schema: SchemaRef,
    ) -> Result<WrittenTable, PublishError> {
        let target = self.staging(model);
        let options = self.write_options();
        let mut out = Vec::new();
        for (n, f) in files.iter().enumerate() {
            let from = ObjPath::from(f.path.as_str());
            let to = target
                .path
                .clone()
                .join(format!("{}-{n:05}.parquet", options.file_stem).as_str());
            target
                .store
                .copy(&from, &to)
                .await
                .map_err(|source| PublishError::Place {
                    from: target.display_object(&from),
                    to: target.display_object(&to),
                    source,
                })?;
            out.push(WrittenFile {
                path: to.to_string(),
                rows: f.rows,
                bytes: f.bytes,
            });
        }
        Ok(WrittenTable {
            rows: out.iter().map(|f| f.rows).sum(),
            bytes: out.iter().map(|f| f.bytes).sum(),
            files: out,
            schema,
        })
    }

    /// Writes a JSON document into this date's metadata folder (run results). One PUT: readers
    /// see the old or the new document (on local disks object_store writes a temp file and
    /// renames it).
    pub async fn write_json<T: Serialize>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), PublishError> {
        let meta = self.run_meta();
        let path = meta.path.clone().join(name);
        let body = serde_json::to_vec_pretty(value).map_err(|source| PublishError::Json {
            what: name.to_string(),
            source,
        })?;
        meta.store
            .put(&path, PutPayload::from(body))
            .await
            .map(|_| ())
            .map_err(|source| PublishError::Put {
                location: meta.display_object(&path),
                source,
            })
    }

    /// Reads the committed manifest of this run date, if there is one (in the current form,
    /// whatever version wrote it).
    pub async fn read_manifest(&self) -> Result<Option<Manifest>, PublishError> {
        let meta = self.run_meta();
        let path = meta.path.clone().join("manifest.json");
        let location = meta.display_object(&path);
        match cas::read(&meta, &path).await {
            Ok(Some(m)) => serde_json::from_slice::<Manifest>(&m.body)
                .map(|m| Some(m.upgraded(&self.output)))
                .map_err(|source| PublishError::Json {
                    what: location,
                    source,
                }),
            Ok(None) => Ok(None),
            Err(source) => Err(PublishError::Read { location, source }),
        }
    }
}

/// Puts a staged file in its published folder: a rename on a local disk, a copy on object
/// stores (the staged original is removed with the staging prefix after the commit).
async fn place(target: &Location, from: &ObjPath, to: &ObjPath) -> object_store::Result<()> {
    match target.local {
        Some(_) => target.store.rename(from, to).await,
        None => target.store.copy(from, to).await,
    }
}

/// Deletes the objects directly under `loc` whose file name matches `pred`.
async fn delete_where(loc: &Location, pred: impl Fn(&str) -> bool) {
    let Ok(list) = loc
        .store
        .list(Some(&loc.path))
        .try_collect::<Vec<_>>()
        .await
    else {
        return;
    };
    let depth = loc.path.parts().count() + 1;
    for meta in list {
        let name = meta.location.filename().unwrap_or_default().to_string();
        if meta.location.parts().count() == depth && pred(&name) {
            let _ = loc.store.delete(&meta.location).await;
        }
    }
}

/// Deletes everything under `loc` (and the folder itself on local disks).
async fn remove_all(loc: &Location) {
    match &loc.local {
        Some(dir) => {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        None => {
            let store: &dyn ObjectStore = loc.store.as_ref();
            if let Ok(list) = store.list(Some(&loc.path)).try_collect::<Vec<_>>().await {
                for meta in list {
                    let _ = store.delete(&meta.location).await;
                }
            }
        }
    }
}
