//! The model graph as text: one line per model, or a Mermaid flowchart (for the README and for
//! documentation sites), with a subgraph per layer.

use super::ModelGraph;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// `model (layer) <- what it reads`, in execution order.
pub fn text(graph: &ModelGraph) -> String {
    let mut out = String::new();
    for m in &graph.models {
        let deps: Vec<&str> = m
            .source_deps
            .iter()
            .chain(&m.model_deps)
            .map(String::as_str)
            .collect();
        let layer = if m.layer.is_empty() { "." } else { &m.layer };
        let view = if m.view { ", view" } else { "" };
        let _ = writeln!(out, "{} ({layer}{view}) <- {}", m.name, deps.join(", "));
    }
    out
}

/// A Mermaid `flowchart LR`: sources as cylinders, published models as double boxes, one
/// subgraph per layer.
pub fn mermaid(graph: &ModelGraph, sources: &[String], published: &BTreeSet<String>) -> String {
    let mut out = String::from("flowchart LR\n");
    let used: BTreeSet<&str> = graph
        .models
        .iter()
        .flat_map(|m| m.source_deps.iter().map(String::as_str))
        .collect();
    let _ = writeln!(out, "  subgraph sources");
    for s in sources {
        if used.contains(s.as_str()) {
            let _ = writeln!(out, "    {s}[({s})]");
        }
    }
    let _ = writeln!(out, "  end");
    let mut layers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in &graph.models {
        layers.entry(m.layer.as_str()).or_default().push(&m.name);
    }
    for (layer, models) in &layers {
        let title = if layer.is_empty() { "models" } else { layer };
        let _ = writeln!(out, "  subgraph {}", title.replace('/', "_"));
        for m in models {
            if published.contains(*m) {
                let _ = writeln!(out, "    {m}[[{m}]]");
            } else {
                let _ = writeln!(out, "    {m}[{m}]");
            }
        }
        let _ = writeln!(out, "  end");
    }
    for m in &graph.models {
        for d in m.source_deps.iter().chain(&m.model_deps) {
            let _ = writeln!(out, "  {d} --> {}", m.name);
        }
    }
    out
}
