//! `pipeline.json`: the pipeline as it ran, for lineage tools, catalogs and reviewers. Written
//! with each committed run next to its manifest: every source with its contract, every model
//! with its layer, file, dependencies and the columns it wrote, and every data test.

use super::RunResults;
use crate::checks::CompiledTest;
use crate::models::ModelGraph;
use crate::publish::ColumnInfo;
use crate::spec::{Pipeline, Severity};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct PipelineManifest {
    pub pipeline: String,
    pub run_id: String,
    pub run_date: chrono::NaiveDate,
    pub beacon_version: String,
    pub sources: Vec<SourceEntry>,
    pub models: Vec<ModelEntry>,
    pub tests: Vec<TestEntry>,
}

#[derive(Debug, Serialize)]
pub struct SourceEntry {
    pub name: String,
    /// As shown to users (no credentials).
    pub location: String,
    pub optional: bool,
    pub primary_key: Vec<String>,
    pub columns: Vec<ContractColumn>,
}

#[derive(Debug, Serialize)]
pub struct ContractColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: String,
    pub required: bool,
}

#[derive(Debug, Serialize)]
pub struct ModelEntry {
    pub name: String,
    pub layer: String,
    pub file: String,
    pub published: bool,
    /// `table` (written as Parquet) or `view` (planned inside its readers).
    pub materialized: &'static str,
    pub depends_on_models: Vec<String>,
    pub depends_on_sources: Vec<String>,
    /// The columns it wrote in this run (absent when this run did not build it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<ColumnInfo>>,
    /// xxh3 of the rendered SQL: changes when the query or a var it uses changes.
    pub sql_hash: String,
}

#[derive(Debug, Serialize)]
pub struct TestEntry {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub severity: Severity,
    pub declared_at: String,
}

/// The pipeline manifest of a run.
pub fn pipeline_manifest(
    pipeline: &Pipeline,
    graph: &ModelGraph,
    tests: &[CompiledTest],
    results: &RunResults,
    source_locations: &[(String, String)],
) -> PipelineManifest {
    let sources = pipeline
        .sources
        .iter()
        .map(|s| SourceEntry {
            name: s.contract.name.clone(),
            location: source_locations
                .iter()
                .find(|(n, _)| *n == s.contract.name)
                .map(|(_, l)| l.clone())
                .unwrap_or_else(|| s.location.clone()),
            optional: s.optional,
            primary_key: s.contract.primary_key.clone(),
            columns: s
                .contract
                .columns
                .iter()
                .map(|c| ContractColumn {
                    name: c.name.clone(),
                    column_type: format!("{:?}", c.column_type).to_lowercase(),
                    required: c.required,
                })
                .collect(),
        })
        .collect();
    let models = graph
        .models
        .iter()
        .map(|m| ModelEntry {
            name: m.name.clone(),
            layer: m.layer.clone(),
            file: m.file.display().to_string(),
            published: pipeline.publish.contains(&m.name),
            materialized: if m.view { "view" } else { "table" },
            depends_on_models: m.model_deps.clone(),
            depends_on_sources: m.source_deps.clone(),
            columns: results
                .models
                .iter()
                .find(|r| r.name == m.name && !r.columns.is_empty())
                .map(|r| r.columns.clone()),
            sql_hash: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(m.sql.as_bytes())),
        })
        .collect();
    let tests = tests
        .iter()
        .map(|t| TestEntry {
            id: t.id.clone(),
            model: t.model.clone(),
            severity: t.severity,
            declared_at: t.origin.to_string(),
        })
        .collect();
    PipelineManifest {
        pipeline: pipeline.name.clone(),
        run_id: results.run_id.clone(),
        run_date: results.run_date,
        beacon_version: env!("CARGO_PKG_VERSION").to_string(),
        sources,
        models,
        tests,
    }
}
