//! Parses each model with DataFusion's SQL parser and builds the dependency graph from the tables
//! its query references (CTE names excluded). Unknown tables, cycles, non-query statements and
//! duplicate names are all reported, not just the first.

use super::render::RenderContext;
use super::{find_model_files, ModelError, SqlSpan};
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One model: a rendered query and what it reads.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    /// Folder relative to the models folder (`staging`, `marts`, ...).
    pub layer: String,
    pub file: PathBuf,
    /// The file's text as written (before rendering), for locating problems.
    pub text: String,
    /// The query after rendering vars.
    pub sql: String,
    /// Models this one reads (sorted).
    pub model_deps: Vec<String>,
    /// Sources this one reads (sorted).
    pub source_deps: Vec<String>,
    /// Planned inside the models that read it instead of written (the pipeline's `views:`).
    pub view: bool,
}

/// A file after rendering and parsing, before its references are checked.
struct Parsed {
    file: PathBuf,
    layer: String,
    query: ParsedQuery,
}

/// A SQL file after rendering and parsing: its text, the rendered query and the tables it reads.
#[derive(Debug, Clone)]
pub struct ParsedQuery {
    pub text: String,
    pub sql: String,
    pub refs: Vec<(String, Option<SqlSpan>)>,
}

/// All models of a pipeline in a valid execution order.
#[derive(Debug, Clone)]
pub struct ModelGraph {
    /// Topologically sorted: every model comes after the models it reads.
    pub models: Vec<Model>,
}

impl ModelGraph {
    /// Reads, renders and parses every model under `dir`; `sources` are the pipeline's table names.
    pub fn load(
        dir: &Path,
        render: &RenderContext,
        sources: &[String],
    ) -> Result<ModelGraph, Vec<ModelError>> {
        let (graph, errors) = Self::load_partial(dir, render, sources);
        if errors.is_empty() {
            Ok(graph)
        } else {
            Err(errors)
        }
    }

    /// Like [`ModelGraph::load`], but also returns the graph of the models that are fine, so that
    /// `beacon validate` can go on checking them: models with a problem of their own (syntax,
    /// unknown table, part of a cycle) are left out; models reading them stay in, with a
    /// dependency that is not in the graph.
    pub fn load_partial(
        dir: &Path,
        render: &RenderContext,
        sources: &[String],
    ) -> (ModelGraph, Vec<ModelError>) {
        Self::load_partial_folders(&[dir.to_path_buf()], render, sources)
    }

    /// Like [`ModelGraph::load`] on layered folders ([`find_model_files`]): a later folder's model
    /// replaces the same-named one of an earlier folder.
    pub fn load_folders(
        dirs: &[PathBuf],
        render: &RenderContext,
        sources: &[String],
    ) -> Result<ModelGraph, Vec<ModelError>> {
        let (graph, errors) = Self::load_partial_folders(dirs, render, sources);
        if errors.is_empty() {
            Ok(graph)
        } else {
            Err(errors)
        }
    }

    /// [`ModelGraph::load_partial`] on layered folders.
    pub fn load_partial_folders(
        dirs: &[PathBuf],
        render: &RenderContext,
        sources: &[String],
    ) -> (ModelGraph, Vec<ModelError>) {
        let files = match find_model_files(dirs) {
            Ok(f) => f,
            Err(e) => return (ModelGraph { models: Vec::new() }, vec![e]),
        };
        let mut errors = Vec::new();
        let mut parsed: BTreeMap<String, Parsed> = BTreeMap::new();
        for (file, layer) in files {
            let Some(name) = file.file_stem().map(|s| s.to_string_lossy().to_string()) else {
                continue;
            };
            if let Some(first) = parsed.get(&name) {
                errors.push(ModelError::DuplicateName {
                    name,
                    first: first.file.clone(),
                    second: file,
                });
                continue;
            }
            match parse_query_file(&file, render) {
                Ok(query) => {
                    parsed.insert(name, Parsed { file, layer, query });
                }
                Err(e) => errors.push(e),
            }
        }
        let source_set: BTreeSet<&str> = sources.iter().map(String::as_str).collect();
        let mut models = BTreeMap::new();
        for (name, Parsed { file, layer, query }) in &parsed {
            let mut model_deps = BTreeSet::new();
            let mut source_deps = BTreeSet::new();
            let before = errors.len();
            for (r, span) in &query.refs {
                if parsed.contains_key(r) && r != name {
                    model_deps.insert(r.clone());
                } else if source_set.contains(r.as_str()) {
                    source_deps.insert(r.clone());
                } else if r == name {
                    errors.push(ModelError::Cycle {
                        files: vec![file.clone(), file.clone()],
                    });
                } else {
                    let candidates = parsed
                        .keys()
                        .map(String::as_str)
                        .chain(source_set.iter().copied());
                    errors.push(ModelError::UnknownTable {
                        file: file.clone(),
                        span: span.clone(),
                        reference: r.clone(),
                        suggestion: crate::spec::closest(r, candidates).map(str::to_string),
                    });
                }
            }
            if errors.len() > before {
                continue;
            }
            models.insert(
                name.clone(),
                Model {
                    name: name.clone(),
                    layer: layer.clone(),
                    file: file.clone(),
                    text: query.text.clone(),
                    sql: query.sql.clone(),
                    model_deps: model_deps.into_iter().collect(),
                    source_deps: source_deps.into_iter().collect(),
                    view: false,
                },
            );
        }
        let (sorted, cycle) = topo_sort(models);
        errors.extend(cycle);
        (ModelGraph { models: sorted }, errors)
    }

    /// The models in `names`, in order, each reading only the others in `names` as models (what
    /// they read outside it is registered before they run).
    pub fn subgraph(&self, names: &BTreeSet<String>) -> ModelGraph {
        ModelGraph {
            models: self
                .models
                .iter()
                .filter(|m| names.contains(&m.name))
                .map(|m| Model {
                    model_deps: m
                        .model_deps
                        .iter()
                        .filter(|d| names.contains(*d))
                        .cloned()
                        .collect(),
                    ..m.clone()
                })
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Model names, in execution order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.name.as_str())
    }
}

/// Renders and parses one SQL file (a model or a singular test): exactly one query that only
/// reads tables by their bare names.
pub fn parse_query_file(file: &Path, render: &RenderContext) -> Result<ParsedQuery, ModelError> {
    let text = std::fs::read_to_string(file).map_err(|source| ModelError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let sql = render.render(file, &text)?;
    let mut statements =
        DFParser::parse_sql_with_dialect(&sql, &GenericDialect {}).map_err(|e| {
            let message = e.to_string();
            ModelError::Syntax {
                file: file.to_path_buf(),
                span: span_from_message(&message),
                message: clean_message(&message),
            }
        })?;
    let not_query = |message: String| ModelError::NotAQuery {
        file: file.to_path_buf(),
        message,
    };
    if statements.len() != 1 {
        return Err(not_query(format!(
            "a model file holds exactly one SELECT query, found {} statements",
            statements.len()
        )));
    }
    let Some(statement) = statements.pop_front() else {
        return Err(not_query("the file holds no query".into()));
    };
    match &statement {
        DFStatement::Statement(s) if matches!(&**s, Statement::Query(q) if selects_into(q)) => {
            return Err(not_query(
                "SELECT ... INTO creates a table: a model is a plain SELECT; Beacon writes its result".into(),
            ));
        }
        DFStatement::Statement(s) if matches!(**s, Statement::Query(_)) => {}
        other => {
            let kind = describe(other);
            return Err(not_query(format!(
                "only a SELECT query is allowed in a model, found {kind}: models may read only the pipeline's sources and models, and write nothing"
            )));
        }
    }
    let (tables, _ctes) = resolve_table_references(&statement, true)
        .map_err(|e| not_query(format!("cannot resolve table references: {e}")))?;
    let mut refs = Vec::new();
    for t in tables {
        if t.schema().is_some() {
            return Err(not_query(format!(
                "`{t}` is a qualified name: models read the pipeline's sources and models by their bare names"
            )));
        }
        let name = t.table().to_string();
        let span = find_word(&sql, &name);
        refs.push((name, span));
    }
    Ok(ParsedQuery { text, sql, refs })
}

/// Whether a query (or any part of a set operation in it) is a `SELECT ... INTO`.
fn selects_into(q: &Query) -> bool {
    fn walk(e: &SetExpr) -> bool {
        match e {
            SetExpr::Select(s) => s.into.is_some(),
            SetExpr::Query(q) => walk(&q.body),
            SetExpr::SetOperation { left, right, .. } => walk(left) || walk(right),
            _ => false,
        }
    }
    walk(&q.body)
}

fn describe(s: &DFStatement) -> String {
    match s {
        DFStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".into(),
        DFStatement::CopyTo(_) => "COPY".into(),
        DFStatement::Explain(_) => "EXPLAIN".into(),
        DFStatement::Statement(s) => {
            let text = s.to_string();
            text.split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        }
        _ => "a statement that is not a query".into(),
    }
}

/// sqlparser messages end with "at Line: L, Column: C".
fn span_from_message(msg: &str) -> Option<SqlSpan> {
    let i = msg.rfind("Line: ")?;
    let rest = &msg[i + 6..];
    let (line, rest) = rest.split_once(',')?;
    let col = rest.trim().strip_prefix("Column: ")?;
    let col: String = col.chars().take_while(char::is_ascii_digit).collect();
    Some(SqlSpan {
        line: line.trim().parse().ok()?,
        column: col.parse().ok()?,
    })
}

fn clean_message(msg: &str) -> String {
    let msg = msg.strip_prefix("SQL error: ").unwrap_or(msg);
    let msg = msg
        .strip_prefix("ParserError(\"")
        .map(|m| m.trim_end_matches("\")"))
        .unwrap_or(msg);
    match msg.rfind(" at Line: ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// First occurrence of `word` as a whole identifier (case-insensitive) after a FROM/JOIN-ish context.
pub(crate) fn find_word(sql: &str, word: &str) -> Option<SqlSpan> {
    let lower = sql.to_lowercase();
    let w = word.to_lowercase();
    let bytes = lower.as_bytes();
    let mut start = 0;
    while let Some(pos) = lower[start..].find(&w) {
        let i = start + pos;
        let before_ok = i == 0 || !is_ident(bytes[i - 1]);
        let end = i + w.len();
        let after_ok = end >= bytes.len() || !is_ident(bytes[end]);
        if before_ok && after_ok {
            let line = lower[..i].matches('\n').count() + 1;
            let column = i - lower[..i].rfind('\n').map(|n| n + 1).unwrap_or(0) + 1;
            return Some(SqlSpan { line, column });
        }
        start = end;
    }
    None
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'"'
}

/// Kahn's algorithm with names in sorted order, so the order is the same on every run. On a
/// cycle: the models that are not part of it or downstream of it, sorted, and the cycle.
fn topo_sort(models: BTreeMap<String, Model>) -> (Vec<Model>, Option<ModelError>) {
    let mut indegree: BTreeMap<&str, usize> = models.keys().map(|k| (k.as_str(), 0)).collect();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in models.values() {
        for d in &m.model_deps {
            if models.contains_key(d) {
                *indegree.entry(m.name.as_str()).or_default() += 1;
                dependents
                    .entry(d.as_str())
                    .or_default()
                    .push(m.name.as_str());
            }
        }
    }
    let mut ready: BTreeSet<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut order = Vec::new();
    while let Some(next) = ready.pop_first() {
        order.push(next.to_string());
        for dep in dependents.get(next).into_iter().flatten() {
            if let Some(d) = indegree.get_mut(dep) {
                *d -= 1;
                if *d == 0 {
                    ready.insert(dep);
                }
            }
        }
    }
    if order.len() < models.len() {
        let stuck: BTreeSet<&str> = indegree
            .iter()
            .filter(|(_, d)| **d > 0)
            .map(|(k, _)| *k)
            .collect();
        let cycle = ModelError::Cycle {
            files: find_cycle(&models, &stuck),
        };
        let mut models = models;
        let sorted = order
            .into_iter()
            .filter_map(|n| models.remove(&n))
            .collect();
        return (sorted, Some(cycle));
    }
    let mut models = models;
    let sorted = order
        .into_iter()
        .filter_map(|n| models.remove(&n))
        .collect();
    (sorted, None)
}

/// Walks dependencies among the stuck models until one repeats: that loop is the cycle.
fn find_cycle(models: &BTreeMap<String, Model>, stuck: &BTreeSet<&str>) -> Vec<PathBuf> {
    let Some(start) = stuck.iter().next() else {
        return Vec::new();
    };
    let mut path: Vec<&str> = vec![start];
    let mut current = *start;
    loop {
        let next = models
            .get(current)
            .and_then(|m| m.model_deps.iter().find(|d| stuck.contains(d.as_str())))
            .map(String::as_str);
        let Some(next) = next else { break };
        if let Some(pos) = path.iter().position(|p| *p == next) {
            let mut cycle: Vec<&str> = path[pos..].to_vec();
            cycle.push(next);
            return cycle
                .iter()
                .filter_map(|n| models.get(*n).map(|m| m.file.clone()))
                .collect();
        }
        path.push(next);
        current = next;
    }
    path.iter()
        .filter_map(|n| models.get(*n).map(|m| m.file.clone()))
        .collect()
}
