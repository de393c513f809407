//! The state table `concertina_migrations`: one row per migration and phase, the source of
//! truth for what ran. Its own layout is versioned in `concertina_state_meta` so later releases
//! can upgrade it in place.

use concertina_codegen::Phase;

/// The layout of the state table this release writes.
pub const STATE_SCHEMA_VERSION: i32 = 1;
pub const STATE_TABLE: &str = "concertina_migrations";
pub const META_TABLE: &str = "concertina_state_meta";

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
