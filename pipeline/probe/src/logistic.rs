//! Binary logistic regression with an L2 penalty and per-sample weights, solved by Newton's
//! method with a backtracking line search (f64 throughout). The objective is scikit-learn's:
//!
//! `½‖w‖² + C · Σᵢ sᵢ · log(1 + exp(−ỹᵢ (w·xᵢ + b)))`, ỹᵢ = ±1, the intercept unpenalised,
//!
//! so `class_weight="balanced"` corresponds to `sᵢ = n / (2 · n_{yᵢ})`.

use crate::ProbeError;

/// A fitted linear model: `p(positive | x) = σ(w·x + b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub weights: Vec<f64>,
    pub bias: f64,
}

impl Logistic {
    /// The decision value `w·x + b`.
    pub fn logit(&self, x: &[f64]) -> f64 {
        self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>() + self.bias
    }

    pub fn probability(&self, x: &[f64]) -> f64 {
        sigmoid(self.logit(x))
    }
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 { 1.0 / (1.0 + (-z).exp()) } else { z.exp() / (1.0 + z.exp()) }
}

/// `log(1 + exp(−m))`, stable for any margin `m`.
fn log_loss(m: f64) -> f64 {
    if m > 0.0 { (-m).exp().ln_1p() } else { -m + m.exp().ln_1p() }
}

/// Balanced class weights: `n / (2 · n_class)` per sample.
pub fn balanced_weights(labels: &[bool]) -> Vec<f64> {
    let n = labels.len() as f64;
    let pos = labels.iter().filter(|l| **l).count() as f64;
    labels.iter().map(|&l| n / (2.0 * if l { pos } else { n - pos })).collect()
}

/// Fits the model to rows `x` (each of `dim` values) with labels and sample weights.
pub fn fit(x: &[Vec<f64>], labels: &[bool], sample_weights: &[f64], c: f64) -> Result<Logistic, ProbeError> {
    let n = x.len();
    if n == 0 || labels.len() != n || sample_weights.len() != n {
        return Err(ProbeError::Data("no training rows (or labels and rows disagree)".into()));
    }
    if labels.iter().all(|l| *l) || labels.iter().all(|l| !*l) {
        return Err(ProbeError::Data("the training set has only one class".into()));
    }
    if !(c.is_finite() && c > 0.0) {
        return Err(ProbeError::Data(format!("C must be positive, got {c}")));
    }
    let dim = x[0].len();
    let p = dim + 1; // weights, then the bias
    let objective = |theta: &[f64]| -> f64 {
        let reg: f64 = theta[..dim].iter().map(|w| w * w).sum::<f64>() / 2.0;
        reg + c * (0..n).map(|i| sample_weights[i] * log_loss(signed(labels[i]) * margin(theta, &x[i]))).sum::<f64>()
    };
    let mut theta = vec![0f64; p];
    let mut value = objective(&theta);
    for _ in 0..100 {
        // gradient and Hessian
        let mut g = vec![0f64; p];
        let mut h = vec![0f64; p * p];
        for k in 0..dim {
            g[k] = theta[k];
            h[k * p + k] = 1.0;
        }
        for i in 0..n {
            let z = margin(&theta, &x[i]);
            let q = sigmoid(z);
            let y = if labels[i] { 1.0 } else { 0.0 };
            let (r, s) = (c * sample_weights[i] * (q - y), c * sample_weights[i] * q * (1.0 - q));
            let xi = |k: usize| if k < dim { x[i][k] } else { 1.0 };
            for a in 0..p {
                g[a] += r * xi(a);
                let sa = s * xi(a);
                for b in a..p {
                    h[a * p + b] += sa * xi(b);
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                h[a * p + b] = h[b * p + a];
            }
        }
        let gnorm = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
        if gnorm < 1e-10 * (1.0 + value.abs()) {
            break;
        }
        let step = solve_spd(&h, &g, p)
            .ok_or_else(|| ProbeError::Data("the problem is singular (constant features?)".into()))?;
        let slope: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
        let mut t = 1.0;
        loop {
            let cand: Vec<f64> = theta.iter().zip(&step).map(|(v, d)| v - t * d).collect();
            let v = objective(&cand);
            if v <= value - 1e-4 * t * slope || t < 1e-12 {
                theta = cand;
                let done = (value - v).abs() <= 1e-15 * value.abs().max(1.0);
                value = v;
                if done {
                    return Ok(Logistic { bias: theta[dim], weights: theta[..dim].to_vec() });
                }
                break;
            }
            t /= 2.0;
        }
    }
    Ok(Logistic { bias: theta[dim], weights: theta[..dim].to_vec() })
}

fn signed(label: bool) -> f64 {
    if label { 1.0 } else { -1.0 }
}

fn margin(theta: &[f64], x: &[f64]) -> f64 {
    let dim = x.len();
    theta[..dim].iter().zip(x).map(|(w, v)| w * v).sum::<f64>() + theta[dim]
}

/// Solves `H d = g` for a symmetric positive definite `H` (p × p) by Cholesky.
fn solve_spd(h: &[f64], g: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; p * p];
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = h[i * p + j] - (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    let mut y = vec![0f64; p];
    for i in 0..p {
        y[i] = (g[i] - (0..i).map(|k| l[i * p + k] * y[k]).sum::<f64>()) / l[i * p + i];
    }
    let mut d = vec![0f64; p];
    for i in (0..p).rev() {
        d[i] = (y[i] - (i + 1..p).map(|k| l[k * p + i] * d[k]).sum::<f64>()) / l[i * p + i];
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 rows of 3 features and their labels (15 positive), made by a formula the test and
    /// the reference script share.
    fn reference_set() -> (Vec<Vec<f64>>, Vec<bool>) {
        let x: Vec<Vec<f64>> = (0..40)
            .map(|i| (0..3).map(|j| (i as f64 * 1.3 + j as f64 * 0.7).sin() * (j + 1) as f64).collect())
            .collect();
        let y = x
            .iter()
            .enumerate()
            .map(|(i, r)| r[0] + 0.5 * r[1] - 0.3 * r[2] + 0.8 * (i as f64 * 2.1).cos() > 0.6)
            .collect();
        (x, y)
    }

    /// The optimum scikit-learn 1.9.1 finds on the same data:
    /// `LogisticRegression(C=0.5, tol=1e-12, max_iter=100000[, class_weight="balanced"])`.
    #[test]
    fn matches_scikit_learn_with_and_without_class_weights() {
        let (x, y) = reference_set();
        assert_eq!(y.iter().filter(|v| **v).count(), 15);
        let balanced = fit(&x, &y, &balanced_weights(&y), 0.5).unwrap();
        let want = [1.1594899474574116, 1.2405710323383565, -0.6319466568058958];
        for (g, w) in balanced.weights.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{:?} vs {want:?}", balanced.weights);
        }
        assert!((balanced.bias - -0.5643766393876753).abs() < 1e-6, "{}", balanced.bias);
        let plain = fit(&x, &y, &[1.0; 40], 0.5).unwrap();
        let want = [1.1352699734603169, 1.2184959177224661, -0.6099386716567319];
        for (g, w) in plain.weights.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{:?} vs {want:?}", plain.weights);
        }
        assert!((plain.bias - -0.944793519826111).abs() < 1e-6, "{}", plain.bias);
    }

    #[test]
    fn separable_data_is_separated_and_one_class_is_refused() {
        // 1-D: negatives below 0, positives above; the penalty keeps the weights finite
        let x: Vec<Vec<f64>> = (-10..10).map(|i| vec![i as f64 + 0.5]).collect();
        let y: Vec<bool> = x.iter().map(|r| r[0] > 0.0).collect();
        let m = fit(&x, &y, &[1.0; 20], 10.0).unwrap();
        assert!(m.weights[0] > 0.0 && m.weights[0].is_finite());
        assert!(x.iter().zip(&y).all(|(r, &l)| (m.probability(r) > 0.5) == l));
        assert!(fit(&x, &[true; 20], &[1.0; 20], 1.0).is_err());
    }
}
