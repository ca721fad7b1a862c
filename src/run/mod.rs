//! One run of a pipeline for one logical date: load -> models -> publish, with its artifacts.
//!
//! This module conducts; the stages do not call each other. The order is chosen so that the
//! cheap checks fail first: the model graph (SQL syntax, references, cycles) is built before any
//! data is read, every source is loaded before any model runs, and nothing is published unless
//! every model succeeded. After the commit the HTML report is written from the published data.
//! `run_results.json` is written for failed runs too.

mod results;

pub use results::{ModelResult, ReportResult, RunResults, SourceResult, Status};

use crate::engine::{self, EngineOptions};
use crate::load::{self, InputFile, LoadOptions, RawTarget};
use crate::models::render::RenderContext;
use crate::models::{self, Materialized, Model, ModelError, ModelEvent, ModelGraph, ModelSink};
use crate::publish::{self, Manifest, Publisher, WriteOptions, WrittenTable};
use crate::spec::Pipeline;
use crate::storage::{Location, Storage, StorageError};
use chrono::NaiveDate;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::future::BoxFuture;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Progress of a run, for the CLI to show (the library itself prints nothing).
#[derive(Debug, Clone)]
pub enum RunEvent {
    Planned {
        sources: usize,
        models: usize,
    },
    SourceStarted {
        source: String,
    },
    SourceLoaded {
        source: String,
        rows: u64,
        rejected: u64,
        elapsed: Duration,
    },
    Model(ModelEvent),
    Committed {
        tables: usize,
    },
}

/// Receives [`RunEvent`]s.
pub type Observer = Arc<dyn Fn(RunEvent) + Send + Sync>;

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error("{}", join_errors(.0))]
    Models(Vec<ModelError>),
    #[error("source `{source_name}` failed to load: {error}")]
    Load {
        source_name: String,
        error: Box<load::LoadError>,
    },
    #[error("cannot prepare the raw zone for `{source_name}`: {error}")]
    RawZone {
        source_name: String,
        error: object_store::Error,
    },
    #[error("query engine: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
    #[error("{count} of {total} models failed; nothing was published. First: {first}")]
    ModelsFailed {
        count: usize,
        total: usize,
        first: String,
    },
}

fn join_errors(errors: &[ModelError]) -> String {
    let n = errors.len();
    let list = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    if n == 1 {
        list
    } else {
        format!("{n} problems in the models:\n{list}")
    }
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutcome {
    pub results: RunResults,
    pub manifest: Option<Manifest>,
}

/// Builds the rendered model graph of a pipeline for a date, and checks the publish list.
pub fn plan(pipeline: &Pipeline, run_date: NaiveDate) -> Result<ModelGraph, RunError> {
    let render = RenderContext::new(pipeline.vars.clone(), run_date);
    let sources: Vec<String> = pipeline
        .sources
        .iter()
        .map(|s| s.contract.name.clone())
        .collect();
    let graph =
        ModelGraph::load(&pipeline.models_dir, &render, &sources).map_err(RunError::Models)?;
    let missing: Vec<ModelError> = pipeline
        .publish
        .iter()
        .filter(|p| graph.get(p).is_none())
        .map(|p| ModelError::UnknownPublished {
            name: p.clone(),
            suggestion: crate::spec::closest(p, graph.names()).map(str::to_string),
        })
        .collect();
    if !missing.is_empty() {
        return Err(RunError::Models(missing));
    }
    Ok(graph)
}

fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let salt: u32 = rand::random();
    format!("{}-{salt:08x}", now.format("%Y%m%dT%H%M%SZ"))
}

/// Runs `pipeline` for `run_date`. Returns the outcome (with run results) when the run got as
/// far as writing results, or an error for problems found before any data moved.
pub async fn run(
    pipeline: &Pipeline,
    run_date: NaiveDate,
    observer: Observer,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let run_id = new_run_id();
    let graph = plan(pipeline, run_date)?;
    let storage = Storage::new(&pipeline.base_dir);
    let raw = storage.resolve(&pipeline.raw)?;
    let output = storage.resolve(&pipeline.output)?;
    let work = storage.resolve(&pipeline.work.join(&run_id).to_string_lossy())?;
    let publisher = Publisher::new(output, &pipeline.name, run_date, &run_id);
    let mut results = RunResults::new(pipeline, &run_id, run_date);
    observer(RunEvent::Planned {
        sources: pipeline.sources.len(),
        models: graph.models.len(),
    });

    // Resolve every source location before reading anything, so a typo fails fast.
    let mut inputs = Vec::new();
    for source in &pipeline.sources {
        let loc = storage.resolve(&source.location)?;
        inputs.push((source, loc));
    }
    let ctx = engine::session(
        &EngineOptions {
            memory_limit: pipeline.memory_limit,
            spill_dir: pipeline.spill_dir.clone(),
            target_partitions: pipeline.target_partitions,
        },
        &storage,
    )?;

    let outcome = execute(
        pipeline,
        &graph,
        &storage,
        &ctx,
        &raw,
        &publisher,
        &work,
        inputs,
        &mut results,
        &observer,
    )
    .await;
    results.elapsed_seconds = started.elapsed().as_secs_f64();
    if let Some(dir) = &work.local {
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
    match outcome {
        Ok(manifest) => {
            results.status = Status::Success;
            // The data is committed; the report is rendered from it (see crate::report). A
            // failure here is recorded, not raised: the commit stands.
            let t0 = Instant::now();
            let report = crate::report::write(pipeline, run_date).await;
            results.report = Some(ReportResult::from_outcome(&report, t0.elapsed()));
            publisher.write_json("run_results.json", &results).await?;
            Ok(RunOutcome {
                results,
                manifest: Some(manifest),
            })
        }
        Err(e) => {
            publisher.cleanup().await;
            results.status = Status::Error;
            results.error = Some(e.to_string());
            // Best effort: the run's error is what the caller needs, even if this write fails.
            let _ = publisher.write_json("run_results.json", &results).await;
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    pipeline: &Pipeline,
    graph: &ModelGraph,
    storage: &Storage,
    ctx: &SessionContext,
    raw: &Location,
    publisher: &Publisher,
    work: &Location,
    inputs: Vec<(&crate::spec::Source, Location)>,
    results: &mut RunResults,
    observer: &Observer,
) -> Result<Manifest, RunError> {
    let date = format!("run_date={}", results.run_date.format("%Y-%m-%d"));
    // Sources load one after another: each load already uses a reader and a writer thread, and
    // on the small machines this runs on, more would only contend.
    for (source, loc) in inputs {
        let name = source.contract.name.clone();
        observer(RunEvent::SourceStarted {
            source: name.clone(),
        });
        let t0 = Instant::now();
        let files = match storage.list_files(&loc).await {
            Ok(f) => f,
            Err(StorageError::NotFound { .. }) if source.optional => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let table_loc = raw.child(&format!("{name}/{date}"));
        clear_prefix(&table_loc)
            .await
            .map_err(|error| RunError::RawZone {
                source_name: name.clone(),
                error,
            })?;
        let quarantine_loc = raw.child(&format!("_quarantine/{name}/{date}"));
        clear_prefix(&quarantine_loc)
            .await
            .map_err(|error| RunError::RawZone {
                source_name: name.clone(),
                error,
            })?;
        if files.is_empty() {
            let schema = load::empty_batch_schema(&source.contract);
            let table = MemTable::try_new(schema, vec![vec![]])?;
            ctx.register_table(name.as_str(), Arc::new(table))?;
            results
                .sources
                .push(SourceResult::missing_optional(&name, &loc.display));
            observer(RunEvent::SourceLoaded {
                source: name,
                rows: 0,
                rejected: 0,
                elapsed: t0.elapsed(),
            });
            continue;
        }
        let input_files: Vec<InputFile> = files
            .iter()
            .map(|m| InputFile {
                store: loc.store.clone(),
                path: m.location.clone(),
                display: loc.display_object(&m.location),
            })
            .collect();
        let target = RawTarget {
            store: raw.store.clone(),
            data_prefix: table_loc.path.clone(),
            quarantine_prefix: quarantine_loc.path.clone(),
        };
        let report = load::load_source(
            &source.contract,
            &input_files,
            &target,
            &LoadOptions::default(),
        )
        .await;
        let report = match report {
            Ok(r) => r,
            Err(error) => {
                results.sources.push(SourceResult::failed(
                    &name,
                    &loc.display,
                    &error.to_string(),
                ));
                return Err(RunError::Load {
                    source_name: name,
                    error: Box::new(error),
                });
            }
        };
        results.sources.push(SourceResult::from_report(
            &report,
            &loc.display,
            t0.elapsed(),
        ));
        engine::register_stores(ctx, storage);
        ctx.register_parquet(
            name.as_str(),
            &table_loc.table_url(),
            ParquetReadOptions::default(),
        )
        .await?;
        observer(RunEvent::SourceLoaded {
            source: name,
            rows: report.rows_loaded,
            rejected: report.rows_rejected,
            elapsed: t0.elapsed(),
        });
    }

    let published: BTreeSet<String> = pipeline.publish.iter().cloned().collect();
    let sink = Arc::new(RunSink {
        publisher: publisher.clone(),
        work: work.clone(),
        published: published.clone(),
        options: WriteOptions::default(),
        written: Mutex::new(Vec::new()),
    });
    let obs = Arc::clone(observer);
    let outcomes = models::execute(
        ctx,
        graph,
        sink.clone(),
        2,
        Arc::new(move |e| obs(RunEvent::Model(e))),
    )
    .await;
    let total = outcomes.len();
    let mut failures = Vec::new();
    for o in outcomes {
        let layer = graph
            .get(&o.name)
            .map(|m| m.layer.clone())
            .unwrap_or_default();
        let is_published = published.contains(&o.name);
        match &o.result {
            Ok(m) => results.models.push(ModelResult::success(
                &o.name,
                &layer,
                is_published,
                m,
                o.elapsed,
            )),
            Err(e) => {
                let skipped = matches!(e, ModelError::Skipped { .. });
                results.models.push(ModelResult::failure(
                    &o.name,
                    &layer,
                    is_published,
                    &e.to_string(),
                    skipped,
                    o.elapsed,
                ));
                if !skipped {
                    failures.push(e.to_string());
                }
            }
        }
    }
    if let Some(first) = failures.first() {
        return Err(RunError::ModelsFailed {
            count: failures.len(),
            total,
            first: first.clone(),
        });
    }
    let mut written = sink.take();
    written.sort_by(|a, b| a.0.cmp(&b.0));
    let manifest = publisher.commit(&written).await?;
    observer(RunEvent::Committed {
        tables: manifest.tables.len(),
    });
    Ok(manifest)
}

/// Deletes every object under a prefix (a re-run of a date replaces that date's raw data whole).
async fn clear_prefix(loc: &Location) -> Result<(), object_store::Error> {
    use futures::TryStreamExt;
    use object_store::ObjectStoreExt;
    let existing: Vec<_> = match loc.store.list(Some(&loc.path)).try_collect().await {
        Ok(v) => v,
        Err(object_store::Error::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    for meta in existing {
        loc.store.delete(&meta.location).await?;
    }
    if let Some(dir) = &loc.local {
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
    Ok(())
}

/// Writes published models to the run's staging area and the rest to local scratch space.
struct RunSink {
    publisher: Publisher,
    work: Location,
    published: BTreeSet<String>,
    options: WriteOptions,
    written: Mutex<Vec<(String, WrittenTable)>>,
}

impl RunSink {
    fn take(&self) -> Vec<(String, WrittenTable)> {
        std::mem::take(&mut *self.written.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ModelSink for RunSink {
    fn materialize<'a>(
        &'a self,
        model: &'a Model,
        df: DataFrame,
    ) -> BoxFuture<'a, Result<Materialized, String>> {
        Box::pin(async move {
            let is_published = self.published.contains(&model.name);
            let dir = if is_published {
                self.publisher.staging(&model.name)
            } else {
                self.work.child(&model.name)
            };
            let table = publish::write_dataframe(df, &dir, &self.options)
                .await
                .map_err(|e| e.to_string())?;
            let materialized = Materialized {
                table_url: dir.table_url(),
                rows: table.rows,
                bytes: table.bytes,
                files: table.files.iter().map(|f| f.path.clone()).collect(),
            };
            if is_published {
                self.written
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((model.name.clone(), table));
            }
            Ok(materialized)
        })
    }
}
