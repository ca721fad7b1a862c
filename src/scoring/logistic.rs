//! L2-regularised logistic regression on a sparse one-hot design, fitted by Newton's method.
//!
//! The model: `P(y = 1 | x) = sigmoid(b + sum_j w_j x_j)` with `x_j` in {0, 1}. The fit minimises
//!
//! ```text
//! f(b, w) = sum over patterns p of [ n_p * softplus(eta_p) - k_p * eta_p ] + l2 / 2 * |w|^2
//! eta_p   = b + sum of w_j over the tokens j of p
//! ```
//!
//! which is the negative log-likelihood of the rows (`n_p` rows with pattern `p`, `k_p` of them
//! positive) plus a ridge penalty on the weights only: the intercept is free, so at the optimum
//! the mean predicted probability on the training rows equals the observed positive rate exactly
//! (the gradient with respect to `b` is `sum (n_p * p_p - k_p) = 0`). `l2` has the scale of
//! scikit-learn's `1 / C` (`LogisticRegression(C = 1 / l2)` minimises the same function).
//!
//! Newton step: solve `H d = g` with the dense `(p + 1) x (p + 1)` Hessian
//! `H = sum n_p s_p (1 - s_p) x_p x_p' + l2 * I` (no penalty on the intercept's diagonal) by
//! Cholesky, then a backtracking (Armijo) line search, so every accepted step lowers `f`. If the
//! Hessian is not numerically positive definite (saturated probabilities), the diagonal is damped
//! (Levenberg style, growing by 100x); if that still fails, a scaled gradient step is taken. The
//! objective is strictly convex for `l2 > 0` (both classes present), so the optimum is unique and
//! finite even for perfectly separable data; that makes the result a function of the data alone.
//!
//! Degenerate input has no finite maximum-likelihood intercept: with no rows or a single class the
//! model is the smoothed base rate `logit((k + 0.5) / (n + 1))` (Jeffreys prior) and no weights.
//!
//! Everything here is sequential floating point in a fixed order over a canonically sorted design,
//! so the same design gives bit-identical coefficients.

/// The fit's input: one row per distinct pattern, tokens numbered `0..tokens.len()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Design {
    /// Token names; token id `j` is `tokens[j]`.
    pub tokens: Vec<String>,
    /// Pattern `i` holds `ids[offsets[i]..offsets[i + 1]]` (sorted, distinct).
    pub offsets: Vec<usize>,
    pub ids: Vec<u32>,
    /// Rows with the pattern.
    pub rows: Vec<f64>,
    /// Positive rows with the pattern.
    pub positives: Vec<f64>,
    /// Totals over all patterns (exact integers).
    pub total_rows: u64,
    pub total_positives: u64,
}

impl Design {
    pub fn new(tokens: Vec<String>) -> Self {
        Self {
            tokens,
            offsets: vec![0],
            ..Self::default()
        }
    }

    /// Appends a pattern (`ids` sorted, distinct, below `tokens.len()`).
    pub fn push(&mut self, ids: &[u32], rows: u64, positives: u64) {
        self.ids.extend_from_slice(ids);
        self.offsets.push(self.ids.len());
        self.rows.push(rows as f64);
        self.positives.push(positives as f64);
        self.total_rows += rows;
        self.total_positives += positives;
    }

    pub fn patterns(&self) -> usize {
        self.rows.len()
    }

    pub fn pattern(&self, i: usize) -> &[u32] {
        &self.ids[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// Settings of the solver.
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    /// Ridge strength on the weights (not the intercept); floored at [`MIN_L2`].
    pub l2: f64,
    /// Newton iterations at most.
    pub max_iterations: usize,
    /// Stop when half the Newton decrement (an estimate of `f - f_min`) is below
    /// `tolerance * (1 + |f|)`.
    pub tolerance: f64,
}

/// Smallest ridge strength used: keeps the problem strictly convex (finite weights on separable
/// data) when a caller asks for `l2 = 0`.
pub const MIN_L2: f64 = 1e-6;

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            l2: 1.0,
            max_iterations: 100,
            tolerance: 1e-13,
        }
    }
}

/// The fitted coefficients.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub intercept: f64,
    /// One weight per design token; empty for a degenerate (empty or single-class) design.
    pub weights: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

/// Numerically stable logistic function.
pub fn sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^eta)` without overflow.
pub(super) fn softplus(eta: f64) -> f64 {
    eta.max(0.0) + (-eta.abs()).exp().ln_1p()
}

/// `logit((k + 0.5) / (n + 1))`: the base rate with a Jeffreys prior, finite for any counts.
pub fn smoothed_base_logit(rows: u64, positives: u64) -> f64 {
    let p = (positives as f64 + 0.5) / (rows as f64 + 1.0);
    (p / (1.0 - p)).ln()
}

/// Fits the model. Never panics on a well-formed design; the result is always finite.
pub fn fit(design: &Design, options: FitOptions) -> Fit {
    let base = smoothed_base_logit(design.total_rows, design.total_positives);
    if design.total_positives == 0 || design.total_positives >= design.total_rows {
        return Fit {
            intercept: base,
            weights: Vec::new(),
            iterations: 0,
            converged: true,
        };
    }
    let l2 = if options.l2.is_finite() && options.l2 > MIN_L2 {
        options.l2
    } else {
        MIN_L2
    };
    let d = design.tokens.len() + 1;
    let mut theta = vec![0.0; d];
    theta[0] = base;
    let mut f = objective(design, &theta, l2);
    let mut grad = vec![0.0; d];
    let mut hess = vec![0.0; d * d];
    let mut step = vec![0.0; d];
    let mut candidate = vec![0.0; d];
    let mut converged = false;
    let mut iterations = 0;

    while iterations < options.max_iterations {
        iterations += 1;
        gradient_hessian(design, &theta, l2, &mut grad, &mut hess);
        if !newton_direction(&mut hess, &grad, d, &mut step) {
            // Not positive definite even with damping: scaled steepest descent.
            let scale = (0..d).map(|i| hess[i * d + i]).fold(1.0, f64::max);
            for i in 0..d {
                step[i] = grad[i] / scale;
            }
        }
        let decrement: f64 = grad.iter().zip(&step).map(|(g, s)| g * s).sum();
        if !decrement.is_finite() || decrement <= 0.0 {
            // No descent direction left: at the optimum up to rounding.
            converged = decrement.is_finite();
            break;
        }
        // Backtracking line search with the Armijo condition.
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            for i in 0..d {
                candidate[i] = theta[i] - t * step[i];
            }
            let fc = objective(design, &candidate, l2);
            if fc.is_finite() && fc <= f - 1e-4 * t * decrement {
                std::mem::swap(&mut theta, &mut candidate);
                f = fc;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        let tiny_step = step.iter().all(|s| (t * s).abs() <= 1e-12);
        if decrement / 2.0 <= options.tolerance * (1.0 + f.abs()) || tiny_step || !accepted {
            // Without an accepted step we are within rounding of the optimum: f cannot be lowered
            // measurably along a descent direction.
            converged = accepted || decrement / 2.0 <= 1e-9 * (1.0 + f.abs());
            break;
        }
    }
    Fit {
        intercept: theta[0],
        weights: theta[1..].to_vec(),
        iterations,
        converged,
    }
}

fn linear_predictor(theta: &[f64], ids: &[u32]) -> f64 {
    ids.iter()
        .fold(theta[0], |acc, &j| acc + theta[j as usize + 1])
}

/// The penalised negative log-likelihood.
pub fn objective(design: &Design, theta: &[f64], l2: f64) -> f64 {
    let mut f = 0.0;
    for p in 0..design.patterns() {
        let eta = linear_predictor(theta, design.pattern(p));
        f += design.rows[p] * softplus(eta) - design.positives[p] * eta;
    }
    f + 0.5 * l2 * theta[1..].iter().map(|w| w * w).sum::<f64>()
}

/// Gradient and the upper triangle (with diagonal) of the Hessian, row-major `d x d`.
fn gradient_hessian(design: &Design, theta: &[f64], l2: f64, grad: &mut [f64], hess: &mut [f64]) {
    let d = theta.len();
    grad.fill(0.0);
    hess.fill(0.0);
    for p in 0..design.patterns() {
        let ids = design.pattern(p);
        let prob = sigmoid(linear_predictor(theta, ids));
        let n = design.rows[p];
        let r = n * prob - design.positives[p];
        let w = n * prob * (1.0 - prob);
        grad[0] += r;
        hess[0] += w;
        for (a, &ja) in ids.iter().enumerate() {
            let ia = ja as usize + 1;
            grad[ia] += r;
            hess[ia] += w; // row 0: the intercept's cross term
            let row = &mut hess[ia * d..(ia + 1) * d];
            // ids are sorted, so the later ones index the upper triangle of row ia.
            for &jb in &ids[a..] {
                row[jb as usize + 1] += w;
            }
        }
    }
    for i in 1..d {
        grad[i] += l2 * theta[i];
        hess[i * d + i] += l2;
    }
}

/// Solves `H step = grad` by Cholesky, damping the diagonal when a pivot is not positive.
/// `hess` holds H in its upper triangle; the factor is written into its lower triangle and the
/// diagonal (the upper triangle stays H). Returns false when every damping failed.
fn newton_direction(hess: &mut [f64], grad: &[f64], d: usize, step: &mut [f64]) -> bool {
    let diagonal: Vec<f64> = (0..d).map(|i| hess[i * d + i]).collect();
    let max_diag = diagonal.iter().copied().fold(0.0, f64::max);
    let mut damping = 0.0;
    for _ in 0..12 {
        for (i, v) in diagonal.iter().enumerate() {
            hess[i * d + i] = v + damping;
        }
        if cholesky_in_place(hess, d) {
            solve_in_place(hess, d, grad, step);
            if step.iter().all(|s| s.is_finite()) {
                return true;
            }
        }
        damping = if damping == 0.0 {
            1e-10 * max_diag.max(1.0)
        } else {
            damping * 100.0
        };
    }
    for (i, v) in diagonal.iter().enumerate() {
        hess[i * d + i] = *v;
    }
    false
}

/// Cholesky `A = L L'` reading A from the upper triangle, writing L to the lower triangle and the
/// diagonal. False when a pivot is not positive (A not numerically positive definite).
fn cholesky_in_place(a: &mut [f64], d: usize) -> bool {
    let eps = 1e-13 * (0..d).map(|i| a[i * d + i].abs()).fold(0.0, f64::max);
    for j in 0..d {
        let row_j = &mut a[j * d..j * d + d];
        let s = row_j[j] - row_j[..j].iter().map(|v| v * v).sum::<f64>();
        if !s.is_finite() || s <= eps {
            return false;
        }
        let pivot = s.sqrt();
        row_j[j] = pivot;
        // Column j below the diagonal: L[i][j] = (A[j][i] - L[i][..j] . L[j][..j]) / L[j][j].
        for i in j + 1..d {
            let (upper, lower) = a.split_at_mut(i * d);
            let row_j = &upper[j * d..j * d + d];
            let row_i = &mut lower[..d];
            let dot: f64 = row_i[..j].iter().zip(&row_j[..j]).map(|(x, y)| x * y).sum();
            row_i[j] = (row_j[i] - dot) / pivot;
        }
    }
    true
}

/// Forward then back substitution with the factor in the lower triangle of `l`.
fn solve_in_place(l: &[f64], d: usize, b: &[f64], x: &mut [f64]) {
    for i in 0..d {
        let row = &l[i * d..i * d + d];
        let dot: f64 = row[..i].iter().zip(&x[..i]).map(|(a, b)| a * b).sum();
        x[i] = (b[i] - dot) / row[i];
    }
    for i in (0..d).rev() {
        let mut s = x[i];
        for k in i + 1..d {
            s -= l[k * d + i] * x[k];
        }
        x[i] = s / l[i * d + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        // A = [[4, 2, 0], [2, 3, 1], [0, 1, 2]] stored in the upper triangle.
        let d = 3;
        let mut a = vec![4.0, 2.0, 0.0, 0.0, 3.0, 1.0, 0.0, 0.0, 2.0];
        let b = [2.0, 1.0, 3.0];
        let mut x = [0.0; 3];
        assert!(newton_direction(&mut a, &b, d, &mut x));
        let full = [[4.0, 2.0, 0.0], [2.0, 3.0, 1.0], [0.0, 1.0, 2.0]];
        for i in 0..3 {
            let ax: f64 = (0..3).map(|k| full[i][k] * x[k]).sum();
            assert!((ax - b[i]).abs() < 1e-12, "row {i}: {ax} vs {}", b[i]);
        }
    }

    #[test]
    fn cholesky_rejects_indefinite_and_damping_rescues_singular() {
        let mut indefinite = vec![1.0, 2.0, 0.0, 1.0];
        assert!(!cholesky_in_place(&mut indefinite, 2));
        // Singular PSD [[1, 1], [1, 1]]: damping makes it solvable.
        let mut singular = vec![1.0, 1.0, 0.0, 1.0];
        let mut x = [0.0; 2];
        assert!(newton_direction(&mut singular, &[1.0, 1.0], 2, &mut x));
        assert!(x.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn intercept_only_matches_the_base_rate() {
        let mut design = Design::new(vec![]);
        design.push(&[], 1000, 250);
        let fit = fit(&design, FitOptions::default());
        assert!(fit.converged);
        assert!((sigmoid(fit.intercept) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn degenerate_designs_give_the_smoothed_base_rate() {
        let empty = Design::new(vec![]);
        let f = fit(&empty, FitOptions::default());
        assert_eq!(f.intercept, 0.0);
        assert!(f.weights.is_empty());

        let mut negatives = Design::new(vec!["a".into()]);
        negatives.push(&[0], 10, 0);
        negatives.push(&[], 9, 0);
        let f = fit(&negatives, FitOptions::default());
        assert!((sigmoid(f.intercept) - 0.5 / 20.0).abs() < 1e-12);
        assert!(f.weights.is_empty());
    }
}
