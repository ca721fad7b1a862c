//! The DataFusion session: memory pool, spilling, parallelism, and the stores it can read.
//!
//! A run's queries all share one [`SessionContext`]. With a memory limit, operators that can spill
//! (sorts, aggregations, joins) write to disk under `spill_dir` instead of failing, and the
//! `FairSpillPool` shares the budget between the partitions that spill.

use crate::storage::Storage;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{
    FairSpillPool, GreedyMemoryPool, MemoryPool, TrackConsumersPool,
};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
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
        // Parquet written by Beacon carries statistics; let scans prune with them.
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
        .set_bool("datafusion.execution.parquet.reorder_filters", true);
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = opts.memory_limit {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        // FairSpillPool divides memory between spilling operators; tracking names the top
        // consumers in an out-of-memory error, which is what a user needs to act.
        let pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
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
    let ctx = SessionContext::new_with_config_rt(config, runtime);
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
