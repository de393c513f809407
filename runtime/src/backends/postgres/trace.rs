//! The lock tracer on PostgreSQL. A step that runs in a transaction is observed from inside
//! it before it commits: its backend's granted locks in `pg_locks`, each relation's
//! `relfilenode` (a new one is a rewrite) and the growth of its backend's not yet flushed scan
//! counts in `pg_stat_xact_user_tables` between `BEGIN` and the statement's end (exact, not
//! sampled; nothing is flushed inside a transaction). Measured on 15: those counts are not the
//! transaction's alone, they hold everything since the last flush, hence the difference.
//!
//! A step outside a transaction (`CONCURRENTLY`, `VACUUM`) cannot be looked into, so a second
//! session watches it: it first holds ROW EXCLUSIVE on the tables the plan names, so a
//! statement that asks for SHARE or stronger must queue and show that mode however fast it is
//! (ROW EXCLUSIVE lets the weaker ones through: measured on 18, `VACUUM FULL` first takes
//! ACCESS SHARE to look the table up, which an ACCESS EXCLUSIVE probe caught instead), then
//! lets it go and samples `pg_locks` of its backend until it ends (SHARE UPDATE EXCLUSIVE is
//! held for a whole concurrent build, long enough to be sampled); scans come from `pg_stat_user_tables` before and
//! after (flushed with `pg_stat_force_next_flush()` from 15 on; older servers' statistics
//! collector is given 700 ms).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use concertina_codegen::change::{Change, QualName};

use super::locks::{locks, LockMode};
use super::quote_ident;
use super::raw::RawPg;
use crate::engine::DbError;
use crate::plan::{LockContext, Step, StepKind};
use crate::trace::{ClaimedLock, Observation, ObservedLock, RelKind, TraceError, Tracer, Unit};

/// How long the probe holds its lock waiting for the statement to ask for one.
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Every relation of the database's own schemas (not the catalog's, nor TOAST's).
const RELATIONS: &str = "SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text, \
     pg_relation_filenode(c.oid)::text \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I') \
     AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";

#[derive(Debug, Clone)]
struct Relation {
    name: QualName,
    kind: RelKind,
    filenode: Option<String>,
}

type Relations = BTreeMap<i64, Relation>;

fn relations(conn: &mut RawPg) -> Result<Relations, DbError> {
    let (rows, _) = conn.run(RELATIONS)?;
    let mut out = Relations::new();
    for row in rows {
        let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let Ok(oid) = text(0).parse::<i64>() else {
            continue;
        };
        let kind = match text(3).as_str() {
            "r" | "p" => RelKind::Table,
            "i" | "I" => RelKind::Index,
            "m" => RelKind::MaterializedView,
            _ => RelKind::Other,
        };
        out.insert(
            oid,
            Relation {
                name: QualName::new(text(1), text(2)),
                kind,
                filenode: row.get(4).cloned().flatten(),
            },
        );
    }
    Ok(out)
}

/// `(oid, value)` pairs of a two-column query.
fn pairs(conn: &mut RawPg, sql: &str) -> Result<Vec<(i64, String)>, DbError> {
    let (rows, _) = conn.run(sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let oid = row.first().cloned().flatten()?.parse().ok()?;
            Some((oid, row.get(1).cloned().flatten().unwrap_or_default()))
        })
        .collect())
}

/// `(oid, count)` of a two-column query.
fn counts(conn: &mut RawPg, sql: &str) -> Result<BTreeMap<i64, i64>, DbError> {
    Ok(pairs(conn, sql)?
        .into_iter()
        .map(|(oid, n)| (oid, n.parse().unwrap_or(0)))
        .collect())
}

/// This backend's sequential scans not yet flushed to the statistics.
fn pending_scans(conn: &mut RawPg) -> Result<BTreeMap<i64, i64>, DbError> {
    counts(
        conn,
        "SELECT relid::int8, coalesce(seq_scan, 0)::text FROM pg_stat_xact_user_tables",
    )
}

/// The relations whose count grew.
fn grown(before: &BTreeMap<i64, i64>, after: &BTreeMap<i64, i64>) -> BTreeSet<i64> {
    after
        .iter()
        .filter(|(oid, n)| **n > before.get(oid).copied().unwrap_or(0))
        .map(|(oid, _)| *oid)
        .collect()
}

pub struct PgTracer {
    /// Runs the migration's statements. `None` only while a statement runs on its thread.
    tracee: Option<RawPg>,
    /// Watches the tracee and reads the catalog.
    observer: RawPg,
    /// `server_version_num`: 150004 for 15.4.
    version_num: u32,
    /// The relations that existed when the current phase file started.
    app: BTreeSet<i64>,
}

impl PgTracer {
    pub fn connect(url: &str) -> Result<PgTracer, TraceError> {
        let mut observer = RawPg::connect(url)?;
        let tracee = RawPg::connect(url)?;
        let version_num = observer
            .value("SHOW server_version_num")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(PgTracer {
            tracee: Some(tracee),
            observer,
            version_num,
            app: BTreeSet::new(),
        })
    }

    fn tracee(&mut self) -> Result<&mut RawPg, TraceError> {
        self.tracee
            .as_mut()
            .ok_or_else(|| TraceError::Setup("the traced session was lost".into()))
    }

    /// What the observations of one unit amount to.
    fn observation(
        &self,
        before: &Relations,
        after: &Relations,
        locks: &[(i64, String, bool)],
        scanned: &BTreeSet<i64>,
        invalid: &[i64],
    ) -> Observation {
        let name_of = |oid: &i64| after.get(oid).or_else(|| before.get(oid));
        let mut observation = Observation::default();
        for (oid, mode, exact) in locks {
            let (Some(rel), Some(mode)) = (name_of(oid), LockMode::from_pg_locks(mode)) else {
                continue;
            };
            let lock = ObservedLock {
                relation: rel.name.clone(),
                kind: rel.kind,
                mode: mode.as_str().into(),
                rank: mode as u8,
                blocks: mode.class(),
                app: self.app.contains(oid),
                exact: *exact,
            };
            if !observation.locks.contains(&lock) {
                observation.locks.push(lock);
            }
        }
        for (oid, old) in before.iter().filter(|(oid, _)| self.app.contains(oid)) {
            let Some(new) = after.get(oid) else { continue };
            let moved =
                old.filenode.is_some() && new.filenode.is_some() && old.filenode != new.filenode;
            if !moved {
                continue;
            }
            match old.kind {
                RelKind::Index => observation.rebuilt_indexes.push(old.name.clone()),
                _ => observation.rewritten.push(old.name.clone()),
            }
        }
        observation.scanned = scanned
            .iter()
            .filter(|oid| self.app.contains(oid))
            .filter_map(name_of)
            .filter(|r| r.kind == RelKind::Table)
            .map(|r| r.name.clone())
            .collect();
        observation.invalid_indexes = invalid
            .iter()
            .filter_map(|oid| after.get(oid))
            .map(|r| r.name.clone())
            .collect();
        observation
    }

    fn invalid_indexes(conn: &mut RawPg) -> Result<Vec<i64>, DbError> {
        Ok(pairs(
            conn,
            "SELECT indexrelid::int8, '' FROM pg_index WHERE NOT indisvalid",
        )?
        .into_iter()
        .map(|(oid, _)| oid)
        .collect())
    }

    /// Observed from inside the step's own transaction, before it commits.
    fn trace_in_transaction(&mut self, unit: &Unit) -> Result<Observation, TraceError> {
        let conn = self.tracee()?;
        let before = relations(conn)?;
        conn.execute("BEGIN")?;
        let scans_before = pending_scans(conn)?;
        let started = Instant::now();
        let mut failure = None;
        for statement in &unit.statements {
            if let Err(e) = conn.execute(statement) {
                failure = Some(e);
                break;
            }
        }
        let elapsed = started.elapsed();
        if let Some(e) = failure {
            let _ = conn.execute("ROLLBACK");
            return Ok(Observation {
                elapsed,
                error: Some(e),
                ..Default::default()
            });
        }
        let locks: Vec<(i64, String, bool)> = pairs(
            conn,
            "SELECT relation::int8, mode FROM pg_locks \
             WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted",
        )?
        .into_iter()
        .map(|(oid, mode)| (oid, mode, true))
        .collect();
        let after = relations(conn)?;
        let scanned = grown(&scans_before, &pending_scans(conn)?);
        let invalid = Self::invalid_indexes(conn)?;
        if let Err(e) = conn.execute("COMMIT") {
            // A deferred constraint can fail at commit.
            let _ = conn.execute("ROLLBACK");
            return Ok(Observation {
                elapsed,
                error: Some(e),
                ..Default::default()
            });
        }
        Ok(self.observation(&before, &after, &locks, &scanned, &invalid))
    }

    /// Sequential scans per table so far, as the statistics show them (flushed first).
    fn table_scans(&mut self) -> Result<BTreeMap<i64, i64>, TraceError> {
        if self.version_num >= 150_000 {
            self.tracee()?
                .execute("SELECT pg_stat_force_next_flush()")?;
            // The flush happens as the tracee goes idle after that statement.
            self.tracee()?.execute("SELECT 1")?;
        } else {
            std::thread::sleep(Duration::from_millis(700));
        }
        self.observer.execute("SELECT pg_stat_clear_snapshot()")?;
        Ok(counts(
            &mut self.observer,
            "SELECT relid::int8, coalesce(seq_scan, 0)::text FROM pg_stat_user_tables",
        )?)
    }

    /// Observed from a second session while it runs outside any transaction.
    fn trace_outside(
        &mut self,
        unit: &Unit,
        probe: &[QualName],
    ) -> Result<Observation, TraceError> {
        let before = relations(&mut self.observer)?;
        let scans_before = self.table_scans()?;
        let pid = self
            .tracee()?
            .value("SELECT pg_backend_pid()")?
            .unwrap_or_default();
        let pid: i64 = pid.parse().unwrap_or(0);
        let targets: Vec<String> = before
            .iter()
            .filter(|(oid, r)| {
                self.app.contains(oid)
                    && matches!(r.kind, RelKind::Table | RelKind::MaterializedView)
                    && probe.contains(&r.name)
            })
            .map(|(_, r)| {
                format!(
                    "{}.{}",
                    quote_ident(&r.name.schema),
                    quote_ident(&r.name.name)
                )
            })
            .collect();
        let mut probing = false;
        if !targets.is_empty() {
            self.observer.execute("BEGIN")?;
            self.observer.execute("SET LOCAL lock_timeout = '2s'")?;
            probing = self
                .observer
                .execute(&format!(
                    "LOCK TABLE {} IN ROW EXCLUSIVE MODE",
                    targets.join(", ")
                ))
                .is_ok();
            if !probing {
                let _ = self.observer.execute("ROLLBACK");
            }
        }
        let mut tracee = self
            .tracee
            .take()
            .ok_or_else(|| TraceError::Setup("the traced session was lost".into()))?;
        let sql = unit.statements.join(";\n");
        let started = Instant::now();
        let running = std::thread::spawn(move || {
            let result = tracee.execute(&sql);
            (tracee, result, Instant::now())
        });
        // (relation, mode, seen queued behind the probe rather than sampled)
        let mut seen: Vec<(i64, String, bool)> = Vec::new();
        let mut released = started;
        let watch = format!(
            "SELECT relation::int8, mode FROM pg_locks WHERE pid = {pid} AND locktype = 'relation'"
        );
        // Any wait counts (a concurrent build waits for the probe's transaction as a
        // `virtualxid`): the probe has shown what it can.
        let waiting = format!(
            "SELECT coalesce(relation, 0)::int8, mode FROM pg_locks \
             WHERE pid = {pid} AND NOT granted"
        );
        loop {
            let finished = running.is_finished();
            for (oid, mode) in pairs(&mut self.observer, &watch)? {
                if !seen.iter().any(|(o, m, _)| *o == oid && *m == mode) {
                    seen.push((oid, mode, false));
                }
            }
            if probing {
                let queued = pairs(&mut self.observer, &waiting)?;
                for (oid, mode) in &queued {
                    for s in seen.iter_mut().filter(|(o, m, _)| o == oid && m == mode) {
                        s.2 = true;
                    }
                }
                let queued = !queued.is_empty();
                if queued || finished || started.elapsed() > PROBE_WAIT {
                    self.observer.execute("COMMIT")?;
                    probing = false;
                    released = Instant::now();
                }
            }
            if finished {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let (tracee, result, ended) = running
            .join()
            .map_err(|_| TraceError::Setup("the traced statement's thread panicked".into()))?;
        self.tracee = Some(tracee);
        // The time the probe held the statement back is the tracer's, not the statement's.
        let elapsed = ended.saturating_duration_since(released.max(started));
        if let Err(e) = result {
            return Ok(Observation {
                elapsed,
                error: Some(e),
                ..Default::default()
            });
        }
        let after = relations(&mut self.observer)?;
        let scans_after = self.table_scans()?;
        let scanned = grown(&scans_before, &scans_after);
        let invalid = Self::invalid_indexes(&mut self.observer)?;
        let mut observation = self.observation(&before, &after, &seen, &scanned, &invalid);
        observation.elapsed = elapsed;
        Ok(observation)
    }
}

impl Tracer for PgTracer {
    fn server_version(&mut self) -> Result<String, TraceError> {
        let v = self
            .observer
            .value("SHOW server_version")?
            .unwrap_or_default();
        Ok(format!(
            "PostgreSQL {}",
            v.split_whitespace().next().unwrap_or("")
        ))
    }

    fn units(&self, step: &Step) -> Vec<Unit> {
        let one = |transactional| {
            vec![Unit {
                statements: vec![step.sql.clone()],
                transactional,
            }]
        };
        match &step.kind {
            StepKind::Transactional | StepKind::Backfill { .. } => one(true),
            StepKind::NonTransactional { .. } | StepKind::Session => one(false),
            StepKind::Transaction { statements, .. } => vec![Unit {
                statements: statements.clone(),
                transactional: true,
            }],
            StepKind::SafeSetNotNull { table, column } => {
                super::apply::safe_set_not_null_sql(table, column)
                    .into_iter()
                    .map(|sql| Unit {
                        statements: vec![sql],
                        transactional: true,
                    })
                    .collect()
            }
        }
    }

    fn claimed_locks(&self, _step: &Step, change: &Change, ctx: &LockContext) -> Vec<ClaimedLock> {
        locks(change, ctx)
            .into_iter()
            .map(|(relation, mode)| ClaimedLock {
                relation,
                mode: mode.as_str().into(),
                blocks: mode.class(),
            })
            .collect()
    }

    fn begin_phase(&mut self) -> Result<(), TraceError> {
        self.app = relations(&mut self.observer)?.into_keys().collect();
        Ok(())
    }

    fn trace(&mut self, unit: &Unit, probe: &[QualName]) -> Result<Observation, TraceError> {
        if unit.transactional {
            self.trace_in_transaction(unit)
        } else {
            self.trace_outside(unit, probe)
        }
    }
}
