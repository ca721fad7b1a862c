//! `checks:` in the pipeline YAML: output contracts and data tests, read into [`ModelChecks`].
//!
//! ```yaml
//! checks:
//!   campaign_cohorts_weekly:
//!     columns:                      # the output contract: the model must have these columns
//!       campaign_id: [not_null]     # ... and each may carry column tests
//!       channel: [{accepted_values: [Webinar, Paid Search]}]
//!       members:                    # required, no test
//!     tests:                        # tests on the whole model
//!       - unique: [campaign_id, cohort_week]
//!       - row_count: {min: 1}
//!       - expression: responders <= members
//!       - relationships: {column: campaign_id, to: stg_campaigns, field: campaign_id}
//!         severity: warn            # report only; the default, error, stops the publish
//! ```
//!
//! Column tests: `not_null`, `unique`, `accepted_values` (a list, or `{values: [..]}`),
//! `relationships` (`{to: model, field: column}`), `expression` (SQL that must hold for every
//! row). Model tests: `unique` and `not_null` (lists of columns), `row_count` (`{min, max}`),
//! `expression`, `relationships` and `accepted_values` (with `column:`). What these mean as SQL is
//! the `checks` module's business; here they are only read and checked for shape.

use super::raw::RawModelChecks;
use super::{closest, Problem, VarValue};
use serde_yaml::Value;

/// How a failing test affects the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The run publishes nothing.
    Error,
    /// Reported only.
    Warn,
}

/// What a data test checks.
#[derive(Debug, Clone, PartialEq)]
pub enum TestKind {
    NotNull {
        column: String,
    },
    Unique {
        columns: Vec<String>,
    },
    AcceptedValues {
        column: String,
        values: Vec<VarValue>,
    },
    /// Every non-NULL `column` value exists in `to.field`.
    Relationships {
        column: String,
        to: String,
        field: String,
    },
    RowCount {
        min: Option<u64>,
        max: Option<u64>,
    },
    /// A SQL boolean expression that must not be false for any row (NULL passes, as in dbt).
    Expression {
        expr: String,
    },
}

/// One declared data test.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTest {
    pub model: String,
    /// Short readable name: `not_null(campaign_id)`, `row_count(min 1)`.
    pub name: String,
    pub kind: TestKind,
    pub severity: Severity,
    /// Key path of the declaration, e.g. `checks.hot_list.tests[2]`.
    pub path: String,
    /// Line of the declaration in the pipeline file, when found.
    pub line: Option<usize>,
}

/// The checks of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChecks {
    pub model: String,
    /// The output contract: columns the model must have, in the order declared.
    pub columns: Vec<String>,
    pub tests: Vec<DataTest>,
    /// Line of `checks.<model>` in the pipeline file, when found.
    pub line: Option<usize>,
}

const COLUMN_TESTS: [&str; 5] = [
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "expression",
];
const MODEL_TESTS: [&str; 6] = [
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "row_count",
    "expression",
];

/// Reads every model's checks; problems are collected with their key paths.
pub(crate) fn read_checks(
    raw: &indexmap::IndexMap<String, RawModelChecks>,
    problems: &mut Vec<Problem>,
) -> Vec<ModelChecks> {
    let mut out = Vec::new();
    for (model, checks) in raw {
        let mut tests = Vec::new();
        for (column, items) in &checks.columns {
            for (i, item) in items.iter().flatten().enumerate() {
                let path = format!("checks.{model}.columns.{column}[{i}]");
                tests.extend(
                    read_test(model, Some(column), item, &path, problems)
                        .into_iter()
                        .flatten(),
                );
            }
        }
        for (i, item) in checks.tests.iter().enumerate() {
            let path = format!("checks.{model}.tests[{i}]");
            tests.extend(
                read_test(model, None, item, &path, problems)
                    .into_iter()
                    .flatten(),
            );
        }
        out.push(ModelChecks {
            model: model.clone(),
            columns: checks.columns.keys().cloned().collect(),
            tests,
            line: None,
        });
    }
    out
}

fn read_test(
    model: &str,
    column: Option<&str>,
    item: &Value,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<Vec<DataTest>> {
    let known: &[&str] = if column.is_some() {
        &COLUMN_TESTS
    } else {
        &MODEL_TESTS
    };
    let mut bad = |message: String| {
        problems.push(Problem::at(path, message));
        None
    };
    // `not_null` alone, or a mapping of one test key (plus `severity`).
    let (key, arg, severity) = match item {
        Value::String(s) => (s.as_str(), &Value::Null, Severity::Error),
        Value::Mapping(map) => {
            let mut test: Option<(&str, &Value)> = None;
            let mut severity = Severity::Error;
            for (k, v) in map {
                let Some(k) = k.as_str() else {
                    return bad("test keys are names such as `not_null`".into());
                };
                if k == "severity" {
                    severity = match v.as_str() {
                        Some("error") => Severity::Error,
                        Some("warn") => Severity::Warn,
                        _ => return bad("severity is `error` or `warn`".into()),
                    };
                } else if test.is_some() {
                    return bad(format!(
                        "one test per entry: found a second test key `{k}` (start a new `- ` entry)"
                    ));
                } else {
                    test = Some((k, v));
                }
            }
            match test {
                Some((k, v)) => (k, v, severity),
                None => return bad("the entry names no test".into()),
            }
        }
        _ => {
            return bad(
                "a test is a name (`not_null`) or a mapping (`{accepted_values: [a, b]}`)".into(),
            )
        }
    };
    if !known.contains(&key) {
        let hint = closest(key, known.iter().copied())
            .map(|c| format!(", did you mean `{c}`?"))
            .unwrap_or_default();
        let scope = if column.is_some() { "column" } else { "model" };
        return bad(format!(
            "unknown {scope} test `{key}`{hint} ({scope} tests: {})",
            known.join(", ")
        ));
    }
    let kinds = if key == "not_null" && column.is_none() {
        // A model-level not_null lists columns: one test per column.
        match names(arg) {
            Ok(cols) => cols
                .into_iter()
                .map(|column| TestKind::NotNull { column })
                .collect(),
            Err(message) => return bad(format!("{key}: {message}")),
        }
    } else {
        match read_kind(key, column, arg) {
            Ok(k) => vec![k],
            Err(message) => return bad(format!("{key}: {message}")),
        }
    };
    Some(
        kinds
            .into_iter()
            .map(|kind| DataTest {
                model: model.to_string(),
                name: test_name(&kind),
                kind,
                severity,
                path: path.to_string(),
                line: None,
            })
            .collect(),
    )
}

fn read_kind(key: &str, column: Option<&str>, arg: &Value) -> Result<TestKind, String> {
    let field = |name: &str| -> Result<String, String> {
        match arg.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(_) => Err(format!("`{name}` must be a name")),
            None => Err(format!("needs `{name}:`")),
        }
    };
    let column_or_field = || -> Result<String, String> {
        match column {
            Some(c) => Ok(c.to_string()),
            None => field("column"),
        }
    };
    let check_keys = |allowed: &[&str]| -> Result<(), String> {
        if let Value::Mapping(m) = arg {
            for k in m.keys() {
                let k = k.as_str().unwrap_or("?");
                if !allowed.contains(&k) {
                    let hint = closest(k, allowed.iter().copied())
                        .map(|c| format!(", did you mean `{c}`?"))
                        .unwrap_or_default();
                    return Err(format!(
                        "unknown key `{k}`{hint} (expected {})",
                        allowed.join(", ")
                    ));
                }
            }
        }
        Ok(())
    };
    match (key, column) {
        ("not_null", Some(c)) => no_arg(arg).map(|_| TestKind::NotNull { column: c.into() }),
        ("unique", Some(c)) => no_arg(arg).map(|_| TestKind::Unique {
            columns: vec![c.into()],
        }),
        ("not_null", None) => Err("list the columns: `not_null: [a, b]`".into()),
        ("unique", None) => Ok(TestKind::Unique {
            columns: names(arg)?,
        }),
        ("accepted_values", _) => {
            let list = match arg {
                Value::Sequence(_) if column.is_some() => arg,
                Value::Mapping(_) => {
                    check_keys(if column.is_some() {
                        &["values"]
                    } else {
                        &["column", "values"]
                    })?;
                    arg.get("values").ok_or("needs `values: [..]`")?
                }
                _ => return Err("give the values as a list, or `{values: [..]}`".into()),
            };
            let Value::Sequence(items) = list else {
                return Err("`values` must be a list".into());
            };
            let mut values = Vec::new();
            for v in items {
                values.push(match v {
                    Value::String(s) => VarValue::Str(s.clone()),
                    Value::Bool(b) => VarValue::Bool(*b),
                    Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                        (Some(i), _) => VarValue::Int(i),
                        (None, Some(f)) if f.is_finite() => VarValue::Float(f),
                        _ => return Err(format!("{n} is not a usable value")),
                    },
                    _ => return Err("values are strings, numbers or booleans".into()),
                });
            }
            if values.is_empty() {
                return Err("the list of values is empty".into());
            }
            Ok(TestKind::AcceptedValues {
                column: column_or_field()?,
                values,
            })
        }
        ("relationships", _) => {
            check_keys(if column.is_some() {
                &["to", "field"]
            } else {
                &["column", "to", "field"]
            })?;
            Ok(TestKind::Relationships {
                column: column_or_field()?,
                to: field("to")?,
                field: field("field")?,
            })
        }
        ("row_count", None) => {
            check_keys(&["min", "max"])?;
            let bound = |name: &str| -> Result<Option<u64>, String> {
                match arg.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v
                        .as_u64()
                        .map(Some)
                        .ok_or(format!("`{name}` must be a whole number >= 0")),
                }
            };
            let (min, max) = (bound("min")?, bound("max")?);
            match (min, max) {
                (None, None) => Err("give `min:`, `max:` or both".into()),
                (Some(a), Some(b)) if a > b => Err(format!("min {a} is above max {b}")),
                _ => Ok(TestKind::RowCount { min, max }),
            }
        }
        ("expression", _) => match arg {
            Value::String(s) if !s.trim().is_empty() => Ok(TestKind::Expression {
                expr: s.trim().to_string(),
            }),
            _ => Err(
                "give the SQL expression as a string, e.g. `expression: members >= responders`"
                    .into(),
            ),
        },
        (other, _) => Err(format!("`{other}` is not a test here")),
    }
}

fn no_arg(arg: &Value) -> Result<(), String> {
    match arg {
        Value::Null => Ok(()),
        Value::Mapping(m) if m.is_empty() => Ok(()),
        _ => Err("takes no arguments".into()),
    }
}

fn names(arg: &Value) -> Result<Vec<String>, String> {
    let items: Vec<&Value> = match arg {
        Value::String(_) => vec![arg],
        Value::Sequence(items) => items.iter().collect(),
        _ => return Err("give a column name or a list of column names".into()),
    };
    let mut out = Vec::new();
    for v in items {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => out.push(s.to_string()),
            _ => return Err("column names are strings".into()),
        }
    }
    if out.is_empty() {
        return Err("the list of columns is empty".into());
    }
    Ok(out)
}

/// A short name for messages and run results.
pub fn test_name(kind: &TestKind) -> String {
    match kind {
        TestKind::NotNull { column } => format!("not_null({column})"),
        TestKind::Unique { columns } => format!("unique({})", columns.join(", ")),
        TestKind::AcceptedValues { column, values } => {
            format!("accepted_values({column}, {} values)", values.len())
        }
        TestKind::Relationships { column, to, field } => {
            format!("relationships({column} -> {to}.{field})")
        }
        TestKind::RowCount { min, max } => match (min, max) {
            (Some(a), Some(b)) => format!("row_count({a}..{b})"),
            (Some(a), None) => format!("row_count(>= {a})"),
            (None, Some(b)) => format!("row_count(<= {b})"),
            (None, None) => "row_count".into(),
        },
        TestKind::Expression { expr } => format!("expression({expr})"),
    }
}
