//! Raw structs -> domain types, with every problem collected (no I/O here).

use super::checks::{read_checks, ModelChecks};
use super::raw::{RawColumn, RawModels, RawPipeline, RawSource, RawStorage};
use super::{closest, Problem};
use crate::contract::{ColumnContract, ColumnType, Format, SourceContract};
use crate::storage::StorageOptions;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default share of rejected rows above which a source fails the run.
pub const DEFAULT_MAX_REJECTED_SHARE: f64 = 0.01;

/// One entry of `views:`: a model selector (as for `--select`), with the line it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSelector {
    pub selector: String,
    pub line: Option<usize>,
}

/// How many models run at a time unless `model_concurrency:` says otherwise.
pub const DEFAULT_MODEL_CONCURRENCY: usize = 2;

/// How the engine executes joins (`join_strategy:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JoinStrategy {
    /// Hash joins: the fastest; the build side is held in memory and cannot spill.
    #[default]
    Hash,
    /// Sort-merge joins: both sides sorted (spilling to disk when the pool is full), for runs
    /// larger than the memory pool.
    SortMerge,
}

/// How the memory pool is shared between operators (`memory_pool:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MemoryPoolKind {
    /// First come, first served: the fastest when the work fits.
    #[default]
    Greedy,
    /// Every operator that can spill gets an equal share, so that one sort filling the pool does
    /// not leave the others (and their merge phases) without memory.
    Fair,
}

/// Whether a run uses the large-run settings (`large_run:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LargeRun {
    /// When the sources are large next to the memory limit (see `run::scale`).
    #[default]
    Auto,
    On,
    Off,
}

/// Which engine settings the pipeline (or `--set`) gives itself: those the large-run settings
/// leave alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExplicitTuning {
    pub join_strategy: bool,
    pub memory_pool: bool,
    pub model_concurrency: bool,
}

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The YAML file it came from (for messages).
    pub file: PathBuf,
    /// Folder relative paths in the file are resolved against (the file's folder).
    pub base_dir: PathBuf,
    pub name: String,
    pub engine: EngineSpec,
    /// Memory pool size in bytes; `None` = no limit.
    pub memory_limit: Option<u64>,
    pub spill_dir: Option<PathBuf>,
    pub target_partitions: Option<usize>,
    /// Rows per batch inside queries (`batch_size:`; default: DataFusion's 8192).
    pub batch_size: Option<usize>,
    /// How joins are executed (`join_strategy:`).
    pub join_strategy: JoinStrategy,
    /// How the memory pool shares itself out (`memory_pool:`).
    pub memory_pool: MemoryPoolKind,
    /// How many models run at a time (`model_concurrency:`, default 2).
    pub model_concurrency: usize,
    /// When the large-run settings apply (`large_run:`).
    pub large_run: LargeRun,
    /// Which of the settings above were given (the others are defaults).
    pub explicit_tuning: ExplicitTuning,
    /// Raw zone location (URL or path as written, resolved by `storage`).
    pub raw: String,
    /// Output location (URL or path as written, resolved by `storage`).
    pub output: String,
    /// Scratch location for unpublished models (path or URL as written, resolved by `storage`;
    /// default `../data/work`).
    pub work: String,
    /// Folder of SQL models (the first of `models:`).
    pub models_dir: PathBuf,
    /// Further folders of `models:` overlaid on it in order: a model file there replaces the
    /// same-named model (see [`Pipeline::model_folders`]).
    pub model_overlays: Vec<PathBuf>,
    pub publish: Vec<String>,
    /// Selectors of the models planned inside their readers instead of written (`views:`); the
    /// graph resolves them ([`crate::run::plan`]).
    pub views: Vec<ViewSelector>,
    pub sources: Vec<Source>,
    pub vars: BTreeMap<String, VarValue>,
    /// Timeouts, retries and the run lock of object-store access.
    pub storage: StorageOptions,
    /// Output contracts and data tests, per model (`checks:`).
    pub checks: Vec<ModelChecks>,
    /// How many committed run dates to keep (none: all).
    pub retention: Option<Retention>,
    /// Where OpenLineage events go (none: no events).
    pub lineage: Option<LineageSpec>,
}

/// `retention:`: the newest `keep_runs` committed run dates stay; older ones are deleted after a
/// successful commit (their published tables and run metadata, their work folder, and their raw
/// zone when `raw`).
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    pub keep_runs: usize,
    pub raw: bool,
}

/// `lineage:`: where OpenLineage run events go.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageSpec {
    pub namespace: String,
    /// Local NDJSON file (resolved against the pipeline's folder).
    pub file: Option<PathBuf>,
    pub url: Option<url::Url>,
}

impl Pipeline {
    /// This pipeline with the large-run settings for those of `join_strategy`, `memory_pool` and
    /// `model_concurrency` it does not set: sort-merge joins for large build sides (which spill;
    /// hash joins' build sides cannot), a fair pool (one sort filling the pool would leave the
    /// others' merge phases nothing) and one model at a time (its operators share the pool with no
    /// other model's). Batches keep DataFusion's 8192 rows: 2048-row batches, once needed for
    /// sorts' merges, made the 10M-lead run 15 % slower after the merges were compacted.
    pub fn with_large_run_settings(&self) -> Pipeline {
        let set = self.explicit_tuning;
        let mut tuned = self.clone();
        if !set.join_strategy {
            tuned.join_strategy = JoinStrategy::SortMerge;
        }
        if !set.memory_pool {
            tuned.memory_pool = MemoryPoolKind::Fair;
        }
        if !set.model_concurrency {
            tuned.model_concurrency = 1;
        }
        tuned
    }

    /// Every folder of models, base first: what the model graph is read from.
    pub fn model_folders(&self) -> Vec<PathBuf> {
        std::iter::once(self.models_dir.clone())
            .chain(self.model_overlays.iter().cloned())
            .collect()
    }
}

/// Where the SQL runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum EngineSpec {
    /// DataFusion in this process.
    #[default]
    Local,
    /// A Ballista scheduler, `ballista://host:port` (see `engine::ballista`).
    Ballista { url: String },
}

/// One input dataset: its contract and where it is.
#[derive(Debug, Clone)]
pub struct Source {
    pub contract: SourceContract,
    pub location: String,
    pub optional: bool,
    /// Incremental loading: the cursor column (a contract column) and its type.
    pub incremental: Option<Incremental>,
}

/// An incremental source: rows newer than the last committed watermark of `cursor` are merged
/// into the previous state by primary key, the row with the later cursor winning.
#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    pub cursor: String,
    pub cursor_type: ColumnType,
}

/// A value of `vars:`; rendered into SQL as a literal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum VarValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<VarValue>),
}

fn var_value(v: &serde_yaml::Value, path: &str, problems: &mut Vec<Problem>) -> Option<VarValue> {
    use serde_yaml::Value;
    match v {
        Value::Bool(b) => Some(VarValue::Bool(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(VarValue::Int(i)),
            (None, Some(f)) if f.is_finite() => Some(VarValue::Float(f)),
            _ => {
                problems.push(Problem::at(path, format!("number {n} is not finite")));
                None
            }
        },
        Value::String(s) => Some(VarValue::Str(s.clone())),
        Value::Sequence(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if matches!(item, Value::Sequence(_)) {
                    problems.push(Problem::at(
                        format!("{path}[{i}]"),
                        "lists of lists are not supported",
                    ));
                    return None;
                }
                out.push(var_value(item, &format!("{path}[{i}]"), problems)?);
            }
            Some(VarValue::List(out))
        }
        Value::Null => {
            problems.push(Problem::at(
                path,
                "a var needs a value (null is not allowed)",
            ));
            None
        }
        Value::Mapping(_) | Value::Tagged(_) => {
            problems.push(Problem::at(
                path,
                "a var must be a number, string, boolean or list",
            ));
            None
        }
    }
}

/// Parses sizes like `4GiB`, `512 MiB`, `2GB`, `1048576`.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size: write e.g. 4GiB, 512MiB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}`: use KiB, MiB, GiB, KB, MB, GB"
            ))
        }
    };
    let bytes = num * mult;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!("`{s}` is not a positive size"));
    }
    Ok(bytes as u64)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

pub(crate) fn validate(
    raw: RawPipeline,
    file: &Path,
    base_dir: &Path,
) -> Result<Pipeline, Vec<Problem>> {
    let mut problems = Vec::new();
    if raw.version != 1 {
        problems.push(Problem::at(
            "version",
            format!(
                "unsupported version {}: this Beacon reads version 1",
                raw.version
            ),
        ));
    }
    let engine = match raw.engine.as_deref().map(str::trim) {
        None | Some("") | Some("local") => EngineSpec::Local,
        Some(url) if url.starts_with("ballista://") => {
            let parsed = url::Url::parse(url).ok();
            let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or("");
            if host.is_empty() || parsed.as_ref().and_then(|u| u.port()).is_none() {
                problems.push(Problem::at(
                    "engine",
                    format!("`{url}` is not a Ballista scheduler address: use ballista://host:port, e.g. ballista://beacon-scheduler:50050"),
                ));
            }
            EngineSpec::Ballista {
                url: url.to_string(),
            }
        }
        Some(other) => {
            problems.push(Problem::at(
                "engine",
                format!("unknown engine `{other}`: use `local` or `ballista://host:port`"),
            ));
            EngineSpec::Local
        }
    };
    let memory_limit = match raw.memory_limit.as_deref() {
        None => None,
        Some(s) => match parse_byte_size(s) {
            Ok(n) => Some(n),
            Err(e) => {
                problems.push(Problem::at("memory_limit", e));
                None
            }
        },
    };
    if raw.batch_size == Some(0) {
        problems.push(Problem::at("batch_size", "must be at least 1"));
    }
    if raw.target_partitions == Some(0) {
        problems.push(Problem::at("target_partitions", "must be at least 1"));
    }
    let join_strategy = match raw.join_strategy.as_deref() {
        None | Some("hash") => JoinStrategy::Hash,
        Some("sort_merge") => JoinStrategy::SortMerge,
        Some(other) => {
            problems.push(Problem::at(
                "join_strategy",
                format!("unknown join strategy `{other}`: use `hash` or `sort_merge`"),
            ));
            JoinStrategy::Hash
        }
    };
    let memory_pool = match raw.memory_pool.as_deref() {
        None | Some("greedy") => MemoryPoolKind::Greedy,
        Some("fair") => MemoryPoolKind::Fair,
        Some(other) => {
            problems.push(Problem::at(
                "memory_pool",
                format!("unknown memory pool `{other}`: use `greedy` or `fair`"),
            ));
            MemoryPoolKind::Greedy
        }
    };
    if raw.model_concurrency == Some(0) {
        problems.push(Problem::at("model_concurrency", "must be at least 1"));
    }
    let large_run = match raw.large_run.as_deref() {
        None | Some("auto") => LargeRun::Auto,
        Some("on" | "true") => LargeRun::On,
        Some("off" | "false") => LargeRun::Off,
        Some(other) => {
            problems.push(Problem::at(
                "large_run",
                format!("unknown value `{other}`: use `auto`, `on` or `off`"),
            ));
            LargeRun::Auto
        }
    };
    let explicit_tuning = ExplicitTuning {
        join_strategy: raw.join_strategy.is_some(),
        memory_pool: raw.memory_pool.is_some(),
        model_concurrency: raw.model_concurrency.is_some(),
    };
    let default_share = raw.max_rejected_share.unwrap_or(DEFAULT_MAX_REJECTED_SHARE);
    check_share(default_share, "max_rejected_share", &mut problems);
    for (key, value) in [("raw", &raw.raw), ("output", &raw.output)] {
        if value.trim().is_empty() {
            problems.push(Problem::at(key, "must not be empty"));
        }
    }
    let model_folders = raw.models.folders();
    if model_folders.is_empty() {
        problems.push(Problem::at("models", "needs at least one folder"));
    }
    for (i, dir) in model_folders.iter().enumerate() {
        if dir.trim().is_empty() {
            let key = match raw.models {
                RawModels::One(_) => "models".to_string(),
                RawModels::Layered(_) => format!("models[{i}]"),
            };
            problems.push(Problem::at(key, "must not be empty"));
        }
    }
    let mut vars = BTreeMap::new();
    for (name, value) in &raw.vars {
        if !is_identifier(name) {
            problems.push(Problem::at(
                format!("vars.{name}"),
                "var names are lowercase snake_case identifiers",
            ));
        }
        if let Some(v) = var_value(value, &format!("vars.{name}"), &mut problems) {
            vars.insert(name.clone(), v);
        }
    }
    if raw.sources.is_empty() {
        problems.push(Problem::at("sources", "at least one source is required"));
    }
    let mut sources = Vec::new();
    for (name, src) in &raw.sources {
        if let Some(s) = validate_source(name, src, default_share, &mut problems) {
            sources.push(s);
        }
    }
    let storage = validate_storage(raw.storage.as_ref(), &mut problems);
    let checks = read_checks(&raw.checks, &mut problems);
    let retention = raw.retention.as_ref().map(|r| Retention {
        keep_runs: r.keep_runs,
        raw: r.raw.unwrap_or(true),
    });
    if retention.as_ref().is_some_and(|r| r.keep_runs == 0) {
        problems.push(Problem::at(
            "retention.keep_runs",
            "must be at least 1 (the run just committed is always kept)",
        ));
    }
    let mut lineage = None;
    if let Some(l) = &raw.lineage {
        let url = match l.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(u) => match url::Url::parse(u) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Some(parsed),
                _ => {
                    problems.push(Problem::at(
                        "lineage.url",
                        "must be an http(s):// URL of an OpenLineage endpoint",
                    ));
                    None
                }
            },
        };
        let file = l
            .file
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(PathBuf::from);
        if file.is_none() && url.is_none() && problems.is_empty() {
            problems.push(Problem::at(
                "lineage",
                "give `file:` (a local NDJSON file), `url:` (an OpenLineage endpoint), or both",
            ));
        }
        lineage = Some(LineageSpec {
            namespace: l.namespace.clone().unwrap_or_else(|| "beacon".to_string()),
            file,
            url,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, m) in raw.publish.iter().enumerate() {
        if !seen.insert(m) {
            problems.push(Problem::at(
                format!("publish[{i}]"),
                format!("model `{m}` is listed twice"),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            normalize(p)
        } else {
            normalize(&base_dir.join(p))
        }
    };
    Ok(Pipeline {
        file: file.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        name: raw.name,
        engine,
        memory_limit,
        spill_dir: raw.spill_dir.as_deref().map(resolve),
        target_partitions: raw.target_partitions,
        batch_size: raw.batch_size,
        join_strategy,
        memory_pool,
        model_concurrency: raw.model_concurrency.unwrap_or(DEFAULT_MODEL_CONCURRENCY),
        large_run,
        explicit_tuning,
        raw: raw.raw,
        output: raw.output,
        work: raw
            .work
            .clone()
            .unwrap_or_else(|| "../data/work".to_string()),
        models_dir: model_folders
            .first()
            .map(|d| resolve(d))
            .unwrap_or_default(),
        model_overlays: model_folders.iter().skip(1).map(|d| resolve(d)).collect(),
        publish: raw.publish,
        views: raw
            .views
            .into_iter()
            .map(|selector| ViewSelector {
                selector,
                line: None,
            })
            .collect(),
        sources,
        vars,
        checks,
        retention,
        lineage: lineage.map(|l| LineageSpec {
            file: l.file.map(|f| resolve(&f.to_string_lossy())),
            ..l
        }),
        storage,
    })
}

/// Parses durations such as `250ms`, `30s`, `10m`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration ({e}): write e.g. 500ms, 30s, 10m"))
}

fn validate_storage(raw: Option<&RawStorage>, problems: &mut Vec<Problem>) -> StorageOptions {
    let mut opts = StorageOptions::default();
    let Some(raw) = raw else {
        return opts;
    };
    let mut duration = |key: &str, value: &Option<String>, target: &mut Duration| {
        if let Some(v) = value {
            match parse_duration(v) {
                Ok(d) if d.is_zero() => {
                    problems.push(Problem::at(format!("storage.{key}"), "must be more than 0"))
                }
                Ok(d) => *target = d,
                Err(e) => problems.push(Problem::at(format!("storage.{key}"), e)),
            }
        }
    };
    duration(
        "connect_timeout",
        &raw.connect_timeout,
        &mut opts.connect_timeout,
    );
    duration(
        "request_timeout",
        &raw.request_timeout,
        &mut opts.request_timeout,
    );
    duration(
        "retry_initial_backoff",
        &raw.retry_initial_backoff,
        &mut opts.retry_initial_backoff,
    );
    duration(
        "retry_max_backoff",
        &raw.retry_max_backoff,
        &mut opts.retry_max_backoff,
    );
    duration(
        "operation_deadline",
        &raw.operation_deadline,
        &mut opts.operation_deadline,
    );
    duration("lock_ttl", &raw.lock_ttl, &mut opts.lock_ttl);
    if let Some(n) = raw.max_retries {
        opts.max_retries = n;
    }
    if let Some(b) = raw.retry_backoff_base {
        if !(b.is_finite() && b >= 1.0) {
            problems.push(Problem::at(
                "storage.retry_backoff_base",
                format!("{b} must be a number of at least 1 (2 doubles each wait)"),
            ));
        } else {
            opts.retry_backoff_base = b;
        }
    }
    if opts.retry_max_backoff < opts.retry_initial_backoff {
        problems.push(Problem::at(
            "storage.retry_max_backoff",
            "must not be shorter than retry_initial_backoff",
        ));
    }
    if opts.lock_ttl < Duration::from_secs(1) {
        problems.push(Problem::at(
            "storage.lock_ttl",
            "must be at least 1s (the lock is renewed every third of it)",
        ));
    }
    opts
}

/// `pipelines/../sql` -> `sql`: shorter paths in messages. Lexical (`..` after a symlinked folder
/// would differ, which pipeline folders are not expected to be).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn check_share(v: f64, path: &str, problems: &mut Vec<Problem>) {
    if !(0.0..=1.0).contains(&v) {
        problems.push(Problem::at(
            path,
            format!("{v} is not a share between 0 and 1 (1 % is 0.01)"),
        ));
    }
}

fn validate_source(
    name: &str,
    src: &RawSource,
    default_share: f64,
    problems: &mut Vec<Problem>,
) -> Option<Source> {
    let at = |k: &str| format!("sources.{name}.{k}");
    let before = problems.len();
    if !is_identifier(name) {
        problems.push(Problem::at(
            format!("sources.{name}"),
            "source names are table names: lowercase letters, digits and _",
        ));
    }
    if src.location.trim().is_empty() {
        problems.push(Problem::at(at("location"), "must not be empty"));
    }
    let format = match src.format.as_deref() {
        None => None,
        Some(f) => match f.parse::<Format>() {
            Ok(f) => Some(f),
            Err(_) => {
                let hint = closest(f, ["csv", "ndjson", "parquet"])
                    .map(|c| format!(", did you mean `{c}`?"))
                    .unwrap_or_default();
                problems.push(Problem::at(
                    at("format"),
                    format!("unknown format `{f}`{hint} (use csv, ndjson or parquet)"),
                ));
                None
            }
        },
    };
    let delimiter = match src.delimiter.as_deref() {
        None => b',',
        Some("\\t") | Some("\t") => b'\t',
        Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
        Some(d) => {
            problems.push(Problem::at(
                at("delimiter"),
                format!("`{d}` is not a single ASCII character"),
            ));
            b','
        }
    };
    let share = src.max_rejected_share.unwrap_or(default_share);
    check_share(share, &at("max_rejected_share"), problems);
    if src.columns.is_empty() {
        problems.push(Problem::at(
            at("columns"),
            "a source needs its contract columns",
        ));
    }
    let mut columns = Vec::new();
    for (col, rc) in &src.columns {
        if let Some(c) = validate_column(name, col, rc, problems) {
            columns.push(c);
        }
    }
    for (i, k) in src.primary_key.iter().enumerate() {
        if !src.columns.contains_key(k) {
            let hint = closest(k, src.columns.keys().map(String::as_str))
                .map(|c| format!(", did you mean `{c}`?"))
                .unwrap_or_default();
            problems.push(Problem::at(
                format!("sources.{name}.primary_key[{i}]"),
                format!("`{k}` is not a column of this source{hint}"),
            ));
        }
    }
    let mut incremental = None;
    if let Some(inc) = &src.incremental {
        match columns.iter().find(|c| c.name == inc.cursor) {
            None => {
                let hint = closest(&inc.cursor, src.columns.keys().map(String::as_str))
                    .map(|c| format!(", did you mean `{c}`?"))
                    .unwrap_or_default();
                problems.push(Problem::at(
                    at("incremental.cursor"),
                    format!("`{}` is not a column of this source{hint}", inc.cursor),
                ));
            }
            Some(c) if c.column_type == ColumnType::Boolean => problems.push(Problem::at(
                at("incremental.cursor"),
                "a cursor is a timestamp, date, number or text that grows; not a boolean",
            )),
            Some(c) => {
                incremental = Some(Incremental {
                    cursor: c.name.clone(),
                    cursor_type: c.column_type,
                })
            }
        }
        if src.primary_key.is_empty() {
            problems.push(Problem::at(
                at("incremental"),
                "an incremental source needs a `primary_key`: new rows replace old ones by it",
            ));
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Source {
        contract: SourceContract {
            name: name.to_string(),
            format,
            columns,
            primary_key: src.primary_key.clone(),
            null_values: src.null_values.clone(),
            delimiter,
            max_rejected_share: share,
        },
        location: src.location.clone(),
        optional: src.optional,
        incremental,
    })
}

const TYPES: [&str; 6] = [
    "string",
    "integer",
    "decimal",
    "boolean",
    "date",
    "timestamp",
];

fn validate_column(
    source: &str,
    name: &str,
    rc: &RawColumn,
    problems: &mut Vec<Problem>,
) -> Option<ColumnContract> {
    let path = format!("sources.{source}.columns.{name}");
    let column_type = match rc.column_type.parse::<ColumnType>() {
        Ok(t) => t,
        Err(_) => {
            let hint = closest(&rc.column_type, TYPES)
                .map(|c| format!(", did you mean `{c}`?"))
                .unwrap_or_default();
            problems.push(Problem::at(
                path,
                format!(
                    "unknown type `{}`{hint} (types: {})",
                    rc.column_type,
                    TYPES.join(", ")
                ),
            ));
            return None;
        }
    };
    if rc.values.is_some() && column_type != ColumnType::String {
        problems.push(Problem::at(
            path,
            "`values` (an enum) is only allowed on string columns",
        ));
        return None;
    }
    Some(ColumnContract {
        name: name.to_string(),
        column_type,
        required: rc.required,
        allowed_values: rc.values.clone(),
    })
}
