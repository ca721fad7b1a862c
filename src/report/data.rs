//! Reading a committed run: its manifest, then the published tables through DataFusion.
//!
//! The manifest is the commit record: the report reads exactly the files it lists (never a
//! listing of the partition folders, which may hold another run's files while a commit is in
//! progress). Each query aggregates in the engine and returns a few hundred rows at most, so the
//! report's size does not grow with the number of leads. A table that the pipeline did not
//! publish, or a query that fails (say an analyst renamed a column), makes that one panel
//! unavailable; the rest of the report still renders.

use super::charts::{CalibrationPoint, ScoreBin};
use super::ReportError;
use crate::storage::Location;
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use object_store::ObjectStoreExt;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The manifest as the report needs it (unknown fields are ignored, so the publish module can
/// add to the manifest without breaking the report).
#[derive(Debug, Clone, Deserialize)]
struct RawManifest {
    #[serde(default)]
    pipeline: String,
    #[serde(default)]
    run_id: String,
    run_date: NaiveDate,
    #[serde(default)]
    committed_at: String,
    #[serde(default)]
    tables: Vec<RawTable>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawTable {
    model: String,
    #[serde(default)]
    rows: u64,
    #[serde(default)]
    files: Vec<RawFile>,
}

#[derive(Debug, Clone, Deserialize)]
struct RawFile {
    path: String,
}

/// One table of the committed run.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedTable {
    pub model: String,
    pub rows: u64,
    /// URLs of the table's files, as DataFusion reads them.
    pub files: Vec<String>,
}

/// What the manifest says about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub pipeline: String,
    pub run_id: String,
    pub run_date: NaiveDate,
    pub committed_at: String,
    pub tables: Vec<PublishedTable>,
}

/// The metadata folder of a run date: `<output>/_beacon/runs/run_date=D/`.
pub fn run_meta(output: &Location, run_date: NaiveDate) -> Location {
    output.child(&format!(
        "_beacon/runs/run_date={}",
        run_date.format("%Y-%m-%d")
    ))
}

/// The URL of a file the manifest lists. Manifests name files by their path inside the store;
/// a path relative to the output location, or a full URL, is accepted too.
pub fn file_url(output: &Location, path: &str) -> String {
    if path.contains("://") {
        return path.to_string();
    }
    let p = path.trim_start_matches('/');
    let base = output.path.as_ref();
    if base.is_empty() || p.starts_with(&format!("{base}/")) {
        format!("{}{p}", output.store_url)
    } else {
        format!("{}{base}/{p}", output.store_url)
    }
}

/// Reads the committed manifest of `run_date`.
pub async fn read_manifest(
    output: &Location,
    run_date: NaiveDate,
) -> Result<Published, ReportError> {
    let meta = run_meta(output, run_date);
    let path = meta.path.clone().join("manifest.json");
    let location = meta.display_object(&path);
    let bytes = match meta.store.get(&path).await {
        Ok(r) => r
            .bytes()
            .await
            .map_err(|source| ReportError::ReadManifest {
                location: location.clone(),
                source,
            })?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(ReportError::NoCommittedRun {
                run_date,
                location: meta.display.clone(),
            })
        }
        Err(source) => return Err(ReportError::ReadManifest { location, source }),
    };
    let raw: RawManifest =
        serde_json::from_slice(&bytes).map_err(|source| ReportError::BadManifest {
            location: location.clone(),
            source,
        })?;
    Ok(Published {
        pipeline: raw.pipeline,
        run_id: raw.run_id,
        run_date: raw.run_date,
        committed_at: raw.committed_at,
        tables: raw
            .tables
            .into_iter()
            .map(|t| PublishedTable {
                files: t.files.iter().map(|f| file_url(output, &f.path)).collect(),
                model: t.model,
                rows: t.rows,
            })
            .collect(),
    })
}

/// Why a panel has no data to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Unavailable {
    /// The pipeline does not publish this table.
    NotPublished { table: String },
    /// Reading or querying the table failed.
    Failed { table: String, message: String },
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::NotPublished { table } => {
                write!(f, "`{table}` is not published by this pipeline")
            }
            Unavailable::Failed { table, message } => {
                write!(f, "cannot read `{table}`: {message}")
            }
        }
    }
}

/// A panel's data, or why there is none.
pub type Section<T> = Result<T, Unavailable>;

/// A small query result, column by column.
#[derive(Debug, Clone)]
pub struct Rows {
    table: String,
    batch: RecordBatch,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }

    fn column(&self, name: &str, to: &DataType) -> Result<ArrayRef, Unavailable> {
        let fail = |message: String| Unavailable::Failed {
            table: self.table.clone(),
            message,
        };
        let col = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| fail(format!("the query result has no column `{name}`")))?;
        cast(col, to).map_err(|e| fail(format!("column `{name}`: {e}")))
    }

    /// A column as numbers (NULL stays `None`; booleans are 0/1; dates are not numbers).
    pub fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>, Unavailable> {
        let col = self.column(name, &DataType::Float64)?;
        let arr =
            col.as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| Unavailable::Failed {
                    table: self.table.clone(),
                    message: format!("column `{name}` is not numeric"),
                })?;
        Ok((0..arr.len())
            .map(|i| (!arr.is_null(i)).then(|| arr.value(i)))
            .collect())
    }

    /// A column as text (dates as `YYYY-MM-DD`).
    pub fn strs(&self, name: &str) -> Result<Vec<Option<String>>, Unavailable> {
        let col = self.column(name, &DataType::Utf8)?;
        let arr =
            col.as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| Unavailable::Failed {
                    table: self.table.clone(),
                    message: format!("column `{name}` is not text"),
                })?;
        Ok((0..arr.len())
            .map(|i| (!arr.is_null(i)).then(|| arr.value(i).to_string()))
            .collect())
    }
}

/// The published tables of one run, registered with a DataFusion session.
pub struct Tables {
    ctx: SessionContext,
    state: BTreeMap<String, Result<(), String>>,
}

impl Tables {
    /// Registers every table of the manifest as a view over exactly the files it lists.
    pub async fn open(ctx: SessionContext, published: &Published) -> Tables {
        let mut state = BTreeMap::new();
        for t in &published.tables {
            let registered = if t.files.is_empty() {
                Err("the manifest lists no files for it".to_string())
            } else {
                match ctx
                    .read_parquet(t.files.clone(), ParquetReadOptions::default())
                    .await
                {
                    Ok(df) => ctx
                        .register_table(t.model.as_str(), df.into_view())
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            };
            state.insert(t.model.clone(), registered);
        }
        Tables { ctx, state }
    }

    /// Runs an aggregate query over `table` (which must be one of the run's tables).
    pub async fn query(&self, table: &str, sql: &str) -> Result<Rows, Unavailable> {
        match self.state.get(table) {
            None => {
                return Err(Unavailable::NotPublished {
                    table: table.to_string(),
                })
            }
            Some(Err(message)) => {
                return Err(Unavailable::Failed {
                    table: table.to_string(),
                    message: message.clone(),
                })
            }
            Some(Ok(())) => {}
        }
        let fail = |e: datafusion::error::DataFusionError| Unavailable::Failed {
            table: table.to_string(),
            message: e.to_string(),
        };
        let df = self.ctx.sql(sql).await.map_err(fail)?;
        let schema = df.schema().inner().clone();
        let batches = df.collect().await.map_err(fail)?;
        let batch = concat_batches(&schema, &batches).map_err(|e| Unavailable::Failed {
            table: table.to_string(),
            message: e.to_string(),
        })?;
        Ok(Rows {
            table: table.to_string(),
            batch,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The report's data, section by section

/// One month of `scaling_readiness`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessMonth {
    pub month: String,
    pub renewal_rate_12m: Option<f64>,
    pub lir_rate: Option<f64>,
    pub ltv_to_cac: Option<f64>,
    pub payback_months: Option<f64>,
    pub magic_number: Option<f64>,
    pub phase: Option<String>,
}

/// One cell of `funnel_cohorts_monthly`.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelCell {
    pub cohort: String,
    pub k: i64,
    pub cohort_mqls: Option<f64>,
    pub sqls: Option<f64>,
    pub won: Option<f64>,
    pub sql_rate: Option<f64>,
    pub win_rate: Option<f64>,
}

/// One cell of `retention_cohorts`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionCell {
    pub cohort: String,
    pub k: i64,
    pub customers: Option<f64>,
    pub eligible: Option<f64>,
    pub retained: Option<f64>,
    pub logo_retention: Option<f64>,
    pub starting_arr: Option<f64>,
    pub arr: Option<f64>,
    pub nrr: Option<f64>,
}

/// One stage row of `funnel_stage_metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRow {
    pub stage: String,
    pub entered: Option<f64>,
    pub advanced: Option<f64>,
    pub conversion_rate: Option<f64>,
    pub avg_days: Option<f64>,
    pub median_days: Option<f64>,
}

/// The `stage = 'ALL'` row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageTotals {
    pub closed: Option<f64>,
    pub won: Option<f64>,
    pub win_rate: Option<f64>,
    pub avg_cycle_days: Option<f64>,
    pub median_cycle_days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stages {
    pub stages: Vec<StageRow>,
    pub totals: Option<StageTotals>,
}

/// One month x channel of `unit_economics_monthly`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitEconomicsRow {
    pub month: String,
    pub channel: String,
    pub new_customers: Option<f64>,
    pub spend: Option<f64>,
    pub ltv_to_cac: Option<f64>,
    pub payback_months: Option<f64>,
    pub magic_number: Option<f64>,
}

/// One role of `capacity_plan`.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityRow {
    pub role: String,
    pub available_hours: Option<f64>,
    pub required_hours: Option<f64>,
    pub utilization: Option<f64>,
    pub status: Option<String>,
}

/// `capacity_balance`.
#[derive(Debug, Clone, PartialEq)]
pub struct Balance {
    pub sales_capacity: Option<f64>,
    pub demand: Option<f64>,
    pub ratio: Option<f64>,
}

/// One account of `hot_list`.
#[derive(Debug, Clone, PartialEq)]
pub struct HotRow {
    pub rank: Option<f64>,
    pub account_name: String,
    pub reason: String,
    pub p_win: Option<f64>,
    pub expected_ltv: Option<f64>,
    pub expected_value: Option<f64>,
    pub days_to_close: Option<f64>,
    pub ae_hours: Option<f64>,
    pub cumulative_ae_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HotList {
    pub top: Vec<HotRow>,
    pub accounts: u64,
    pub total_value: Option<f64>,
    pub total_hours: Option<f64>,
}

/// `lead_score_evaluation`.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub auc: Option<f64>,
    pub top_decile_lift: Option<f64>,
    pub brier: Option<f64>,
    pub train_rows: Option<f64>,
    pub test_rows: Option<f64>,
    pub model_version: String,
}

/// One campaign over the last weeks of `campaign_cohorts_weekly`.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub name: String,
    pub channel: String,
    pub members: Option<f64>,
    pub mqls: Option<f64>,
    pub sqls: Option<f64>,
    pub won: Option<f64>,
    pub won_acv: Option<f64>,
    pub cost: Option<f64>,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub published: Published,
    pub readiness: Section<Vec<ReadinessMonth>>,
    pub funnel: Section<Vec<FunnelCell>>,
    pub retention: Section<Vec<RetentionCell>>,
    pub stages: Section<Stages>,
    pub unit_economics: Section<Vec<UnitEconomicsRow>>,
    pub capacity: Section<Vec<CapacityRow>>,
    pub balance: Section<Option<Balance>>,
    pub hot_list: Section<HotList>,
    pub evaluation: Section<Option<Evaluation>>,
    pub calibration: Section<Vec<CalibrationPoint>>,
    pub roc_bins: Section<Vec<ScoreBin>>,
    pub campaigns: Section<Vec<CampaignRow>>,
}

/// Months of cohorts (rows) and months since the cohort (columns) a heatmap shows at most.
pub const MAX_COHORTS: usize = 36;
pub const MAX_COHORT_MONTHS: usize = 24;
/// Months of the unit-economics trend and of the scorecard trend.
pub const TREND_MONTHS: usize = 24;
pub const SCORECARD_MONTHS: usize = 12;
/// Rows of the hot list shown.
pub const HOT_LIST_ROWS: usize = 20;
/// Weeks of campaign cohorts summed, and campaigns shown.
pub const CAMPAIGN_WEEKS: usize = 12;
pub const CAMPAIGN_ROWS: usize = 12;

fn text(v: Option<String>) -> String {
    v.unwrap_or_default()
}

fn at<T: Clone + Default>(v: &[T], i: usize) -> T {
    v.get(i).cloned().unwrap_or_default()
}

/// Loads every section of the report.
pub async fn load(tables: &Tables, published: Published) -> ReportData {
    ReportData {
        readiness: readiness(tables).await,
        funnel: funnel(tables).await,
        retention: retention(tables).await,
        stages: stages(tables).await,
        unit_economics: unit_economics(tables).await,
        capacity: capacity(tables).await,
        balance: balance(tables).await,
        hot_list: hot_list(tables).await,
        evaluation: evaluation(tables).await,
        calibration: calibration(tables).await,
        roc_bins: roc_bins(tables).await,
        campaigns: campaigns(tables).await,
        published,
    }
}

async fn readiness(t: &Tables) -> Section<Vec<ReadinessMonth>> {
    let r = t
        .query(
            "scaling_readiness",
            &format!(
                "SELECT month, renewal_rate_12m, lir_rate, ltv_to_cac, payback_months, magic_number, phase \
                 FROM scaling_readiness ORDER BY month DESC LIMIT {SCORECARD_MONTHS}"
            ),
        )
        .await?;
    let (month, renewal, lir, ltv, payback, magic, phase) = (
        r.strs("month")?,
        r.f64s("renewal_rate_12m")?,
        r.f64s("lir_rate")?,
        r.f64s("ltv_to_cac")?,
        r.f64s("payback_months")?,
        r.f64s("magic_number")?,
        r.strs("phase")?,
    );
    let mut out: Vec<ReadinessMonth> = (0..r.len())
        .map(|i| ReadinessMonth {
            month: text(at(&month, i)),
            renewal_rate_12m: at(&renewal, i),
            lir_rate: at(&lir, i),
            ltv_to_cac: at(&ltv, i),
            payback_months: at(&payback, i),
            magic_number: at(&magic, i),
            phase: at(&phase, i),
        })
        .collect();
    out.reverse();
    Ok(out)
}

fn latest_cohorts(table: &str, cohort: &str, k: &str, columns: &str) -> String {
    format!(
        "WITH c AS (SELECT *, dense_rank() OVER (ORDER BY {cohort} DESC) AS cohort_rank FROM {table}) \
         SELECT {cohort} AS cohort, {k} AS k, {columns} FROM c \
         WHERE cohort_rank <= {MAX_COHORTS} AND {k} >= 0 AND {k} < {MAX_COHORT_MONTHS} + 1 \
         ORDER BY cohort, k"
    )
}

async fn funnel(t: &Tables) -> Section<Vec<FunnelCell>> {
    let r = t
        .query(
            "funnel_cohorts_monthly",
            &latest_cohorts(
                "funnel_cohorts_monthly",
                "mql_cohort_month",
                "months_since_mql",
                "cohort_mqls, cumulative_sqls, cumulative_won, sql_rate, win_rate",
            ),
        )
        .await?;
    let (cohort, k, mqls, sqls, won, sql_rate, win_rate) = (
        r.strs("cohort")?,
        r.f64s("k")?,
        r.f64s("cohort_mqls")?,
        r.f64s("cumulative_sqls")?,
        r.f64s("cumulative_won")?,
        r.f64s("sql_rate")?,
        r.f64s("win_rate")?,
    );
    Ok((0..r.len())
        .map(|i| FunnelCell {
            cohort: text(at(&cohort, i)),
            k: at(&k, i).unwrap_or(0.0) as i64,
            cohort_mqls: at(&mqls, i),
            sqls: at(&sqls, i),
            won: at(&won, i),
            sql_rate: at(&sql_rate, i),
            win_rate: at(&win_rate, i),
        })
        .collect())
}

async fn retention(t: &Tables) -> Section<Vec<RetentionCell>> {
    let r = t
        .query(
            "retention_cohorts",
            &latest_cohorts(
                "retention_cohorts",
                "acquisition_month",
                "months_since_acquisition",
                "cohort_customers, eligible_customers, retained_customers, logo_retention, \
                 starting_arr, arr, net_revenue_retention",
            ),
        )
        .await?;
    let (cohort, k, customers, eligible, retained, logo, start, arr, nrr) = (
        r.strs("cohort")?,
        r.f64s("k")?,
        r.f64s("cohort_customers")?,
        r.f64s("eligible_customers")?,
        r.f64s("retained_customers")?,
        r.f64s("logo_retention")?,
        r.f64s("starting_arr")?,
        r.f64s("arr")?,
        r.f64s("net_revenue_retention")?,
    );
    Ok((0..r.len())
        .map(|i| RetentionCell {
            cohort: text(at(&cohort, i)),
            k: at(&k, i).unwrap_or(0.0) as i64,
            customers: at(&customers, i),
            eligible: at(&eligible, i),
            retained: at(&retained, i),
            logo_retention: at(&logo, i),
            starting_arr: at(&start, i),
            arr: at(&arr, i),
            nrr: at(&nrr, i),
        })
        .collect())
}

async fn stages(t: &Tables) -> Section<Stages> {
    let r = t
        .query(
            "funnel_stage_metrics",
            "SELECT stage, entered, advanced, conversion_rate, avg_days_in_stage, median_days_in_stage, \
             closed, won, win_rate, avg_sales_cycle_days, median_sales_cycle_days \
             FROM funnel_stage_metrics WHERE channel IS NULL",
        )
        .await?;
    let stage = r.strs("stage")?;
    let (entered, advanced, conv, avg, median) = (
        r.f64s("entered")?,
        r.f64s("advanced")?,
        r.f64s("conversion_rate")?,
        r.f64s("avg_days_in_stage")?,
        r.f64s("median_days_in_stage")?,
    );
    let (closed, won, win, avg_c, med_c) = (
        r.f64s("closed")?,
        r.f64s("won")?,
        r.f64s("win_rate")?,
        r.f64s("avg_sales_cycle_days")?,
        r.f64s("median_sales_cycle_days")?,
    );
    let mut out = Stages::default();
    for i in 0..r.len() {
        let name = text(at(&stage, i));
        if name == "ALL" {
            out.totals = Some(StageTotals {
                closed: at(&closed, i),
                won: at(&won, i),
                win_rate: at(&win, i),
                avg_cycle_days: at(&avg_c, i),
                median_cycle_days: at(&med_c, i),
            });
        } else {
            out.stages.push(StageRow {
                stage: name,
                entered: at(&entered, i),
                advanced: at(&advanced, i),
                conversion_rate: at(&conv, i),
                avg_days: at(&avg, i),
                median_days: at(&median, i),
            });
        }
    }
    Ok(out)
}

async fn unit_economics(t: &Tables) -> Section<Vec<UnitEconomicsRow>> {
    let r = t
        .query(
            "unit_economics_monthly",
            &format!(
                "WITH u AS (SELECT *, dense_rank() OVER (ORDER BY month DESC) AS month_rank FROM unit_economics_monthly) \
                 SELECT month, channel, new_customers, spend, ltv_to_cac, payback_months, magic_number \
                 FROM u WHERE month_rank <= {TREND_MONTHS} ORDER BY month, channel"
            ),
        )
        .await?;
    let (month, channel, new_customers, spend, ltv, payback, magic) = (
        r.strs("month")?,
        r.strs("channel")?,
        r.f64s("new_customers")?,
        r.f64s("spend")?,
        r.f64s("ltv_to_cac")?,
        r.f64s("payback_months")?,
        r.f64s("magic_number")?,
    );
    Ok((0..r.len())
        .map(|i| UnitEconomicsRow {
            month: text(at(&month, i)),
            channel: at(&channel, i).unwrap_or_else(|| "(none)".into()),
            new_customers: at(&new_customers, i),
            spend: at(&spend, i),
            ltv_to_cac: at(&ltv, i),
            payback_months: at(&payback, i),
            magic_number: at(&magic, i),
        })
        .collect())
}

async fn capacity(t: &Tables) -> Section<Vec<CapacityRow>> {
    let r = t
        .query(
            "capacity_plan",
            "SELECT role, available_hours, required_hours, utilization, status FROM capacity_plan ORDER BY role",
        )
        .await?;
    let (role, avail, req, util, status) = (
        r.strs("role")?,
        r.f64s("available_hours")?,
        r.f64s("required_hours")?,
        r.f64s("utilization")?,
        r.strs("status")?,
    );
    Ok((0..r.len())
        .map(|i| CapacityRow {
            role: text(at(&role, i)),
            available_hours: at(&avail, i),
            required_hours: at(&req, i),
            utilization: at(&util, i),
            status: at(&status, i),
        })
        .collect())
}

async fn balance(t: &Tables) -> Section<Option<Balance>> {
    let r = t
        .query(
            "capacity_balance",
            "SELECT sales_capacity_opportunities_per_week, demand_opportunities_per_week, balance_ratio \
             FROM capacity_balance LIMIT 1",
        )
        .await?;
    if r.is_empty() {
        return Ok(None);
    }
    Ok(Some(Balance {
        sales_capacity: at(&r.f64s("sales_capacity_opportunities_per_week")?, 0),
        demand: at(&r.f64s("demand_opportunities_per_week")?, 0),
        ratio: at(&r.f64s("balance_ratio")?, 0),
    }))
}

async fn hot_list(t: &Tables) -> Section<HotList> {
    let r = t
        .query(
            "hot_list",
            &format!(
                "SELECT rank, account_name, account_id, reason, p_win, expected_ltv, expected_value, \
                 expected_days_to_close, required_ae_hours, cumulative_ae_hours \
                 FROM hot_list ORDER BY rank LIMIT {HOT_LIST_ROWS}"
            ),
        )
        .await?;
    let (rank, name, id, reason) = (
        r.f64s("rank")?,
        r.strs("account_name")?,
        r.strs("account_id")?,
        r.strs("reason")?,
    );
    let (p_win, ltv, value, days, hours, cum) = (
        r.f64s("p_win")?,
        r.f64s("expected_ltv")?,
        r.f64s("expected_value")?,
        r.f64s("expected_days_to_close")?,
        r.f64s("required_ae_hours")?,
        r.f64s("cumulative_ae_hours")?,
    );
    let top = (0..r.len())
        .map(|i| HotRow {
            rank: at(&rank, i),
            account_name: at(&name, i).or_else(|| at(&id, i)).unwrap_or_default(),
            reason: text(at(&reason, i)),
            p_win: at(&p_win, i),
            expected_ltv: at(&ltv, i),
            expected_value: at(&value, i),
            days_to_close: at(&days, i),
            ae_hours: at(&hours, i),
            cumulative_ae_hours: at(&cum, i),
        })
        .collect();
    let s = t
        .query(
            "hot_list",
            "SELECT count(*) AS accounts, sum(expected_value) AS total_value, \
             max(cumulative_ae_hours) AS total_hours FROM hot_list",
        )
        .await?;
    Ok(HotList {
        top,
        accounts: at(&s.f64s("accounts")?, 0).unwrap_or(0.0) as u64,
        total_value: at(&s.f64s("total_value")?, 0),
        total_hours: at(&s.f64s("total_hours")?, 0),
    })
}

async fn evaluation(t: &Tables) -> Section<Option<Evaluation>> {
    let r = t
        .query(
            "lead_score_evaluation",
            "SELECT auc, top_decile_lift, brier, train_rows, test_rows, model_version \
             FROM lead_score_evaluation LIMIT 1",
        )
        .await?;
    if r.is_empty() {
        return Ok(None);
    }
    Ok(Some(Evaluation {
        auc: at(&r.f64s("auc")?, 0),
        top_decile_lift: at(&r.f64s("top_decile_lift")?, 0),
        brier: at(&r.f64s("brier")?, 0),
        train_rows: at(&r.f64s("train_rows")?, 0),
        test_rows: at(&r.f64s("test_rows")?, 0),
        model_version: text(at(&r.strs("model_version")?, 0)),
    }))
}

async fn calibration(t: &Tables) -> Section<Vec<CalibrationPoint>> {
    let r = t
        .query(
            "lead_score_calibration",
            "SELECT decile, leads, conversions, mean_predicted, observed_rate FROM lead_score_calibration ORDER BY decile",
        )
        .await?;
    let (decile, leads, conversions, pred, obs) = (
        r.f64s("decile")?,
        r.f64s("leads")?,
        r.f64s("conversions")?,
        r.f64s("mean_predicted")?,
        r.f64s("observed_rate")?,
    );
    Ok((0..r.len())
        .map(|i| CalibrationPoint {
            decile: at(&decile, i).unwrap_or(0.0) as i64,
            leads: at(&leads, i).unwrap_or(0.0),
            conversions: at(&conversions, i).unwrap_or(0.0),
            mean_predicted: at(&pred, i),
            observed_rate: at(&obs, i),
        })
        .collect())
}

/// Holdout leads binned by predicted log-odds (1/20 wide: a few hundred thresholds whatever the
/// number of leads), each bin with its lowest probability, its leads and its conversions.
pub const ROC_BIN_SQL: &str = "WITH h AS ( \
       SELECT least(greatest(conversion_probability, 1e-6), 1 - 1e-6) AS p, \
              CASE WHEN outcome THEN 1 ELSE 0 END AS y \
       FROM lead_scores \
       WHERE sample = 'holdout' AND outcome_known AND conversion_probability IS NOT NULL) \
     SELECT round(ln(p / (1 - p)) * 20) AS bin, min(p) AS threshold, count(*) AS leads, sum(y) AS positives \
     FROM h GROUP BY round(ln(p / (1 - p)) * 20) ORDER BY bin";

async fn roc_bins(t: &Tables) -> Section<Vec<ScoreBin>> {
    let r = t.query("lead_scores", ROC_BIN_SQL).await?;
    let (thr, leads, pos) = (r.f64s("threshold")?, r.f64s("leads")?, r.f64s("positives")?);
    Ok((0..r.len())
        .map(|i| ScoreBin {
            threshold: at(&thr, i).unwrap_or(0.0),
            leads: at(&leads, i).unwrap_or(0.0) as u64,
            positives: at(&pos, i).unwrap_or(0.0) as u64,
        })
        .collect())
}

async fn campaigns(t: &Tables) -> Section<Vec<CampaignRow>> {
    let r = t
        .query(
            "campaign_cohorts_weekly",
            &format!(
                "WITH w AS (SELECT *, dense_rank() OVER (ORDER BY cohort_week DESC) AS week_rank FROM campaign_cohorts_weekly) \
                 SELECT campaign_name, channel, sum(members) AS members, sum(mqls) AS mqls, sum(sqls) AS sqls, \
                        sum(won) AS won, sum(won_acv) AS won_acv, sum(cost) AS cost \
                 FROM w WHERE week_rank <= {CAMPAIGN_WEEKS} \
                 GROUP BY campaign_id, campaign_name, channel \
                 ORDER BY mqls DESC, members DESC, campaign_name LIMIT {CAMPAIGN_ROWS}"
            ),
        )
        .await?;
    let (name, channel) = (r.strs("campaign_name")?, r.strs("channel")?);
    let (members, mqls, sqls, won, acv, cost) = (
        r.f64s("members")?,
        r.f64s("mqls")?,
        r.f64s("sqls")?,
        r.f64s("won")?,
        r.f64s("won_acv")?,
        r.f64s("cost")?,
    );
    Ok((0..r.len())
        .map(|i| CampaignRow {
            name: text(at(&name, i)),
            channel: text(at(&channel, i)),
            members: at(&members, i),
            mqls: at(&mqls, i),
            sqls: at(&sqls, i),
            won: at(&won, i),
            won_acv: at(&acv, i),
            cost: at(&cost, i),
        })
        .collect())
}
