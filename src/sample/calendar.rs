//! Dates and times as plain integers (days and seconds since 1970-01-01, UTC) with the
//! formatting the CSV files use. Integer arithmetic keeps the hot loop fast and the output
//! independent of any time-zone database.

/// Days since 1970-01-01.
pub type Day = i64;
/// Seconds since 1970-01-01T00:00:00 UTC.
pub type Ts = i64;

pub const DAY_SECS: i64 = 86_400;

/// Days since the epoch of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Day {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number.
pub fn civil_from_days(days: Day) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The same day of the month `n` months later (clamped to the month's last day).
pub fn add_months(day: Day, n: i64) -> Day {
    let (y, m, d) = civil_from_days(day);
    let total = y * 12 + i64::from(m) - 1 + n;
    let ny = total.div_euclid(12);
    let nm = (total.rem_euclid(12) + 1) as u32;
    days_from_civil(ny, nm, d.min(days_in_month(ny, nm)))
}

/// Months since year 0 (year * 12 + month - 1): a dense month number.
pub fn month_number(day: Day) -> i64 {
    let (y, m, _) = civil_from_days(day);
    y * 12 + i64::from(m) - 1
}

/// The first day of a month given by `month_number`.
pub fn first_of_month(month_number: i64) -> Day {
    days_from_civil(
        month_number.div_euclid(12),
        (month_number.rem_euclid(12) + 1) as u32,
        1,
    )
}

/// 0 = Monday .. 6 = Sunday.
pub fn weekday(day: Day) -> i64 {
    (day + 3).rem_euclid(7)
}

pub fn day_of(ts: Ts) -> Day {
    ts.div_euclid(DAY_SECS)
}

pub fn start_of(day: Day) -> Ts {
    day * DAY_SECS
}

/// Appends a decimal integer left-padded with zeros to `width` digits.
pub fn push_padded(buf: &mut Vec<u8>, value: i64, width: usize) {
    let mut digits = [0u8; 20];
    let mut v = value.unsigned_abs();
    let mut n = 0;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
        if v == 0 {
            break;
        }
    }
    if value < 0 {
        buf.push(b'-');
    }
    for _ in n..width {
        buf.push(b'0');
    }
    buf.extend(digits[..n].iter().rev());
}

/// Appends a decimal integer.
pub fn push_int(buf: &mut Vec<u8>, value: i64) {
    push_padded(buf, value, 0);
}

/// Appends `YYYY-MM-DD`.
pub fn push_date(buf: &mut Vec<u8>, day: Day) {
    let (y, m, d) = civil_from_days(day);
    push_padded(buf, y, 4);
    buf.push(b'-');
    push_padded(buf, i64::from(m), 2);
    buf.push(b'-');
    push_padded(buf, i64::from(d), 2);
}

fn push_date_time(buf: &mut Vec<u8>, ts: Ts) {
    push_date(buf, day_of(ts));
    let secs = ts.rem_euclid(DAY_SECS);
    buf.push(b'T');
    push_padded(buf, secs / 3600, 2);
    buf.push(b':');
    push_padded(buf, secs / 60 % 60, 2);
    buf.push(b':');
    push_padded(buf, secs % 60, 2);
}

/// Appends a Salesforce-style UTC timestamp: `2026-03-04T10:15:00.000+0000`.
pub fn push_ts_salesforce(buf: &mut Vec<u8>, ts: Ts) {
    push_date_time(buf, ts);
    buf.extend_from_slice(b".000+0000");
}

/// Appends an ISO 8601 UTC timestamp: `2026-03-04T10:15:00Z`.
pub fn push_ts_iso(buf: &mut Vec<u8>, ts: Ts) {
    push_date_time(buf, ts);
    buf.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8_lossy(&b).into_owned()
    }

    #[test]
    fn civil_round_trip_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for d in -800_000..800_000i64 {
            if d % 97 == 0 {
                let (y, m, dd) = civil_from_days(d);
                assert_eq!(days_from_civil(y, m, dd), d);
            }
        }
        let day = days_from_civil(2026, 11, 15);
        assert_eq!(s(|b| push_date(b, day)), "2026-11-15");
        assert_eq!(weekday(day), 6); // a Sunday
        let ts = start_of(days_from_civil(2026, 3, 4)) + 10 * 3600 + 15 * 60;
        assert_eq!(
            s(|b| push_ts_salesforce(b, ts)),
            "2026-03-04T10:15:00.000+0000"
        );
        assert_eq!(s(|b| push_ts_iso(b, ts + 7)), "2026-03-04T10:15:07Z");
        assert_eq!(s(|b| push_int(b, -120)), "-120");
        assert_eq!(s(|b| push_int(b, 0)), "0");
    }

    #[test]
    fn month_arithmetic() {
        let jan31 = days_from_civil(2024, 1, 31);
        assert_eq!(civil_from_days(add_months(jan31, 1)), (2024, 2, 29));
        assert_eq!(civil_from_days(add_months(jan31, 13)), (2025, 2, 28));
        assert_eq!(civil_from_days(add_months(jan31, -2)), (2023, 11, 30));
        let m = month_number(days_from_civil(2026, 11, 15));
        assert_eq!(civil_from_days(first_of_month(m)), (2026, 11, 1));
        assert_eq!(civil_from_days(first_of_month(m + 2)), (2027, 1, 1));
    }
}
