//! Beacon's queries on an Apache Ballista cluster (`engine: ballista://host:port`).
//!
//! The session is DataFusion's with Ballista's query planner: each query is planned here (same
//! SQL, same functions, same settings), its optimized logical plan is sent to the scheduler,
//! which splits it into stages at every shuffle and hands their tasks to the executors; the
//! client reads the last stage's output back over Arrow Flight. So everything of a run except the
//! queries stays in this process: the loader writes the raw Parquet, [`crate::publish`] writes
//! each model's result, the commit and the lock are the client's. The executors read the raw
//! zone and the models' Parquet by URL, so on a real cluster `raw:`, `work:` and `output:` must
//! be on an object store every node reaches (on one machine, local paths do).
//!
//! What Ballista changes, and how Beacon deals with it:
//! - Functions: the scheduler and the executors need Beacon's SQL functions. `beacon scheduler`
//!   and `beacon executor` ([`super::cluster`]) have them; [`probe`] proves it before a run (and
//!   in `beacon validate`) by running a query with every one of them on the cluster and
//!   comparing its result with this process's (a cluster of another Beacon version would score
//!   leads differently).
//! - Plans must be serializable: tables are Parquet listings or `EmptyTable`s (never
//!   `MemTable`s), and [`check_shippable`] takes every model's plan through the round trip a
//!   query makes (client -> scheduler -> executors) at `beacon validate` time.
//! - Ballista's own settings apply on top of Beacon's: sort-merge joins (they spill) instead of
//!   hash joins, no dynamic filters, no Utf8View strings (plain Utf8), scalar subqueries planned
//!   as joins. Results are the same rows; floating-point sums may differ in the last bits
//!   because partial aggregates are combined in another order.

use super::{EngineError, EngineOptions};
use ballista_core::execution_plans::UnresolvedShuffleExec;
use ballista_core::extension::{SessionConfigExt, SessionConfigHelperExt, SessionStateExt};
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use ballista_core::JobId;
use ballista_scheduler::planner::{DefaultDistributedPlanner, DistributedPlanner};
use datafusion::arrow::array::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::physical_expr::OrderingRequirements;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// How long the probe may take: long enough for a cold cluster, short enough that a cluster
/// without executors is reported rather than waited for.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// A query that uses every one of Beacon's functions, on rows of its own (no tables): the
/// aggregates run in one stage, the scalar functions in the next, after a shuffle.
const PROBE_SQL: &str = "
WITH probe_rows (id, features, label, p, t) AS (
    VALUES (1, make_array('a=x', 'b=y'), true, 0.8, 0.0),
           (2, make_array('a=x'), false, 0.3, 1.0),
           (3, make_array('b=y'), true, 0.6, 2.0),
           (4, make_array('a=x', 'b=z'), false, 0.2, 3.0)
),
fitted AS (
    SELECT logistic_fit(features, label, 1.0) AS model,
           calibration_fit(p, label, t, 1.0) AS calibration
    FROM probe_rows
)
SELECT probe_rows.id,
       logistic_score(fitted.model, probe_rows.features)       AS score,
       logistic_reasons(fitted.model, probe_rows.features, 2)  AS reasons,
       logistic_contributions(fitted.model, probe_rows.features) AS contributions,
       logistic_version(fitted.model)                           AS version,
       calibrate(fitted.calibration, probe_rows.p, probe_rows.t) AS calibrated
FROM probe_rows CROSS JOIN fitted
ORDER BY probe_rows.id";

/// `ballista://host:port` -> the scheduler's gRPC endpoint, `http://host:port`.
pub fn scheduler_endpoint(url: &str) -> Result<String, EngineError> {
    let bad = || EngineError::BadUrl {
        url: url.to_string(),
    };
    let parsed = url::Url::parse(url).map_err(|_| bad())?;
    if parsed.scheme() != "ballista" {
        return Err(bad());
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(bad)?;
    let port = parsed.port().ok_or_else(bad)?;
    Ok(format!("http://{host}:{port}"))
}

/// A session whose queries run on the cluster at `url`, with Beacon's settings (the caller
/// registers Beacon's functions and stores, as for a local session).
pub fn client_session(
    url: &str,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext, EngineError> {
    let endpoint = scheduler_endpoint(url)?;
    // Ballista's restricted defaults first (they are applied only to a config without Ballista's
    // extension, which setting the job name would add).
    let config = config
        .upgrade_for_ballista()
        .with_ballista_job_name("beacon")
        // Ballista 55's adaptive planner (its default) returns wrong rows for a UNION ALL with
        // an aggregated branch (apache/datafusion-ballista#2184; funnel_stage_metrics showed
        // its ALL row once per task): the fix is in the static planner only.
        .with_ballista_adaptive_query_planner(false);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build()
        .upgrade_for_ballista(endpoint)?;
    Ok(SessionContext::new_with_state(state))
}

/// Runs [`PROBE_SQL`] on the cluster and here; they must agree.
pub async fn probe(url: &str, opts: &EngineOptions) -> Result<(), EngineError> {
    let cluster_error = |message: String| EngineError::Cluster {
        url: url.to_string(),
        message,
    };
    let storage = crate::storage::Storage::new(std::path::Path::new("/"));
    let local = super::session(&opts.local(), &storage)?;
    let expected = run_probe(&local).await?;
    let remote = super::session(opts, &storage)?;
    let got = match tokio::time::timeout(PROBE_TIMEOUT, run_probe(&remote)).await {
        Err(_) => {
            return Err(cluster_error(format!(
                "a probe query got no answer within {} s: is an executor registered with the scheduler?",
                PROBE_TIMEOUT.as_secs()
            )))
        }
        Ok(Err(e)) => return Err(cluster_error(explain(&e))),
        Ok(Ok(b)) => b,
    };
    if got != expected {
        return Err(cluster_error(format!(
            "its executors compute Beacon's functions differently from this beacon (another Beacon version?): run `beacon scheduler` and `beacon executor` of this build.\nexpected:\n{expected}\ngot:\n{got}"
        )));
    }
    Ok(())
}

async fn run_probe(ctx: &SessionContext) -> Result<String, DataFusionError> {
    let batches: Vec<RecordBatch> = ctx.sql(PROBE_SQL).await?.collect().await?;
    Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
}

/// Beacon's SQL functions, as the probe uses them.
const FUNCTIONS: &str = "`logistic_fit`, `logistic_score`, `logistic_reasons`, `logistic_contributions`, `logistic_version`, `calibration_fit`, `calibrate`, `count_at_or_below`";

/// What a failed probe means for the user.
fn explain(e: &DataFusionError) -> String {
    let text = e.to_string();
    // An executor that cannot decode a task (a function it does not know) rejects it; the
    // client only hears that, the reason is in the executor's log.
    if text.contains("rejected by executor") {
        return format!(
            "its executors rejected a query using Beacon's functions ({FUNCTIONS}): stock Ballista executors? Run `beacon executor` of this build (README, \"Running on a Ballista cluster\"); the executors' logs say more. ({text})"
        );
    }
    for (marker, what) in [
        ("There is no UDF named", "function"),
        ("There is no UDAF named", "aggregate function"),
    ] {
        if let Some(rest) = text.split(marker).nth(1) {
            let name = rest
                .trim()
                .trim_start_matches(['"', '\\', '`'])
                .split(['"', '\\', '`', ' '])
                .next()
                .unwrap_or_default();
            return format!(
                "its scheduler or executors do not know Beacon's {what} `{name}` (stock Ballista processes?): run `beacon scheduler` and `beacon executor` of this build (README, \"Running on a Ballista cluster\")"
            );
        }
    }
    if text.contains("connect") || text.contains("transport error") || text.contains("Unavailable")
    {
        return format!("cannot reach the scheduler: {text}");
    }
    text
}

/// Takes the plan of `sql` the way a query travels on the cluster: optimized and serialized
/// here, decoded and planned physically in a session like the scheduler's, serialized again and
/// decoded with an executor's functions. An error is what the cluster would answer.
pub async fn check_shippable(ctx: &SessionContext, sql: &str) -> Result<(), DataFusionError> {
    // The scheduler builds the query's session from the settings the client sends.
    let settings = ctx.copied_config().to_key_value_pairs();
    let config = SessionConfig::new_with_ballista().update_from_key_value_pair(&settings);
    let scheduler = super::cluster::scheduler_session(config.clone())?;
    check_with(ctx, sql, scheduler, config).await
}

/// [`check_shippable`] with the scheduler's session given.
async fn check_with(
    ctx: &SessionContext,
    sql: &str,
    scheduler: SessionState,
    config: SessionConfig,
) -> Result<(), DataFusionError> {
    let plan = ctx.sql(sql).await?.into_optimized_plan()?;
    let logical_codec = BallistaLogicalExtensionCodec::default();
    let bytes = logical_plan_to_bytes_with_extension_codec(&plan, &logical_codec)?;
    let scheduler = SessionContext::new_with_state(scheduler);
    let decoded = logical_plan_from_bytes_with_extension_codec(
        &bytes,
        &scheduler.task_ctx(),
        &logical_codec,
    )?;
    let physical = scheduler.state().create_physical_plan(&decoded).await?;
    // The scheduler's (static) planner cuts the plan into stages at every shuffle; each stage
    // must hold together on its own (a shuffle keeps no order) and travel to an executor.
    let options = scheduler.state().config().options().clone();
    let stages = DefaultDistributedPlanner::new()
        .plan_query_stages(&JobId::new("beacon-validate"), physical, &options)
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let repartitioning: BTreeSet<usize> = stages
        .iter()
        .filter(|s| s.shuffle_output_partitioning().is_some())
        .map(|s| s.stage_id())
        .collect();
    let physical_codec = BallistaPhysicalExtensionCodec::default();
    let task = super::cluster::executor_task_context(config)?;
    for stage in stages {
        let stage: Arc<dyn ExecutionPlan> = stage;
        check_orderings(&stage, &repartitioning)?;
        let bytes = physical_plan_to_bytes_with_extension_codec(stage, &physical_codec)?;
        physical_plan_from_bytes_with_extension_codec(&bytes, &task, &physical_codec)?;
    }
    Ok(())
}

/// Fails if an operator of a stage needs its input sorted and that input comes, with no sort in
/// between, from a stage that repartitions (a shuffle keeps no order): the cluster would feed it
/// unsorted rows. [`super::cluster::SortAfterShuffle`] prevents the cases DataFusion plans.
fn check_orderings(
    plan: &Arc<dyn ExecutionPlan>,
    repartitioning: &BTreeSet<usize>,
) -> Result<(), DataFusionError> {
    let children = plan.children();
    for (child, requirement) in children.iter().zip(plan.required_input_ordering()) {
        if let Some(OrderingRequirements::Hard(_)) = requirement {
            if let Some(stage) = unsorted_shuffle(child, repartitioning) {
                return Err(DataFusionError::NotImplemented(format!(
                    "on Ballista, {} would read the rows of stage {stage} unsorted (a shuffle does not keep their order); add an ORDER BY where the order matters, or run this pipeline on `engine: local`",
                    plan.name()
                )));
            }
        }
    }
    for child in children {
        check_orderings(child, repartitioning)?;
    }
    Ok(())
}

/// The repartitioning stage `plan` reads, through operators that keep their input's order, if
/// no sort comes first.
fn unsorted_shuffle(
    plan: &Arc<dyn ExecutionPlan>,
    repartitioning: &BTreeSet<usize>,
) -> Option<usize> {
    if let Some(u) = plan.downcast_ref::<UnresolvedShuffleExec>() {
        return repartitioning.contains(&u.stage_id).then_some(u.stage_id);
    }
    if plan.is::<SortExec>() {
        return None;
    }
    let children = plan.children();
    match (children.as_slice(), plan.maintains_input_order().as_slice()) {
        ([child], [true]) => unsorted_shuffle(child, repartitioning),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_urls() {
        assert_eq!(
            scheduler_endpoint("ballista://beacon-scheduler:50050").unwrap(),
            "http://beacon-scheduler:50050"
        );
        assert!(scheduler_endpoint("ballista://beacon-scheduler").is_err());
        assert!(scheduler_endpoint("http://beacon-scheduler:50050").is_err());
    }

    #[test]
    fn unknown_functions_are_named() {
        let e = DataFusionError::Internal(
            "Job failed: There is no UDF named \"logistic_score\" in the TaskContext".into(),
        );
        let text = explain(&e);
        assert!(text.contains("`logistic_score`"), "{text}");
        assert!(text.contains("beacon executor"), "{text}");
    }

    #[tokio::test]
    async fn models_reading_empty_tables_and_beacon_functions_are_shippable() {
        let opts = EngineOptions {
            engine: crate::spec::EngineSpec::Ballista {
                url: "ballista://127.0.0.1:1".into(),
            },
            ..EngineOptions::default()
        };
        let storage = crate::storage::Storage::new(std::path::Path::new("/"));
        let ctx = super::super::session(&opts, &storage).unwrap();
        check_shippable(&ctx, PROBE_SQL).await.unwrap();
        // An empty table (an optional source without files) ships; a MemTable would not.
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new(
                "x",
                datafusion::arrow::datatypes::DataType::Int64,
                true,
            ),
        ]));
        crate::models::plan::register_empty(&ctx, "e", schema.clone()).unwrap();
        check_shippable(&ctx, "SELECT count(*) AS n FROM e WHERE x > 1")
            .await
            .unwrap();
        let mem = datafusion::datasource::MemTable::try_new(schema, vec![vec![]]).unwrap();
        ctx.register_table("m", Arc::new(mem)).unwrap();
        assert!(check_shippable(&ctx, "SELECT x FROM m").await.is_err());
    }

    /// int_lead_holdout_scores' shape: windows over one sorted partition, then a window
    /// partitioned by the same column, which DataFusion feeds from an order-keeping hash
    /// repartition that a Ballista shuffle would not keep. The table has more rows than a batch
    /// (8192): on fewer, DataFusion deems the repartition not worth it and plans none.
    #[tokio::test]
    async fn a_shuffle_that_drops_an_ordering_is_sorted_after_or_reported() {
        let dir = tempfile::tempdir().unwrap();
        let local = SessionContext::new();
        local
            .sql("SELECT CAST(v % 97 AS DOUBLE) AS p, v AS id FROM generate_series(1, 20000) AS t(v)")
            .await
            .unwrap()
            .write_parquet(
                &dir.path().to_string_lossy(),
                datafusion::dataframe::DataFrameWriteOptions::new(),
                None,
            )
            .await
            .unwrap();
        let opts = EngineOptions {
            engine: crate::spec::EngineSpec::Ballista {
                url: "ballista://127.0.0.1:1".into(),
            },
            target_partitions: Some(2),
            ..EngineOptions::default()
        };
        let storage = crate::storage::Storage::new(std::path::Path::new("/"));
        let ctx = super::super::session(&opts, &storage).unwrap();
        ctx.register_parquet(
            "t",
            &dir.path().to_string_lossy(),
            datafusion::prelude::ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        let sql = "SELECT id, ntile(10) OVER (ORDER BY p, id) AS d, \
                   count(*) OVER (PARTITION BY p) AS n FROM t";
        // Beacon's scheduler sorts after the shuffle.
        check_shippable(&ctx, sql).await.unwrap();
        // A scheduler without that rule would feed the window unsorted rows: reported.
        let settings = ctx.copied_config().to_key_value_pairs();
        let config = SessionConfig::new_with_ballista().update_from_key_value_pair(&settings);
        let stock = ballista_core::utils::default_session_builder(config.clone()).unwrap();
        let err = check_with(&ctx, sql, stock, config).await.unwrap_err();
        assert!(err.to_string().contains("unsorted"), "{err}");
    }
}
