//! From the report's data to the page: panels, charts, tables, and the HTML template.
//!
//! Each panel is built from one [`Section`]: a chart or a table when it has rows, a "no data"
//! panel when its table is empty or not published, an error panel (and a warning for the caller)
//! when its query failed. Text from the data (campaign and account names, reasons) is escaped by
//! the template engine or by [`super::svg::esc`]; the SVG strings are trusted because this module
//! built them.

use super::charts::{
    self, phase_style, BarGroup, HBars, HeatCell, HeatRow, Heatmap, LineChart, Series, Target,
    TargetGrid, VBars,
};
use super::data::{
    Balance, CapacityRow, FunnelCell, HotList, ReadinessMonth, ReportData, RetentionCell, Section,
    Stages, Unavailable, UnitEconomicsRow,
};
use super::format;
use super::svg::{color, BLUES, RED_GREEN};
use crate::spec::VarValue;
use serde::Serialize;
use std::collections::BTreeMap;

const TEMPLATE: &str = include_str!("report.html");
const CSS: &str = include_str!("report.css");

/// Targets and bounds from the pipeline's vars (defaults as in METRICS.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    pub renewal_rate: f64,
    pub lir: f64,
    pub ltv_to_cac: f64,
    pub payback_months: f64,
    pub magic_number: f64,
    pub capacity_over: f64,
    pub capacity_balanced_min: f64,
    pub calibration_tolerance: f64,
    pub stages: Vec<String>,
    pub won_stage: String,
}

fn var_f64(vars: &BTreeMap<String, VarValue>, name: &str, default: f64) -> f64 {
    match vars.get(name) {
        Some(VarValue::Int(i)) => *i as f64,
        Some(VarValue::Float(f)) => *f,
        Some(VarValue::Str(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    }
}

fn var_str(vars: &BTreeMap<String, VarValue>, name: &str, default: &str) -> String {
    match vars.get(name) {
        Some(VarValue::Str(s)) => s.clone(),
        _ => default.to_string(),
    }
}

impl Targets {
    pub fn from_vars(vars: &BTreeMap<String, VarValue>) -> Self {
        let stages = match vars.get("stages") {
            Some(VarValue::List(items)) => items
                .iter()
                .filter_map(|v| match v {
                    VarValue::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => [
                "Qualification",
                "Needs Analysis",
                "Solution",
                "Implementation",
            ]
            .map(String::from)
            .to_vec(),
        };
        Targets {
            renewal_rate: var_f64(vars, "renewal_rate_target", 0.90),
            lir: var_f64(vars, "lir_target", 0.7),
            ltv_to_cac: var_f64(vars, "ltv_to_cac_target", 3.0),
            payback_months: var_f64(vars, "payback_months_target", 12.0),
            magic_number: var_f64(vars, "magic_number_target", 1.0),
            capacity_over: var_f64(vars, "capacity_over", 1.0),
            capacity_balanced_min: var_f64(vars, "capacity_balanced_min", 0.7),
            calibration_tolerance: var_f64(vars, "calibration_tolerance", 0.05),
            stages,
            won_stage: var_str(vars, "won_stage", "Closed Won"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The view model the template renders

#[derive(Debug, Serialize)]
struct Page {
    pipeline: String,
    run_date: String,
    run_id: String,
    committed_at: String,
    version: String,
    css: &'static str,
    kpis: Vec<Kpi>,
    sections: Vec<SectionView>,
    tables: Vec<InventoryRow>,
}

#[derive(Debug, Serialize)]
struct Kpi {
    label: String,
    value: String,
    note: String,
    status: &'static str,
}

#[derive(Debug, Serialize)]
struct SectionView {
    id: &'static str,
    title: &'static str,
    intro: String,
    panels: Vec<Panel>,
}

#[derive(Debug, Serialize, Default)]
struct Panel {
    id: String,
    title: String,
    subtitle: String,
    /// `chart`, `table`, `scorecard`, `empty` or `error`.
    kind: &'static str,
    /// Full width of the section (otherwise half on wide screens).
    wide: bool,
    svg: String,
    message: String,
    table: Option<HtmlTable>,
    scorecard: Option<Scorecard>,
    cards: Vec<Kpi>,
    note: String,
}

#[derive(Debug, Serialize)]
struct HtmlTable {
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Serialize)]
struct Column {
    label: &'static str,
    num: bool,
}

#[derive(Debug, Serialize)]
struct Cell {
    text: String,
    class: &'static str,
    title: String,
}

fn cell(text: String) -> Cell {
    Cell {
        text,
        class: "",
        title: String::new(),
    }
}

#[derive(Debug, Serialize)]
struct Scorecard {
    month: String,
    phase: String,
    phase_key: String,
    phase_color: &'static str,
    steps: Vec<Step>,
    verdict: String,
    cards: Vec<ScoreCardView>,
    strip: String,
}

#[derive(Debug, Serialize)]
struct Step {
    label: &'static str,
    state: &'static str,
}

#[derive(Debug, Serialize)]
struct ScoreCardView {
    label: &'static str,
    value: String,
    target: String,
    status: &'static str,
    status_text: &'static str,
    spark: String,
}

#[derive(Debug, Serialize)]
struct InventoryRow {
    model: String,
    rows: String,
    files: usize,
}

/// A rendered page and the problems met on the way (panels that could not be shown).
pub struct Rendered {
    pub html: String,
    pub warnings: Vec<String>,
}

/// Renders the whole report.
pub fn render(data: &ReportData, targets: &Targets) -> Result<Rendered, minijinja::Error> {
    let mut warnings = Vec::new();
    let sections = vec![
        readiness_section(data, targets, &mut warnings),
        funnel_section(data, targets, &mut warnings),
        retention_section(data, &mut warnings),
        unit_economics_section(data, targets, &mut warnings),
        capacity_section(data, targets, &mut warnings),
        hot_list_section(data, &mut warnings),
        scoring_section(data, targets, &mut warnings),
    ];
    let p = &data.published;
    let page = Page {
        pipeline: p.pipeline.clone(),
        run_date: p.run_date.format("%Y-%m-%d").to_string(),
        run_id: p.run_id.clone(),
        committed_at: readable_time(&p.committed_at),
        version: env!("CARGO_PKG_VERSION").to_string(),
        css: CSS,
        kpis: headline(data, targets),
        sections,
        tables: p
            .tables
            .iter()
            .map(|t| InventoryRow {
                model: t.model.clone(),
                rows: format::int(t.rows as i64),
                files: t.files.len(),
            })
            .collect(),
    };
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let html = env.get_template("report.html")?.render(&page)?;
    Ok(Rendered { html, warnings })
}

/// `2026-11-23T01:02:03Z` -> `2026-11-23 01:02 UTC` (other text as it is).
fn readable_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// A panel for a section without data: "no data" or the error.
fn unavailable(id: &str, title: &str, why: &Unavailable, warnings: &mut Vec<String>) -> Panel {
    let (kind, message) = match why {
        Unavailable::NotPublished { .. } => ("empty", format!("No data: {why}.")),
        Unavailable::Failed { .. } => {
            warnings.push(format!("report panel `{id}`: {why}"));
            ("error", format!("This panel could not be drawn: {why}."))
        }
    };
    Panel {
        id: id.to_string(),
        title: title.to_string(),
        kind,
        message,
        ..Panel::default()
    }
}

fn empty(id: &str, title: &str, table: &str) -> Panel {
    Panel {
        id: id.to_string(),
        title: title.to_string(),
        kind: "empty",
        message: format!("No data: `{table}` has no rows in this run."),
        ..Panel::default()
    }
}

fn chart(id: &str, title: &str, subtitle: String, svg: String) -> Panel {
    Panel {
        id: id.to_string(),
        title: title.to_string(),
        subtitle,
        kind: "chart",
        svg,
        ..Panel::default()
    }
}

/// Applies `build` to a section's rows, or explains why there are none.
fn panel<T>(
    section: &Section<T>,
    id: &str,
    title: &str,
    table: &str,
    warnings: &mut Vec<String>,
    is_empty: impl Fn(&T) -> bool,
    build: impl FnOnce(&T) -> Panel,
) -> Panel {
    match section {
        Err(why) => unavailable(id, title, why, warnings),
        Ok(rows) if is_empty(rows) => empty(id, title, table),
        Ok(rows) => build(rows),
    }
}

// ---------------------------------------------------------------------------------------------
// Headline

fn headline(data: &ReportData, targets: &Targets) -> Vec<Kpi> {
    let mut kpis = Vec::new();
    if let Ok(Some(last)) = data.readiness.as_ref().map(|r| r.last()) {
        let (label, _) = phase_style(last.phase.as_deref());
        kpis.push(Kpi {
            label: "Scaling phase".into(),
            value: label,
            note: format::month_label(&last.month),
            status: "",
        });
        kpis.push(Kpi {
            label: "Renewal rate (12 mo)".into(),
            value: format::pct(last.renewal_rate_12m, 1),
            note: format!("target ≥ {}", format::pct(Some(targets.renewal_rate), 0)),
            status: status(last.renewal_rate_12m, targets.renewal_rate, true),
        });
        kpis.push(Kpi {
            label: "LTV / CAC".into(),
            value: format::ratio(last.ltv_to_cac),
            note: format!("target ≥ {}", format::ratio(Some(targets.ltv_to_cac))),
            status: status(last.ltv_to_cac, targets.ltv_to_cac, true),
        });
    }
    if let Ok(Stages {
        totals: Some(t), ..
    }) = &data.stages
    {
        kpis.push(Kpi {
            label: "Win rate".into(),
            value: format::pct(t.win_rate, 1),
            note: format!("of {} closed deals", format::count(t.closed)),
            status: "",
        });
        kpis.push(Kpi {
            label: "Sales cycle (median)".into(),
            value: format::days(t.median_cycle_days),
            note: "created to closed won".into(),
            status: "",
        });
    }
    if let Ok(h) = &data.hot_list {
        kpis.push(Kpi {
            label: "Hot list".into(),
            value: format!("{} accounts", format::int(h.accounts as i64)),
            note: format!("expected value {}", format::compact(h.total_value)),
            status: "",
        });
    }
    if let Ok(Some(e)) = &data.evaluation {
        kpis.push(Kpi {
            label: "Lead score AUC".into(),
            value: format::num(e.auc, 3),
            note: format!("top-decile lift {}", format::ratio(e.top_decile_lift)),
            status: "",
        });
    }
    kpis
}

fn status(v: Option<f64>, target: f64, higher_is_better: bool) -> &'static str {
    match v.filter(|v| v.is_finite()) {
        Some(v) if charts::meets(v, target, higher_is_better) => "good",
        Some(_) => "bad",
        None => "none",
    }
}

// ---------------------------------------------------------------------------------------------
// Scorecard

fn readiness_section(data: &ReportData, t: &Targets, warnings: &mut Vec<String>) -> SectionView {
    let p = panel(
        &data.readiness,
        "readiness",
        "Scaling-readiness scorecard",
        "scaling_readiness",
        warnings,
        Vec::is_empty,
        |months| scorecard(months, t, data.published.run_date),
    );
    SectionView {
        id: "readiness",
        title: "Are we ready to scale?",
        intro: "Product-market fit first (customers renew and use the product), then go-to-market fit \
                (customers are acquired profitably: LTV/CAC, payback, magic number), then growth. \
                Each card shows the latest month against its target and the trend of the last 12 months."
            .into(),
        panels: vec![p],
    }
}

struct Metric {
    key: &'static str,
    label: &'static str,
    get: fn(&ReadinessMonth) -> Option<f64>,
    target: f64,
    higher_is_better: bool,
    fmt: charts::Fmt,
    target_text: String,
}

fn pct1(v: Option<f64>) -> String {
    format::pct(v, 1)
}

fn pct0(v: Option<f64>) -> String {
    format::pct(v, 0)
}

fn scorecard_metrics(t: &Targets) -> Vec<Metric> {
    vec![
        Metric {
            key: "renewal",
            label: "Renewal rate (12 months)",
            get: |m| m.renewal_rate_12m,
            target: t.renewal_rate,
            higher_is_better: true,
            fmt: pct1,
            target_text: format!("≥ {}", format::pct(Some(t.renewal_rate), 0)),
        },
        Metric {
            key: "lir",
            label: "Leading indicator of retention",
            get: |m| m.lir_rate,
            target: t.lir,
            higher_is_better: true,
            fmt: pct1,
            target_text: format!("≥ {}", format::pct(Some(t.lir), 0)),
        },
        Metric {
            key: "ltv-cac",
            label: "LTV / CAC",
            get: |m| m.ltv_to_cac,
            target: t.ltv_to_cac,
            higher_is_better: true,
            fmt: format::ratio,
            target_text: format!("≥ {}", format::ratio(Some(t.ltv_to_cac))),
        },
        Metric {
            key: "payback",
            label: "CAC payback",
            get: |m| m.payback_months,
            target: t.payback_months,
            higher_is_better: false,
            fmt: format::months,
            target_text: format!("≤ {}", format::months(Some(t.payback_months))),
        },
        Metric {
            key: "magic",
            label: "Magic number",
            get: |m| m.magic_number,
            target: t.magic_number,
            higher_is_better: true,
            fmt: |v| format::num(v, 2),
            target_text: format!("≥ {}", format::num(Some(t.magic_number), 2)),
        },
    ]
}

/// Why the latest month is in its phase: the targets it misses, in the framework's order.
pub fn verdict(last: &ReadinessMonth, t: &Targets) -> String {
    let metrics = scorecard_metrics(t);
    let misses = |keys: &[&str]| -> Vec<String> {
        metrics
            .iter()
            .filter(|m| keys.contains(&m.key))
            .filter_map(|m| {
                let v = (m.get)(last);
                match v.filter(|v| v.is_finite()) {
                    Some(x) if charts::meets(x, m.target, m.higher_is_better) => None,
                    Some(_) => Some(format!(
                        "{} is {} (target {})",
                        m.label.to_lowercase(),
                        (m.fmt)(v),
                        m.target_text
                    )),
                    None if m.key == "lir" => None,
                    None => Some(format!("{} has no value", m.label.to_lowercase())),
                }
            })
            .collect()
    };
    let retention = misses(&["renewal", "lir"]);
    if !retention.is_empty() {
        return format!(
            "Not ready to scale: product-market fit is not proven yet — {}.",
            retention.join("; ")
        );
    }
    let economics = misses(&["ltv-cac", "payback", "magic"]);
    if !economics.is_empty() {
        return format!(
            "Retention holds; go-to-market fit is not proven yet — {}.",
            economics.join("; ")
        );
    }
    "Every target holds: retention and unit economics support scaling.".into()
}

/// `Nov 2026`, or `Nov 2026 (month to date)` for the month of the run date.
pub fn month_as_of(month: &str, run_date: chrono::NaiveDate) -> String {
    let label = format::month_label(month);
    if month.starts_with(&run_date.format("%Y-%m-").to_string()) {
        format!("{label} (month to date)")
    } else {
        label
    }
}

fn scorecard(months: &[ReadinessMonth], t: &Targets, run_date: chrono::NaiveDate) -> Panel {
    let Some(last) = months.last() else {
        return empty(
            "readiness",
            "Scaling-readiness scorecard",
            "scaling_readiness",
        );
    };
    let labels: Vec<String> = months
        .iter()
        .map(|m| format::month_short(&m.month))
        .collect();
    let (phase, phase_color) = phase_style(last.phase.as_deref());
    let current = charts::PHASES
        .iter()
        .position(|(k, _, _)| Some(*k) == last.phase.as_deref());
    let steps = charts::PHASES
        .iter()
        .enumerate()
        .map(|(i, (_, label, _))| Step {
            label,
            state: match current {
                Some(c) if i < c => "done",
                Some(c) if i == c => "current",
                _ => "todo",
            },
        })
        .collect();
    let cards = scorecard_metrics(t)
        .into_iter()
        .map(|m| {
            let values: Vec<Option<f64>> = months.iter().map(m.get).collect();
            let v = (m.get)(last);
            let st = status(v, m.target, m.higher_is_better);
            let target = Target {
                value: m.target,
                label: m.target_text.clone(),
                higher_is_better: m.higher_is_better,
            };
            let spark = if values.iter().any(|v| v.is_some_and(f64::is_finite)) {
                charts::sparkline(
                    &format!("spark-{}", m.key),
                    m.label,
                    &labels,
                    &values,
                    &target,
                    m.fmt,
                )
            } else {
                String::new()
            };
            ScoreCardView {
                label: m.label,
                value: (m.fmt)(v),
                target: m.target_text,
                status: st,
                status_text: match (st, m.key) {
                    ("good", _) => "on target",
                    ("bad", _) => "below target",
                    (_, "lir") => "no usage data",
                    _ => "no value",
                },
                spark,
            }
        })
        .collect();
    let phases: Vec<Option<String>> = months.iter().map(|m| m.phase.clone()).collect();
    Panel {
        id: "readiness".into(),
        title: "Scaling-readiness scorecard".into(),
        subtitle: format!(
            "Latest month {}, from scaling_readiness; targets from the pipeline vars",
            month_as_of(&last.month, run_date)
        ),
        kind: "scorecard",
        wide: true,
        scorecard: Some(Scorecard {
            month: format::month_label(&last.month),
            phase,
            phase_key: last.phase.clone().unwrap_or_default(),
            phase_color,
            steps,
            verdict: verdict(last, t),
            cards,
            strip: charts::phase_strip("chart-readiness", &labels, &phases),
        }),
        ..Panel::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Funnel

/// Groups cohort cells into heatmap rows (cohorts in order, newest last) and the column count.
pub fn cohort_rows<C>(
    cells: &[C],
    cohort: impl Fn(&C) -> &str,
    k: impl Fn(&C) -> i64,
    size: impl Fn(&C) -> String,
    cell: impl Fn(&C) -> HeatCell,
) -> (Vec<HeatRow>, usize) {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<String, Vec<&C>> = BTreeMap::new();
    for c in cells {
        let key = cohort(c).to_string();
        if !by.contains_key(&key) {
            order.push(key.clone());
        }
        by.entry(key).or_default().push(c);
    }
    order.sort();
    let columns = cells
        .iter()
        .map(&k)
        .filter(|k| *k >= 0)
        .max()
        .map_or(0, |m| m as usize + 1);
    let rows = order
        .iter()
        .map(|key| {
            let members = by.get(key).map(Vec::as_slice).unwrap_or(&[]);
            let mut cells = vec![HeatCell::Outside; columns];
            for c in members {
                if let Ok(i) = usize::try_from(k(c)) {
                    if i < columns {
                        cells[i] = cell(c);
                    }
                }
            }
            HeatRow {
                label: format::month_short(key),
                size: members.first().map(|c| size(c)).unwrap_or_default(),
                cells,
            }
        })
        .collect();
    (rows, columns)
}

fn max_of(values: impl Iterator<Item = Option<f64>>) -> f64 {
    values
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max)
}

fn funnel_heatmap(
    cells: &[FunnelCell],
    id: &str,
    title: &str,
    what: &'static str,
    value: fn(&FunnelCell) -> Option<f64>,
    count: fn(&FunnelCell) -> Option<f64>,
) -> String {
    let (rows, columns) = cohort_rows(
        cells,
        |c| &c.cohort,
        |c| c.k,
        |c| format::count(c.cohort_mqls),
        |c| HeatCell::Value {
            value: value(c),
            tip: format!(
                "{} cohort, month {}: {} — {} of {} MQLs {what}",
                format::month_label(&c.cohort),
                c.k,
                format::pct(value(c), 1),
                format::count(count(c)),
                format::count(c.cohort_mqls)
            ),
        },
    );
    let hi = max_of(cells.iter().map(value)).max(0.01);
    Heatmap {
        id,
        title,
        desc: &format!(
            "Share of each monthly MQL cohort that {what} within N months of becoming an MQL; one row per cohort month, one column per month since MQL."
        ),
        row_header: "MQL cohort",
        size_header: "MQLs",
        col_header: "Months since MQL",
        columns,
        col_offset: 0,
        rows,
        ramp: BLUES,
        domain: (0.0, hi),
        fmt: pct0,
    }
    .render()
}

fn stage_order(stages: &Stages, t: &Targets) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..stages.stages.len()).collect();
    idx.sort_by_key(|&i| {
        let name = &stages.stages[i].stage;
        t.stages
            .iter()
            .position(|s| s == name)
            .unwrap_or(t.stages.len() + usize::from(*name != t.won_stage))
    });
    idx
}

fn funnel_section(data: &ReportData, t: &Targets, warnings: &mut Vec<String>) -> SectionView {
    let sql = panel(
        &data.funnel,
        "funnel-sql",
        "MQL → SQL by monthly cohort",
        "funnel_cohorts_monthly",
        warnings,
        Vec::is_empty,
        |cells| Panel {
            wide: true,
            ..chart(
                "funnel-sql",
                "MQL → SQL by monthly cohort",
                "Cumulative share of each MQL cohort that became an SQL".into(),
                funnel_heatmap(
                    cells,
                    "chart-funnel-sql",
                    "MQL to SQL conversion by cohort",
                    "became an SQL",
                    |c| c.sql_rate,
                    |c| c.sqls,
                ),
            )
        },
    );
    let won = panel(
        &data.funnel,
        "funnel-won",
        "MQL → won deal by monthly cohort",
        "funnel_cohorts_monthly",
        warnings,
        Vec::is_empty,
        |cells| Panel {
            wide: true,
            ..chart(
                "funnel-won",
                "MQL → won deal by monthly cohort",
                "Cumulative share of each MQL cohort with a won opportunity".into(),
                funnel_heatmap(
                    cells,
                    "chart-funnel-won",
                    "MQL to won deal by cohort",
                    "led to a won deal",
                    |c| c.win_rate,
                    |c| c.won,
                ),
            )
        },
    );
    let no_stages = |s: &Stages| s.stages.is_empty();
    let conversion = panel(
        &data.stages,
        "stage-conversion",
        "Stage conversion",
        "funnel_stage_metrics",
        warnings,
        no_stages,
        |s| stage_conversion(s, t),
    );
    let duration = panel(
        &data.stages,
        "stage-duration",
        "Days in stage",
        "funnel_stage_metrics",
        warnings,
        no_stages,
        |s| stage_duration(s, t),
    );
    let campaigns = panel(
        &data.campaigns,
        "campaigns",
        "Campaigns of the last 12 weeks",
        "campaign_cohorts_weekly",
        warnings,
        Vec::is_empty,
        |rows| {
            Panel {
            id: "campaigns".into(),
            title: "Campaigns of the last 12 weeks".into(),
            subtitle: format!(
                "Top {} campaigns by MQLs among members who joined in the last 12 cohort weeks (multi-touch: a lead counts in every campaign it joined)",
                rows.len()
            ),
            kind: "table",
            wide: true,
            table: Some(HtmlTable {
                columns: vec![
                    Column { label: "Campaign", num: false },
                    Column { label: "Channel", num: false },
                    Column { label: "Members", num: true },
                    Column { label: "MQLs", num: true },
                    Column { label: "SQLs", num: true },
                    Column { label: "Won", num: true },
                    Column { label: "Won ACV", num: true },
                    Column { label: "Cost", num: true },
                    Column { label: "Cost per MQL", num: true },
                ],
                rows: rows
                    .iter()
                    .map(|r| {
                        let cpm = match (r.cost, r.mqls) {
                            (Some(c), Some(m)) if m > 0.0 => Some(c / m),
                            _ => None,
                        };
                        vec![
                            cell(r.name.clone()),
                            cell(r.channel.clone()),
                            cell(format::count(r.members)),
                            cell(format::count(r.mqls)),
                            cell(format::count(r.sqls)),
                            cell(format::count(r.won)),
                            cell(format::compact(r.won_acv)),
                            cell(format::compact(r.cost)),
                            cell(format::compact(cpm)),
                        ]
                    })
                    .collect(),
            }),
            ..Panel::default()
        }
        },
    );
    let mut intro =
        "Monthly MQL cohorts: how many of the leads that became MQLs in a month went on to SQL \
                     and to a won deal, month by month. Then the opportunity stages."
            .to_string();
    if let Ok(Stages {
        totals: Some(tot), ..
    }) = &data.stages
    {
        intro.push_str(&format!(
            " Win rate {} of {} closed opportunities; sales cycle of won deals {} on average, {} median.",
            format::pct(tot.win_rate, 1),
            format::count(tot.closed),
            format::days(tot.avg_cycle_days),
            format::days(tot.median_cycle_days)
        ));
    }
    SectionView {
        id: "funnel",
        title: "Funnel",
        intro,
        panels: vec![sql, won, conversion, duration, campaigns],
    }
}

fn stage_conversion(s: &Stages, t: &Targets) -> Panel {
    let groups = stage_order(s, t)
        .into_iter()
        .map(|i| &s.stages[i])
        .filter(|r| r.stage != t.won_stage)
        .map(|r| BarGroup {
            label: r.stage.clone(),
            bars: vec![charts::Bar {
                value: r.conversion_rate,
                color: color::PRIMARY.into(),
                tip: format!(
                    "{}: {} advanced ({} of {})",
                    r.stage,
                    format::pct(r.conversion_rate, 1),
                    format::count(r.advanced),
                    format::count(r.entered)
                ),
            }],
            note: format!(
                "{} · {} of {}",
                format::pct(r.conversion_rate, 0),
                format::count(r.advanced),
                format::count(r.entered)
            ),
        })
        .collect();
    let won = s
        .stages
        .iter()
        .find(|r| r.stage == t.won_stage)
        .map(|r| {
            format!(
                "; {} opportunities reached {}",
                format::count(r.entered),
                r.stage
            )
        })
        .unwrap_or_default();
    chart(
        "stage-conversion",
        "Stage conversion",
        format!("Share of opportunities entering a stage that reached a later one{won}"),
        HBars {
            id: "chart-stage-conversion",
            title: "Stage conversion",
            desc: "For each opportunity stage, the share of opportunities that entered it and went on to a later stage.",
            groups,
            legend: vec![],
            x_label: "Advanced to a later stage",
            fmt: pct0,
            x_max: Some(1.0),
            markers: vec![],
        }
        .render(),
    )
}

fn stage_duration(s: &Stages, t: &Targets) -> Panel {
    let groups = stage_order(s, t)
        .into_iter()
        .map(|i| &s.stages[i])
        .filter(|r| r.stage != t.won_stage)
        .map(|r| BarGroup {
            label: r.stage.clone(),
            bars: vec![
                charts::Bar {
                    value: r.avg_days,
                    color: color::PRIMARY.into(),
                    tip: format!("{}: {} on average", r.stage, format::days(r.avg_days)),
                },
                charts::Bar {
                    value: r.median_days,
                    color: "#93c5fd".into(),
                    tip: format!("{}: {} median", r.stage, format::days(r.median_days)),
                },
            ],
            note: format!(
                "avg {} · median {}",
                format::days(r.avg_days),
                format::days(r.median_days)
            ),
        })
        .collect();
    chart(
        "stage-duration",
        "Days in stage",
        "From entering a stage to entering the next one (opportunities that moved on)".into(),
        HBars {
            id: "chart-stage-duration",
            title: "Days in stage",
            desc: "Average and median days from the first entry of each stage to the first entry of the next stage.",
            groups,
            legend: vec![
                ("average".into(), color::PRIMARY.into()),
                ("median".into(), "#93c5fd".into()),
            ],
            x_label: "Days",
            fmt: |v| format::num(v, 0),
            x_max: None,
            markers: vec![],
        }
        .render(),
    )
}

// ---------------------------------------------------------------------------------------------
// Retention

fn retention_section(data: &ReportData, warnings: &mut Vec<String>) -> SectionView {
    let logo = panel(
        &data.retention,
        "logo-retention",
        "Logo retention by acquisition cohort",
        "retention_cohorts",
        warnings,
        Vec::is_empty,
        |cells| {
            let (rows, columns) = cohort_rows(
                cells,
                |c| &c.cohort,
                |c| c.k,
                |c| format::count(c.customers),
                |c| HeatCell::Value {
                    value: c.logo_retention,
                    tip: logo_tip(c),
                },
            );
            let lo = cells
                .iter()
                .filter_map(|c| c.logo_retention)
                .filter(|v| v.is_finite())
                .fold(1.0_f64, f64::min);
            let lo = ((lo * 10.0).floor() / 10.0).clamp(0.0, 0.9);
            let offset = first_column_with_values(&rows);
            let all = rows.len();
            // Cohorts too young to have a cell from the first shown month on have nothing to draw.
            let rows: Vec<HeatRow> = rows
                .into_iter()
                .filter(|r| {
                    r.cells
                        .iter()
                        .skip(offset)
                        .any(|c| matches!(c, HeatCell::Value { .. }))
                })
                .collect();
            let younger = all - rows.len();
            let subtitle = if offset > 0 {
                format!(
                    "Share of customers still active among those whose contract could have ended; months 0–{} are left out (no cohort had a contract end by then){}",
                    offset - 1,
                    if younger > 0 {
                        format!(", and so are the {younger} youngest cohorts")
                    } else {
                        String::new()
                    }
                )
            } else {
                "Share of customers still active among those whose contract could have ended (blank until one could)".into()
            };
            chart(
                "logo-retention",
                "Logo retention by acquisition cohort",
                subtitle,
                Heatmap {
                    id: "chart-logo-retention",
                    title: "Logo retention by acquisition cohort",
                    desc: "Share of each acquisition cohort's eligible customers that are still active N months after acquisition.",
                    row_header: "Acquired",
                    size_header: "Customers",
                    col_header: "Months since acquisition",
                    columns,
                    col_offset: offset,
                    rows,
                    ramp: BLUES,
                    domain: (lo, 1.0),
                    fmt: pct0,
                }
                .render(),
            )
        },
    );
    let revenue = panel(
        &data.retention,
        "revenue-retention",
        "Net revenue retention by acquisition cohort",
        "retention_cohorts",
        warnings,
        Vec::is_empty,
        |cells| {
            let (rows, columns) = cohort_rows(
                cells,
                |c| &c.cohort,
                |c| c.k,
                |c| format::compact(c.starting_arr),
                |c| HeatCell::Value {
                    value: c.nrr,
                    tip: format!(
                        "{} cohort, month {}: net revenue retention {} (ARR {} of {} at month 0)",
                        format::month_label(&c.cohort),
                        c.k,
                        format::pct(c.nrr, 1),
                        format::compact(c.arr),
                        format::compact(c.starting_arr)
                    ),
                },
            );
            let spread = cells
                .iter()
                .filter_map(|c| c.nrr)
                .filter(|v| v.is_finite())
                .map(|v| (v - 1.0).abs())
                .fold(0.1_f64, f64::max)
                .min(0.5);
            chart(
                "revenue-retention",
                "Net revenue retention by acquisition cohort",
                "ARR of the cohort's active contracts against its ARR in month 0 (above 100%: expansion beats churn)".into(),
                Heatmap {
                    id: "chart-revenue-retention",
                    title: "Net revenue retention by acquisition cohort",
                    desc: "ARR of each acquisition cohort N months after acquisition as a share of its month-0 ARR; green above 100%, red below.",
                    row_header: "Acquired",
                    size_header: "ARR m0",
                    col_header: "Months since acquisition",
                    columns,
                    col_offset: 0,
                    rows,
                    ramp: RED_GREEN,
                    domain: (1.0 - spread, 1.0 + spread),
                    fmt: pct0,
                }
                .render(),
            )
        },
    );
    SectionView {
        id: "retention",
        title: "Retention",
        intro: "Customers grouped by the month of their first won New Business deal. Churn is counted only \
                where it could happen: a customer is eligible once one of its contracts has ended."
            .into(),
        panels: vec![
            Panel {
                wide: true,
                ..logo
            },
            Panel {
                wide: true,
                ..revenue
            },
        ],
    }
}

/// The first column in which some row has a value (0 when none has).
pub fn first_column_with_values(rows: &[HeatRow]) -> usize {
    let columns = rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    (0..columns)
        .find(|&c| {
            rows.iter().any(|r| {
                matches!(r.cells.get(c), Some(HeatCell::Value { value: Some(v), .. }) if v.is_finite())
            })
        })
        .unwrap_or(0)
}

fn logo_tip(c: &RetentionCell) -> String {
    let head = format!("{} cohort, month {}", format::month_label(&c.cohort), c.k);
    match c.logo_retention {
        Some(v) if v.is_finite() => format!(
            "{head}: {} retained ({} of {} eligible; {} customers)",
            format::pct(Some(v), 1),
            format::count(c.retained),
            format::count(c.eligible),
            format::count(c.customers)
        ),
        _ => format!(
            "{head}: no contract has ended yet ({} customers)",
            format::count(c.customers)
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Unit economics

fn months_of(rows: &[UnitEconomicsRow]) -> Vec<String> {
    let mut months: Vec<String> = rows.iter().map(|r| r.month.clone()).collect();
    months.sort();
    months.dedup();
    months
}

fn by_channel(
    rows: &[UnitEconomicsRow],
    months: &[String],
    get: fn(&UnitEconomicsRow) -> Option<f64>,
) -> Vec<(String, Vec<Option<f64>>)> {
    let mut channels: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
    for r in rows {
        let values = channels
            .entry(r.channel.as_str())
            .or_insert_with(|| vec![None; months.len()]);
        if let Ok(i) = months.binary_search(&r.month) {
            values[i] = get(r);
        }
    }
    // ALL first, then the channels by name.
    let mut out: Vec<(String, Vec<Option<f64>>)> = Vec::new();
    if let Some(all) = channels.remove("ALL") {
        out.push(("ALL".into(), all));
    }
    out.extend(channels.into_iter().map(|(k, v)| (k.to_string(), v)));
    out
}

struct UeMetric {
    key: &'static str,
    title: &'static str,
    y_label: &'static str,
    get: fn(&UnitEconomicsRow) -> Option<f64>,
    target: Target,
    /// Axis and cell labels.
    fmt: charts::Fmt,
    /// The value in a sentence.
    text: charts::Fmt,
    cap: f64,
}

fn unit_economics_section(
    data: &ReportData,
    t: &Targets,
    warnings: &mut Vec<String>,
) -> SectionView {
    let metrics = [
        UeMetric {
            key: "ltv-cac",
            title: "LTV / CAC",
            y_label: "LTV / CAC",
            get: |r| r.ltv_to_cac,
            target: Target {
                value: t.ltv_to_cac,
                label: format!("target ≥ {}", format::ratio(Some(t.ltv_to_cac))),
                higher_is_better: true,
            },
            fmt: format::ratio,
            text: format::ratio,
            cap: t.ltv_to_cac * 4.0,
        },
        UeMetric {
            key: "payback",
            title: "CAC payback",
            y_label: "Months",
            get: |r| r.payback_months,
            target: Target {
                value: t.payback_months,
                label: format!("target ≤ {}", format::months(Some(t.payback_months))),
                higher_is_better: false,
            },
            fmt: |v| format::num(v, 0),
            text: format::months,
            cap: t.payback_months * 4.0,
        },
        UeMetric {
            key: "magic-number",
            title: "Magic number",
            y_label: "Magic number",
            get: |r| r.magic_number,
            target: Target {
                value: t.magic_number,
                label: format!("target ≥ {}", format::num(Some(t.magic_number), 1)),
                higher_is_better: true,
            },
            fmt: |v| format::num(v, 1),
            text: |v| format::num(v, 2),
            cap: t.magic_number * 4.0,
        },
    ];
    let mut panels = Vec::new();
    for m in &metrics {
        let id = format!("ue-{}", m.key);
        panels.push(panel(
            &data.unit_economics,
            &id,
            m.title,
            "unit_economics_monthly",
            warnings,
            Vec::is_empty,
            |rows| ue_line(rows, m, &id),
        ));
    }
    for m in metrics.iter().filter(|m| m.key != "magic-number") {
        let id = format!("ue-channels-{}", m.key);
        let title = format!("{} by channel, last 12 months", m.title);
        panels.push(panel(
            &data.unit_economics,
            &id,
            &title,
            "unit_economics_monthly",
            warnings,
            Vec::is_empty,
            |rows| {
                let months = months_of(rows);
                let keep = months.len().saturating_sub(12);
                let recent: Vec<String> = months[keep..].to_vec();
                let grid_rows = by_channel(rows, &recent, m.get);
                let chart_id = format!("chart-{id}");
                Panel {
                    wide: true,
                    ..chart(
                        &id,
                        &title,
                        format!(
                            "Each channel's month against the {}: the framework asks for one channel that holds it",
                            m.target.label
                        ),
                        TargetGrid {
                            id: &chart_id,
                            title: &title,
                            desc: &format!(
                                "{} for each channel and month; green cells meet the {}, red cells miss it, grey cells have no value.",
                                m.title, m.target.label
                            ),
                            metric: m.title,
                            columns: recent.iter().map(|s| format::month_short(s)).collect(),
                            rows: grid_rows,
                            target: m.target.clone(),
                            fmt: m.fmt,
                        }
                        .render(),
                    )
                }
            },
        ));
    }
    SectionView {
        id: "unit-economics",
        title: "Unit economics",
        intro: "Go-to-market fit: what a customer is worth against what it costs to win one, how fast that cost \
                is paid back, and how much new ACV each unit of sales and marketing spend brings. Monthly, for \
                all channels together (the line) and for each channel (the grids)."
            .into(),
        panels,
    }
}

fn ue_line(rows: &[UnitEconomicsRow], m: &UeMetric, id: &str) -> Panel {
    let months = months_of(rows);
    let channels = by_channel(rows, &months, m.get);
    let all = channels
        .iter()
        .find(|(c, _)| c == "ALL")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| vec![None; months.len()]);
    let latest = all.iter().rev().flatten().next().copied();
    let chart_id = format!("chart-{id}");
    chart(
        id,
        m.title,
        format!(
            "All channels, last {} months; latest {} ({})",
            months.len(),
            (m.text)(latest),
            m.target.label
        ),
        LineChart {
            id: &chart_id,
            title: &format!("{} over time", m.title),
            desc: &format!(
                "{} by month for all channels together, with the {}.",
                m.title, m.target.label
            ),
            x_labels: months.iter().map(|s| format::month_short(s)).collect(),
            series: vec![Series {
                name: "All channels".into(),
                color: color::PRIMARY.into(),
                values: all,
                width: 2.5,
            }],
            target: Some(m.target.clone()),
            y_label: m.y_label,
            fmt: m.fmt,
            y_cap: Some(m.cap),
        }
        .render(),
    )
}

// ---------------------------------------------------------------------------------------------
// Capacity

fn capacity_section(data: &ReportData, t: &Targets, warnings: &mut Vec<String>) -> SectionView {
    let mut plan = panel(
        &data.capacity,
        "capacity",
        "Capacity plan by role",
        "capacity_plan",
        warnings,
        Vec::is_empty,
        |rows| capacity_chart(rows, t),
    );
    match &data.balance {
        Ok(Some(b)) => plan.cards = balance_cards(b, t),
        Ok(None) => {}
        Err(why @ Unavailable::Failed { .. }) => {
            warnings.push(format!("report panel `capacity`: {why}"));
            plan.note = format!("Sales capacity against demand is not shown: {why}.");
        }
        Err(Unavailable::NotPublished { .. }) => {}
    }
    SectionView {
        id: "capacity",
        title: "Capacity",
        intro: "Hours each role needs for the expected demand of the planning horizon against the hours it has. \
                The plan works while sales capacity and demand generation produce similar figures."
            .into(),
        panels: vec![Panel { wide: true, ..plan }],
    }
}

fn status_color(status: Option<&str>) -> &'static str {
    match status {
        Some("over_capacity") => color::BAD,
        Some("balanced") => color::GOOD,
        Some("under_used") => color::WARN,
        _ => color::MUTED,
    }
}

fn capacity_chart(rows: &[CapacityRow], t: &Targets) -> Panel {
    let groups = rows
        .iter()
        .map(|r| {
            let status = r.status.as_deref().unwrap_or("").replace('_', " ");
            BarGroup {
                label: r.role.clone(),
                bars: vec![
                    charts::Bar {
                        value: r.available_hours,
                        color: "#cbd5e1".into(),
                        tip: format!("{}: {} available", r.role, format::hours(r.available_hours)),
                    },
                    charts::Bar {
                        value: r.required_hours,
                        color: status_color(r.status.as_deref()).into(),
                        tip: format!(
                            "{}: {} required ({} of available, {status})",
                            r.role,
                            format::hours(r.required_hours),
                            format::pct(r.utilization, 0)
                        ),
                    },
                ],
                note: format!("{} used · {status}", format::pct(r.utilization, 0)),
            }
        })
        .collect();
    chart(
        "capacity",
        "Capacity plan by role",
        format!(
            "Required against available hours over the planning horizon; over capacity above {}, balanced from {}",
            format::pct(Some(t.capacity_over), 0),
            format::pct(Some(t.capacity_balanced_min), 0)
        ),
        HBars {
            id: "chart-capacity",
            title: "Capacity plan: required against available hours per role",
            desc: "For each role, the hours available in the planning horizon and the hours the expected demand requires.",
            groups,
            legend: vec![
                ("available".into(), "#cbd5e1".into()),
                ("required: balanced".into(), color::GOOD.into()),
                ("under used".into(), color::WARN.into()),
                ("over capacity".into(), color::BAD.into()),
            ],
            x_label: "Hours in the planning horizon",
            fmt: |v| format::compact(v),
            x_max: None,
            markers: vec![],
        }
        .render(),
    )
}

/// Reads `capacity_balance` with the same bounds as the capacity plan's status.
pub fn balance_verdict(ratio: Option<f64>, t: &Targets) -> (&'static str, &'static str) {
    match ratio.filter(|r| r.is_finite()) {
        Some(r) if r > t.capacity_over => (
            "bad",
            "Demand exceeds sales capacity: we pay to generate demand the sales team has no time to work.",
        ),
        Some(r) if r < t.capacity_balanced_min => (
            "warn",
            "Sales capacity exceeds demand: there will not be enough meetings for the account executives.",
        ),
        Some(_) => ("good", "Sales capacity and demand generation are in balance."),
        None => ("none", "No balance: sales capacity is zero or unknown."),
    }
}

fn balance_cards(b: &Balance, t: &Targets) -> Vec<Kpi> {
    let (st, text) = balance_verdict(b.ratio, t);
    vec![
        Kpi {
            label: "Sales capacity".into(),
            value: format!("{} opps / week", format::num(b.sales_capacity, 1)),
            note: "AE hours available / AE hours per opportunity".into(),
            status: "",
        },
        Kpi {
            label: "Demand".into(),
            value: format!("{} opps / week", format::num(b.demand, 1)),
            note: "opportunities created, trailing 4 weeks".into(),
            status: "",
        },
        Kpi {
            label: "Balance (demand / capacity)".into(),
            value: format::pct(b.ratio, 0),
            note: text.into(),
            status: st,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Hot list

fn hot_list_section(data: &ReportData, warnings: &mut Vec<String>) -> SectionView {
    let p = panel(
        &data.hot_list,
        "hot-list",
        "Hot list",
        "hot_list",
        warnings,
        |h: &HotList| h.top.is_empty(),
        |h| {
            Panel {
            id: "hot-list".into(),
            title: "Hot list".into(),
            subtitle: format!(
                "Top {} of {} accounts, ranked by expected value per AE hour and cut where the AE hours of the horizon run out ({} in all)",
                h.top.len(),
                format::int(h.accounts as i64),
                format::hours(h.total_hours)
            ),
            kind: "table",
            wide: true,
            table: Some(HtmlTable {
                columns: vec![
                    Column { label: "#", num: true },
                    Column { label: "Account", num: false },
                    Column { label: "Why", num: false },
                    Column { label: "P(win)", num: true },
                    Column { label: "Expected LTV", num: true },
                    Column { label: "Expected value", num: true },
                    Column { label: "Days to close", num: true },
                    Column { label: "AE hours", num: true },
                    Column { label: "Cumulative", num: true },
                ],
                rows: h
                    .top
                    .iter()
                    .map(|r| {
                        vec![
                            cell(format::count(r.rank)),
                            Cell {
                                text: r.account_name.clone(),
                                class: "strong",
                                title: String::new(),
                            },
                            Cell {
                                text: r.reason.clone(),
                                class: "reason",
                                title: r.reason.clone(),
                            },
                            cell(format::pct(r.p_win, 0)),
                            cell(format::compact(r.expected_ltv)),
                            cell(format::compact(r.expected_value)),
                            cell(format::num(r.days_to_close, 0)),
                            cell(format::num(r.ae_hours, 0)),
                            cell(format::num(r.cumulative_ae_hours, 0)),
                        ]
                    })
                    .collect(),
            }),
            ..Panel::default()
        }
        },
    );
    SectionView {
        id: "hot-list",
        title: "Hot list",
        intro: "Accounts with the highest likelihood of a quick close and long-term value that the account \
                executives have time for in the planning horizon."
            .into(),
        panels: vec![p],
    }
}

// ---------------------------------------------------------------------------------------------
// Lead scoring

/// ROC bins from the holdout deciles of `lead_score_calibration` (scored by the holdout model,
/// which never saw these leads): one threshold per decile.
pub fn decile_bins(points: &[charts::CalibrationPoint]) -> Vec<charts::ScoreBin> {
    points
        .iter()
        .map(|p| charts::ScoreBin {
            threshold: p.decile as f64,
            leads: p.leads.max(0.0).round() as u64,
            positives: p.conversions.max(0.0).round() as u64,
        })
        .collect()
}

/// The ROC panel: the honest curve of the holdout model (by decile), and, dashed, the curve of
/// the production scores in `lead_scores` on the same leads. The production model was trained on
/// those leads, so its curve is in-sample and optimistic; it is shown for its finer thresholds and
/// labelled as such.
fn roc_panel(data: &ReportData, published_auc: Option<f64>, warnings: &mut Vec<String>) -> Panel {
    let holdout = data
        .calibration
        .as_ref()
        .ok()
        .and_then(|points| charts::roc_curve(&decile_bins(points)));
    let production = data.roc_bins.as_ref().ok().and_then(|b| {
        charts::roc_curve(b)
            .map(|(points, auc)| (points, auc, b.iter().map(|x| x.leads).sum::<u64>()))
    });
    if holdout.is_none() && production.is_none() {
        let section: &Section<Vec<charts::ScoreBin>> = &data.roc_bins;
        return match (&data.calibration, section) {
            (Err(why), _) | (Ok(_), Err(why)) => unavailable("roc", "ROC curve", why, warnings),
            _ => Panel {
                id: "roc".into(),
                title: "ROC curve".into(),
                kind: "empty",
                message: "No data: the holdout needs both converted and not converted leads for a ROC curve.".into(),
                ..Panel::default()
            },
        };
    }
    if let Err(why @ Unavailable::Failed { .. }) = &data.roc_bins {
        warnings.push(format!("report panel `roc`: {why}"));
    }
    let mut curves = Vec::new();
    let mut parts = Vec::new();
    if let Some((points, auc)) = &holdout {
        curves.push(charts::RocLine {
            label: "holdout model (deciles)".into(),
            points: points.clone(),
            color: color::PRIMARY.into(),
            dashed: false,
        });
        parts.push(format!(
            "Solid: the holdout model on leads it never saw, one point per decile (AUC {} from the deciles, {} published)",
            format::num(Some(*auc), 3),
            format::num(published_auc, 3)
        ));
    }
    if let Some((points, auc, leads)) = &production {
        curves.push(charts::RocLine {
            label: "production model, in-sample".into(),
            points: points.clone(),
            color: color::MUTED.into(),
            dashed: true,
        });
        parts.push(format!(
            "dashed: today's production scores of the same {} leads, which that model was trained on, so it is optimistic (AUC {})",
            format::int(*leads as i64),
            format::num(Some(*auc), 3)
        ));
    }
    let shown_auc = published_auc.or(holdout.as_ref().map(|h| h.1));
    chart(
        "roc",
        "ROC curve",
        format!("{}.", parts.join("; ")),
        charts::roc_chart(
            "chart-roc",
            &curves,
            shown_auc,
            "True positive rate against false positive rate of the lead score on the time-based holdout; the dashed diagonal is a random ranking.",
        ),
    )
}

fn scoring_section(data: &ReportData, t: &Targets, warnings: &mut Vec<String>) -> SectionView {
    let published_auc = data
        .evaluation
        .as_ref()
        .ok()
        .and_then(|e| e.as_ref())
        .and_then(|e| e.auc);
    let roc = roc_panel(data, published_auc, warnings);
    let calibration = panel(
        &data.calibration,
        "calibration",
        "Calibration by decile",
        "lead_score_calibration",
        warnings,
        Vec::is_empty,
        |points| {
            let outside = points
                .iter()
                .filter(|p| match (p.mean_predicted, p.observed_rate) {
                    (Some(a), Some(b)) => (a - b).abs() > t.calibration_tolerance + 1e-12,
                    _ => false,
                })
                .count();
            chart(
                "calibration",
                "Calibration by decile",
                format!(
                    "{} of {} deciles within ±{} of the observed rate",
                    points.len() - outside,
                    points.len(),
                    format::pct(Some(t.calibration_tolerance), 0)
                ),
                charts::calibration_chart("chart-calibration", points, t.calibration_tolerance),
            )
        },
    );
    let lift = panel(
        &data.calibration,
        "lift",
        "Lift by decile",
        "lead_score_calibration",
        warnings,
        Vec::is_empty,
        |points| {
            let leads: f64 = points.iter().map(|p| p.leads).sum();
            let conv: f64 = points.iter().map(|p| p.conversions).sum();
            let base = (leads > 0.0).then(|| conv / leads).filter(|b| *b > 0.0);
            let bars = points
                .iter()
                .map(|p| {
                    let lift = match (p.observed_rate, base) {
                        (Some(o), Some(b)) => Some(o / b),
                        _ => None,
                    };
                    charts::Bar {
                        value: lift,
                        color: if p.decile >= 9 {
                            color::PRIMARY.into()
                        } else {
                            "#93c5fd".into()
                        },
                        tip: format!(
                            "Decile {}: converts at {} — {} the average",
                            p.decile,
                            format::pct(p.observed_rate, 1),
                            format::ratio(lift)
                        ),
                    }
                })
                .collect();
            chart(
                "lift",
                "Lift by decile",
                format!(
                    "Conversion rate of each decile against the holdout average of {}",
                    format::pct(base, 1)
                ),
                VBars {
                    id: "chart-lift",
                    title: "Lift by decile",
                    desc: "Observed conversion rate of each decile of predicted probability divided by the average conversion rate of the holdout.",
                    labels: points.iter().map(|p| p.decile.to_string()).collect(),
                    bars,
                    baseline: Some((1.0, "average (1×)".into())),
                    x_label: "Decile of predicted probability (10 = highest)",
                    y_label: "Lift",
                    fmt: format::ratio,
                }
                .render(),
            )
        },
    );
    let mut intro = "Each run relearns the lead score from leads old enough to have an outcome, and checks it on \
                     a time-based holdout it was not trained on."
        .to_string();
    match &data.evaluation {
        Ok(Some(e)) => intro.push_str(&format!(
            " Model {}: trained on {} leads, tested on {}; AUC {}, top-decile lift {}, Brier score {}.",
            e.model_version,
            format::count(e.train_rows),
            format::count(e.test_rows),
            format::num(e.auc, 3),
            format::ratio(e.top_decile_lift),
            format::num(e.brier, 3)
        )),
        Err(why @ Unavailable::Failed { .. }) => {
            warnings.push(format!("report panel `scoring`: {why}"));
        }
        _ => {}
    }
    SectionView {
        id: "lead-scoring",
        title: "Lead scoring",
        intro,
        panels: vec![roc, calibration, lift],
    }
}
