//! The quarantine: every rejected row of a source, with where it was and why, in one Parquet
//! file under the quarantine prefix (`part-00000.parquet`), written only when rows were
//! rejected. Schema: `source`, `file`, `line` (Int64), `column` and `value` (nullable),
//! `reason`, and `record`, the original row as text (a CSV line, or the NDJSON line).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use object_store::path::Path;
use object_store::ObjectStore;

use super::writer::{writer_properties, OpenFile};
use super::{LoadError, Rejection, REJECTION_SAMPLE};

/// Rows per quarantine batch (and row group granularity is the writer's default).
const QUARANTINE_BATCH: usize = 8192;
/// Rows per quarantine row group.
const QUARANTINE_ROW_GROUP: usize = 256 * 1024;

/// A rejected row on its way from a parser to the quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RejectedRow {
    pub file_idx: usize,
    pub line: u64,
    pub column: Option<String>,
    pub value: Option<String>,
    pub reason: String,
    pub record: String,
}

/// Where a source's quarantine file goes.
pub(crate) fn quarantine_path(prefix: &Path) -> Path {
    prefix.clone().join("part-00000.parquet")
}

/// The quarantine file's schema.
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("record", DataType::Utf8, false),
    ]))
}

/// What the quarantine holds once finished.
#[derive(Debug, Default)]
pub(crate) struct QuarantineOutcome {
    pub path: Option<Path>,
    pub sample: Vec<Rejection>,
}

/// Collects rejected rows of a source and writes them, opening the file at the first one.
pub(crate) struct QuarantineWriter {
    store: Arc<dyn ObjectStore>,
    path: Path,
    source: String,
    files: Arc<[String]>,
    pending: Vec<RejectedRow>,
    open: Option<OpenFile>,
    sample: Vec<Rejection>,
}

impl QuarantineWriter {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        path: Path,
        source: String,
        files: Arc<[String]>,
    ) -> Self {
        QuarantineWriter {
            store,
            path,
            source,
            files,
            pending: Vec::new(),
            open: None,
            sample: Vec::new(),
        }
    }

    fn file_name(&self, idx: usize) -> &str {
        self.files.get(idx).map(String::as_str).unwrap_or("?")
    }

    pub async fn push(&mut self, rows: Vec<RejectedRow>) -> Result<(), LoadError> {
        for r in rows {
            if self.sample.len() < REJECTION_SAMPLE {
                self.sample.push(Rejection {
                    file: self.file_name(r.file_idx).to_string(),
                    line: r.line,
                    column: r.column.clone(),
                    value: r.value.clone(),
                    reason: r.reason.clone(),
                });
            }
            self.pending.push(r);
            if self.pending.len() >= QUARANTINE_BATCH {
                self.write_pending().await?;
            }
        }
        Ok(())
    }

    async fn write_pending(&mut self) -> Result<(), LoadError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = self.pending_batch()?;
        self.pending.clear();
        let mut open = match self.open.take() {
            Some(o) => o,
            None => OpenFile::create(
                &self.store,
                self.path.clone(),
                quarantine_schema(),
                writer_properties(QUARANTINE_ROW_GROUP),
            )?,
        };
        let result = open.write(&batch).await;
        self.open = Some(open);
        result
    }

    fn pending_batch(&self) -> Result<RecordBatch, LoadError> {
        let n = self.pending.len();
        let mut source = StringBuilder::with_capacity(n, n * self.source.len());
        let mut file = StringBuilder::with_capacity(n, n * 32);
        let mut line = Int64Builder::with_capacity(n);
        let mut column = StringBuilder::with_capacity(n, n * 16);
        let mut value = StringBuilder::with_capacity(n, n * 16);
        let mut reason = StringBuilder::with_capacity(n, n * 32);
        let mut record = StringBuilder::with_capacity(n, n * 128);
        for r in &self.pending {
            source.append_value(&self.source);
            file.append_value(self.file_name(r.file_idx));
            line.append_value(i64::try_from(r.line).unwrap_or(i64::MAX));
            column.append_option(r.column.as_deref());
            value.append_option(r.value.as_deref());
            reason.append_value(&r.reason);
            record.append_value(&r.record);
        }
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(source.finish()),
            Arc::new(file.finish()),
            Arc::new(line.finish()),
            Arc::new(column.finish()),
            Arc::new(value.finish()),
            Arc::new(reason.finish()),
            Arc::new(record.finish()),
        ];
        RecordBatch::try_new(quarantine_schema(), arrays).map_err(|source| LoadError::Arrow {
            file: self.path.to_string(),
            source,
        })
    }

    /// Writes what is pending and completes the file (if any row was rejected).
    pub async fn finish(mut self) -> Result<QuarantineOutcome, LoadError> {
        self.write_pending().await?;
        let path = match self.open.take() {
            Some(open) => Some(open.close().await?),
            None => None,
        };
        Ok(QuarantineOutcome {
            path,
            sample: self.sample,
        })
    }

    /// Abandons the upload.
    pub async fn abort(mut self) {
        if let Some(open) = self.open.take() {
            open.abort().await;
        }
    }
}
