//! Unit tests of the report pieces: formatting, scales, charts, NULLs, escaping, the page.

use super::charts::{
    self, roc_curve, HeatCell, HeatRow, Heatmap, LineChart, ScoreBin, Series, Target,
};
use super::data::{
    self, CapacityRow, HotList, HotRow, Published, PublishedTable, ReadinessMonth, ReportData,
    Stages, Unavailable,
};
use super::format;
use super::page::{self, balance_verdict, cohort_rows, verdict, Targets};
use super::svg::{esc, nice_ticks, path_with_gaps, Linear, BLUES};
use crate::spec::VarValue;
use crate::storage::Storage;
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn integers_get_thousands_separators() {
    assert_eq!(format::int(0), "0");
    assert_eq!(format::int(999), "999");
    assert_eq!(format::int(1000), "1,000");
    assert_eq!(format::int(1234567), "1,234,567");
    assert_eq!(format::int(-45210), "-45,210");
    assert_eq!(format::count(Some(1109.6)), "1,110");
}

#[test]
fn compact_numbers_read_like_a_person_writes_them() {
    assert_eq!(format::compact(Some(950.0)), "950");
    assert_eq!(format::compact(Some(12.34)), "12.3");
    assert_eq!(format::compact(Some(4321.0)), "4,321");
    assert_eq!(format::compact(Some(45_300.0)), "45.3k");
    assert_eq!(format::compact(Some(631_400.0)), "631k");
    assert_eq!(format::compact(Some(1_234_567.0)), "1.23M");
    assert_eq!(format::compact(Some(2_100_000_000.0)), "2.1B");
    assert_eq!(format::compact(Some(-45_000.0)), "-45k");
}

#[test]
fn nulls_and_non_finite_values_are_a_dash_never_nan_or_zero() {
    for f in [
        format::compact as fn(Option<f64>) -> String,
        format::ratio,
        format::months,
        format::days,
        format::hours,
        format::count,
    ] {
        assert_eq!(f(None), format::NONE);
        assert_eq!(f(Some(f64::NAN)), format::NONE);
        assert_eq!(f(Some(f64::INFINITY)), format::NONE);
    }
    assert_eq!(format::pct(None, 1), format::NONE);
    assert_eq!(format::num(Some(f64::NAN), 2), format::NONE);
    assert_eq!(format::pct(Some(0.8741), 1), "87.4%");
    assert_eq!(format::ratio(Some(3.67)), "3.7×");
    assert_eq!(format::months(Some(16.35)), "16.4 mo");
}

#[test]
fn months_are_labelled_by_name() {
    assert_eq!(format::month_label("2026-11-01"), "Nov 2026");
    assert_eq!(format::month_short("2025-01-01"), "Jan 25");
    assert_eq!(format::month_label("not a date"), "not a date");
    assert_eq!(format::month_short("2026-13-01"), "2026-13-01");
}

#[test]
fn escaping_covers_markup_characters() {
    assert_eq!(
        esc(r#"Smith & <Sons> "Ltd" 'x'"#),
        "Smith &amp; &lt;Sons&gt; &quot;Ltd&quot; &#39;x&#39;"
    );
    assert_eq!(esc("plain"), "plain");
}

#[test]
fn nice_ticks_cover_the_domain_with_round_steps() {
    let (lo, hi, ticks) = nice_ticks(0.0, 0.87, 5);
    assert_eq!(lo, 0.0);
    assert!((0.87..=1.0).contains(&hi), "{hi}");
    assert_eq!(ticks.first(), Some(&0.0));
    assert_eq!(ticks.last(), Some(&hi));
    let steps: Vec<f64> = ticks.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps.iter().all(|s| (s - steps[0]).abs() < 1e-9),
        "{ticks:?}"
    );
    let (_, _, t) = nice_ticks(7.0, 31.0, 5);
    assert_eq!(t, vec![5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0]);
    // A flat series still gets a usable axis.
    let (lo, hi, t) = nice_ticks(3.0, 3.0, 5);
    assert!(lo < 3.0 && hi > 3.0 && t.len() >= 2);
}

#[test]
fn linear_scale_maps_and_clamps() {
    let s = Linear::new((0.0, 10.0), (100.0, 0.0));
    assert_eq!(s.map(0.0), 100.0);
    assert_eq!(s.map(5.0), 50.0);
    assert_eq!(s.map(20.0), 0.0, "beyond the domain is clamped");
    assert_eq!(s.map(f64::NAN), 100.0);
    let flat = Linear::new((1.0, 1.0), (0.0, 50.0));
    assert_eq!(
        flat.map(1.0),
        0.0,
        "an empty domain does not divide by zero"
    );
}

#[test]
fn colour_ramp_interpolates_and_picks_readable_text() {
    assert_eq!(BLUES.color(0.0), "#eff6ff");
    assert_eq!(BLUES.color(1.0), "#1e3a8a");
    assert_eq!(BLUES.color(7.0), "#1e3a8a", "clamped");
    assert!(!BLUES.is_dark(0.0));
    assert!(BLUES.is_dark(1.0));
}

#[test]
fn gaps_break_a_line_instead_of_dropping_to_zero() {
    let d = path_with_gaps(&[Some((0.0, 1.0)), Some((1.0, 2.0)), None, Some((3.0, 4.0))]);
    assert_eq!(d, "M0,1L1,2M3,4");
}

fn heatmap(rows: Vec<HeatRow>, columns: usize) -> String {
    Heatmap {
        id: "chart-test",
        title: "T <1>",
        desc: "D",
        row_header: "Cohort",
        size_header: "N",
        col_header: "Months",
        columns,
        col_offset: 0,
        rows,
        ramp: BLUES,
        domain: (0.0, 1.0),
        fmt: |v| format::pct(v, 0),
    }
    .render()
}

#[test]
fn heatmap_draws_one_rect_per_published_cell_and_greys_nulls() {
    let rows = vec![
        HeatRow {
            label: "Jan 26".into(),
            size: "10".into(),
            cells: vec![
                HeatCell::Value {
                    value: Some(0.5),
                    tip: "half".into(),
                },
                HeatCell::Value {
                    value: None,
                    tip: "nothing yet".into(),
                },
                HeatCell::Outside,
            ],
        },
        HeatRow {
            label: "Feb 26".into(),
            size: "3".into(),
            cells: vec![HeatCell::Value {
                value: Some(1.0),
                tip: "all".into(),
            }],
        },
    ];
    let svg = heatmap(rows, 3);
    assert!(svg.starts_with(r#"<svg id="chart-test""#), "{svg}");
    assert!(svg.contains(r#"<title id="chart-test-t">T &lt;1&gt;</title>"#));
    // Three cells + two legend swatches; the cell outside the horizon is not drawn.
    assert_eq!(svg.matches("<rect").count(), 5, "{svg}");
    assert!(svg.contains("<title>nothing yet</title>"));
    assert!(svg.contains(r##"fill="#f3f4f6""##), "a NULL cell is grey");
    assert!(svg.contains(">–</text>"), "a NULL cell reads as a dash");
    assert!(svg.contains(">50%</text>"));
    assert!(
        svg.contains(r#"class="cv inv">100%"#),
        "white text on the darkest cell"
    );
    assert!(!svg.contains("NaN"));
}

#[test]
fn heatmap_layout_grows_with_rows_and_keeps_cells_readable() {
    let row = |i: usize| HeatRow {
        label: format!("r{i}"),
        size: String::new(),
        cells: vec![],
    };
    let make = |rows: usize, columns: usize| Heatmap {
        id: "h",
        title: "",
        desc: "",
        row_header: "",
        size_header: "",
        col_header: "",
        columns,
        col_offset: 0,
        rows: (0..rows).map(row).collect(),
        ramp: BLUES,
        domain: (0.0, 1.0),
        fmt: |v| format::pct(v, 0),
    };
    let small = make(3, 13).layout();
    let big = make(36, 25).layout();
    assert!(big.height > small.height);
    assert!(big.cell_w >= 26.0 && small.cell_w <= 56.0);
    let h = make(1, 4);
    assert_eq!(h.ramp_position(-1.0), 0.0);
    assert_eq!(h.ramp_position(0.25), 0.25);
    assert_eq!(h.ramp_position(3.0), 1.0);
}

#[test]
fn leading_columns_without_values_can_be_left_out() {
    let cell = |v: Option<f64>| HeatCell::Value {
        value: v,
        tip: format!("{v:?}"),
    };
    let rows = vec![
        HeatRow {
            label: "a".into(),
            size: String::new(),
            cells: vec![cell(None), cell(None), cell(Some(0.9)), cell(Some(0.8))],
        },
        HeatRow {
            label: "b".into(),
            size: String::new(),
            cells: vec![cell(None), cell(None), cell(None)],
        },
    ];
    assert_eq!(page::first_column_with_values(&rows), 2);
    assert_eq!(
        page::first_column_with_values(&rows[1..]),
        0,
        "all NULL: keep all"
    );
    let svg = Heatmap {
        id: "h",
        title: "",
        desc: "",
        row_header: "",
        size_header: "",
        col_header: "",
        columns: 4,
        col_offset: 2,
        rows,
        ramp: BLUES,
        domain: (0.0, 1.0),
        fmt: |v| format::pct(v, 0),
    }
    .render();
    assert!(
        !svg.contains(">0</text>") && !svg.contains(">1</text>"),
        "{svg}"
    );
    assert!(svg.contains(">2</text>") && svg.contains(">3</text>"));
    // Cells 2 and 3 of a, cell 2 of b, and two legend swatches.
    assert_eq!(svg.matches("<rect").count(), 5, "{svg}");
}

#[test]
fn cohort_rows_order_cohorts_and_place_cells_by_month() {
    struct C(&'static str, i64, f64);
    let cells = [
        C("2026-02-01", 0, 0.2),
        C("2026-01-01", 1, 0.4),
        C("2026-01-01", 0, 0.1),
    ];
    let (rows, columns) = cohort_rows(
        &cells,
        |c| c.0,
        |c| c.1,
        |_| "n".into(),
        |c| HeatCell::Value {
            value: Some(c.2),
            tip: String::new(),
        },
    );
    assert_eq!(columns, 2);
    assert_eq!(rows[0].label, "Jan 26");
    assert_eq!(rows[1].label, "Feb 26");
    assert_eq!(
        rows[0].cells[1],
        HeatCell::Value {
            value: Some(0.4),
            tip: String::new()
        }
    );
    assert_eq!(
        rows[1].cells[1],
        HeatCell::Outside,
        "Feb has no month 1 yet"
    );
}

#[test]
fn line_chart_marks_misses_caps_outliers_and_breaks_at_nulls() {
    let svg = LineChart {
        id: "chart-line",
        title: "LTV",
        desc: "d",
        x_labels: vec!["a".into(), "b".into(), "c".into(), "d".into()],
        series: vec![Series {
            name: "All".into(),
            color: "#2563eb".into(),
            values: vec![Some(4.0), None, Some(2.0), Some(100.0)],
            width: 2.0,
        }],
        target: Some(Target {
            value: 3.0,
            label: "target ≥ 3".into(),
            higher_is_better: true,
        }),
        y_label: "x",
        fmt: format::ratio,
        y_cap: Some(12.0),
    };
    let (_, hi, _) = svg.y_domain();
    assert!((12.0..=15.0).contains(&hi), "the cap bounds the axis: {hi}");
    let s = svg.render();
    assert!(s.contains("stroke-dasharray=\"6 4\""), "the target line");
    assert_eq!(s.matches("<circle").count(), 2, "two points in range");
    assert!(
        s.contains("100×"),
        "the capped point keeps its real value as tooltip"
    );
    assert!(s.contains("(above the axis)"));
    assert!(
        s.contains(r##"fill="#dc2626"><title>All · c: 2.0×"##),
        "a miss is red"
    );
    let d_start = s.find("<path d=\"M").unwrap_or(0);
    let path = &s[d_start
        ..s[d_start..]
            .find("\" fill")
            .map_or(s.len(), |e| d_start + e)];
    assert_eq!(
        path.matches('M').count(),
        2,
        "the NULL breaks the line: {path}"
    );
}

#[test]
fn roc_curve_and_auc_from_bins() {
    // Perfect ranking: every positive above every negative.
    let perfect = [
        ScoreBin {
            threshold: 0.9,
            leads: 5,
            positives: 5,
        },
        ScoreBin {
            threshold: 0.1,
            leads: 5,
            positives: 0,
        },
    ];
    let (points, auc) = roc_curve(&perfect).unwrap_or_default();
    assert!((auc - 1.0).abs() < 1e-12);
    assert_eq!(points.first(), Some(&(0.0, 0.0)));
    assert_eq!(points.last(), Some(&(1.0, 1.0)));
    // One bin holding everything: a tie is a diagonal, AUC 0.5.
    let tie = [ScoreBin {
        threshold: 0.5,
        leads: 10,
        positives: 3,
    }];
    assert!((roc_curve(&tie).map(|r| r.1).unwrap_or(0.0) - 0.5).abs() < 1e-12);
    // Inverted ranking, given in any order.
    let inverted = [
        ScoreBin {
            threshold: 0.1,
            leads: 4,
            positives: 4,
        },
        ScoreBin {
            threshold: 0.9,
            leads: 4,
            positives: 0,
        },
    ];
    assert!(roc_curve(&inverted).map(|r| r.1).unwrap_or(1.0).abs() < 1e-12);
    // No positives, or no bins: no curve.
    assert!(roc_curve(&[ScoreBin {
        threshold: 0.2,
        leads: 3,
        positives: 0
    }])
    .is_none());
    assert!(roc_curve(&[]).is_none());
}

fn month(renewal: Option<f64>, ltv: Option<f64>, payback: Option<f64>) -> ReadinessMonth {
    ReadinessMonth {
        month: "2026-11-01".into(),
        renewal_rate_12m: renewal,
        lir_rate: None,
        ltv_to_cac: ltv,
        payback_months: payback,
        magic_number: Some(1.2),
        phase: None,
    }
}

#[test]
fn verdict_names_the_missed_targets_in_the_frameworks_order() {
    let t = Targets::from_vars(&BTreeMap::new());
    let v = verdict(&month(Some(0.87), Some(2.0), Some(20.0)), &t);
    assert!(v.contains("product-market fit"), "{v}");
    assert!(v.contains("87.4%") || v.contains("87.0%"), "{v}");
    assert!(!v.contains("ltv"), "unit economics wait for retention: {v}");
    let v = verdict(&month(Some(0.93), Some(2.0), Some(10.0)), &t);
    assert!(v.contains("go-to-market fit"), "{v}");
    assert!(v.contains("ltv / cac is 2.0×"), "{v}");
    assert!(!v.contains("payback"), "{v}");
    let v = verdict(&month(Some(0.93), None, Some(10.0)), &t);
    assert!(
        v.contains("ltv / cac has no value"),
        "a NULL is not a pass: {v}"
    );
    let v = verdict(&month(Some(0.95), Some(4.0), Some(9.0)), &t);
    assert!(v.starts_with("Every target holds"), "{v}");
}

#[test]
fn targets_come_from_vars_with_metric_defaults() {
    let defaults = Targets::from_vars(&BTreeMap::new());
    assert_eq!(defaults.ltv_to_cac, 3.0);
    assert_eq!(defaults.payback_months, 12.0);
    assert_eq!(defaults.won_stage, "Closed Won");
    let mut vars = BTreeMap::new();
    vars.insert("ltv_to_cac_target".to_string(), VarValue::Int(4));
    vars.insert("payback_months_target".to_string(), VarValue::Float(9.5));
    vars.insert(
        "stages".to_string(),
        VarValue::List(vec![VarValue::Str("Prospecting".into())]),
    );
    let t = Targets::from_vars(&vars);
    assert_eq!(t.ltv_to_cac, 4.0);
    assert_eq!(t.payback_months, 9.5);
    assert_eq!(t.stages, vec!["Prospecting".to_string()]);
}

#[test]
fn balance_is_read_with_the_capacity_bounds() {
    let t = Targets::from_vars(&BTreeMap::new());
    assert_eq!(balance_verdict(Some(0.52), &t).0, "warn");
    assert_eq!(balance_verdict(Some(0.9), &t).0, "good");
    assert_eq!(balance_verdict(Some(1.4), &t).0, "bad");
    assert_eq!(balance_verdict(None, &t).0, "none");
}

#[test]
fn manifest_file_paths_resolve_to_store_urls() -> Result<(), crate::storage::StorageError> {
    let s = Storage::new(Path::new("/"));
    let out = s.resolve("/srv/out")?;
    assert_eq!(
        data::file_url(&out, "srv/out/t/run_date=2026-01-01/part-0.parquet"),
        "file:///srv/out/t/run_date=2026-01-01/part-0.parquet"
    );
    assert_eq!(
        data::file_url(&out, "t/run_date=2026-01-01/part-0.parquet"),
        "file:///srv/out/t/run_date=2026-01-01/part-0.parquet",
        "a path relative to the output"
    );
    assert_eq!(data::file_url(&out, "s3://b/x.parquet"), "s3://b/x.parquet");
    Ok(())
}

fn published(tables: &[&str]) -> Published {
    Published {
        pipeline: "beacon".into(),
        run_id: "r1".into(),
        run_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default(),
        committed_at: "2026-11-23T01:00:00Z".into(),
        tables: tables
            .iter()
            .map(|t| PublishedTable {
                model: t.to_string(),
                rows: 0,
                files: vec![],
            })
            .collect(),
    }
}

fn not_published<T>(table: &str) -> Result<T, Unavailable> {
    Err(Unavailable::NotPublished {
        table: table.into(),
    })
}

fn nothing() -> ReportData {
    ReportData {
        published: published(&[]),
        readiness: not_published("scaling_readiness"),
        funnel: not_published("funnel_cohorts_monthly"),
        retention: not_published("retention_cohorts"),
        stages: not_published("funnel_stage_metrics"),
        unit_economics: not_published("unit_economics_monthly"),
        capacity: not_published("capacity_plan"),
        balance: not_published("capacity_balance"),
        hot_list: not_published("hot_list"),
        evaluation: not_published("lead_score_evaluation"),
        calibration: not_published("lead_score_calibration"),
        roc_bins: not_published("lead_scores"),
        campaigns: not_published("campaign_cohorts_weekly"),
    }
}

#[test]
fn a_pipeline_without_the_tables_gets_no_data_panels_not_a_crash() -> Result<(), minijinja::Error> {
    let out = page::render(&nothing(), &Targets::from_vars(&BTreeMap::new()))?;
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(out.html.starts_with("<!DOCTYPE html>"));
    assert!(out
        .html
        .contains("No data: `scaling_readiness` is not published by this pipeline."));
    assert!(out.html.contains("No data: `hot_list` is not published"));
    assert!(!out.html.contains("<svg"), "no chart without data");
    assert!(out.html.contains(r#"id="panel-roc""#));
    Ok(())
}

#[test]
fn empty_tables_and_failed_queries_are_explained() -> Result<(), minijinja::Error> {
    let mut d = nothing();
    d.readiness = Ok(vec![]);
    d.stages = Ok(Stages::default());
    d.capacity = Err(Unavailable::Failed {
        table: "capacity_plan".into(),
        message: "the query result has no column `role`".into(),
    });
    let out = page::render(&d, &Targets::from_vars(&BTreeMap::new()))?;
    assert!(out
        .html
        .contains("No data: `scaling_readiness` has no rows in this run."));
    assert!(out
        .html
        .contains("No data: `funnel_stage_metrics` has no rows in this run."));
    assert!(out
        .html
        .contains("This panel could not be drawn: cannot read `capacity_plan`"));
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("capacity"), "{:?}", out.warnings);
    Ok(())
}

#[test]
fn names_from_the_data_are_escaped_in_tables_and_charts() -> Result<(), minijinja::Error> {
    let evil = r#"<script>alert("x")</script> & Sons"#;
    let mut d = nothing();
    d.hot_list = Ok(HotList {
        top: vec![HotRow {
            rank: Some(1.0),
            account_name: evil.into(),
            reason: "a \"quoted\" <reason>".into(),
            p_win: Some(0.5),
            expected_ltv: None,
            expected_value: Some(1000.0),
            days_to_close: None,
            ae_hours: Some(2.0),
            cumulative_ae_hours: Some(2.0),
        }],
        accounts: 1,
        total_value: Some(1000.0),
        total_hours: Some(2.0),
    });
    d.capacity = Ok(vec![CapacityRow {
        role: evil.into(),
        available_hours: Some(10.0),
        required_hours: None,
        utilization: None,
        status: None,
    }]);
    let out = page::render(&d, &Targets::from_vars(&BTreeMap::new()))?;
    assert!(!out.html.contains("<script>"), "no markup from the data");
    assert!(out.html.contains("&lt;script&gt;"), "escaped in the table");
    assert!(out.html.contains("&lt;reason&gt;"));
    let chart = &out.html[out.html.find(r#"<svg id="chart-capacity""#).unwrap_or(0)..];
    assert!(
        chart.contains("&lt;script&gt;alert(&quot;x&quot;)"),
        "escaped in SVG"
    );
    assert!(
        out.html.contains(">–</td>"),
        "NULL expected LTV reads as a dash"
    );
    Ok(())
}

#[test]
fn scorecard_shows_phase_targets_and_sparklines() -> Result<(), minijinja::Error> {
    let mut d = nothing();
    d.readiness = Ok((1..=12)
        .map(|m| ReadinessMonth {
            month: format!("2026-{m:02}-01"),
            renewal_rate_12m: Some(0.85 + m as f64 * 0.01),
            lir_rate: None,
            ltv_to_cac: Some(3.5),
            payback_months: if m == 6 { None } else { Some(14.0) },
            magic_number: Some(1.1),
            phase: Some(if m < 6 {
                "pursuing_product_market_fit".into()
            } else {
                "pursuing_go_to_market_fit".into()
            }),
        })
        .collect());
    let out = page::render(&d, &Targets::from_vars(&BTreeMap::new()))?;
    let h = &out.html;
    assert!(
        h.contains(r#"<li class="done">Product-market fit</li>"#),
        "{h}"
    );
    assert!(h.contains(r#"<li class="current" aria-current="step">Go-to-market fit</li>"#));
    assert!(h.contains("cac payback is 14.0 mo (target ≤ 12.0 mo)"));
    for id in [
        "spark-renewal",
        "spark-ltv-cac",
        "spark-payback",
        "spark-magic",
        "chart-readiness",
    ] {
        assert!(h.contains(&format!(r#"<svg id="{id}""#)), "{id}");
    }
    assert!(
        !h.contains(r#"<svg id="spark-lir""#),
        "no LIR without usage data"
    );
    assert!(h.contains("no usage data"));
    assert!(h.contains(">97.0%<"), "latest renewal rate");
    Ok(())
}

#[test]
fn phase_styles_cover_the_three_phases_and_unknown_values() {
    assert_eq!(
        charts::phase_style(Some("growth_and_moat")).0,
        "Growth & moat"
    );
    assert_eq!(charts::phase_style(Some("other")).0, "other");
    assert_eq!(charts::phase_style(None).0, format::NONE);
}

#[test]
fn the_run_dates_month_is_marked_as_month_to_date() {
    let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
    assert_eq!(
        page::month_as_of("2026-11-01", d),
        "Nov 2026 (month to date)"
    );
    assert_eq!(page::month_as_of("2026-10-01", d), "Oct 2026");
}

/// The largest report the caps allow (every heatmap at its maximum of cohorts and months, the
/// whole trend, every ROC bin a log-odds quantisation can give, long names): its size depends
/// on these caps, never on the number of leads.
#[test]
fn the_largest_report_the_caps_allow_stays_small() -> Result<(), minijinja::Error> {
    use super::charts::{CalibrationPoint, ScoreBin};
    use super::data::{
        Balance, CampaignRow, Evaluation, FunnelCell, RetentionCell, StageRow, StageTotals,
        UnitEconomicsRow, HOT_LIST_ROWS, MAX_COHORTS, MAX_COHORT_MONTHS, TREND_MONTHS,
    };
    let month = |i: usize| format!("{}-{:02}-01", 2020 + i / 12, i % 12 + 1);
    let long = "Very Long Account Name Holdings International, Incorporated & Partners".to_string();
    let mut d = nothing();
    d.published = published(&["a"; 12]);
    d.readiness = Ok((0..12)
        .map(|i| ReadinessMonth {
            month: month(i),
            renewal_rate_12m: Some(0.91234567),
            lir_rate: Some(0.7654321),
            ltv_to_cac: Some(3.123456),
            payback_months: Some(11.98765),
            magic_number: Some(1.0123456),
            phase: Some("growth_and_moat".into()),
        })
        .collect());
    let cohorts = || (0..MAX_COHORTS).flat_map(|c| (0..=MAX_COHORT_MONTHS).map(move |k| (c, k)));
    d.funnel = Ok(cohorts()
        .map(|(c, k)| FunnelCell {
            cohort: month(c),
            k: k as i64,
            cohort_mqls: Some(123_456.0),
            sqls: Some(65_432.0),
            won: Some(12_345.0),
            sql_rate: Some(0.5312345),
            win_rate: Some(0.1012345),
        })
        .collect());
    d.retention = Ok(cohorts()
        .map(|(c, k)| RetentionCell {
            cohort: month(c),
            k: k as i64,
            customers: Some(12_345.0),
            eligible: Some(12_000.0),
            retained: Some(11_000.0),
            logo_retention: Some(0.9123456),
            starting_arr: Some(123_456_789.0),
            arr: Some(134_567_890.0),
            nrr: Some(1.0912345),
        })
        .collect());
    d.stages = Ok(Stages {
        stages: [
            "Qualification",
            "Needs Analysis",
            "Solution",
            "Implementation",
            "Closed Won",
        ]
        .iter()
        .map(|s| StageRow {
            stage: s.to_string(),
            entered: Some(123_456.0),
            advanced: Some(100_000.0),
            conversion_rate: Some(0.81),
            avg_days: Some(12.3),
            median_days: Some(9.8),
        })
        .collect(),
        totals: Some(StageTotals::default()),
    });
    let channels = [
        "ALL",
        "Event",
        "Outbound",
        "Paid Search",
        "Partner",
        "Referral",
        "Sales",
        "Web",
    ];
    d.unit_economics = Ok((0..TREND_MONTHS)
        .flat_map(|m| channels.iter().map(move |c| (m, c)))
        .map(|(m, c)| UnitEconomicsRow {
            month: month(m),
            channel: c.to_string(),
            new_customers: Some(1234.0),
            spend: Some(12_345_678.0),
            ltv_to_cac: Some(3.3),
            payback_months: Some(11.0),
            magic_number: Some(1.1),
        })
        .collect());
    d.capacity = Ok((0..12)
        .map(|i| CapacityRow {
            role: format!("Role {i}"),
            available_hours: Some(12_345.0),
            required_hours: Some(11_111.0),
            utilization: Some(0.9),
            status: Some("balanced".into()),
        })
        .collect());
    d.balance = Ok(Some(Balance {
        sales_capacity: Some(1234.5),
        demand: Some(1200.0),
        ratio: Some(0.97),
    }));
    d.hot_list = Ok(HotList {
        top: (0..HOT_LIST_ROWS)
            .map(|i| HotRow {
                rank: Some(i as f64 + 1.0),
                account_name: long.clone(),
                reason: format!("{long}: open New Business opportunity in Implementation, 80% of closed deals that reached this stage were won"),
                p_win: Some(0.8),
                expected_ltv: Some(273_456.0),
                expected_value: Some(218_765.0),
                days_to_close: Some(9.0),
                ae_hours: Some(9.0),
                cumulative_ae_hours: Some(180.0),
            })
            .collect(),
        accounts: 250_000,
        total_value: Some(1.23e10),
        total_hours: Some(12_345.0),
    });
    d.evaluation = Ok(Some(Evaluation {
        auc: Some(0.88),
        top_decile_lift: Some(5.1),
        brier: Some(0.05),
        train_rows: Some(800_000.0),
        test_rows: Some(100_000.0),
        model_version: "lr-0123456789ab".into(),
    }));
    d.calibration = Ok((1..=10)
        .map(|i| CalibrationPoint {
            decile: i,
            leads: 10_000.0,
            conversions: 100.0 * i as f64,
            mean_predicted: Some(0.01 * i as f64),
            observed_rate: Some(0.01 * i as f64),
        })
        .collect());
    // log-odds of p in [1e-6, 1 - 1e-6], in steps of 1/20: at most 553 bins.
    d.roc_bins = Ok((0..553)
        .map(|i| ScoreBin {
            threshold: i as f64 / 553.0,
            leads: 1000,
            positives: i as u64,
        })
        .collect());
    d.campaigns = Ok((0..12)
        .map(|i| CampaignRow {
            name: format!("{long} campaign {i}"),
            channel: "Paid Search".into(),
            members: Some(123_456.0),
            mqls: Some(12_345.0),
            sqls: Some(5_432.0),
            won: Some(321.0),
            won_acv: Some(12_345_678.0),
            cost: Some(1_234_567.0),
        })
        .collect());
    let out = page::render(&d, &Targets::from_vars(&BTreeMap::new()))?;
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let bytes = out.html.len();
    assert!(bytes < 2 << 20, "the largest report is {bytes} bytes");
    assert!(
        bytes > 500_000,
        "every panel was drawn at its largest: {bytes} bytes"
    );
    Ok(())
}
