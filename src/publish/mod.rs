//! Publishing a run: staged files, one commit, a manifest.
//!
//! Layout under the output location:
//!
//! ```text
//! <output>/<model>/run_date=YYYY-MM-DD/part-00000.parquet   what warehouses read (Hive partitioning)
//! <output>/<model>/run_date=YYYY-MM-DD/_SUCCESS             the partition is complete
//! <output>/_beacon/runs/run_date=YYYY-MM-DD/manifest.json   the commit: files, row counts, schemas
//! <output>/_beacon/runs/run_date=YYYY-MM-DD/run_results.json
//! <output>/_beacon/staging/<run_id>/...                     a run in progress (hidden from readers)
//! ```
//!
//! Models are written to the staging area first. Nothing under a model's folder changes until
//! every model of the run has succeeded. On a local file system the commit moves each staged
//! folder into place with a rename (the old partition is moved aside first, then deleted), so a
//! reader sees the previous run's files or the new run's files, never a mix or a half-written
//! file; the manifest, written last with an atomic rename, is the commit record for the run as a
//! whole. `_`- and `.`-prefixed names are ignored by DuckDB, Spark, Trino and Hive.

pub mod writer;

use crate::storage::Location;
use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use writer::{write_dataframe, WriteOptions, WrittenFile, WrittenTable};

/// Errors publishing a run.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot move {} to {}: {source}", from.display(), to.display())]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {location}: {source}")]
    Put {
        location: String,
        source: object_store::Error,
    },
    #[error("cannot copy {from} to {to}: {source}")]
    Copy {
        from: String,
        to: String,
        source: object_store::Error,
    },
    #[error("cannot read {location}: {source}")]
    Get {
        location: String,
        source: object_store::Error,
    },
    #[error("cannot encode {what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
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

/// One published table in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    pub model: String,
    /// The partition folder, e.g. `file:///srv/out/campaign_cohorts_weekly/run_date=2026-11-22/`.
    pub location: String,
    pub rows: u64,
    pub bytes: u64,
    pub files: Vec<WrittenFile>,
    pub schema: Vec<ColumnInfo>,
}

/// The commit record of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub pipeline: String,
    pub run_id: String,
    pub run_date: NaiveDate,
    pub committed_at: String,
    pub beacon_version: String,
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

impl Publisher {
    pub fn new(output: Location, pipeline: &str, run_date: NaiveDate, run_id: &str) -> Self {
        Publisher {
            output,
            run_date,
            run_id: run_id.to_string(),
            pipeline: pipeline.to_string(),
        }
    }

    fn partition(&self) -> String {
        format!("run_date={}", self.run_date.format("%Y-%m-%d"))
    }

    /// Folder of this run's metadata (manifest, run results).
    pub fn run_meta(&self) -> Location {
        self.output
            .child(&format!("_beacon/runs/{}", self.partition()))
    }

    /// Where a model of this run is written before the commit.
    pub fn staging(&self, model: &str) -> Location {
        self.output
            .child(&format!("_beacon/staging/{}/{model}", self.run_id))
    }

    /// The published partition of a model.
    pub fn partition_of(&self, model: &str) -> Location {
        self.output.child(&format!("{model}/{}", self.partition()))
    }

    /// Makes the staged tables the published ones and writes the manifest last. `carried` are
    /// tables of the date's previous commit that this run did not rebuild (a `--select` run):
    /// they stay as they are and are listed in the new manifest too.
    pub async fn commit(
        &self,
        tables: &[(String, WrittenTable)],
        carried: &[TableEntry],
        sources: BTreeMap<String, SourceState>,
    ) -> Result<Manifest, PublishError> {
        let mut entries: Vec<TableEntry> = carried.to_vec();
        for (model, table) in tables {
            let staged = self.staging(model);
            let target = self.partition_of(model);
            let files = match (&staged.local, &target.local) {
                (Some(from), Some(to)) => self.swap_local(model, from, to, table).await?,
                _ => self.copy_remote(&staged, &target, table).await?,
            };
            entries.push(TableEntry {
                model: model.clone(),
                location: target.table_url(),
                rows: table.rows,
                bytes: table.bytes,
                files,
                schema: schema_info(&table.schema),
            });
        }
        entries.sort_by(|a, b| a.model.cmp(&b.model));
        let manifest = Manifest {
            pipeline: self.pipeline.clone(),
            run_id: self.run_id.clone(),
            run_date: self.run_date,
            committed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            beacon_version: env!("CARGO_PKG_VERSION").to_string(),
            tables: entries,
            sources,
        };
        self.write_json("manifest.json", &manifest).await?;
        self.cleanup().await;
        Ok(manifest)
    }

    async fn swap_local(
        &self,
        model: &str,
        from: &Path,
        to: &Path,
        table: &WrittenTable,
    ) -> Result<Vec<WrittenFile>, PublishError> {
        let success = from.join("_SUCCESS");
        tokio::fs::write(&success, b"")
            .await
            .map_err(|source| PublishError::Io {
                path: success,
                source,
            })?;
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|source| PublishError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
        }
        if tokio::fs::metadata(to).await.is_ok() {
            let trash = self
                .output
                .local
                .clone()
                .unwrap_or_default()
                .join(format!("_beacon/trash/{}/{model}", self.run_id));
            if let Some(parent) = trash.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|source| PublishError::Io {
                        path: parent.to_path_buf(),
                        source,
                    })?;
            }
            tokio::fs::rename(to, &trash)
                .await
                .map_err(|source| PublishError::Rename {
                    from: to.to_path_buf(),
                    to: trash.clone(),
                    source,
                })?;
        }
        tokio::fs::rename(from, to)
            .await
            .map_err(|source| PublishError::Rename {
                from: from.to_path_buf(),
                to: to.to_path_buf(),
                source,
            })?;
        let target = self.partition_of(model);
        Ok(table
            .files
            .iter()
            .map(|f| {
                let name = f.path.rsplit('/').next().unwrap_or(&f.path);
                WrittenFile {
                    path: target.path.clone().join(name).to_string(),
                    rows: f.rows,
                    bytes: f.bytes,
                }
            })
            .collect())
    }

    /// Object stores have no folder rename: copy the staged files into the partition (named with
    /// the run id), mark it with `_SUCCESS`, and remove files of earlier runs of the same date.
    async fn copy_remote(
        &self,
        staged: &Location,
        target: &Location,
        table: &WrittenTable,
    ) -> Result<Vec<WrittenFile>, PublishError> {
        let mut files = Vec::new();
        for f in &table.files {
            let from = ObjPath::from(f.path.as_str());
            let name = f.path.rsplit('/').next().unwrap_or(&f.path);
            let to = target
                .path
                .clone()
                .join(format!("{}-{name}", self.run_id).as_str());
            target
                .store
                .copy(&from, &to)
                .await
                .map_err(|source| PublishError::Copy {
                    from: staged.display_object(&from),
                    to: target.display_object(&to),
                    source,
                })?;
            files.push(WrittenFile {
                path: to.to_string(),
                rows: f.rows,
                bytes: f.bytes,
            });
        }
        put(
            target.store.as_ref(),
            &target.path.clone().join("_SUCCESS"),
            PutPayload::new(),
            target,
        )
        .await?;
        let keep: std::collections::BTreeSet<String> =
            files.iter().map(|f| f.path.clone()).collect();
        if let Ok(existing) =
            futures::TryStreamExt::try_collect::<Vec<_>>(target.store.list(Some(&target.path)))
                .await
        {
            for meta in existing {
                let p = meta.location.to_string();
                if p.ends_with(".parquet") && !keep.contains(&p) {
                    let _ = target.store.delete(&meta.location).await;
                }
            }
        }
        Ok(files)
    }

    /// Writes a JSON document into this run's metadata folder (atomically on local disks).
    pub async fn write_json<T: Serialize>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), PublishError> {
        let body = serde_json::to_vec_pretty(value).map_err(|source| PublishError::Json {
            what: name.to_string(),
            source,
        })?;
        let meta = self.run_meta();
        match &meta.local {
            Some(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|source| PublishError::Io {
                        path: dir.clone(),
                        source,
                    })?;
                let tmp = dir.join(format!(".{name}.{}", self.run_id));
                let dest = dir.join(name);
                tokio::fs::write(&tmp, &body)
                    .await
                    .map_err(|source| PublishError::Io {
                        path: tmp.clone(),
                        source,
                    })?;
                tokio::fs::rename(&tmp, &dest)
                    .await
                    .map_err(|source| PublishError::Rename {
                        from: tmp.clone(),
                        to: dest.clone(),
                        source,
                    })
            }
            None => {
                put(
                    meta.store.as_ref(),
                    &meta.path.clone().join(name),
                    PutPayload::from(body),
                    &meta,
                )
                .await
            }
        }
    }

    /// Removes this run's staging area and anything it moved aside. Failures here leave only
    /// hidden files behind, never affect published data, and are not errors of the run.
    pub async fn cleanup(&self) {
        let staging = self
            .output
            .child(&format!("_beacon/staging/{}", self.run_id));
        let trash = self.output.child(&format!("_beacon/trash/{}", self.run_id));
        for loc in [staging, trash] {
            match &loc.local {
                Some(dir) => {
                    let _ = tokio::fs::remove_dir_all(dir).await;
                }
                None => {
                    if let Ok(list) = futures::TryStreamExt::try_collect::<Vec<_>>(
                        loc.store.list(Some(&loc.path)),
                    )
                    .await
                    {
                        for meta in list {
                            let _ = loc.store.delete(&meta.location).await;
                        }
                    }
                }
            }
        }
    }

    /// Reads the committed manifest of this run date, if there is one.
    pub async fn read_manifest(&self) -> Result<Option<Manifest>, PublishError> {
        let meta = self.run_meta();
        let path = meta.path.clone().join("manifest.json");
        match meta.store.get(&path).await {
            Ok(r) => {
                let bytes = r.bytes().await.map_err(|source| PublishError::Get {
                    location: meta.display_object(&path),
                    source,
                })?;
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| PublishError::Json {
                        what: meta.display_object(&path),
                        source,
                    })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(PublishError::Get {
                location: meta.display_object(&path),
                source,
            }),
        }
    }
}

async fn put(
    store: &dyn ObjectStore,
    path: &ObjPath,
    payload: PutPayload,
    loc: &Location,
) -> Result<(), PublishError> {
    store
        .put(path, payload)
        .await
        .map(|_| ())
        .map_err(|source| PublishError::Put {
            location: loc.display_object(path),
            source,
        })
}
