//! Compact batches after aggregations and hash joins, so that memory accounting sees their size.
//!
//! DataFusion 55 emits an aggregation's groups as one large array and passes it on in slices of
//! `batch_size` rows, and a hash join's string columns (`Utf8View`) point into the buffers of the
//! side they were taken from. Each such batch reports the whole shared buffers as its memory
//! size, so a sort, a repartition or a join build downstream reserves the size of the table once
//! per batch. On the 1M-lead benchmark an aggregation of 646k rows (30 MB of data) reported
//! 2.5 GB, and sorts failed for want of memory that a 4 GiB pool never held (real peak: under
//! 500 MB); at 10M leads, under a 2 GiB limit, such phantom bytes are what made models fail.
//!
//! Window aggregations do the same: a window over a whole partition (`count(*) OVER (PARTITION BY
//! x)`) gathers the partition and emits slices of it; at 10M leads a sort after such a window in
//! `int_lead_holdout_scores` asked the pool for 18.4 GB for one batch of four columns. Sort-merge
//! joins' string columns point into their inputs' buffers like hash joins'.
//!
//! At 10M leads a sort of `int_lead_holdout_scores` (after a scalar subquery's cross join and a
//! filter) asked for 10.7 GB for one batch under a 2 GiB limit: what a sort buffers is now compacted
//! whatever produced it.
//!
//! [`CompactRule`], a physical optimizer rule the engine appends to DataFusion's, puts a
//! [`CompactExec`] on top of every aggregation, join (hash, sort-merge, cross, nested loop) and
//! window aggregation, and below every sort and every join's build side. It copies a column into buffers of
//! its own only when the column holds more than twice the bytes its rows use (and 256 KiB more):
//! a copy of the rows' real bytes, cheap next to the sort or join it saves.

use datafusion::arrow::array::{make_array, Array, ArrayRef, AsArray, MutableArrayData};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::joins::{
    CrossJoinExec, HashJoinExec, NestedLoopJoinExec, SortMergeJoinExec,
};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;
use std::fmt;
use std::sync::Arc;

/// Extra bytes a column may hold beyond its rows' before it is copied.
const SLACK: usize = 256 << 10;

/// Wraps aggregations, joins and window aggregations in a [`CompactExec`].
#[derive(Debug, Default)]
pub struct CompactRule;

/// `node` with a [`CompactExec`] between it and its child `index` (unless one is there already);
/// whether it changed.
fn compact_child(
    node: Arc<dyn ExecutionPlan>,
    index: usize,
) -> Result<(Arc<dyn ExecutionPlan>, bool)> {
    let mut children: Vec<Arc<dyn ExecutionPlan>> = node.children().into_iter().cloned().collect();
    match children.get(index) {
        Some(child) if child.downcast_ref::<CompactExec>().is_none() => {
            children[index] = Arc::new(CompactExec::new(Arc::clone(child)));
            let node = datafusion::physical_plan::execution_plan::replace_children_if_necessary(
                node, children,
            )?;
            Ok((node, true))
        }
        _ => Ok((node, false)),
    }
}

impl PhysicalOptimizerRule for CompactRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            // What a sort or a join's build side (child 0) buffers is compacted first, whatever
            // produced it (a scan's string columns share their page's buffers; a filter keeps
            // them for the rows it drops): at 10M leads the build sides of `int_contracts`'
            // joins (0.9M rows) were accounted at 2 GB.
            let buffered = if node.downcast_ref::<SortExec>().is_some()
                || node.downcast_ref::<HashJoinExec>().is_some()
                || node.downcast_ref::<CrossJoinExec>().is_some()
                || node.downcast_ref::<NestedLoopJoinExec>().is_some()
            {
                Some(0)
            } else {
                None
            };
            let (node, changed) = match buffered {
                Some(child) => compact_child(node, child)?,
                None => (node, false),
            };
            let emits_shared = node.downcast_ref::<AggregateExec>().is_some()
                || node.downcast_ref::<HashJoinExec>().is_some()
                || node.downcast_ref::<SortMergeJoinExec>().is_some()
                || node.downcast_ref::<CrossJoinExec>().is_some()
                || node.downcast_ref::<NestedLoopJoinExec>().is_some()
                || node.downcast_ref::<WindowAggExec>().is_some()
                || node.downcast_ref::<BoundedWindowAggExec>().is_some();
            if emits_shared {
                Ok(Transformed::yes(
                    Arc::new(CompactExec::new(node)) as Arc<dyn ExecutionPlan>
                ))
            } else {
                // A parent takes a changed child only when it is marked as changed.
                Ok(Transformed::new_transformed(node, changed))
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "beacon_compact_batches"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Passes its input's batches on, copying columns that hold far more memory than their rows use.
/// Everything about the plan (schema, partitioning, ordering) is its input's.
#[derive(Debug)]
pub struct CompactExec {
    input: Arc<dyn ExecutionPlan>,
}

impl CompactExec {
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        CompactExec { input }
    }
}

impl DisplayAs for CompactExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CompactExec")
    }
}

impl ExecutionPlan for CompactExec {
    fn name(&self) -> &str {
        "CompactExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(CompactExec::new(input))),
            _ => Err(datafusion::error::DataFusionError::Internal(
                "CompactExec takes exactly one input".to_string(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let compacted = input.map(|batch| batch.and_then(compact_batch));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, compacted)))
    }
}

/// The batch with each bloated column copied into buffers of its own.
pub fn compact_batch(batch: RecordBatch) -> Result<RecordBatch> {
    let mut changed = false;
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match compact_array(c) {
            Some(copy) => {
                changed = true;
                copy
            }
            None => Arc::clone(c),
        })
        .collect();
    if !changed {
        return Ok(batch);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &options,
    )?)
}

fn bloated(held: usize, used: usize) -> bool {
    held > used.saturating_mul(2).saturating_add(SLACK)
}

/// A compact copy of `array`, or `None` when it is compact enough.
fn compact_array(array: &ArrayRef) -> Option<ArrayRef> {
    match array.data_type() {
        DataType::Utf8View => {
            let a = array.as_string_view();
            let held: usize = a.data_buffers().iter().map(|b| b.capacity()).sum();
            bloated(held, a.total_buffer_bytes_used()).then(|| Arc::new(a.gc()) as ArrayRef)
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            let held: usize = a.data_buffers().iter().map(|b| b.capacity()).sum();
            bloated(held, a.total_buffer_bytes_used()).then(|| Arc::new(a.gc()) as ArrayRef)
        }
        _ => {
            let data = array.to_data();
            let used = data.get_slice_memory_size().ok()?;
            if !bloated(array.get_array_memory_size(), used) {
                return None;
            }
            let mut copy = MutableArrayData::new(vec![&data], false, array.len());
            copy.try_extend(0, 0, array.len()).ok()?;
            Some(make_array(copy.freeze()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    fn batch(rows: usize) -> RecordBatch {
        let ids: StringViewArray = (0..rows).map(|i| Some(format!("00Q{i:015}"))).collect();
        let n: Int64Array = (0..rows as i64).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8View, true),
            Field::new("n", DataType::Int64, true),
        ]));
        RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(n)]).unwrap()
    }

    #[test]
    fn slices_of_a_large_batch_are_copied_and_keep_their_values() {
        let big = batch(200_000);
        let slice = big.slice(1_000, 8_192);
        let before = slice.get_array_memory_size();
        let compact = compact_batch(slice.clone()).unwrap();
        assert_eq!(compact, slice, "same rows and values");
        assert!(
            compact.get_array_memory_size() * 10 < before,
            "{} bytes after, {before} before",
            compact.get_array_memory_size()
        );
    }

    #[tokio::test]
    async fn windows_and_sort_merge_joins_are_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::engine::tests::session_with_table(
            crate::spec::JoinStrategy::SortMerge,
            dir.path(),
        )
        .await;
        let sql = "SELECT a.v, count(*) OVER (PARTITION BY a.v % 7) AS n, \
                   row_number() OVER (PARTITION BY a.v % 3 ORDER BY a.v) AS r \
                   FROM t AS a JOIN t AS b ON a.v = b.v";
        let plan_of = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let plan = ctx
                    .sql(sql)
                    .await
                    .unwrap()
                    .create_physical_plan()
                    .await
                    .unwrap();
                let text = datafusion::physical_plan::displayable(plan.as_ref())
                    .indent(false)
                    .to_string();
                text
            }
        };
        let text = plan_of(sql).await;
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let sorted = plan_of(
            "SELECT v FROM generate_series(1, 100000) AS a(v) WHERE v % 5 = 0 ORDER BY v DESC",
        )
        .await;
        for plan in [&text, &sorted] {
            let plan_lines: Vec<&str> = plan.lines().map(str::trim).collect();
            assert!(
                plan_lines.iter().any(|l| l.starts_with("SortExec")),
                "{plan}"
            );
            for (at, line) in plan_lines.iter().enumerate() {
                if line.starts_with("SortExec") {
                    assert!(
                        plan_lines
                            .get(at + 1)
                            .is_some_and(|l| l.starts_with("CompactExec")),
                        "a SortExec without a CompactExec below it:\n{plan}"
                    );
                }
            }
        }
        for op in ["WindowAggExec", "BoundedWindowAggExec", "SortMergeJoin"] {
            let at = lines
                .iter()
                .position(|l| l.starts_with(op))
                .unwrap_or_else(|| panic!("no {op} in\n{text}"));
            assert!(
                at > 0 && lines[at - 1].starts_with("CompactExec"),
                "{op} without a CompactExec above it:\n{text}"
            );
        }
    }

    #[test]
    fn a_compact_batch_is_passed_on_as_it_is() {
        let b = batch(8_192);
        let out = compact_batch(b.clone()).unwrap();
        assert!(Arc::ptr_eq(b.column(0), out.column(0)));
        assert!(Arc::ptr_eq(b.column(1), out.column(1)));
    }
}
