//! Retention: after a successful commit, the newest `keep_runs` committed run dates of the
//! output stay and older ones are deleted.
//!
//! A date is deleted manifest first, so no reader following the reader rule picks it up again,
//! then its tables' folders (`<model>/run_date=D/`), its run metadata, its work folder and (with
//! `retention.raw`) its raw zone and quarantine. Only dates with a manifest count as runs: a date
//! whose run never committed is not counted and not touched. Deletion is best effort (a failure
//! is a warning, the next commit tries again); it never touches the dates that are kept.

use super::state;
use crate::publish::Publisher;
use crate::spec::{Pipeline, Retention};
use crate::storage::Location;
use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;

/// The committed run dates under `output`, oldest first.
pub async fn committed_dates(output: &Location, pipeline: &str) -> Vec<NaiveDate> {
    let runs = output.child("_beacon/runs");
    let Ok(listed) = runs.store.list_with_delimiter(Some(&runs.path)).await else {
        return Vec::new();
    };
    let mut dates: Vec<NaiveDate> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename())
        .filter_map(|n| n.strip_prefix("run_date="))
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .collect();
    dates.sort();
    let mut committed = Vec::new();
    for d in dates {
        let p = Publisher::new(output.clone(), pipeline, d, "retention");
        if matches!(p.read_manifest().await, Ok(Some(_))) {
            committed.push(d);
        }
    }
    committed
}

/// Deletes everything under `loc`, returning how many objects went.
async fn delete_prefix(loc: &Location) -> Result<usize, object_store::Error> {
    let list: Vec<_> = match loc.store.list(Some(&loc.path)).try_collect().await {
        Ok(l) => l,
        Err(object_store::Error::NotFound { .. }) => return Ok(0),
        Err(e) => return Err(e),
    };
    for meta in &list {
        loc.store.delete(&meta.location).await?;
    }
    if let Some(dir) = &loc.local {
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
    Ok(list.len())
}

/// Applies `retention` after the commit of `current`; returns the deleted dates and the
/// problems met (for warnings).
pub async fn apply(
    pipeline: &Pipeline,
    retention: &Retention,
    output: &Location,
    raw: &Location,
    work_root: &Location,
    current: NaiveDate,
) -> (Vec<NaiveDate>, Vec<String>) {
    let dates = committed_dates(output, &pipeline.name).await;
    if dates.len() <= retention.keep_runs {
        return (Vec::new(), Vec::new());
    }
    let doomed: Vec<NaiveDate> = dates[..dates.len() - retention.keep_runs]
        .iter()
        .copied()
        .filter(|d| *d != current)
        .collect();
    let mut deleted = Vec::new();
    let mut problems = Vec::new();
    for date in doomed {
        let partition = format!("run_date={}", date.format("%Y-%m-%d"));
        let publisher = Publisher::new(output.clone(), &pipeline.name, date, "retention");
        let manifest = match publisher.read_manifest().await {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => {
                problems.push(format!(
                    "retention: cannot read the manifest of {partition}: {e}"
                ));
                continue;
            }
        };
        // Un-commit first: the manifest goes, then what it named.
        let meta = publisher.run_meta();
        if let Err(e) = meta
            .store
            .delete(&meta.path.clone().join("manifest.json"))
            .await
        {
            problems.push(format!(
                "retention: cannot delete the commit of {partition}: {e}"
            ));
            continue;
        }
        let mut folders: Vec<Location> = manifest
            .tables
            .iter()
            .map(|t| output.child(&format!("{}/{partition}", t.model)))
            .collect();
        folders.push(meta);
        folders.push(state::date_folder(work_root, &pipeline.name, date));
        if retention.raw {
            for s in &pipeline.sources {
                let name = &s.contract.name;
                folders.push(raw.child(&format!("{name}/{partition}")));
                folders.push(raw.child(&format!("_quarantine/{name}/{partition}")));
            }
        }
        for folder in folders {
            if let Err(e) = delete_prefix(&folder).await {
                problems.push(format!("retention: cannot delete {}: {e}", folder.display));
            }
        }
        deleted.push(date);
    }
    (deleted, problems)
}
