//! Row checks and Arrow batch assembly, shared by the CSV, NDJSON and Parquet readers.
//!
//! A reader hands each record to [`Sink::row`] as a [`Row`] (a view of its fields as text,
//! by input position, UTF-8 already checked). The [`Assembler`] checks the record against the compiled contract
//! ([`Plan`]) without allocating on the good path: it parses every contract value into a small
//! reusable array of [`Cell`]s, checks the primary key, and only then appends the row to the
//! Arrow builders, so that a rejected row leaves no trace in the batch. Full batches, the
//! current schema and rejected rows go to the async writer through the [`Msg`] channel.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use tokio::sync::mpsc;

use crate::contract::{
    parse_bool, parse_date, parse_decimal, parse_integer, parse_timestamp, ColumnType,
    SourceContract,
};

use super::keys::{KeyHash, PkIndex};
use super::quarantine::RejectedRow;
use super::LoadError;

/// What the parser task sends to the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    /// The file's current output schema (used when the file yields no batch at all).
    Schema(SchemaRef),
    /// A batch of good rows.
    Batch(RecordBatch),
    /// Rejected rows, for the quarantine.
    Rejected(Vec<RejectedRow>),
}

/// Counts and column findings of one file.
#[derive(Debug, Default)]
pub(crate) struct FileStats {
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    pub extra_columns: Vec<String>,
    pub missing_optional_columns: Vec<String>,
}

/// One contract column, compiled.
#[derive(Debug)]
pub(crate) struct PlanColumn {
    pub name: String,
    pub ty: ColumnType,
    /// Required by the contract or part of the primary key.
    pub required: bool,
    pub allowed: Option<Vec<String>>,
}

/// The contract, compiled for checking rows.
#[derive(Debug)]
pub(crate) struct Plan {
    pub columns: Vec<PlanColumn>,
    pub null_tokens: Vec<String>,
    /// Indices into `columns`.
    pub pk: Vec<usize>,
    pub delimiter: u8,
}

impl Plan {
    /// The text columns whose raw files keep min/max statistics: enums and primary-key columns.
    pub fn ranged_text_columns(&self) -> Arc<[String]> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(i, c)| c.allowed.is_some() || self.pk.contains(i))
            .map(|(_, c)| c.name.clone())
            .collect()
    }

    pub fn new(contract: &SourceContract) -> Plan {
        let pk: Vec<usize> = contract
            .primary_key
            .iter()
            .filter_map(|k| contract.columns.iter().position(|c| &c.name == k))
            .collect();
        Plan {
            columns: contract
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| PlanColumn {
                    name: c.name.clone(),
                    ty: c.column_type,
                    required: c.required || pk.contains(&i),
                    allowed: c.allowed_values.clone(),
                })
                .collect(),
            null_tokens: contract
                .null_values
                .iter()
                .map(|t| t.trim().to_string())
                .collect(),
            pk,
            delimiter: contract.delimiter,
        }
    }

    /// Whether a trimmed value means NULL.
    #[inline]
    fn is_null(&self, trimmed: &str) -> bool {
        trimmed.is_empty()
            || self.null_tokens.iter().any(|t| {
                // Length and first byte first: most values differ there (no memcmp call).
                t.len() == trimmed.len()
                    && t.as_bytes().first() == trimmed.as_bytes().first()
                    && t == trimmed
            })
    }

    /// The contract column an input column named `name` feeds, among those not yet `bound`:
    /// an exact name match, else a case-insensitive one.
    pub fn match_column(&self, name: &str, bound: &[bool]) -> Option<usize> {
        let free = |i: &usize| !bound.get(*i).copied().unwrap_or(true);
        let exact = (0..self.columns.len())
            .filter(free)
            .find(|&i| self.columns[i].name == name);
        if exact.is_some() {
            return exact;
        }
        (0..self.columns.len())
            .filter(free)
            .find(|&i| eq_ignore_case(&self.columns[i].name, name))
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// How a file's columns map onto the output.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Per contract column, the input column feeding it.
    pub inputs: Vec<Option<usize>>,
    /// Extra input columns: output name and input position.
    pub extras: Vec<(String, usize)>,
}

/// Maps a header (CSV header row, Parquet schema) onto the contract. A missing required column
/// is an error naming the file and the column, with a suggestion when a header is close.
pub(crate) fn resolve_header(
    plan: &Plan,
    file: &str,
    header: &[String],
) -> Result<Layout, LoadError> {
    let mut inputs: Vec<Option<usize>> = vec![None; plan.columns.len()];
    let mut used = vec![false; header.len()];
    // Exact matches first, so that `Id` wins over `ID` when a file has both.
    for exact_only in [true, false] {
        for (ci, col) in plan.columns.iter().enumerate() {
            if inputs[ci].is_some() {
                continue;
            }
            let found = header.iter().enumerate().find(|(hi, h)| {
                !used[*hi] && (*h == &col.name || (!exact_only && eq_ignore_case(h, &col.name)))
            });
            if let Some((hi, _)) = found {
                inputs[ci] = Some(hi);
                used[hi] = true;
            }
        }
    }
    if let Some(ci) =
        (0..plan.columns.len()).find(|&ci| plan.columns[ci].required && inputs[ci].is_none())
    {
        let column = plan.columns[ci].name.clone();
        let unused: Vec<&str> = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(_, h)| h.as_str())
            .collect();
        return Err(LoadError::MissingColumn {
            file: file.to_string(),
            suggestion: suggest(&column, &unused),
            column,
            available: header.to_vec(),
        });
    }
    let mut names: Vec<String> = plan.columns.iter().map(|c| c.name.clone()).collect();
    let mut extras = Vec::new();
    for (hi, h) in header.iter().enumerate() {
        if !used[hi] {
            let name = unique_name(&names, h, hi);
            names.push(name.clone());
            extras.push((name, hi));
        }
    }
    Ok(Layout { inputs, extras })
}

/// `name` (or `column_<n>` when empty), suffixed `_2`, `_3`, ... when already taken.
pub(crate) fn unique_name(taken: &[String], name: &str, position: usize) -> String {
    let base = if name.trim().is_empty() {
        format!("column_{}", position + 1)
    } else {
        name.to_string()
    };
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|c| !taken.contains(c))
        .unwrap_or(base)
}

/// The candidate closest to `name`, when close enough to be a likely typo or renaming.
pub(crate) fn suggest(name: &str, candidates: &[&str]) -> Option<String> {
    let norm = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let target = norm(name);
    let limit = (target.len() / 3).max(1);
    candidates
        .iter()
        .map(|c| (levenshtein(&target, &norm(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A record's fields, by input position, as text (readers check UTF-8 before handing a row
/// over). `None`: absent or NULL.
pub(crate) trait Row {
    fn text(&self, idx: usize) -> Option<&str>;
}

/// Fields as one CSV line (quoted where needed, invalid UTF-8 replaced), for the quarantine's
/// `record` column.
pub(crate) fn csv_line<'a>(fields: impl Iterator<Item = &'a [u8]>, delimiter: u8) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if w.write_record(fields).is_err() {
        return String::new();
    }
    let bytes = w.into_inner().unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    text.strip_suffix('\n').unwrap_or(&text).to_string()
}

/// Why a row is rejected.
#[derive(Debug)]
pub(crate) struct Problem {
    pub column: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

/// A checked contract value, waiting to be appended.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    /// The (trimmed) input text; fetched again from the row when appended.
    Text,
    /// Index into the column's allowed values (the canonical spelling).
    Enum(usize),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(i32),
    Ts(i64),
}

#[derive(Debug)]
enum ColBuilder {
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Date32(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColBuilder {
    fn new(ty: ColumnType, rows: usize) -> ColBuilder {
        match ty {
            ColumnType::String => ColBuilder::Utf8(StringBuilder::with_capacity(rows, rows * 16)),
            ColumnType::Integer => ColBuilder::Int64(Int64Builder::with_capacity(rows)),
            ColumnType::Decimal => ColBuilder::Float64(Float64Builder::with_capacity(rows)),
            ColumnType::Boolean => ColBuilder::Boolean(BooleanBuilder::with_capacity(rows)),
            ColumnType::Date => ColBuilder::Date32(Date32Builder::with_capacity(rows)),
            ColumnType::Timestamp => {
                ColBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows))
            }
        }
    }

    fn append_null(&mut self) {
        match self {
            ColBuilder::Utf8(b) => b.append_null(),
            ColBuilder::Int64(b) => b.append_null(),
            ColBuilder::Float64(b) => b.append_null(),
            ColBuilder::Boolean(b) => b.append_null(),
            ColBuilder::Date32(b) => b.append_null(),
            ColBuilder::Timestamp(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Utf8(b) => Arc::new(b.finish()),
            ColBuilder::Int64(b) => Arc::new(b.finish()),
            ColBuilder::Float64(b) => Arc::new(b.finish()),
            ColBuilder::Boolean(b) => Arc::new(b.finish()),
            ColBuilder::Date32(b) => Arc::new(b.finish()),
            ColBuilder::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

#[derive(Debug)]
struct Extra {
    name: String,
    input: usize,
    builder: StringBuilder,
}

/// The field feeding a column, trimmed of ASCII whitespace; `None` when absent or NULL.
fn trimmed<R: Row + ?Sized>(row: &R, idx: Option<usize>) -> Option<&str> {
    idx.and_then(|i| row.text(i)).map(str::trim_ascii)
}

/// Checks rows and builds the Arrow batch of one file.
#[derive(Debug)]
pub(crate) struct Assembler {
    plan: Arc<Plan>,
    inputs: Vec<Option<usize>>,
    builders: Vec<ColBuilder>,
    extras: Vec<Extra>,
    cells: Vec<Cell>,
    key: Vec<u8>,
    rows: usize,
    capacity: usize,
    schema: SchemaRef,
}

impl Assembler {
    pub fn new(plan: Arc<Plan>, capacity: usize) -> Assembler {
        let n = plan.columns.len();
        let mut a = Assembler {
            builders: plan
                .columns
                .iter()
                .map(|c| ColBuilder::new(c.ty, capacity))
                .collect(),
            plan,
            inputs: vec![None; n],
            extras: Vec::new(),
            cells: vec![Cell::Null; n],
            key: Vec::with_capacity(64),
            rows: 0,
            capacity,
            schema: Arc::new(Schema::empty()),
        };
        a.rebuild_schema();
        a
    }

    fn rebuild_schema(&mut self) {
        let fields: Vec<Field> = self
            .plan
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.ty.arrow_type(), true))
            .chain(
                self.extras
                    .iter()
                    .map(|e| Field::new(&e.name, arrow::datatypes::DataType::Utf8, true)),
            )
            .collect();
        self.schema = Arc::new(Schema::new(fields));
    }

    /// Applies a header layout.
    pub fn set_layout(&mut self, layout: Layout) {
        self.inputs = layout.inputs;
        for (name, input) in layout.extras {
            self.add_extra(name, input);
        }
    }

    /// Feeds contract column `col` from input position `input` from now on.
    pub fn bind(&mut self, col: usize, input: usize) {
        if let Some(slot) = self.inputs.get_mut(col) {
            *slot = Some(input);
        }
    }

    /// Which contract columns have an input.
    pub fn bound(&self) -> Vec<bool> {
        self.inputs.iter().map(Option::is_some).collect()
    }

    /// Adds an extra (`Utf8`) column fed from input position `input`; rows already in the
    /// batch get NULL. Changes the schema.
    pub fn add_extra(&mut self, name: String, input: usize) {
        let mut builder = StringBuilder::with_capacity(self.capacity, self.capacity * 8);
        builder.append_nulls(self.rows);
        self.extras.push(Extra {
            name,
            input,
            builder,
        });
        self.rebuild_schema();
    }

    /// The output column fed by input position `input`.
    pub fn input_name(&self, input: usize) -> Option<String> {
        let contract = self
            .inputs
            .iter()
            .position(|i| *i == Some(input))
            .map(|ci| self.plan.columns[ci].name.clone());
        contract.or_else(|| {
            self.extras
                .iter()
                .find(|e| e.input == input)
                .map(|e| e.name.clone())
        })
    }

    /// Output column names so far (contract, then extras).
    pub fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    pub fn extra_names(&self) -> Vec<String> {
        self.extras.iter().map(|e| e.name.clone()).collect()
    }

    /// Contract columns without an input (and whether any of them is required).
    pub fn unbound_columns(&self) -> Vec<(String, bool)> {
        self.plan
            .columns
            .iter()
            .zip(&self.inputs)
            .filter(|(_, i)| i.is_none())
            .map(|(c, _)| (c.name.clone(), c.required))
            .collect()
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Checks `row`; when it keeps the contract, appends it and records its key.
    pub fn push<R: Row + ?Sized>(
        &mut self,
        row: &R,
        file_idx: usize,
        line: u64,
        pk: &mut PkIndex,
        files: &[String],
    ) -> Result<(), Problem> {
        let plan = &*self.plan;
        for (ci, col) in plan.columns.iter().enumerate() {
            let cell = match trimmed(row, self.inputs[ci]) {
                Some(t) if !plan.is_null(t) => parse_cell(col, t).map_err(|reason| Problem {
                    column: Some(col.name.clone()),
                    value: Some(t.to_string()),
                    reason,
                })?,
                _ => Cell::Null,
            };
            if col.required && matches!(cell, Cell::Null) {
                return Err(Problem {
                    column: Some(col.name.clone()),
                    value: None,
                    reason: "missing required value".to_string(),
                });
            }
            self.cells[ci] = cell;
        }
        if !plan.pk.is_empty() {
            self.key.clear();
            for &ci in &plan.pk {
                let allowed = plan.columns[ci].allowed.as_deref();
                let text = trimmed(row, self.inputs[ci]);
                encode_key_part(&mut self.key, self.cells[ci], text, allowed);
            }
            if let Some(first) = pk.insert_or_first(KeyHash::of(&self.key), file_idx, line) {
                return Err(self.duplicate(row, first, files));
            }
        }
        self.append(row);
        Ok(())
    }

    /// The problem of a row whose key was first seen at `first`.
    fn duplicate<R: Row + ?Sized>(
        &self,
        row: &R,
        first: Option<(usize, u64)>,
        files: &[String],
    ) -> Problem {
        let plan = &*self.plan;
        let value = |ci: usize| trimmed(row, self.inputs[ci]).unwrap_or("");
        let key = plan
            .pk
            .iter()
            .map(|&ci| format!("{}={}", plan.columns[ci].name, value(ci)))
            .collect::<Vec<_>>()
            .join(", ");
        let at = match first {
            Some((f, l)) => format!("{}:{l}", files.get(f).map(String::as_str).unwrap_or("?")),
            None => "an earlier row".to_string(),
        };
        let names: Vec<&str> = plan
            .pk
            .iter()
            .map(|&ci| plan.columns[ci].name.as_str())
            .collect();
        let values: Vec<&str> = plan.pk.iter().map(|&ci| value(ci)).collect();
        Problem {
            column: Some(names.join(",")),
            value: Some(values.join(",")),
            reason: format!("duplicate primary key {key} (first seen at {at})"),
        }
    }

    /// Appends a checked row (cells already filled).
    fn append<R: Row + ?Sized>(&mut self, row: &R) {
        let plan = &*self.plan;
        for (ci, b) in self.builders.iter_mut().enumerate() {
            match (b, self.cells[ci]) {
                (b, Cell::Null) => b.append_null(),
                (ColBuilder::Utf8(b), Cell::Text) => match trimmed(row, self.inputs[ci]) {
                    Some(s) => b.append_value(s),
                    // Checked in `push`: cannot happen; keep the row rather than panic.
                    None => b.append_null(),
                },
                (ColBuilder::Utf8(b), Cell::Enum(k)) => {
                    match plan.columns[ci].allowed.as_ref().and_then(|a| a.get(k)) {
                        Some(v) => b.append_value(v),
                        None => b.append_null(),
                    }
                }
                (ColBuilder::Int64(b), Cell::Int(v)) => b.append_value(v),
                (ColBuilder::Float64(b), Cell::Float(v)) => b.append_value(v),
                (ColBuilder::Boolean(b), Cell::Bool(v)) => b.append_value(v),
                (ColBuilder::Date32(b), Cell::Date(v)) => b.append_value(v),
                (ColBuilder::Timestamp(b), Cell::Ts(v)) => b.append_value(v),
                // parse_cell yields the cell kind of the column's type: unreachable.
                (b, _) => b.append_null(),
            }
        }
        for e in &mut self.extras {
            match row.text(e.input) {
                Some(s) if !plan.is_null(s.trim_ascii()) => e.builder.append_value(s),
                _ => e.builder.append_null(),
            }
        }
        self.rows += 1;
    }

    /// The rows assembled so far as a batch (`None` when there are none); resets the builders.
    pub fn take_batch(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        let mut arrays: Vec<ArrayRef> = self.builders.iter_mut().map(ColBuilder::finish).collect();
        arrays.extend(
            self.extras
                .iter_mut()
                .map(|e| Arc::new(e.builder.finish()) as ArrayRef),
        );
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).map(Some)
    }
}

/// Parses one non-NULL trimmed value of `col`; `Err` is the rejection reason.
fn parse_cell(col: &PlanColumn, t: &str) -> Result<Cell, String> {
    if let Some(allowed) = &col.allowed {
        // Exact spelling first (the usual case), then any case.
        let found = allowed
            .iter()
            .position(|a| a == t)
            .or_else(|| allowed.iter().position(|a| eq_ignore_case(a, t)));
        match found {
            Some(k) if col.ty == ColumnType::String => return Ok(Cell::Enum(k)),
            Some(_) => {}
            None => {
                return Err(format!(
                    "value not allowed (expected one of: {})",
                    allowed.join(", ")
                ))
            }
        }
    }
    let r = match col.ty {
        ColumnType::String => Ok(Cell::Text),
        ColumnType::Integer => parse_integer(t).map(Cell::Int),
        ColumnType::Decimal => parse_decimal(t).map(Cell::Float),
        ColumnType::Boolean => parse_bool(t).map(Cell::Bool),
        ColumnType::Date => parse_date(t).map(Cell::Date),
        ColumnType::Timestamp => parse_timestamp(t).map(Cell::Ts),
    };
    r.map_err(|e| e.to_string())
}

/// Appends one key component, unambiguously (tag and length prefixed), in its parsed form so
/// that `12` and `12.0` or `2026-03-04` and `2026-03-04 00:00:00` are the same key.
fn encode_key_part(key: &mut Vec<u8>, cell: Cell, text: Option<&str>, allowed: Option<&[String]>) {
    let mut put = |tag: u8, bytes: &[u8]| {
        key.push(tag);
        key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        key.extend_from_slice(bytes);
    };
    match cell {
        Cell::Null => put(0, &[]),
        Cell::Text => put(1, text.unwrap_or("").as_bytes()),
        Cell::Enum(k) => put(
            1,
            allowed
                .and_then(|a| a.get(k))
                .map(String::as_bytes)
                .unwrap_or(&[]),
        ),
        Cell::Int(v) => put(2, &v.to_le_bytes()),
        Cell::Float(v) => put(3, &v.to_le_bytes()),
        Cell::Bool(v) => put(4, &[u8::from(v)]),
        Cell::Date(v) => put(5, &v.to_le_bytes()),
        Cell::Ts(v) => put(6, &v.to_le_bytes()),
    }
}

/// How many rejected rows to buffer before sending them to the writer.
const REJECTED_CHUNK: usize = 1024;

/// What a parser task needs besides its input.
#[derive(Debug)]
pub(crate) struct ParseJob {
    pub plan: Arc<Plan>,
    pub file_idx: usize,
    pub files: Arc<[String]>,
    pub batch_rows: usize,
    pub tx: mpsc::Sender<Msg>,
}

/// The parser side of one file: counts rows, assembles batches, collects rejections and sends
/// them to the writer.
#[derive(Debug)]
pub(crate) struct Sink {
    job: ParseJob,
    pub asm: Assembler,
    pk: PkIndex,
    rejected: Vec<RejectedRow>,
    stats: FileStats,
    /// Whether the file's columns are known (a header or at least one NDJSON row was read).
    columns_known: bool,
}

impl Sink {
    pub fn new(job: ParseJob, pk: PkIndex) -> Sink {
        Sink {
            asm: Assembler::new(job.plan.clone(), job.batch_rows),
            job,
            pk,
            rejected: Vec::new(),
            stats: FileStats::default(),
            columns_known: false,
        }
    }

    pub fn file(&self) -> &str {
        self.job
            .files
            .get(self.job.file_idx)
            .map(String::as_str)
            .unwrap_or("?")
    }

    pub fn plan(&self) -> &Plan {
        &self.job.plan
    }

    pub fn batch_rows(&self) -> usize {
        self.job.batch_rows
    }

    /// Sizes the key index for a file expected to hold about `rows` rows (an estimate from the
    /// file size and the first rows, or the Parquet row count). Does nothing without a key.
    pub fn expect_rows(&mut self, rows: u64) {
        /// Beyond this, let the table grow as keys arrive rather than trust an estimate.
        const MAX_RESERVE: u64 = 1 << 28;
        if !self.job.plan.pk.is_empty() {
            let more = rows.saturating_sub(self.stats.rows_read).min(MAX_RESERVE);
            self.pk.reserve(usize::try_from(more).unwrap_or(0));
        }
    }

    /// Records that the file's columns are known (header read).
    pub fn columns_known(&mut self) {
        self.columns_known = true;
    }

    fn send(&self, msg: Msg) -> Result<(), LoadError> {
        self.job.tx.blocking_send(msg).map_err(|_| LoadError::Task {
            file: self.file().to_string(),
            message: "the writer stopped".to_string(),
        })
    }

    /// Sends the current schema to the writer.
    pub fn announce_schema(&self) -> Result<(), LoadError> {
        self.send(Msg::Schema(self.asm.schema()))
    }

    /// Checks and keeps (or rejects) one record. `record` renders it for the quarantine.
    pub fn row<R: Row + ?Sized>(
        &mut self,
        row: &R,
        line: u64,
        record: impl FnOnce(&R) -> String,
    ) -> Result<(), LoadError> {
        self.stats.rows_read += 1;
        match self
            .asm
            .push(row, self.job.file_idx, line, &mut self.pk, &self.job.files)
        {
            Ok(()) => {
                self.stats.rows_loaded += 1;
                if self.asm.rows() >= self.job.batch_rows {
                    self.flush()?;
                }
                Ok(())
            }
            Err(p) => self.rejected_row(line, p, record(row)),
        }
    }

    /// Rejects one record for a problem found before its values were looked at.
    pub fn reject(&mut self, line: u64, reason: String, record: String) -> Result<(), LoadError> {
        self.stats.rows_read += 1;
        self.rejected_row(
            line,
            Problem {
                column: None,
                value: None,
                reason,
            },
            record,
        )
    }

    /// Rejects one record whose field at input position `input` is not valid UTF-8.
    pub fn reject_invalid_utf8(
        &mut self,
        line: u64,
        input: usize,
        raw: &[u8],
        record: String,
    ) -> Result<(), LoadError> {
        self.stats.rows_read += 1;
        let column = self
            .asm
            .input_name(input)
            .unwrap_or_else(|| format!("column #{}", input + 1));
        self.rejected_row(
            line,
            Problem {
                column: Some(column),
                value: Some(String::from_utf8_lossy(raw).into_owned()),
                reason: "invalid UTF-8".to_string(),
            },
            record,
        )
    }

    fn rejected_row(&mut self, line: u64, p: Problem, record: String) -> Result<(), LoadError> {
        self.stats.rows_rejected += 1;
        self.rejected.push(RejectedRow {
            file_idx: self.job.file_idx,
            line,
            column: p.column,
            value: p.value,
            reason: p.reason,
            record,
        });
        if self.rejected.len() >= REJECTED_CHUNK {
            let rows = std::mem::take(&mut self.rejected);
            self.send(Msg::Rejected(rows))?;
        }
        Ok(())
    }

    /// Sends the batch assembled so far and any rejections.
    pub fn flush(&mut self) -> Result<(), LoadError> {
        if !self.rejected.is_empty() {
            let rows = std::mem::take(&mut self.rejected);
            self.send(Msg::Rejected(rows))?;
        }
        let batch = self.asm.take_batch().map_err(|source| LoadError::Arrow {
            file: self.file().to_string(),
            source,
        })?;
        if let Some(b) = batch {
            self.send(Msg::Batch(b))?;
        }
        Ok(())
    }

    /// Flushes everything and returns the file's counts and the key index.
    /// Raises [`LoadError::MissingColumn`] when rows were read but a required column never
    /// had an input (NDJSON, whose columns are only known from the rows).
    pub fn finish(mut self) -> Result<(FileStats, PkIndex), LoadError> {
        self.flush()?;
        self.announce_schema()?;
        let known = self.columns_known || self.stats.rows_read > 0;
        let unbound = self.asm.unbound_columns();
        if known {
            if let Some((column, _)) = unbound.iter().find(|(_, required)| *required) {
                let available: Vec<String> = self.asm.extra_names();
                let refs: Vec<&str> = available.iter().map(String::as_str).collect();
                return Err(LoadError::MissingColumn {
                    file: self.file().to_string(),
                    column: column.clone(),
                    suggestion: suggest(column, &refs),
                    available: self
                        .asm
                        .column_names()
                        .into_iter()
                        .filter(|n| !unbound.iter().any(|(u, _)| u == n))
                        .collect(),
                });
            }
            self.stats.missing_optional_columns = unbound.into_iter().map(|(n, _)| n).collect();
        }
        self.stats.extra_columns = self.asm.extra_names();
        Ok((self.stats, self.pk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("CreatedDate", &["Created Date", "Name"]),
            Some("Created Date".into())
        );
        assert_eq!(
            suggest("MQL_Date__c", &["MQL_Date_c", "SQL_Date__c"]),
            Some("MQL_Date_c".into())
        );
        assert_eq!(suggest("AccountId", &["Name", "Amount"]), None);
        assert_eq!(suggest("Id", &["ID_"]), Some("ID_".into()));
    }

    #[test]
    fn unique_names() {
        let taken = vec!["Id".to_string(), "Note".to_string(), "Note_2".to_string()];
        assert_eq!(unique_name(&taken, "Other", 3), "Other");
        assert_eq!(unique_name(&taken, "Note", 3), "Note_3");
        assert_eq!(unique_name(&taken, " ", 4), "column_5");
    }
}
