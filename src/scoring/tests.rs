//! Tests of the whole: synthetic data with known coefficients, determinism across partitionings,
//! degenerate input, and the functions called from SQL.

use super::logistic::sigmoid;
use super::model::Model;
use super::udf::LogisticFitAccumulator;
use super::{register, DEFAULT_L2};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, LargeListBuilder, ListBuilder, RecordBatch,
    StringBuilder, StringViewBuilder,
};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Accumulator;
use datafusion::prelude::{SessionConfig, SessionContext};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

type Row = (Vec<String>, Option<bool>);

// ---------------------------------------------------------------------------------------------
// Synthetic data

/// A categorical feature: (key, [(value, true weight)]), values drawn uniformly.
type Feature = (&'static str, &'static [(&'static str, f64)]);

const INTERCEPT: f64 = -1.5;
const FEATURES: &[Feature] = &[
    (
        "industry",
        &[
            ("Software", 1.2),
            ("Finance", 0.6),
            ("Retail", -0.6),
            ("Manufacturing", -1.2),
            ("Other", 0.0),
        ],
    ),
    (
        "authority",
        &[
            ("none", -1.8),
            ("influencer", 0.0),
            ("decision_maker", 0.9),
            ("economic_buyer", 1.8),
        ],
    ),
    (
        "channel",
        &[
            ("Web", 0.0),
            ("Paid_Search", -0.9),
            ("Referral", 1.4),
            ("Event", 0.4),
        ],
    ),
    ("need", &[("low", -1.2), ("medium", 0.0), ("high", 1.2)]),
];
/// A presence token: (token, probability present, weight).
const FLAGS: &[(&str, f64, f64)] = &[("touched_webinar", 0.3, 0.9), ("country=FI", 0.1, 0.0)];

/// Leads with tokens and an outcome drawn from the true model; also the true probability.
fn synthetic(seed: u64, n: usize) -> Vec<(Vec<String>, bool, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut tokens = Vec::new();
            let mut eta = INTERCEPT;
            for (key, values) in FEATURES {
                let (value, w) = values[rng.random_range(0..values.len())];
                tokens.push(format!("{key}={value}"));
                eta += w;
            }
            for (token, p, w) in FLAGS {
                if rng.random::<f64>() < *p {
                    tokens.push((*token).to_string());
                    eta += w;
                }
            }
            let p = sigmoid(eta);
            (tokens, rng.random::<f64>() < p, p)
        })
        .collect()
}

fn rows_of(data: &[(Vec<String>, bool, f64)]) -> Vec<Row> {
    data.iter().map(|(t, y, _)| (t.clone(), Some(*y))).collect()
}

fn list_array(rows: &[Row]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for (tokens, _) in rows {
        for t in tokens {
            b.values().append_value(t);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn label_array(rows: &[Row]) -> ArrayRef {
    Arc::new(rows.iter().map(|(_, y)| *y).collect::<BooleanArray>())
}

/// Fits directly through the accumulator, `batch` rows per update.
fn fit_rows(rows: &[Row], batch: usize) -> String {
    let mut acc = LogisticFitAccumulator::new(DEFAULT_L2);
    for chunk in rows.chunks(batch.max(1)) {
        acc.update_batch(&[list_array(chunk), label_array(chunk)])
            .unwrap();
    }
    evaluate(&mut acc)
}

fn evaluate(acc: &mut LogisticFitAccumulator) -> String {
    match acc.evaluate().unwrap() {
        ScalarValue::Utf8(Some(s)) => s,
        other => panic!("not a model: {other:?}"),
    }
}

fn model(json: &str) -> Model {
    Model::parse(json).unwrap()
}

fn score(m: &Model, tokens: &[String]) -> f64 {
    let mut known = Vec::new();
    m.known(tokens.iter().map(String::as_str), &mut known);
    sigmoid(m.logit_of(&known))
}

/// AUC by the rank-sum (Mann-Whitney) formula, ties counted half.
fn auc(scored: &[(f64, bool)]) -> f64 {
    let mut v = scored.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0; // average 1-based rank of the tie group
        rank_sum += mid * v[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let pos = v.iter().filter(|x| x.1).count() as f64;
    let neg = v.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

// ---------------------------------------------------------------------------------------------
// The math, end to end

#[test]
fn recovers_known_coefficients_of_independent_flags() {
    let truth = [1.5, -1.0, 0.5, 0.0, 2.0, -2.0];
    let intercept = -0.5;
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let rows: Vec<Row> = (0..100_000)
        .map(|_| {
            let mut tokens = Vec::new();
            let mut eta = intercept;
            for (j, w) in truth.iter().enumerate() {
                if rng.random::<f64>() < 0.4 {
                    tokens.push(format!("flag_{j}"));
                    eta += w;
                }
            }
            (tokens, Some(rng.random::<f64>() < sigmoid(eta)))
        })
        .collect();
    let m = model(&fit_rows(&rows, 8192));
    assert!(
        (m.intercept - intercept).abs() < 0.05,
        "intercept {}",
        m.intercept
    );
    for (j, w) in truth.iter().enumerate() {
        let got = m.weights[&format!("flag_{j}")];
        assert!((got - w).abs() < 0.06, "flag_{j}: {got} vs {w}");
    }
}

#[test]
fn recovers_contrasts_of_categorical_features() {
    // With a full one-hot encoding only differences within a feature are identified (the level
    // weights can shift against the intercept); compare those.
    let rows = rows_of(&synthetic(7, 200_000));
    let m = model(&fit_rows(&rows, 4096));
    for (key, values) in FEATURES {
        let (ref_value, ref_w) = values[0];
        let base = m.weights[&format!("{key}={ref_value}")];
        for (value, w) in &values[1..] {
            let got = m.weights[&format!("{key}={value}")] - base;
            let want = w - ref_w;
            assert!((got - want).abs() < 0.1, "{key}={value}: {got} vs {want}");
        }
    }
    assert!((m.weights["touched_webinar"] - 0.9).abs() < 0.08);
    assert!(m.weights["country=FI"].abs() < 0.1);
}

#[test]
fn ranks_well_and_is_calibrated_on_held_out_leads() {
    let train = rows_of(&synthetic(1, 50_000));
    let test = synthetic(2, 20_000);
    let m = model(&fit_rows(&train, 10_000));
    let scored: Vec<(f64, bool)> = test.iter().map(|(t, y, _)| (score(&m, t), *y)).collect();
    let oracle: Vec<(f64, bool)> = test.iter().map(|(_, y, p)| (*p, *y)).collect();
    let (got, best) = (auc(&scored), auc(&oracle));
    assert!(got > 0.8, "AUC {got}");
    assert!(best - got < 0.01, "AUC {got}, true model {best}");

    // Calibration as lead_scores requires: mean predicted within 5 points of the observed rate in
    // every decile of the prediction.
    let mut by_score = scored.clone();
    by_score.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (d, decile) in by_score.chunks(by_score.len() / 10).enumerate() {
        let predicted = decile.iter().map(|x| x.0).sum::<f64>() / decile.len() as f64;
        let observed = decile.iter().filter(|x| x.1).count() as f64 / decile.len() as f64;
        assert!(
            (predicted - observed).abs() < 0.05,
            "decile {d}: {predicted} vs {observed}"
        );
    }

    // On the training rows the mean prediction equals the base rate (free intercept).
    let mean: f64 = train.iter().map(|(t, _)| score(&m, t)).sum::<f64>() / train.len() as f64;
    let rate = train.iter().filter(|(_, y)| *y == Some(true)).count() as f64 / train.len() as f64;
    assert!((mean - rate).abs() < 1e-9, "{mean} vs {rate}");
}

#[test]
fn same_rows_same_model_whatever_the_order_and_split() {
    let mut rows = rows_of(&synthetic(3, 20_000));
    // A few rare tokens (dropped by min_count) and NULL labels, to exercise every path.
    rows[5].0.push("campaign=one_off".into());
    rows[6].1 = None;
    rows[7].0.clear();
    let reference = fit_rows(&rows, 20_000);

    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for round in 0..6 {
        // Shuffle, cut into a random number of partitions of random sizes, update in random
        // batch sizes, and merge the partial states in a random order (sometimes in two levels).
        let mut shuffled = rows.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.random_range(0..=i));
        }
        let parts = 1 + round;
        let mut cuts: Vec<usize> = (0..parts - 1)
            .map(|_| rng.random_range(0..shuffled.len()))
            .collect();
        cuts.push(0);
        cuts.push(shuffled.len());
        cuts.sort_unstable();
        let mut states = Vec::new();
        for w in cuts.windows(2) {
            let mut acc = LogisticFitAccumulator::new(DEFAULT_L2);
            let batch = rng.random_range(1..5000);
            for chunk in shuffled[w[0]..w[1]].chunks(batch) {
                acc.update_batch(&[list_array(chunk), label_array(chunk)])
                    .unwrap();
            }
            states.push(acc.state().unwrap());
        }
        for i in (1..states.len()).rev() {
            states.swap(i, rng.random_range(0..=i));
        }
        let state_arrays = |states: &[Vec<ScalarValue>]| -> Vec<ArrayRef> {
            (0..5)
                .map(|c| ScalarValue::iter_to_array(states.iter().map(|s| s[c].clone())).unwrap())
                .collect()
        };
        let mut merged = LogisticFitAccumulator::new(DEFAULT_L2);
        if round % 2 == 1 && states.len() > 2 {
            // Two levels: merge half, take its state, merge that with the rest.
            let (a, b) = states.split_at(states.len() / 2);
            let mut mid = LogisticFitAccumulator::new(DEFAULT_L2);
            mid.merge_batch(&state_arrays(a)).unwrap();
            let mut rest = b.to_vec();
            rest.push(mid.state().unwrap());
            merged.merge_batch(&state_arrays(&rest)).unwrap();
        } else {
            merged.merge_batch(&state_arrays(&states)).unwrap();
        }
        assert_eq!(evaluate(&mut merged), reference, "round {round}");
    }
}

#[test]
fn separable_data_gives_finite_weights() {
    let mut rows: Vec<Row> = Vec::new();
    for i in 0..2000 {
        let converted = i % 2 == 0;
        let x = if converted {
            "demo=requested"
        } else {
            "demo=not_requested"
        };
        rows.push((
            vec![x.to_string(), format!("noise={}", i % 3)],
            Some(converted),
        ));
    }
    for l2 in [DEFAULT_L2, 0.0] {
        let mut acc = LogisticFitAccumulator::new(l2);
        acc.update_batch(&[list_array(&rows), label_array(&rows)])
            .unwrap();
        let m = model(&evaluate(&mut acc));
        assert!(m.intercept.is_finite());
        for (t, w) in &m.weights {
            assert!(w.is_finite() && w.abs() < 40.0, "l2 {l2}: {t} = {w}");
        }
        assert!(score(&m, &["demo=requested".into()]) > 0.99);
        assert!(score(&m, &["demo=not_requested".into()]) < 0.01);
    }
}

#[test]
fn empty_and_single_class_input_give_the_smoothed_base_rate() {
    let mut empty = LogisticFitAccumulator::new(DEFAULT_L2);
    let json = evaluate(&mut empty);
    assert!(
        json.contains(r#""intercept":0.0,"weights":{},"rows":0,"positives":0"#),
        "{json}"
    );

    let rows: Vec<Row> = (0..99)
        .map(|i| (vec![format!("k={}", i % 2)], Some(false)))
        .collect();
    let mut acc = LogisticFitAccumulator::new(DEFAULT_L2);
    acc.update_batch(&[list_array(&rows), label_array(&rows)])
        .unwrap();
    let m = model(&evaluate(&mut acc));
    assert!(m.weights.is_empty());
    assert!((sigmoid(m.intercept) - 0.5 / 100.0).abs() < 1e-12);

    // Only NULL labels: no training rows at all.
    let nulls: Vec<Row> = (0..10).map(|_| (vec!["a=b".to_string()], None)).collect();
    let mut acc = LogisticFitAccumulator::new(DEFAULT_L2);
    acc.update_batch(&[list_array(&nulls), label_array(&nulls)])
        .unwrap();
    assert!(evaluate(&mut acc).contains(r#""rows":0"#));
}

// ---------------------------------------------------------------------------------------------
// From SQL

fn batch(rows: &[Row], group: impl Fn(usize) -> i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("f", list_array(&[]).data_type().clone(), true),
        Field::new("y", DataType::Boolean, true),
        Field::new("g", DataType::Int64, false),
    ]));
    let groups: Int64Array = (0..rows.len()).map(&group).collect();
    RecordBatch::try_new(
        schema,
        vec![list_array(rows), label_array(rows), Arc::new(groups)],
    )
    .unwrap()
}

/// A session with the functions and table `t` split into `parts` partitions.
fn session(rows: &[Row], parts: usize) -> SessionContext {
    let ctx = SessionContext::new_with_config(
        SessionConfig::new()
            .with_target_partitions(4)
            .with_batch_size(1000),
    );
    register(&ctx);
    let size = rows.len().div_ceil(parts).max(1);
    let partitions: Vec<Vec<RecordBatch>> = rows
        .chunks(size)
        .map(|c| vec![batch(c, |i| (i % 2) as i64)])
        .collect();
    let schema = batch(&[], |_| 0).schema();
    let table = MemTable::try_new(schema, partitions).unwrap();
    ctx.register_table("t", Arc::new(table)).unwrap();
    ctx
}

async fn collect(ctx: &SessionContext, sql: &str) -> datafusion::error::Result<Vec<RecordBatch>> {
    ctx.sql(sql).await?.collect().await
}

async fn one_string(ctx: &SessionContext, sql: &str) -> String {
    let batches = collect(ctx, sql).await.unwrap();
    let col = batches[0].column(0);
    col.as_string::<i32>().value(0).to_string()
}

#[tokio::test]
async fn sql_fit_is_the_same_for_any_partitioning() {
    let rows = rows_of(&synthetic(5, 5000));
    let direct = fit_rows(&rows, 5000);
    let mut reversed = rows.clone();
    reversed.reverse();
    for (data, parts) in [(&rows, 1), (&rows, 3), (&reversed, 7)] {
        let ctx = session(data, parts);
        assert_eq!(
            one_string(&ctx, "SELECT logistic_fit(f, y) FROM t").await,
            direct
        );
    }
}

#[tokio::test]
async fn sql_fit_then_score_and_explain() {
    let rows = rows_of(&synthetic(6, 5000));
    let ctx = session(&rows, 3);
    let sql = "WITH m AS (SELECT logistic_fit(f, y) AS model FROM t)
               SELECT logistic_score(m.model, t.f) AS p,
                      logistic_reasons(m.model, t.f, 3) AS why,
                      logistic_version(m.model) AS version,
                      logistic_contributions(m.model, t.f) AS parts,
                      m.model AS model
               FROM t CROSS JOIN m";
    let batches = collect(&ctx, sql).await.unwrap();
    let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(n, rows.len());
    let b = &batches[0];
    let model_json = b.column(4).as_string::<i32>().value(0);
    let m = model(model_json);
    let version = b.column(2).as_string::<i32>().value(0);
    assert_eq!(Some(version), m.version.as_deref());
    assert!(version.starts_with("lr-") && version.len() == 15);
    let p = b.column(0).as_primitive::<Float64Type>().value(0);
    assert!(p > 0.0 && p < 1.0);
    let why = b.column(1).as_string::<i32>().value(0);
    assert_eq!(why.split("; ").count(), 3, "{why}");
    assert!(
        why.split("; ")
            .all(|r| r.ends_with("(raises)") || r.ends_with("(lowers)")),
        "{why}"
    );
    let parts: serde_json::Value =
        serde_json::from_str(b.column(3).as_string::<i32>().value(0)).unwrap();
    assert!((parts["probability"].as_f64().unwrap() - p).abs() < 1e-15);

    // The same score from a literal feature list (make_array) and the mean equals the base rate.
    let sql = "WITH m AS (SELECT logistic_fit(f, y) AS model FROM t)
               SELECT logistic_reasons(model, make_array('authority=economic_buyer', 'channel=Paid_Search',
                                                         'unknown=token', NULL), 5),
                      logistic_score(model, make_array()) ,
                      logistic_score(model, NULL),
                      logistic_score(NULL, make_array('a=b'))
               FROM m";
    let b = &collect(&ctx, sql).await.unwrap()[0];
    assert_eq!(
        b.column(0).as_string::<i32>().value(0),
        "Authority: economic buyer (raises); Channel: Paid Search (lowers)"
    );
    let base = sigmoid(m.intercept);
    assert_eq!(b.column(1).as_primitive::<Float64Type>().value(0), base);
    assert_eq!(b.column(2).as_primitive::<Float64Type>().value(0), base);
    assert!(b.column(3).is_null(0));
}

#[tokio::test]
async fn sql_l2_argument_groups_and_errors() {
    let rows = rows_of(&synthetic(8, 3000));
    let ctx = session(&rows, 2);
    let weak = model(&one_string(&ctx, "SELECT logistic_fit(f, y) FROM t").await);
    let strong = model(&one_string(&ctx, "SELECT logistic_fit(f, y, 200) FROM t").await);
    let norm = |m: &Model| m.weights.values().map(|w| w * w).sum::<f64>();
    assert!(norm(&strong) < norm(&weak) / 2.0);
    let explicit = one_string(&ctx, "SELECT logistic_fit(f, y, 1.0) FROM t").await;
    assert_eq!(model(&explicit), weak);

    // No training rows at all: still a model (the smoothed base rate, no weights).
    let none = one_string(&ctx, "SELECT logistic_fit(f, y) FROM t WHERE g < 0").await;
    assert!(none.contains(r#""weights":{},"rows":0"#), "{none}");

    // One model per group.
    let batches = collect(
        &ctx,
        "SELECT g, logistic_fit(f, y) FROM t GROUP BY g ORDER BY g",
    )
    .await
    .unwrap();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);

    // Errors, not panics.
    for (sql, needle) in [
        (
            "SELECT logistic_fit(f, y, CAST(g AS DOUBLE)) FROM t",
            "constant",
        ),
        ("SELECT logistic_fit(f, y, -1.0) FROM t", ">= 0"),
        ("SELECT logistic_fit(y, y) FROM t", "list of strings"),
        (
            "SELECT logistic_score('not a model', make_array('a=b'))",
            "logistic_score",
        ),
        (
            "SELECT logistic_reasons('{\"intercept\": 1}', make_array('a=b'))",
            "3 arguments",
        ),
    ] {
        let err = collect(&ctx, sql).await.expect_err(sql).to_string();
        assert!(err.contains(needle), "{sql}: {err}");
    }
}

#[tokio::test]
async fn other_string_layouts_are_read_directly() {
    // Utf8View items (what Parquet scans give) and LargeList, without casts.
    let rows = rows_of(&synthetic(9, 2000));
    let mut view = ListBuilder::new(StringViewBuilder::new());
    let mut large = LargeListBuilder::new(StringBuilder::new());
    for (tokens, _) in &rows {
        for t in tokens {
            view.values().append_value(t);
            large.values().append_value(t);
        }
        view.append(true);
        large.append(true);
    }
    let (view, large): (ArrayRef, ArrayRef) = (Arc::new(view.finish()), Arc::new(large.finish()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("fv", view.data_type().clone(), true),
        Field::new("fl", large.data_type().clone(), true),
        Field::new("y", DataType::Boolean, true),
    ]));
    let b = RecordBatch::try_new(schema.clone(), vec![view, large, label_array(&rows)]).unwrap();
    let ctx = SessionContext::new();
    register(&ctx);
    ctx.register_table(
        "v",
        Arc::new(MemTable::try_new(schema, vec![vec![b]]).unwrap()),
    )
    .unwrap();
    let direct = fit_rows(&rows, 2000);
    assert_eq!(
        one_string(&ctx, "SELECT logistic_fit(fv, y) FROM v").await,
        direct
    );
    assert_eq!(
        one_string(&ctx, "SELECT logistic_fit(fl, y) FROM v").await,
        direct
    );
    let sql = "WITH m AS (SELECT arrow_cast(logistic_fit(fv, y), 'Utf8View') AS model FROM v)
               SELECT logistic_score(model, fv) - logistic_score(model, fl) FROM v CROSS JOIN m";
    for b in collect(&ctx, sql).await.unwrap() {
        let d = b.column(0).as_primitive::<Float64Type>();
        assert!(d.iter().all(|x| x == Some(0.0)));
    }
}

#[test]
fn sliced_arrays_are_read_at_their_offset() {
    let rows = rows_of(&synthetic(10, 3000));
    let (f, y) = (list_array(&rows), label_array(&rows));
    let mut acc = LogisticFitAccumulator::new(DEFAULT_L2);
    acc.update_batch(&[f.slice(0, 1000), y.slice(0, 1000)])
        .unwrap();
    acc.update_batch(&[f.slice(1000, 2000), y.slice(1000, 2000)])
        .unwrap();
    assert_eq!(evaluate(&mut acc), fit_rows(&rows, 3000));
    // Misaligned columns are an error, not a panic.
    assert!(acc.update_batch(&[f.slice(0, 10), y.slice(0, 9)]).is_err());
}
