//! Lead scoring: a logistic regression learned from the run's own history, as SQL functions.
//!
//! Hypothesis 1 of the Beacon project is that leads can be ranked from what converted before.
//! This module gives the SQL models the means to do that on every run, with nothing stored
//! between runs: the model is a pure function of the rows the SQL feeds it.
//!
//! ```sql
//! -- lead_model.sql: one row, the model fitted on leads with a known outcome
//! SELECT logistic_fit(features, converted_within_window) AS model   -- optional 3rd arg: l2
//! FROM lead_training_rows
//!
//! -- lead_scores.sql
//! SELECT l.lead_id,
//!        logistic_score(m.model, l.features)      AS conversion_probability,
//!        logistic_reasons(m.model, l.features, 3) AS top_reasons,
//!        logistic_version(m.model)                AS model_version
//! FROM open_leads l
//! CROSS JOIN (SELECT arrow_cast(model, 'Utf8View') AS model FROM lead_model) m
//! ```
//!
//! | function | returns |
//! | --- | --- |
//! | `logistic_fit(features, label [, l2])` (aggregate) | the model as JSON text (see [`model`]) |
//! | `logistic_score(model, features)` | probability in (0, 1), Float64 |
//! | `logistic_reasons(model, features, n)` | e.g. `Authority: economic buyer (raises); Channel: Paid Search (lowers)`; empty when no feature of the row has a weight |
//! | `logistic_contributions(model, features)` | JSON: intercept, logit, probability, each token's contribution |
//! | `logistic_version(model)` | the model's `version`, e.g. `lr-3f9c0a1b2c4d` |
//! | `calibration_fit(probability, label [, t [, l2]])` (aggregate) | a calibration map as JSON (see [`calibration`]) |
//! | `calibrate(calibration, probability [, t])` | the calibrated probability, Float64 |
//! | `count_at_or_below(values, x)` | how many of the list `values` are <= `x`, Int64: a percentile without a window (see `rank_udf.rs`) |
//!
//! `features` is a list of one-hot tokens `key=value` (`'industry=Software'`,
//! `'authority=economic_buyer'`), built in SQL with `make_array(...)`; NULL items and NULL or empty
//! lists are fine (a lead with nothing known scores the base rate); a NULL model gives NULL.
//! `label` is Boolean (or 0/1); rows with a NULL label are not training rows. The model's
//! `version` (`lr-` + 12 hex digits, from `logistic_version`) is what
//! `lead_scores.model_version` should carry.
//!
//! # Why logistic regression on one-hot tokens
//! - Explainable: the score is `sigmoid(intercept + sum of the row's token weights)`. Each weight
//!   is that feature's exact contribution to the log-odds, so `logistic_reasons` names the features
//!   that raise or lower *this* lead's score, without approximation, and the model itself is a
//!   short, readable table of weights.
//! - Calibrated: maximum likelihood fits probabilities, not just a ranking. With an unpenalised
//!   intercept the mean predicted probability on the training rows equals the observed rate
//!   exactly, and the ridge penalty (default `l2` = 1.0, scikit-learn's `C = 1`) keeps rare
//!   features from claiming extreme probabilities. Unlike naive Bayes it does not double-count
//!   correlated features (industry and revenue band, say), which is what usually breaks
//!   calibration.
//! - Reproducible: the aggregate reduces the rows to integer counts per distinct token set
//!   (`counts.rs`), canonicalises them (tokens and patterns sorted) and runs a deterministic Newton
//!   solver (`logistic.rs`) on them. The same multiset of rows gives a byte-identical model and
//!   version whatever the partitioning, batch sizes or row order.
//!
//! # Calibration
//! The regression is calibrated on its training rows overall and per token, not per score band
//! on newer leads: non-additive true log-odds and drift bend it there. `calibration_fit` learns a
//! monotone map from the model's probability (and the lead's time, for a trend) on recent
//! labelled leads, and `calibrate` applies it; see [`calibration`].
//!
//! # Method
//! Newton's method (IRLS) with a dense Hessian solved by Cholesky, Armijo line search, damping if
//! the Hessian is not numerically positive definite; details in `logistic.rs`. The ridge penalty
//! makes the optimum unique and finite, so perfectly separating features (a token seen only with
//! converted leads) get a large but finite weight. No rows or a single class give the smoothed base
//! rate `logit((k + 0.5) / (n + 1))` and no weights.
//!
//! # Limits (documented, constant)
//! - Tokens seen in fewer than [`MIN_COUNT`] labelled rows are dropped before the fit (their weight
//!   would be noise; at scoring time an unknown token contributes 0).
//! - At most [`MAX_TOKENS`] tokens are kept, the most frequent (ties by name): the dense Hessian is
//!   `MAX_TOKENS^2` doubles (8 MB) and its factorisation `MAX_TOKENS^3 / 6` multiply-adds per
//!   Newton iteration.
//! - The aggregate's state is one entry per distinct token set (at most one per row, usually far
//!   fewer): about 140 bytes for a set of 16 tokens. Measured worst case, 1M rows of 16 tokens
//!   all distinct: 134 MB of state, 360-410 MB peak RSS for the whole fit.
//!
//! # Performance note for SQL authors
//! The scalar functions parse each distinct model string once per batch. How the model reaches
//! them matters more: a `CROSS JOIN` with a one-row `Utf8` model makes DataFusion copy the whole
//! model text into every row of every batch (8192 x the model's size). Pass it as a scalar
//! subquery, `logistic_score((SELECT model FROM lead_model), features)`, or cast it to a view
//! (`arrow_cast(model, 'Utf8View')`) before joining; both share one copy. Measured on 1M rows
//! with a 5.5 KB model: 0.6 s either way, 4.6 s through a plain `Utf8` cross join.

pub mod calibration;
mod calibration_udf;
mod counts;
mod logistic;
pub mod model;
mod rank_udf;
mod reasons;
#[cfg(test)]
mod tests;
mod udf;

pub use calibration_udf::{Calibrate, CalibrationFit, DEFAULT_CALIBRATION_L2};
pub use rank_udf::CountAtOrBelow;
pub use udf::{LogisticApply, LogisticFit, LogisticFitAccumulator};

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

/// Ridge strength when `logistic_fit` gets no third argument (or NULL).
pub const DEFAULT_L2: f64 = 1.0;

/// A token must be seen in at least this many labelled rows to get a weight.
pub const MIN_COUNT: u64 = 5;

/// At most this many tokens get a weight (the most frequent; ties by token).
pub const MAX_TOKENS: usize = 1024;

/// Registers `logistic_fit`, `logistic_score`, `logistic_reasons`, `logistic_contributions`,
/// `logistic_version`, `calibration_fit`, `calibrate` and `count_at_or_below` in the session.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(LogisticFit::new()));
    ctx.register_udaf(AggregateUDF::from(CalibrationFit::new()));
    ctx.register_udf(ScalarUDF::from(Calibrate::new()));
    ctx.register_udf(ScalarUDF::from(LogisticApply::score()));
    ctx.register_udf(ScalarUDF::from(LogisticApply::reasons()));
    ctx.register_udf(ScalarUDF::from(LogisticApply::contributions()));
    ctx.register_udf(ScalarUDF::from(LogisticApply::version()));
    ctx.register_udf(ScalarUDF::from(CountAtOrBelow::new()));
}
