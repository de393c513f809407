//! The backend-neutral engine: what applying a phase and running a backfill mean whatever the
//! server (options, reports, errors, retries, the backfill cursor and its progress). The
//! backends (`crate::backends::postgres`, `crate::backends::mysql`) run the statements.

pub mod backfill;
pub mod cursor;
pub mod error;
pub mod pace;
pub mod phase;
pub mod retry;
pub mod store;

use std::time::Duration;

use crate::error::RuntimeError;
use concertina_codegen::change::QualName;

pub use cursor::{integer_bounds, Cursor, Slice, Slices};
pub use error::{DbError, DbErrorKind};
pub use retry::{adapt, backoff, Jitter};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub lock_timeout: Duration,
    pub lock_retries: u32,
    /// Look before queueing: transactions open on a DDL statement's tables longer than this
    /// are waited out before it asks for a lock that would queue the app behind it.
    pub long_transaction: Duration,
    /// The longest a statement waits for them, in all.
    pub max_lock_wait: Duration,
    /// The first attempt's lock timeout; doubled per retry up to `lock_timeout`.
    pub first_lock_timeout: Duration,
    /// The server version the lock model judges at.
    pub server_version: concertina_codegen::versions::ServerVersion,
    /// Say nothing while waiting (tests, JSON output keeps stdout clean either way).
    pub quiet: bool,
}

impl ApplyOptions {
    /// From concertina.toml's `[runtime]`.
    pub fn of(config: &concertina_codegen::Config) -> ApplyOptions {
        let r = &config.runtime;
        ApplyOptions {
            lock_timeout: r.lock_timeout,
            lock_retries: r.lock_retries,
            long_transaction: r.long_transaction,
            max_lock_wait: r.max_lock_wait,
            first_lock_timeout: r.first_lock_timeout.min(r.lock_timeout),
            server_version: config.server_version,
            quiet: false,
        }
    }

    /// The lock timeout of attempt `attempt` (0 first): starts short so that a statement that
    /// cannot get its lock at once leaves the queue before the app's queries pile up behind
    /// it, and grows so that a busy table still lets it through.
    pub fn attempt_timeout(&self, attempt: u32) -> Duration {
        let grown = self
            .first_lock_timeout
            .saturating_mul(1u32 << attempt.min(20));
        grown.min(self.lock_timeout)
    }
}

/// What happened to one statement, for reports and tests.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    pub line: usize,
    /// Lock timeouts before the statement went through.
    pub retries: u32,
    pub elapsed: Duration,
    /// Already done by an earlier, interrupted run (found in the catalog).
    pub skipped: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{file}:{line}: {message}")]
    Statement {
        file: String,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct BackfillOptions {
    pub batch_size: u64,
    pub batch_target: Duration,
    pub batch_pause: Duration,
    pub max_replica_lag: Duration,
    /// Bytes of WAL a replica may have yet to replay before the backfill waits.
    pub max_replica_lag_bytes: u64,
    pub lock_timeout: Duration,
    pub lock_retries: u32,
    /// Connections working slices of the key range at once (at least 1).
    pub workers: usize,
    /// Pace by the app's latency, measured by a canary query (`None`: by the batch target
    /// and pause alone).
    pub latency_budget: Option<pace::LatencyBudget>,
    /// MySQL/MariaDB replicas to watch besides the server's own replica status
    /// (`runtime.replicas`).
    pub replicas: Vec<String>,
}

/// Upper bound of `backfill_workers`.
pub const MAX_WORKERS: usize = 64;

/// Slices per worker: more slices than workers, so that a worker done with its slice takes
/// another instead of idling while the rows left to change sit in someone else's slice.
pub const SLICES_PER_WORKER: usize = 4;

/// One progress report, after each batch.
#[derive(Debug, Clone)]
pub struct Progress {
    pub table: QualName,
    /// Rows changed so far by this phase, an interrupted run's included.
    pub rows_done: i64,
    /// Keys scanned so far by this statement (rows the batches covered), against `estimate`,
    /// an interrupted run's included.
    pub scanned: i64,
    /// Of `scanned`, the keys an earlier, interrupted run covered: a rate or an ETA counts
    /// from there.
    pub scanned_before: i64,
    /// The table's row estimate from the server's statistics.
    pub estimate: i64,
    pub batch_size: u64,
    pub elapsed: Duration,
    /// Waiting for replicas to catch up.
    pub waiting_for_replicas: bool,
    /// Connections working the statement at once.
    pub workers: usize,
    /// Why the batches are as large and as far apart as they are: `free`, the latency
    /// budget, replicas; empty without a budget.
    pub pace: String,
}
