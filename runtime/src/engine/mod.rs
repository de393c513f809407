//! The backend-neutral engine: what applying a phase and running a backfill mean whatever the
//! server (options, reports, errors, retries, the backfill cursor and its progress). The
//! backends (`crate::backends::postgres`, `crate::backends::mysql`) run the statements.

pub mod backfill;
pub mod cursor;
pub mod error;
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
    pub lock_timeout: Duration,
    pub lock_retries: u32,
    /// Connections working slices of the key range at once (at least 1).
    pub workers: usize,
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
}
