//! Numbers and dates for humans: `1,234`, `631.4k`, `87.4%`, `3.7×`, `Nov 2026`.
//!
//! Every formatter takes an `Option<f64>`: published ratios are NULL when their denominator is 0,
//! and a missing value is shown as an en dash ([`NONE`]), never as `NaN`, `inf` or `0`.

/// What a missing value (NULL, or a non-finite number) is shown as.
pub const NONE: &str = "–";

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// An integer with thousands separators: `1234567` -> `1,234,567`.
pub fn int(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0 {
        out.push('-');
    }
    let lead = digits.len() % 3;
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (i + 3 - lead).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count (rounded to a whole number) with thousands separators.
pub fn count(v: Option<f64>) -> String {
    match finite(v) {
        Some(x) => int(x.round() as i64),
        None => NONE.into(),
    }
}

/// A short number: `950`, `12.3`, `45.3k`, `1.23M`, `2.1B` (money is in the company currency,
/// without a symbol, as in the input contract).
pub fn compact(v: Option<f64>) -> String {
    let Some(x) = finite(v) else {
        return NONE.into();
    };
    let a = x.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (x / 1e9, "B")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e4 {
        (x / 1e3, "k")
    } else if a >= 1e3 {
        return int(x.round() as i64);
    } else {
        (x, "")
    };
    let s = if scaled.abs() >= 100.0 || (suffix.is_empty() && scaled.fract().abs() < 1e-9) {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 || suffix.is_empty() {
        format!("{scaled:.1}")
    } else {
        format!("{scaled:.2}")
    };
    format!("{}{suffix}", trim_zeros(&s))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// A share as a percentage: `0.874` -> `87.4%` (with `digits` decimals).
pub fn pct(v: Option<f64>, digits: usize) -> String {
    match finite(v) {
        Some(x) => format!("{:.*}%", digits, x * 100.0),
        None => NONE.into(),
    }
}

/// A plain number with `digits` decimals.
pub fn num(v: Option<f64>, digits: usize) -> String {
    match finite(v) {
        Some(x) => format!("{x:.digits$}"),
        None => NONE.into(),
    }
}

/// A multiple: `3.67` -> `3.7×`.
pub fn ratio(v: Option<f64>) -> String {
    match finite(v) {
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}×"),
        Some(x) => format!("{x:.1}×"),
        None => NONE.into(),
    }
}

/// Months: `16.35` -> `16.3 mo`.
pub fn months(v: Option<f64>) -> String {
    match finite(v) {
        Some(x) => format!("{x:.1} mo"),
        None => NONE.into(),
    }
}

/// Days: `11.51` -> `11.5 d`.
pub fn days(v: Option<f64>) -> String {
    match finite(v) {
        Some(x) => format!("{x:.1} d"),
        None => NONE.into(),
    }
}

/// Hours: `716.8` -> `717 h`.
pub fn hours(v: Option<f64>) -> String {
    match finite(v) {
        Some(x) => format!("{} h", int(x.round() as i64)),
        None => NONE.into(),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn split_month(iso: &str) -> Option<(&str, usize)> {
    let mut parts = iso.split('-');
    let year = parts.next()?;
    let month: usize = parts.next()?.parse().ok()?;
    (year.len() == 4 && (1..=12).contains(&month)).then_some((year, month))
}

/// `2026-11-01` -> `Nov 2026` (other text is returned as it is).
pub fn month_label(iso: &str) -> String {
    match split_month(iso) {
        Some((y, m)) => format!("{} {y}", MONTHS[m - 1]),
        None => iso.to_string(),
    }
}

/// `2026-11-01` -> `Nov 26`, for axes.
pub fn month_short(iso: &str) -> String {
    match split_month(iso) {
        Some((y, m)) => format!("{} {}", MONTHS[m - 1], &y[2..]),
        None => iso.to_string(),
    }
}
