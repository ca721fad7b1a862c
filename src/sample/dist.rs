//! Random draws and the little math they need, written so that the output is identical on
//! every machine.
//!
//! Only the raw ChaCha8 stream is taken from the `rand` family; every distribution on top of it
//! is ours, so upgrading `rand` cannot change the generated files. Transcendental functions
//! from the platform's libm may differ in the last bit between systems, so `exp` and `ln` are
//! computed here from `+ - * /` (IEEE 754 exact on every target Rust supports); `sqrt` is
//! correctly rounded by IEEE 754 and is used as is.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator's single source of randomness.
pub struct Rand {
    rng: ChaCha8Rng,
}

impl Rand {
    /// Seeds ChaCha8 with 32 bytes expanded from `seed` by SplitMix64 (fixed here, unlike
    /// `seed_from_u64`, whose expansion is up to the `rand_core` version).
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes());
        }
        Rand {
            rng: ChaCha8Rng::from_seed(key),
        }
    }

    pub fn u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform integer in [lo, hi] (inclusive); `lo` when the range is empty.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + self.below(span) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal by the polar form of Box-Muller (no trigonometry needed).
    pub fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.f64() - 1.0;
            let v = 2.0 * self.f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * ln(s) / s).sqrt();
            }
        }
    }

    /// Log-normal with the given median and log-scale spread.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * exp(sigma * self.normal())
    }

    /// Index drawn with probability proportional to `weights` (non-negative); 0 for an empty
    /// or all-zero slice.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        if weights.is_empty() || total <= 0.0 {
            return 0;
        }
        let mut target = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if target < *w {
                return i;
            }
            target -= w;
        }
        weights.len() - 1
    }

    /// Index drawn by a weight read from each item.
    pub fn weighted_by<T>(&mut self, items: &[T], weight: impl Fn(&T) -> f64) -> usize {
        let total: f64 = items.iter().map(&weight).sum();
        if items.is_empty() || total <= 0.0 {
            return 0;
        }
        let mut target = self.f64() * total;
        for (i, item) in items.iter().enumerate() {
            let w = weight(item);
            if target < w {
                return i;
            }
            target -= w;
        }
        items.len() - 1
    }

    /// A uniformly chosen element; `fallback` for an empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T], fallback: T) -> T {
        if items.is_empty() {
            return fallback;
        }
        items[self.below(items.len() as u64) as usize]
    }
}

const LN_2: f64 = std::f64::consts::LN_2;
/// ln 2 split in a high part with trailing zero bits and the remainder (fdlibm's constants).
const LN_2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN_2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// e^x to about 1 ulp, from basic arithmetic only. Saturates outside [-700, 700], which is
/// far beyond anything the generator needs.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let x = x.clamp(-700.0, 700.0);
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = (x - k * LN_2_HI) - k * LN_2_LO;
    // Taylor series of e^r for |r| <= ln(2)/2, Horner form, terms to r^14/14!.
    let mut p = 1.0;
    let mut n = 14.0;
    while n >= 1.0 {
        p = 1.0 + p * r / n;
        n -= 1.0;
    }
    p * pow2(k as i32)
}

/// 2^k for k in [-1022, 1023] (exact; built from the exponent bits).
fn pow2(k: i32) -> f64 {
    let k = k.clamp(-1022, 1023);
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// Natural logarithm to about 1 ulp from basic arithmetic: x = m * 2^e with m in
/// [sqrt(1/2), sqrt(2)), ln(m) = 2 atanh((m-1)/(m+1)) by its series. NaN for x < 0,
/// -inf for 0.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    let (x, extra) = if x < f64::MIN_POSITIVE {
        (x * 18_014_398_509_481_984.0, -54) // subnormal: scale by 2^54 first
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i32 - 1023 + extra;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // atanh(s) = s (1 + s^2/3 + s^4/5 + ...), |s| < 0.1716, terms to s^22.
    let mut sum = 0.0;
    let mut k = 23.0;
    while k >= 1.0 {
        sum = 1.0 / k + s2 * sum;
        k -= 2.0;
    }
    f64::from(e) * LN_2 + 2.0 * s * sum
}

/// The logistic function 1 / (1 + e^-x).
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_ln_match_the_platform_closely() {
        for i in -400..=400 {
            let x = f64::from(i) * 0.05;
            let ours = exp(x);
            let std = x.exp();
            assert!(
                ((ours - std) / std).abs() < 1e-14,
                "exp({x}) = {ours} vs {std}"
            );
        }
        for i in 1..2000 {
            let x = f64::from(i) * 0.013;
            let ours = ln(x);
            let std = x.ln();
            assert!((ours - std).abs() < 1e-14 * std.abs().max(1.0), "ln({x})");
        }
        assert!((ln(1e-310) - 1e-310f64.ln()).abs() < 1e-12);
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(-1.0).is_nan());
    }

    #[test]
    fn draws_are_reproducible_and_sane() {
        let mut a = Rand::new(7);
        let mut b = Rand::new(7);
        let xs: Vec<u64> = (0..16).map(|_| a.u64()).collect();
        let ys: Vec<u64> = (0..16).map(|_| b.u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rand::new(8).u64(), xs[0]);

        let mut r = Rand::new(1);
        let n = 20_000;
        let (mut sum, mut sq) = (0.0, 0.0);
        for _ in 0..n {
            let z = r.normal();
            sum += z;
            sq += z * z;
        }
        let mean = sum / f64::from(n);
        let var = sq / f64::from(n) - mean * mean;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );

        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[r.weighted(&[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > 2 * counts[0]);
        assert_eq!(r.weighted(&[]), 0);
        assert_eq!(r.below(0), 0);
        assert_eq!(r.int(5, 5), 5);
        for _ in 0..1000 {
            let v = r.int(-3, 3);
            assert!((-3..=3).contains(&v));
        }
    }
}
