//! When leads are created: a daily weight (volume grows threefold over the history, weekends
//! and the end of December are quiet) turned into a cumulative table, and lead `i` of `n`
//! placed at quantile `(i + u) / n` of it. Leads therefore come out in creation order, and
//! the table is the only state (one number per day).

use super::calendar::{self, Day, Ts};

pub struct Timeline {
    start: Day,
    cumulative: Vec<f64>,
}

impl Timeline {
    pub fn new(start: Day, end: Day) -> Timeline {
        let days = (end - start + 1).max(1);
        let mut cumulative = Vec::with_capacity(days as usize);
        let mut total = 0.0;
        for k in 0..days {
            let day = start + k;
            let growth = 1.0 + 2.0 * k as f64 / days as f64;
            let weekday = match calendar::weekday(day) {
                5 => 0.35,
                6 => 0.30,
                _ => 1.0,
            };
            let (_, month, dom) = calendar::civil_from_days(day);
            let season = match (month, dom) {
                (12, d) if d >= 20 => 0.5,
                (8, _) => 0.85,
                _ => 1.0,
            };
            total += growth * weekday * season;
            cumulative.push(total);
        }
        Timeline { start, cumulative }
    }

    /// Creation time of lead `i` of `n`, with `u` in [0, 1) placing it inside its stratum.
    /// Non-decreasing in `i`; between 06:00 and 20:00 UTC.
    pub fn at(&self, i: u64, n: u64, u: f64) -> Ts {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = (i as f64 + u) / n.max(1) as f64 * total;
        let last = self.cumulative.len().saturating_sub(1);
        let k = self.cumulative.partition_point(|&c| c <= target).min(last);
        let before = if k == 0 { 0.0 } else { self.cumulative[k - 1] };
        let weight = self.cumulative.get(k).map_or(0.0, |c| c - before);
        let within = if weight > 0.0 {
            ((target - before) / weight).clamp(0.0, 0.999_999)
        } else {
            0.5
        };
        calendar::start_of(self.start + k as i64) + 6 * 3600 + (within * 14.0 * 3600.0) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_times_are_ordered_inside_the_history_and_grow() {
        let start = calendar::days_from_civil(2023, 11, 16);
        let end = calendar::days_from_civil(2026, 11, 15);
        let t = Timeline::new(start, end);
        let n = 3000;
        let mut prev = i64::MIN;
        let mut first_year = 0;
        let mut last_year = 0;
        for i in 0..n {
            let at = t.at(i, n, 0.5);
            assert!(at >= prev);
            prev = at;
            let day = calendar::day_of(at);
            assert!(day >= start && day <= end);
            if day < start + 365 {
                first_year += 1;
            }
            if day > end - 365 {
                last_year += 1;
            }
        }
        assert!(10 * last_year > 17 * first_year, "{first_year} {last_year}");
        assert_eq!(calendar::day_of(t.at(0, 0, 0.0)), start);
    }
}
