//! The analyst's loop outside a run: `validate` (plan everything, read no data), `test` (the data
//! tests against the last committed run of a date) and `show` (one model's result, computed
//! from that run's tables, without writing anything).

use super::state::{self, Stored};
use super::{plan_partial, RunError};
use crate::checks::{self, CompiledTest, TestResult};
use crate::engine::{self, EngineOptions};
use crate::load;
use crate::models::plan::{plan_models, register_empty};
use crate::models::render::RenderContext;
use crate::models::{self, Materialized, Model, ModelSink};
use crate::publish::{self, Manifest, Publisher, WriteOptions};
use crate::spec::Pipeline;
use crate::storage::{Location, Storage};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::future::BoxFuture;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What `beacon validate` found.
#[derive(Debug, Default)]
pub struct Validation {
    /// Every problem, located (`file:line:col: ...`), in the order: models, checks.
    pub problems: Vec<String>,
    pub sources: usize,
    pub models: usize,
    pub published: usize,
    pub tests: usize,
    /// Models not planned because a model they read has a problem: (model, that model).
    pub unchecked: Vec<(String, String)>,
}

/// Parquet read back gives string columns as views: plan with the types the run will see.
fn as_read_back(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 => {
                    Field::new(f.name(), DataType::Utf8View, f.is_nullable())
                }
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// Checks the pipeline, its models and its tests without reading any data: every model is
/// planned against the declared source schemas, every test query against the planned models.
pub async fn validate(pipeline: &Pipeline, run_date: NaiveDate) -> Result<Validation, RunError> {
    let (graph, model_errors) = plan_partial(pipeline, run_date);
    let mut v = Validation {
        problems: model_errors.iter().map(|e| e.to_string()).collect(),
        sources: pipeline.sources.len(),
        models: graph.models.len() + model_errors.len(),
        published: pipeline.publish.len(),
        ..Validation::default()
    };
    let render = RenderContext::new(pipeline.vars.clone(), run_date);
    let tests = match checks::compile(pipeline, &render) {
        Ok(t) => t,
        Err(errors) => {
            v.problems.extend(errors.iter().map(|e| e.to_string()));
            Vec::new()
        }
    };
    v.tests = tests.len();
    let storage = Storage::new(&pipeline.base_dir);
    // The engine itself (a Ballista cluster: reachable, with Beacon's functions); the models are
    // planned in a session of that engine, or locally if there is none to be had.
    let opts = EngineOptions::from_pipeline(pipeline);
    if let Err(e) = engine::preflight(&opts).await {
        v.problems
            .push(format!("{}: engine: {e}", pipeline.file.display()));
    }
    let ctx = match engine::session(&opts, &storage) {
        Ok(ctx) => ctx,
        Err(_) => engine::session(&opts.local(), &storage)?,
    };
    let sources: Vec<(String, SchemaRef)> = pipeline
        .sources
        .iter()
        .map(|s| {
            (
                s.contract.name.clone(),
                as_read_back(&load::empty_batch_schema(&s.contract)),
            )
        })
        .collect();
    let planned = plan_models(&ctx, &graph, &sources).await;
    // Downstream models see what a materialised model reads back as.
    for (name, schema) in &planned.schemas {
        let _ = register_empty(&ctx, name, as_read_back(schema));
    }
    v.problems
        .extend(planned.errors.iter().map(|e| e.to_string()));
    v.unchecked = planned.unchecked.clone();
    // What planned here must also be something the engine can run (Ballista: ship).
    for model in &graph.models {
        if planned.schemas.contains_key(&model.name) {
            if let Err(e) = engine::check_model(&ctx, &opts, &model.sql).await {
                v.problems
                    .push(crate::models::plan::located(model, &e).to_string());
            }
        }
    }
    let mut models: BTreeSet<String> = graph.names().map(str::to_string).collect();
    models.extend(model_errors.iter().filter_map(model_of));
    let check_errors = checks::validate(&ctx, pipeline, &tests, &planned.schemas, &models).await;
    let check_failed = !check_errors.is_empty();
    v.problems
        .extend(check_errors.iter().map(|e| e.to_string()));
    // The data tests run on the engine too.
    if !check_failed {
        for t in tests
            .iter()
            .filter(|t| t.reads.iter().all(|r| planned.schemas.contains_key(r)))
        {
            if let Err(e) = engine::check_model(&ctx, &opts, &t.sql).await {
                v.problems.push(format!("{}: {}: {e}", t.origin, t.id));
            }
        }
    }
    Ok(v)
}

fn model_of(e: &crate::models::ModelError) -> Option<String> {
    use crate::models::ModelError::*;
    let file = match e {
        Render { file, .. } | Syntax { file, .. } | NotAQuery { file, .. } => file,
        UnknownTable { file, .. } => file,
        _ => return None,
    };
    file.file_stem().map(|s| s.to_string_lossy().to_string())
}

/// The last committed run of a date, opened for reading.
pub struct CommittedRun {
    pub run_date: NaiveDate,
    pub manifest: Manifest,
    /// Tables registered in the session: sources and models.
    pub available: BTreeSet<String>,
}

/// The most recent run date with a committed manifest under the output location.
pub async fn latest_committed_date(pipeline: &Pipeline) -> Result<Option<NaiveDate>, RunError> {
    let storage = Storage::new(&pipeline.base_dir);
    let output = storage.resolve(&pipeline.output)?;
    let runs = output.child("_beacon/runs");
    let listed = runs
        .store
        .list_with_delimiter(Some(&runs.path))
        .await
        .map_err(|error| RunError::Inspect {
            message: format!("cannot list {}: {error}", runs.display),
        })?;
    let mut dates: Vec<NaiveDate> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename())
        .filter_map(|n| n.strip_prefix("run_date="))
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .collect();
    dates.sort();
    for d in dates.into_iter().rev() {
        let p = Publisher::new(output.clone(), &pipeline.name, d, "inspect");
        if p.read_manifest().await?.is_some() {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// Registers in `ctx` what the committed run of `run_date` left: its raw sources, its
/// published models (from the manifest) and its unpublished models (from the work state).
pub async fn open_committed(
    pipeline: &Pipeline,
    run_date: NaiveDate,
    storage: &Storage,
    ctx: &SessionContext,
) -> Result<CommittedRun, RunError> {
    let output = storage.resolve(&pipeline.output)?;
    let raw = storage.resolve(&pipeline.raw)?;
    let work_root = storage.resolve(&pipeline.work)?;
    let publisher = Publisher::new(output.clone(), &pipeline.name, run_date, "inspect");
    let Some(manifest) = publisher.read_manifest().await? else {
        return Err(RunError::Inspect {
            message: format!(
                "no committed run for run_date={run_date} under {}: run `beacon run --date {run_date}` first",
                output.display
            ),
        });
    };
    engine::register_stores(ctx, storage);
    let mut available = BTreeSet::new();
    let date = format!("run_date={}", run_date.format("%Y-%m-%d"));
    for s in &pipeline.sources {
        let name = &s.contract.name;
        let loc = raw.child(&format!("{name}/{date}"));
        let has_files = storage
            .list_files(&loc)
            .await
            .map(|f| !f.is_empty())
            .unwrap_or(false);
        if has_files {
            ctx.register_parquet(name, &loc.table_url(), ParquetReadOptions::default())
                .await?;
            available.insert(name.clone());
        } else if s.optional {
            register_empty(ctx, name, load::empty_batch_schema(&s.contract))?;
            available.insert(name.clone());
        }
    }
    let folder = state::date_folder(&work_root, &pipeline.name, run_date);
    let work_state = state::read_state(&folder).await;
    for (name, stored) in state::stored_tables(Some(&manifest), &output, work_state.as_ref()) {
        match state::register(ctx, &name, &stored).await {
            Ok(()) => {
                available.insert(name);
            }
            Err(e) if matches!(stored, Stored::Files(_)) => {
                return Err(RunError::Reuse {
                    model: name,
                    error: e,
                })
            }
            // Scratch space that is gone: the model is just not available.
            Err(_) => {}
        }
    }
    Ok(CommittedRun {
        run_date,
        manifest,
        available,
    })
}

/// Which tests a selection covers: tests declared on a selected model, and singular tests that
/// read one. No selection: all tests.
pub fn tests_for(tests: &[CompiledTest], selected: Option<&BTreeSet<String>>) -> Vec<CompiledTest> {
    tests
        .iter()
        .filter(|t| match selected {
            None => true,
            Some(sel) => match &t.model {
                Some(m) => sel.contains(m),
                None => t.reads.iter().any(|r| sel.contains(r)),
            },
        })
        .cloned()
        .collect()
}

/// `beacon test`: the data tests against the last committed run of `run_date`.
pub async fn test(
    pipeline: &Pipeline,
    run_date: NaiveDate,
    select: &[String],
    exclude: &[String],
) -> Result<Vec<TestResult>, RunError> {
    let graph = super::plan(pipeline, run_date)?;
    let render = RenderContext::new(pipeline.vars.clone(), run_date);
    let tests = checks::compile(pipeline, &render).map_err(RunError::Checks)?;
    let selection = if select.is_empty() && exclude.is_empty() {
        None
    } else {
        Some(models::select::select(&graph, select, exclude).map_err(RunError::Select)?)
    };
    let storage = Storage::new(&pipeline.base_dir);
    let ctx = engine::session(&EngineOptions::from_pipeline(pipeline), &storage)?;
    let run = open_committed(pipeline, run_date, &storage, &ctx).await?;
    let chosen = tests_for(&tests, selection.as_ref());
    Ok(checks::run_tests(&ctx, &chosen, &run.available).await)
}

/// `beacon show`: the first `limit` rows of `model` computed now, from the tables of the last
/// committed run of `run_date` (models it reads that are not there are computed too, in a
/// temporary folder). Nothing is published or kept.
pub async fn show(
    pipeline: &Pipeline,
    run_date: NaiveDate,
    model: &str,
    limit: usize,
) -> Result<Vec<RecordBatch>, RunError> {
    let graph = super::plan(pipeline, run_date)?;
    let Some(target) = graph.get(model) else {
        return Err(RunError::Select(vec![models::select::SelectError {
            selector: model.to_string(),
            suggestion: crate::spec::closest(model, graph.names()).map(str::to_string),
        }]));
    };
    let storage = Storage::new(&pipeline.base_dir);
    let ctx = engine::session(&EngineOptions::from_pipeline(pipeline), &storage)?;
    let run = open_committed(pipeline, run_date, &storage, &ctx).await?;
    // Build what the model needs that the committed run does not have.
    let mut missing = BTreeSet::new();
    let mut stack: Vec<&Model> = vec![target];
    while let Some(m) = stack.pop() {
        for s in &m.source_deps {
            if !run.available.contains(s) {
                return Err(RunError::Inspect {
                    message: format!(
                        "source `{s}` of run_date={run_date} is not in the raw zone: run `beacon run --date {run_date}` first"
                    ),
                });
            }
        }
        for d in &m.model_deps {
            if !run.available.contains(d) && missing.insert(d.clone()) {
                if let Some(dm) = graph.get(d) {
                    stack.push(dm);
                }
            }
        }
    }
    let scratch = std::env::temp_dir().join(format!(
        "beacon-show-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = async {
        if !missing.is_empty() {
            let scratch_loc = storage.resolve(&scratch.to_string_lossy())?;
            let sink = Arc::new(ScratchSink { dir: scratch_loc });
            let outcomes =
                models::execute(&ctx, &graph.subgraph(&missing), sink, 2, Arc::new(|_| {})).await;
            for o in outcomes {
                if let Err(e) = o.result {
                    return Err(RunError::Inspect {
                        message: format!("cannot build `{}`, which `{model}` reads: {e}", o.name),
                    });
                }
            }
        }
        let df = ctx
            .sql(&target.sql)
            .await
            .map_err(|e| RunError::Models(vec![crate::models::plan::located(target, &e)]))?;
        let batches = df.limit(0, Some(limit))?.collect().await?;
        Ok(batches)
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&scratch).await;
    result
}

/// Writes models `show` needs to a scratch folder.
struct ScratchSink {
    dir: Location,
}

impl ModelSink for ScratchSink {
    fn materialize<'a>(
        &'a self,
        model: &'a Model,
        df: DataFrame,
    ) -> BoxFuture<'a, Result<Materialized, String>> {
        Box::pin(async move {
            let dir = self.dir.child(&model.name);
            let table = publish::write_dataframe(df, &dir, &WriteOptions::scratch())
                .await
                .map_err(|e| e.to_string())?;
            Ok(Materialized {
                table_url: dir.table_url(),
                rows: table.rows,
                bytes: table.bytes,
                files: table.files.iter().map(|f| f.path.clone()).collect(),
                schema: table.schema.clone(),
                view: false,
            })
        })
    }
}
