//! Runs the models of a graph: each as soon as the models it reads are done, several at once.
//!
//! A model's result is handed to a [`ModelSink`] (the run decides where it is written) and the
//! written files are registered as a table for the models downstream, so every model is computed
//! once and read from Parquet, never recomputed or held in memory.

use super::{Model, ModelError, ModelGraph};
use datafusion::catalog::view::ViewTable;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// What a sink wrote for a model.
#[derive(Debug, Clone)]
pub struct Materialized {
    /// Table URL the result can be read back from (a folder of Parquet files).
    pub table_url: String,
    pub rows: u64,
    pub bytes: u64,
    /// The files written, as object paths.
    pub files: Vec<String>,
    /// The schema written.
    pub schema: datafusion::arrow::datatypes::SchemaRef,
    /// A view: nothing was written (`table_url`, `files` empty, `rows` and `bytes` 0); the readers
    /// plan the model's query inside their own.
    pub view: bool,
}

/// Where model results go; implemented by the run (local scratch or the output staging area).
pub trait ModelSink: Send + Sync {
    fn materialize<'a>(
        &'a self,
        model: &'a Model,
        df: DataFrame,
    ) -> BoxFuture<'a, Result<Materialized, String>>;
}

/// Progress of model execution, for logs and progress bars.
#[derive(Debug, Clone)]
pub enum ModelEvent {
    Started {
        model: String,
    },
    Finished {
        model: String,
        rows: u64,
        elapsed: Duration,
        /// A view: defined, not computed (`rows` is 0).
        view: bool,
    },
    Failed {
        model: String,
        error: String,
    },
}

/// The outcome of one model.
#[derive(Debug)]
pub struct ModelOutcome {
    pub name: String,
    pub result: Result<Materialized, ModelError>,
    pub elapsed: Duration,
}

/// Executes `graph` (or the models in `only`, when given, in graph order).
pub async fn execute(
    ctx: &SessionContext,
    graph: &ModelGraph,
    sink: Arc<dyn ModelSink>,
    max_concurrency: usize,
    on_event: Arc<dyn Fn(ModelEvent) + Send + Sync>,
) -> Vec<ModelOutcome> {
    let max_concurrency = max_concurrency.max(1);
    let mut pending: BTreeMap<&str, &Model> =
        graph.models.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    let mut outcomes = Vec::new();
    let mut running: JoinSet<ModelOutcome> = JoinSet::new();
    let order: Vec<&str> = graph.names().collect();

    loop {
        // Skip models whose inputs failed; start those whose inputs are all done.
        for name in &order {
            let Some(model) = pending.get(name).copied() else {
                continue;
            };
            if let Some(bad) = model
                .model_deps
                .iter()
                .find(|d| failed.contains_key(d.as_str()))
            {
                pending.remove(name);
                failed.insert(model.name.clone(), bad.clone());
                outcomes.push(ModelOutcome {
                    name: model.name.clone(),
                    result: Err(ModelError::Skipped {
                        model: model.name.clone(),
                        failed: bad.clone(),
                    }),
                    elapsed: Duration::ZERO,
                });
                continue;
            }
            if running.len() >= max_concurrency {
                continue;
            }
            if model.model_deps.iter().all(|d| done.contains(d)) {
                pending.remove(name);
                on_event(ModelEvent::Started {
                    model: model.name.clone(),
                });
                let ctx = ctx.clone();
                let sink = Arc::clone(&sink);
                let model = model.clone();
                running.spawn(async move { run_one(&ctx, &model, sink.as_ref()).await });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        // What the finished model freed goes back to the system, not into the next one's peak.
        crate::memory::release_free_memory();
        let outcome = match joined {
            Ok(o) => o,
            Err(e) => ModelOutcome {
                name: String::from("<task>"),
                result: Err(ModelError::Execute {
                    model: String::from("<task>"),
                    file: Default::default(),
                    message: e.to_string(),
                }),
                elapsed: Duration::ZERO,
            },
        };
        match &outcome.result {
            Ok(m) => {
                on_event(ModelEvent::Finished {
                    model: outcome.name.clone(),
                    rows: m.rows,
                    elapsed: outcome.elapsed,
                    view: m.view,
                });
                done.insert(outcome.name.clone());
            }
            Err(e) => {
                on_event(ModelEvent::Failed {
                    model: outcome.name.clone(),
                    error: e.to_string(),
                });
                failed.insert(outcome.name.clone(), outcome.name.clone());
            }
        }
        outcomes.push(outcome);
    }
    outcomes
}

async fn run_one(ctx: &SessionContext, model: &Model, sink: &dyn ModelSink) -> ModelOutcome {
    let start = Instant::now();
    let result = async {
        let plan_error = |source| ModelError::Plan {
            model: model.name.clone(),
            file: model.file.clone(),
            source,
        };
        let df = ctx.sql(&model.sql).await.map_err(plan_error)?;
        if model.view {
            return define_view(ctx, model, df).map_err(plan_error);
        }
        let written = sink
            .materialize(model, df)
            .await
            .map_err(|message| ModelError::Execute {
                model: model.name.clone(),
                file: model.file.clone(),
                message,
            })?;
        ctx.register_parquet(
            model.name.as_str(),
            &written.table_url,
            ParquetReadOptions::default(),
        )
        .await
        .map_err(plan_error)?;
        Ok(written)
    }
    .await;
    ModelOutcome {
        name: model.name.clone(),
        result,
        elapsed: start.elapsed(),
    }
}

/// Registers a view model: its (unoptimised) plan becomes a table whose scans the readers'
/// planning replaces with the plan itself, so its columns and filters are pruned per reader.
fn define_view(
    ctx: &SessionContext,
    model: &Model,
    df: DataFrame,
) -> Result<Materialized, datafusion::error::DataFusionError> {
    let schema = Arc::new(df.schema().as_arrow().clone());
    let (_, plan) = df.into_parts();
    let view = ViewTable::new(plan, Some(model.sql.clone()));
    // A re-run in the same session (`beacon show`) replaces the earlier definition.
    ctx.deregister_table(model.name.as_str())?;
    ctx.register_table(model.name.as_str(), Arc::new(view))?;
    Ok(Materialized {
        table_url: String::new(),
        rows: 0,
        bytes: 0,
        files: Vec::new(),
        schema,
        view: true,
    })
}
