//! Integration tests: the real `beacon` binary on fixtures, outputs read back with DuckDB.
//! One test binary (see Cargo.toml `autotests = false`): each extra binary would link DataFusion again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod analyst;
mod ballista;
mod common;
mod crash;
mod e2e;
mod errors;
mod golden;
mod lock;
mod ops;
mod realdata;
mod report;
mod s3;
mod s3env;
mod scheduling;
mod scoring;
mod views;
