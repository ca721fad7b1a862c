//! The DataFusion session: memory pool, spilling, parallelism, and the stores it can read.
//!
//! A run's queries all share one [`SessionContext`]. With a memory limit, operators that can spill
//! (sorts, aggregations) write to disk under `spill_dir` when the pool has no room left for them,
//! instead of failing. The pool is first come, first served (`GreedyMemoryPool`, as in
//! datafusion-cli): a `FairSpillPool` gives every spillable operator an equal slice of the pool
//! whether it uses it or not, and the plans of two concurrent models register some forty of them
//! (every partition of every aggregation and sort), so a sort failed for want of 100 MB of a 4 GiB
//! pool that was nearly empty (1M-lead benchmark).

use crate::compact::CompactRule;
use crate::storage::Storage;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

/// Settings for the local engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Memory pool size in bytes; `None` = unbounded (not recommended for large runs).
    pub memory_limit: Option<u64>,
    /// Folder for spill files (default: the system temp folder).
    pub spill_dir: Option<PathBuf>,
    /// Parallelism of plans (default: the number of cores).
    pub target_partitions: Option<usize>,
}

/// Errors building the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot set up the query engine: {0}")]
    Setup(#[from] datafusion::error::DataFusionError),
    #[error("cannot create spill folder {}: {source}", path.display())]
    SpillDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Builds the session for a run and registers every store resolved so far.
pub fn session(opts: &EngineOptions, storage: &Storage) -> Result<SessionContext, EngineError> {
    let partitions = opts.target_partitions.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(NonZeroUsize::get)
            .unwrap_or(2)
    });
    let config = SessionConfig::new()
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
        );
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = opts.memory_limit {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        // Tracking names the top consumers in an out-of-memory error, which is what a user
        // needs to act.
        let pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
            GreedyMemoryPool::new(limit),
            NonZeroUsize::new(5).unwrap_or(NonZeroUsize::MIN),
        ));
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
    // Batches that carry shared buffers are copied before memory is reserved for them
    // (crate::compact): without it, sorts fail for memory the process never held.
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(CompactRule))
        .build();
    let ctx = SessionContext::new_with_state(state);
    crate::scoring::register(&ctx);
    register_stores(&ctx, storage);
    Ok(ctx)
}

/// Makes every store `storage` has resolved readable by the engine (call again after new ones).
pub fn register_stores(ctx: &SessionContext, storage: &Storage) {
    for (url, store) in storage.stores() {
        ctx.register_object_store(&url, store);
    }
}
