//! The pipeline YAML: strict parsing, overrides, and validation into domain types.
//!
//! Two stages, as in the codebases we follow: [`raw`] mirrors the file (serde, unknown keys denied),
//! then [`validate`] checks what serde cannot and builds a [`Pipeline`], collecting every problem
//! with its file, line and column instead of stopping at the first. `${ENV}` interpolation happens
//! on the text before parsing; `--set key=value` overrides apply to the parsed tree afterwards, so the
//! same file runs in dev, CI and production. All YAML parsing lives in this module.

mod checks;
mod interpolate;
mod locate;
pub mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use checks::{test_name, DataTest, ModelChecks, Severity, TestKind};
pub use validate::{
    parse_byte_size, parse_duration, EngineSpec, Incremental, JoinStrategy, LargeRun, LineageSpec,
    MemoryPoolKind, Pipeline, Retention, Source, VarValue, ViewSelector, DEFAULT_MODEL_CONCURRENCY,
};

/// A problem found in a pipeline file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// 1-based column in the file, when known.
    pub column: Option<usize>,
    /// Key path such as `sources.leads.format` (empty for the whole file).
    pub path: String,
    pub message: String,
}

impl Problem {
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            line: None,
            column: None,
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Errors of the spec stage.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read pipeline file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("invalid override `{arg}`: {message}")]
    BadOverride { arg: String, message: String },
}

impl SpecError {
    /// The problems, for callers that render them themselves (e.g. `beacon validate`).
    pub fn problems(&self) -> &[Problem] {
        match self {
            SpecError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

fn render_problems(file: &Path, problems: &[Problem]) -> String {
    let mut out = String::new();
    let n = problems.len();
    if n > 1 {
        out.push_str(&format!("{n} problems in {}:\n", file.display()));
    }
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}", ProblemDisplay { file, problem: p }));
    }
    out
}

/// `file:line:col: path: message`, the shape editors and CI annotations understand.
pub struct ProblemDisplay<'a> {
    pub file: &'a Path,
    pub problem: &'a Problem,
}

impl fmt::Display for ProblemDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.problem;
        write!(f, "{}", self.file.display())?;
        if let Some(line) = p.line {
            write!(f, ":{line}")?;
            if let Some(col) = p.column {
                write!(f, ":{col}")?;
            }
        }
        if p.path.is_empty() {
            write!(f, ": {}", p.message)
        } else {
            write!(f, ": {}: {}", p.path, p.message)
        }
    }
}

/// Overrides from the command line, applied after the file is parsed.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `key.path=value` pairs (`--set`); `--var name=value` arrives here as `vars.name=value`.
    pub set: Vec<(String, String)>,
}

impl Overrides {
    /// Parses `key=value` as given on the command line.
    pub fn push_set(&mut self, arg: &str) -> Result<(), SpecError> {
        let (k, v) = split_assignment(arg)?;
        self.set.push((k, v));
        Ok(())
    }

    /// Parses `name=value` and records it as `vars.name=value`.
    pub fn push_var(&mut self, arg: &str) -> Result<(), SpecError> {
        let (k, v) = split_assignment(arg)?;
        self.set.push((format!("vars.{k}"), v));
        Ok(())
    }
}

fn split_assignment(arg: &str) -> Result<(String, String), SpecError> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(SpecError::BadOverride {
            arg: arg.to_string(),
            message: "expected KEY=VALUE, e.g. output=s3://bucket/beacon".into(),
        }),
    }
}

/// Reads, interpolates, parses, overrides and validates a pipeline file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Pipeline, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    parse_str(&text, path, &env, overrides)
}

/// Like [`load`] on text already in memory; `env` supplies `${VAR}` values.
pub fn parse_str(
    text: &str,
    path: &Path,
    env: &BTreeMap<String, String>,
    overrides: &Overrides,
) -> Result<Pipeline, SpecError> {
    let invalid = |problems| SpecError::Invalid {
        file: path.to_path_buf(),
        problems,
    };
    let text = interpolate::interpolate(text, env).map_err(invalid)?;
    let mut raw: raw::RawPipeline = deserialize_located(&text).map_err(|p| invalid(vec![p]))?;
    if !overrides.set.is_empty() {
        raw = apply_overrides(&text, overrides)?;
    }
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut pipeline = validate::validate(raw, path, &base_dir).map_err(|mut problems| {
        for p in &mut problems {
            if p.line.is_none() {
                if let Some((line, col)) = locate::locate(&text, &p.path) {
                    p.line = Some(line);
                    p.column = Some(col);
                }
            }
        }
        invalid(problems)
    })?;
    for (i, v) in pipeline.views.iter_mut().enumerate() {
        v.line = locate::locate(&text, &format!("views[{i}]")).map(|(l, _)| l);
    }
    // Checks are reported by line later (validate, test runs): find where each is declared.
    for c in &mut pipeline.checks {
        c.line = locate::locate(&text, &format!("checks.{}", c.model)).map(|(l, _)| l);
        for t in &mut c.tests {
            t.line = locate::locate(&text, &t.path).map(|(l, _)| l);
        }
    }
    Ok(pipeline)
}

fn deserialize_located(text: &str) -> Result<raw::RawPipeline, Problem> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner.location();
        let path = if path == "." { String::new() } else { path };
        Problem {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            path,
            message: did_you_mean(&strip_location(&inner.to_string())),
        }
    })
}

/// serde_yaml appends " at line L column C" to its messages; we print the location ourselves.
/// serde_yaml also prefixes the key path, which we print separately.
fn strip_location(msg: &str) -> String {
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    match msg.split_once(": ") {
        Some((prefix, rest)) if !prefix.contains(char::is_whitespace) => rest.to_string(),
        _ => msg.to_string(),
    }
}

/// Adds "did you mean `x`?" to serde's unknown field/variant messages when a close name exists.
fn did_you_mean(msg: &str) -> String {
    let Some(rest) = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))
    else {
        return msg.to_string();
    };
    let Some((bad, tail)) = rest.split_once('`') else {
        return msg.to_string();
    };
    let candidates: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    match closest(bad, candidates.iter().copied()) {
        Some(best) => format!(
            "unknown key `{bad}`, did you mean `{best}`? (expected one of {})",
            candidates.join(", ")
        ),
        None => msg.to_string(),
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn apply_overrides(text: &str, overrides: &Overrides) -> Result<raw::RawPipeline, SpecError> {
    let mut tree: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| SpecError::BadOverride {
            arg: String::new(),
            message: e.to_string(),
        })?;
    for (key, value) in &overrides.set {
        let arg = format!("{key}={value}");
        let parsed: serde_yaml::Value = if value.is_empty() {
            serde_yaml::Value::String(String::new())
        } else {
            serde_yaml::from_str(value).unwrap_or_else(|_| serde_yaml::Value::String(value.clone()))
        };
        let mut node = &mut tree;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let serde_yaml::Value::Mapping(map) = node else {
                return Err(SpecError::BadOverride {
                    arg,
                    message: format!("`{}` is not a mapping", parts[..i].join(".")),
                });
            };
            let k = serde_yaml::Value::String((*part).to_string());
            if i + 1 == parts.len() {
                map.insert(k, parsed.clone());
                break;
            }
            node = map
                .entry(k)
                .or_insert_with(|| serde_yaml::Value::Mapping(Default::default()));
        }
    }
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let path = e.path().to_string();
        SpecError::BadOverride {
            arg: overrides
                .set
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            message: format!(
                "{path}: {}",
                did_you_mean(&strip_location(&e.into_inner().to_string()))
            ),
        }
    })
}

#[cfg(test)]
mod tests;
