//! What the last committed run of a date left behind, for runs that do not rebuild everything.
//!
//! `--select`, `beacon test` and `beacon show` read the models they do not run from the last
//! committed run of their date: published models through that date's manifest (the commit
//! record, in the output location), unpublished ones through `state.json` in the work location:
//!
//! ```text
//! <work>/<pipeline>/run_date=D/<run_id>/<model>/part-*.parquet   a run's unpublished models
//! <work>/<pipeline>/run_date=D/state.json                         the committed run's: model -> table
//! ```
//!
//! The work location is scratch space (local by default): when a machine does not have it (a
//! fresh container), unpublished models are simply rebuilt. After a commit, run folders the new
//! state does not point to are deleted.

use crate::publish::Manifest;
use crate::storage::Location;
use chrono::NaiveDate;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::PutPayload;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// `state.json`: where the committed run's unpublished models are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkState {
    pub run_id: String,
    /// Model name -> table URL (a folder of Parquet files).
    pub models: BTreeMap<String, String>,
}

/// A table from an earlier run that this run can read instead of rebuilding it.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// A folder of Parquet files.
    Folder(String),
    /// Exactly these files (a published table, as its manifest lists them).
    Files(Vec<String>),
}

/// The work folder of one run date.
pub fn date_folder(work: &Location, pipeline: &str, run_date: NaiveDate) -> Location {
    work.child(&format!(
        "{pipeline}/run_date={}",
        run_date.format("%Y-%m-%d")
    ))
}

/// Reads `state.json`; a missing or unreadable one is no state (models are rebuilt).
pub async fn read_state(folder: &Location) -> Option<WorkState> {
    let path = folder.path.clone().join("state.json");
    let bytes = folder.store.get(&path).await.ok()?.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `state.json` (one put: readers see the old or the new one).
pub async fn write_state(folder: &Location, state: &WorkState) -> Result<(), object_store::Error> {
    let body = serde_json::to_vec_pretty(state).map_err(|e| object_store::Error::Generic {
        store: "state",
        source: Box::new(e),
    })?;
    let path = folder.path.clone().join("state.json");
    if let Some(dir) = &folder.local {
        // Local: write aside and rename, so a crash never leaves half a file.
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| io_error(&e))?;
        let tmp = dir.join(format!(".state.json.{}", state.run_id));
        tokio::fs::write(&tmp, &body)
            .await
            .map_err(|e| io_error(&e))?;
        return tokio::fs::rename(&tmp, dir.join("state.json"))
            .await
            .map_err(|e| io_error(&e));
    }
    folder
        .store
        .put(&path, PutPayload::from(body))
        .await
        .map(|_| ())
}

fn io_error(e: &std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "state",
        source: Box::new(std::io::Error::new(e.kind(), e.to_string())),
    }
}

/// Deletes the run folders under `folder` that are not `keep` (best effort: scratch space).
pub async fn prune_runs(folder: &Location, keep: &BTreeSet<String>) {
    let Ok(list) = folder
        .store
        .list(Some(&folder.path))
        .try_collect::<Vec<_>>()
        .await
    else {
        return;
    };
    let prefix_len = folder.path.parts().count();
    let mut doomed: BTreeSet<String> = BTreeSet::new();
    for meta in &list {
        let parts: Vec<_> = meta.location.parts().collect();
        if parts.len() > prefix_len + 1 {
            let run = parts[prefix_len].as_ref().to_string();
            if !keep.contains(&run) {
                doomed.insert(run);
            }
        }
    }
    for run in doomed {
        let loc = folder.child(&run);
        if let Some(dir) = &loc.local {
            let _ = tokio::fs::remove_dir_all(dir).await;
        } else {
            for meta in list
                .iter()
                .filter(|m| m.location.as_ref().starts_with(loc.path.as_ref()))
            {
                let _ = folder.store.delete(&meta.location).await;
            }
        }
    }
}

/// The run id a stored table URL belongs to (the folder below the date folder).
pub fn run_of(table_url: &str, folder: &Location) -> Option<String> {
    let base = folder.table_url();
    let rest = table_url.strip_prefix(&base)?;
    rest.split('/').next().map(str::to_string)
}

/// The tables of the last committed run of a date: published ones from its manifest,
/// unpublished ones from the work state.
pub fn stored_tables(
    manifest: Option<&Manifest>,
    output: &Location,
    state: Option<&WorkState>,
) -> BTreeMap<String, Stored> {
    let mut out = BTreeMap::new();
    if let Some(state) = state {
        for (m, url) in &state.models {
            out.insert(m.clone(), Stored::Folder(url.clone()));
        }
    }
    if let Some(manifest) = manifest {
        for t in &manifest.tables {
            let files = t
                .files
                .iter()
                .map(|f| Manifest::file_url(output, f))
                .collect();
            out.insert(t.model.clone(), Stored::Files(files));
        }
    }
    out
}

/// Registers a stored table under `name`.
pub async fn register(
    ctx: &SessionContext,
    name: &str,
    stored: &Stored,
) -> Result<(), datafusion::error::DataFusionError> {
    let urls = match stored {
        Stored::Folder(url) => vec![ListingTableUrl::parse(url)?],
        Stored::Files(files) => files
            .iter()
            .map(ListingTableUrl::parse)
            .collect::<Result<Vec<_>, _>>()?,
    };
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await?;
    let table = ListingTable::try_new(config)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// The manifest of the latest committed run before `before` (incremental sources continue from
/// its state), if any.
pub async fn previous_manifest(
    output: &Location,
    pipeline: &str,
    before: NaiveDate,
) -> Result<Option<Manifest>, crate::publish::PublishError> {
    let runs = output.child("_beacon/runs");
    let Ok(listed) = runs.store.list_with_delimiter(Some(&runs.path)).await else {
        return Ok(None);
    };
    let mut dates: Vec<NaiveDate> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename())
        .filter_map(|n| n.strip_prefix("run_date="))
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .filter(|d| *d < before)
        .collect();
    dates.sort();
    for d in dates.into_iter().rev() {
        let p = crate::publish::Publisher::new(output.clone(), pipeline, d, "previous");
        if let Some(m) = p.read_manifest().await? {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

/// `failed.json` in a date's work folder: what the last failed run of the date built, for
/// `beacon run --resume` to re-use instead of building again.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FailedRun {
    pub run_id: String,
    /// Sources it loaded into the raw zone (their raw tables are still there).
    pub sources: BTreeMap<String, crate::publish::SourceState>,
    /// Models that succeeded, by name.
    pub models: BTreeMap<String, DoneModel>,
}

/// A model a failed run built.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DoneModel {
    /// Its table (work folder, or the run's staging folder for a published model).
    pub table_url: String,
    pub published: bool,
    /// Published models: the staged files, to be adopted by the resuming run.
    #[serde(default)]
    pub files: Vec<crate::publish::WrittenFile>,
    pub rows: u64,
    pub bytes: u64,
}

/// Reads `failed.json`, if there is one.
pub async fn read_failed(folder: &Location) -> Option<FailedRun> {
    let path = folder.path.clone().join("failed.json");
    let bytes = folder.store.get(&path).await.ok()?.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `failed.json` (one put).
pub async fn write_failed(
    folder: &Location,
    failed: &FailedRun,
) -> Result<(), object_store::Error> {
    let body = serde_json::to_vec_pretty(failed).map_err(|e| object_store::Error::Generic {
        store: "state",
        source: Box::new(e),
    })?;
    folder
        .store
        .put(
            &folder.path.clone().join("failed.json"),
            PutPayload::from(body),
        )
        .await
        .map(|_| ())
}

/// Forgets the failed run (after a commit).
pub async fn remove_failed(folder: &Location) {
    let _ = folder
        .store
        .delete(&folder.path.clone().join("failed.json"))
        .await;
}
