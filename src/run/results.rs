//! `run_results.json`: what a run did, per source and per model, for schedulers and humans.

use crate::load::LoadReport;
use crate::models::Materialized;
use crate::spec::Pipeline;
use chrono::NaiveDate;
use serde::Serialize;
use std::time::Duration;

/// Overall or per-item status.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Success,
    Error,
    Skipped,
}

/// The run results artifact.
#[derive(Debug, Clone, Serialize)]
pub struct RunResults {
    pub pipeline: String,
    pub run_id: String,
    pub run_date: NaiveDate,
    pub status: Status,
    pub started_at: String,
    pub elapsed_seconds: f64,
    /// Wall time of the load stage (sources load two at a time, so this is less than the sum of
    /// their `seconds`).
    pub load_seconds: f64,
    pub beacon_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The models a `--select` run built (absent for a full run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected: Option<Vec<String>>,
    /// `--resume`: the failed run whose results this run re-used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
    pub sources: Vec<SourceResult>,
    pub models: Vec<ModelResult>,
    /// Data tests run before publishing.
    pub tests: Vec<crate::checks::TestResult>,
    /// Problems that did not fail the run (e.g. a lineage endpoint that did not answer).
    pub warnings: Vec<String>,
    /// Older run dates deleted by `retention:` after this run's commit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted_run_dates: Vec<NaiveDate>,
    /// The HTML report written after the commit (absent when nothing was committed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportResult>,
}

impl RunResults {
    pub fn new(pipeline: &Pipeline, run_id: &str, run_date: NaiveDate) -> Self {
        RunResults {
            pipeline: pipeline.name.clone(),
            run_id: run_id.to_string(),
            run_date,
            status: Status::Running,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            elapsed_seconds: 0.0,
            load_seconds: 0.0,
            beacon_version: env!("CARGO_PKG_VERSION").to_string(),
            error: None,
            selected: None,
            resumed_from: None,
            sources: Vec::new(),
            models: Vec::new(),
            tests: Vec::new(),
            warnings: Vec::new(),
            deleted_run_dates: Vec::new(),
            report: None,
        }
    }
}

/// One source's load.
#[derive(Debug, Clone, Serialize)]
pub struct SourceResult {
    pub name: String,
    pub location: String,
    pub status: Status,
    pub files: usize,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    /// Incremental sources: rows past the last watermark (rows_loaded is then the merged state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_new: Option<u64>,
    /// Incremental sources: the largest cursor value after this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
    /// Incremental sources: the commit whose state this run merged into (none: a full load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental_from: Option<String>,
    /// Columns found in the files that the contract does not list (kept in the raw zone).
    pub schema_drift: Vec<String>,
    pub missing_optional_columns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SourceResult {
    pub fn from_report(r: &LoadReport, location: &str, elapsed: Duration) -> Self {
        SourceResult {
            name: r.source.clone(),
            location: location.to_string(),
            status: Status::Success,
            files: r.files.len(),
            rows_read: r.rows_read,
            rows_loaded: r.rows_loaded,
            rows_rejected: r.rows_rejected,
            rows_new: None,
            watermark: None,
            incremental_from: None,
            schema_drift: r.schema_drift.clone(),
            missing_optional_columns: r.missing_optional_columns.clone(),
            quarantine: r.quarantine_file.as_ref().map(|p| p.to_string()),
            seconds: elapsed.as_secs_f64(),
            error: None,
        }
    }

    pub fn missing_optional(name: &str, location: &str) -> Self {
        SourceResult {
            name: name.to_string(),
            location: location.to_string(),
            status: Status::Skipped,
            files: 0,
            rows_read: 0,
            rows_loaded: 0,
            rows_rejected: 0,
            rows_new: None,
            watermark: None,
            incremental_from: None,
            schema_drift: Vec::new(),
            missing_optional_columns: Vec::new(),
            quarantine: None,
            seconds: 0.0,
            error: Some("optional source not found: loaded as an empty table".into()),
        }
    }

    pub fn failed(name: &str, location: &str, error: &str) -> Self {
        SourceResult {
            status: Status::Error,
            error: Some(error.to_string()),
            ..Self::missing_optional(name, location)
        }
    }
}

/// One model's execution.
#[derive(Debug, Clone, Serialize)]
pub struct ModelResult {
    pub name: String,
    pub layer: String,
    pub status: Status,
    pub published: bool,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// Planned inside its readers (`views:`): nothing written, `rows` and `bytes` are 0.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub view: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The columns written (for the pipeline manifest, not in run_results.json).
    #[serde(skip)]
    pub columns: Vec<crate::publish::ColumnInfo>,
}

impl ModelResult {
    pub fn success(
        name: &str,
        layer: &str,
        published: bool,
        m: &Materialized,
        elapsed: Duration,
    ) -> Self {
        ModelResult {
            name: name.to_string(),
            layer: layer.to_string(),
            status: Status::Success,
            published,
            rows: m.rows,
            bytes: m.bytes,
            seconds: elapsed.as_secs_f64(),
            view: m.view,
            error: None,
            columns: crate::publish::schema_info(&m.schema),
        }
    }

    pub fn failure(
        name: &str,
        layer: &str,
        published: bool,
        error: &str,
        skipped: bool,
        elapsed: Duration,
    ) -> Self {
        ModelResult {
            name: name.to_string(),
            layer: layer.to_string(),
            status: if skipped {
                Status::Skipped
            } else {
                Status::Error
            },
            published,
            rows: 0,
            bytes: 0,
            seconds: elapsed.as_secs_f64(),
            view: false,
            error: Some(error.to_string()),
            columns: Vec::new(),
        }
    }
}

/// The report of a committed run. Its failure does not undo the commit: the data stays
/// published, `status` is `error` here, and the CLI exits with its own code.
#[derive(Debug, Clone, Serialize)]
pub struct ReportResult {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub bytes: u64,
    pub seconds: f64,
    /// Panels that could not be drawn (the report was written without them).
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ReportResult {
    pub fn from_outcome(
        outcome: &Result<crate::report::WrittenReport, crate::report::ReportError>,
        elapsed: Duration,
    ) -> Self {
        match outcome {
            Ok(w) => ReportResult {
                status: Status::Success,
                location: Some(w.location.clone()),
                bytes: w.bytes,
                seconds: elapsed.as_secs_f64(),
                warnings: w.warnings.clone(),
                error: None,
            },
            Err(e) => ReportResult {
                status: Status::Error,
                location: None,
                bytes: 0,
                seconds: elapsed.as_secs_f64(),
                warnings: Vec::new(),
                error: Some(e.to_string()),
            },
        }
    }
}
