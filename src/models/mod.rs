//! SQL models: `sql/**.sql` files -> rendered queries -> a dependency graph -> ordered execution.
//!
//! Each `.sql` file is one model named after the file; its folder is its layer (staging,
//! intermediate, marts). Vars are rendered into the text first ([`render`]); then DataFusion's SQL
//! parser reads the query and the tables it references become its dependencies ([`graph`]): no
//! hand-written order, no `ref()` templating. [`exec`] runs independent models concurrently.

pub mod dag;
pub mod exec;
pub mod graph;
pub mod plan;
pub mod render;
pub mod select;

use std::path::{Path, PathBuf};

pub use exec::{execute, Materialized, ModelEvent, ModelSink};
pub use graph::{parse_query_file, Model, ModelGraph, ParsedQuery};

/// A location inside a SQL file.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlSpan {
    pub line: usize,
    pub column: usize,
}

/// Errors of the model stage; each names the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read models folder {}: {source}", dir.display())]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}{}: {message}", file.display(), span_suffix(span))]
    Render {
        file: PathBuf,
        span: Option<SqlSpan>,
        message: String,
    },
    #[error("{}{}: SQL syntax error: {message}", file.display(), span_suffix(span))]
    Syntax {
        file: PathBuf,
        span: Option<SqlSpan>,
        message: String,
    },
    #[error("{}: {message}", file.display())]
    NotAQuery { file: PathBuf, message: String },
    #[error("model name `{name}` is used by two files: {} and {} (model names come from file names and must be unique)", first.display(), second.display())]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}{}: `{reference}` is not a source or model of this pipeline{}", file.display(), span_suffix(span), suggestion.as_ref().map(|s| format!(", did you mean `{s}`?")).unwrap_or_default())]
    UnknownTable {
        file: PathBuf,
        span: Option<SqlSpan>,
        reference: String,
        suggestion: Option<String>,
    },
    #[error("dependency cycle between models: {}", render_cycle(files))]
    Cycle { files: Vec<PathBuf> },
    #[error("published model `{name}` does not exist in the models folder{}", suggestion.as_ref().map(|s| format!(", did you mean `{s}`?")).unwrap_or_default())]
    UnknownPublished {
        name: String,
        suggestion: Option<String>,
    },
    #[error("{}{}: model `{model}`: {message}", file.display(), span_suffix(span))]
    Invalid {
        model: String,
        file: PathBuf,
        span: Option<SqlSpan>,
        message: String,
    },
    #[error("model `{model}` ({}): {source}", file.display())]
    Plan {
        model: String,
        file: PathBuf,
        source: datafusion::error::DataFusionError,
    },
    #[error("model `{model}` ({}): {message}", file.display())]
    Execute {
        model: String,
        file: PathBuf,
        message: String,
    },
    #[error("model `{model}` was not run because `{failed}` failed")]
    Skipped { model: String, failed: String },
}

fn span_suffix(span: &Option<SqlSpan>) -> String {
    match span {
        Some(s) => format!(":{}:{}", s.line, s.column),
        None => String::new(),
    }
}

fn render_cycle(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// The folder under the models folder that holds singular tests (SQL that must return no rows)
/// instead of models.
pub const TESTS_FOLDER: &str = "tests";

/// All model `.sql` files under `dir`, sorted, with their layer (the folder relative to `dir`).
/// Names starting with `.` or `_` and the [`TESTS_FOLDER`] are skipped.
pub fn find_sql_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, ModelError> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The singular test files under `<dir>/tests`, sorted (none when the folder does not exist).
pub fn find_test_files(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let tests = dir.join(TESTS_FOLDER);
    if !tests.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    walk(&tests, &tests, &mut out)?;
    let mut files: Vec<PathBuf> = out.into_iter().map(|(f, _)| f).collect();
    files.sort();
    Ok(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<(), ModelError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ModelError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| ModelError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if path.is_dir() {
            if dir == root && name == TESTS_FOLDER {
                continue;
            }
            walk(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "sql") {
            let layer = path
                .parent()
                .and_then(|p| p.strip_prefix(root).ok())
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.push((path, layer));
        }
    }
    Ok(())
}
