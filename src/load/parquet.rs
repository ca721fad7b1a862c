//! Parquet input, read with the parquet crate's async reader over `object_store`.
//!
//! Each column is turned into text (Arrow's cast to `Utf8`, or its display formatter for types
//! the cast does not cover) and every row goes through the same checks as a CSV record, so a
//! Parquet export obeys exactly the same contract; the line of a rejected row is its row
//! number, from 1. Correctness over speed: typed columns are formatted and parsed again.
//! Timestamps with a time zone hold UTC instants, so the zone is dropped before formatting
//! (the text is then UTC wall time, which is what the contract stores).

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, RecordBatch, StringArray, StringBuilder,
};
use arrow::compute::kernels::cast::{can_cast_types, cast};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::batch::{csv_line, resolve_header, ParseJob, Row, Sink};
use super::keys::PkIndex;
use super::{FileStats, InputFile, LoadError};

/// A column as text or (for binary columns, whose UTF-8 is checked per value) bytes.
enum TextColumn {
    Text(StringArray),
    Bytes(BinaryArray),
}

/// Row `row` of a batch whose columns were turned into text.
struct BatchRow<'a> {
    columns: &'a [TextColumn],
    row: usize,
}

impl Row for BatchRow<'_> {
    fn text(&self, idx: usize) -> Option<&str> {
        match self.columns.get(idx)? {
            TextColumn::Text(a) => (!a.is_null(self.row)).then(|| a.value(self.row)),
            // Checked by `first_invalid` before the row is handed over.
            TextColumn::Bytes(a) => (!a.is_null(self.row))
                .then(|| std::str::from_utf8(a.value(self.row)).ok())
                .flatten(),
        }
    }
}

impl BatchRow<'_> {
    fn bytes(&self, idx: usize) -> Option<&[u8]> {
        match self.columns.get(idx)? {
            TextColumn::Text(a) => (!a.is_null(self.row)).then(|| a.value(self.row).as_bytes()),
            TextColumn::Bytes(a) => (!a.is_null(self.row)).then(|| a.value(self.row)),
        }
    }

    /// The first binary column whose value in this row is not UTF-8.
    fn first_invalid(&self) -> Option<(usize, &[u8])> {
        self.columns.iter().enumerate().find_map(|(i, c)| match c {
            TextColumn::Bytes(a) if !a.is_null(self.row) => {
                let v = a.value(self.row);
                std::str::from_utf8(v).is_err().then_some((i, v))
            }
            _ => None,
        })
    }

    /// The row as a CSV line, for the quarantine.
    fn render(&self) -> String {
        csv_line(
            (0..self.columns.len()).map(|i| self.bytes(i).unwrap_or(b"")),
            b',',
        )
    }
}

/// Reads one Parquet file into `job`'s channel. Runs in `spawn_blocking`; `handle` drives
/// the async reader.
pub(crate) fn read(
    job: ParseJob,
    handle: &tokio::runtime::Handle,
    input: &InputFile,
    pk: PkIndex,
) -> Result<(FileStats, PkIndex), LoadError> {
    let mut sink = Sink::new(job, pk);
    let file = input.display.clone();
    let pq_err = |source| LoadError::ParquetRead {
        file: file.clone(),
        source,
    };
    let meta = handle
        .block_on(input.store.head(&input.path))
        .map_err(|source| LoadError::Read {
            file: file.clone(),
            source,
        })?;
    let reader = StoreReader {
        store: input.store.clone(),
        path: input.path.clone(),
        size: meta.size,
    };
    let builder = handle
        .block_on(ParquetRecordBatchStreamBuilder::new(reader))
        .map_err(pq_err)?;
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().trim().to_string())
        .collect();
    let rows = builder.metadata().file_metadata().num_rows();
    sink.expect_rows(u64::try_from(rows).unwrap_or(0));
    let layout = resolve_header(sink.plan(), &file, &header)?;
    sink.asm.set_layout(layout);
    sink.columns_known();
    sink.announce_schema()?;
    let mut stream = builder
        .with_batch_size(sink.batch_rows())
        .build()
        .map_err(pq_err)?;
    let mut row_no = 0u64;
    while let Some(batch) = handle.block_on(stream.next()) {
        let batch = batch.map_err(pq_err)?;
        let columns = text_columns(&batch).map_err(|source| LoadError::Parse {
            file: file.clone(),
            line: row_no + 1,
            message: format!("cannot read a column as text: {source}"),
        })?;
        for row in 0..batch.num_rows() {
            row_no += 1;
            let r = BatchRow {
                columns: &columns,
                row,
            };
            match r.first_invalid() {
                None => sink.row(&r, row_no, BatchRow::render)?,
                Some((idx, raw)) => sink.reject_invalid_utf8(row_no, idx, raw, r.render())?,
            }
        }
    }
    sink.finish()
}

/// An [`AsyncFileReader`] over an object store path of known size (ranged GETs).
struct StoreReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

fn store_err(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(store_err)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(store_err)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

fn text_columns(batch: &RecordBatch) -> Result<Vec<TextColumn>, ArrowError> {
    batch.columns().iter().map(text_column).collect()
}

/// A cast that did not return the type asked for (not expected from Arrow's cast kernel).
fn cast_mismatch(to: &DataType) -> ArrowError {
    ArrowError::CastError(format!("cast to {to} returned another type"))
}

fn text_column(col: &ArrayRef) -> Result<TextColumn, ArrowError> {
    let col = match col.data_type() {
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            let b = cast(col, &DataType::Binary)?;
            return b
                .as_binary_opt::<i32>()
                .map(|a| TextColumn::Bytes(a.clone()))
                .ok_or_else(|| cast_mismatch(&DataType::Binary));
        }
        DataType::Timestamp(unit, Some(_)) => {
            // Same values (UTC instants), no zone: formats as UTC wall time.
            let data = col
                .to_data()
                .into_builder()
                .data_type(DataType::Timestamp(*unit, None))
                .build()?;
            arrow::array::make_array(data)
        }
        _ => col.clone(),
    };
    if can_cast_types(col.data_type(), &DataType::Utf8) {
        let s = cast(&col, &DataType::Utf8)?;
        return s
            .as_string_opt::<i32>()
            .map(|a| TextColumn::Text(a.clone()))
            .ok_or_else(|| cast_mismatch(&DataType::Utf8));
    }
    let options = FormatOptions::default();
    let formatter = ArrayFormatter::try_new(col.as_ref(), &options)?;
    let mut b = StringBuilder::with_capacity(col.len(), col.len() * 16);
    for i in 0..col.len() {
        if col.is_null(i) {
            b.append_null();
        } else {
            b.append_value(formatter.value(i).to_string());
        }
    }
    Ok(TextColumn::Text(b.finish()))
}
