//! Calibration of a model's probabilities: beta calibration with a linear time trend.
//!
//! A logistic regression on one-hot tokens is calibrated on its own training rows in two ways
//! only: overall, and for each token. Two things still bend its probabilities on new leads:
//! - the true log-odds are rarely additive in the tokens. A funnel of several steps (MQL, SQL,
//!   opportunity, win) makes them steep for weak leads and flat for strong ones, so a linear
//!   score over-predicts at the extremes and under-predicts the upper middle;
//! - conversion rates drift (the funnel improves, the channel mix moves), and the leads being
//!   scored are newer than the history the model learned from.
//!
//! Both are corrected by a map from the model's probability `p` and the lead's time `t` to a
//! calibrated probability, fitted on recent labelled leads:
//!
//! ```text
//! calibrated = sigmoid(a + b ln(p) - c ln(1 - p) + d t)
//! ```
//!
//! This is beta calibration (Kull, Silva Filho and Flach, 2017) plus a trend. `b` is the slope
//! for weak leads (`ln p` ~ logit p when p is small) and `c` the slope for strong ones; with
//! `b = c = 1`, `a = d = 0` it is the identity. `b, c >= 0` is enforced (a coefficient that
//! would go negative is fixed at 0), so the map never reverses the model's ranking of two leads
//! of the same `t`. `t` is the lead's time in years relative to an origin the caller chooses (the
//! end of the training window, say); `d` is the trend of the log-odds per year. When every row has
//! the same `t`, there is no trend to learn and `d = 0`.
//!
//! The fit maximises the likelihood with a ridge penalty `l2 / 2 ((b - 1)^2 + (c - 1)^2 + d^2)`
//! towards the identity (`a` is free), so a small window bends the model little, by Newton's
//! method on at most four parameters. Rows are reduced to counts per distinct `(p, t)` and summed
//! in a canonical order, so the same rows give the same bits whatever the partitioning.
//! Without both classes the map is the identity.

// 4 x 4 linear algebra reads best with indices.
#![allow(clippy::needless_range_loop)]

use super::logistic::{sigmoid, softplus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Probabilities are clamped to `[P_MIN, 1 - P_MIN]` before taking logarithms.
pub const P_MIN: f64 = 1e-12;

/// The calibration map, as stored in the JSON text `calibration_fit` returns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub positives: u64,
    #[serde(default)]
    pub l2: f64,
}

impl Calibration {
    /// The map that changes nothing.
    pub fn identity(rows: u64, positives: u64, l2: f64) -> Self {
        Self {
            a: 0.0,
            b: 1.0,
            c: 1.0,
            d: 0.0,
            rows,
            positives,
            l2,
        }
    }

    /// The calibrated probability of a model probability `p` at time `t`.
    pub fn apply(&self, p: f64, t: f64) -> f64 {
        let [x1, x2] = log_terms(p);
        sigmoid(self.a + self.b * x1 + self.c * x2 + self.d * t)
    }

    /// Parses the JSON text; the error says what is wrong, for the SQL author.
    pub fn parse(text: &str) -> Result<Self, String> {
        let c: Calibration = serde_json::from_str(text).map_err(|e| {
            let head: String = text.chars().take(60).collect();
            format!("not a calibration_fit result ({e}): '{head}'")
        })?;
        if [c.a, c.b, c.c, c.d].iter().all(|v| v.is_finite()) {
            Ok(c)
        } else {
            Err("calibration coefficients are not finite".into())
        }
    }

    pub fn to_json(&self) -> Result<String, String> {
        if [self.a, self.b, self.c, self.d]
            .iter()
            .all(|v| v.is_finite())
        {
            serde_json::to_string(self).map_err(|e| e.to_string())
        } else {
            Err("the calibration fit produced a non-finite coefficient".into())
        }
    }
}

/// `[ln p, -ln(1 - p)]` with `p` clamped away from 0 and 1 (NaN reads as 0.5).
fn log_terms(p: f64) -> [f64; 2] {
    let p = if p.is_nan() { 0.5 } else { p };
    let p = p.clamp(P_MIN, 1.0 - P_MIN);
    [p.ln(), -(-p).ln_1p()]
}

/// Labelled rows reduced to counts per distinct (p, t), in a canonical order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Points {
    counts: BTreeMap<(u64, u64), (u64, u64)>,
}

fn key(v: f64) -> u64 {
    // -0.0 and 0.0 are one value; every NaN is one value.
    if v == 0.0 {
        0
    } else if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

impl Points {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `rows` rows with probability `p` and time `t`, `positives` of them positive.
    pub fn add(&mut self, p: f64, t: f64, rows: u64, positives: u64) {
        let e = self.counts.entry((key(p), key(t))).or_insert((0, 0));
        e.0 += rows;
        e.1 += positives;
    }

    /// (p, t, rows, positives) per distinct point, in the canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (f64, f64, u64, u64)> + '_ {
        self.counts
            .iter()
            .map(|(&(p, t), &(n, k))| (f64::from_bits(p), f64::from_bits(t), n, k))
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Approximate heap size in bytes.
    pub fn size(&self) -> usize {
        self.counts.len() * 48
    }
}

/// Number of parameters: a, b, c, d.
const K: usize = 4;
/// Where the penalty pulls each parameter (`a` is not penalised).
const PRIOR: [f64; K] = [0.0, 1.0, 1.0, 0.0];

struct Problem {
    /// (features [1, ln p, -ln(1-p), t], rows, positives) per point.
    points: Vec<([f64; K], f64, f64)>,
    l2: f64,
    free: [bool; K],
}

impl Problem {
    fn objective(&self, theta: &[f64; K]) -> f64 {
        let mut f = 0.0;
        for (x, n, k) in &self.points {
            let eta = dot(x, theta);
            f += n * softplus(eta) - k * eta;
        }
        f + 0.5 * self.l2 * (1..K).map(|j| (theta[j] - PRIOR[j]).powi(2)).sum::<f64>()
    }

    fn gradient_hessian(&self, theta: &[f64; K]) -> ([f64; K], [[f64; K]; K]) {
        let mut g = [0.0; K];
        let mut h = [[0.0; K]; K];
        for (x, n, k) in &self.points {
            let p = sigmoid(dot(x, theta));
            let r = n * p - k;
            let w = n * p * (1.0 - p);
            for i in 0..K {
                g[i] += r * x[i];
                for j in i..K {
                    h[i][j] += w * x[i] * x[j];
                }
            }
        }
        for j in 1..K {
            g[j] += self.l2 * (theta[j] - PRIOR[j]);
            h[j][j] += self.l2;
        }
        for i in 0..K {
            for j in 0..i {
                h[i][j] = h[j][i];
            }
        }
        // Fixed parameters do not move: zero gradient, unit diagonal, no coupling.
        for i in 0..K {
            if !self.free[i] {
                g[i] = 0.0;
                for j in 0..K {
                    h[i][j] = 0.0;
                    h[j][i] = 0.0;
                }
                h[i][i] = 1.0;
            }
        }
        (g, h)
    }

    /// Newton's method with a backtracking line search from `theta`.
    fn minimise(&self, mut theta: [f64; K]) -> [f64; K] {
        let mut f = self.objective(&theta);
        for _ in 0..100 {
            let (g, h) = self.gradient_hessian(&theta);
            let Some(step) = solve(h, g) else { break };
            let decrement: f64 = (0..K).map(|i| g[i] * step[i]).sum();
            if !decrement.is_finite() || decrement <= 1e-14 * (1.0 + f.abs()) {
                break;
            }
            let mut t = 1.0;
            let mut accepted = false;
            for _ in 0..60 {
                let mut candidate = theta;
                for i in 0..K {
                    candidate[i] -= t * step[i];
                }
                let fc = self.objective(&candidate);
                if fc.is_finite() && fc <= f - 1e-4 * t * decrement {
                    theta = candidate;
                    f = fc;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                break;
            }
        }
        theta
    }
}

fn dot(x: &[f64; K], theta: &[f64; K]) -> f64 {
    (0..K).fold(0.0, |acc, i| acc + x[i] * theta[i])
}

/// Solves the symmetric positive definite system `h x = g` by Cholesky; None if it is not.
fn solve(h: [[f64; K]; K], g: [f64; K]) -> Option<[f64; K]> {
    let mut l = [[0.0; K]; K];
    for j in 0..K {
        let s = h[j][j] - (0..j).map(|k| l[j][k] * l[j][k]).sum::<f64>();
        if !s.is_finite() || s <= 1e-300 {
            return None;
        }
        l[j][j] = s.sqrt();
        for i in j + 1..K {
            let s = h[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            l[i][j] = s / l[j][j];
        }
    }
    let mut y = [0.0; K];
    for i in 0..K {
        y[i] = (g[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; K];
    for i in (0..K).rev() {
        x[i] = (y[i] - (i + 1..K).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Fits the map to the points (see the module docs). Always finite; the identity without both
/// classes.
pub fn fit(points: &Points, l2: f64) -> Calibration {
    let l2 = if l2.is_finite() && l2 > 1e-9 {
        l2
    } else {
        1e-9
    };
    let (rows, positives) = points
        .iter()
        .fold((0, 0), |(n, k), (_, _, pn, pk)| (n + pn, k + pk));
    if positives == 0 || positives >= rows {
        return Calibration::identity(rows, positives, l2);
    }
    let problem_points: Vec<([f64; K], f64, f64)> = points
        .iter()
        .map(|(p, t, n, k)| {
            let [x1, x2] = log_terms(p);
            let t = if t.is_finite() { t } else { 0.0 };
            ([1.0, x1, x2, t], n as f64, k.min(n) as f64)
        })
        .collect();
    let first_t = problem_points.first().map(|(x, _, _)| x[3]).unwrap_or(0.0);
    let has_trend = problem_points.iter().any(|(x, _, _)| x[3] != first_t);
    let mut problem = Problem {
        points: problem_points,
        l2,
        free: [true, true, true, has_trend],
    };
    let mut theta = PRIOR;
    // Active set for b, c >= 0: fix the most negative at 0 and refit (at most twice).
    for _ in 0..3 {
        theta = problem.minimise(theta);
        let worst = [1, 2]
            .into_iter()
            .filter(|&j| problem.free[j] && theta[j] < 0.0)
            .min_by(|&i, &j| theta[i].total_cmp(&theta[j]));
        match worst {
            Some(j) => {
                problem.free[j] = false;
                theta[j] = 0.0;
            }
            None => break,
        }
    }
    Calibration {
        a: theta[0],
        b: theta[1],
        c: theta[2],
        d: theta[3],
        rows,
        positives,
        l2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn logit(p: f64) -> f64 {
        (p / (1.0 - p)).ln()
    }

    /// Model probabilities whose true calibrated value is `truth`; returns the fitted map.
    fn fit_synthetic(truth: Calibration, n: usize, with_trend: bool, seed: u64) -> Calibration {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut points = Points::new();
        for _ in 0..n {
            let p = sigmoid(rng.random::<f64>() * 8.0 - 6.0);
            let t = if with_trend {
                rng.random::<f64>() * 2.0 - 2.0
            } else {
                0.5
            };
            let y = rng.random::<f64>() < truth.apply(p, t);
            points.add(p, t, 1, u64::from(y));
        }
        fit(&points, 1.0)
    }

    #[test]
    fn recovers_a_known_map() {
        let truth = Calibration {
            a: 0.4,
            b: 1.3,
            c: 0.6,
            d: 0.3,
            ..Calibration::identity(0, 0, 1.0)
        };
        let fitted = fit_synthetic(truth, 200_000, true, 7);
        for (got, want) in [
            (fitted.a, truth.a),
            (fitted.b, truth.b),
            (fitted.c, truth.c),
            (fitted.d, truth.d),
        ] {
            assert!((got - want).abs() < 0.08, "{fitted:?} vs {truth:?}");
        }
        assert_eq!(fitted.rows, 200_000);
    }

    #[test]
    fn a_calibrated_model_keeps_about_the_identity() {
        let fitted = fit_synthetic(Calibration::identity(0, 0, 1.0), 100_000, true, 3);
        for p in [0.01, 0.1, 0.5, 0.9] {
            for t in [-1.0, 0.0] {
                let got = fitted.apply(p, t);
                assert!(
                    (logit(got) - logit(p)).abs() < 0.1,
                    "p {p} t {t}: {got} ({fitted:?})"
                );
            }
        }
    }

    #[test]
    fn constant_time_means_no_trend() {
        let truth = Calibration {
            a: -0.3,
            ..Calibration::identity(0, 0, 1.0)
        };
        let fitted = fit_synthetic(truth, 20_000, false, 5);
        assert_eq!(fitted.d, 0.0);
        // The shift is learnt by a alone (t = 0.5 everywhere, d fixed at 0).
        assert!((fitted.a + 0.3).abs() < 0.15, "{fitted:?}");
    }

    #[test]
    fn slopes_stay_non_negative_so_the_ranking_is_kept() {
        // Outcomes that fall as p rises: the unconstrained fit would reverse the ranking.
        let mut points = Points::new();
        for i in 1..100 {
            let p = f64::from(i) / 100.0;
            points.add(p, 0.0, 100, (100.0 * (1.0 - p)) as u64);
        }
        let fitted = fit(&points, 1.0);
        assert!(fitted.b >= 0.0 && fitted.c >= 0.0, "{fitted:?}");
        let mut last = 0.0;
        for i in 1..100 {
            let q = fitted.apply(f64::from(i) / 100.0, 0.0);
            assert!(q >= last, "not monotone at {i}: {q} < {last}");
            last = q;
        }
    }

    #[test]
    fn degenerate_input_is_the_identity() {
        assert_eq!(fit(&Points::new(), 1.0), Calibration::identity(0, 0, 1.0));
        let mut negatives = Points::new();
        negatives.add(0.2, 0.0, 10, 0);
        let c = fit(&negatives, 1.0);
        assert_eq!((c.a, c.b, c.c, c.d), (0.0, 1.0, 1.0, 0.0));
        assert_eq!(c.apply(0.2, 3.0), sigmoid(logit(0.2)));
        // Extreme probabilities are clamped, never infinite.
        assert!(c.apply(1.0, 0.0).is_finite() && c.apply(0.0, 0.0) > 0.0);
    }

    #[test]
    fn json_round_trip_and_errors() {
        let c = Calibration {
            a: 0.1,
            b: 1.2,
            c: 0.9,
            d: 0.05,
            rows: 10,
            positives: 3,
            l2: 1.0,
        };
        let text = c.to_json().unwrap();
        assert_eq!(Calibration::parse(&text).unwrap(), c);
        assert!(Calibration::parse("{}").is_err());
        assert!(Calibration::parse("nope").is_err());
    }

    #[test]
    fn same_points_in_any_order_give_the_same_bits() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let rows: Vec<(f64, f64, bool)> = (0..5000)
            .map(|_| {
                let p = rng.random::<f64>();
                (
                    p,
                    (rng.random::<f64>() * 4.0).floor(),
                    rng.random::<f64>() < p,
                )
            })
            .collect();
        let mut forward = Points::new();
        for (p, t, y) in &rows {
            forward.add(*p, *t, 1, u64::from(*y));
        }
        let mut backward = Points::new();
        for (p, t, y) in rows.iter().rev() {
            backward.add(*p, *t, 1, u64::from(*y));
        }
        assert_eq!(fit(&forward, 1.0), fit(&backward, 1.0));
    }
}
