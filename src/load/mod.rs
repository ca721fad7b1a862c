//! The load stage: one source's files -> contract checks -> raw-zone Parquet and a quarantine.
//!
//! [`load_source`] reads every input file of a source through `object_store`, checks each row
//! against the source's [`SourceContract`] and writes
//! - the good rows as zstd Parquet under the target's `data_prefix`, one or more
//!   `part-<file#>-<n>.parquet` per input file, with the contract columns in contract order and
//!   typed as the contract says, followed by the file's extra columns as `Utf8` (schema drift);
//! - the rejected rows to one quarantine Parquet under `quarantine_prefix`, each with its file,
//!   line, column, value, reason and the original record, so that nothing is lost.
//!
//! Per file, a blocking task (`spawn_blocking`) streams the bytes (`get()` -> `SyncIoBridge`,
//! or the local file directly), parses them (`csv`, `ndjson` or `parquet`) and
//! builds Arrow arrays with builders (`batch`); it sends finished batches through a small
//! bounded channel to the async side, which encodes and uploads them (multipart on object
//! stores). Memory is a few batches plus one row group per file being written, and the
//! primary-key index (`keys`): about 40 bytes per distinct key (sized from the file size and
//! the first rows, so it does not double while it fills).
//!
//! Values are trimmed of ASCII whitespace; an empty value or one of the contract's
//! `null_values` is NULL. Contract text columns are stored trimmed, enum values in the
//! contract's spelling; extra columns are stored as read (only NULL tokens become NULL).
//!
//! Row-level problems never stop a load: they quarantine the row (once, with its first problem).
//! File-level problems do (a required column missing, an unterminated quote, an unreadable file),
//! and so does a share of rejected rows above the contract's `max_rejected_share`, after the
//! quarantine has been written.

mod batch;
mod csv;
pub mod incremental;
mod keys;
mod ndjson;
mod parquet;
mod quarantine;
mod source;
mod writer;

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use object_store::path::Path;
use object_store::ObjectStore;
use tokio::sync::mpsc;

use crate::contract::{Compression, Format, SourceContract};

use self::batch::{FileStats, Msg, Plan};
use self::keys::PkIndex;
use self::quarantine::QuarantineWriter;
use self::writer::PartWriter;

pub use self::quarantine::quarantine_schema;

/// One input file of a source, already resolved to a store and a path by `crate::storage`.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The store holding the file.
    pub store: Arc<dyn ObjectStore>,
    /// The file's path in the store.
    pub path: Path,
    /// The file's URL as shown to the user in reports and errors.
    pub display: String,
}

/// Where a source's raw-zone files go.
#[derive(Debug, Clone)]
pub struct RawTarget {
    /// The store of the raw zone.
    pub store: Arc<dyn ObjectStore>,
    /// Folder of the good rows, e.g. `raw/leads/run_date=2026-11-22`.
    pub data_prefix: Path,
    /// Folder of the rejected rows, e.g. `raw/_quarantine/leads/run_date=2026-11-22`.
    pub quarantine_prefix: Path,
}

/// Tuning of the load stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Rows per Arrow batch handed from the parser to the writer.
    pub batch_rows: usize,
    /// Rows per Parquet row group. DataFusion (and DuckDB) split a scan between the cores by row
    /// group: 128Ki rows let a 1M-row source be read by every core (with 1Mi, one partition read
    /// the leads' single row group while the other idled: 100 % skew in the cohort models' scans).
    pub row_group_rows: usize,
    /// Rows per raw Parquet file; a larger input file is split into several parts.
    pub max_file_rows: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            batch_rows: 64 * 1024,
            row_group_rows: 128 * 1024,
            max_file_rows: 16 * 1024 * 1024,
        }
    }
}

/// What was loaded from one input file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    /// The file's URL.
    pub display: String,
    /// Its format.
    pub format: Format,
    /// Data rows read (CSV: without the header; blank lines are not rows).
    pub rows_read: u64,
    /// Rows written to the raw zone.
    pub rows_loaded: u64,
    /// Rows written to the quarantine.
    pub rows_rejected: u64,
    /// Columns of this file that the contract does not list, kept as `Utf8`.
    pub extra_columns: Vec<String>,
    /// Optional contract columns this file lacks (all NULL in its raw files).
    pub missing_optional_columns: Vec<String>,
    /// The raw Parquet files written for it.
    pub raw_files: Vec<Path>,
}

/// What was loaded from a source.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// The source (table) name.
    pub source: String,
    /// Per input file, in input order.
    pub files: Vec<FileReport>,
    /// Data rows read over all files.
    pub rows_read: u64,
    /// Rows written to the raw zone.
    pub rows_loaded: u64,
    /// Rows written to the quarantine.
    pub rows_rejected: u64,
    /// Extra (non-contract) columns, union over files in first-seen order.
    pub schema_drift: Vec<String>,
    /// Optional contract columns missing from at least one file.
    pub missing_optional_columns: Vec<String>,
    /// All raw Parquet files written, in input order.
    pub raw_files: Vec<Path>,
    /// The quarantine file, when rows were rejected.
    pub quarantine_file: Option<Path>,
    /// The first rejections (at most [`REJECTION_SAMPLE`]).
    pub rejection_sample: Vec<Rejection>,
}

/// How many rejections a [`LoadReport`] keeps as a sample.
pub const REJECTION_SAMPLE: usize = 20;

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The file's URL.
    pub file: String,
    /// CSV/NDJSON: the physical line where the record starts (the CSV header is line 1).
    /// Parquet: the row number, from 1.
    pub line: u64,
    /// The offending column, when the problem is one value.
    pub column: Option<String>,
    /// The offending value, as read.
    pub value: Option<String>,
    /// Why the row was rejected.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(c) = &self.column {
            write!(f, "column {c}: ")?;
        }
        f.write_str(&self.reason)?;
        if let Some(v) = &self.value {
            write!(f, " (value: {v:?})")?;
        }
        Ok(())
    }
}

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The contract itself is unusable.
    #[error("contract of source `{source_name}` is invalid: {}", problems.join("; "))]
    InvalidContract {
        /// The source.
        source_name: String,
        /// Every problem found.
        problems: Vec<String>,
    },
    /// Options out of range (zero batch or row-group size).
    #[error("invalid load options: {0}")]
    InvalidOptions(&'static str),
    /// A required source without any input file.
    #[error("source `{source_name}` has no input files")]
    NoInput {
        /// The source.
        source_name: String,
    },
    /// A Parquet file inside gzip: Parquet compresses its pages itself.
    #[error("{file}: a gzip-compressed Parquet file cannot be read (Parquet compresses its own pages): store it as .parquet")]
    CompressedParquet {
        /// The file's URL.
        file: String,
    },
    /// No format configured and none implied by the file's extension.
    #[error("{file}: cannot tell the file format from its name; set `format` (csv, ndjson or parquet) for the source")]
    UnknownFormat {
        /// The file's URL.
        file: String,
    },
    /// A required contract column is not in the file.
    #[error(
        "{file}: required column `{column}` is missing (found: {}){}",
        list_columns(available),
        did_you_mean(suggestion)
    )]
    MissingColumn {
        /// The file's URL.
        file: String,
        /// The missing column.
        column: String,
        /// The file's columns.
        available: Vec<String>,
        /// A column of the file whose name is close to the missing one.
        suggestion: Option<String>,
    },
    /// Too many rows broke the contract. The raw files and the quarantine were written.
    #[error(
        "source `{source_name}`: {rejected} of {total} rows rejected ({:.2}%), above the limit of {:.2}%; first: {sample}{}",
        share * 100.0,
        threshold * 100.0,
        quarantine_file.as_ref().map(|p| format!("; all rejected rows are in {p}")).unwrap_or_default()
    )]
    TooManyRejected {
        /// The source.
        source_name: String,
        /// Rows rejected.
        rejected: u64,
        /// Rows read.
        total: u64,
        /// `rejected / total`.
        share: f64,
        /// The contract's `max_rejected_share`.
        threshold: f64,
        /// The first rejection, as `file:line: column X: reason`.
        sample: String,
        /// The quarantine file.
        quarantine_file: Option<Path>,
    },
    /// The store failed to open a file.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file's URL.
        file: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// Reading a file's bytes failed midway.
    #[error("{file}: read failed: {source}")]
    Io {
        /// The file's URL.
        file: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file is malformed in a way that stops reading it.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file's URL.
        file: String,
        /// The line (or row number) of the problem.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A Parquet input file cannot be read.
    #[error("{file}: cannot read Parquet: {source}")]
    ParquetRead {
        /// The file's URL.
        file: String,
        /// The reader's error.
        source: ::parquet::errors::ParquetError,
    },
    /// Writing a raw or quarantine Parquet file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file being written.
        path: String,
        /// The writer's (or store's) error.
        source: ::parquet::errors::ParquetError,
    },
    /// Building an Arrow batch failed (a bug: the builders disagree with the schema).
    #[error("internal error while building a batch for {file}: {source}")]
    Arrow {
        /// The file's URL.
        file: String,
        /// The error.
        source: arrow::error::ArrowError,
    },
    /// A background task died.
    #[error("internal error: the reader task of {file} failed: {message}")]
    Task {
        /// The file's URL.
        file: String,
        /// The panic or cancellation message.
        message: String,
    },
}

fn list_columns(columns: &[String]) -> String {
    const SHOWN: usize = 40;
    if columns.is_empty() {
        return "no columns".to_string();
    }
    let mut s = columns
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if columns.len() > SHOWN {
        s.push_str(&format!(", ... ({} more)", columns.len() - SHOWN));
    }
    s
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// The Arrow schema of a source's raw table when it has no files: the contract columns only.
pub fn empty_batch_schema(contract: &SourceContract) -> SchemaRef {
    Arc::new(Schema::new(
        contract
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.column_type.arrow_type(), true))
            .collect::<Vec<_>>(),
    ))
}

/// Loads one source: every input file, checked against `contract`, into `target`.
///
/// Files are read one after another, each in a single pass. Duplicate primary keys are found
/// across all files of the call (the first occurrence wins). Returns
/// [`LoadError::TooManyRejected`] when the share of rejected rows exceeds the contract's
/// threshold; the raw files and the quarantine are written all the same. On any other error,
/// the files this call had written are deleted (best effort).
pub async fn load_source(
    contract: &SourceContract,
    inputs: &[InputFile],
    target: &RawTarget,
    opts: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    let problems = contract.problems();
    if !problems.is_empty() {
        return Err(LoadError::InvalidContract {
            source_name: contract.name.clone(),
            problems,
        });
    }
    if opts.batch_rows == 0 || opts.row_group_rows == 0 || opts.max_file_rows == 0 {
        return Err(LoadError::InvalidOptions(
            "batch_rows, row_group_rows and max_file_rows must be positive",
        ));
    }
    if inputs.is_empty() {
        return Err(LoadError::NoInput {
            source_name: contract.name.clone(),
        });
    }
    let plan = Arc::new(Plan::new(contract));
    let files: Arc<[String]> = inputs.iter().map(|i| i.display.clone()).collect();
    let mut quarantine = QuarantineWriter::new(
        target.store.clone(),
        quarantine::quarantine_path(&target.quarantine_prefix),
        contract.name.clone(),
        files.clone(),
    );
    let mut report = LoadReport {
        source: contract.name.clone(),
        files: Vec::with_capacity(inputs.len()),
        rows_read: 0,
        rows_loaded: 0,
        rows_rejected: 0,
        schema_drift: Vec::new(),
        missing_optional_columns: Vec::new(),
        raw_files: Vec::new(),
        quarantine_file: None,
        rejection_sample: Vec::new(),
    };
    let mut pk = PkIndex::default();
    for (idx, input) in inputs.iter().enumerate() {
        let result = match file_format(contract, input) {
            Ok(format) => {
                load_file(
                    &plan,
                    FileTask {
                        file_idx: idx,
                        input,
                        format,
                        files: files.clone(),
                    },
                    pk,
                    target,
                    opts,
                    &mut quarantine,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let (file_report, returned_pk) = match result {
            Ok(r) => r,
            Err(e) => {
                quarantine.abort().await;
                writer::delete_best_effort(&target.store, &report.raw_files).await;
                return Err(e);
            }
        };
        pk = returned_pk;
        tracing::info!(
            source = %contract.name,
            file = %file_report.display,
            rows_read = file_report.rows_read,
            rows_loaded = file_report.rows_loaded,
            rows_rejected = file_report.rows_rejected,
            "loaded file"
        );
        report.rows_read += file_report.rows_read;
        report.rows_loaded += file_report.rows_loaded;
        report.rows_rejected += file_report.rows_rejected;
        push_unique(&mut report.schema_drift, &file_report.extra_columns);
        push_unique(
            &mut report.missing_optional_columns,
            &file_report.missing_optional_columns,
        );
        report
            .raw_files
            .extend(file_report.raw_files.iter().cloned());
        report.files.push(file_report);
    }
    drop(pk);
    let outcome = match quarantine.finish().await {
        Ok(o) => o,
        Err(e) => {
            writer::delete_best_effort(&target.store, &report.raw_files).await;
            return Err(e);
        }
    };
    report.quarantine_file = outcome.path;
    report.rejection_sample = outcome.sample;
    if !report.schema_drift.is_empty() {
        tracing::warn!(source = %contract.name, columns = ?report.schema_drift, "schema drift: extra columns kept as text");
    }
    if report.rows_read > 0 {
        let share = report.rows_rejected as f64 / report.rows_read as f64;
        if share > contract.max_rejected_share {
            return Err(LoadError::TooManyRejected {
                source_name: contract.name.clone(),
                rejected: report.rows_rejected,
                total: report.rows_read,
                share,
                threshold: contract.max_rejected_share,
                sample: report
                    .rejection_sample
                    .first()
                    .map(sample_line)
                    .unwrap_or_default(),
                quarantine_file: report.quarantine_file.clone(),
            });
        }
    }
    Ok(report)
}

/// `file:line: column X: reason`.
fn sample_line(r: &Rejection) -> String {
    match &r.column {
        Some(c) => format!("{}:{}: column {c}: {}", r.file, r.line, r.reason),
        None => format!("{}:{}: {}", r.file, r.line, r.reason),
    }
}

fn push_unique(into: &mut Vec<String>, names: &[String]) {
    for n in names {
        if !into.contains(n) {
            into.push(n.clone());
        }
    }
}

fn file_format(contract: &SourceContract, input: &InputFile) -> Result<Format, LoadError> {
    contract
        .format
        .or_else(|| Format::from_extension(input.path.as_ref()))
        .or_else(|| Format::from_extension(&input.display))
        .ok_or_else(|| LoadError::UnknownFormat {
            file: input.display.clone(),
        })
}

/// One file to load.
pub(crate) struct FileTask<'a> {
    file_idx: usize,
    input: &'a InputFile,
    format: Format,
    files: Arc<[String]>,
}

/// Bound of the parser -> writer channel, in messages (batches). Small: it only smooths.
const CHANNEL_DEPTH: usize = 2;

/// Loads one file: a blocking parser task feeding this async writer loop.
async fn load_file(
    plan: &Arc<Plan>,
    task: FileTask<'_>,
    pk: PkIndex,
    target: &RawTarget,
    opts: &LoadOptions,
    quarantine: &mut QuarantineWriter,
) -> Result<(FileReport, PkIndex), LoadError> {
    let display = task.input.display.clone();
    let (tx, mut rx) = mpsc::channel::<Msg>(CHANNEL_DEPTH);
    let job = batch::ParseJob {
        plan: plan.clone(),
        file_idx: task.file_idx,
        files: task.files.clone(),
        batch_rows: opts.batch_rows,
        tx,
    };
    let compression = Compression::from_path(&task.input.display);
    let parser = match task.format {
        Format::Csv | Format::Ndjson => {
            let get = source::open(task.input).await?;
            let handle = tokio::runtime::Handle::current();
            let format = task.format;
            tokio::task::spawn_blocking(move || {
                // The size sizes the key index: a compressed file holds several times its size.
                let size = match compression {
                    Compression::None => get.meta.size,
                    Compression::Gzip => get.meta.size.saturating_mul(6),
                };
                let reader = source::decompress(source::blocking_reader(&handle, get), compression);
                if format == Format::Csv {
                    self::csv::read(job, reader, size, pk)
                } else {
                    self::ndjson::read(job, reader, size, pk)
                }
            })
        }
        Format::Parquet if compression != Compression::None => {
            return Err(LoadError::CompressedParquet { file: display });
        }
        Format::Parquet => {
            let handle = tokio::runtime::Handle::current();
            let input = task.input.clone();
            tokio::task::spawn_blocking(move || self::parquet::read(job, &handle, &input, pk))
        }
    };

    let mut parts = PartWriter::new(target, task.file_idx, opts, plan.ranged_text_columns());
    let mut write_error = None;
    while let Some(msg) = rx.recv().await {
        let step = match msg {
            Msg::Schema(schema) => {
                parts.set_schema(schema);
                Ok(())
            }
            Msg::Batch(b) => parts.write(&b).await,
            Msg::Rejected(rows) => quarantine.push(rows).await,
        };
        if let Err(e) = step {
            write_error = Some(e);
            break;
        }
    }
    drop(rx);
    let parsed = parser.await;
    if let Some(e) = write_error {
        parts.abort().await;
        return Err(e);
    }
    let (stats, pk): (FileStats, PkIndex) = match parsed {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            parts.abort().await;
            return Err(e);
        }
        Err(join) => {
            parts.abort().await;
            return Err(LoadError::Task {
                file: display,
                message: join.to_string(),
            });
        }
    };
    let raw_files = parts.finish().await?;
    Ok((
        FileReport {
            display,
            format: task.format,
            rows_read: stats.rows_read,
            rows_loaded: stats.rows_loaded,
            rows_rejected: stats.rows_rejected,
            extra_columns: stats.extra_columns,
            missing_optional_columns: stats.missing_optional_columns,
            raw_files,
        },
        pk,
    ))
}

#[cfg(test)]
mod tests;
