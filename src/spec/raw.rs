//! Raw configuration structs: a mirror of the YAML file, nothing more.
//!
//! Every struct denies unknown keys so a misspelt key is an error, not a silently ignored
//! setting. Turning these into domain types (and checking what serde cannot) is `validate`'s job.

use indexmap::IndexMap;
use serde::{de, Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The pipeline file (`pipelines/*.yaml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    /// Format version of this file; only `1` exists.
    pub version: u32,
    /// Name of the pipeline, used in logs, locks and lineage.
    pub name: String,
    /// `local` (default) or `ballista://host:port`.
    #[serde(default)]
    pub engine: Option<String>,
    /// Memory pool for the query engine, e.g. `4GiB`; work beyond it spills to disk.
    #[serde(default)]
    pub memory_limit: Option<String>,
    /// Folder for spill files (default: the system temp folder).
    #[serde(default)]
    pub spill_dir: Option<String>,
    /// Parallelism of query plans (default: number of cores).
    #[serde(default)]
    pub target_partitions: Option<usize>,
    /// Rows per batch inside queries (DataFusion's batch_size, default 8192). Smaller batches
    /// lower what a sort's merge of many spill files holds (one batch per file).
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// `hash` (default: fastest, but a hash join's build side cannot spill) or `sort_merge`
    /// (the hash joins of a query keep build sides of up to a quarter of `memory_limit`
    /// together, one at most a sixth, smallest first; the others sort both sides and spill:
    /// for runs larger than the memory pool).
    #[serde(default)]
    pub join_strategy: Option<String>,
    /// `greedy` (default: first come, first served) or `fair` (each spilling operator holding
    /// memory gets an equal share, with room left for what cannot spill; for runs larger than the
    /// pool).
    #[serde(default)]
    pub memory_pool: Option<String>,
    /// How many models run at a time (default 2).
    #[serde(default)]
    pub model_concurrency: Option<usize>,
    /// `auto` (default), `on` or `off`: the large-run settings (sort-merge joins for large build
    /// sides, a fair pool, one model at a time) for whichever of those three the pipeline leaves
    /// unset; `auto`: when the sources are large next to `memory_limit`.
    #[serde(default)]
    pub large_run: Option<String>,
    /// Where loaded sources land as Parquet (object-store URL or path).
    pub raw: String,
    /// Where published models land (object-store URL or path).
    pub output: String,
    /// Local scratch folder for models that are not published.
    #[serde(default)]
    pub work: Option<String>,
    /// Folder of the SQL models (`.sql` files, subfolders are layers), or a list of folders: each
    /// later folder overlays the earlier ones (its model replaces the same-named one).
    pub models: RawModels,
    /// Models written to `output`.
    #[serde(default)]
    pub publish: Vec<String>,
    /// Models that are not written anywhere: each is planned inside the models that read it, like
    /// a SQL view (selectors as for `--select`, e.g. `stg_*`). Published models are tables.
    #[serde(default)]
    pub views: Vec<String>,
    /// Largest share of rejected rows a source may have before the run fails (default 0.01).
    #[serde(default)]
    pub max_rejected_share: Option<f64>,
    /// Variables available to the SQL as `{{ var('name') }}`.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_yaml::Value>,
    /// Timeouts, retries and the run lock of object-store access.
    #[serde(default)]
    pub storage: Option<RawStorage>,
    /// How many committed run dates to keep; older ones are deleted after a successful commit.
    #[serde(default)]
    pub retention: Option<RawRetention>,
    /// The input datasets, by table name.
    pub sources: IndexMap<String, RawSource>,
    /// Per model: the columns its output contract requires and the data tests it must pass.
    #[serde(default)]
    pub checks: IndexMap<String, RawModelChecks>,
    /// OpenLineage run events (START, COMPLETE, FAIL) to a file and/or an HTTP endpoint.
    #[serde(default)]
    pub lineage: Option<RawLineage>,
}

/// Where OpenLineage events go.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLineage {
    /// Job namespace in the events (default `beacon`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Local file the events are appended to, one JSON document per line.
    #[serde(default)]
    pub file: Option<String>,
    /// OpenLineage HTTP endpoint each event is POSTed to (e.g. Marquez's `/api/v1/lineage`); an
    /// API key, if needed, comes from the `OPENLINEAGE_API_KEY` environment variable.
    #[serde(default)]
    pub url: Option<String>,
}

/// The checks of one model: `columns` (the output contract, each with its column tests) and
/// model-level `tests`. Test entries stay YAML values here: their many shapes (`not_null`,
/// `{accepted_values: [..]}`, `{row_count: {min: 1}, severity: warn}`) are read by `checks.rs`,
/// which can name the exact entry that is wrong.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelChecks {
    /// Columns the model must produce, each with the tests of that column (may be empty).
    #[serde(default)]
    pub columns: IndexMap<String, Option<Vec<serde_yaml::Value>>>,
    /// Tests on the whole model.
    #[serde(default)]
    pub tests: Vec<serde_yaml::Value>,
}

/// The `storage:` section: every key optional, durations written `500ms`, `30s`, `10m`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    /// Time to open a connection (default 5s).
    #[serde(default)]
    pub connect_timeout: Option<String>,
    /// Time for one request, until the last byte of the response (default 30s).
    #[serde(default)]
    pub request_timeout: Option<String>,
    /// Retries of a failed request after the first try (default 10).
    #[serde(default)]
    pub max_retries: Option<usize>,
    /// Wait before the first retry (default 100ms).
    #[serde(default)]
    pub retry_initial_backoff: Option<String>,
    /// Longest wait between retries (default 15s).
    #[serde(default)]
    pub retry_max_backoff: Option<String>,
    /// Growth factor of the wait between retries (default 2).
    #[serde(default)]
    pub retry_backoff_base: Option<f64>,
    /// Total time of one storage operation, retries included (default 3m).
    #[serde(default)]
    pub operation_deadline: Option<String>,
    /// Validity of the run lock without renewal (default 10m).
    #[serde(default)]
    pub lock_ttl: Option<String>,
}

/// `retention:`: how much history a pipeline keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Committed run dates kept per output (the newest); older dates are deleted.
    pub keep_runs: usize,
    /// Also delete the raw zone (loaded sources, quarantine) of deleted dates (default true).
    #[serde(default)]
    pub raw: Option<bool>,
}

/// `models:` written as one folder or as a list of folders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawModels {
    One(String),
    Layered(Vec<String>),
}

impl RawModels {
    /// The folders in order (base first).
    pub fn folders(&self) -> Vec<&str> {
        match self {
            RawModels::One(dir) => vec![dir.as_str()],
            RawModels::Layered(dirs) => dirs.iter().map(String::as_str).collect(),
        }
    }
}

/// One input dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// URL or path of a file, a folder/prefix, or a glob.
    pub location: String,
    /// `csv`, `ndjson` or `parquet`; inferred from the file extension when absent.
    #[serde(default)]
    pub format: Option<String>,
    /// A missing optional source is an empty table, not an error.
    #[serde(default)]
    pub optional: bool,
    /// Columns that together identify a row; duplicates are rejected.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Extra tokens that mean NULL (e.g. Salesforce's `000000000000000AAA`).
    #[serde(default)]
    pub null_values: Vec<String>,
    /// CSV field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Overrides the pipeline's `max_rejected_share` for this source.
    #[serde(default)]
    pub max_rejected_share: Option<f64>,
    /// The contract columns: `Name: type` or `Name: {type: .., required: .., values: [..]}`.
    pub columns: IndexMap<String, RawColumn>,
    /// Load only rows newer than the last committed watermark and merge them by primary key.
    #[serde(default)]
    pub incremental: Option<RawIncremental>,
}

/// `incremental:` of a source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncremental {
    /// The column that grows when a row changes (`SystemModstamp`, `LastModifiedDate`).
    pub cursor: String,
}

/// A contract column, written short (`timestamp`, `string required`) or long (a mapping).
#[derive(Debug, Clone, Serialize)]
pub struct RawColumn {
    #[serde(rename = "type")]
    pub column_type: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

impl RawColumn {
    fn from_short(s: &str) -> Result<Self, String> {
        let mut words = s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty());
        let column_type = words.next().ok_or("empty column type")?.to_string();
        let mut required = false;
        for w in words {
            match w {
                "required" => required = true,
                "optional" => required = false,
                other => {
                    return Err(format!(
                        "unexpected word `{other}` in column `{s}`: write `TYPE` or `TYPE required`"
                    ))
                }
            }
        }
        Ok(RawColumn {
            column_type,
            required,
            values: None,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LongColumn {
    #[serde(rename = "type")]
    column_type: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    values: Option<Vec<String>>,
}

/// Accepts both spellings of a column so the common case stays one line.
impl<'de> Deserialize<'de> for RawColumn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawColumn, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = RawColumn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a column type such as `timestamp` or `string required`, or a mapping with `type`, `required`, `values`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawColumn, E> {
                RawColumn::from_short(v).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawColumn, A::Error> {
                let long = LongColumn::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawColumn {
                    column_type: long.column_type,
                    required: long.required,
                    values: long.values,
                })
            }
        }
        d.deserialize_any(V)
    }
}
