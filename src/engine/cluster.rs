//! The two processes of a Ballista cluster that runs Beacon's plans: `beacon scheduler` and
//! `beacon executor` (a build with the `ballista` feature).
//!
//! They are Ballista's own scheduler and executor (the `ballista-scheduler` and
//! `ballista-executor` crates, which track DataFusion's version) with what Beacon's plans need
//! and stock ones lack:
//! - Beacon's SQL functions (`logistic_fit`, `logistic_score`, ..., `calibrate`, see
//!   [`crate::scoring`]): the scheduler decodes every query's logical plan with them and the
//!   executors every task's physical plan. A stock cluster refuses the lead-scoring models with
//!   "There is no UDF named ...", which [`super::preflight`] reports before a run reads anything.
//! - Beacon's object stores: a plan names its files by URL (`file:///...`, `s3://bucket/...`);
//!   the scheduler lists them and the executors read them through [`crate::storage`], so `s3://`
//!   works from the same `AWS_*` environment as for the client (and `gs://`, `az://` likewise).
//!
//! Shuffle files stay on each executor's `work_dir` and travel between executors over Arrow
//! Flight; the final stage's results travel to the client the same way.

use crate::storage::Storage;
use ballista_core::error::BallistaError;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::{default_config_producer, default_session_builder};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::DataFusionError;
use datafusion::config::ConfigOptions;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{SessionState, SessionStateBuilder, TaskContext};
use datafusion::physical_expr::{LexOrdering, OrderingRequirements};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, ExecutionPlan, Partitioning, ReplaceChildrenOptions,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStore;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use url::Url;

/// How `beacon scheduler` listens.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to bind (e.g. 0.0.0.0 in a container).
    pub bind_host: String,
    /// gRPC port clients and executors connect to.
    pub port: u16,
    /// Host name executors and clients reach this scheduler by.
    pub external_host: String,
    /// Seconds a finished job's last-stage output (what the client reads) stays on the
    /// executors before the scheduler has it deleted; 0 = never. Ballista deletes a job's
    /// intermediate shuffle files when the job succeeds.
    pub keep_results_seconds: u64,
}

/// How `beacon executor` joins a cluster.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `host:port`.
    pub scheduler: String,
    pub bind_host: String,
    /// Host name the scheduler, other executors and clients reach this executor by (default:
    /// the address the scheduler sees it connect from).
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle and result fetches).
    pub flight_port: u16,
    /// gRPC port (the scheduler's task pushes).
    pub grpc_port: u16,
    /// Task slots (default: the number of cores).
    pub vcores: Option<usize>,
    /// Folder for shuffle and spill files (default: a temporary folder).
    pub work_dir: Option<PathBuf>,
    /// Memory of all tasks together, in bytes (default: Ballista's, 70% of the machine's or the
    /// container's memory); work beyond it spills to `work_dir`.
    pub memory_limit: Option<u64>,
    /// Leave Beacon's functions out: a stock Ballista executor, to check that Beacon notices.
    pub without_beacon_functions: bool,
}

/// Errors starting or running a cluster process.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("`{address}` is not an address to listen on or connect to: {message}")]
    Address { address: String, message: String },
    #[error("cannot create the work folder {}: {source}", path.display())]
    WorkDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Ballista: {0}")]
    Ballista(#[from] BallistaError),
    #[error("cannot set up the query engine: {0}")]
    Setup(#[from] DataFusionError),
}

/// Runs a scheduler until the process is stopped.
pub async fn run_scheduler(opts: &SchedulerOptions) -> Result<(), ClusterError> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let address = format!("{}:{}", opts.bind_host, opts.port);
    let addr: SocketAddr =
        address
            .parse()
            .map_err(|e: std::net::AddrParseError| ClusterError::Address {
                address: address.clone(),
                message: e.to_string(),
            })?;
    let mut config = SchedulerConfig::default()
        .with_hostname(opts.external_host.clone())
        .with_port(opts.port)
        .with_override_config_producer(Arc::new(default_config_producer))
        .with_override_session_builder(Arc::new(scheduler_session))
        .with_finished_job_data_clean_up_interval_seconds(opts.keep_results_seconds);
    config.bind_host = opts.bind_host.clone();
    let cluster = BallistaCluster::new_from_config(&config).await?;
    ballista_scheduler::scheduler_process::start_server(cluster, addr, Arc::new(config)).await?;
    Ok(())
}

/// Runs an executor until the process is stopped (or its scheduler asks it to stop).
pub async fn run_executor(opts: &ExecutorOptions) -> Result<(), ClusterError> {
    use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
    let (host, port) = split_host_port(&opts.scheduler)?;
    let work_dir = opts
        .work_dir
        .as_ref()
        .map(|d| d.to_string_lossy().into_owned());
    if let Some(dir) = &opts.work_dir {
        std::fs::create_dir_all(dir).map_err(|source| ClusterError::WorkDir {
            path: dir.clone(),
            source,
        })?;
    }
    let registry = if opts.without_beacon_functions {
        BallistaFunctionRegistry::default()
    } else {
        functions()?
    };
    let spill = work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: opts.bind_host.clone(),
        external_host: opts.external_host.clone(),
        port: opts.flight_port,
        grpc_port: opts.grpc_port,
        scheduler_host: host,
        scheduler_port: port,
        // Keep trying to reach a scheduler that is not up yet (a Kubernetes rollout starts
        // both at once) rather than exit at once.
        scheduler_connect_timeout_seconds: 60,
        vcores: opts.vcores.unwrap_or(0),
        work_dir,
        memory_pool_size: opts.memory_limit,
        override_function_registry: Some(Arc::new(registry)),
        override_config_producer: Some(Arc::new(default_config_producer)),
        override_runtime_producer: Some(Arc::new(move |_config: &SessionConfig| {
            let mut rt = RuntimeEnvBuilder::new()
                .with_object_store_registry(Arc::new(BeaconStores::default()));
            if let Some(dir) = &spill {
                rt = rt.with_temp_file_path(dir.clone());
            }
            Ok(Arc::new(rt.build()?))
        })),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

fn split_host_port(address: &str) -> Result<(String, u16), ClusterError> {
    let bad = |message: &str| ClusterError::Address {
        address: address.to_string(),
        message: message.to_string(),
    };
    let rest = address
        .strip_prefix("ballista://")
        .or_else(|| address.strip_prefix("http://"))
        .unwrap_or(address)
        .trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
    if host.is_empty() {
        return Err(bad("expected host:port"));
    }
    Ok((host.to_string(), port))
}

/// The functions a Beacon cluster knows: DataFusion's (as a stock Ballista executor has them)
/// and Beacon's.
pub fn functions() -> Result<BallistaFunctionRegistry, DataFusionError> {
    let ctx = SessionContext::new_with_state(default_session_builder(default_config_producer())?);
    crate::scoring::register(&ctx);
    Ok(BallistaFunctionRegistry::from(&ctx.state()))
}

/// The session the scheduler plans a query in: Ballista's, with Beacon's functions and stores.
pub fn scheduler_session(config: SessionConfig) -> Result<SessionState, DataFusionError> {
    // The static planner whatever the client asked (see `super::ballista::client_session`).
    let config = config.with_ballista_adaptive_query_planner(false);
    let state = default_session_builder(config)?;
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(BeaconStores::default()))
        .build_arc()?;
    let state = SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(runtime)
        .with_physical_optimizer_rule(Arc::new(SortAfterShuffle))
        .build();
    let ctx = SessionContext::new_with_state(state);
    crate::scoring::register(&ctx);
    Ok(ctx.state())
}

/// Puts a sort back where a Ballista shuffle drops an ordering the plan relies on.
///
/// In one process a hash `RepartitionExec` of a single sorted partition keeps its order, so
/// DataFusion plans e.g. `count(*) OVER (PARTITION BY p)` after `ORDER BY p` windows with no
/// second sort. Ballista turns that repartition into a shuffle, which does not keep any order,
/// and the window then fails ("All partition by columns should have an ordering", seen on
/// int_lead_holdout_scores). The scheduler plans with this rule last: an operator that requires
/// an ordering from an input that reaches a hash repartition through order-keeping operators
/// gets a `SortExec` (per partition) on top of that input, i.e. after the shuffle.
#[derive(Debug, Default)]
pub struct SortAfterShuffle;

impl PhysicalOptimizerRule for SortAfterShuffle {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let requirements = node.required_input_ordering();
            let children: Vec<Arc<dyn ExecutionPlan>> =
                node.children().into_iter().cloned().collect();
            let mut changed = false;
            let mut new_children = Vec::with_capacity(children.len());
            for (child, requirement) in children.into_iter().zip(requirements) {
                match requirement {
                    Some(OrderingRequirements::Hard(mut alternatives))
                        if !alternatives.is_empty() && reaches_hash_shuffle(&child) =>
                    {
                        let ordering = LexOrdering::from(alternatives.swap_remove(0));
                        new_children.push(Arc::new(
                            SortExec::new(ordering, child).with_preserve_partitioning(true),
                        ) as Arc<dyn ExecutionPlan>);
                        changed = true;
                    }
                    _ => new_children.push(child),
                }
            }
            if changed {
                Ok(Transformed::yes(node.replace_children(
                    new_children,
                    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                )?))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "beacon_sort_after_shuffle"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `plan` is a hash repartition, or reaches one through single-input operators that keep
/// their input's order (so its ordering comes from before the repartition).
fn reaches_hash_shuffle(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if let Some(r) = plan.downcast_ref::<RepartitionExec>() {
        return matches!(r.partitioning(), Partitioning::Hash(..));
    }
    if plan.is::<SortExec>() {
        return false;
    }
    let children = plan.children();
    match (children.as_slice(), plan.maintains_input_order().as_slice()) {
        ([child], [true]) => reaches_hash_shuffle(child),
        _ => false,
    }
}

/// A task context as an executor builds it (its functions, the query's settings): what a stage
/// plan is decoded with.
pub fn executor_task_context(config: SessionConfig) -> Result<TaskContext, DataFusionError> {
    let f = functions()?;
    Ok(TaskContext::new(
        None,
        "beacon-check".to_string(),
        config,
        f.scalar_functions,
        f.higher_order_functions,
        f.aggregate_functions,
        f.window_functions,
        Arc::new(RuntimeEnv::default()),
    ))
}

/// The object stores of a cluster process: any URL a plan names, resolved by Beacon's storage
/// (credentials from the environment, as for the client), once per bucket.
#[derive(Debug)]
pub struct BeaconStores {
    storage: Storage,
    stores: RwLock<BTreeMap<String, Arc<dyn ObjectStore>>>,
}

impl Default for BeaconStores {
    fn default() -> Self {
        BeaconStores {
            storage: Storage::new(Path::new("/")),
            stores: RwLock::new(BTreeMap::new()),
        }
    }
}

fn store_key(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{port}/",
        url.scheme(),
        url.host_str().unwrap_or_default()
    )
}

impl ObjectStoreRegistry for BeaconStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.stores
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(store_key(url), store)
    }

    fn get_store(&self, url: &Url) -> datafusion::common::Result<Arc<dyn ObjectStore>> {
        let key = store_key(url);
        if let Some(s) = self
            .stores
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Arc::clone(s));
        }
        let loc = self
            .storage
            .resolve(&key)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.register_store(url, Arc::clone(&loc.store));
        Ok(loc.store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses() {
        assert_eq!(
            split_host_port("beacon-scheduler:50050").unwrap(),
            ("beacon-scheduler".to_string(), 50050)
        );
        assert_eq!(
            split_host_port("ballista://127.0.0.1:7001").unwrap(),
            ("127.0.0.1".to_string(), 7001)
        );
        assert!(split_host_port("scheduler").is_err());
        assert!(split_host_port(":50050").is_err());
        assert!(split_host_port("host:port").is_err());
    }

    #[test]
    fn cluster_functions_include_beacons() {
        let f = functions().unwrap();
        for name in [
            "logistic_score",
            "logistic_reasons",
            "logistic_contributions",
            "logistic_version",
            "calibrate",
            "count_at_or_below",
        ] {
            assert!(f.scalar_functions.contains_key(name), "{name}");
        }
        for name in ["logistic_fit", "calibration_fit"] {
            assert!(f.aggregate_functions.contains_key(name), "{name}");
        }
        // And DataFusion's own, as on a stock executor.
        assert!(f.scalar_functions.contains_key("make_array"));
        assert!(!BallistaFunctionRegistry::default()
            .scalar_functions
            .contains_key("logistic_score"));
    }

    #[test]
    fn stores_resolve_local_urls() {
        let stores = BeaconStores::default();
        let url = Url::parse("file:///tmp/x").unwrap();
        assert!(stores.get_store(&url).is_ok());
        let bad = Url::parse("ftp://host/x").unwrap();
        assert!(stores.get_store(&bad).is_err());
    }
}
