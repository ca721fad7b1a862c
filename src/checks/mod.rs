//! Data tests and output contracts: what a model's result must satisfy before it is published.
//!
//! Every test becomes one SQL query that returns the offending rows (none = pass): the tests
//! declared under `checks:` in the pipeline YAML ([`crate::spec::DataTest`]) and the singular
//! tests, SQL files under `<models>/tests/` that must return no rows. [`compile`] turns them into
//! [`CompiledTest`]s; [`run_tests`] runs them against whatever tables the session has (the run's
//! fresh results before publishing, or the last committed run for `beacon test`) and keeps a
//! sample of the offending rows for the report. Validation plans the same queries against empty
//! tables, so a test on a misspelt column fails in `beacon validate`, not at night.

use crate::models::render::{literal, RenderContext};
use crate::models::{find_test_files, parse_query_file, ModelError, SqlSpan};
use crate::spec::{DataTest, Pipeline, Severity, TestKind};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How many offending rows a failure shows.
pub const SAMPLE_ROWS: usize = 5;

/// Where a test is declared.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Under `checks:` in the pipeline file.
    Pipeline {
        file: PathBuf,
        line: Option<usize>,
        path: String,
    },
    /// A singular test file.
    File { file: PathBuf },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Pipeline { file, line, path } => match line {
                Some(l) => write!(f, "{}:{l}: {path}", file.display()),
                None => write!(f, "{}: {path}", file.display()),
            },
            Origin::File { file } => write!(f, "{}", file.display()),
        }
    }
}

/// A test as a query that returns the rows that break it.
#[derive(Debug, Clone)]
pub struct CompiledTest {
    /// `hot_list: not_null(rank)`, or the singular test's name.
    pub id: String,
    /// The model it is declared on (singular tests: none).
    pub model: Option<String>,
    pub severity: Severity,
    pub sql: String,
    /// The text as written (singular tests), for locating planning errors.
    pub text: String,
    /// Tables the query reads.
    pub reads: BTreeSet<String>,
    pub origin: Origin,
}

/// Errors compiling tests.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Compiles the pipeline's declared tests and its singular test files. All problems are returned
/// together.
pub fn compile(
    pipeline: &Pipeline,
    render: &RenderContext,
) -> Result<Vec<CompiledTest>, Vec<CheckError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for checks in &pipeline.checks {
        for t in &checks.tests {
            match compile_declared(pipeline, render, t) {
                Ok(c) => out.push(c),
                Err(e) => errors.push(e),
            }
        }
    }
    match find_test_files(&pipeline.models_dir) {
        Ok(files) => {
            for file in files {
                match compile_singular(&file, render) {
                    Ok(c) => out.push(c),
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(e.into()),
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn compile_declared(
    pipeline: &Pipeline,
    render: &RenderContext,
    t: &DataTest,
) -> Result<CompiledTest, CheckError> {
    let origin = Origin::Pipeline {
        file: pipeline.file.clone(),
        line: t.line,
        path: t.path.clone(),
    };
    let m = ident(&t.model);
    let mut reads = BTreeSet::from([t.model.clone()]);
    let sql = match &t.kind {
        TestKind::NotNull { column } => {
            format!("SELECT * FROM {m} WHERE {} IS NULL", ident(column))
        }
        TestKind::Unique { columns } => {
            let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
            let cols = cols.join(", ");
            // One column: NULLs are not duplicates (as in dbt); several: the combination counts.
            let filter = match columns.as_slice() {
                [one] => format!(" WHERE {} IS NOT NULL", ident(one)),
                _ => String::new(),
            };
            format!(
                "SELECT {cols}, count(*) AS duplicates FROM {m}{filter} GROUP BY {cols} HAVING count(*) > 1"
            )
        }
        TestKind::AcceptedValues { column, values } => {
            let list: Vec<String> = values.iter().map(literal).collect();
            format!(
                "SELECT * FROM {m} WHERE {c} IS NOT NULL AND {c} NOT IN ({})",
                list.join(", "),
                c = ident(column)
            )
        }
        TestKind::Relationships { column, to, field } => {
            reads.insert(to.clone());
            format!(
                "SELECT child.* FROM {m} AS child WHERE child.{c} IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM {p} AS parent WHERE parent.{f} = child.{c})",
                c = ident(column),
                p = ident(to),
                f = ident(field)
            )
        }
        TestKind::RowCount { min, max } => {
            let mut cond = Vec::new();
            if let Some(min) = min {
                cond.push(format!("row_count < {min}"));
            }
            if let Some(max) = max {
                cond.push(format!("row_count > {max}"));
            }
            format!(
                "SELECT row_count FROM (SELECT count(*) AS row_count FROM {m}) AS counted WHERE {}",
                cond.join(" OR ")
            )
        }
        TestKind::Expression { expr } => {
            let expr = render
                .render(&pipeline.file, expr)
                .map_err(|e| CheckError::Invalid {
                    origin: origin.clone(),
                    message: e.to_string(),
                })?;
            check_expression(&expr).map_err(|message| CheckError::Invalid {
                origin: origin.clone(),
                message,
            })?;
            format!("SELECT * FROM {m} WHERE NOT ({expr})")
        }
    };
    Ok(CompiledTest {
        id: format!("{}: {}", t.model, t.name),
        model: Some(t.model.clone()),
        severity: t.severity,
        sql,
        text: String::new(),
        reads,
        origin,
    })
}

/// An `expression:` must be one SQL expression: nothing that ends the WHERE clause early.
fn check_expression(expr: &str) -> Result<(), String> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion::sql::sqlparser::tokenizer::Token;
    let mut parser = Parser::new(&GenericDialect {})
        .try_with_sql(expr)
        .map_err(|e| format!("expression: {e}"))?;
    parser
        .parse_expr()
        .map_err(|e| format!("expression: {e}"))?;
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        other => Err(format!(
            "expression: unexpected `{other}` after the expression: write one boolean SQL expression"
        )),
    }
}

fn compile_singular(file: &Path, render: &RenderContext) -> Result<CompiledTest, CheckError> {
    let q = parse_query_file(file, render)?;
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    // `-- severity: warn` anywhere in the file's comments makes it a warning.
    let severity = if q
        .text
        .lines()
        .any(|l| l.trim().trim_start_matches("--").trim() == "severity: warn")
    {
        Severity::Warn
    } else {
        Severity::Error
    };
    Ok(CompiledTest {
        id: format!("tests/{name}"),
        model: None,
        severity,
        sql: q.sql,
        text: q.text,
        reads: q.refs.into_iter().map(|(r, _)| r).collect(),
        origin: Origin::File {
            file: file.to_path_buf(),
        },
    })
}

/// The outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Pass,
    /// Offending rows found.
    Fail,
    /// The query itself failed (a planning or execution error).
    Error,
    /// Not run: a table it reads did not build in this run.
    Skipped,
}

/// One test's result, as in `run_results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub severity: Severity,
    pub status: TestStatus,
    /// Number of offending rows (for row_count: the count that is out of bounds).
    pub failing_rows: u64,
    /// Up to [`SAMPLE_ROWS`] offending rows, values as text.
    pub sample: Vec<BTreeMap<String, Option<String>>>,
    /// The sample as a printed table, for logs.
    #[serde(skip)]
    pub sample_table: String,
    /// Where the test is declared.
    pub declared_at: String,
    pub sql: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
}

impl TestResult {
    /// Whether this result stops the publish.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Error
            && matches!(self.status, TestStatus::Fail | TestStatus::Error)
    }
}

/// Runs `tests` in `ctx`; a test whose tables are not all in `available` is skipped.
pub async fn run_tests(
    ctx: &SessionContext,
    tests: &[CompiledTest],
    available: &BTreeSet<String>,
) -> Vec<TestResult> {
    let mut out = Vec::new();
    for t in tests {
        let start = Instant::now();
        let mut r = TestResult {
            id: t.id.clone(),
            model: t.model.clone(),
            severity: t.severity,
            status: TestStatus::Pass,
            failing_rows: 0,
            sample: Vec::new(),
            sample_table: String::new(),
            declared_at: t.origin.to_string(),
            sql: t.sql.clone(),
            error: None,
            seconds: 0.0,
        };
        if let Some(missing) = t.reads.iter().find(|x| !available.contains(*x)) {
            r.status = TestStatus::Skipped;
            r.error = Some(format!("`{missing}` was not built"));
            out.push(r);
            continue;
        }
        match run_one(ctx, t).await {
            Ok((count, batches)) => {
                r.failing_rows = count;
                if count > 0 {
                    r.status = TestStatus::Fail;
                    r.sample = rows_as_text(&batches);
                    r.sample_table =
                        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                            .map(|t| t.to_string())
                            .unwrap_or_default();
                }
            }
            Err(e) => {
                r.status = TestStatus::Error;
                r.error = Some(e);
            }
        }
        r.seconds = start.elapsed().as_secs_f64();
        crate::memory::release_free_memory();
        out.push(r);
    }
    out
}

async fn run_one(
    ctx: &SessionContext,
    t: &CompiledTest,
) -> Result<(u64, Vec<RecordBatch>), String> {
    let describe = |e: datafusion::error::DataFusionError| {
        let (message, span) = crate::models::plan::describe_error(&e, &t.sql, &t.text);
        match span {
            Some(SqlSpan { line, column }) => format!("{line}:{column}: {message}"),
            None => message,
        }
    };
    let count_sql = format!("SELECT count(*) AS n FROM ({}) AS offending", t.sql);
    let counted = ctx
        .sql(&count_sql)
        .await
        .map_err(describe)?
        .collect()
        .await
        .map_err(describe)?;
    let count = counted
        .first()
        .filter(|b| b.num_rows() > 0)
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0);
    let count = u64::try_from(count).unwrap_or(0);
    if count == 0 {
        return Ok((0, Vec::new()));
    }
    let sample = ctx
        .sql(&t.sql)
        .await
        .map_err(describe)?
        .limit(0, Some(SAMPLE_ROWS))
        .map_err(describe)?
        .collect()
        .await
        .map_err(describe)?;
    Ok((count, sample))
}

fn rows_as_text(batches: &[RecordBatch]) -> Vec<BTreeMap<String, Option<String>>> {
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    for b in batches {
        let formatters: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).ok())
            .collect();
        for i in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (j, field) in b.schema().fields().iter().enumerate() {
                let value = if b.column(j).is_null(i) {
                    None
                } else {
                    formatters[j].as_ref().map(|f| f.value(i).to_string())
                };
                row.insert(field.name().clone(), value);
            }
            rows.push(row);
        }
    }
    rows
}

/// Problems of the output contracts and tests against planned schemas, for `beacon validate`:
/// a checked model that does not exist, a contract column it does not produce, a test query
/// that does not plan.
pub async fn validate(
    ctx: &SessionContext,
    pipeline: &Pipeline,
    tests: &[CompiledTest],
    schemas: &BTreeMap<String, datafusion::arrow::datatypes::SchemaRef>,
    models: &BTreeSet<String>,
) -> Vec<CheckError> {
    let mut errors = Vec::new();
    for c in &pipeline.checks {
        let origin = Origin::Pipeline {
            file: pipeline.file.clone(),
            line: c.line,
            path: format!("checks.{}", c.model),
        };
        if !models.contains(&c.model) {
            let hint = crate::spec::closest(&c.model, models.iter().map(String::as_str))
                .map(|s| format!(", did you mean `{s}`?"))
                .unwrap_or_default();
            errors.push(CheckError::Invalid {
                origin,
                message: format!("`{}` is not a model of this pipeline{hint}", c.model),
            });
            continue;
        }
        let Some(schema) = schemas.get(&c.model) else {
            continue; // the model itself has a problem, reported with it
        };
        let published = pipeline.publish.contains(&c.model);
        for col in &c.columns {
            if schema.field_with_name(col).is_err() {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                let hint = crate::spec::closest(col, names.iter().copied())
                    .map(|s| format!(" (it has `{s}`)"))
                    .unwrap_or_default();
                errors.push(CheckError::Invalid {
                    origin: Origin::Pipeline {
                        file: pipeline.file.clone(),
                        line: c.line,
                        path: format!("checks.{}.columns.{col}", c.model),
                    },
                    message: format!(
                        "{} model `{}` has no column `{col}`{hint}, which its output contract requires",
                        if published { "published" } else { "the" },
                        c.model
                    ),
                });
            }
        }
    }
    for t in tests {
        if t.reads.iter().any(|r| !schemas.contains_key(r)) {
            // A test on an unknown model was reported above; one on a broken model with it.
            if let (Origin::File { .. }, Some(r)) = (
                &t.origin,
                t.reads
                    .iter()
                    .find(|r| !models.contains(*r) && !schemas.contains_key(*r)),
            ) {
                errors.push(CheckError::Invalid {
                    origin: t.origin.clone(),
                    message: format!("`{r}` is not a source or model of this pipeline"),
                });
            }
            continue;
        }
        let planned = match ctx.sql(&t.sql).await {
            Ok(df) => df.create_physical_plan().await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = planned {
            let (message, span) = crate::models::plan::describe_error(&e, &t.sql, &t.text);
            let origin = match (&t.origin, span) {
                (Origin::File { file }, Some(s)) => Origin::File {
                    file: PathBuf::from(format!("{}:{}:{}", file.display(), s.line, s.column)),
                },
                (o, _) => o.clone(),
            };
            errors.push(CheckError::Invalid {
                origin,
                message: format!("{}: {message}", t.id),
            });
        }
    }
    errors
}
