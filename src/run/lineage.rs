//! OpenLineage run events: START when a run begins, COMPLETE after its commit, FAIL when it
//! stops, with the datasets it reads (sources) and writes (published tables).
//!
//! Events follow the OpenLineage 2-0-2 `RunEvent` schema and go to a local NDJSON file, an HTTP
//! endpoint (the OpenLineage HTTP transport: one POST per event, `Authorization: Bearer` from
//! `OPENLINEAGE_API_KEY` when set), or both. Lineage is observability, not the job: an endpoint
//! that is down is a warning for the caller, never a failed run. Dataset names are locations as
//! shown to users, which never carry credentials (see `storage`).

use crate::publish::Manifest;
use crate::spec::LineageSpec;
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::time::Duration;

const PRODUCER: &str = concat!(
    "https://github.com/beacon-growth/beacon/tree/v",
    env!("CARGO_PKG_VERSION")
);
const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent";

/// The kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Start,
    Complete,
    Fail,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Start => "START",
            EventType::Complete => "COMPLETE",
            EventType::Fail => "FAIL",
        }
    }
}

/// A dataset as OpenLineage names it: `file` + absolute path, or `s3://bucket` + key.
pub fn dataset(location: &str) -> (String, String) {
    match url::Url::parse(location) {
        Ok(u) if u.scheme() != "file" && u.host_str().is_some() => (
            format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default()),
            u.path().trim_start_matches('/').to_string(),
        ),
        Ok(u) if u.scheme() == "file" => ("file".to_string(), u.path().to_string()),
        _ => ("file".to_string(), location.to_string()),
    }
}

/// A UUID (version 4 layout) for OpenLineage's `runId`, derived from Beacon's run id so that
/// the START, COMPLETE and FAIL events of one run share it.
pub fn run_uuid(run_id: &str) -> String {
    let a = xxhash_rust::xxh3::xxh3_64_with_seed(run_id.as_bytes(), 1);
    let b = xxhash_rust::xxh3::xxh3_64_with_seed(run_id.as_bytes(), 2);
    let hi = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// What an event says about a run.
pub struct RunInfo<'a> {
    pub spec: &'a LineageSpec,
    pub pipeline: &'a str,
    pub run_id: &'a str,
    pub run_date: NaiveDate,
    /// Source locations read (as displayed).
    pub inputs: &'a [String],
}

/// Builds one event.
pub fn event(
    info: &RunInfo<'_>,
    kind: EventType,
    manifest: Option<&Manifest>,
    error: Option<&str>,
) -> Value {
    let inputs: Vec<Value> = info
        .inputs
        .iter()
        .map(|loc| {
            let (namespace, name) = dataset(loc);
            json!({"namespace": namespace, "name": name})
        })
        .collect();
    let outputs: Vec<Value> = manifest
        .map(|m| {
            m.tables
                .iter()
                .map(|t| {
                    let (namespace, name) = dataset(&t.location);
                    let fields: Vec<Value> = t
                        .schema
                        .iter()
                        .map(|c| json!({"name": c.name, "type": c.data_type}))
                        .collect();
                    json!({
                        "namespace": namespace,
                        "name": name,
                        "facets": {
                            "schema": {
                                "_producer": PRODUCER,
                                "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
                                "fields": fields,
                            }
                        },
                        "outputFacets": {
                            "outputStatistics": {
                                "_producer": PRODUCER,
                                "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
                                "rowCount": t.rows,
                                "size": t.bytes,
                                "fileCount": t.files.len(),
                            }
                        }
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut run_facets = json!({
        "nominalTime": {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
            "nominalStartTime": format!("{}T00:00:00Z", info.run_date.format("%Y-%m-%d")),
        },
        "processing_engine": {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
            "name": "beacon",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "beacon": {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunFacet",
            "runId": info.run_id,
            "runDate": info.run_date.format("%Y-%m-%d").to_string(),
        }
    });
    if let (Some(e), Some(facets)) = (error, run_facets.as_object_mut()) {
        facets.insert(
            "errorMessage".to_string(),
            json!({
                "_producer": PRODUCER,
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
                "message": e,
                "programmingLanguage": "SQL",
            }),
        );
    }
    json!({
        "eventType": kind.as_str(),
        "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "run": {"runId": run_uuid(info.run_id), "facets": run_facets},
        "job": {
            "namespace": info.spec.namespace,
            "name": info.pipeline,
            "facets": {
                "jobType": {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
                    "processingType": "BATCH",
                    "integration": "BEACON",
                    "jobType": "JOB",
                }
            }
        },
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    })
}

/// Sends an event where the spec says; returns what went wrong, for a warning.
pub async fn emit(spec: &LineageSpec, event: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let line = event.to_string();
    if let Some(path) = &spec.file {
        if let Err(e) = append_line(path, &line).await {
            problems.push(format!(
                "cannot append the lineage event to {}: {e}",
                path.display()
            ));
        }
    }
    if let Some(url) = &spec.url {
        let shown = redact(url);
        match post(url, line).await {
            Ok(status) if status.is_success() => {}
            Ok(status) => problems.push(format!("lineage endpoint {shown} answered {status}")),
            Err(e) => problems.push(format!(
                "cannot send the lineage event to {shown}: {}",
                without_url(&e)
            )),
        }
    }
    problems
}

async fn append_line(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    // One write per line: concurrent appenders do not interleave inside a line.
    f.write_all(format!("{line}\n").as_bytes()).await?;
    f.flush().await
}

async fn post(url: &url::Url, body: String) -> Result<reqwest::StatusCode, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(reqwest::Error::without_url)?;
    let mut req = client
        .post(url.clone())
        .header("Content-Type", "application/json")
        .body(body);
    if let Ok(key) = std::env::var("OPENLINEAGE_API_KEY") {
        if !key.is_empty() {
            req = req.bearer_auth(key);
        }
    }
    // reqwest's messages would include the URL, which may carry a token.
    match req.send().await {
        Ok(r) => Ok(r.status()),
        Err(e) => Err(e.without_url()),
    }
}

/// The URL without user info or query (which may carry tokens).
fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}

/// The error and its causes (reqwest's URL is already stripped by `post`).
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_are_named_as_openlineage_names_them() {
        assert_eq!(
            dataset("s3://analytics/beacon/published/hot_list/run_date=2026-01-01/"),
            (
                "s3://analytics".to_string(),
                "beacon/published/hot_list/run_date=2026-01-01/".to_string()
            )
        );
        assert_eq!(
            dataset("file:///srv/out/hot_list/"),
            ("file".to_string(), "/srv/out/hot_list/".to_string())
        );
        assert_eq!(
            dataset("/srv/in/leads.csv"),
            ("file".to_string(), "/srv/in/leads.csv".to_string())
        );
    }

    #[test]
    fn run_uuids_are_stable_and_well_formed() {
        let a = run_uuid("20261122T010203Z-0a1b2c3d");
        assert_eq!(a, run_uuid("20261122T010203Z-0a1b2c3d"));
        assert_ne!(a, run_uuid("20261122T010203Z-0a1b2c3e"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "version 4: {a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant: {a}");
    }

    #[test]
    fn urls_lose_credentials_before_they_are_shown() {
        let u = url::Url::parse("https://user:secret@lineage.example/api/v1/lineage?token=abc")
            .unwrap();
        let shown = redact(&u);
        assert!(
            !shown.contains("secret") && !shown.contains("abc") && !shown.contains("user"),
            "{shown}"
        );
    }
}
