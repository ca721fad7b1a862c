//! Timeouts, retries and the lock lease of object-store access (the pipeline's `storage:` section).
//!
//! The values go into object_store's `ClientOptions` (per-request and connect timeouts) and
//! `RetryConfig` (retries with exponential backoff, and a deadline for one operation with all its
//! retries). They apply to every remote store Beacon opens: S3, GCS, Azure and HTTP.

use object_store::{BackoffConfig, RetryConfig};
use std::time::Duration;

/// How Beacon talks to object stores. [`Default`] holds the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageOptions {
    /// Time to open a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for one HTTP request, from sending it to the last byte of the response.
    pub request_timeout: Duration,
    /// Retries of a failed request (5xx, 429/503 SlowDown, resets, timeouts), after the first try.
    pub max_retries: usize,
    /// Wait before the first retry; each further wait is `retry_backoff_base` times longer.
    pub retry_initial_backoff: Duration,
    /// Longest wait between two retries.
    pub retry_max_backoff: Duration,
    /// Growth factor of the wait between retries.
    pub retry_backoff_base: f64,
    /// Total time one storage operation may take, all retries included; then it fails.
    pub operation_deadline: Duration,
    /// How long the run lock stays valid without renewal. A live run renews it every third of
    /// this; a run that died blocks the next one at most this long (less when the next run is on
    /// the same host and sees that the holder's process is gone).
    pub lock_ttl: Duration,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_retries: 10,
            retry_initial_backoff: Duration::from_millis(100),
            retry_max_backoff: Duration::from_secs(15),
            retry_backoff_base: 2.0,
            operation_deadline: Duration::from_secs(180),
            lock_ttl: Duration::from_secs(600),
        }
    }
}

impl StorageOptions {
    /// object_store's retry policy for these options.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.retry_initial_backoff,
                max_backoff: self.retry_max_backoff,
                base: self.retry_backoff_base,
            },
            max_retries: self.max_retries,
            retry_timeout: self.operation_deadline,
        }
    }
}

/// A duration as object_store's configuration keys take it (`1s 500ms`).
pub(crate) fn config_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
