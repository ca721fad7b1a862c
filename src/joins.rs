//! Which joins spill: the `join_strategy: sort_merge` rule.
//!
//! A hash join holds its build side in memory and DataFusion 55 cannot spill it; a sort-merge
//! join sorts both inputs, and sorts spill. Making every join a sort-merge join (DataFusion's
//! `prefer_hash_join = false`) also sorted millions of rows to join them to a table of seven
//! (at 10M leads `int_lead_features` sorted its 10M leads by employee band to join the typical
//! deal size of each band: 6.4 s of its 55). [`SpillingJoinRule`] decides per join instead: it
//! runs after DataFusion's join selection, which has already put the smaller input on the build
//! side and collected the small ones into one hash table (`CollectLeft`), and turns a hash join
//! into a sort-merge join only when its build side may be larger than `max_build_bytes`.
//!
//! The estimate is DataFusion's statistics of the build input (bytes, else rows x 64 bytes);
//! none at all counts as large. The engine pairs the rule with a default filter selectivity of
//! 100 %, so that an estimate after a filter the optimizer cannot bound is the filter's input,
//! not a fifth of it: an underestimate would be a build side that cannot spill.

use datafusion::arrow::compute::SortOptions;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::{HashJoinExec, SortMergeJoinExec};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

/// Bytes per row assumed when the statistics have rows but no bytes.
const BYTES_PER_ROW: usize = 64;

/// Hash joins whose build side may exceed `max_build_bytes` become sort-merge joins.
#[derive(Debug)]
pub struct SpillingJoinRule {
    pub max_build_bytes: usize,
}

impl SpillingJoinRule {
    /// The estimated in-memory size of a join input, `None` when unknown. An input that reads
    /// no table (a list unnested from a var, a VALUES list) is small whatever its statistics say.
    fn estimate(plan: &Arc<dyn ExecutionPlan>) -> Option<usize> {
        if !reads_a_table(plan) {
            return Some(0);
        }
        let stats = StatisticsContext::new()
            .compute(plan.as_ref(), &StatisticsArgs::new())
            .ok()?;
        if let Some(bytes) = stats.total_byte_size.get_value() {
            return Some(*bytes);
        }
        stats
            .num_rows
            .get_value()
            .map(|rows| rows.saturating_mul(BYTES_PER_ROW))
    }

    fn fits(&self, plan: &Arc<dyn ExecutionPlan>) -> bool {
        Self::estimate(plan).is_some_and(|b| b <= self.max_build_bytes)
    }

    /// The join with a build side that fits, or as a sort-merge join; `None`: unchanged.
    fn rewrite(&self, join: &HashJoinExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        // A null-aware anti join (NOT IN) has no sort-merge form; a build side that fits stays.
        if join.null_aware || self.fits(join.left()) {
            return Ok(None);
        }
        // DataFusion swaps sides only on statistics; a probe side that fits can be the build side.
        if join.join_type().supports_swap() && self.fits(join.right()) {
            return join.swap_inputs(*join.partition_mode()).map(Some);
        }
        tracing::debug!(
            build_bytes = ?Self::estimate(join.left()),
            max = self.max_build_bytes,
            "hash join -> sort-merge join"
        );
        sort_merge(join).map(Some)
    }
}

/// Whether any leaf of `plan` scans files.
fn reads_a_table(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let mut found = false;
    let _ = plan.apply(|node| {
        let is_file_scan = node.downcast_ref::<DataSourceExec>().is_some_and(|scan| {
            scan.data_source()
                .downcast_ref::<FileScanConfig>()
                .is_some()
        });
        found |= is_file_scan;
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// The same join as a sort-merge join, with the hash join's own projection on top.
fn sort_merge(join: &HashJoinExec) -> Result<Arc<dyn ExecutionPlan>> {
    let smj: Arc<dyn ExecutionPlan> = Arc::new(SortMergeJoinExec::try_new(
        Arc::clone(join.left()),
        Arc::clone(join.right()),
        join.on().to_vec(),
        join.filter().cloned(),
        *join.join_type(),
        vec![SortOptions::default(); join.on().len()],
        join.null_equality(),
    )?);
    let Some(projection) = &join.projection else {
        return Ok(smj);
    };
    let schema = smj.schema();
    let exprs = projection
        .iter()
        .map(|&i| {
            let name = schema.field(i).name().clone();
            let column = Arc::new(Column::new(&name, i)) as Arc<dyn PhysicalExpr>;
            ProjectionExpr::new(column, name)
        })
        .collect::<Vec<_>>();
    Ok(Arc::new(ProjectionExec::try_new(exprs, smj)?))
}

impl PhysicalOptimizerRule for SpillingJoinRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let rewritten = match node.downcast_ref::<HashJoinExec>() {
                Some(join) => self.rewrite(join)?,
                None => None,
            };
            Ok(match rewritten {
                Some(plan) => Transformed::yes(plan),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "beacon_spilling_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
