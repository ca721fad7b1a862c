//! Whether a run gets the large-run settings (`large_run:`, see
//! [`Pipeline::with_large_run_settings`]).
//!
//! With the defaults (hash joins, a greedy pool, two models at a time) the work
//! fits when the memory limit is several times the data: a hash join's build side stays in memory
//! whole, and at 10M leads (6.9 GB of CSV) a run failed under pools of 4, 8, 12 and 16 GiB. With
//! the large-run settings every large join and every sort spills and the same run completes under
//! 2 GiB. `large_run: auto` (the default) chooses by the size of what the run reads,
//! counted as CSV: the large-run settings when it exceeds a quarter of `memory_limit` (1M leads,
//! 0.7 GB, keep the defaults under the shipped 4 GiB; 10M leads under 16 GiB or less do not). No
//! memory limit, or a Ballista cluster (whose executors have pools of their own), keeps the
//! defaults.

use crate::publish::SourceState;
use crate::spec::{EngineSpec, LargeRun, Pipeline};
use crate::storage::{Location, Storage, StorageError};
use std::collections::BTreeMap;

/// The share of `memory_limit` above which the sources count as large.
const LIMIT_SHARE: u64 = 4;

/// How many times its size a compressed CSV or NDJSON file holds (gzip on the generated and
/// exported datasets: 5-6x).
const COMPRESSED_RATIO: u64 = 5;

/// How many times its size a raw-zone Parquet file holds as CSV (zstd Parquet of the sources: 3-4x).
const PARQUET_RATIO: u64 = 4;

/// Why a run uses the large-run settings; `None`: it keeps the defaults. A location that cannot
/// be listed (an optional source that is absent) counts as empty: the loader reports it.
pub async fn large_run_reason(
    pipeline: &Pipeline,
    storage: &Storage,
    inputs: &[Location],
    preloaded: &BTreeMap<String, SourceState>,
) -> Option<String> {
    match pipeline.large_run {
        LargeRun::On => return Some("large_run: on".into()),
        LargeRun::Off => return None,
        LargeRun::Auto => {}
    }
    let limit = pipeline.memory_limit?;
    if !matches!(pipeline.engine, EngineSpec::Local) {
        return None;
    }
    let mut bytes = 0u64;
    for loc in inputs {
        bytes = bytes.saturating_add(csv_bytes(storage, loc).await.unwrap_or(0));
    }
    for st in preloaded.values() {
        if let Ok(loc) = storage.resolve(&st.location) {
            bytes = bytes.saturating_add(csv_bytes(storage, &loc).await.unwrap_or(0));
        }
    }
    is_large(bytes, limit).then(|| {
        format!(
            "large_run: auto: the sources hold about {:.1} GB as CSV, more than a quarter of \
             memory_limit ({:.1} GB)",
            bytes as f64 / 1e9,
            limit as f64 / 1e9
        )
    })
}

/// Sources of `bytes` (as CSV) are large for a pool of `limit`.
fn is_large(bytes: u64, limit: u64) -> bool {
    bytes > limit / LIMIT_SHARE
}

/// The files of `loc`, their sizes counted as CSV.
async fn csv_bytes(storage: &Storage, loc: &Location) -> Result<u64, StorageError> {
    let files = storage.list_files(loc).await?;
    Ok(files
        .iter()
        .map(|f| f.size.saturating_mul(ratio(f.location.as_ref())))
        .fold(0, u64::saturating_add))
}

/// How many times its size a file of this name holds as CSV.
fn ratio(name: &str) -> u64 {
    let name = name.to_ascii_lowercase();
    if name.ends_with(".parquet") {
        PARQUET_RATIO
    } else if [".gz", ".zst", ".zstd", ".bz2", ".xz"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        COMPRESSED_RATIO
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn compressed_and_parquet_files_count_as_what_they_hold() {
        assert_eq!(ratio("raw/leads.csv"), 1);
        assert_eq!(ratio("in/leads.csv.GZ"), COMPRESSED_RATIO);
        assert_eq!(ratio("in/events.ndjson.zst"), COMPRESSED_RATIO);
        assert_eq!(ratio("raw/leads/part-0.parquet"), PARQUET_RATIO);
    }

    fn pipeline(dir: &std::path::Path, settings: &str) -> Pipeline {
        let text = format!(
            "version: 1\nname: t\nraw: ./raw\noutput: ./out\nmodels: ./sql\n{settings}\nsources:\n  leads:\n    \
             location: ./leads.csv*\n    columns:\n      Id: string required\n"
        );
        crate::spec::parse_str(
            &text,
            &dir.join("p.yaml"),
            &BTreeMap::new(),
            &crate::spec::Overrides::default(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn auto_counts_the_listed_sources_against_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        // 1000 bytes of CSV and 300 of gzip (1500 as CSV): 2500 in all.
        std::fs::write(dir.path().join("leads.csv"), vec![b'x'; 1000]).unwrap();
        std::fs::write(dir.path().join("leads.csv.gz"), vec![b'x'; 300]).unwrap();
        let storage = Storage::new(dir.path());
        let loc = storage.resolve("leads.csv*").unwrap();
        let reason = |settings: &'static str| {
            let p = pipeline(dir.path(), settings);
            let (storage, loc) = (&storage, loc.clone());
            async move { large_run_reason(&p, storage, &[loc], &BTreeMap::new()).await }
        };
        // A quarter of 9996 bytes is 2499: large; of 10000, 2500: not.
        let large = reason("memory_limit: 9996").await;
        assert!(
            large.as_deref().is_some_and(|r| r.contains("auto")),
            "{large:?}"
        );
        assert_eq!(reason("memory_limit: 10000").await, None);
        // No limit, or `off`: the defaults; `on`: always.
        assert_eq!(reason("").await, None);
        assert_eq!(reason("memory_limit: 9996\nlarge_run: off").await, None);
        assert!(reason("memory_limit: 1GiB\nlarge_run: on").await.is_some());
        // An absent (optional) source counts as empty.
        let missing = storage.resolve("usage.csv*").unwrap();
        let p = pipeline(dir.path(), "memory_limit: 4");
        assert_eq!(
            large_run_reason(&p, &storage, &[missing], &BTreeMap::new()).await,
            None
        );
    }

    #[test]
    fn the_threshold_is_a_quarter_of_the_limit() {
        // 1M leads (0.7 GB of CSV) under the shipped 4 GiB: the defaults.
        assert!(!is_large(700_000_000, 4 * GIB));
        // 10M leads (6.9 GB) under 2 GiB, and under 16 GiB (where hash joins failed).
        assert!(is_large(6_900_000_000, 2 * GIB));
        assert!(is_large(6_900_000_000, 16 * GIB));
        assert!(!is_large(GIB, 4 * GIB));
        assert!(is_large(GIB + 1, 4 * GIB));
    }
}
