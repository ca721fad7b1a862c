//! The `beacon` command line: parse arguments, call the library, render results and errors.
//!
//! Exit codes: 0 success; 1 the run failed (a source, a model or the publish step), or `report`
//! found no committed run; 2 the pipeline or the command line is invalid (nothing was read or
//! written); 3 the run was committed but its HTML report could not be written.

use beacon::models::ModelEvent;
use beacon::run::{RunEvent, RunOutcome, Status};
use beacon::spec::{self, Overrides, Pipeline};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const EXIT_RUN_FAILED: u8 = 1;
const EXIT_INVALID: u8 = 2;
const EXIT_REPORT_FAILED: u8 = 3;

#[derive(Parser)]
#[command(
    name = "beacon",
    version,
    about = "Nightly B2B growth analytics on Apache DataFusion"
)]
struct Cli {
    /// Log line format (on stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct PipelineArgs {
    /// The pipeline YAML file.
    #[arg(default_value = "pipelines/beacon.yaml")]
    pipeline: PathBuf,
    /// Override a setting: `--set output=s3://bucket/beacon` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Override a var: `--var gross_margin=0.8` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    var: Vec<String>,
    /// Memory pool for the query engine (e.g. 2GiB); work beyond it spills to disk.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Load the sources, run the SQL models and publish the results for one logical date.
    Run {
        #[command(flatten)]
        args: PipelineArgs,
        /// Logical date of the run (default: today in UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<NaiveDate>,
    },
    /// Re-render the HTML report of a committed run from its published tables.
    Report {
        #[command(flatten)]
        args: PipelineArgs,
        /// Logical date of the run (default: the latest committed run).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<NaiveDate>,
    },
    /// Check the pipeline file and the SQL models without reading any data.
    Validate {
        #[command(flatten)]
        args: PipelineArgs,
    },
    /// Print the model graph.
    Dag {
        #[command(flatten)]
        args: PipelineArgs,
        /// `text` or `mermaid`.
        #[arg(long, value_enum, default_value_t = DagFormat::Text)]
        format: DagFormat,
    },
    /// Write a deterministic synthetic data set in the input contract's format.
    SampleData {
        /// Number of leads to generate.
        #[arg(long, default_value_t = 5000)]
        leads: u64,
        /// Random seed (same seed, same files).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Folder to write the CSV files to.
        #[arg(long)]
        out: PathBuf,
        /// Last day of the generated history.
        #[arg(long, value_name = "YYYY-MM-DD")]
        end_date: Option<NaiveDate>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DagFormat {
    Text,
    Mermaid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUN_FAILED);
        }
    };
    runtime.block_on(dispatch(cli))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BEACON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

async fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run { args, date } => cmd_run(&args, date, cli.log_format).await,
        Command::Report { args, date } => cmd_report(&args, date).await,
        Command::Validate { args } => cmd_validate(&args),
        Command::Dag { args, format } => cmd_dag(&args, format),
        Command::SampleData {
            leads,
            seed,
            out,
            end_date,
        } => cmd_sample(leads, seed, &out, end_date).await,
    }
}

fn load_pipeline(args: &PipelineArgs) -> Result<Pipeline, ExitCode> {
    let mut overrides = Overrides::default();
    for s in &args.set {
        if let Err(e) = overrides.push_set(s) {
            return Err(fail(EXIT_INVALID, &e));
        }
    }
    for v in &args.var {
        if let Err(e) = overrides.push_var(v) {
            return Err(fail(EXIT_INVALID, &e));
        }
    }
    if let Some(m) = &args.memory_limit {
        overrides.set.push(("memory_limit".into(), m.clone()));
    }
    spec::load(&args.pipeline, &overrides).map_err(|e| fail(EXIT_INVALID, &e))
}

fn fail(code: u8, err: &dyn std::error::Error) -> ExitCode {
    eprintln!("error: {err}");
    let mut source = err.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
    ExitCode::from(code)
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

async fn cmd_run(args: &PipelineArgs, date: Option<NaiveDate>, log_format: LogFormat) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let run_date = date.unwrap_or_else(today);
    let interactive = std::io::stderr().is_terminal() && matches!(log_format, LogFormat::Text);
    let progress = Arc::new(Progress::new(interactive));
    let p = Arc::clone(&progress);
    tracing::info!(pipeline = %pipeline.name, run_date = %run_date, "run started");
    let result = beacon::run::run(&pipeline, run_date, Arc::new(move |e| p.on_event(e))).await;
    progress.finish();
    match result {
        Ok(outcome) => {
            print_summary(&outcome);
            match &outcome.results.report {
                Some(r) if r.status == Status::Error => {
                    eprintln!(
                        "error: the run was committed, but its report could not be written: {}",
                        r.error.as_deref().unwrap_or("unknown error")
                    );
                    ExitCode::from(EXIT_REPORT_FAILED)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e @ beacon::run::RunError::Models(_)) => fail(EXIT_INVALID, &e),
        Err(e) => fail(EXIT_RUN_FAILED, &e),
    }
}

fn print_summary(outcome: &RunOutcome) {
    let r = &outcome.results;
    println!(
        "run {} for {} ({:.1}s)",
        r.run_id, r.run_date, r.elapsed_seconds
    );
    println!(
        "{:<34} {:>10} {:>10} {:>8}",
        "source", "rows", "rejected", "seconds"
    );
    for s in &r.sources {
        println!(
            "{:<34} {:>10} {:>10} {:>8.2}",
            s.name, s.rows_loaded, s.rows_rejected, s.seconds
        );
    }
    println!(
        "{:<34} {:>10} {:>10} {:>8}",
        "model", "rows", "status", "seconds"
    );
    for m in &r.models {
        let status = match m.status {
            Status::Success if m.published => "published",
            Status::Success => "ok",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Running => "running",
        };
        println!(
            "{:<34} {:>10} {:>10} {:>8.2}",
            m.name, m.rows, status, m.seconds
        );
    }
    if let Some(manifest) = &outcome.manifest {
        println!(
            "published {} tables for run_date={}",
            manifest.tables.len(),
            manifest.run_date
        );
    }
    if let Some(report) = &r.report {
        if let Some(location) = &report.location {
            println!("report: {location} ({} KB)", report.bytes.div_ceil(1024));
        }
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
}

async fn cmd_report(args: &PipelineArgs, date: Option<NaiveDate>) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let run_date = match date {
        Some(d) => d,
        None => match beacon::report::latest_run_date(&pipeline).await {
            Ok(d) => d,
            Err(e) => return fail(EXIT_RUN_FAILED, &e),
        },
    };
    match beacon::report::write(&pipeline, run_date).await {
        Ok(written) => {
            for w in &written.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "report for run_date={run_date}: {} ({} KB)",
                written.location,
                written.bytes.div_ceil(1024)
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(EXIT_RUN_FAILED, &e),
    }
}

fn cmd_validate(args: &PipelineArgs) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match beacon::run::plan(&pipeline, today()) {
        Ok(graph) => {
            println!(
                "{}: ok ({} sources, {} models, {} published)",
                pipeline.file.display(),
                pipeline.sources.len(),
                graph.models.len(),
                pipeline.publish.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(EXIT_INVALID, &e),
    }
}

fn cmd_dag(args: &PipelineArgs, format: DagFormat) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let graph = match beacon::run::plan(&pipeline, today()) {
        Ok(g) => g,
        Err(e) => return fail(EXIT_INVALID, &e),
    };
    match format {
        DagFormat::Text => {
            for m in &graph.models {
                let deps: Vec<&str> = m
                    .source_deps
                    .iter()
                    .chain(&m.model_deps)
                    .map(String::as_str)
                    .collect();
                println!(
                    "{} ({}) <- {}",
                    m.name,
                    if m.layer.is_empty() { "." } else { &m.layer },
                    deps.join(", ")
                );
            }
        }
        DagFormat::Mermaid => {
            println!("flowchart LR");
            for s in &pipeline.sources {
                println!("  {}[({})]", s.contract.name, s.contract.name);
            }
            for m in &graph.models {
                let shape = if pipeline.publish.contains(&m.name) {
                    format!("{}[[{}]]", m.name, m.name)
                } else {
                    format!("{}[{}]", m.name, m.name)
                };
                println!("  {shape}");
                for d in m.source_deps.iter().chain(&m.model_deps) {
                    println!("  {d} --> {}", m.name);
                }
            }
        }
    }
    ExitCode::SUCCESS
}

async fn cmd_sample(leads: u64, seed: u64, out: &Path, end_date: Option<NaiveDate>) -> ExitCode {
    let end_date = end_date.unwrap_or_else(beacon::sample::SampleOptions::default_end_date);
    let opts = beacon::sample::SampleOptions {
        leads,
        seed,
        end_date,
    };
    let out_dir = out.to_path_buf();
    let result =
        tokio::task::spawn_blocking(move || beacon::sample::generate(&opts, &out_dir)).await;
    match result {
        Ok(Ok(summary)) => {
            for (file, rows) in &summary.files {
                println!("{:<28} {rows:>10} rows", file);
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => fail(EXIT_RUN_FAILED, &e),
        Err(e) => fail(EXIT_RUN_FAILED, &e),
    }
}

/// Shows a run's progress: a bar on a terminal, structured log lines otherwise.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(interactive: bool) -> Self {
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar }
    }

    fn on_event(&self, e: RunEvent) {
        match (&self.bar, e) {
            (Some(bar), RunEvent::Planned { sources, models }) => {
                bar.set_length((sources + models) as u64)
            }
            (Some(bar), RunEvent::SourceStarted { source }) => {
                bar.set_message(format!("loading {source}"))
            }
            (Some(bar), RunEvent::SourceLoaded { .. }) => bar.inc(1),
            (Some(bar), RunEvent::Model(ModelEvent::Started { model })) => {
                bar.set_message(format!("running {model}"))
            }
            (Some(bar), RunEvent::Model(ModelEvent::Finished { .. })) => bar.inc(1),
            (Some(bar), RunEvent::Model(ModelEvent::Failed { model, .. })) => {
                bar.println(format!("model {model} failed"));
                bar.inc(1)
            }
            (Some(bar), RunEvent::Committed { tables }) => {
                bar.set_message(format!("published {tables} tables"))
            }
            (None, RunEvent::Planned { sources, models }) => {
                tracing::info!(sources, models, "planned")
            }
            (None, RunEvent::SourceStarted { source }) => {
                tracing::info!(source = %source, "loading")
            }
            (
                None,
                RunEvent::SourceLoaded {
                    source,
                    rows,
                    rejected,
                    elapsed,
                },
            ) => {
                tracing::info!(source = %source, rows, rejected, seconds = elapsed.as_secs_f64(), "loaded")
            }
            (None, RunEvent::Model(ModelEvent::Started { model })) => {
                tracing::info!(model = %model, "model started")
            }
            (
                None,
                RunEvent::Model(ModelEvent::Finished {
                    model,
                    rows,
                    elapsed,
                }),
            ) => {
                tracing::info!(model = %model, rows, seconds = elapsed.as_secs_f64(), "model finished")
            }
            (None, RunEvent::Model(ModelEvent::Failed { model, error })) => {
                tracing::error!(model = %model, error = %error, "model failed")
            }
            (None, RunEvent::Committed { tables }) => tracing::info!(tables, "committed"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
