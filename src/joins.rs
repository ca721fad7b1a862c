//! Which joins spill: the `join_strategy: sort_merge` rule.
//!
//! A hash join holds its build side in memory and DataFusion 55 cannot spill it; a sort-merge
//! join sorts both inputs, and sorts spill. Making every join a sort-merge join (DataFusion's
//! `prefer_hash_join = false`) also sorted millions of rows to join them to a table of seven
//! (at 10M leads `int_lead_features` sorted its 10M leads by employee band to join the typical
//! deal size of each band: 6.4 s of its 55). [`SpillingJoinRule`] decides per plan instead: it
//! runs after DataFusion's join selection, which has already put the smaller input on the build
//! side and collected the small ones into one hash table (`CollectLeft`), and gives the plan's
//! hash joins a common budget, `build_budget` bytes, and each one at most `max_build`: the joins
//! with the smallest build sides stay hash joins while their build sides together fit, a join
//! whose probe side would fit instead swaps its inputs, and the rest become sort-merge joins.
//! (A sixteenth of the limit per join sorted 13M campaign members at 10M leads to join 3.75M
//! funnel leads, alone in its plan: 2 s more than the hash join. A quarter per join let
//! `int_opportunity_stage_entries` hold a 0.5 GB build side under a 2 GiB limit next to its
//! window's sort: peak RSS 2.54-2.70 GiB instead of 2.3-2.4.)
//!
//! The estimate is DataFusion's statistics of the build input (bytes, else rows x 64 bytes);
//! none at all counts as over any budget. The engine pairs the rule with a default filter
//! selectivity of 100 %, so that an estimate after a filter the optimizer cannot bound is the
//! filter's input, not a fifth of it: an underestimate would be a build side that cannot spill.

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

/// The hash joins of a plan keep build sides of at most `build_budget` bytes together, each at
/// most `max_build` bytes; the others become sort-merge joins.
#[derive(Debug)]
pub struct SpillingJoinRule {
    pub build_budget: usize,
    pub max_build: usize,
}

/// What becomes of one hash join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Keep,
    Swap,
    SortMerge,
}

/// A hash join's in-memory options: its build side's estimate, and its probe side's when the
/// inputs may be swapped.
#[derive(Debug, Clone, Copy)]
struct Sides {
    build: Option<usize>,
    probe: Option<usize>,
    /// A null-aware anti join (NOT IN) has no sort-merge form: it stays whatever its size.
    must_hash: bool,
}

/// Decides every join of a plan: the cheapest in-memory form of each (a build side of at most
/// `max_one` bytes), smallest first, while the budget lasts.
fn decide(joins: &[Sides], budget: usize, max_one: usize) -> Vec<Decision> {
    let cheapest = |s: &Sides| {
        let keep = s
            .build
            .filter(|&b| b <= max_one)
            .map(|b| (b, Decision::Keep));
        let swap = s
            .probe
            .filter(|&p| p <= max_one)
            .map(|p| (p, Decision::Swap));
        match (keep, swap) {
            (Some(k), Some(w)) if w.0 < k.0 => Some(w),
            (Some(k), _) => Some(k),
            (None, w) => w,
        }
    };
    let mut used = 0usize;
    let mut out = vec![Decision::SortMerge; joins.len()];
    // Joins that must stay hash joins take their share first.
    for (i, s) in joins.iter().enumerate().filter(|(_, s)| s.must_hash) {
        used = used.saturating_add(s.build.unwrap_or(0));
        out[i] = Decision::Keep;
    }
    let mut order: Vec<(usize, usize, Decision)> = joins
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.must_hash)
        .filter_map(|(i, s)| cheapest(s).map(|(bytes, d)| (bytes, i, d)))
        .collect();
    order.sort_unstable_by_key(|&(bytes, i, _)| (bytes, i));
    for (bytes, i, d) in order {
        if used.saturating_add(bytes) > budget {
            break;
        }
        used += bytes;
        out[i] = d;
    }
    out
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

    fn sides(join: &HashJoinExec) -> Sides {
        Sides {
            build: Self::estimate(join.left()),
            probe: if join.join_type().supports_swap() {
                Self::estimate(join.right())
            } else {
                None
            },
            must_hash: join.null_aware,
        }
    }

    /// The join as decided (`sides`: its estimates, for the log); `None`: unchanged.
    fn rewrite(
        join: &HashJoinExec,
        decision: Decision,
        sides: Option<&Sides>,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        match decision {
            Decision::Keep => Ok(None),
            // DataFusion swaps sides only on statistics; a probe side that fits can be the
            // build side.
            Decision::Swap => join.swap_inputs(*join.partition_mode()).map(Some),
            Decision::SortMerge => {
                tracing::debug!(
                    build_bytes = ?sides.and_then(|s| s.build),
                    "hash join -> sort-merge join"
                );
                sort_merge(join).map(Some)
            }
        }
    }
}

/// The hash joins of `plan`, children first (the order of `transform_up`).
fn collect_joins(node: &Arc<dyn ExecutionPlan>, out: &mut Vec<Sides>) {
    for child in node.children() {
        collect_joins(child, out);
    }
    if let Some(join) = node.downcast_ref::<HashJoinExec>() {
        out.push(SpillingJoinRule::sides(join));
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
        // The joins in the order `transform_up` visits them (children first), then each
        // rewritten as decided (a rewritten join is not visited again).
        let mut joins = Vec::new();
        collect_joins(&plan, &mut joins);
        if joins.is_empty() {
            return Ok(plan);
        }
        let decided = decide(&joins, self.build_budget, self.max_build);
        let mut next = 0usize;
        plan.transform_up(|node| {
            let rewritten = match node.downcast_ref::<HashJoinExec>() {
                Some(join) => {
                    let decision = decided.get(next).copied().unwrap_or(Decision::SortMerge);
                    let sides = joins.get(next);
                    next += 1;
                    Self::rewrite(join, decision, sides)?
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sides(build: Option<usize>, probe: Option<usize>) -> Sides {
        Sides {
            build,
            probe,
            must_hash: false,
        }
    }

    #[test]
    fn the_smallest_build_sides_share_the_budget() {
        use Decision::*;
        // 40 + 50 fit 100; 60 more would not: the largest becomes a sort-merge join.
        let joins = [
            sides(Some(60), None),
            sides(Some(40), None),
            sides(Some(50), None),
        ];
        assert_eq!(decide(&joins, 100, usize::MAX), vec![SortMerge, Keep, Keep]);
        // Each alone fits: with room for all, all stay hash joins.
        assert_eq!(decide(&joins, 150, usize::MAX), vec![Keep, Keep, Keep]);
        // Unless one is larger than a join may hold by itself.
        assert_eq!(decide(&joins, 150, 55), vec![SortMerge, Keep, Keep]);
    }

    #[test]
    fn a_smaller_probe_side_swaps_and_unknown_sizes_sort() {
        use Decision::*;
        let joins = [
            sides(Some(500), Some(30)), // the probe side fits: swap
            sides(None, None),          // no statistics: over any budget
            sides(None, Some(10)),      // only the probe side is known
            sides(Some(20), Some(90)),  // the build side is the smaller
        ];
        assert_eq!(
            decide(&joins, 100, usize::MAX),
            vec![Swap, SortMerge, Swap, Keep]
        );
        assert_eq!(
            decide(&joins, 35, usize::MAX),
            vec![SortMerge, SortMerge, Swap, Keep]
        );
    }

    #[test]
    fn a_join_without_a_sort_merge_form_keeps_its_share() {
        use Decision::*;
        let joins = [
            Sides {
                build: Some(80),
                probe: None,
                must_hash: true,
            },
            sides(Some(30), None),
            sides(Some(15), None),
        ];
        // NOT IN stays a hash join and takes 80 of the 100: room for the 15 only.
        assert_eq!(decide(&joins, 100, usize::MAX), vec![Keep, SortMerge, Keep]);
    }
}
