//! Raw-zone Parquet files: zstd, row groups of `row_group_rows`, page statistics, uploaded with
//! `object_store`'s `BufWriter` (one PUT for small files, a multipart upload for large ones, so
//! it works the same on S3, GCS, Azure and the local disk).
//!
//! One input file becomes `part-<file#>-<n>.parquet` under the data prefix: several parts when
//! it has more than `max_file_rows` rows, or when its schema grows (an NDJSON key first seen
//! late), and one empty part when it has no good rows, so that every input leaves a file with
//! its schema behind.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::{LoadError, LoadOptions, RawTarget};

/// zstd level of raw and quarantine files: fast, still compact.
const ZSTD_LEVEL: i32 = 1;

/// Writer properties of every Parquet file the load stage writes.
pub(crate) fn writer_properties(row_group_rows: usize) -> WriterProperties {
    // Level 1 is within zstd's range: the fallback is never taken.
    let zstd = ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .set_statistics_enabled(EnabledStatistics::Page)
        // No dictionary pages: ids and free text never fit one, and zstd compresses repeated
        // values as well (1M-lead sample: raw zone 100 MB without, 111 MB with); the load spent
        // a tenth of its CPU building dictionaries it then abandoned.
        .set_dictionary_enabled(false)
        .build()
}

/// `props` without min/max statistics for the `Utf8` columns of `schema` not in `ranged`.
///
/// Free text and foreign ids carry no ranges in the raw zone: a row group's min and max of
/// emails, titles or company names prune nothing, and comparing every value to find them was
/// a twentieth of the load's CPU. Enum and primary-key columns keep theirs (keys are often in
/// file order, so their ranges do prune).
pub(crate) fn text_statistics(
    props: &WriterProperties,
    schema: &SchemaRef,
    ranged: &[String],
) -> WriterProperties {
    let mut builder = props.clone().into_builder();
    for field in schema.fields() {
        if field.data_type() == &DataType::Utf8 && !ranged.iter().any(|r| r == field.name()) {
            builder = builder.set_column_statistics_enabled(
                ColumnPath::from(field.name().as_str()),
                EnabledStatistics::None,
            );
        }
    }
    builder.build()
}

/// An open Parquet upload.
pub(crate) struct OpenFile {
    writer: AsyncArrowWriter<BufWriter>,
    path: Path,
    schema: SchemaRef,
    rows: usize,
}

impl OpenFile {
    pub fn create(
        store: &Arc<dyn ObjectStore>,
        path: Path,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<OpenFile, LoadError> {
        let sink = BufWriter::new(store.clone(), path.clone());
        let writer =
            AsyncArrowWriter::try_new(sink, schema.clone(), Some(props)).map_err(|source| {
                LoadError::Write {
                    path: path.to_string(),
                    source,
                }
            })?;
        Ok(OpenFile {
            writer,
            path,
            schema,
            rows: 0,
        })
    }

    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), LoadError> {
        self.writer
            .write(batch)
            .await
            .map_err(|source| LoadError::Write {
                path: self.path.to_string(),
                source,
            })?;
        self.rows += batch.num_rows();
        Ok(())
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Writes the footer and completes the upload.
    pub async fn close(mut self) -> Result<Path, LoadError> {
        self.writer
            .finish()
            .await
            .map_err(|source| LoadError::Write {
                path: self.path.to_string(),
                source,
            })?;
        Ok(self.path)
    }

    /// Abandons the upload (nothing becomes visible).
    pub async fn abort(self) {
        let path = self.path;
        let mut sink = self.writer.into_inner();
        if let Err(e) = sink.abort().await {
            tracing::warn!(path = %path, error = %e, "could not abort an upload");
        }
    }
}

/// The raw files of one input file.
pub(crate) struct PartWriter {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    file_idx: usize,
    props: WriterProperties,
    /// `Utf8` columns that keep min/max statistics ([`text_statistics`]).
    ranged: Arc<[String]>,
    max_file_rows: usize,
    schema: Option<SchemaRef>,
    open: Option<OpenFile>,
    written: Vec<Path>,
}

impl PartWriter {
    pub fn new(
        target: &RawTarget,
        file_idx: usize,
        opts: &LoadOptions,
        ranged: Arc<[String]>,
    ) -> PartWriter {
        PartWriter {
            store: target.store.clone(),
            prefix: target.data_prefix.clone(),
            file_idx,
            props: writer_properties(opts.row_group_rows),
            ranged,
            max_file_rows: opts.max_file_rows,
            schema: None,
            open: None,
            written: Vec::new(),
        }
    }

    fn next_path(&self) -> Path {
        let n = self.written.len() + usize::from(self.open.is_some());
        self.prefix
            .clone()
            .join(format!("part-{:05}-{:03}.parquet", self.file_idx, n))
    }

    /// The file's latest schema, used for the empty part of a file without good rows.
    pub fn set_schema(&mut self, schema: SchemaRef) {
        self.schema = Some(schema);
    }

    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), LoadError> {
        if let Some(open) = &self.open {
            if open.schema() != &batch.schema() {
                self.close_open().await?;
            }
        }
        let mut open = match self.open.take() {
            Some(o) => o,
            None => OpenFile::create(
                &self.store,
                self.next_path(),
                batch.schema(),
                text_statistics(&self.props, &batch.schema(), &self.ranged),
            )?,
        };
        let result = open.write(batch).await;
        let full = open.rows >= self.max_file_rows;
        self.open = Some(open);
        result?;
        if full {
            self.close_open().await?;
        }
        Ok(())
    }

    async fn close_open(&mut self) -> Result<(), LoadError> {
        if let Some(open) = self.open.take() {
            self.written.push(open.close().await?);
        }
        Ok(())
    }

    /// Completes the file's parts; writes an empty part when no row was written.
    pub async fn finish(mut self) -> Result<Vec<Path>, LoadError> {
        self.close_open().await?;
        if self.written.is_empty() {
            if let Some(schema) = self.schema.clone() {
                let props = text_statistics(&self.props, &schema, &self.ranged);
                let empty = OpenFile::create(&self.store, self.next_path(), schema, props)?;
                self.written.push(empty.close().await?);
            }
        }
        Ok(self.written)
    }

    /// Abandons the open upload and deletes the parts already completed.
    pub async fn abort(mut self) {
        if let Some(open) = self.open.take() {
            open.abort().await;
        }
        delete_best_effort(&self.store, &self.written).await;
    }
}

/// Deletes `paths`, logging failures: used to clean up after a failed load.
pub(crate) async fn delete_best_effort(store: &Arc<dyn ObjectStore>, paths: &[Path]) {
    for p in paths {
        if let Err(e) = store.delete(p).await {
            tracing::warn!(path = %p, error = %e, "could not delete a file of a failed load");
        }
    }
}
