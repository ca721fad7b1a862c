//! The input contract: what a source's files must look like, and the value parsers that check it.
//!
//! A [`SourceContract`] lists the columns a source must (or may) carry, their types, which of them
//! are required, the allowed values of enum columns, the primary key and the tokens that mean NULL.
//! The load stage (`crate::load`) checks every row of every input file against it.
//!
//! The value parsers here are the single definition of the accepted spellings (see
//! DATASETS.md): ISO 8601 timestamps with or without offset (converted to UTC), Salesforce's
//! `2026-03-04T10:15:00.000+0000`, `YYYY-MM-DD HH:MM:SS` and bare dates; `true/false`, `1/0`,
//! `yes/no` in any case; plain decimal numbers without currency symbols or thousands separators.
//! They are hand-written (no allocation, no regex) because they run once per value on files of
//! tens of millions of rows, and they return a [`ValueError`] whose `Display` is the reason
//! written to the quarantine.

use std::fmt;
use std::str::FromStr;

use arrow::datatypes::{DataType, TimeUnit};

/// The type of a contract column, as written in DATASETS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// Text (also enums): Arrow `Utf8`.
    String,
    /// 64-bit integer: Arrow `Int64`.
    Integer,
    /// Decimal number (money, hours, rates): Arrow `Float64`.
    Decimal,
    /// Boolean: Arrow `Boolean`.
    Boolean,
    /// Calendar date: Arrow `Date32`.
    Date,
    /// Instant, normalised to UTC: Arrow `Timestamp(Microsecond, None)` holding UTC wall time.
    Timestamp,
}

impl ColumnType {
    /// All types, in the order of their names in error messages.
    pub const ALL: [ColumnType; 6] = [
        ColumnType::String,
        ColumnType::Integer,
        ColumnType::Decimal,
        ColumnType::Boolean,
        ColumnType::Date,
        ColumnType::Timestamp,
    ];

    /// The contract name of the type (`"string"`, `"integer"`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Integer => "integer",
            ColumnType::Decimal => "decimal",
            ColumnType::Boolean => "boolean",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }

    /// The Arrow type a column of this contract type has in the raw zone.
    pub fn arrow_type(&self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Integer => DataType::Int64,
            ColumnType::Decimal => DataType::Float64,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown column type or format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}` (expected one of: {expected})")]
pub struct UnknownName {
    /// What was being named ("column type", "format").
    pub what: &'static str,
    /// The name given.
    pub given: String,
    /// The accepted names, comma separated.
    pub expected: &'static str,
}

impl FromStr for ColumnType {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ColumnType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                what: "column type",
                given: s.to_string(),
                expected: "string, integer, decimal, boolean, date, timestamp",
            })
    }
}

/// One column of a source contract.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnContract {
    /// The column name, exactly as the exporting system writes it (`MQL_Date__c`).
    pub name: String,
    /// Its type.
    pub column_type: ColumnType,
    /// A NULL (or a missing column) is a contract violation.
    pub required: bool,
    /// Enum columns: the allowed values. Input is matched case-insensitively and stored in the
    /// spelling given here.
    pub allowed_values: Option<Vec<String>>,
}

impl ColumnContract {
    /// An optional column without allowed values.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        ColumnContract {
            name: name.into(),
            column_type,
            required: false,
            allowed_values: None,
        }
    }

    /// The same column, required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The same column, restricted to these values.
    pub fn with_allowed_values<S: Into<String>>(
        mut self,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.allowed_values = Some(values.into_iter().map(Into::into).collect());
        self
    }
}

/// The file format of a source's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// CSV with a header row (RFC 4180).
    Csv,
    /// Newline-delimited JSON: one object per line.
    Ndjson,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The canonical name (`"csv"`, `"ndjson"`, `"parquet"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
        }
    }

    /// The format a file name's extension implies (case-insensitive): `.csv`, `.ndjson`,
    /// `.jsonl`, `.json`, `.parquet`, `.pq`. `None` when the extension says nothing.
    pub fn from_extension(path: &str) -> Option<Format> {
        let name = path.rsplit('/').next().unwrap_or(path);
        // `leads.csv.gz` is a CSV file, compressed.
        let name = match Compression::from_path(name) {
            Compression::Gzip => name.rsplit_once('.').map(|(stem, _)| stem).unwrap_or(name),
            Compression::None => name,
        };
        let (_, ext) = name.rsplit_once('.')?;
        let ext = ext.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// Compression of an input file, from its name: `.gz` / `.gzip` is gzip (what Salesforce Data
/// Loader, Bulk API downloads and most export jobs write when asked to compress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

impl Compression {
    pub fn from_path(path: &str) -> Compression {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".gz") || lower.ends_with(".gzip") {
            Compression::Gzip
        } else {
            Compression::None
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "parquet" => Ok(Format::Parquet),
            _ => Err(UnknownName {
                what: "format",
                given: s.to_string(),
                expected: "csv, ndjson, jsonl, parquet",
            }),
        }
    }
}

/// Default share of rejected rows above which a load fails.
pub const DEFAULT_MAX_REJECTED_SHARE: f64 = 0.01;

/// The contract of one source table (one CSV file name of DATASETS.md, e.g. `leads`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceContract {
    /// The table name the source is registered under (`leads`).
    pub name: String,
    /// The files' format; `None` infers it from each file's extension.
    pub format: Option<Format>,
    /// The contract columns, in output order.
    pub columns: Vec<ColumnContract>,
    /// Columns whose combination is unique; later duplicates are rejected. May be empty.
    pub primary_key: Vec<String>,
    /// Extra tokens meaning NULL besides the empty string (`000000000000000AAA`, `Select`),
    /// compared with the trimmed value, case-sensitively.
    pub null_values: Vec<String>,
    /// CSV field delimiter.
    pub delimiter: u8,
    /// Share of rejected rows (0..1) above which the load fails.
    pub max_rejected_share: f64,
}

impl SourceContract {
    /// A contract with defaults: format inferred, no primary key, no extra NULL tokens, comma
    /// delimiter, [`DEFAULT_MAX_REJECTED_SHARE`].
    pub fn new(name: impl Into<String>, columns: Vec<ColumnContract>) -> Self {
        SourceContract {
            name: name.into(),
            format: None,
            columns,
            primary_key: Vec::new(),
            null_values: Vec::new(),
            delimiter: b',',
            max_rejected_share: DEFAULT_MAX_REJECTED_SHARE,
        }
    }

    /// The contract column named exactly `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnContract> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Every problem of the contract itself (duplicate columns, unknown key columns, share out
    /// of range, ...), all at once. Empty when the contract is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.columns.is_empty() {
            problems.push(format!("source `{}` has no columns", self.name));
        }
        for (i, c) in self.columns.iter().enumerate() {
            if c.name.trim().is_empty() {
                problems.push(format!("column #{} has an empty name", i + 1));
            }
            if self.columns[..i].iter().any(|o| o.name == c.name) {
                problems.push(format!("column `{}` is listed twice", c.name));
            }
            if let Some(values) = &c.allowed_values {
                if values.is_empty() {
                    problems.push(format!(
                        "column `{}` has an empty list of allowed values",
                        c.name
                    ));
                }
            }
        }
        for k in &self.primary_key {
            if self.column(k).is_none() {
                problems.push(format!("primary key column `{k}` is not a contract column"));
            }
        }
        if !(0.0..=1.0).contains(&self.max_rejected_share) {
            problems.push(format!(
                "max_rejected_share must be between 0 and 1, got {}",
                self.max_rejected_share
            ));
        }
        if matches!(self.delimiter, b'"' | b'\n' | b'\r') {
            problems.push("the delimiter cannot be a quote or a line break".to_string());
        }
        problems
    }
}

// ---------------------------------------------------------------------------------------------
// Value parsers
// ---------------------------------------------------------------------------------------------

/// Why a value does not parse as its column's type. `Display` is the quarantine reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not an integer.
    #[error("not an integer")]
    Integer,
    /// A decimal with a fractional part where an integer is expected.
    #[error("not an integer (has a fractional part)")]
    IntegerFraction,
    /// Outside the 64-bit integer range.
    #[error("integer out of range")]
    IntegerRange,
    /// Not a plain decimal number.
    #[error("not a decimal number")]
    Decimal,
    /// Contains a currency symbol.
    #[error("not a decimal number: currency symbols are not allowed (write 1234.5)")]
    DecimalCurrency,
    /// Contains a thousands separator or a decimal comma.
    #[error("not a decimal number: `,` is not allowed (no thousands separators or decimal commas; write 1234.5)")]
    DecimalComma,
    /// NaN, infinity or a number too large for a 64-bit float.
    #[error("not a finite decimal number")]
    DecimalNotFinite,
    /// Not a boolean.
    #[error("not a boolean (expected true/false, 1/0 or yes/no)")]
    Boolean,
    /// Not a date.
    #[error("not a date (expected YYYY-MM-DD)")]
    Date,
    /// Not a timestamp.
    #[error("not a timestamp (expected ISO 8601 like 2026-03-04T10:15:00Z)")]
    Timestamp,
    /// A well-formed date or time with an impossible field (month 13, Feb 30, hour 25).
    #[error("date or time out of range")]
    OutOfRange,
    /// An invalid UTC offset.
    #[error("invalid UTC offset (expected Z, +HH:MM or +HHMM)")]
    Offset,
}

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
const MICROS_PER_DAY: i64 = SECONDS_PER_DAY * MICROS_PER_SECOND;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
/// Returns `None` for an impossible date.
fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > month_len {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// A tiny cursor over ASCII bytes.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let s = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.i += n;
        Some(v)
    }

    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
}

/// `YYYY-MM-DD` at the cursor, as days since the epoch.
fn date_part(c: &mut Cursor<'_>, err: ValueError) -> Result<i64, ValueError> {
    let y = c.digits(4).ok_or(err)?;
    if !c.eat(b'-') {
        return Err(err);
    }
    let m = c.digits(2).ok_or(err)?;
    if !c.eat(b'-') {
        return Err(err);
    }
    let d = c.digits(2).ok_or(err)?;
    days_from_civil(i64::from(y), m, d).ok_or(ValueError::OutOfRange)
}

/// Parses a timestamp into microseconds since the epoch, UTC.
///
/// Accepted: `2026-03-04T10:15:00Z`, `2026-03-04T10:15:00.000+0000` (Salesforce), offsets
/// `+HH:MM`, `+HHMM`, `+HH` (converted to UTC), `2026-03-04 10:15:00` and `2026-03-04T10:15:00`
/// (taken as UTC), `HH:MM` without seconds, 1 to 9 fractional digits (truncated to
/// microseconds), and a bare date (midnight UTC). Surrounding whitespace is ignored.
pub fn parse_timestamp(s: &str) -> Result<i64, ValueError> {
    const E: ValueError = ValueError::Timestamp;
    let mut c = Cursor {
        b: s.trim().as_bytes(),
        i: 0,
    };
    let days = date_part(&mut c, E)?;
    if c.done() {
        return Ok(days * MICROS_PER_DAY);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return Err(E);
    }
    let hour = c.digits(2).ok_or(E)?;
    if !c.eat(b':') {
        return Err(E);
    }
    let minute = c.digits(2).ok_or(E)?;
    let mut second = 0;
    let mut micros = 0i64;
    if c.eat(b':') {
        second = c.digits(2).ok_or(E)?;
        if c.eat(b'.') || c.eat(b',') {
            let mut n = 0;
            while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
                if n < 6 {
                    micros = micros * 10 + i64::from(d - b'0');
                }
                n += 1;
                c.i += 1;
            }
            if n == 0 || n > 9 {
                return Err(E);
            }
            for _ in n..6 {
                micros *= 10;
            }
        }
    }
    // Allow 24:00:00 (end of day, ISO 8601) but nothing later; no leap seconds.
    if hour > 24
        || minute > 59
        || second > 59
        || (hour == 24 && (minute, second, micros) != (0, 0, 0))
    {
        return Err(ValueError::OutOfRange);
    }
    // Optional single space before the offset: `2026-03-04 10:15:00 +0000`.
    if c.peek() == Some(b' ')
        && c.b
            .get(c.i + 1)
            .is_some_and(|b| matches!(b, b'+' | b'-' | b'Z'))
    {
        c.i += 1;
    }
    let offset_seconds = if c.done() || c.eat(b'Z') || c.eat(b'z') {
        0
    } else {
        let sign = match c.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(E),
        };
        c.i += 1;
        let oh = c.digits(2).ok_or(ValueError::Offset)?;
        let om = if c.done() {
            0
        } else {
            c.eat(b':');
            c.digits(2).ok_or(ValueError::Offset)?
        };
        if oh > 23 || om > 59 {
            return Err(ValueError::Offset);
        }
        sign * i64::from(oh * 3600 + om * 60)
    };
    if !c.done() {
        return Err(E);
    }
    let seconds =
        days * SECONDS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    Ok(seconds * MICROS_PER_SECOND + micros)
}

/// Parses a date into days since 1970-01-01.
///
/// Accepted: `YYYY-MM-DD`, and anything [`parse_timestamp`] accepts (`YYYY-MM-DD 00:00:00` as
/// Salesforce's Data Export writes date fields, or a full timestamp), which gives its UTC date.
pub fn parse_date(s: &str) -> Result<i32, ValueError> {
    let t = s.trim();
    let days = if t.len() == 10 {
        date_part(
            &mut Cursor {
                b: t.as_bytes(),
                i: 0,
            },
            ValueError::Date,
        )?
    } else {
        parse_timestamp(t)
            .map_err(|e| {
                if e == ValueError::Timestamp {
                    ValueError::Date
                } else {
                    e
                }
            })?
            .div_euclid(MICROS_PER_DAY)
    };
    i32::try_from(days).map_err(|_| ValueError::OutOfRange)
}

/// Parses a boolean: `true`/`false`, `yes`/`no` in any case, `1`/`0`.
pub fn parse_bool(s: &str) -> Result<bool, ValueError> {
    let t = s.trim();
    let is = |w: &str| t.eq_ignore_ascii_case(w);
    if t == "1" || is("true") || is("yes") {
        Ok(true)
    } else if t == "0" || is("false") || is("no") {
        Ok(false)
    } else {
        Err(ValueError::Boolean)
    }
}

/// Parses a plain decimal number: optional sign, digits with an optional `.` fraction, optional
/// exponent. Currency symbols, thousands separators, NaN and infinity are rejected.
pub fn parse_decimal(s: &str) -> Result<f64, ValueError> {
    let t = s.trim();
    let b = t.as_bytes();
    let mut digits = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' => {}
            b'+' | b'-' if i == 0 || matches!(b[i - 1], b'e' | b'E') => {}
            b'e' | b'E' if digits > 0 => {}
            b',' => return Err(ValueError::DecimalComma),
            b'$' => return Err(ValueError::DecimalCurrency),
            _ if c >= 0x80 && is_currency_symbol(t) => return Err(ValueError::DecimalCurrency),
            _ => return Err(ValueError::Decimal),
        }
    }
    if digits == 0 {
        return Err(ValueError::Decimal);
    }
    let v: f64 = t.parse().map_err(|_| ValueError::Decimal)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ValueError::DecimalNotFinite)
    }
}

/// Whether `s` contains a common non-ASCII currency sign (only consulted on the error path).
fn is_currency_symbol(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '€' | '£' | '¥' | '₹' | '₩' | '₽' | '¢' | '₺' | '₪' | '₫'))
}

/// Largest magnitude below which every integer is exact in an `f64` (2^53).
const F64_EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Parses a 64-bit integer. Integral decimals are accepted (`12.0`, `1e3`); a fractional part
/// is an error.
pub fn parse_integer(s: &str) -> Result<i64, ValueError> {
    let t = s.trim();
    let b = t.as_bytes();
    let body = b
        .strip_prefix(b"-")
        .or_else(|| b.strip_prefix(b"+"))
        .unwrap_or(b);
    if !body.is_empty() && body.iter().all(u8::is_ascii_digit) {
        return t.parse::<i64>().map_err(|_| ValueError::IntegerRange);
    }
    // `123.000`: exact, whatever the magnitude.
    if let Some(dot) = body.iter().position(|&c| c == b'.') {
        let (int, frac) = (&body[..dot], &body[dot + 1..]);
        if !int.is_empty() && int.iter().all(u8::is_ascii_digit) && frac.iter().all(|&c| c == b'0')
        {
            return t[..t.len() - frac.len() - 1]
                .parse::<i64>()
                .map_err(|_| ValueError::IntegerRange);
        }
    }
    let v = parse_decimal(t).map_err(|e| match e {
        ValueError::DecimalNotFinite => ValueError::IntegerRange,
        _ => ValueError::Integer,
    })?;
    if v.fract() != 0.0 {
        Err(ValueError::IntegerFraction)
    } else if v.abs() >= F64_EXACT_INT {
        Err(ValueError::IntegerRange)
    } else {
        // Exact: |v| < 2^53 and integral.
        Ok(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn micros(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .map(|t| t.timestamp_micros())
            .unwrap_or(i64::MIN)
    }

    fn days(y: i32, m: u32, d: u32) -> i32 {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        NaiveDate::from_ymd_opt(y, m, d)
            .map(|x| (x - epoch).num_days() as i32)
            .unwrap_or(i32::MIN)
    }

    #[test]
    fn timestamps_iso_and_salesforce() {
        let want = micros(2026, 3, 4, 10, 15, 0);
        for s in [
            "2026-03-04T10:15:00Z",
            "2026-03-04T10:15:00z",
            "2026-03-04T10:15:00.000+0000",
            "2026-03-04T10:15:00+00:00",
            "2026-03-04T12:15:00+02:00",
            "2026-03-04T12:15:00+0200",
            "2026-03-04T12:15:00+02",
            "2026-03-04T05:15:00-05:00",
            "2026-03-04 10:15:00",
            "2026-03-04T10:15:00",
            "2026-03-04T10:15",
            " 2026-03-04 10:15:00 ",
            "2026-03-04 10:15:00 +0000",
            "2026-03-04 10:15:00 Z",
        ] {
            assert_eq!(parse_timestamp(s), Ok(want), "{s}");
        }
        assert_eq!(
            parse_timestamp("2026-03-04T10:15:00.5Z"),
            Ok(want + 500_000)
        );
        assert_eq!(
            parse_timestamp("2026-03-04T10:15:00.123456789Z"),
            Ok(want + 123_456)
        );
        assert_eq!(
            parse_timestamp("2026-03-04T10:15:00,25"),
            Ok(want + 250_000)
        );
        // An offset crossing midnight changes the UTC date.
        assert_eq!(
            parse_timestamp("2026-03-04T23:30:00-05:00"),
            Ok(micros(2026, 3, 5, 4, 30, 0))
        );
        assert_eq!(
            parse_timestamp("2026-03-04"),
            Ok(micros(2026, 3, 4, 0, 0, 0))
        );
        assert_eq!(parse_timestamp("1969-12-31T23:59:59Z"), Ok(-1_000_000));
        assert_eq!(
            parse_timestamp("2024-02-29T00:00:00Z"),
            Ok(micros(2024, 2, 29, 0, 0, 0))
        );
        assert_eq!(
            parse_timestamp("2026-03-04T24:00:00Z"),
            Ok(micros(2026, 3, 5, 0, 0, 0))
        );
    }

    #[test]
    fn timestamps_rejected() {
        for s in [
            "",
            "yesterday",
            "2026-3-4",
            "2026-03-04T",
            "2026-03-04T10",
            "2026-03-04T10:15:00Zjunk",
            "2026-03-04T10:15:00.Z",
            "2026-03-04T10:15:00+",
            "03/04/2026 10:15",
            "2026-03-04T10:15:00 UTC",
            "２０２６-03-04",
        ] {
            assert!(parse_timestamp(s).is_err(), "{s:?} should be rejected");
        }
        assert_eq!(parse_timestamp("2026-02-30"), Err(ValueError::OutOfRange));
        assert_eq!(
            parse_timestamp("2026-13-01T00:00:00Z"),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            parse_timestamp("2026-03-04T25:00:00Z"),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            parse_timestamp("2026-03-04T10:60:00Z"),
            Err(ValueError::OutOfRange)
        );
        assert_eq!(
            parse_timestamp("2026-03-04T10:15:00+25:00"),
            Err(ValueError::Offset)
        );
        assert_eq!(
            parse_timestamp("2026-03-04T10:15:00+1"),
            Err(ValueError::Offset)
        );
        assert_eq!(parse_timestamp("2023-02-29"), Err(ValueError::OutOfRange));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-03-04"), Ok(days(2026, 3, 4)));
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("1969-12-31"), Ok(-1));
        assert_eq!(parse_date(" 2026-03-04 "), Ok(days(2026, 3, 4)));
        assert_eq!(parse_date("2018-08-22 00:00:00"), Ok(days(2018, 8, 22)));
        assert_eq!(
            parse_date("2026-03-04T10:15:00.000+0000"),
            Ok(days(2026, 3, 4))
        );
        assert_eq!(
            parse_date("2026-03-04T23:30:00-05:00"),
            Ok(days(2026, 3, 5))
        );
        assert_eq!(
            parse_date("2026-03-04T00:30:00+02:00"),
            Ok(days(2026, 3, 3))
        );
        assert_eq!(parse_date("2000-02-29"), Ok(days(2000, 2, 29)));
        assert_eq!(parse_date("1900-02-29"), Err(ValueError::OutOfRange));
        assert_eq!(parse_date("2026/03/04"), Err(ValueError::Date));
        assert_eq!(parse_date("04.03.2026"), Err(ValueError::Date));
        assert_eq!(parse_date("2026-03-04x"), Err(ValueError::Date));
        // Hinnant's algorithm against chrono over a wide span.
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let mut d = NaiveDate::from_ymd_opt(1600, 1, 1).unwrap_or_default();
        while d.year_ce().1 < 2500 {
            let s = d.format("%Y-%m-%d").to_string();
            assert_eq!(parse_date(&s), Ok((d - epoch).num_days() as i32), "{s}");
            d += chrono::Duration::days(13);
        }
    }

    use chrono::Datelike;

    #[test]
    fn booleans() {
        for s in ["true", "TRUE", "True", "1", "yes", "YES", "Yes", " true "] {
            assert_eq!(parse_bool(s), Ok(true), "{s}");
        }
        for s in ["false", "FALSE", "False", "0", "no", "NO", "No"] {
            assert_eq!(parse_bool(s), Ok(false), "{s}");
        }
        for s in ["", "2", "t", "f", "y", "n", "truee", "01", "on"] {
            assert_eq!(parse_bool(s), Err(ValueError::Boolean), "{s}");
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("15000"), Ok(15000.0));
        assert_eq!(parse_decimal("-12.5"), Ok(-12.5));
        assert_eq!(parse_decimal("+0.75"), Ok(0.75));
        assert_eq!(parse_decimal(".5"), Ok(0.5));
        assert_eq!(parse_decimal("5."), Ok(5.0));
        assert_eq!(parse_decimal("1e3"), Ok(1000.0));
        assert_eq!(parse_decimal("1.5E-2"), Ok(0.015));
        assert_eq!(parse_decimal("2.5e+2"), Ok(250.0));
        assert_eq!(parse_decimal(" 42 "), Ok(42.0));
        assert_eq!(parse_decimal("$100"), Err(ValueError::DecimalCurrency));
        assert_eq!(parse_decimal("100€"), Err(ValueError::DecimalCurrency));
        assert_eq!(parse_decimal("£5"), Err(ValueError::DecimalCurrency));
        assert_eq!(parse_decimal("1,000"), Err(ValueError::DecimalComma));
        assert_eq!(parse_decimal("1,5"), Err(ValueError::DecimalComma));
        assert_eq!(parse_decimal("1e999"), Err(ValueError::DecimalNotFinite));
        for s in [
            "NaN", "nan", "inf", "-inf", "infinity", "", "-", ".", "e5", "1e", "1.2.3", "1 000",
            "--1", "1-",
        ] {
            assert!(parse_decimal(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_integer("42"), Ok(42));
        assert_eq!(parse_integer("-7"), Ok(-7));
        assert_eq!(parse_integer("+7"), Ok(7));
        assert_eq!(parse_integer(" 12 "), Ok(12));
        assert_eq!(parse_integer("12.0"), Ok(12));
        assert_eq!(parse_integer("12."), Ok(12));
        assert_eq!(parse_integer("-12.000"), Ok(-12));
        assert_eq!(parse_integer("1e3"), Ok(1000));
        assert_eq!(parse_integer("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_integer("9223372036854775807.0"), Ok(i64::MAX));
        assert_eq!(parse_integer("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_integer("9223372036854775808"),
            Err(ValueError::IntegerRange)
        );
        assert_eq!(parse_integer("1e30"), Err(ValueError::IntegerRange));
        assert_eq!(parse_integer("12.5"), Err(ValueError::IntegerFraction));
        for s in ["", "abc", "1,000", "$5", "NaN", "0x10", "1_000"] {
            assert_eq!(parse_integer(s), Err(ValueError::Integer), "{s:?}");
        }
    }

    #[test]
    fn names_round_trip() -> Result<(), UnknownName> {
        for t in ColumnType::ALL {
            assert_eq!(t.to_string().parse::<ColumnType>()?, t);
        }
        assert_eq!("Timestamp".parse::<ColumnType>()?, ColumnType::Timestamp);
        assert!("text".parse::<ColumnType>().is_err());
        assert_eq!(
            ColumnType::Timestamp.arrow_type(),
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(ColumnType::Date.arrow_type(), DataType::Date32);
        assert_eq!("jsonl".parse::<Format>()?, Format::Ndjson);
        assert_eq!("CSV".parse::<Format>()?, Format::Csv);
        assert!("xlsx".parse::<Format>().is_err());
        assert_eq!(Format::from_extension("in/leads.CSV"), Some(Format::Csv));
        assert_eq!(
            Format::from_extension("a.b/events.jsonl"),
            Some(Format::Ndjson)
        );
        assert_eq!(Format::from_extension("x.parquet"), Some(Format::Parquet));
        assert_eq!(
            Format::from_extension("exports/leads.csv.gz"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_extension("events.ndjson.GZ"),
            Some(Format::Ndjson)
        );
        assert_eq!(Compression::from_path("leads.csv.gz"), Compression::Gzip);
        assert_eq!(Compression::from_path("leads.csv"), Compression::None);
        assert_eq!(Format::from_extension("a.b/noext"), None);
        assert_eq!(Format::from_extension("leads.txt"), None);
        Ok(())
    }

    #[test]
    fn contract_problems() {
        let mut c = SourceContract::new(
            "leads",
            vec![
                ColumnContract::new("Id", ColumnType::String).required(),
                ColumnContract::new("Id", ColumnType::String),
            ],
        );
        c.primary_key = vec!["Key".into()];
        c.max_rejected_share = 2.0;
        let p = c.problems();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("listed twice"));
        assert!(p[1].contains("`Key`"));
    }
}
