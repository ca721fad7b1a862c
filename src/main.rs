//! The `beacon` command line: parse arguments, call the library, render results and errors.
//!
//! Exit codes: 0 success; 1 the run failed (a source, a model or the publish step), or `report`
//! found no committed run; 2 the pipeline or the command line is invalid (nothing was read or
//! written); 3 another run of the same output and date holds the lock (nothing was read or
//! written); 4 the run was committed but its HTML report could not be written.

use beacon::checks::{TestResult, TestStatus};
use beacon::models::ModelEvent;
use beacon::run::{RunError, RunEvent, RunOptions, RunOutcome, Status};
use beacon::spec::{self, Overrides, Pipeline, Severity};
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
const EXIT_LOCKED: u8 = 3;
const EXIT_REPORT_FAILED: u8 = 4;

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
    /// Where the SQL runs: `local` or a Ballista scheduler, `ballista://host:port` (overrides
    /// the pipeline's `engine:`).
    #[arg(long, value_name = "ENGINE")]
    engine: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Load the sources, run the SQL models and publish the results for one logical date.
    Run {
        #[command(flatten)]
        args: PipelineArgs,
        /// Logical date of the run (default: today in UTC).
        #[arg(long, value_name = "YYYY-MM-DD", conflicts_with_all = ["from", "to"])]
        date: Option<NaiveDate>,
        /// Backfill: run every date from this one to --to, in order.
        #[arg(long, value_name = "YYYY-MM-DD", requires = "to")]
        from: Option<NaiveDate>,
        /// Last date of a backfill (inclusive).
        #[arg(long, value_name = "YYYY-MM-DD", requires = "from")]
        to: Option<NaiveDate>,
        /// Backfill: also re-run dates that are already committed.
        #[arg(long, requires = "from")]
        force: bool,
        /// Incremental sources: ignore the last watermark, load and merge everything.
        #[arg(long)]
        full_refresh: bool,
        /// Continue the date's last failed run: re-use the sources it loaded and the models
        /// that succeeded, build the rest.
        #[arg(long, conflicts_with_all = ["select", "exclude", "from", "to"])]
        resume: bool,
        #[command(flatten)]
        selection: Selection,
    },
    /// Re-render the HTML report of a committed run from its published tables.
    Report {
        #[command(flatten)]
        args: PipelineArgs,
        /// Logical date of the run (default: the latest committed run).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<NaiveDate>,
    },
    /// Check the pipeline file, plan every model and test against the declared schemas, without
    /// reading any data; reports every problem with its file, line and column.
    Validate {
        #[command(flatten)]
        args: PipelineArgs,
    },
    /// Run the data tests against the last committed run of a date.
    Test {
        #[command(flatten)]
        args: PipelineArgs,
        /// Run date to test (default: the latest committed one).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<NaiveDate>,
        #[command(flatten)]
        selection: Selection,
    },
    /// Print the first rows of a model, computed now from the last committed run's tables.
    Show {
        /// The model to preview.
        model: String,
        #[command(flatten)]
        args: PipelineArgs,
        /// Run date whose tables the model reads (default: the latest committed one).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<NaiveDate>,
        /// Rows to print.
        #[arg(long, default_value_t = 20)]
        limit: usize,
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
        #[arg(long, default_value_t = 20000)]
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
        /// Write gzip-compressed files (`leads.csv.gz`), as `sample_data/` is shipped.
        #[arg(long)]
        gzip: bool,
    },
    /// Run a Ballista scheduler that knows Beacon's functions (for `engine: ballista://...`).
    #[cfg(feature = "ballista")]
    Scheduler(cluster_cli::SchedulerArgs),
    /// Run a Ballista executor with Beacon's functions and object stores.
    #[cfg(feature = "ballista")]
    Executor(cluster_cli::ExecutorArgs),
}

#[derive(clap::Args)]
struct Selection {
    /// Models to run: `name`, `name+` (and downstream), `+name` (and upstream), globs (`stg_*`);
    /// repeatable or comma-separated. Others are read from the date's last committed run.
    #[arg(long, short = 's', value_name = "SELECTOR")]
    select: Vec<String>,
    /// Models to leave out, same syntax.
    #[arg(long, value_name = "SELECTOR")]
    exclude: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum DagFormat {
    Text,
    Mermaid,
}

fn main() -> ExitCode {
    beacon::memory::limit_arenas();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Query plans are converted recursively; a deep one (hot_list's, decoded by a Ballista
        // scheduler or executor) needs more than the default 2 MiB. Ballista's binaries use 32.
        .thread_stack_size(32 << 20)
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
        // Ballista's client logs every query it submits: not news in a run's log.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ballista_core=warn"));
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
        Command::Run {
            args,
            date,
            from,
            to,
            force,
            full_refresh,
            resume,
            selection,
        } => {
            let options = RunOptions {
                select: selection.select,
                exclude: selection.exclude,
                full_refresh,
                resume,
            };
            match (from, to) {
                (Some(from), Some(to)) => {
                    cmd_backfill(&args, from, to, force, &options, cli.log_format).await
                }
                _ => cmd_run(&args, date, &options, cli.log_format).await,
            }
        }
        Command::Report { args, date } => cmd_report(&args, date).await,
        Command::Validate { args } => cmd_validate(&args).await,
        Command::Test {
            args,
            date,
            selection,
        } => cmd_test(&args, date, &selection).await,
        Command::Show {
            model,
            args,
            date,
            limit,
        } => cmd_show(&args, &model, date, limit).await,
        Command::Dag { args, format } => cmd_dag(&args, format),
        Command::SampleData {
            leads,
            seed,
            out,
            end_date,
            gzip,
        } => cmd_sample(leads, seed, &out, end_date, gzip).await,
        #[cfg(feature = "ballista")]
        Command::Scheduler(args) => cluster_cli::scheduler(args).await,
        #[cfg(feature = "ballista")]
        Command::Executor(args) => cluster_cli::executor(args).await,
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
    if let Some(e) = &args.engine {
        overrides.set.push(("engine".into(), e.clone()));
    }
    spec::load(&args.pipeline, &overrides).map_err(|e| fail(EXIT_INVALID, &e))
}

pub(crate) fn fail(code: u8, err: &dyn std::error::Error) -> ExitCode {
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

async fn cmd_run(
    args: &PipelineArgs,
    date: Option<NaiveDate>,
    options: &RunOptions,
    log_format: LogFormat,
) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    run_one_date(&pipeline, date.unwrap_or_else(today), options, log_format).await
}

/// `--from D1 --to D2`: each date in order; committed dates are skipped unless `--force`; the
/// first failure stops the backfill.
async fn cmd_backfill(
    args: &PipelineArgs,
    from: NaiveDate,
    to: NaiveDate,
    force: bool,
    options: &RunOptions,
    log_format: LogFormat,
) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let dates = match beacon::run::backfill_dates(from, to) {
        Ok(d) => d,
        Err(e) => return fail(EXIT_INVALID, &e),
    };
    let (mut ran, mut skipped) = (0, 0);
    for date in dates {
        if !force {
            match beacon::run::is_committed(&pipeline, date).await {
                Ok(true) => {
                    println!("run_date={date}: already committed, skipped (--force re-runs it)");
                    skipped += 1;
                    continue;
                }
                Ok(false) => {}
                Err(e) => return fail(EXIT_RUN_FAILED, &e),
            }
        }
        let code = run_one_date(&pipeline, date, options, log_format).await;
        if code != ExitCode::SUCCESS {
            eprintln!("backfill stopped at run_date={date} ({ran} dates run, {skipped} skipped before it)");
            return code;
        }
        ran += 1;
    }
    println!("backfill {from}..{to}: {ran} dates run, {skipped} skipped");
    ExitCode::SUCCESS
}

async fn run_one_date(
    pipeline: &Pipeline,
    run_date: NaiveDate,
    options: &RunOptions,
    log_format: LogFormat,
) -> ExitCode {
    let pipeline = pipeline.clone();
    let interactive = std::io::stderr().is_terminal() && matches!(log_format, LogFormat::Text);
    let progress = Arc::new(Progress::new(interactive));
    let p = Arc::clone(&progress);
    tracing::info!(pipeline = %pipeline.name, run_date = %run_date, "run started");
    let result = beacon::run::run(
        &pipeline,
        run_date,
        options,
        Arc::new(move |e| p.on_event(e)),
    )
    .await;
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
        Err(e @ RunError::Lock(beacon::publish::LockError::Held { .. })) => fail(EXIT_LOCKED, &e),
        Err(e @ (RunError::Models(_) | RunError::Checks(_) | RunError::Select(_))) => {
            fail(EXIT_INVALID, &e)
        }
        Err(e) => fail(EXIT_RUN_FAILED, &e),
    }
}

/// The date `test` and `show` read: the one given, or the latest committed.
async fn committed_date(
    pipeline: &Pipeline,
    date: Option<NaiveDate>,
) -> Result<NaiveDate, ExitCode> {
    if let Some(d) = date {
        return Ok(d);
    }
    match beacon::run::inspect::latest_committed_date(pipeline).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => {
            eprintln!(
                "error: no committed run under `{}`: run `beacon run` first, or pass --date",
                pipeline.output
            );
            Err(ExitCode::from(EXIT_RUN_FAILED))
        }
        Err(e) => Err(fail(EXIT_RUN_FAILED, &e)),
    }
}

async fn cmd_test(args: &PipelineArgs, date: Option<NaiveDate>, selection: &Selection) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let run_date = match committed_date(&pipeline, date).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let results = match beacon::run::inspect::test(
        &pipeline,
        run_date,
        &selection.select,
        &selection.exclude,
    )
    .await
    {
        Ok(r) => r,
        Err(e @ (RunError::Models(_) | RunError::Checks(_) | RunError::Select(_))) => {
            return fail(EXIT_INVALID, &e)
        }
        Err(e) => return fail(EXIT_RUN_FAILED, &e),
    };
    println!("tests of run_date={run_date}");
    print_tests(&results);
    let blocking = results.iter().filter(|t| t.blocks()).count();
    let warned = results
        .iter()
        .filter(|t| !t.blocks() && t.status != TestStatus::Pass && t.status != TestStatus::Skipped)
        .count();
    let passed = results
        .iter()
        .filter(|t| t.status == TestStatus::Pass)
        .count();
    println!(
        "{passed} passed, {blocking} failed, {warned} warnings, {} skipped",
        results.len() - passed - blocking - warned
    );
    if blocking > 0 {
        ExitCode::from(EXIT_RUN_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_tests(results: &[TestResult]) {
    for t in results {
        let label = match (t.status, t.severity) {
            (TestStatus::Pass, _) => "PASS",
            (TestStatus::Skipped, _) => "SKIP",
            (TestStatus::Fail, Severity::Warn) | (TestStatus::Error, Severity::Warn) => "WARN",
            (TestStatus::Fail, Severity::Error) => "FAIL",
            (TestStatus::Error, Severity::Error) => "ERROR",
        };
        println!("{label:<5} {}", t.id);
        if t.status == TestStatus::Pass {
            continue;
        }
        println!("      declared at {}", t.declared_at);
        if let Some(e) = &t.error {
            println!("      {e}");
        }
        if t.failing_rows > 0 {
            println!(
                "      {} offending row{}{}:",
                t.failing_rows,
                if t.failing_rows == 1 { "" } else { "s" },
                if t.failing_rows as usize > t.sample.len() {
                    format!(", the first {}", t.sample.len())
                } else {
                    String::new()
                }
            );
            for line in t.sample_table.lines() {
                println!("      {line}");
            }
        }
    }
}

async fn cmd_show(
    args: &PipelineArgs,
    model: &str,
    date: Option<NaiveDate>,
    limit: usize,
) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let run_date = match committed_date(&pipeline, date).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    match beacon::run::inspect::show(&pipeline, run_date, model, limit).await {
        Ok(batches) => {
            match arrow::util::pretty::pretty_format_batches(&batches) {
                Ok(table) => println!("{table}"),
                Err(e) => return fail(EXIT_RUN_FAILED, &e),
            }
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            println!(
                "{rows} row{} of `{model}` (run_date={run_date}, --limit {limit})",
                if rows == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(e @ (RunError::Models(_) | RunError::Select(_))) => fail(EXIT_INVALID, &e),
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
            Status::Success if m.view => "view",
            Status::Success => "ok",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Running => "running",
        };
        // A view is defined, not computed: it has no rows of its own.
        let rows = if m.view {
            "-".to_string()
        } else {
            m.rows.to_string()
        };
        println!(
            "{:<34} {:>10} {:>10} {:>8.2}",
            m.name, rows, status, m.seconds
        );
    }
    if !r.tests.is_empty() {
        let passed = r
            .tests
            .iter()
            .filter(|t| t.status == TestStatus::Pass)
            .count();
        println!("tests: {passed} of {} passed", r.tests.len());
        print_tests(
            &r.tests
                .iter()
                .filter(|t| t.status != TestStatus::Pass)
                .cloned()
                .collect::<Vec<_>>(),
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
    let run_date = match committed_date(&pipeline, date).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    match beacon::report::rerender(&pipeline, run_date).await {
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
        Err(e @ beacon::report::ReportError::Lock(beacon::publish::LockError::Held { .. })) => {
            fail(EXIT_LOCKED, &e)
        }
        Err(e) => fail(EXIT_RUN_FAILED, &e),
    }
}

async fn cmd_validate(args: &PipelineArgs) -> ExitCode {
    let pipeline = match load_pipeline(args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let v = match beacon::run::inspect::validate(&pipeline, today()).await {
        Ok(v) => v,
        Err(e) => return fail(EXIT_RUN_FAILED, &e),
    };
    for p in &v.problems {
        eprintln!("error: {p}");
    }
    for (model, upstream) in &v.unchecked {
        eprintln!("note: model `{model}` was not checked because `{upstream}` has a problem");
    }
    if v.problems.is_empty() {
        println!(
            "{}: ok ({} sources, {} models, {} published, {} tests)",
            pipeline.file.display(),
            v.sources,
            v.models,
            v.published,
            v.tests
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{}: {} problem{}",
            pipeline.file.display(),
            v.problems.len(),
            if v.problems.len() == 1 { "" } else { "s" }
        );
        ExitCode::from(EXIT_INVALID)
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
    let out = match format {
        DagFormat::Text => beacon::models::dag::text(&graph),
        DagFormat::Mermaid => {
            let sources: Vec<String> = pipeline
                .sources
                .iter()
                .map(|s| s.contract.name.clone())
                .collect();
            let published = pipeline.publish.iter().cloned().collect();
            beacon::models::dag::mermaid(&graph, &sources, &published)
        }
    };
    print!("{out}");
    ExitCode::SUCCESS
}

async fn cmd_sample(
    leads: u64,
    seed: u64,
    out: &Path,
    end_date: Option<NaiveDate>,
    gzip: bool,
) -> ExitCode {
    let end_date = end_date.unwrap_or_else(beacon::sample::SampleOptions::default_end_date);
    let opts = beacon::sample::SampleOptions {
        leads,
        seed,
        end_date,
        gzip,
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
            (Some(bar), RunEvent::Test(t)) => {
                if t.status != TestStatus::Pass {
                    bar.println(format!("test {}: {:?}", t.id, t.status));
                }
            }
            (None, RunEvent::Test(t)) => match t.status {
                TestStatus::Pass => tracing::info!(test = %t.id, "test passed"),
                TestStatus::Skipped => tracing::info!(test = %t.id, "test skipped"),
                _ if t.severity == Severity::Warn => {
                    tracing::warn!(test = %t.id, failing_rows = t.failing_rows, declared_at = %t.declared_at, "test warning")
                }
                _ => {
                    tracing::error!(test = %t.id, failing_rows = t.failing_rows, declared_at = %t.declared_at, error = t.error.as_deref().unwrap_or(""), "test failed")
                }
            },
            (Some(bar), RunEvent::Warning(w)) => bar.println(format!("warning: {w}")),
            (None, RunEvent::Warning(w)) => tracing::warn!(warning = %w, "warning"),
            (Some(bar), RunEvent::Committed { tables }) => {
                bar.set_message(format!("published {tables} tables"))
            }
            (Some(bar), RunEvent::Committing { tables }) => {
                bar.set_message(format!("committing {tables} tables"))
            }
            (Some(bar), RunEvent::Locked { took_over, .. }) => {
                if let Some(h) = took_over {
                    bar.println(format!(
                        "took over the lock of {h} (its process is gone or the lock expired)"
                    ));
                }
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
                    view,
                }),
            ) => {
                if view {
                    tracing::info!(model = %model, seconds = elapsed.as_secs_f64(), "view defined")
                } else {
                    tracing::info!(model = %model, rows, seconds = elapsed.as_secs_f64(), "model finished")
                }
            }
            (None, RunEvent::Model(ModelEvent::Failed { model, error })) => {
                tracing::error!(model = %model, error = %error, "model failed")
            }
            (None, RunEvent::Committed { tables }) => tracing::info!(tables, "committed"),
            (None, RunEvent::Committing { tables }) => tracing::info!(tables, "committing"),
            (None, RunEvent::Locked { lock, took_over }) => match took_over {
                Some(h) => {
                    tracing::warn!(lock = %lock, previous = %h, "took over the lock (its process is gone or the lock expired)")
                }
                None => tracing::info!(lock = %lock, "locked"),
            },
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `beacon scheduler` and `beacon executor`: the processes of a Ballista cluster with Beacon's
/// functions (see `beacon::engine::cluster`).
#[cfg(feature = "ballista")]
mod cluster_cli {
    use super::{fail, EXIT_INVALID, EXIT_RUN_FAILED};
    use beacon::engine::cluster::{self, ClusterError, ExecutorOptions, SchedulerOptions};
    use std::path::PathBuf;
    use std::process::ExitCode;

    #[derive(clap::Args)]
    pub struct SchedulerArgs {
        /// Address to listen on (0.0.0.0 in a container).
        #[arg(long, default_value = "127.0.0.1", env = "BEACON_BIND_HOST")]
        bind_host: String,
        /// gRPC port for clients and executors.
        #[arg(long, default_value_t = 50050, env = "BEACON_SCHEDULER_PORT")]
        port: u16,
        /// Host name clients and executors reach this scheduler by.
        #[arg(long, default_value = "localhost", env = "BEACON_EXTERNAL_HOST")]
        external_host: String,
        /// Seconds a finished query's result files stay on the executors before they are
        /// deleted (its intermediate shuffle files go at once): longer than a client takes to read
        /// a model's result. Less keeps the executors' disks emptier; 0 keeps them all.
        #[arg(
            long,
            value_name = "SECONDS",
            default_value_t = 300,
            env = "BEACON_KEEP_RESULTS_SECONDS"
        )]
        keep_results_seconds: u64,
    }

    #[derive(clap::Args)]
    pub struct ExecutorArgs {
        /// The scheduler to register with, `host:port`.
        #[arg(long, default_value = "127.0.0.1:50050", env = "BEACON_SCHEDULER")]
        scheduler: String,
        /// Address to listen on (0.0.0.0 in a container).
        #[arg(long, default_value = "127.0.0.1", env = "BEACON_BIND_HOST")]
        bind_host: String,
        /// Host name the scheduler, other executors and clients reach this executor by (in
        /// Kubernetes: the pod IP); default: the address the scheduler sees.
        #[arg(long, env = "BEACON_EXTERNAL_HOST")]
        external_host: Option<String>,
        /// Arrow Flight port (shuffle and result fetches).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Task slots (default: the number of cores).
        #[arg(long, env = "BEACON_EXECUTOR_VCORES")]
        vcores: Option<usize>,
        /// Folder for shuffle and spill files (default: a temporary folder).
        #[arg(long, env = "BEACON_EXECUTOR_WORK_DIR")]
        work_dir: Option<PathBuf>,
        /// Memory for all tasks together (e.g. 8GiB); work beyond it spills to --work-dir.
        /// Default: 70% of the machine's (or container's) memory.
        #[arg(long, value_name = "SIZE", env = "BEACON_EXECUTOR_MEMORY")]
        memory_limit: Option<String>,
        /// A stock executor without Beacon's functions (to check that Beacon refuses it).
        #[arg(long, hide = true)]
        without_beacon_functions: bool,
    }

    fn exit(result: Result<(), ClusterError>) -> ExitCode {
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e @ ClusterError::Address { .. }) => fail(EXIT_INVALID, &e),
            Err(e) => fail(EXIT_RUN_FAILED, &e),
        }
    }

    pub async fn scheduler(args: SchedulerArgs) -> ExitCode {
        tracing::info!(
            port = args.port,
            "Ballista scheduler with Beacon's functions starting"
        );
        exit(
            cluster::run_scheduler(&SchedulerOptions {
                bind_host: args.bind_host,
                port: args.port,
                external_host: args.external_host,
                keep_results_seconds: args.keep_results_seconds,
            })
            .await,
        )
    }

    pub async fn executor(args: ExecutorArgs) -> ExitCode {
        let memory_limit = match args
            .memory_limit
            .as_deref()
            .map(beacon::spec::parse_byte_size)
        {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(message)) => {
                eprintln!("error: --memory-limit: {message}");
                return ExitCode::from(EXIT_INVALID);
            }
        };
        exit(
            cluster::run_executor(&ExecutorOptions {
                scheduler: args.scheduler,
                bind_host: args.bind_host,
                external_host: args.external_host,
                flight_port: args.port,
                grpc_port: args.grpc_port,
                vcores: args.vcores,
                work_dir: args.work_dir,
                memory_limit,
                without_beacon_functions: args.without_beacon_functions,
            })
            .await,
        )
    }
}
