//! `count_at_or_below(values, x)`: how many of a list's values are at or below `x`.
//!
//! A row's percentile among a reference set, `count_at_or_below(reference, x) / count(reference)`,
//! without a window: `sum(...) OVER (ORDER BY x RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT
//! ROW)` gives the same number but sorts every row, with all its columns, into one partition (at
//! 10M leads `int_lead_scores`' largest sort: the whole scored table). Here the reference is one
//! list, usually a scalar subquery (`(SELECT array_agg(x) FROM reference_rows)`), sorted once and
//! searched for each row: the rows stream through in their own partitions. When only a rounded
//! percentile is wanted the list can be its steps instead (`int_lead_scores`: the 100 reference
//! values at which a 0-100 score rises), which keeps it small wherever it is copied to every row
//! (a Ballista cluster turns the scalar subquery into a join).
//!
//! - `values`: any list of numbers (cast to `List<Float64>`); NULL items are not counted; a NULL
//!   list gives NULL. The list need not be sorted.
//! - `x`: a number; NULL gives NULL.
//! - Order is that of a sort (`f64::total_cmp`, as Arrow sorts floats): ties count as at or below,
//!   NaN is above every number.
//!
//! A constant list (a scalar subquery or literal: the same Arrow buffers for every batch) is
//! sorted once per query: the sorted copy is kept with the list it came from and re-used while
//! that same list comes back. A list column is sorted row by row.

use arrow::array::{Array, ArrayRef, Float64Array, Int64Builder, ListArray};
use arrow::datatypes::{DataType, Field};
use datafusion::common::cast::{as_float64_array, as_list_array};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use super::udf::coerce_to;

/// The function (see the module docs).
#[derive(Debug)]
pub struct CountAtOrBelow {
    signature: Signature,
    /// The last constant list sorted: the list itself (held, so that its buffers cannot be freed
    /// and their addresses re-used by another list while they are the key) and its sorted values.
    sorted: Mutex<Option<(Float64Array, Arc<[f64]>)>>,
}

impl CountAtOrBelow {
    pub const NAME: &'static str = "count_at_or_below";

    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            sorted: Mutex::new(None),
        }
    }

    /// The sorted non-NULL values of `list`, from the cache when it is the list sorted last.
    fn sorted_constant(&self, list: &Float64Array) -> Arc<[f64]> {
        let mut cache = self.sorted.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((key, sorted)) = cache.as_ref() {
            if key.to_data().ptr_eq(&list.to_data()) {
                return Arc::clone(sorted);
            }
        }
        let sorted: Arc<[f64]> = sorted_values(list).into();
        *cache = Some((list.clone(), Arc::clone(&sorted)));
        sorted
    }
}

impl Default for CountAtOrBelow {
    fn default() -> Self {
        Self::new()
    }
}

// Every instance is the same function; the cache is not part of its identity.
impl PartialEq for CountAtOrBelow {
    fn eq(&self, other: &Self) -> bool {
        self.signature == other.signature
    }
}

impl Eq for CountAtOrBelow {}

impl Hash for CountAtOrBelow {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.signature.hash(state);
    }
}

fn float_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// The non-NULL values, sorted as Arrow sorts floats.
fn sorted_values(values: &Float64Array) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().flatten().collect();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted
}

/// How many of `sorted` are at or below `x`.
fn at_or_below(sorted: &[f64], x: f64) -> i64 {
    let n = sorted.partition_point(|v| v.total_cmp(&x) != Ordering::Greater);
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Row `row` of a list array as floats (the arguments are coerced to `List<Float64>`).
fn list_row(list: &ListArray, row: usize) -> Option<ArrayRef> {
    list.is_valid(row).then(|| list.value(row))
}

impl ScalarUDFImpl for CountAtOrBelow {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let f = Self::NAME;
        let [values, x] = arg_types else {
            return plan_err!("{f}(values, x) takes 2 arguments, got {}", arg_types.len());
        };
        let numbers = match values {
            DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
                item.data_type().is_numeric() || item.data_type() == &DataType::Null
            }
            DataType::Null => true,
            _ => false,
        };
        if !numbers {
            return plan_err!("{f}: values must be a list of numbers, got {values}");
        }
        Ok(vec![float_list(), coerce_to(f, "x", x, DataType::Float64)?])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let f = Self::NAME;
        let rows = args.number_rows;
        let [values, x] = args.args.as_slice() else {
            return exec_err!("{f}: expected values, x");
        };
        let x = x.to_array_of_size(rows)?;
        let x = as_float64_array(&x)?;
        let mut out = Int64Builder::with_capacity(rows);
        match values {
            ColumnarValue::Scalar(ScalarValue::List(list)) => {
                let sorted = match list_row(list, 0) {
                    Some(values) => Some(self.sorted_constant(as_float64_array(&values)?)),
                    None => None,
                };
                for row in 0..rows {
                    match &sorted {
                        Some(sorted) if x.is_valid(row) => {
                            out.append_value(at_or_below(sorted, x.value(row)))
                        }
                        _ => out.append_null(),
                    }
                }
            }
            ColumnarValue::Scalar(other) if other.is_null() => out.append_nulls(rows),
            ColumnarValue::Scalar(other) => {
                return exec_err!("{f}: values must be a list, got {}", other.data_type())
            }
            ColumnarValue::Array(array) => {
                let lists = as_list_array(array)?;
                if lists.len() != rows {
                    return exec_err!("{f}: values have {} rows, expected {rows}", lists.len());
                }
                for row in 0..rows {
                    match list_row(lists, row) {
                        Some(values) if x.is_valid(row) => {
                            let sorted = sorted_values(as_float64_array(&values)?);
                            out.append_value(at_or_below(&sorted, x.value(row)));
                        }
                        _ => out.append_null(),
                    }
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, RecordBatch};
    use arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::logical_expr::ScalarUDF;
    use datafusion::prelude::{SessionConfig, SessionContext};

    #[test]
    fn counts_ties_as_at_or_below_and_skips_nulls() {
        let sorted = sorted_values(&Float64Array::from(vec![
            Some(0.5),
            None,
            Some(0.1),
            Some(0.5),
            Some(f64::NAN),
            Some(0.9),
        ]));
        assert_eq!(sorted.len(), 5);
        assert_eq!(at_or_below(&sorted, 0.0), 0);
        assert_eq!(at_or_below(&sorted, 0.1), 1);
        assert_eq!(at_or_below(&sorted, 0.49), 1);
        assert_eq!(at_or_below(&sorted, 0.5), 3);
        assert_eq!(at_or_below(&sorted, 0.95), 4);
        assert_eq!(at_or_below(&sorted, f64::NAN), 5);
        assert_eq!(at_or_below(&[], 0.5), 0);
    }

    /// `count_at_or_below` over a scalar subquery gives, row for row, what the running window it
    /// replaces in int_lead_scores gives: random values with many ties, reference rows flagged.
    #[tokio::test]
    async fn equals_the_running_window_it_replaces() {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_batch_size(64));
        ctx.register_udf(ScalarUDF::from(CountAtOrBelow::new()));
        let n = 3000;
        let ids: Vec<i64> = (0..n).collect();
        // 0.00 .. 0.49 in steps of 0.01: ~60 rows per value; every third row is a reference row
        let p: Vec<Option<f64>> = (0..n)
            .map(|i| Some(((i * 37) % 50) as f64 / 100.0))
            .collect();
        let reference: Vec<bool> = (0..n).map(|i| (i * 7) % 3 == 0).collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("p", DataType::Float64, true),
                Field::new("reference", DataType::Boolean, false),
            ])),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(Float64Array::from(p)),
                Arc::new(arrow::array::BooleanArray::from(reference)),
            ],
        )
        .unwrap();
        let schema = batch.schema();
        let parts = vec![vec![batch.slice(0, 1500)], vec![batch.slice(1500, 1500)]];
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
            .unwrap();
        let differ = ctx
            .sql(
                "WITH by_function AS (
                     SELECT id, count_at_or_below(
                         (SELECT array_agg(p) FROM t WHERE reference), p) AS c
                     FROM t),
                 by_window AS (
                     SELECT id, sum(CASE WHEN reference THEN 1 ELSE 0 END) OVER (
                         ORDER BY p RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS c
                     FROM t)
                 SELECT count(*) FROM by_function JOIN by_window USING (id)
                 WHERE by_function.c IS DISTINCT FROM by_window.c",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let column = differ[0].column(0).as_any().downcast_ref::<Int64Array>();
        assert_eq!(column.map(|c| c.value(0)), Some(0));
        // and the counts are not trivially equal: the largest is every reference row
        let max = ctx
            .sql("SELECT max(count_at_or_below((SELECT array_agg(p) FROM t WHERE reference), p)) FROM t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let max = max[0].column(0).as_any().downcast_ref::<Int64Array>();
        assert_eq!(max.map(|c| c.value(0)), Some(1000));
    }

    #[tokio::test]
    async fn nulls_lists_and_errors() {
        let ctx = SessionContext::new();
        ctx.register_udf(ScalarUDF::from(CountAtOrBelow::new()));
        let one = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let batches = ctx.sql(sql).await?.collect().await?;
                let column = batches[0].column(0).clone();
                Ok::<_, datafusion::error::DataFusionError>(
                    column
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .map(|c| c.is_valid(0).then(|| c.value(0))),
                )
            }
        };
        // integer lists are cast; the list need not be sorted
        assert_eq!(
            one("SELECT count_at_or_below([3, 1, 2, 2], 2)")
                .await
                .unwrap(),
            Some(Some(3))
        );
        assert_eq!(
            one("SELECT count_at_or_below([0.5, NULL], 1.0)")
                .await
                .unwrap(),
            Some(Some(1))
        );
        assert_eq!(
            one("SELECT count_at_or_below([1, 2], NULL)").await.unwrap(),
            Some(None)
        );
        assert_eq!(
            one("SELECT count_at_or_below(NULL, 1)").await.unwrap(),
            Some(None)
        );
        // a list column, row by row
        assert_eq!(
            one("SELECT count_at_or_below(v, 5) FROM (VALUES ([9, 1, 5]), ([7])) AS t(v) ORDER BY 1 DESC")
                .await
                .unwrap(),
            Some(Some(2))
        );
        let err = one("SELECT count_at_or_below(['a'], 1)").await.unwrap_err();
        assert!(
            err.to_string()
                .contains("count_at_or_below: values must be a list of numbers"),
            "{err}"
        );
        let err = one("SELECT count_at_or_below([1], 'x')").await.unwrap_err();
        assert!(
            err.to_string()
                .contains("count_at_or_below: x must be Float64"),
            "{err}"
        );
    }

    #[test]
    fn a_new_list_is_sorted_again() {
        let f = CountAtOrBelow::new();
        let a = Float64Array::from(vec![3.0, 1.0]);
        let b = Float64Array::from(vec![0.0, 0.0, 5.0]);
        assert_eq!(&*f.sorted_constant(&a), &[1.0, 3.0]);
        assert_eq!(&*f.sorted_constant(&a), &[1.0, 3.0]);
        assert_eq!(&*f.sorted_constant(&b), &[0.0, 0.0, 5.0]);
        // a slice of the same buffer is another list
        assert_eq!(&*f.sorted_constant(&a.slice(1, 1)), &[1.0]);
    }
}
