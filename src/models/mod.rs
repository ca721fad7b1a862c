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

use std::collections::BTreeMap;
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
    #[error("{}{}: views[{index}]: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    View {
        /// The pipeline file.
        file: PathBuf,
        line: Option<usize>,
        index: usize,
        message: String,
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

/// The model files of layered folders: every model file under each folder ([`find_sql_files`]),
/// where a file of a later folder replaces the file of the same model name (file stem) found in an
/// earlier one. This is how a project overlays its own models on the shipped `sql/` (a pipeline's
/// `models: [../sql, ../sql/_x_education]`). Sorted by path; duplicates within one folder are
/// kept, for the graph to report.
pub fn find_model_files(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, String)>, ModelError> {
    let mut by_name: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    for dir in dirs {
        let mut found: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
        for (file, layer) in find_sql_files(dir)? {
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            found.entry(name).or_default().push((file, layer));
        }
        by_name.extend(found);
    }
    let mut out: Vec<(PathBuf, String)> = by_name.into_values().flatten().collect();
    out.sort();
    Ok(out)
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::render::RenderContext;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (name, sql) in files {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, sql).unwrap();
        }
    }

    #[test]
    fn a_later_folder_replaces_same_named_models_and_adds_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("sql");
        let overlay = base.join("_project");
        write(
            &base,
            &[
                ("staging/stg_leads.sql", "SELECT Id AS lead_id FROM leads"),
                (
                    "marts/lead_count.sql",
                    "SELECT count(*) AS n FROM stg_leads",
                ),
            ],
        );
        write(
            &overlay,
            &[
                (
                    "staging/stg_leads.sql",
                    "SELECT Id AS lead_id, 1 AS extra FROM leads",
                ),
                ("marts/extra_only.sql", "SELECT extra FROM stg_leads"),
            ],
        );
        // The base folder alone skips the `_project` folder.
        let alone: Vec<PathBuf> = find_sql_files(&base)
            .unwrap()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            alone,
            vec![
                base.join("marts/lead_count.sql"),
                base.join("staging/stg_leads.sql")
            ]
        );
        let layered = find_model_files(&[base.clone(), overlay.clone()]).unwrap();
        assert_eq!(
            layered,
            vec![
                (overlay.join("marts/extra_only.sql"), "marts".to_string()),
                (overlay.join("staging/stg_leads.sql"), "staging".to_string()),
                (base.join("marts/lead_count.sql"), "marts".to_string()),
            ]
        );
        // The graph reads the overlay's stg_leads, and models of both folders depend on it.
        let render = RenderContext::new(
            BTreeMap::new(),
            chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap_or_default(),
        );
        let graph =
            ModelGraph::load_folders(&[base, overlay], &render, &["leads".to_string()]).unwrap();
        let names: Vec<&str> = graph.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, vec!["stg_leads", "extra_only", "lead_count"]);
        assert!(graph.models[0].sql.contains("1 AS extra"));
    }
}
