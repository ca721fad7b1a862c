//! The run report: one self-contained HTML file made from a committed run's published tables.
//!
//! ```text
//! <output>/_beacon/runs/run_date=YYYY-MM-DD/report.html   next to the run's manifest.json
//! ```
//!
//! The report reads the run's `manifest.json` (the commit record), registers exactly the files it
//! lists with a DataFusion session, and runs a few aggregate queries ([`data`]): a few hundred
//! rows at most whatever the number of leads. [`page`] turns them into panels with inline SVG
//! charts ([`charts`], [`svg`]) and renders the `report.html` template with `report.css` inlined:
//! no script, no font, no image and no request leaves the file, so it opens offline and can be
//! mailed. The same committed run always gives the same bytes (no wall-clock time in the file),
//! so `beacon report` re-renders exactly what `beacon run` wrote.
//!
//! The file lives under `_beacon/` because Hive-style readers (DuckDB, Spark, Trino) ignore
//! `_`-prefixed folders: a warehouse never mistakes it for a table. It is written with one PUT
//! through the object store, which is atomic on S3, GCS and Azure and a write-then-rename on local
//! disks: a reader sees the previous report or the new one, never half a file.
//!
//! A panel whose table is missing, empty or unreadable shows a "no data" or error panel instead of
//! failing the report; such problems are returned as warnings. The report as a whole fails only
//! when there is no committed run, the manifest cannot be read, or the file cannot be written.

mod charts;
mod data;
mod format;
mod page;
mod svg;
#[cfg(test)]
mod tests;

use crate::engine::{self, EngineError, EngineOptions};
use crate::publish::{LockError, Publisher};
use crate::spec::Pipeline;
use crate::storage::{Location, Storage, StorageError};
use chrono::NaiveDate;
use object_store::{ObjectStoreExt, PutPayload};

pub use page::Targets;

/// The report's file name inside a run's metadata folder.
pub const REPORT_FILE: &str = "report.html";

/// Errors making or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no committed run for run_date={run_date}: {location}/manifest.json does not exist (run `beacon run --date {run_date}` first)")]
    NoCommittedRun {
        run_date: NaiveDate,
        location: String,
    },
    #[error("cannot read the manifest {location}: {source}")]
    ReadManifest {
        location: String,
        source: object_store::Error,
    },
    #[error("the manifest {location} is not valid JSON for a run: {source}")]
    BadManifest {
        location: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot render the report template: {0:#}")]
    Template(#[from] minijinja::Error),
    #[error("cannot write the report to {location}: {source}")]
    Write {
        location: String,
        source: object_store::Error,
    },
}

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Report {
    pub run_date: NaiveDate,
    pub html: String,
    /// Panels that could not be drawn (a table that failed to read or query), one line each.
    pub warnings: Vec<String>,
}

/// A report written to the output location.
#[derive(Debug, Clone)]
pub struct WrittenReport {
    /// Where it is (path or URL, without credentials).
    pub location: String,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

/// Where the report of `run_date` lives under an output location.
pub fn report_location(output: &Location, run_date: NaiveDate) -> Location {
    data::run_meta(output, run_date).child(REPORT_FILE)
}

fn output_location(pipeline: &Pipeline) -> Result<(Storage, Location), ReportError> {
    let storage = Storage::with_options(&pipeline.base_dir, pipeline.storage.clone());
    let output = storage.resolve(&pipeline.output)?;
    Ok((storage, output))
}

/// Renders the report of the committed run of `run_date` from its published tables.
pub async fn render(pipeline: &Pipeline, run_date: NaiveDate) -> Result<Report, ReportError> {
    let (storage, output) = output_location(pipeline)?;
    let published = data::read_manifest(&output, run_date).await?;
    // The published tables are small aggregates: the report reads them here, whatever the
    // pipeline's engine.
    let ctx = engine::session(&EngineOptions::from_pipeline(pipeline).local(), &storage)?;
    let tables = data::Tables::open(ctx, &published).await;
    let report_data = data::load(&tables, published).await;
    let rendered = page::render(&report_data, &Targets::from_vars(&pipeline.vars))?;
    Ok(Report {
        run_date,
        html: rendered.html,
        warnings: rendered.warnings,
    })
}

/// Renders the report of `run_date` and writes it next to the run's manifest.
pub async fn write(pipeline: &Pipeline, run_date: NaiveDate) -> Result<WrittenReport, ReportError> {
    let report = render(pipeline, run_date).await?;
    let (_, output) = output_location(pipeline)?;
    let loc = report_location(&output, run_date);
    let bytes = report.html.len() as u64;
    loc.store
        .put(&loc.path, PutPayload::from(report.html.into_bytes()))
        .await
        .map_err(|source| ReportError::Write {
            location: loc.display.clone(),
            source,
        })?;
    Ok(WrittenReport {
        location: loc.display,
        bytes,
        warnings: report.warnings,
    })
}

/// `beacon report`: re-renders the report of `run_date` holding that date's run lock, so that no
/// run of the date commits while the report is being made from the previous commit (and a stale
/// report never replaces a fresh one). A run writes its report while it holds the lock itself,
/// through [`write`].
pub async fn rerender(
    pipeline: &Pipeline,
    run_date: NaiveDate,
) -> Result<WrittenReport, ReportError> {
    let (_, output) = output_location(pipeline)?;
    let salt: u32 = rand::random();
    let holder = format!(
        "report-{}-{salt:08x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let lock = Publisher::new(output, &pipeline.name, run_date, &holder)
        .lock(pipeline.storage.lock_ttl)
        .await?;
    let written = write(pipeline, run_date).await;
    lock.release().await;
    written
}
