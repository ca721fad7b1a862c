//! The DataFusion session: memory pool, spilling, parallelism, and the stores it can read.
//!
//! A run's queries all share one [`SessionContext`]. With a memory limit, operators that can spill
//! (sorts, aggregations) write to disk under `spill_dir` when the pool has no room left for them,
//! instead of failing. The default pool is first come, first served (`GreedyMemoryPool`, as in
//! datafusion-cli): DataFusion's `FairSpillPool` gives every spillable operator an equal slice of
//! the pool whether it uses it or not, and the plans of two concurrent models register some forty
//! of them (every partition of every aggregation and sort), so a sort failed for want of 100 MB of
//! a 4 GiB pool that was nearly empty (1M-lead benchmark). `memory_pool: fair` (a large run's
//! pool) shares the pool among the operators that hold memory instead ([`pool::ActiveFairPool`]),
//! and no pool ever refuses a repartition (a DataFusion 55 deadlock: [`pool::NoRepartitionSpill`]).
//!
//! `engine: ballista://host:port` (a build with the `ballista` cargo feature) gives the same kind
//! of session, planned here and executed by an Apache Ballista cluster: see [`ballista`] for what
//! that changes and [`preflight`] / [`check_model`] for what is checked before any data is read.
//! Everything else of a run (the loader, the Parquet writer, the commit) stays in this process.

use crate::compact::CompactRule;
use crate::joins::SpillingJoinRule;
use crate::spec::{EngineSpec, JoinStrategy, MemoryPoolKind, Pipeline};
use crate::storage::Storage;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_optimizer::join_selection::JoinSelection;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::prelude::{SessionConfig, SessionContext};
use pool::{ActiveFairPool, NoRepartitionSpill};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

#[cfg(feature = "ballista")]
pub mod ballista;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod pool;

/// Settings for the engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Memory pool size in bytes; `None` = unbounded (not recommended for large runs).
    pub memory_limit: Option<u64>,
    /// Folder for spill files (default: the system temp folder).
    pub spill_dir: Option<PathBuf>,
    /// Parallelism of plans (default: the number of cores). On a cluster: the number of
    /// partitions of each stage, best the sum of the executors' task slots.
    pub target_partitions: Option<usize>,
    /// Rows per batch (default: DataFusion's).
    pub batch_size: Option<usize>,
    /// Where the plans run.
    pub engine: EngineSpec,
    /// Hash joins (default) or sort-merge joins, which spill.
    pub join_strategy: JoinStrategy,
    /// Greedy (default) or fair sharing of the pool.
    pub memory_pool: MemoryPoolKind,
}

impl EngineOptions {
    /// The engine settings of a pipeline.
    pub fn from_pipeline(pipeline: &Pipeline) -> Self {
        EngineOptions {
            memory_limit: pipeline.memory_limit,
            spill_dir: pipeline.spill_dir.clone(),
            target_partitions: pipeline.target_partitions,
            batch_size: pipeline.batch_size,
            engine: pipeline.engine.clone(),
            join_strategy: pipeline.join_strategy,
            memory_pool: pipeline.memory_pool,
        }
    }

    /// The same settings on the local engine.
    pub fn local(&self) -> Self {
        EngineOptions {
            engine: EngineSpec::Local,
            ..self.clone()
        }
    }
}

/// Errors building the engine or reaching it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot set up the query engine: {0}")]
    Setup(#[from] datafusion::error::DataFusionError),
    #[error("cannot create spill folder {}: {source}", path.display())]
    SpillDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`engine: {url}` needs a beacon built with Ballista support (`cargo build --release --features ballista`); this one is not: use `--engine local`, or that build")]
    NotBuilt { url: String },
    #[error("`{url}` is not a Ballista scheduler address: use ballista://host:port")]
    BadUrl { url: String },
    #[error("the Ballista cluster at {url} cannot run this pipeline: {message}")]
    Cluster { url: String, message: String },
}

/// Builds the session for a run and registers every store resolved so far.
pub fn session(opts: &EngineOptions, storage: &Storage) -> Result<SessionContext, EngineError> {
    let partitions = opts.target_partitions.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(NonZeroUsize::get)
            .unwrap_or(2)
    });
    let mut config = SessionConfig::new();
    if let Some(rows) = opts.batch_size {
        config = config.with_batch_size(rows);
    }
    let config = config
        .with_target_partitions(partitions)
        .with_information_schema(true)
        // Keep source locations in plans so that errors name the line and column of the SQL.
        .set_bool("datafusion.sql_parser.collect_spans", true)
        // Scans still prune row groups and pages with the statistics Beacon writes; filtering
        // row by row inside the scan (pushdown_filters) and pushing hash joins' dynamic filters
        // into the probe side's scan cost more than they saved on this workload: measured on the
        // 1M-lead benchmark, a join of two 1M-row tables took 10 s with both and 3-3.5 s without
        // either; int_lead_features 21 s of CPU with both, 17.5 s without (tests/bench/README.md).
        .set_bool("datafusion.execution.parquet.pushdown_filters", false)
        .set_bool(
            "datafusion.optimizer.enable_join_dynamic_filter_pushdown",
            false,
        )
        // Hash joins hold their build side in memory; with `join_strategy: sort_merge` the
        // large ones become sort-merge joins, which spill (crate::joins). Their estimates must
        // not shrink through filters the optimizer cannot bound.
        .set_usize(
            "datafusion.optimizer.default_filter_selectivity",
            if opts.join_strategy == JoinStrategy::SortMerge {
                100
            } else {
                20
            },
        )
        // An aggregation whose input is already hash-partitioned on some of its keys (the lead
        // id of a sort-merge join) groups it where it is, in the order it arrives, instead of
        // repartitioning it by all of them (DataFusion does so from 4 partitions up): at 10M
        // leads campaign_cohorts_weekly's 12.8M (campaign, week, lead) groups then stream
        // instead of spilling.
        .set_usize(
            "datafusion.optimizer.subset_repartition_threshold",
            if opts.join_strategy == JoinStrategy::SortMerge {
                1
            } else {
                4
            },
        );
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = opts.memory_limit {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        // Tracking names the top consumers in an out-of-memory error, which is what a user
        // needs to act.
        let top = NonZeroUsize::new(5).unwrap_or(NonZeroUsize::MIN);
        let pool: Arc<dyn MemoryPool> = match opts.memory_pool {
            MemoryPoolKind::Greedy => Arc::new(TrackConsumersPool::new(
                NoRepartitionSpill::new(GreedyMemoryPool::new(limit)),
                top,
            )),
            MemoryPoolKind::Fair => Arc::new(TrackConsumersPool::new(
                NoRepartitionSpill::new(ActiveFairPool::new(limit)),
                top,
            )),
        };
        runtime = runtime.with_memory_pool(pool);
    } else {
        runtime = runtime.with_memory_pool(Arc::new(GreedyMemoryPool::new(usize::MAX)));
    }
    if let Some(dir) = &opts.spill_dir {
        std::fs::create_dir_all(dir).map_err(|source| EngineError::SpillDir {
            path: dir.clone(),
            source,
        })?;
        runtime = runtime.with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
        );
    }
    let runtime = runtime.build_arc()?;
    let spilling_joins =
        (opts.join_strategy == JoinStrategy::SortMerge).then(|| SpillingJoinRule {
            build_budget: build_budget(opts.memory_limit, 4),
            max_build: build_budget(opts.memory_limit, 6),
        });
    let ctx = match &opts.engine {
        EngineSpec::Local => local(config, runtime, spilling_joins),
        EngineSpec::Ballista { url } => remote(url, config, runtime)?,
    };
    crate::scoring::register(&ctx);
    register_stores(&ctx, storage);
    Ok(ctx)
}

/// Build sides under `join_strategy: sort_merge`: a plan's hash joins keep up to a quarter of the
/// memory limit together (`n` = 4; what the fair pool gives one spilling operator at most; sorts
/// and aggregations need the rest), one join up to a sixth (`n` = 6); without a limit, as under
/// 4 GiB.
fn build_budget(memory_limit: Option<u64>, n: u64) -> usize {
    let bytes = memory_limit.unwrap_or(4 << 30) / n;
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// The local session: DataFusion's, with Beacon's physical rules.
fn local(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    spilling_joins: Option<SpillingJoinRule>,
) -> SessionContext {
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features();
    if let Some(rule) = spilling_joins {
        // Right after DataFusion's join selection (build side, CollectLeft), before the rule
        // that adds the sorts and repartitions a sort-merge join needs.
        let mut rules = PhysicalOptimizer::new().rules;
        let at = rules
            .iter()
            .position(|r| r.name() == JoinSelection::new().name())
            .map_or(0, |i| i + 1);
        rules.insert(at, Arc::new(rule));
        builder = builder.with_physical_optimizer_rules(rules);
    }
    // Batches that carry shared buffers are copied before memory is reserved for them
    // (crate::compact): without it, sorts fail for memory the process never held.
    let state = builder
        .with_physical_optimizer_rule(Arc::new(CompactRule))
        .build();
    SessionContext::new_with_state(state)
}

#[cfg(feature = "ballista")]
fn remote(
    url: &str,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext, EngineError> {
    ballista::client_session(url, config, runtime)
}

#[cfg(not(feature = "ballista"))]
fn remote(
    url: &str,
    _config: SessionConfig,
    _runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext, EngineError> {
    Err(EngineError::NotBuilt {
        url: url.to_string(),
    })
}

/// Checks, before any data is read, that the engine can run Beacon's plans at all. Local: nothing
/// to check. Ballista: the scheduler answers, and its executors run Beacon's functions (a probe
/// query using each of them runs on the cluster) with the results this process computes.
pub async fn preflight(opts: &EngineOptions) -> Result<(), EngineError> {
    match &opts.engine {
        EngineSpec::Local => Ok(()),
        #[cfg(feature = "ballista")]
        EngineSpec::Ballista { url } => ballista::probe(url, opts).await,
        #[cfg(not(feature = "ballista"))]
        EngineSpec::Ballista { url } => Err(EngineError::NotBuilt { url: url.clone() }),
    }
}

/// Checks that the engine of `ctx` can run `sql` (a model or test already planned there). Local:
/// planning was the check. Ballista: the plan also goes the way a query goes on the cluster
/// (serialized for the scheduler, planned there with its functions, serialized for the
/// executors and decoded with theirs), so that what Ballista cannot ship fails here, located.
pub async fn check_model(
    ctx: &SessionContext,
    opts: &EngineOptions,
    sql: &str,
) -> Result<(), datafusion::error::DataFusionError> {
    match &opts.engine {
        EngineSpec::Local => Ok(()),
        #[cfg(feature = "ballista")]
        EngineSpec::Ballista { .. } => ballista::check_shippable(ctx, sql).await,
        #[cfg(not(feature = "ballista"))]
        EngineSpec::Ballista { .. } => {
            let _ = (ctx, sql);
            Ok(())
        }
    }
}

/// Makes every store `storage` has resolved readable by the engine (call again after new ones).
pub fn register_stores(ctx: &SessionContext, storage: &Storage) {
    for (url, store) in storage.stores() {
        ctx.register_object_store(&url, store);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A session of `join_strategy` under a 16 MiB limit (hash build sides up to 4 MiB), with
    /// a table `t` of 1M rows (16 MB) in Parquet under `dir`.
    pub(crate) async fn session_with_table(
        join_strategy: JoinStrategy,
        dir: &std::path::Path,
    ) -> SessionContext {
        let opts = EngineOptions {
            join_strategy,
            memory_limit: Some(16 << 20),
            target_partitions: Some(2),
            ..EngineOptions::default()
        };
        let ctx = session(&opts, &Storage::new(std::path::Path::new("/"))).unwrap();
        let file = dir.join("t.parquet");
        let copy = format!(
            "COPY (SELECT v, v * 2 AS w FROM generate_series(1, 1000000) AS s(v)) TO '{}' \
             STORED AS PARQUET",
            file.display()
        );
        ctx.sql(&copy).await.unwrap().collect().await.unwrap();
        ctx.register_parquet("t", file.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        ctx
    }

    async fn join_plan(join_strategy: JoinStrategy) -> String {
        let dir = tempfile::tempdir().unwrap();
        let ctx = session_with_table(join_strategy, dir.path()).await;
        // A join of two tables of 16 MB, then one with a list of literals.
        let sql = "EXPLAIN SELECT a.v FROM t AS a JOIN t AS b ON a.v = b.v \
                   JOIN (VALUES (1), (2), (3)) AS l(v) ON l.v = a.w";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn a_plans_hash_joins_share_one_budget() {
        // Two build sides of 300k rows (2.4 MB each as estimated): either fits the 4 MiB budget
        // of a 16 MiB limit alone, not both: one stays a hash join, the other sorts.
        let dir = tempfile::tempdir().unwrap();
        let ctx = session_with_table(JoinStrategy::SortMerge, dir.path()).await;
        let sql = "EXPLAIN SELECT a.v FROM t AS a \
                   JOIN (SELECT v FROM t LIMIT 300000) AS b ON a.v = b.v \
                   JOIN (SELECT w FROM t LIMIT 300000) AS c ON a.w = c.w";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let plan = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert_eq!(plan.matches("SortMergeJoin").count(), 1, "{plan}");
        assert_eq!(plan.matches("HashJoinExec").count(), 1, "{plan}");
    }

    #[tokio::test]
    async fn a_large_runs_aggregation_groups_a_joins_output_where_it_is() {
        // Grouped by the join key and more: with sort-merge joins the rows arrive partitioned
        // and sorted by the key, and are grouped as they come (no repartition by all the keys,
        // no hash table of every group); with hash joins DataFusion's plan is kept.
        let sql = "EXPLAIN SELECT a.v, a.w % 7 AS k, count(*) FROM t AS a JOIN t AS b \
                   ON a.v = b.v GROUP BY a.v, a.w % 7";
        let mut plans = Vec::new();
        for strategy in [JoinStrategy::SortMerge, JoinStrategy::Hash] {
            let dir = tempfile::tempdir().unwrap();
            let ctx = session_with_table(strategy, dir.path()).await;
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            plans.push(
                datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                    .unwrap()
                    .to_string(),
            );
        }
        let (sort_merge, hash) = (&plans[0], &plans[1]);
        assert!(sort_merge.contains("SortMergeJoin"), "{sort_merge}");
        assert!(
            sort_merge.contains("mode=SinglePartitioned") && !sort_merge.contains("mode=Partial,"),
            "{sort_merge}"
        );
        assert!(hash.contains("mode=Partial,"), "{hash}");
    }

    #[test]
    fn batch_size_is_the_sessions_when_set() {
        let storage = Storage::new(std::path::Path::new("/"));
        let default = session(&EngineOptions::default(), &storage).unwrap();
        assert_eq!(default.copied_config().batch_size(), 8192);
        let opts = EngineOptions {
            batch_size: Some(2048),
            ..EngineOptions::default()
        };
        let small = session(&opts, &storage).unwrap();
        assert_eq!(small.copied_config().batch_size(), 2048);
    }

    #[tokio::test]
    async fn join_strategy_picks_hash_or_sort_merge_joins() {
        let hash = join_plan(JoinStrategy::Hash).await;
        assert_eq!(hash.matches("HashJoinExec").count(), 2, "{hash}");
        assert!(!hash.contains("SortMergeJoin"), "{hash}");
        // sort_merge: the join of two 16 MB tables spills (a sort-merge join); the one with three
        // literals keeps a hash table of them.
        let sort_merge = join_plan(JoinStrategy::SortMerge).await;
        assert_eq!(
            sort_merge.matches("SortMergeJoin").count(),
            1,
            "{sort_merge}"
        );
        assert_eq!(
            sort_merge.matches("HashJoinExec").count(),
            1,
            "{sort_merge}"
        );
    }
}
