//! The DataFusion side: the aggregate `logistic_fit` and the scalar functions that apply a model.
//!
//! Argument types: features are any list of strings (`List`/`LargeList` of `Utf8`, `LargeUtf8`
//! or `Utf8View`, read without a cast; a `FixedSizeList` or NULL is cast to `List<Utf8>`); a
//! NULL list counts as an empty one. Models are any string type. Labels are booleans (integers
//! are cast: non-zero is true). Malformed input (a string that is not a model, a non-constant or
//! negative `l2`) is a DataFusion error naming the function, never a panic.

use super::counts::{CountsError, PatternCounts, StateParts};
use super::logistic::{self, FitOptions};
use super::model::{ordered_map, Model, ModelSpec};
use super::reasons;
use super::{DEFAULT_L2, MAX_TOKENS, MIN_COUNT};
use arrow::array::{
    Array, ArrayRef, Float64Builder, LargeStringArray, ListArray, RecordBatch, StringArray,
    StringBuilder, StringViewArray, UInt32Array, UInt64Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::cast::{
    as_boolean_array, as_int64_array, as_large_list_array, as_large_string_array, as_list_array,
    as_string_array, as_string_view_array, as_uint32_array, as_uint64_array,
};
use datafusion::common::{exec_err, plan_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::{format_state_name, AggregateOrderSensitivity};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::physical_expr::PhysicalExpr;
use serde::Serialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

// ---------------------------------------------------------------------------------------------
// Argument types

fn is_string(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

fn utf8_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

fn coerce_features(function: &str, dt: &DataType) -> Result<DataType> {
    match dt {
        DataType::List(f) | DataType::LargeList(f) if is_string(f.data_type()) => Ok(dt.clone()),
        DataType::FixedSizeList(f, _) if is_string(f.data_type()) => Ok(DataType::List(Arc::new(
            Field::new_list_field(f.data_type().clone(), true),
        ))),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
            if f.data_type() == &DataType::Null =>
        {
            Ok(utf8_list())
        }
        DataType::Null => Ok(utf8_list()),
        other => plan_err!(
            "{function}: features must be a list of strings, e.g. \
             make_array('industry=' || industry, 'channel=' || lead_source); got {other}"
        ),
    }
}

fn coerce_model(function: &str, dt: &DataType) -> Result<DataType> {
    match dt {
        dt if is_string(dt) => Ok(dt.clone()),
        DataType::Dictionary(_, v) if is_string(v) => Ok(v.as_ref().clone()),
        DataType::Null => Ok(DataType::Utf8),
        other => {
            plan_err!("{function}: the model must be the string from logistic_fit, got {other}")
        }
    }
}

pub(super) fn coerce_to(
    function: &str,
    what: &str,
    dt: &DataType,
    target: DataType,
) -> Result<DataType> {
    let ok = match target {
        DataType::Boolean => matches!(dt, DataType::Boolean | DataType::Null) || dt.is_integer(),
        DataType::Float64 => dt.is_numeric() || dt == &DataType::Null,
        DataType::Int64 => dt.is_integer() || dt == &DataType::Null,
        _ => false,
    };
    if ok {
        Ok(target)
    } else {
        plan_err!("{function}: {what} must be {target}, got {dt}")
    }
}

// ---------------------------------------------------------------------------------------------
// Reading arrays without copying

/// A string array of any of the three layouts.
#[derive(Clone, Copy)]
pub(super) enum Strings<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Strings<'a> {
    pub(super) fn try_new(array: &'a dyn Array, what: &str) -> Result<Self> {
        match array.data_type() {
            DataType::Utf8 => Ok(Self::Utf8(as_string_array(array)?)),
            DataType::LargeUtf8 => Ok(Self::Large(as_large_string_array(array)?)),
            DataType::Utf8View => Ok(Self::View(as_string_view_array(array)?)),
            other => exec_err!("{what} must be strings, got {other}"),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Utf8(a) => a.len(),
            Self::Large(a) => a.len(),
            Self::View(a) => a.len(),
        }
    }

    /// Row `i` (below `len()`), `None` when NULL.
    pub(super) fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Self::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Self::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Self::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }

    /// Whether rows `i` and `j` hold the same value; for views of one shared buffer (what a join
    /// or a repeated scalar produces) this is a 16-byte comparison, not a string comparison.
    pub(super) fn same(&self, i: usize, j: usize) -> bool {
        if let Self::View(a) = self {
            if a.is_valid(i) && a.is_valid(j) && a.views()[i] == a.views()[j] {
                return true;
            }
        }
        self.get(i) == self.get(j)
    }
}

enum Offsets<'a> {
    Small(&'a [i32]),
    Large(&'a [i64]),
}

/// A list-of-strings column: row `i` is an iterator over its non-NULL strings.
struct TokenLists<'a> {
    offsets: Offsets<'a>,
    nulls: Option<&'a NullBuffer>,
    values: Strings<'a>,
    len: usize,
}

impl<'a> TokenLists<'a> {
    fn try_new(array: &'a ArrayRef, what: &str) -> Result<Self> {
        match array.data_type() {
            DataType::List(_) => {
                let list = as_list_array(array)?;
                Ok(Self {
                    offsets: Offsets::Small(list.value_offsets()),
                    nulls: list.nulls(),
                    values: Strings::try_new(list.values().as_ref(), what)?,
                    len: list.len(),
                })
            }
            DataType::LargeList(_) => {
                let list = as_large_list_array(array)?;
                Ok(Self {
                    offsets: Offsets::Large(list.value_offsets()),
                    nulls: list.nulls(),
                    values: Strings::try_new(list.values().as_ref(), what)?,
                    len: list.len(),
                })
            }
            other => exec_err!("{what} must be a list of strings, got {other}"),
        }
    }

    /// The positions of row `i`'s items in the values array (below `len`); a NULL list is empty.
    fn bounds(&self, i: usize) -> std::ops::Range<usize> {
        let (start, end) = if self.nulls.is_some_and(|n| n.is_null(i)) {
            (0, 0)
        } else {
            match self.offsets {
                // Offsets of a valid array are non-negative and increasing.
                Offsets::Small(o) => (o[i].max(0) as usize, o[i + 1].max(0) as usize),
                Offsets::Large(o) => (o[i].max(0) as usize, o[i + 1].max(0) as usize),
            }
        };
        start..end.min(self.values.len())
    }

    /// The strings of row `i` (below `len`); a NULL list reads as empty, NULL items are skipped.
    fn row(&self, i: usize) -> impl Iterator<Item = &'a str> + 'a {
        let values = self.values;
        self.bounds(i).filter_map(move |j| values.get(j))
    }
}

/// The model argument of a scalar function: each distinct model string is parsed once per batch.
struct ModelColumn<'a> {
    function: &'static str,
    scalar: Option<Option<Arc<Model>>>,
    array: Option<Strings<'a>>,
    last: Option<(usize, Arc<Model>)>,
    parsed: HashMap<&'a str, Arc<Model>>,
}

impl<'a> ModelColumn<'a> {
    fn try_new(function: &'static str, value: &'a ColumnarValue, rows: usize) -> Result<Self> {
        let parse = |text: &str| {
            Model::parse(text)
                .map(Arc::new)
                .map_err(|e| DataFusionError::Execution(format!("{function}: {e}")))
        };
        let mut column = Self {
            function,
            scalar: None,
            array: None,
            last: None,
            parsed: HashMap::new(),
        };
        match value {
            ColumnarValue::Scalar(s) => match s.try_as_str() {
                Some(text) => column.scalar = Some(text.map(parse).transpose()?),
                None => {
                    return exec_err!(
                        "{function}: the model must be a string, got {}",
                        s.data_type()
                    )
                }
            },
            ColumnarValue::Array(a) => {
                if a.len() != rows {
                    return exec_err!(
                        "{function}: model column has {} rows, expected {rows}",
                        a.len()
                    );
                }
                column.array = Some(Strings::try_new(a.as_ref(), function)?);
            }
        }
        Ok(column)
    }

    fn get(&mut self, row: usize) -> Result<Option<Arc<Model>>> {
        if let Some(model) = &self.scalar {
            return Ok(model.clone());
        }
        let Some(strings) = self.array else {
            return Ok(None);
        };
        let Some(text) = strings.get(row) else {
            return Ok(None);
        };
        if let Some((prev, model)) = &self.last {
            if strings.same(*prev, row) {
                return Ok(Some(model.clone()));
            }
        }
        let model = match self.parsed.get(text) {
            Some(m) => m.clone(),
            None => {
                let m =
                    Arc::new(Model::parse(text).map_err(|e| {
                        DataFusionError::Execution(format!("{}: {e}", self.function))
                    })?);
                self.parsed.insert(text, m.clone());
                m
            }
        };
        self.last = Some((row, model.clone()));
        Ok(Some(model))
    }
}

/// A row's known tokens ([`Model::known`]), with the token lookups of one batch remembered by
/// the strings' 16-byte views. A column read from dictionary-encoded Parquet holds each distinct
/// token once and views it from every row, so a batch's ~25k tokens are a few hundred distinct
/// views: an integer lookup each instead of hashing and comparing the string (at 10M leads the
/// three scoring calls spent 17 s looking up strings).
#[derive(Default)]
struct KnownTokens {
    model: Option<Arc<Model>>,
    by_view: ViewMemo<Option<u32>>,
}

/// What was looked up for the strings of one `StringViewArray`, by their 16-byte views: within
/// one array a view names the same bytes (the string itself up to 12 bytes, else its buffer,
/// offset and length), so a repeated string is an integer lookup.
struct ViewMemo<V> {
    map: hashbrown::HashMap<u128, V, Xxh3DefaultBuilder>,
}

impl<V> Default for ViewMemo<V> {
    fn default() -> Self {
        ViewMemo {
            map: hashbrown::HashMap::default(),
        }
    }
}

impl<V: Copy> ViewMemo<V> {
    /// The value for item `j` of `values`, from `look_up` the first time its view is seen.
    fn get(&mut self, values: &StringViewArray, j: usize, look_up: impl FnOnce(&str) -> V) -> V {
        let found = self.try_get(values, j, |s| Ok::<_, Infallible>(look_up(s)));
        found.unwrap_or_else(|never| match never {})
    }

    /// [`Self::get`] with a lookup that may fail (nothing is remembered then).
    fn try_get<E>(
        &mut self,
        values: &StringViewArray,
        j: usize,
        look_up: impl FnOnce(&str) -> std::result::Result<V, E>,
    ) -> std::result::Result<V, E> {
        match self.map.entry(values.views()[j]) {
            hashbrown::hash_map::Entry::Occupied(e) => Ok(*e.get()),
            hashbrown::hash_map::Entry::Vacant(e) => Ok(*e.insert(look_up(values.value(j))?)),
        }
    }
}

impl KnownTokens {
    fn known(
        &mut self,
        model: &Arc<Model>,
        lists: &TokenLists<'_>,
        row: usize,
        out: &mut Vec<u32>,
    ) {
        let Strings::View(values) = lists.values else {
            return model.known(lists.row(row), out);
        };
        if !self.model.as_ref().is_some_and(|m| Arc::ptr_eq(m, model)) {
            self.by_view = ViewMemo::default();
            self.model = Some(Arc::clone(model));
        }
        out.clear();
        for j in lists.bounds(row) {
            if values.is_null(j) {
                continue;
            }
            out.extend(self.by_view.get(values, j, |token| model.rank(token)));
        }
        out.sort_unstable();
        out.dedup();
    }
}

// ---------------------------------------------------------------------------------------------
// logistic_fit

/// `logistic_fit(features, label [, l2])`: the aggregate that fits a model (see the module docs of
/// [`super`]).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LogisticFit {
    signature: Signature,
}

impl LogisticFit {
    pub const NAME: &'static str = "logistic_fit";

    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for LogisticFit {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for LogisticFit {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let f = Self::NAME;
        match arg_types {
            [features, label] => Ok(vec![
                coerce_features(f, features)?,
                coerce_to(f, "label", label, DataType::Boolean)?,
            ]),
            [features, label, l2] => Ok(vec![
                coerce_features(f, features)?,
                coerce_to(f, "label", label, DataType::Boolean)?,
                coerce_to(f, "l2", l2, DataType::Float64)?,
            ]),
            _ => plan_err!(
                "{f}(features, label [, l2]) takes 2 or 3 arguments, got {}",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return plan_err!(
                "{}: DISTINCT is not supported (it would drop repeated rows)",
                Self::NAME
            );
        }
        let l2 = match args.exprs.get(2) {
            Some(expr) => constant_l2(expr, args.schema)?,
            None => DEFAULT_L2,
        };
        Ok(Box::new(LogisticFitAccumulator::new(l2)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, item: DataType| {
            Arc::new(Field::new(
                format_state_name(args.name, name),
                DataType::List(Arc::new(Field::new_list_field(item, true))),
                true,
            ))
        };
        Ok(vec![
            list("tokens", DataType::Utf8),
            list("ids", DataType::UInt32),
            list("lens", DataType::UInt32),
            list("rows", DataType::UInt64),
            list("positives", DataType::UInt64),
        ])
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }
}

/// The value of the `l2` argument, which must not depend on the row.
fn constant_l2(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<f64> {
    let empty = RecordBatch::new_empty(Arc::new(schema.clone()));
    let name = LogisticFit::NAME;
    match expr.evaluate(&empty)? {
        ColumnarValue::Scalar(ScalarValue::Float64(None)) => Ok(DEFAULT_L2),
        ColumnarValue::Scalar(ScalarValue::Float64(Some(v))) if v.is_finite() && v >= 0.0 => Ok(v),
        ColumnarValue::Scalar(ScalarValue::Float64(Some(v))) => {
            exec_err!("{name}: l2 must be a finite number >= 0, got {v}")
        }
        ColumnarValue::Scalar(other) => {
            exec_err!("{name}: l2 must be a number, got {}", other.data_type())
        }
        ColumnarValue::Array(_) => {
            exec_err!("{name}: l2 must be a constant (a literal or a var), not a column")
        }
    }
}

fn counts_error(e: CountsError) -> DataFusionError {
    DataFusionError::Execution(format!("{}: {e}", LogisticFit::NAME))
}

/// A single-row list scalar holding `values`.
pub(super) fn list_scalar(values: ArrayRef) -> Result<ScalarValue> {
    if i32::try_from(values.len()).is_err() {
        return exec_err!(
            "{}: partial state of {} values is too large for a list",
            LogisticFit::NAME,
            values.len()
        );
    }
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    Ok(ScalarValue::List(Arc::new(ListArray::try_new(
        field, offsets, values, None,
    )?)))
}

/// The accumulator of [`LogisticFit`]: counts per pattern, fitted once in `evaluate`.
///
/// Both ways out hand the counts over rather than copy them (at 10M leads they are the largest
/// thing the run holds): `state` moves them into the partial state's arrays, `evaluate` re-writes
/// them into the fit's design and keeps the model it returns. Rows arriving after either (a
/// growing window frame, which would evaluate after every row) are an error, never a model of
/// part of the rows.
#[derive(Debug)]
pub struct LogisticFitAccumulator {
    counts: PatternCounts,
    l2: f64,
    /// Set once the counts are handed over: by `state` (None) or `evaluate` (its model).
    spent: Option<Option<ScalarValue>>,
}

impl LogisticFitAccumulator {
    pub fn new(l2: f64) -> Self {
        Self {
            counts: PatternCounts::new(),
            l2,
            spent: None,
        }
    }

    /// An error when the counts have been handed over.
    fn check_unspent(&self) -> Result<()> {
        match self.spent {
            None => Ok(()),
            Some(_) => exec_err!(
                "{}: rows arrived after the model was computed (logistic_fit is an aggregate, \
                 not a window function)",
                LogisticFit::NAME
            ),
        }
    }

    fn fit(&mut self) -> Result<ScalarValue> {
        let design = std::mem::take(&mut self.counts).into_design(MIN_COUNT, MAX_TOKENS);
        let fit = logistic::fit(
            &design,
            FitOptions {
                l2: self.l2,
                ..FitOptions::default()
            },
        );
        if !fit.converged {
            tracing::warn!(
                iterations = fit.iterations,
                tokens = design.tokens.len(),
                "logistic_fit did not converge; the model is the best iterate"
            );
        }
        tracing::debug!(
            rows = design.total_rows,
            patterns = design.patterns(),
            tokens = design.tokens.len(),
            iterations = fit.iterations,
            "logistic_fit"
        );
        let weights = if fit.weights.is_empty() {
            Vec::new()
        } else {
            design
                .tokens
                .iter()
                .cloned()
                .zip(fit.weights.iter().copied())
                .collect()
        };
        let spec = ModelSpec {
            intercept: fit.intercept,
            weights,
            rows: design.total_rows,
            positives: design.total_positives,
            l2: self.l2,
            min_count: MIN_COUNT,
        };
        let json = spec
            .to_json()
            .map_err(|e| DataFusionError::Execution(format!("{}: {e}", LogisticFit::NAME)))?;
        Ok(ScalarValue::Utf8(Some(json)))
    }
}

impl Accumulator for LogisticFitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.check_unspent()?;
        let [features, labels, ..] = values else {
            return exec_err!("{}: expected features and label", LogisticFit::NAME);
        };
        let lists = TokenLists::try_new(features, "logistic_fit features")?;
        let labels = as_boolean_array(labels)?;
        if lists.len != labels.len() {
            return exec_err!(
                "{}: features and labels differ in length",
                LogisticFit::NAME
            );
        }
        // Token ids remembered by string view within this batch.
        let mut by_view = ViewMemo::<u32>::default();
        let mut ids = Vec::new();
        for row in 0..labels.len() {
            if !labels.is_valid(row) {
                continue;
            }
            match lists.values {
                Strings::View(values) => {
                    ids.clear();
                    for j in lists.bounds(row) {
                        if values.is_null(j) {
                            continue;
                        }
                        let counts = &mut self.counts;
                        let id = by_view.try_get(values, j, |token| counts.token_id(token));
                        ids.push(id.map_err(counts_error)?);
                    }
                    self.counts
                        .add_row_ids(&mut ids, labels.value(row))
                        .map_err(counts_error)?;
                }
                _ => self
                    .counts
                    .add_row(lists.row(row), labels.value(row))
                    .map_err(counts_error)?,
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.check_unspent()?;
        self.spent = Some(None);
        let flat = self.counts.take_state();
        Ok(vec![
            list_scalar(Arc::new(StringArray::from_iter_values(
                flat.tokens.iter().map(|t| &**t),
            )))?,
            list_scalar(Arc::new(UInt32Array::from(flat.ids)))?,
            list_scalar(Arc::new(UInt32Array::from(flat.lens)))?,
            list_scalar(Arc::new(UInt64Array::from(flat.rows)))?,
            list_scalar(Arc::new(UInt64Array::from(flat.positives)))?,
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.check_unspent()?;
        let [tokens, ids, lens, rows, positives] = states else {
            return exec_err!(
                "{}: expected 5 state columns, got {}",
                LogisticFit::NAME,
                states.len()
            );
        };
        let tokens = as_list_array(tokens)?;
        let ids = as_list_array(ids)?;
        let lens = as_list_array(lens)?;
        let rows = as_list_array(rows)?;
        let positives = as_list_array(positives)?;
        let n = tokens.len();
        if [ids.len(), lens.len(), rows.len(), positives.len()]
            .iter()
            .any(|&l| l != n)
        {
            return exec_err!("{}: state columns differ in length", LogisticFit::NAME);
        }
        for r in 0..n {
            if tokens.is_null(r) {
                continue;
            }
            let token_values = tokens.value(r);
            let strings = Strings::try_new(token_values.as_ref(), "logistic_fit state")?;
            let mut names = Vec::with_capacity(strings.len());
            for i in 0..strings.len() {
                match strings.get(i) {
                    Some(t) => names.push(t),
                    None => {
                        return Err(counts_error(CountsError::CorruptState("NULL token".into())))
                    }
                }
            }
            let (ids_r, lens_r, rows_r, pos_r) = (
                ids.value(r),
                lens.value(r),
                rows.value(r),
                positives.value(r),
            );
            let (ids_r, lens_r) = (as_uint32_array(&ids_r)?, as_uint32_array(&lens_r)?);
            let (rows_r, pos_r) = (as_uint64_array(&rows_r)?, as_uint64_array(&pos_r)?);
            if ids_r.null_count() + lens_r.null_count() + rows_r.null_count() + pos_r.null_count()
                > 0
            {
                return Err(counts_error(CountsError::CorruptState("NULL count".into())));
            }
            self.counts
                .merge_flat(StateParts {
                    tokens: &names,
                    ids: ids_r.values(),
                    lens: lens_r.values(),
                    rows: rows_r.values(),
                    positives: pos_r.values(),
                })
                .map_err(counts_error)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match &self.spent {
            None => {
                let model = self.fit()?;
                self.spent = Some(Some(model.clone()));
                Ok(model)
            }
            Some(Some(model)) => Ok(model.clone()),
            Some(None) => exec_err!(
                "{}: evaluated after its partial state was taken",
                LogisticFit::NAME
            ),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) - std::mem::size_of::<PatternCounts>() + self.counts.size()
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar functions

/// What each scalar function computes from a row's known (token, weight) pairs.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum Apply {
    Score,
    Reasons,
    Contributions,
    Version,
}

/// `logistic_score`, `logistic_reasons` and `logistic_contributions`: one implementation that
/// differs in arguments and output.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LogisticApply {
    apply: Apply,
    signature: Signature,
}

impl LogisticApply {
    /// `logistic_score(model, features) -> Float64`: the probability.
    pub fn score() -> Self {
        Self::new(Apply::Score)
    }

    /// `logistic_reasons(model, features, n) -> Utf8`: the `n` strongest reasons in words.
    pub fn reasons() -> Self {
        Self::new(Apply::Reasons)
    }

    /// `logistic_contributions(model, features) -> Utf8`: JSON with the intercept, the log-odds
    /// and each known token's contribution (its weight), sorted by token.
    pub fn contributions() -> Self {
        Self::new(Apply::Contributions)
    }

    /// `logistic_version(model) -> Utf8`: the model's version, for `model_version` columns.
    pub fn version() -> Self {
        Self::new(Apply::Version)
    }

    fn new(apply: Apply) -> Self {
        Self {
            apply,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Apply {
    fn name(self) -> &'static str {
        match self {
            Apply::Score => "logistic_score",
            Apply::Reasons => "logistic_reasons",
            Apply::Contributions => "logistic_contributions",
            Apply::Version => "logistic_version",
        }
    }
}

/// `logistic_version`: the `version` of each model (NULL for a NULL model).
fn version_of(model: &ColumnarValue, rows: usize) -> Result<ColumnarValue> {
    let mut models = ModelColumn::try_new(Apply::Version.name(), model, rows)?;
    let mut out = StringBuilder::with_capacity(rows, rows * 16);
    for row in 0..rows {
        out.append_option(models.get(row)?.and_then(|m| m.version.clone()));
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

#[derive(Serialize)]
struct Contributions<'a> {
    version: Option<&'a str>,
    intercept: f64,
    logit: f64,
    probability: f64,
    #[serde(serialize_with = "ordered_map")]
    contributions: &'a [(&'a str, f64)],
}

impl ScalarUDFImpl for LogisticApply {
    fn name(&self) -> &str {
        self.apply.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let f = self.name();
        match (self.apply, arg_types) {
            (Apply::Score | Apply::Contributions, [model, features]) => {
                Ok(vec![coerce_model(f, model)?, coerce_features(f, features)?])
            }
            (Apply::Reasons, [model, features, n]) => Ok(vec![
                coerce_model(f, model)?,
                coerce_features(f, features)?,
                coerce_to(f, "n", n, DataType::Int64)?,
            ]),
            (Apply::Version, [model]) => Ok(vec![coerce_model(f, model)?]),
            (Apply::Version, _) => {
                plan_err!("{f}(model) takes 1 argument, got {}", arg_types.len())
            }
            (Apply::Reasons, _) => plan_err!(
                "{f}(model, features, n) takes 3 arguments, got {}",
                arg_types.len()
            ),
            _ => plan_err!(
                "{f}(model, features) takes 2 arguments, got {}",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.apply {
            Apply::Score => DataType::Float64,
            Apply::Reasons | Apply::Contributions | Apply::Version => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let function = self.apply.name();
        let rows = args.number_rows;
        let (model, features, n) = match (self.apply, args.args.as_slice()) {
            (Apply::Reasons, [m, f, n]) => (m, f, Some(n.to_array_of_size(rows)?)),
            (Apply::Score | Apply::Contributions, [m, f]) => (m, f, None),
            (Apply::Version, [m]) => return version_of(m, rows),
            _ => {
                return exec_err!(
                    "{function}: wrong number of arguments ({})",
                    args.args.len()
                )
            }
        };
        let features = features.to_array_of_size(rows)?;
        let lists = TokenLists::try_new(&features, function)?;
        if lists.len != rows {
            return exec_err!(
                "{function}: features have {} rows, expected {rows}",
                lists.len
            );
        }
        let mut models = ModelColumn::try_new(function, model, rows)?;
        let mut known = Vec::new();
        let mut lookups = KnownTokens::default();
        match self.apply {
            Apply::Score => {
                let mut out = Float64Builder::with_capacity(rows);
                for row in 0..rows {
                    match models.get(row)? {
                        Some(m) => {
                            lookups.known(&m, &lists, row, &mut known);
                            out.append_value(logistic::sigmoid(m.logit_of(&known)));
                        }
                        None => out.append_null(),
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
            Apply::Reasons => {
                let counts = n.map(|a| as_int64_array(&a).cloned()).transpose()?;
                let mut out = StringBuilder::with_capacity(rows, rows * 64);
                for row in 0..rows {
                    let limit = counts
                        .as_ref()
                        .and_then(|c| c.is_valid(row).then(|| c.value(row)));
                    match (models.get(row)?, limit) {
                        (Some(m), Some(limit)) => {
                            lookups.known(&m, &lists, row, &mut known);
                            let limit = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
                            out.append_value(reasons::top_reasons(&m, &mut known, limit));
                        }
                        _ => out.append_null(),
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
            Apply::Version => version_of(model, rows),
            Apply::Contributions => {
                let mut out = StringBuilder::with_capacity(rows, rows * 128);
                for row in 0..rows {
                    match models.get(row)? {
                        Some(m) => {
                            lookups.known(&m, &lists, row, &mut known);
                            let logit = m.logit_of(&known);
                            let pairs: Vec<(&str, f64)> = known
                                .iter()
                                .map(|&r| (&*m.token(r).token, m.token(r).weight))
                                .collect();
                            let json = serde_json::to_string(&Contributions {
                                version: m.version.as_deref(),
                                intercept: m.intercept,
                                logit,
                                probability: logistic::sigmoid(logit),
                                contributions: &pairs,
                            })
                            .map_err(|e| DataFusionError::Execution(format!("{function}: {e}")))?;
                            out.append_value(json);
                        }
                        None => out.append_null(),
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
        }
    }
}
