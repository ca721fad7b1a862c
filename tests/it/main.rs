//! Integration tests: the real `beacon` binary on fixtures, outputs read back with DuckDB.
//! One test binary (see Cargo.toml `autotests = false`): each extra binary would link DataFusion again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod e2e;
mod errors;
mod golden;
mod realdata;
mod report;
