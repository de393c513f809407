//! The lock tracer (`migrate trace`): runs every migration's phases on a scratch database,
//! step by step as the runtime would run them, and records what the server really did to each
//! relation (locks and their modes, rewrites, scans, indexes left invalid, time, failure);
//! then sets each observation beside the checker's verdict for the same statement and reports
//! every place where they disagree, both ways ([`compare`]).
//!
//! Backend-neutral: what differs between servers (how a lock is seen, what a rewrite is) lives
//! in each backend's [`Tracer`]. The scratch database is the caller's: a database of its own
//! on a server, or a throwaway server — never a database that holds anything.

pub mod command;
pub mod compare;
pub mod render;
pub mod scratch;

use std::time::Duration;

use concertina_codegen::change::{Change, QualName};
use concertina_codegen::check::Report;
use concertina_codegen::diag::Severity;
use concertina_codegen::rules::lock_scope::{hazard, Hazard};
use concertina_codegen::{Config, Phase};

use crate::engine::DbError;
use crate::plan::{plan_phase, LockContext, Step};

pub use compare::Disagreement;

/// What the app notices while a lock is held or queued, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Blocks {
    Nothing,
    OtherDdl,
    Writes,
    ReadsAndWrites,
}

impl Blocks {
    pub fn as_str(self) -> &'static str {
        match self {
            Blocks::Nothing => "nothing",
            Blocks::OtherDdl => "other DDL only",
            Blocks::Writes => "writes",
            Blocks::ReadsAndWrites => "reads and writes",
        }
    }

    /// The app waits while it is held.
    pub fn blocks_app(self) -> bool {
        self >= Blocks::Writes
    }
}

/// The kind of relation a lock was taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    Table,
    Index,
    MaterializedView,
    Other,
}

/// A lock as the server showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedLock {
    pub relation: QualName,
    pub kind: RelKind,
    /// The server's name for it (`ACCESS EXCLUSIVE`, `metadata lock SHARED_NO_WRITE`).
    pub mode: String,
    /// Strength among the server's modes, to pick the strongest per relation.
    pub rank: u8,
    pub blocks: Blocks,
    /// The relation existed when the phase file started: it holds the app's rows. Locks on
    /// relations the same file created are nobody's concern.
    pub app: bool,
    /// Seen for certain (from inside the step's transaction, or queued behind the probe);
    /// `false`: sampled while the step ran, so a brief stronger lock may have been missed.
    pub exact: bool,
}

/// Work proportional to a table done while the app waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingWork {
    pub relation: QualName,
    /// `rewrote` or `scanned`.
    pub what: &'static str,
    pub mode: String,
}

/// A lock the plan says a statement takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedLock {
    pub relation: QualName,
    pub mode: String,
    pub blocks: Blocks,
}

/// What the server did while one step ran.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub locks: Vec<ObservedLock>,
    /// App relations copied into a new file (tables, materialized views).
    pub rewritten: Vec<QualName>,
    /// App tables read row by row by the statement itself.
    pub scanned: Vec<QualName>,
    /// Indexes rebuilt into a new file.
    pub rebuilt_indexes: Vec<QualName>,
    /// Indexes left INVALID after the step.
    pub invalid_indexes: Vec<QualName>,
    /// App tables rewritten or scanned under a lock that blocks the app, judged per unit (a
    /// step of several transactions may scan in one and lock in another).
    pub blocking_work: Vec<BlockingWork>,
    pub elapsed: Duration,
    /// The step failed on this server: a deploy would stop here.
    pub error: Option<DbError>,
    /// What else the backend learnt (MySQL: the online algorithms the server accepts).
    pub notes: Vec<String>,
}

impl Observation {
    /// The observation of a step from those of its units.
    pub fn of_units(units: Vec<Observation>) -> Observation {
        let mut all = Observation::default();
        for unit in units {
            all.absorb(unit);
        }
        all
    }

    /// Merges the observation of the next unit of the same step.
    fn absorb(&mut self, mut other: Observation) {
        other.blocking_work = other.work_under_blocking_locks();
        fn merge<T: PartialEq>(mine: &mut Vec<T>, theirs: Vec<T>) {
            for item in theirs {
                if !mine.contains(&item) {
                    mine.push(item);
                }
            }
        }
        merge(&mut self.locks, other.locks);
        merge(&mut self.rewritten, other.rewritten);
        merge(&mut self.scanned, other.scanned);
        merge(&mut self.rebuilt_indexes, other.rebuilt_indexes);
        merge(&mut self.invalid_indexes, other.invalid_indexes);
        merge(&mut self.blocking_work, other.blocking_work);
        self.elapsed += other.elapsed;
        self.error = self.error.take().or(other.error);
        self.notes.extend(other.notes);
    }

    /// Within one unit: the app tables rewritten or scanned while it held a lock on them
    /// that blocks the app.
    fn work_under_blocking_locks(&self) -> Vec<BlockingWork> {
        let locks = self.strongest_app_locks();
        let mut out = Vec::new();
        for (what, names) in [("rewrote", &self.rewritten), ("scanned", &self.scanned)] {
            for name in names {
                let blocking = locks
                    .iter()
                    .find(|l| &l.relation == name && l.blocks.blocks_app());
                if let Some(lock) = blocking {
                    if !out.iter().any(|w: &BlockingWork| &w.relation == name) {
                        out.push(BlockingWork {
                            relation: name.clone(),
                            what,
                            mode: lock.mode.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// The strongest lock taken on each relation, app relations only.
    pub fn strongest_app_locks(&self) -> Vec<&ObservedLock> {
        let mut out: Vec<&ObservedLock> = Vec::new();
        for lock in self.locks.iter().filter(|l| l.app) {
            match out.iter_mut().find(|l| l.relation == lock.relation) {
                Some(seen) if seen.rank < lock.rank => *seen = lock,
                Some(_) => {}
                None => out.push(lock),
            }
        }
        out
    }
}

/// What the tracer runs as one piece: statements in one transaction of their own, or one
/// statement outside any (`CONCURRENTLY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub statements: Vec<String>,
    pub transactional: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("{0}")]
    Setup(String),
}

/// What a backend does for the tracer.
pub trait Tracer {
    /// The server's version as it reports it.
    fn server_version(&mut self) -> Result<String, TraceError>;

    /// How the runtime runs a step on this server, as units to trace (PostgreSQL's contract
    /// `SET NOT NULL` is four statements, for instance).
    fn units(&self, step: &Step) -> Vec<Unit>;

    /// The locks `migrate plan` says `change`, a statement of `step`, takes.
    fn claimed_locks(&self, step: &Step, change: &Change, ctx: &LockContext) -> Vec<ClaimedLock>;

    /// A phase file starts: the relations that exist now are the app's.
    fn begin_phase(&mut self) -> Result<(), TraceError>;

    /// Runs one unit and observes it. `probe` names the app tables the plan says it locks,
    /// for a backend that must catch the lock of a statement outside a transaction.
    fn trace(&mut self, unit: &Unit, probe: &[QualName]) -> Result<Observation, TraceError>;
}

/// A checker finding on a traced statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub rule: String,
    pub severity: Severity,
    /// What the rule claims the server does, if it claims anything of the server.
    pub hazard: Option<Hazard>,
    /// Silenced by a `concertina:allow(rule): reason` comment: still the checker's verdict.
    pub suppressed: bool,
}

/// One traced step: the checker's verdict, the plan's lock claim and what the server did.
#[derive(Debug, Clone)]
pub struct StepTrace {
    pub version: String,
    pub phase: Phase,
    pub file: String,
    pub line: usize,
    pub sql: String,
    pub verdicts: Vec<Verdict>,
    pub claimed: Vec<ClaimedLock>,
    pub observed: Observation,
    pub disagreements: Vec<Disagreement>,
}

#[derive(Debug, Clone)]
pub struct TraceReport {
    /// The server as it reports its version.
    pub server: String,
    /// The `server_version` the checker judged at.
    pub checked_at: String,
    pub steps: Vec<StepTrace>,
    /// Why tracing stopped before the end, if it did (a step failed: what follows depends
    /// on it).
    pub stopped: Option<String>,
}

impl TraceReport {
    pub fn disagreements(&self) -> usize {
        self.steps.iter().map(|s| s.disagreements.len()).sum()
    }
}

/// The checker's findings on the statement of `step` (those reported at its lines).
fn verdicts_for(report: &Report, file: &str, step: &Step) -> Vec<Verdict> {
    let last_line = step.last_line;
    let at = |d: &&concertina_codegen::diag::Diagnostic| {
        d.file == file && (step.line..=last_line).contains(&d.line)
    };
    let verdict = |d: &concertina_codegen::diag::Diagnostic, suppressed: bool| Verdict {
        rule: d.rule.clone(),
        severity: d.severity,
        hazard: hazard(&d.rule),
        suppressed,
    };
    report
        .diagnostics
        .iter()
        .filter(at)
        .map(|d| verdict(d, false))
        .chain(
            report
                .suppressed
                .iter()
                .filter(at)
                .map(|d| verdict(d, true)),
        )
        .collect()
}

/// Runs and traces every phase (expand, backfill, contract; `down` is not part of a deploy)
/// of every migration of `report`, in order. Stops at the first step that fails.
pub fn trace(
    report: &Report,
    config: &Config,
    tracer: &mut dyn Tracer,
    on_step: &mut dyn FnMut(&StepTrace),
) -> Result<TraceReport, TraceError> {
    let server = tracer.server_version()?;
    let mut out = TraceReport {
        server,
        checked_at: config.server_version.to_string(),
        steps: Vec::new(),
        stopped: None,
    };
    for migration in &report.migrations {
        let ctx = LockContext::of(migration, config.server_version);
        for phase in migration.phases.iter().filter(|p| p.phase != Phase::Down) {
            let plan = plan_phase(migration, phase, config);
            tracer.begin_phase()?;
            for step in &plan.steps {
                let claimed: Vec<ClaimedLock> = step
                    .changes()
                    .into_iter()
                    .flat_map(|c| tracer.claimed_locks(step, c, &ctx))
                    .collect();
                let probe: Vec<QualName> = claimed.iter().map(|c| c.relation.clone()).collect();
                let mut observed = Observation::default();
                for unit in tracer.units(step) {
                    observed.absorb(tracer.trace(&unit, &probe)?);
                    if observed.error.is_some() {
                        break;
                    }
                }
                let verdicts = verdicts_for(report, &phase.source.rel_path, step);
                let disagreements = compare::compare(&verdicts, &claimed, &observed, &out.server);
                let traced = StepTrace {
                    version: migration.version.clone(),
                    phase: phase.phase,
                    file: phase.source.rel_path.clone(),
                    line: step.line,
                    sql: step.sql.clone(),
                    verdicts,
                    claimed,
                    observed,
                    disagreements,
                };
                on_step(&traced);
                let failed = traced.observed.error.is_some();
                out.steps.push(traced);
                if failed {
                    out.stopped = Some(format!(
                        "{}:{} failed; what follows depends on it and was not traced",
                        phase.source.rel_path, step.line
                    ));
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}
