//! Streams a query result into zstd Parquet files on any object store.
//!
//! Files roll over at `max_rows_per_file` so large tables become a few large files (warehouses
//! read those best), and a table with no rows still gets one file that carries its schema.

use crate::storage::Location;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::dataframe::DataFrame;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::{
    displayable, execute_stream, execute_stream_partitioned, ExecutionPlan,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjPath;
use object_store::ObjectStoreExt;
use parquet::arrow::async_writer::AsyncArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::sync::Arc;

/// How Parquet files are laid out.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Rows per row group: large enough for good compression and few footers, small enough to
    /// let readers skip with statistics.
    pub row_group_rows: usize,
    /// Rows per file before a new file is started.
    pub max_rows_per_file: usize,
    pub zstd_level: i32,
    /// Files are named `<file_stem>-NNNNN.parquet` (publishing puts the run id in the stem).
    pub file_stem: String,
    /// Each output partition of the query is encoded by a task of its own into files of its own
    /// (`<file_stem>-pPPP-NNNNN.parquet`), so that encoding uses every core; the rows' order across
    /// files then varies between runs. Off for published tables (one ordered stream).
    pub per_partition: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            row_group_rows: 1 << 20,
            max_rows_per_file: 16 << 20,
            zstd_level: 3,
            file_stem: "part".to_string(),
            per_partition: false,
        }
    }
}

impl WriteOptions {
    /// For tables only Beacon reads back (unpublished models in the work folder): zstd level 1
    /// (encoding is on the critical path of every model; the files are scratch) and row groups of
    /// 128Ki rows, so that a scan of a table of a few hundred thousand rows is split between the
    /// cores instead of one partition reading its single row group; each partition of the query
    /// is encoded in parallel ([`WriteOptions::per_partition`]).
    pub fn scratch() -> Self {
        WriteOptions {
            row_group_rows: 128 << 10,
            zstd_level: 1,
            per_partition: true,
            ..WriteOptions::default()
        }
    }
}

/// One written file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct WrittenFile {
    /// Path inside the store.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Everything written for one table.
#[derive(Debug, Clone)]
pub struct WrittenTable {
    pub files: Vec<WrittenFile>,
    pub rows: u64,
    pub bytes: u64,
    pub schema: SchemaRef,
}

impl WrittenTable {
    /// The table of `files`, with their rows and bytes summed.
    fn of(files: Vec<WrittenFile>, schema: SchemaRef) -> Self {
        let rows = files.iter().map(|f| f.rows).sum();
        let bytes = files.iter().map(|f| f.bytes).sum();
        WrittenTable {
            files,
            rows,
            bytes,
            schema,
        }
    }
}

/// Errors writing Parquet.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("query failed while writing {location}: {source}")]
    Query {
        location: String,
        source: datafusion::error::DataFusionError,
    },
    #[error("cannot write Parquet to {location}: {source}")]
    Parquet {
        location: String,
        source: parquet::errors::ParquetError,
    },
    #[error("cannot inspect written file {location}: {source}")]
    Head {
        location: String,
        source: object_store::Error,
    },
}

fn properties(opts: &WriteOptions) -> WriterProperties {
    let level = ZstdLevel::try_new(opts.zstd_level).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
        // Dictionary pages stay on, also for scratch: without them the 1M-lead pipeline took 5 %
        // longer (its models read back plain pages of repeated strings). The raw zone has none
        // (crate::load::writer).
        .set_created_by(format!("beacon {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Executes `df` and writes its rows under `dir` as `<file_stem>-NNNNN.parquet`.
pub async fn write_dataframe(
    df: DataFrame,
    dir: &Location,
    opts: &WriteOptions,
) -> Result<WrittenTable, WriteError> {
    let location = dir.display.clone();
    let query_error = |source| WriteError::Query {
        location: location.clone(),
        source,
    };
    let task_ctx = Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await.map_err(query_error)?;
    // `BEACON_LOG=beacon=debug`: the plan each model ran, to see where its memory and time go.
    tracing::debug!(
        "physical plan for {location}\n{}",
        displayable(plan.as_ref()).indent(true)
    );
    let written = if opts.per_partition {
        write_partitions(plan.clone(), task_ctx, dir, opts).await
    } else {
        let stream = execute_stream(plan.clone(), task_ctx).map_err(query_error)?;
        write_stream(stream, dir, opts).await
    };
    // The same plan with what each operator did (rows, time, spills, memory): EXPLAIN ANALYZE.
    tracing::debug!(
        "executed plan for {location}\n{}",
        DisplayableExecutionPlan::with_metrics(plan.as_ref()).indent(true)
    );
    written
}

/// Executes `plan` with one writing task per output partition.
async fn write_partitions(
    plan: Arc<dyn ExecutionPlan>,
    task_ctx: Arc<TaskContext>,
    dir: &Location,
    opts: &WriteOptions,
) -> Result<WrittenTable, WriteError> {
    let location = dir.display.clone();
    let streams =
        execute_stream_partitioned(plan, task_ctx).map_err(|source| WriteError::Query {
            location: location.clone(),
            source,
        })?;
    let schema = streams
        .first()
        .map(|s| s.schema())
        .unwrap_or_else(|| Arc::new(datafusion::arrow::datatypes::Schema::empty()));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, stream) in streams.into_iter().enumerate() {
        let dir = dir.clone();
        let opts = WriteOptions {
            file_stem: format!("{}-p{i:03}", opts.file_stem),
            ..opts.clone()
        };
        tasks.spawn(async move { write_files(stream, &dir, &opts, false).await });
    }
    let mut files = Vec::new();
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(written)) => files.extend(written),
            Ok(Err(e)) => {
                failed.get_or_insert(e);
            }
            Err(e) => {
                failed.get_or_insert(WriteError::Query {
                    location: location.clone(),
                    source: datafusion::error::DataFusionError::External(Box::new(e)),
                });
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if files.is_empty() {
        // No rows at all: one file that carries the schema.
        let empty = Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema.clone(),
                futures::stream::empty(),
            ),
        );
        return write_stream(empty, dir, opts).await;
    }
    // Partition order, then file order (`-pPPP-NNNNN`).
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(WrittenTable::of(files, schema))
}

/// Writes a stream of batches under `dir` as `<file_stem>-NNNNN.parquet`.
pub async fn write_stream(
    stream: SendableRecordBatchStream,
    dir: &Location,
    opts: &WriteOptions,
) -> Result<WrittenTable, WriteError> {
    let schema = stream.schema();
    let files = write_files(stream, dir, opts, true).await?;
    Ok(WrittenTable::of(files, schema))
}

/// Writes the batches of `stream`, rolling over files at `max_rows_per_file`; `always`: one file
/// even without rows.
async fn write_files(
    mut stream: SendableRecordBatchStream,
    dir: &Location,
    opts: &WriteOptions,
    always: bool,
) -> Result<Vec<WrittenFile>, WriteError> {
    let schema = stream.schema();
    let props = properties(opts);
    let mut files = Vec::new();
    let mut writer: Option<(AsyncArrowWriter<BufWriter>, ObjPath, u64)> = None;
    let open = |n: usize| -> Result<(AsyncArrowWriter<BufWriter>, ObjPath, u64), WriteError> {
        let path = dir
            .path
            .clone()
            .join(format!("{}-{n:05}.parquet", opts.file_stem).as_str());
        let w = BufWriter::new(dir.store.clone(), path.clone());
        let w = AsyncArrowWriter::try_new(w, schema.clone(), Some(props.clone())).map_err(
            |source| WriteError::Parquet {
                location: dir.display_object(&path),
                source,
            },
        )?;
        Ok((w, path, 0))
    };
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|source| WriteError::Query {
            location: dir.display.clone(),
            source,
        })?;
        if batch.num_rows() == 0 {
            continue;
        }
        if writer.is_none() {
            writer = Some(open(files.len())?);
        }
        let Some((w, path, rows)) = writer.as_mut() else {
            continue;
        };
        w.write(&batch)
            .await
            .map_err(|source| WriteError::Parquet {
                location: dir.display_object(path),
                source,
            })?;
        *rows += batch.num_rows() as u64;
        if *rows >= opts.max_rows_per_file as u64 {
            if let Some(done) = writer.take() {
                files.push(finish(done, dir).await?);
            }
        }
    }
    if always && writer.is_none() && files.is_empty() {
        writer = Some(open(0)?);
    }
    if let Some(done) = writer.take() {
        files.push(finish(done, dir).await?);
    }
    Ok(files)
}

async fn finish(
    (w, path, rows): (AsyncArrowWriter<BufWriter>, ObjPath, u64),
    dir: &Location,
) -> Result<WrittenFile, WriteError> {
    w.close().await.map_err(|source| WriteError::Parquet {
        location: dir.display_object(&path),
        source,
    })?;
    let meta = dir
        .store
        .head(&path)
        .await
        .map_err(|source| WriteError::Head {
            location: dir.display_object(&path),
            source,
        })?;
    Ok(WrittenFile {
        path: path.to_string(),
        rows,
        bytes: meta.size,
    })
}
