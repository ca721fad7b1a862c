//! Model selection: `--select` and `--exclude`, the way dbt users write them.
//!
//! A selector is a model name or a glob on names (`stg_*`), with `+` before it for everything
//! upstream and after it for everything downstream: `lead_scores`, `int_lead_features+`,
//! `+hot_list`, `+funnel_stage_metrics+`. Several selectors (repeated flags, or separated by
//! commas or spaces) add up; `--exclude` takes the same syntax and removes from the selection.

use super::ModelGraph;
use globset::Glob;
use std::collections::{BTreeMap, BTreeSet};

/// A selector that names nothing, with the closest model name when one is close.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("`{selector}` selects no model{}", suggestion.as_ref().map(|s| format!(", did you mean `{s}`?")).unwrap_or_default())]
pub struct SelectError {
    pub selector: String,
    pub suggestion: Option<String>,
}

/// The models chosen by `select` (all when empty) minus `exclude`, as names.
pub fn select(
    graph: &ModelGraph,
    select: &[String],
    exclude: &[String],
) -> Result<BTreeSet<String>, Vec<SelectError>> {
    let mut errors = Vec::new();
    let mut chosen: BTreeSet<String> = if split(select).next().is_none() {
        graph.names().map(str::to_string).collect()
    } else {
        let mut out = BTreeSet::new();
        for s in split(select) {
            match expand(graph, s) {
                Ok(set) => out.extend(set),
                Err(e) => errors.push(e),
            }
        }
        out
    };
    for s in split(exclude) {
        match expand(graph, s) {
            Ok(set) => chosen.retain(|m| !set.contains(m)),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(chosen)
    } else {
        Err(errors)
    }
}

fn split(args: &[String]) -> impl Iterator<Item = &str> {
    args.iter()
        .flat_map(|a| a.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|s| !s.is_empty())
}

/// One selector's models.
fn expand(graph: &ModelGraph, selector: &str) -> Result<BTreeSet<String>, SelectError> {
    let upstream = selector.starts_with('+');
    let downstream = selector.len() > 1 && selector.ends_with('+');
    let pattern = selector.trim_start_matches('+').trim_end_matches('+');
    let no_match = || SelectError {
        selector: selector.to_string(),
        suggestion: crate::spec::closest(pattern, graph.names()).map(str::to_string),
    };
    let roots: Vec<&str> = if pattern.contains(['*', '?', '[']) {
        let matcher = Glob::new(pattern)
            .map_err(|_| no_match())?
            .compile_matcher();
        graph.names().filter(|n| matcher.is_match(n)).collect()
    } else {
        graph.names().filter(|n| *n == pattern).collect()
    };
    if roots.is_empty() {
        return Err(no_match());
    }
    let mut out: BTreeSet<String> = roots.iter().map(|r| r.to_string()).collect();
    if upstream {
        out.extend(closure(graph, &roots, Direction::Up));
    }
    if downstream {
        out.extend(closure(graph, &roots, Direction::Down));
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// Every model reachable from `roots` along dependencies (up) or dependents (down).
fn closure(graph: &ModelGraph, roots: &[&str], dir: Direction) -> BTreeSet<String> {
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in &graph.models {
        for d in &m.model_deps {
            dependents
                .entry(d.as_str())
                .or_default()
                .push(m.name.as_str());
        }
    }
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = roots.to_vec();
    while let Some(n) = stack.pop() {
        let next: Vec<&str> = match dir {
            Direction::Up => graph
                .get(n)
                .map(|m| m.model_deps.iter().map(String::as_str).collect())
                .unwrap_or_default(),
            Direction::Down => dependents.get(n).cloned().unwrap_or_default(),
        };
        for x in next {
            if seen.insert(x.to_string()) {
                stack.push(x);
            }
        }
    }
    seen
}

/// The models upstream of `names` (not including them).
pub fn upstream_of(graph: &ModelGraph, names: &BTreeSet<String>) -> BTreeSet<String> {
    let roots: Vec<&str> = names.iter().map(String::as_str).collect();
    closure(graph, &roots, Direction::Up)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Model;

    fn model(name: &str, deps: &[&str]) -> Model {
        Model {
            name: name.into(),
            layer: String::new(),
            file: Default::default(),
            text: String::new(),
            sql: String::new(),
            model_deps: deps.iter().map(|d| d.to_string()).collect(),
            source_deps: Vec::new(),
            view: false,
        }
    }

    fn graph() -> ModelGraph {
        // stg_a -> int_x -> mart_1
        // stg_b -> int_x, stg_b -> mart_2
        ModelGraph {
            models: vec![
                model("stg_a", &[]),
                model("stg_b", &[]),
                model("int_x", &["stg_a", "stg_b"]),
                model("mart_1", &["int_x"]),
                model("mart_2", &["stg_b"]),
            ],
        }
    }

    fn sel(s: &[&str], e: &[&str]) -> Vec<String> {
        let s: Vec<String> = s.iter().map(|x| x.to_string()).collect();
        let e: Vec<String> = e.iter().map(|x| x.to_string()).collect();
        select(&graph(), &s, &e).unwrap().into_iter().collect()
    }

    #[test]
    fn names_plus_and_globs() {
        assert_eq!(sel(&[], &[]).len(), 5);
        assert_eq!(sel(&["int_x"], &[]), vec!["int_x"]);
        assert_eq!(sel(&["int_x+"], &[]), vec!["int_x", "mart_1"]);
        assert_eq!(sel(&["+int_x"], &[]), vec!["int_x", "stg_a", "stg_b"]);
        assert_eq!(
            sel(&["+int_x+"], &[]),
            vec!["int_x", "mart_1", "stg_a", "stg_b"]
        );
        assert_eq!(
            sel(&["stg_b+"], &[]),
            vec!["int_x", "mart_1", "mart_2", "stg_b"]
        );
        assert_eq!(sel(&["stg_*"], &[]), vec!["stg_a", "stg_b"]);
        assert_eq!(sel(&["mart_1,mart_2"], &[]), vec!["mart_1", "mart_2"]);
        assert_eq!(sel(&["stg_b+"], &["int_x+"]), vec!["mart_2", "stg_b"]);
        assert_eq!(sel(&[], &["mart_*"]), vec!["int_x", "stg_a", "stg_b"]);
    }

    #[test]
    fn unknown_selectors_are_errors_with_suggestions() {
        let errs = select(
            &graph(),
            &["mart_3+".to_string(), "int_y".to_string()],
            &["zzz".to_string()],
        )
        .unwrap_err();
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "`mart_3+` selects no model, did you mean `mart_2`?",
                "`int_y` selects no model, did you mean `int_x`?",
                "`zzz` selects no model",
            ]
        );
    }
}
