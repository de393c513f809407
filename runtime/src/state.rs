//! The state table `concertina_migrations`: one row per migration and phase, the source of
//! truth for what ran. Its own layout is versioned in `concertina_state_meta` so later releases
//! can upgrade it in place.

use concertina_codegen::Phase;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use crate::error::RuntimeError;

/// The layout of the state table this release writes.
pub const STATE_SCHEMA_VERSION: i32 = 1;
pub const STATE_TABLE: &str = "concertina_migrations";
pub const META_TABLE: &str = "concertina_state_meta";

/// diesel_migrations' record of what ran, kept true for diesel-layout migrations.
pub const DIESEL_TABLE: &str = "__diesel_schema_migrations";

/// diesel's own statement for its table (diesel's `setup_migration_table.sql`), valid on both
/// servers.
pub const DIESEL_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Started and not finished: a crash, or a migrator still running.
    Running,
    Done,
    Failed,
    /// At or below `baseline`: taken as applied on adoption, never run.
    Baselined,
    /// Undone by `down`.
    RolledBack,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Baselined => "baselined",
            Status::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "running" => Status::Running,
            "done" => Status::Done,
            "failed" => Status::Failed,
            "baselined" => Status::Baselined,
            "rolled_back" => Status::RolledBack,
            _ => return None,
        })
    }

    /// The phase's effects are in the database.
    pub fn is_applied(self) -> bool {
        matches!(self, Status::Done | Status::Baselined)
    }
}

pub fn phase_from_str(text: &str) -> Option<Phase> {
    Some(match text {
        "expand" => Phase::Expand,
        "backfill" => Phase::Backfill,
        "contract" => Phase::Contract,
        "down" => Phase::Down,
        _ => return None,
    })
}

/// One row of the state table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseRecord {
    pub version: String,
    pub name: String,
    pub phase: Phase,
    pub status: Status,
    /// SHA-256 of the phase file as applied.
    pub checksum: String,
    /// The phase file's text as applied, to show what changed when it drifts.
    pub applied_sql: String,
    /// Statements of the phase file completed (resume point of expand and contract).
    pub statements_done: i32,
    /// Backfill resume point: the statement index and the last key done, as JSON.
    pub cursor: Option<String>,
    pub rows_done: i64,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub last_error: Option<String>,
}

/// A state-table row as both backends select it (timestamps as text), before its phase and
/// status are checked.
#[derive(diesel::QueryableByName)]
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) struct StateRow {
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    phase: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    checksum: String,
    #[diesel(sql_type = Text)]
    applied_sql: String,
    #[diesel(sql_type = Integer)]
    statements_done: i32,
    #[diesel(sql_type = Nullable<Text>)]
    backfill_cursor: Option<String>,
    #[diesel(sql_type = BigInt)]
    rows_done: i64,
    #[diesel(sql_type = Nullable<Text>)]
    started_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    finished_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
}

#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
impl StateRow {
    /// An unknown phase or status (a newer release's row, a hand edit) is an error, not a guess.
    pub(crate) fn into_record(self) -> Result<PhaseRecord, RuntimeError> {
        let bad = |what: String| RuntimeError::query("reading the state table", what);
        let phase = phase_from_str(&self.phase).ok_or_else(|| {
            bad(format!(
                "unknown phase `{}` for version {}",
                self.phase, self.version
            ))
        })?;
        let status = Status::parse(&self.status).ok_or_else(|| {
            bad(format!(
                "unknown status `{}` for version {}",
                self.status, self.version
            ))
        })?;
        Ok(PhaseRecord {
            version: self.version,
            name: self.name,
            phase,
            status,
            checksum: self.checksum,
            applied_sql: self.applied_sql,
            statements_done: self.statements_done,
            cursor: self.backfill_cursor,
            rows_done: self.rows_done,
            started_at: self.started_at,
            finished_at: self.finished_at,
            last_error: self.last_error,
        })
    }
}
