//! Beacon: a nightly batch job for B2B growth analytics on Apache DataFusion.
//!
//! A run flows one way: [`spec`] (the pipeline YAML) -> [`load`] (sources -> contract checks ->
//! raw Parquet) -> [`models`] (SQL files -> dependency graph -> execution) -> [`publish`] (staged
//! files, one commit, a manifest), conducted by [`run`], which also writes the HTML [`report`] of a committed run. [`storage`] turns every URL into an
//! object store; [`engine`] builds the DataFusion session. The `beacon` binary is a thin CLI over
//! this library; nothing here prints.

pub mod checks;
pub mod compact;
pub mod contract;
pub mod engine;
pub mod joins;
pub mod load;
pub mod memory;
pub mod models;
pub mod publish;
pub mod report;
pub mod run;
pub mod sample;
pub mod scoring;
pub mod spec;
pub mod storage;
