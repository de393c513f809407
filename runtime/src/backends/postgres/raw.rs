//! A libpq connection of our own, for the statements whose failures the engine must classify
//! (backfill batches): diesel reports a lock timeout (55P03) or a deadlock (40P01) only as
//! `DatabaseErrorKind::Unknown` with the server's message text, which is translated when the
//! server runs with another `lc_messages`. Here every error keeps its SQLSTATE
//! (`PQresultErrorField(PG_DIAG_SQLSTATE)`), and [`classify`] decides by code alone.
//!
//! Only text results: every value crosses as the server's text form, which is all the batch
//! engine reads (counts, keys as text, a lag in seconds). Statements are sent with `PQexec`,
//! so values are spliced as quoted literals (`sql_literal`) and identifiers quoted.

use std::ffi::{CStr, CString};
use std::ptr::NonNull;

use pq_sys::{
    ConnStatusType, ExecStatusType, PGconn, PGresult, PQclear, PQcmdTuples, PQconnectdb,
    PQerrorMessage, PQexec, PQfinish, PQgetResult, PQgetisnull, PQgetvalue, PQnfields, PQntuples,
    PQputCopyData, PQputCopyEnd, PQresultErrorField, PQresultStatus, PQstatus,
};

use crate::engine::{DbError, DbErrorKind};

/// `PG_DIAG_SQLSTATE`, `PG_DIAG_MESSAGE_PRIMARY`, `…_DETAIL`, `…_HINT` (postgres_ext.h).
const DIAG_SQLSTATE: i32 = b'C' as i32;
const DIAG_MESSAGE: i32 = b'M' as i32;
const DIAG_DETAIL: i32 = b'D' as i32;
const DIAG_HINT: i32 = b'H' as i32;

/// The kind of a PostgreSQL error, from its SQLSTATE (errcodes-appendix).
pub fn classify(sqlstate: &str) -> DbErrorKind {
    match sqlstate {
        // lock_not_available: `lock_timeout` ran out, or NOWAIT.
        "55P03" => DbErrorKind::LockTimeout,
        // deadlock_detected, serialization_failure.
        "40P01" | "40001" => DbErrorKind::Deadlock,
        // query_canceled: `statement_timeout` (or a cancel request).
        "57014" => DbErrorKind::StatementTimeout,
        // admin_shutdown, crash_shutdown, cannot_connect_now; class 08: connection exception.
        "57P01" | "57P02" | "57P03" => DbErrorKind::Connection,
        s if s.starts_with("08") => DbErrorKind::Connection,
        _ => DbErrorKind::Other,
    }
}

/// Rows of text values (`None` for NULL).
pub type Rows = Vec<Vec<Option<String>>>;

/// One libpq connection. Not shared between threads; each backfill worker owns one.
pub struct RawPg {
    conn: NonNull<PGconn>,
}

// SAFETY: a PGconn may move between threads as long as only one uses it at a time (libpq is
// thread-safe in that sense); `RawPg` is not `Sync` and every use takes `&mut self`.
unsafe impl Send for RawPg {}

impl RawPg {
    /// Connects with a libpq URL or keyword string (as diesel does).
    pub fn connect(url: &str) -> Result<RawPg, DbError> {
        let conninfo = CString::new(url).map_err(|_| DbError {
            kind: DbErrorKind::Connection,
            code: String::new(),
            message: "the connection URL contains a NUL byte".into(),
        })?;
        // SAFETY: conninfo is a valid C string for the call's duration.
        let raw = unsafe { PQconnectdb(conninfo.as_ptr()) };
        let Some(conn) = NonNull::new(raw) else {
            return Err(DbError {
                kind: DbErrorKind::Connection,
                code: String::new(),
                message: "libpq could not allocate a connection".into(),
            });
        };
        let pg = RawPg { conn };
        // SAFETY: conn is a live PGconn.
        if unsafe { PQstatus(pg.conn.as_ptr()) } != ConnStatusType::CONNECTION_OK {
            return Err(DbError {
                kind: DbErrorKind::Connection,
                code: String::new(),
                message: pg.connection_message(),
            });
        }
        Ok(pg)
    }

    fn connection_message(&self) -> String {
        // SAFETY: conn is live; the message is owned by it and copied at once.
        let ptr = unsafe { PQerrorMessage(self.conn.as_ptr()) };
        if ptr.is_null() {
            return "the connection failed".into();
        }
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .trim()
            .replace('\n', " ")
    }

    /// Sends `sql` with `PQexec` and returns its (last) result, whatever its status: a NUL
    /// byte in the text and a lost connection are the errors here.
    fn exec(&mut self, sql: &str) -> Result<PgResult, DbError> {
        let text =
            CString::new(sql).map_err(|_| DbError::other("a statement contains a NUL byte"))?;
        // SAFETY: conn is live, text is a valid C string; the result is cleared by
        // `PgResult`'s drop whatever happens.
        let raw = unsafe { PQexec(self.conn.as_ptr(), text.as_ptr()) };
        NonNull::new(raw).map(PgResult).ok_or_else(|| DbError {
            kind: DbErrorKind::Connection,
            code: String::new(),
            message: self.connection_message(),
        })
    }

    /// Runs one or more statements; returns the last one's rows and affected-row count.
    pub fn run(&mut self, sql: &str) -> Result<(Rows, u64), DbError> {
        let result = self.exec(sql)?;
        // SAFETY: result is a live PGresult.
        let status = unsafe { PQresultStatus(result.0.as_ptr()) };
        match status {
            ExecStatusType::PGRES_COMMAND_OK | ExecStatusType::PGRES_TUPLES_OK => {
                Ok((result.rows(), result.affected()))
            }
            ExecStatusType::PGRES_EMPTY_QUERY => Ok((Vec::new(), 0)),
            _ => Err(result.error(self)),
        }
    }

    /// `COPY … FROM STDIN` (text format): sends the chunks `next` yields until it yields
    /// `None`, then ends the copy. Returns the rows the server took. The rehearsal loads its
    /// generated rows this way.
    pub fn copy_in(
        &mut self,
        sql: &str,
        mut next: impl FnMut() -> Option<Vec<u8>>,
    ) -> Result<u64, DbError> {
        let result = self.exec(sql)?;
        // SAFETY: result is live.
        if unsafe { PQresultStatus(result.0.as_ptr()) } != ExecStatusType::PGRES_COPY_IN {
            return Err(result.error(self));
        }
        drop(result);
        let mut failed = None;
        while let Some(chunk) = next() {
            // SAFETY: the buffer outlives the call; libpq copies it.
            let sent = unsafe {
                PQputCopyData(
                    self.conn.as_ptr(),
                    chunk.as_ptr() as *const std::os::raw::c_char,
                    chunk.len() as i32,
                )
            };
            if sent != 1 {
                failed = Some(self.connection_message());
                break;
            }
        }
        let abort = failed
            .as_deref()
            .map(|_| c"the rehearsal stopped the load".as_ptr());
        // SAFETY: conn is live; the message, when given, is a static C string.
        unsafe { PQputCopyEnd(self.conn.as_ptr(), abort.unwrap_or(std::ptr::null())) };
        let mut outcome = Ok(0);
        loop {
            // SAFETY: conn is live; each result is cleared when its PgResult drops.
            let raw = unsafe { PQgetResult(self.conn.as_ptr()) };
            let Some(result) = NonNull::new(raw).map(PgResult) else {
                break;
            };
            match unsafe { PQresultStatus(result.0.as_ptr()) } {
                ExecStatusType::PGRES_COMMAND_OK => {
                    if let Ok(n) = &mut outcome {
                        *n = result.affected();
                    }
                }
                _ => {
                    if outcome.is_ok() {
                        outcome = Err(result.error(self));
                    }
                }
            }
        }
        if let Some(message) = failed {
            return Err(DbError {
                kind: DbErrorKind::Connection,
                code: String::new(),
                message,
            });
        }
        outcome
    }

    /// Runs statements that return no rows.
    pub fn execute(&mut self, sql: &str) -> Result<u64, DbError> {
        self.run(sql).map(|(_, n)| n)
    }

    /// The first value of the first row, if any.
    pub fn value(&mut self, sql: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .run(sql)?
            .0
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten()))
    }

    /// Runs `body` in a transaction: commits what it returns `Ok` for, rolls back otherwise
    /// (the error it reports is the body's, not the rollback's).
    pub fn transaction<T>(
        &mut self,
        body: impl FnOnce(&mut RawPg) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.execute("BEGIN")?;
        match body(self) {
            Ok(value) => {
                self.execute("COMMIT")?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.execute("ROLLBACK");
                Err(e)
            }
        }
    }
}

impl Drop for RawPg {
    fn drop(&mut self) {
        // SAFETY: conn is live and dropped once.
        unsafe { PQfinish(self.conn.as_ptr()) }
    }
}

struct PgResult(NonNull<PGresult>);

impl PgResult {
    fn field(&self, code: i32) -> Option<String> {
        // SAFETY: the result is live; the field is owned by it and copied at once.
        let ptr = unsafe { PQresultErrorField(self.0.as_ptr(), code) };
        if ptr.is_null() {
            None
        } else {
            Some(
                unsafe { CStr::from_ptr(ptr) }
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    }

    fn error(&self, conn: &RawPg) -> DbError {
        let code = self.field(DIAG_SQLSTATE).unwrap_or_default();
        let mut message = self
            .field(DIAG_MESSAGE)
            .unwrap_or_else(|| conn.connection_message());
        if let Some(detail) = self.field(DIAG_DETAIL) {
            message.push_str(&format!(" ({})", detail.trim()));
        }
        if let Some(hint) = self.field(DIAG_HINT) {
            message.push_str(&format!("; hint: {}", hint.trim()));
        }
        // SAFETY: conn is live.
        let broken = unsafe { PQstatus(conn.conn.as_ptr()) } != ConnStatusType::CONNECTION_OK;
        DbError {
            kind: if broken {
                DbErrorKind::Connection
            } else {
                classify(&code)
            },
            code,
            message: message.trim().replace('\n', " "),
        }
    }

    fn rows(&self) -> Rows {
        let p = self.0.as_ptr();
        // SAFETY: p is a live result; indexes stay within PQntuples × PQnfields.
        let (n, f) = unsafe { (PQntuples(p), PQnfields(p)) };
        (0..n)
            .map(|r| {
                (0..f)
                    .map(|c| unsafe {
                        if PQgetisnull(p, r, c) != 0 {
                            None
                        } else {
                            Some(
                                CStr::from_ptr(PQgetvalue(p, r, c))
                                    .to_string_lossy()
                                    .into_owned(),
                            )
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn affected(&self) -> u64 {
        // SAFETY: p is live; PQcmdTuples returns "" when the command reports no count.
        let ptr = unsafe { PQcmdTuples(self.0.as_ptr()) };
        if ptr.is_null() {
            return 0;
        }
        unsafe { CStr::from_ptr(ptr) }
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for PgResult {
    fn drop(&mut self) {
        // SAFETY: the result is live and cleared once.
        unsafe { PQclear(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_is_by_sqlstate() {
        assert_eq!(classify("55P03"), DbErrorKind::LockTimeout);
        assert_eq!(classify("40P01"), DbErrorKind::Deadlock);
        assert_eq!(classify("40001"), DbErrorKind::Deadlock);
        assert_eq!(classify("57014"), DbErrorKind::StatementTimeout);
        assert_eq!(classify("08006"), DbErrorKind::Connection);
        assert_eq!(classify("23505"), DbErrorKind::Other);
    }
}
