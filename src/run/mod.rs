//! One run of a pipeline for one logical date: load -> models -> publish, with its artifacts.
//!
//! This module conducts; the stages do not call each other. The order is chosen so that the
//! cheap checks fail first: the model graph (SQL syntax, references, cycles) is built before any
//! data is read, every source is loaded before any model runs, and nothing is published unless
//! every model succeeded. After the commit the HTML report is written from the published data
//! (crate::report). `run_results.json` is written for failed runs too.
//!
//! Before anything is read or written, the run takes the lock of its output and date
//! ([`publish::RunLock`]); a second run of the same date fails at once naming the holder, and
//! writes nothing (not even `run_results.json`). The lock is released at the end, whatever the
//! outcome; a killed run's lock is taken over by the next run (see `publish::lock`).

mod artifacts;
pub mod inspect;
pub mod lineage;
mod results;
pub mod retention;
mod scale;
pub mod state;

pub use results::{ModelResult, ReportResult, RunResults, SourceResult, Status};

use crate::checks::{self, CheckError, CompiledTest, TestResult};
use crate::engine::{self, EngineOptions};
use crate::load::{self, InputFile, LoadOptions, RawTarget};
use crate::models::render::RenderContext;
use crate::models::select::{self, SelectError};
use crate::models::{self, Materialized, Model, ModelError, ModelEvent, ModelGraph, ModelSink};
use crate::publish::{
    self, LockError, LockHolder, Manifest, Publisher, SourceState, TableEntry, WriteOptions,
    WrittenTable,
};
use crate::spec::Pipeline;
use crate::storage::{Location, Storage, StorageError};
use chrono::NaiveDate;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::future::BoxFuture;
use futures::StreamExt;
use object_store::ObjectMeta;
use state::WorkState;
use std::collections::{BTreeMap, BTreeSet};
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
    /// A data test finished (run before publishing).
    Test(TestResult),
    /// Something went wrong that does not fail the run.
    Warning(String),
    /// The run holds the lock of its output and date.
    Locked {
        lock: String,
        /// The dead or expired holder whose lock was taken over.
        took_over: Option<LockHolder>,
    },
    /// Every model and test succeeded; the commit of `tables` published tables starts.
    Committing {
        tables: usize,
    },
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
    Publish(Box<publish::PublishError>),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{count} of {total} models failed; nothing was published. First: {first}")]
    ModelsFailed {
        count: usize,
        total: usize,
        first: String,
    },
    #[error("{}", join_display(.0))]
    Checks(Vec<CheckError>),
    #[error("{}", join_display(.0))]
    Select(Vec<SelectError>),
    #[error("cannot read `{model}` from the last committed run: {error}")]
    Reuse {
        model: String,
        error: datafusion::error::DataFusionError,
    },
    #[error("{message}")]
    Inspect { message: String },
    #[error("source `{source_name}`: cannot merge the new rows into the previous state: {error}")]
    Incremental {
        source_name: String,
        error: datafusion::error::DataFusionError,
    },
    #[error("{count} data test{} failed; nothing was published. First: {first}", if *.count == 1 { "" } else { "s" })]
    TestsFailed { count: usize, first: String },
}

impl From<publish::PublishError> for RunError {
    fn from(e: publish::PublishError) -> Self {
        RunError::Publish(Box::new(e))
    }
}

fn join_display<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
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
    let (graph, errors) = plan_partial(pipeline, run_date);
    if errors.is_empty() {
        Ok(graph)
    } else {
        Err(RunError::Models(errors))
    }
}

/// Like [`plan`], but returns the graph of the models without problems together with every
/// problem, for `beacon validate` to go on checking.
pub fn plan_partial(pipeline: &Pipeline, run_date: NaiveDate) -> (ModelGraph, Vec<ModelError>) {
    let render = RenderContext::new(pipeline.vars.clone(), run_date);
    let sources: Vec<String> = pipeline
        .sources
        .iter()
        .map(|s| s.contract.name.clone())
        .collect();
    let folders = pipeline.model_folders();
    let (graph, mut errors) = ModelGraph::load_partial_folders(&folders, &render, &sources);
    let known: BTreeSet<String> = crate::models::find_model_files(&folders)
        .unwrap_or_default()
        .iter()
        .filter_map(|(f, _)| f.file_stem().map(|s| s.to_string_lossy().to_string()))
        .collect();
    for p in &pipeline.publish {
        if !known.contains(p) {
            errors.push(ModelError::UnknownPublished {
                name: p.clone(),
                suggestion: crate::spec::closest(p, known.iter().map(String::as_str))
                    .map(str::to_string),
            });
        }
    }
    let mut graph = graph;
    mark_views(pipeline, &mut graph, &known, &mut errors);
    (graph, errors)
}

/// Marks the models `views:` selects as views; a name that is no model, or a selector that
/// selects a published model, is a problem of the pipeline file.
fn mark_views(
    pipeline: &Pipeline,
    graph: &mut ModelGraph,
    known: &BTreeSet<String>,
    errors: &mut Vec<ModelError>,
) {
    let mut views = BTreeSet::new();
    for (index, v) in pipeline.views.iter().enumerate() {
        let problem = |message: String| ModelError::View {
            file: pipeline.file.clone(),
            line: v.line,
            index,
            message,
        };
        if v.selector.trim().is_empty() {
            errors.push(problem("an empty selector selects no model".to_string()));
            continue;
        }
        match select::select(graph, std::slice::from_ref(&v.selector), &[]) {
            Ok(chosen) => {
                for name in &chosen {
                    if pipeline.publish.contains(name) {
                        errors.push(problem(format!(
                            "`{name}` is published, and a published model is written as a table: take it out of `views:` or `publish:`"
                        )));
                    }
                }
                views.extend(chosen);
            }
            // A model with a problem of its own is already reported; a glob may match nothing
            // (`stg_*` in a project without staging models).
            Err(_) if known.contains(v.selector.trim()) => {}
            Err(_) if v.selector.contains(['*', '?', '[']) => {}
            Err(e) => errors.extend(e.into_iter().map(|e| problem(e.to_string()))),
        }
    }
    for m in &mut graph.models {
        m.view = views.contains(&m.name);
    }
}

fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let salt: u32 = rand::random();
    format!("{}-{salt:08x}", now.format("%Y%m%dT%H%M%SZ"))
}

/// The dates of a backfill, in order (at most ten years of days).
pub fn backfill_dates(from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>, RunError> {
    if to < from {
        return Err(RunError::Inspect {
            message: format!("--from {from} is after --to {to}"),
        });
    }
    let days = (to - from).num_days();
    if days > 3660 {
        return Err(RunError::Inspect {
            message: format!("a backfill of {days} days is more than ten years: split it"),
        });
    }
    Ok(from.iter_days().take(days as usize + 1).collect())
}

/// Whether `run_date` has a committed run (a manifest) under the pipeline's output.
pub async fn is_committed(pipeline: &Pipeline, run_date: NaiveDate) -> Result<bool, RunError> {
    let storage = Storage::new(&pipeline.base_dir);
    let output = storage.resolve(&pipeline.output)?;
    let publisher = Publisher::new(output, &pipeline.name, run_date, "check");
    Ok(publisher.read_manifest().await?.is_some())
}

/// What to run: everything (the default), or a selection (`--select` / `--exclude`).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    /// Incremental sources ignore the last watermark and load everything.
    pub full_refresh: bool,
    /// Re-use what the date's last failed run built (its loaded sources and the models that
    /// succeeded) and build the rest.
    pub resume: bool,
}

impl RunOptions {
    fn is_full(&self) -> bool {
        self.select.iter().all(|s| s.trim().is_empty())
            && self.exclude.iter().all(|s| s.trim().is_empty())
    }
}

/// Runs `pipeline` for `run_date`. Returns the outcome (with run results) when the run got as
/// far as writing results, or an error for problems found before any data moved.
///
/// A selection run builds the selected models (and any model they read that the date's last
/// committed run does not provide), loads only the sources those read, reads the other models
/// from that committed run, and commits a manifest in which the models it did not build keep
/// their previous files.
pub async fn run(
    pipeline: &Pipeline,
    run_date: NaiveDate,
    options: &RunOptions,
    observer: Observer,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let run_id = new_run_id();
    let graph = plan(pipeline, run_date)?;
    let render = RenderContext::new(pipeline.vars.clone(), run_date);
    let tests = checks::compile(pipeline, &render).map_err(RunError::Checks)?;
    let chosen =
        select::select(&graph, &options.select, &options.exclude).map_err(RunError::Select)?;
    let storage = Storage::with_options(&pipeline.base_dir, pipeline.storage.clone());
    let raw = storage.resolve(&pipeline.raw)?;
    let output = storage.resolve(&pipeline.output)?;
    let work_root = storage.resolve(&pipeline.work)?;
    let date_folder = state::date_folder(&work_root, &pipeline.name, run_date);
    let work = date_folder.child(&run_id);
    let publisher = Publisher::new(output.clone(), &pipeline.name, run_date, &run_id);
    let lock = publisher.lock(pipeline.storage.lock_ttl).await?;
    observer(RunEvent::Locked {
        lock: lock.display(),
        took_over: lock.took_over.clone(),
    });
    let outcome: Result<RunOutcome, RunError> = async {
        let mut results = RunResults::new(pipeline, &run_id, run_date);

        // What this run builds, and what it reads from the date's last committed run (or, when
        // resuming, from the date's last failed run).
        let resuming = if options.resume {
            match state::read_failed(&date_folder).await {
                Some(f) => Some(f),
                None => {
                    return Err(RunError::Inspect {
                        message: format!(
                            "--resume: no failed run of run_date={run_date} to resume (its work folder {} has no failed.json); run without --resume",
                            date_folder.display
                        ),
                    })
                }
            }
        } else {
            None
        };
        let full = options.is_full();
        let previous_manifest = if full {
            None
        } else {
            publisher.read_manifest().await?
        };
        let previous_state = state::read_state(&date_folder).await;
        let stored: BTreeMap<String, state::Stored> = match &resuming {
            Some(f) => f
                .models
                .iter()
                .map(|(n, d)| (n.clone(), state::Stored::Folder(d.table_url.clone())))
                .collect(),
            None if full => BTreeMap::new(),
            None => {
                state::stored_tables(previous_manifest.as_ref(), &output, previous_state.as_ref())
            }
        };
        // A view is defined again by every run that needs it (an earlier run may have stored it
        // as a table before it became a view).
        let stored: BTreeMap<String, state::Stored> = stored
            .into_iter()
            .filter(|(name, _)| !graph.get(name).is_some_and(|m| m.view))
            .collect();
        let (to_run, reused): (BTreeSet<String>, BTreeMap<String, state::Stored>) =
            if resuming.is_some() {
                let to_run = graph
                    .names()
                    .filter(|n| !stored.contains_key(*n))
                    .map(str::to_string)
                    .collect();
                (to_run, stored.clone())
            } else {
                let to_run = models_to_run(&graph, &chosen, &stored);
                let reused = select::upstream_of(&graph, &to_run)
                    .into_iter()
                    .filter(|m| !to_run.contains(m))
                    .filter_map(|m| stored.get(&m).map(|s| (m, s.clone())))
                    .collect();
                (to_run, reused)
            };
        let preloaded: BTreeMap<String, SourceState> = resuming
            .as_ref()
            .map(|f| f.sources.clone())
            .unwrap_or_default();
        let needed_sources: BTreeSet<&str> = graph
            .models
            .iter()
            .filter(|m| to_run.contains(&m.name))
            .flat_map(|m| m.source_deps.iter().map(String::as_str))
            .collect();
        let sources: Vec<&crate::spec::Source> = pipeline
            .sources
            .iter()
            .filter(|s| full || needed_sources.contains(s.contract.name.as_str()))
            .filter(|s| !preloaded.contains_key(&s.contract.name))
            .collect();
        results.resumed_from = resuming.as_ref().map(|f| f.run_id.clone());
        results.selected = (!full).then(|| to_run.iter().cloned().collect());
        observer(RunEvent::Planned {
            sources: sources.len(),
            models: to_run.len(),
        });

        // Resolve every source location before reading anything, so a typo fails fast.
        let mut inputs = Vec::new();
        for source in sources {
            let loc = storage.resolve(&source.location)?;
            inputs.push((source, loc));
        }
        let input_names: Vec<String> = inputs.iter().map(|(_, l)| l.display.clone()).collect();
        let lineage_info = pipeline.lineage.as_ref().map(|spec| lineage::RunInfo {
            spec,
            pipeline: &pipeline.name,
            run_id: &run_id,
            run_date,
            inputs: &input_names,
        });
        if let Some(info) = &lineage_info {
            let event = lineage::event(info, lineage::EventType::Start, None, None);
            for w in lineage::emit(info.spec, &event).await {
                observer(RunEvent::Warning(w.clone()));
                results.warnings.push(w);
            }
        }
        // Sources large next to the memory limit: every join and sort spills (see `scale`).
        let locations: Vec<Location> = inputs.iter().map(|(_, l)| l.clone()).collect();
        let tuned;
        let pipeline = match scale::large_run_reason(pipeline, &storage, &locations, &preloaded).await {
            Some(reason) => {
                tracing::info!(%reason, "large-run settings");
                tuned = pipeline.with_large_run_settings();
                &tuned
            }
            None => pipeline,
        };
        let engine_options = EngineOptions::from_pipeline(pipeline);
        let ctx = engine::session(&engine_options, &storage)?;
        // A cluster that cannot run Beacon's plans is refused before any source is loaded.
        engine::preflight(&engine_options).await?;

        // Incremental sources continue from the latest commit before this date.
        let incremental_base =
            if !options.full_refresh && inputs.iter().any(|(s, _)| s.incremental.is_some()) {
                state::previous_manifest(&output, &pipeline.name, run_date).await?
            } else {
                None
            };
        let stage = Stage {
            pipeline,
            graph: &graph,
            incremental_base: incremental_base.as_ref(),
            storage: &storage,
            ctx: &ctx,
            raw: &raw,
            observer: &observer,
        };
        let sink = Arc::new(RunSink {
            publisher: publisher.clone(),
            work: work.clone(),
            published: pipeline.publish.iter().cloned().collect(),
            options: publisher.write_options(),
            written: Mutex::new(Vec::new()),
        });
        let mut source_states = BTreeMap::new();
        let outcome = stage
            .execute(
                inputs,
                &preloaded,
                &to_run,
                &reused,
                &tests,
                &mut results,
                &sink,
                &mut source_states,
            )
            .await;
        let outcome = match outcome {
            Ok(()) => {
                let mut written = sink.take();
                // Resuming: published models the failed run built are committed as they are.
                for (name, done) in resuming.iter().flat_map(|f| &f.models) {
                    if done.published && !to_run.contains(name) {
                        let schema = ctx.table_provider(name.as_str()).await?.schema();
                        written.push((name.clone(), publisher.adopt(name, &done.files, schema).await?));
                    }
                }
                written.sort_by(|a, b| a.0.cmp(&b.0));
                // Sources this run did not load keep the state of the date's previous commit.
                for (name, st) in previous_manifest
                    .as_ref()
                    .map(|m| m.sources.clone())
                    .unwrap_or_default()
                {
                    source_states.entry(name).or_insert(st);
                }
                // Published models this run did not build keep their committed files.
                let carried: Vec<TableEntry> = previous_manifest
                    .map(|m| {
                        m.tables
                            .into_iter()
                            .filter(|t| !to_run.contains(&t.model))
                            .collect()
                    })
                    .unwrap_or_default();
                observer(RunEvent::Committing {
                    tables: written.len(),
                });
                match publisher
                    .commit(&written, &carried, source_states.clone(), &lock)
                    .await
                {
                    Ok(manifest) => {
                        observer(RunEvent::Committed {
                            tables: manifest.tables.len(),
                        });
                        Ok(manifest)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e),
        };
        results.elapsed_seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(manifest) => {
                // The committed run's unpublished models, for later selection runs; then the run
                // folders nothing points to any more.
                let mut next = WorkState {
                    run_id: run_id.clone(),
                    models: BTreeMap::new(),
                };
                for m in &graph.models {
                    if pipeline.publish.contains(&m.name) {
                        continue;
                    }
                    if to_run.contains(&m.name) {
                        if results.models.iter().any(|r| r.name == m.name && !r.view) {
                            next.models
                                .insert(m.name.clone(), work.child(&m.name).table_url());
                        }
                    } else if let Some(state::Stored::Folder(url)) = reused.get(&m.name) {
                        next.models.insert(m.name.clone(), url.clone());
                    } else if let Some(old) =
                        previous_state.as_ref().and_then(|s| s.models.get(&m.name))
                    {
                        if !full {
                            next.models.insert(m.name.clone(), old.clone());
                        }
                    }
                }
                state::remove_failed(&date_folder).await;
                if let Some(keep) = &pipeline.retention {
                    let (deleted, problems) =
                        retention::apply(pipeline, keep, &output, &raw, &work_root, run_date).await;
                    results.deleted_run_dates = deleted;
                    for w in problems {
                        observer(RunEvent::Warning(w.clone()));
                        results.warnings.push(w);
                    }
                }
                let keep: BTreeSet<String> = next
                    .models
                    .values()
                    .filter_map(|url| state::run_of(url, &date_folder))
                    .collect();
                if state::write_state(&date_folder, &next).await.is_ok() {
                    state::prune_runs(&date_folder, &keep).await;
                }
                if let Some(info) = &lineage_info {
                    let event =
                        lineage::event(info, lineage::EventType::Complete, Some(&manifest), None);
                    for w in lineage::emit(info.spec, &event).await {
                        observer(RunEvent::Warning(w.clone()));
                        results.warnings.push(w);
                    }
                }
                results.status = Status::Success;
                // The data is committed; the report is rendered from it (crate::report). A
                // failure is recorded, not raised: the commit stands.
                let report_started = Instant::now();
                let report = crate::report::write(pipeline, run_date).await;
                results.report = Some(ReportResult::from_outcome(
                    &report,
                    report_started.elapsed(),
                ));
                let locations: Vec<(String, String)> = pipeline
                    .sources
                    .iter()
                    .map(|s| {
                        let shown = storage
                            .resolve(&s.location)
                            .map(|l| l.display)
                            .unwrap_or_else(|_| s.location.clone());
                        (s.contract.name.clone(), shown)
                    })
                    .collect();
                let described =
                    artifacts::pipeline_manifest(pipeline, &graph, &tests, &results, &locations);
                publisher.write_json("pipeline.json", &described).await?;
                publisher.write_json("run_results.json", &results).await?;
                Ok(RunOutcome {
                    results,
                    manifest: Some(manifest),
                })
            }
            Err(e) => {
                // What this run built stays for `--resume`: its staged models and work folder,
                // recorded in failed.json (with what it re-used of an earlier failed run).
                let mut failed = state::FailedRun {
                    run_id: run_id.clone(),
                    sources: source_states.clone(),
                    models: BTreeMap::new(),
                };
                for (name, st) in &preloaded {
                    failed.sources.entry(name.clone()).or_insert(st.clone());
                }
                let staged: BTreeMap<String, WrittenTable> = sink.take().into_iter().collect();
                // A view has nothing to keep: it is defined again.
                for r in results
                    .models
                    .iter()
                    .filter(|r| r.status == Status::Success && !r.view)
                {
                    let done = match staged.get(&r.name) {
                        Some(t) => state::DoneModel {
                            table_url: publisher.staging(&r.name).table_url(),
                            published: true,
                            files: t.files.clone(),
                            rows: t.rows,
                            bytes: t.bytes,
                        },
                        None => state::DoneModel {
                            table_url: work.child(&r.name).table_url(),
                            published: false,
                            files: Vec::new(),
                            rows: r.rows,
                            bytes: r.bytes,
                        },
                    };
                    failed.models.insert(r.name.clone(), done);
                }
                for (name, done) in resuming.iter().flat_map(|f| &f.models) {
                    if done.published {
                        // Its staged files belong to the earlier failed run, which is discarded
                        // below: this run did not adopt them, so they are built again next time.
                        continue;
                    }
                    failed.models.entry(name.clone()).or_insert(done.clone());
                }
                let lock_ok = lock.check().is_ok();
                if lock_ok {
                    publisher.discard_others().await;
                    let _ = state::write_failed(&date_folder, &failed).await;
                }
                let keep: BTreeSet<String> = previous_state
                    .iter()
                    .flat_map(|s| s.models.values())
                    .chain(failed.models.values().map(|d| &d.table_url))
                    .filter_map(|url| state::run_of(url, &date_folder))
                    .collect();
                state::prune_runs(&date_folder, &keep).await;
                results.status = Status::Error;
                results.error = Some(e.to_string());
                if let Some(info) = &lineage_info {
                    let message = e.to_string();
                    let event =
                        lineage::event(info, lineage::EventType::Fail, None, Some(&message));
                    for w in lineage::emit(info.spec, &event).await {
                        observer(RunEvent::Warning(w.clone()));
                        results.warnings.push(w);
                    }
                }
                // Best effort: the run's error is what the caller needs, even if this write fails.
                // A run that lost its lock leaves the date's results to the run that holds it.
                if lock.check().is_ok() {
                    let _ = publisher.write_json("run_results.json", &results).await;
                }
                Err(e)
            }
        }
    }
    .await;
    lock.release().await;
    outcome
}

/// The selected models, plus every model they read (transitively) that no stored table
/// provides.
fn models_to_run(
    graph: &ModelGraph,
    chosen: &BTreeSet<String>,
    stored: &BTreeMap<String, state::Stored>,
) -> BTreeSet<String> {
    let mut to_run = chosen.clone();
    let mut stack: Vec<String> = chosen.iter().cloned().collect();
    while let Some(name) = stack.pop() {
        let Some(m) = graph.get(&name) else { continue };
        for d in &m.model_deps {
            if !stored.contains_key(d) && to_run.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    to_run
}

/// How many sources load at a time.
const SOURCE_CONCURRENCY: usize = 2;

/// What the stages of one run share.
struct Stage<'a> {
    pipeline: &'a Pipeline,
    graph: &'a ModelGraph,
    /// The commit incremental sources merge into (none: load everything).
    incremental_base: Option<&'a Manifest>,
    storage: &'a Storage,
    ctx: &'a SessionContext,
    raw: &'a Location,
    observer: &'a Observer,
}

impl Stage<'_> {
    /// Load -> models -> tests. Published models go to staging through `sink`; `states` gets
    /// the raw-zone state of each source as it is loaded (also when a later step fails).
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        inputs: Vec<(&crate::spec::Source, Location)>,
        preloaded: &BTreeMap<String, SourceState>,
        to_run: &BTreeSet<String>,
        reused: &BTreeMap<String, state::Stored>,
        tests: &[CompiledTest],
        results: &mut RunResults,
        sink: &Arc<RunSink>,
        states: &mut BTreeMap<String, SourceState>,
    ) -> Result<(), RunError> {
        let mut available: BTreeSet<String> = BTreeSet::new();
        // Sources load SOURCE_CONCURRENCY at a time (each one's parsing and encoding already use
        // two threads; a second source fills what one leaves idle), the largest inputs first and
        // the next one as soon as a slot is free, so that the largest source does not end up
        // loading alone at the end. Results are reported in pipeline order.
        let run_date = results.run_date;
        let load_started = Instant::now();
        let mut listed = Vec::with_capacity(inputs.len());
        for (idx, (source, loc)) in inputs.into_iter().enumerate() {
            let files = self.storage.list_files(&loc).await;
            let bytes: u64 = files.as_ref().map_or(0, |f| f.iter().map(|m| m.size).sum());
            listed.push((idx, source, loc, files, bytes));
        }
        listed.sort_by_key(|&(idx, .., bytes)| (std::cmp::Reverse(bytes), idx));
        let count = listed.len();
        // After a failure no further source starts, but those loading finish and are kept, so
        // that `--resume` re-uses them.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let stop = &stop;
        let mut loads = futures::stream::iter(listed.into_iter().map(
            |(idx, source, loc, files, _)| async move {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return (idx, source, None, None);
                }
                let mut reported = None;
                let loaded = self
                    .load_source(source, loc, files, run_date, &mut reported)
                    .await;
                (idx, source, Some(loaded), reported)
            },
        ))
        .buffer_unordered(SOURCE_CONCURRENCY);
        type Loaded = (String, Option<SourceResult>, Option<SourceState>);
        let mut done: Vec<Option<Loaded>> = (0..count).map(|_| None).collect();
        let mut failed = None;
        while let Some((idx, source, loaded, reported)) = loads.next().await {
            let name = source.contract.name.clone();
            let st = match loaded {
                None => continue,
                Some(Ok(st)) => {
                    available.insert(name.clone());
                    results.load_seconds = load_started.elapsed().as_secs_f64();
                    st
                }
                Some(Err(e)) => {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    failed.get_or_insert(e);
                    None
                }
            };
            if let Some(slot) = done.get_mut(idx) {
                *slot = Some((name, reported, st));
            }
        }
        drop(loads);
        for (name, reported, st) in done.into_iter().flatten() {
            results.sources.extend(reported);
            if let Some(st) = st {
                states.insert(name, st);
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        crate::memory::release_free_memory();
        // Resuming: the sources the failed run loaded are still in the raw zone.
        for (name, st) in preloaded {
            self.ctx
                .register_parquet(name.as_str(), &st.location, ParquetReadOptions::default())
                .await?;
            states.insert(name.clone(), st.clone());
            available.insert(name.clone());
        }
        for (name, stored) in reused {
            state::register(self.ctx, name, stored)
                .await
                .map_err(|error| RunError::Reuse {
                    model: name.clone(),
                    error,
                })?;
            available.insert(name.clone());
        }
        let subgraph = self.graph.subgraph(to_run);
        let published: BTreeSet<String> = self.pipeline.publish.iter().cloned().collect();
        let obs = Arc::clone(self.observer);
        let outcomes = models::execute(
            self.ctx,
            &subgraph,
            sink.clone(),
            self.pipeline.model_concurrency,
            Arc::new(move |e| obs(RunEvent::Model(e))),
        )
        .await;
        let total = outcomes.len();
        let mut failures = Vec::new();
        for o in outcomes {
            let layer = self
                .graph
                .get(&o.name)
                .map(|m| m.layer.clone())
                .unwrap_or_default();
            let is_published = published.contains(&o.name);
            match &o.result {
                Ok(m) => {
                    available.insert(o.name.clone());
                    results.models.push(ModelResult::success(
                        &o.name,
                        &layer,
                        is_published,
                        m,
                        o.elapsed,
                    ))
                }
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

        // Data tests on what this run built, before anything is published.
        let relevant: Vec<CompiledTest> = tests
            .iter()
            .filter(|t| match &t.model {
                Some(m) => to_run.contains(m),
                None => t.reads.iter().any(|r| to_run.contains(r)),
            })
            .cloned()
            .collect();
        let test_results = checks::run_tests(self.ctx, &relevant, &available).await;
        for t in &test_results {
            (self.observer)(RunEvent::Test(t.clone()));
        }
        let blocking: Vec<&TestResult> = test_results.iter().filter(|t| t.blocks()).collect();
        let summary = blocking
            .first()
            .map(|t| describe_failure(t))
            .unwrap_or_default();
        let blocked = blocking.len();
        results.tests = test_results;
        if blocked > 0 {
            return Err(RunError::TestsFailed {
                count: blocked,
                first: summary,
            });
        }
        Ok(())
    }

    /// Loads one source into the raw zone and registers it; returns its state for the manifest
    /// (none for a missing optional source).
    async fn load_source(
        &self,
        source: &crate::spec::Source,
        loc: Location,
        files: Result<Vec<ObjectMeta>, StorageError>,
        run_date: NaiveDate,
        reported: &mut Option<SourceResult>,
    ) -> Result<Option<SourceState>, RunError> {
        let date = format!("run_date={}", run_date.format("%Y-%m-%d"));
        let name = source.contract.name.clone();
        (self.observer)(RunEvent::SourceStarted {
            source: name.clone(),
        });
        let t0 = Instant::now();
        let files = match files {
            Ok(f) => f,
            Err(StorageError::NotFound { .. }) if source.optional => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let table_loc = self.raw.child(&format!("{name}/{date}"));
        clear_prefix(&table_loc)
            .await
            .map_err(|error| RunError::RawZone {
                source_name: name.clone(),
                error,
            })?;
        let quarantine_loc = self.raw.child(&format!("_quarantine/{name}/{date}"));
        clear_prefix(&quarantine_loc)
            .await
            .map_err(|error| RunError::RawZone {
                source_name: name.clone(),
                error,
            })?;
        if files.is_empty() {
            let schema = load::empty_batch_schema(&source.contract);
            crate::models::plan::register_empty(self.ctx, &name, schema)?;
            *reported = Some(SourceResult::missing_optional(&name, &loc.display));
            (self.observer)(RunEvent::SourceLoaded {
                source: name,
                rows: 0,
                rejected: 0,
                elapsed: t0.elapsed(),
            });
            return Ok(None);
        }
        // An incremental source loads into scratch first, then merges into the raw table.
        let incoming_loc = self.raw.child(&format!("_incoming/{name}/{date}"));
        let load_loc = if source.incremental.is_some() {
            clear_prefix(&incoming_loc)
                .await
                .map_err(|error| RunError::RawZone {
                    source_name: name.clone(),
                    error,
                })?;
            &incoming_loc
        } else {
            &table_loc
        };
        let input_files: Vec<InputFile> = files
            .iter()
            .map(|m| InputFile {
                store: loc.store.clone(),
                path: m.location.clone(),
                display: loc.display_object(&m.location),
            })
            .collect();
        let target = RawTarget {
            store: self.raw.store.clone(),
            data_prefix: load_loc.path.clone(),
            quarantine_prefix: quarantine_loc.path.clone(),
        };
        // Duplicate keys of an incremental source are versions of a row: the merge keeps the
        // latest instead of the loader rejecting them.
        let mut contract = source.contract.clone();
        if source.incremental.is_some() {
            contract.primary_key.clear();
        }
        let report =
            load::load_source(&contract, &input_files, &target, &LoadOptions::default()).await;
        let report = match report {
            Ok(r) => r,
            Err(error) => {
                *reported = Some(SourceResult::failed(
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
        let mut result = SourceResult::from_report(&report, &loc.display, t0.elapsed());
        engine::register_stores(self.ctx, self.storage);
        let mut state = SourceState {
            location: table_loc.table_url(),
            rows: report.rows_loaded,
            watermark: None,
        };
        if let Some(inc) = &source.incremental {
            let merged = self
                .merge_incremental(source, inc, &incoming_loc, &table_loc)
                .await
                .map_err(|error| RunError::Incremental {
                    source_name: name.clone(),
                    error,
                })?;
            result.rows_new = Some(merged.new_rows);
            result.rows_loaded = merged.rows;
            result.watermark = merged.watermark.clone();
            result.incremental_from = merged.from.clone();
            state.rows = merged.rows;
            state.watermark = merged.watermark;
            let _ = clear_prefix(&incoming_loc).await;
        }
        self.ctx
            .register_parquet(
                name.as_str(),
                &table_loc.table_url(),
                ParquetReadOptions::default(),
            )
            .await?;
        *reported = Some(result);
        (self.observer)(RunEvent::SourceLoaded {
            source: name,
            rows: state.rows,
            rejected: report.rows_rejected,
            elapsed: t0.elapsed(),
        });
        Ok(Some(state))
    }

    /// Merges an incremental source's fresh load into the previous commit's raw table.
    async fn merge_incremental(
        &self,
        source: &crate::spec::Source,
        inc: &crate::spec::Incremental,
        incoming: &Location,
        target: &Location,
    ) -> Result<Merged, datafusion::error::DataFusionError> {
        use crate::load::incremental;
        let name = &source.contract.name;
        let incoming_name = format!("__beacon_incoming_{name}");
        let base_name = format!("__beacon_base_{name}");
        self.ctx
            .register_parquet(
                incoming_name.as_str(),
                &incoming.table_url(),
                ParquetReadOptions::default(),
            )
            .await?;
        let base = self
            .incremental_base
            .and_then(|m| m.sources.get(name).map(|s| (m.run_date, s.clone())));
        let mut from = None;
        let mut watermark = None;
        if let Some((date, st)) = &base {
            self.ctx
                .register_parquet(
                    base_name.as_str(),
                    &st.location,
                    ParquetReadOptions::default(),
                )
                .await?;
            from = Some(format!("run_date={date}"));
            watermark = st.watermark.clone();
        }
        let new_rows = scalar_u64(
            self.ctx,
            &incremental::new_rows_sql(&incoming_name, inc, watermark.as_deref()),
            0,
        )
        .await?;
        let sql = incremental::merge_sql(
            &incoming_name,
            base.as_ref().map(|_| base_name.as_str()),
            inc,
            &source.contract.primary_key,
            watermark.as_deref(),
        );
        let df = self.ctx.sql(&sql).await?;
        let written = publish::write_dataframe(df, target, &WriteOptions::default())
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        let target_name = format!("__beacon_merged_{name}");
        self.ctx
            .register_parquet(
                target_name.as_str(),
                &target.table_url(),
                ParquetReadOptions::default(),
            )
            .await?;
        let batches = self
            .ctx
            .sql(&incremental::watermark_sql(&target_name, inc))
            .await?
            .collect()
            .await?;
        let next = batches
            .first()
            .filter(|b| b.num_rows() > 0)
            .filter(|b| b.column(0).is_valid(0))
            .and_then(|b| {
                datafusion::arrow::util::display::array_value_to_string(b.column(0), 0).ok()
            })
            .or(watermark);
        for t in [&incoming_name, &base_name, &target_name] {
            let _ = self.ctx.deregister_table(t.as_str());
        }
        Ok(Merged {
            rows: written.rows,
            new_rows,
            watermark: next,
            from,
        })
    }
}

/// What an incremental merge did.
struct Merged {
    rows: u64,
    new_rows: u64,
    watermark: Option<String>,
    /// The commit merged into (`run_date=...`), none for a full load.
    from: Option<String>,
}

/// The first column of the first row of a query, as a count.
async fn scalar_u64(
    ctx: &SessionContext,
    sql: &str,
    default: u64,
) -> Result<u64, datafusion::error::DataFusionError> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches
        .first()
        .filter(|b| b.num_rows() > 0)
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .map(|a| a.value(0))
        })
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(default))
}

/// A failed test for an error message: what, where, how many rows, and a sample of them.
pub fn describe_failure(t: &TestResult) -> String {
    match &t.error {
        Some(e) => format!("{} ({}): {e}", t.id, t.declared_at),
        None => {
            let mut s = format!(
                "{} ({}): {} offending row{}",
                t.id,
                t.declared_at,
                t.failing_rows,
                if t.failing_rows == 1 { "" } else { "s" }
            );
            if !t.sample_table.is_empty() {
                s.push_str(", for example:\n");
                s.push_str(&t.sample_table);
            }
            s
        }
    }
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
            let work_options = WriteOptions::scratch();
            let options = if is_published {
                &self.options
            } else {
                &work_options
            };
            let table = publish::write_dataframe(df, &dir, options)
                .await
                .map_err(|e| e.to_string())?;
            let materialized = Materialized {
                table_url: dir.table_url(),
                rows: table.rows,
                bytes: table.bytes,
                files: table.files.iter().map(|f| f.path.clone()).collect(),
                schema: table.schema.clone(),
                view: false,
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
