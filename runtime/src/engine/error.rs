//! Database errors as the engine sees them: a kind decided once, by each backend, from the
//! server's error code (PostgreSQL's SQLSTATE, MySQL's error number) — never from message
//! text, which a server translates when it runs with another `lc_messages`.

/// What the engine does about an error depends only on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A lock wait ran out (`lock_timeout`, `innodb_lock_wait_timeout`): retried with backoff.
    LockTimeout,
    /// Chosen as a deadlock victim (or a serialization failure): retried with backoff.
    Deadlock,
    /// A statement ran longer than the server allows it.
    StatementTimeout,
    /// The server refused the statement as asked (MySQL: this ALGORITHM or LOCK is not
    /// supported for the change).
    Refused,
    /// The connection is gone or could not be made.
    Connection,
    Other,
}

/// One failed statement: its kind, the server's code, and the server's message (with its
/// detail and hint) on one line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    pub kind: DbErrorKind,
    /// SQLSTATE (PostgreSQL) or error number (MySQL/MariaDB); empty when the client failed.
    pub code: String,
    pub message: String,
}

impl DbError {
    /// Waiting and trying again may succeed: lock timeouts and deadlocks.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, DbErrorKind::LockTimeout | DbErrorKind::Deadlock)
    }

    /// An error of the engine's own making (no server code).
    pub fn other(message: impl Into<String>) -> DbError {
        DbError {
            kind: DbErrorKind::Other,
            code: String::new(),
            message: message.into(),
        }
    }
}
