//! Expand and contract on MySQL/MariaDB. Each DDL statement runs alone (it commits
//! implicitly, so there is no transaction to share with the state row) under
//! `SET SESSION lock_wait_timeout`, retried with backoff and jitter when its metadata lock is
//! not granted in time. Every `ALTER TABLE` and `CREATE INDEX` that names no algorithm gets one:
//! `ALGORITHM=INSTANT` where the change can be instant, else `ALGORITHM=INPLACE, LOCK=NONE`. A
//! refused INSTANT falls back to INPLACE with `LOCK=NONE`; a refused INPLACE is reported, never
//! retried as a table copy.
//!
//! MariaDB's `ALGORITHM=NOCOPY` is not used: it refuses a rebuild, but a rebuild under
//! `INPLACE, LOCK=NONE` is online (reads and writes go on), so refusing it would stop safe
//! migrations; the checker's `mysql-online-rebuild` warning is where a rebuild is reviewed.

use std::time::Instant;

use concertina_codegen::change::{AlterOp, Change, QualName};
use diesel::connection::SimpleConnection;

use super::{db_error, describe_error, sql_literal, timeout_seconds, MySql, Version};
use crate::backend::LockInfo;
use crate::engine::{backoff, ApplyOptions, StepReport};
use crate::engine::{DbError, DbErrorKind};
use crate::plan::{PhasePlan, Step, StepKind};
use crate::state::{PhaseRecord, Status, STATE_TABLE};

/// The online mode an appended clause asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Online {
    Instant,
    /// `ALGORITHM=INPLACE, LOCK=NONE`: reads and writes go on, the table may be rebuilt.
    InplaceNoLock,
}

impl Online {
    fn clause(self, alter: bool) -> &'static str {
        match (self, alter) {
            (Online::Instant, _) => "ALGORITHM=INSTANT",
            (Online::InplaceNoLock, true) => "ALGORITHM=INPLACE, LOCK=NONE",
            // CREATE INDEX takes the options without a comma.
            (Online::InplaceNoLock, false) => "ALGORITHM=INPLACE LOCK=NONE",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Online::Instant => "ALGORITHM=INSTANT (metadata only)",
            Online::InplaceNoLock => "ALGORITHM=INPLACE, LOCK=NONE (online; may rebuild)",
        }
    }
}

/// Whether an ALTER operation can be INSTANT on this server (by the documented versions; the
/// server has the last word, and a refusal falls back to INPLACE).
fn instant_op(op: &AlterOp, v: Version, mariadb: bool) -> bool {
    let at = |maria: (u32, u32), mysql: (u32, u32, u32)| {
        if mariadb {
            (v.0, v.1) >= maria
        } else {
            (v.0, v.1, v.2) >= mysql
        }
    };
    match op {
        AlterOp::AddColumn { column, .. } => {
            !column.identity
                && column
                    .generated
                    .as_ref()
                    .is_none_or(|g| g.stored != Some(true))
                && column.constraints.is_empty()
                && at((10, 3), (8, 0, 12))
        }
        AlterOp::DropColumn { .. } => at((10, 4), (8, 0, 29)),
        AlterOp::RenameColumn { .. } => at((10, 3), (8, 0, 28)),
        AlterOp::SetDefault { .. } | AlterOp::DropDefault { .. } | AlterOp::RenameTable { .. } => {
            true
        }
        _ => false,
    }
}

/// The online clauses to try, in order, for a statement that names none; empty when the
/// statement runs as written (not an ALTER/index statement, or it names its own algorithm).
pub fn online_clauses(change: &Change, v: Version, mariadb: bool) -> Vec<Online> {
    match change {
        Change::AlterTable { ops, .. } => {
            if ops
                .iter()
                .any(|op| matches!(op, AlterOp::Algorithm(_) | AlterOp::Lock(_)))
            {
                return Vec::new();
            }
            let real: Vec<&AlterOp> = ops.iter().collect();
            if !real.is_empty() && real.iter().all(|op| instant_op(op, v, mariadb)) {
                vec![Online::Instant, Online::InplaceNoLock]
            } else {
                vec![Online::InplaceNoLock]
            }
        }
        // `DROP INDEX … ON t` takes no algorithm on MariaDB; dropping a secondary index is
        // metadata-only on InnoDB anyway.
        Change::CreateIndex(_) => vec![Online::InplaceNoLock],
        _ => Vec::new(),
    }
}

/// Whether the statement's text can take an algorithm clause: `ALTER TABLE …` and `CREATE
/// INDEX …`. `DROP INDEX i ON t` is modelled as an ALTER of `t` but MariaDB rejects the clause
/// there.
pub(super) fn accepts_clause(sql: &str) -> bool {
    let word = first_word(sql);
    word == "ALTER" || word == "CREATE"
}

/// The statement's first keyword, upper-cased, after any leading comments.
fn first_word(sql: &str) -> String {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    rest.chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// The statement with the clause appended on its own line (a trailing `-- comment` in the
/// statement's text ends at the newline). The comma goes by the text, not the change: `CREATE
/// FULLTEXT INDEX` is read as an ALTER of its table, but takes the clause without a comma
/// (the tracer found the runtime sending it `, ALGORITHM=…`: errno 1064 on MariaDB 10.11).
pub(super) fn with_clause(sql: &str, change: &Change, online: Online) -> String {
    let alter = matches!(change, Change::AlterTable { .. }) && first_word(sql) == "ALTER";
    let sql = sql.trim_end().trim_end_matches(';');
    if alter {
        format!("{sql}\n, {}", online.clause(true))
    } else {
        format!("{sql}\n{}", online.clause(false))
    }
}

/// The server refused the requested algorithm or lock (errors 1845, 1846; MySQL's 4092 when
/// INSTANT ran out of row versions — on MariaDB 4092 is an unknown view).
pub(super) fn is_refusal(e: &DbError, mariadb: bool) -> bool {
    e.kind == DbErrorKind::Refused || (!mariadb && e.code == "4092")
}

/// An error that means the statement's work is already there (a run killed after the
/// statement committed and before its progress was recorded), by error number: the table,
/// column, index, constraint, trigger or routine exists (1050, 1060, 1061, 1068, 1826, 1359,
/// 1304), or what it drops or renames is gone (1091, 1054).
fn already_done(e: &DbError) -> bool {
    matches!(
        e.code.parse::<u32>(),
        Ok(1050 | 1054 | 1060 | 1061 | 1068 | 1091 | 1304 | 1359 | 1826)
    )
}

fn recipe(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("column type") || m.contains("charset") || m.contains("character set") {
        "add a new column of the new type in expand, backfill it in batches, switch the app, drop the old column in contract (or use an online schema change tool outside migrations)"
    } else if m.contains("foreign") {
        "ADD INDEX on the child columns first, then `SET foreign_key_checks = 0` around the one ALTER (checked rows: query for orphans in backfill)"
    } else if m.contains("fulltext") || m.contains("spatial") {
        "create the index on a new table, or review it with `-- concertina:allow(...)` and run it at a quiet time with an explicit ALGORITHM"
    } else {
        "one change per ALTER (a combined ALTER takes the slowest algorithm), or the expand/backfill/contract recipe of the checker's rule for this change"
    }
}

/// Records `done` statements of the phase (and clears the started mark).
fn record_sql(plan: &PhasePlan, done: usize) -> String {
    format!(
        "UPDATE {} SET statements_done = {done}, backfill_cursor = NULL, updated_at = UTC_TIMESTAMP(6) WHERE version = {} AND phase = {}",
        super::quote_ident(STATE_TABLE),
        sql_literal(&plan.version),
        sql_literal(plan.phase.as_str())
    )
}

/// Marks statement `index` started. DDL phases have no backfill cursor, so the column holds
/// the mark: `{"ddl_started": 3}`.
fn started_sql(plan: &PhasePlan, index: usize) -> String {
    format!(
        "UPDATE {} SET backfill_cursor = {}, updated_at = UTC_TIMESTAMP(6) WHERE version = {} AND phase = {}",
        super::quote_ident(STATE_TABLE),
        sql_literal(&serde_json::json!({ "ddl_started": index }).to_string()),
        sql_literal(&plan.version),
        sql_literal(plan.phase.as_str())
    )
}

/// The statement a killed run had started: the mark of a phase left `running`.
pub(super) fn interrupted_statement(rec: Option<&PhaseRecord>) -> Option<usize> {
    let rec = rec.filter(|r| r.status == Status::Running)?;
    let v: serde_json::Value = serde_json::from_str(rec.cursor.as_deref()?).ok()?;
    v["ddl_started"].as_u64().map(|i| i as usize)
}

fn changed_table(change: &Change) -> Option<QualName> {
    match change {
        Change::AlterTable { table, .. } => Some(table.clone()),
        Change::CreateIndex(ci) => Some(ci.table.clone()),
        Change::Update { table, .. }
        | Change::Delete { table, .. }
        | Change::Insert { table, .. } => Some(table.clone()),
        Change::DropObjects { names, .. } => names.first().cloned(),
        // Found by the tracer (MariaDB 10.11): `LOCK TABLES … WRITE` holds
        // SHARED_NO_READ_WRITE and `OPTIMIZE TABLE` an EXCLUSIVE metadata lock, which `plan`
        // did not show.
        Change::LockTable { tables } => tables.first().cloned(),
        Change::RewriteTable { table, .. } => table.clone(),
        _ => None,
    }
}

/// The tables every statement of `step` changes (each of a multi-statement transaction's),
/// which the look before queueing watches.
fn step_tables(step: &Step) -> Vec<QualName> {
    let mut tables: Vec<QualName> = step
        .changes()
        .into_iter()
        .filter_map(changed_table)
        .collect();
    tables.sort();
    tables.dedup();
    tables
}

/// What `migrate plan` shows for a statement: the online mode its table gets.
pub fn step_locks(change: &Change, step: &Step, v: Version, mariadb: bool) -> Vec<LockInfo> {
    let Some(table) = changed_table(change) else {
        return Vec::new();
    };
    if matches!(step.kind, StepKind::Backfill { .. }) {
        return vec![LockInfo {
            table,
            mode: "row locks of one batch at a time".into(),
            blocks: "writes to the batch's rows, for one short batch",
        }];
    }
    let clauses = if accepts_clause(&step.sql) {
        online_clauses(change, v, mariadb)
    } else {
        Vec::new()
    };
    let (mode, blocks) = match clauses.first() {
        Some(Online::Instant) => (
            format!(
                "{}; falls back to {}",
                Online::Instant.describe(),
                Online::InplaceNoLock.describe()
            ),
            "nothing once its metadata lock is granted",
        ),
        Some(Online::InplaceNoLock) => (
            Online::InplaceNoLock.describe().to_string(),
            "nothing once its metadata lock is granted",
        ),
        None => match change {
            Change::AlterTable { .. } => (
                "the ALGORITHM/LOCK the statement names".into(),
                "depends on the clause it names",
            ),
            _ => ("metadata lock".into(), "the table while queued or held"),
        },
    };
    vec![LockInfo {
        table,
        mode,
        blocks,
    }]
}

impl MySql {
    /// Runs one step and records it in the state table: a DDL statement commits on its own,
    /// so it is marked started before and recorded after (a kill in between leaves the
    /// mark, and the rerun accepts "already there" errors for that statement only); a
    /// transaction of the file records itself inside that transaction.
    pub(super) fn run_recorded(
        &mut self,
        plan: &PhasePlan,
        step: &Step,
        options: &ApplyOptions,
        interrupted: bool,
    ) -> Result<StepReport, String> {
        let record = record_sql(plan, step.index + 1);
        let report = self.run_step_unrecorded(plan, step, options, interrupted, &record)?;
        if !matches!(step.kind, StepKind::Transaction { .. }) {
            self.conn
                .batch_execute(&record)
                .map_err(|e| format!("updating the state table: {}", describe_error(&e)))?;
        }
        Ok(report)
    }

    fn run_step_unrecorded(
        &mut self,
        plan: &PhasePlan,
        step: &Step,
        options: &ApplyOptions,
        first_after_resume: bool,
        record: &str,
    ) -> Result<StepReport, String> {
        let started = Instant::now();
        let mut report = StepReport {
            line: step.line,
            ..StepReport::default()
        };
        match &step.kind {
            StepKind::Session => {
                self.conn
                    .batch_execute(&step.sql)
                    .map_err(|e| describe_error(&e))?;
            }
            StepKind::Transaction { statements, .. } => {
                let body = format!(
                    "START TRANSACTION;\n{};\n{record};\nCOMMIT",
                    statements.join(";\n")
                );
                report.retries = self
                    .with_lock_retries(&body, &step_tables(step), options, false)
                    .map_err(|e| e.message)?;
            }
            _ => {
                self.conn
                    .batch_execute(&started_sql(plan, step.index))
                    .map_err(|e| format!("updating the state table: {}", describe_error(&e)))?;
                let change = step.change.clone();
                let clauses = change
                    .as_ref()
                    .filter(|_| accepts_clause(&step.sql))
                    .map(|c| online_clauses(c, self.version, self.mariadb))
                    .unwrap_or_default();
                let tables = step_tables(step);
                let mut refusals = Vec::new();
                let mut ran = false;
                for online in &clauses {
                    let Some(change) = &change else { break };
                    let sql = with_clause(&step.sql, change, *online);
                    match self.with_lock_retries(&sql, &tables, options, first_after_resume) {
                        Ok(r) => {
                            report.retries += r;
                            ran = true;
                            break;
                        }
                        Err(e) if is_refusal(&e, self.mariadb) => {
                            refusals.push(format!("{}: {}", online.clause(true), e.message));
                        }
                        Err(e) => return Err(e.message),
                    }
                }
                if !ran && !refusals.is_empty() {
                    return Err(format!(
                        "the server refused to run it online ({}); concertina never lets it fall back to a table copy (ALGORITHM=COPY blocks writes for the whole copy). Statement: `{}`. Recipe: {}",
                        refusals.join("; "),
                        step.sql.trim(),
                        recipe(&refusals.join(" "))
                    ));
                }
                if !ran {
                    report.retries = self
                        .with_lock_retries(&step.sql, &tables, options, first_after_resume)
                        .map_err(|e| e.message)?;
                }
            }
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Runs `sql` under `lock_wait_timeout`, retrying lock wait timeouts with backoff and
    /// jitter. Returns the retries it took; the final failure names the blocking sessions.
    fn with_lock_retries(
        &mut self,
        sql: &str,
        tables: &[QualName],
        options: &ApplyOptions,
        tolerate_done: bool,
    ) -> Result<u32, DbError> {
        let seconds = timeout_seconds(options.lock_timeout);
        let mut attempt = 0;
        loop {
            for t in tables {
                self.look_before_queueing(t, options)?;
            }
            let result = self
                .conn
                .batch_execute(&format!(
                    "SET SESSION lock_wait_timeout = {seconds}, innodb_lock_wait_timeout = {seconds}"
                ))
                .and_then(|_| self.conn.batch_execute(sql));
            match result {
                Ok(()) => return Ok(attempt),
                Err(e) => {
                    let error = db_error(&mut self.conn, &e);
                    // A transaction left open by a failed multi-statement body.
                    let _ = self.conn.batch_execute("ROLLBACK");
                    if tolerate_done && already_done(&error) {
                        return Ok(attempt);
                    }
                    if !error.is_retryable() {
                        return Err(error);
                    }
                    if attempt >= options.lock_retries {
                        let blockers: Vec<String> = if tables.is_empty() {
                            self.blockers(None)
                        } else {
                            tables.iter().flat_map(|t| self.blockers(Some(t))).collect()
                        };
                        let named = if blockers.is_empty() {
                            String::new()
                        } else {
                            format!(" (blocked by {})", blockers.join(", "))
                        };
                        return Err(DbError {
                            message: format!(
                                "gave up after {} attempts: the metadata lock was not granted within lock_wait_timeout ({seconds} s){named}; retry when the blocking transaction is done, or raise lock_retries",
                                attempt + 1
                            ),
                            ..error
                        });
                    }
                    attempt += 1;
                    std::thread::sleep(backoff(attempt, self.jitter.factor()));
                }
            }
        }
    }
}

impl MySql {
    /// Look before queueing: while a transaction open longer than `long_transaction` holds a
    /// metadata lock on `table`, the statement does not ask for its exclusive metadata lock
    /// (queued, it would hold up every app query on the table for up to lock_wait_timeout,
    /// whole seconds): it waits for that transaction to end, naming it every 5 s, for at most
    /// `max_lock_wait`.
    fn look_before_queueing(
        &mut self,
        table: &QualName,
        options: &ApplyOptions,
    ) -> Result<(), DbError> {
        let started = Instant::now();
        let mut said = None::<Instant>;
        loop {
            let holders = self.long_transactions(table, options.long_transaction);
            if holders.is_empty() {
                return Ok(());
            }
            let list = holders.join("; ");
            if started.elapsed() >= options.max_lock_wait {
                return Err(DbError {
                    kind: DbErrorKind::LockTimeout,
                    code: String::new(),
                    message: format!(
                        "waited {:.0?} (max_lock_wait) without asking for the metadata lock: {list}; end that transaction (KILL <connection>) or raise max_lock_wait",
                        options.max_lock_wait
                    ),
                });
            }
            if said.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(5)) {
                said = Some(Instant::now());
                if !options.quiet {
                    eprintln!(
                        "migrate: not queueing for the metadata lock while {list} (waited {:.1} s of max_lock_wait {:.0?})",
                        started.elapsed().as_secs_f64(),
                        options.max_lock_wait
                    );
                }
            }
            // InnoDB serves INNODB_TRX from a cache it refreshes only when nobody has read it
            // for 100 ms: polled every 50 ms it never refreshed, and a transaction committed
            // in between stayed listed until max_lock_wait ran out (found on MariaDB 10.11).
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn drop_index_on_takes_no_algorithm_clause() {
        assert!(!accepts_clause("DROP INDEX users_name_idx ON users"));
        assert!(accepts_clause("-- why\nALTER TABLE users ADD COLUMN c int"));
        assert!(accepts_clause("/* x */ create index i on t (c)"));
    }
    use super::*;
    use concertina_codegen::dialect::DialectKind;

    fn change_of(sql: &str, mariadb: bool) -> Option<Change> {
        let kind = if mariadb {
            DialectKind::MariaDb
        } else {
            DialectKind::MySql
        };
        crate::plan::statement_change(sql, kind)
    }

    fn clauses(sql: &str, v: Version, mariadb: bool) -> Vec<Online> {
        online_clauses(&change_of(sql, mariadb).expect("parses"), v, mariadb)
    }

    #[test]
    fn instant_where_the_server_can_else_inplace() {
        let maria = Version(10, 11, 0);
        assert_eq!(
            clauses("ALTER TABLE t ADD COLUMN c int NULL", maria, true),
            [Online::Instant, Online::InplaceNoLock]
        );
        assert_eq!(
            clauses("ALTER TABLE t DROP COLUMN c", Version(10, 3, 0), true),
            [Online::InplaceNoLock]
        );
        assert_eq!(
            clauses("ALTER TABLE t ADD INDEX i (c)", maria, true),
            [Online::InplaceNoLock]
        );
        assert_eq!(
            clauses("CREATE INDEX i ON t (c)", maria, true),
            [Online::InplaceNoLock]
        );
        assert!(clauses(
            "ALTER TABLE t ADD COLUMN c int, ALGORITHM=COPY",
            maria,
            true
        )
        .is_empty());
        assert!(clauses("CREATE TABLE x (id int primary key)", maria, true).is_empty());
        assert_eq!(
            clauses("ALTER TABLE t DROP COLUMN c", Version(8, 0, 29), false),
            [Online::Instant, Online::InplaceNoLock]
        );
    }

    #[test]
    fn create_fulltext_index_takes_the_clause_without_a_comma() {
        let sql = "CREATE FULLTEXT INDEX posts_body ON posts (body)";
        let change = change_of(sql, true).expect("parses");
        assert_eq!(
            with_clause(sql, &change, Online::InplaceNoLock),
            "CREATE FULLTEXT INDEX posts_body ON posts (body)\nALGORITHM=INPLACE LOCK=NONE"
        );
    }

    #[test]
    fn clauses_survive_a_trailing_comment() {
        let change = change_of("ALTER TABLE t ADD COLUMN c int -- why", true).expect("parses");
        assert_eq!(
            with_clause(
                "ALTER TABLE t ADD COLUMN c int -- why",
                &change,
                Online::Instant
            ),
            "ALTER TABLE t ADD COLUMN c int -- why\n, ALGORITHM=INSTANT"
        );
    }

    /// Decided by error number alone: the same message text in another language, or no text,
    /// classifies the same.
    #[test]
    fn refusals_and_work_already_done_are_told_by_error_number() {
        let error = |errno: u32| DbError {
            kind: super::super::classify(errno),
            code: errno.to_string(),
            message: "(translated)".into(),
        };
        assert!(is_refusal(&error(1846), true));
        assert!(is_refusal(&error(1845), false));
        assert!(is_refusal(&error(4092), false));
        assert!(
            !is_refusal(&error(4092), true),
            "MariaDB's 4092 is an unknown view"
        );
        assert!(!is_refusal(&error(1205), false));
        assert!(already_done(&error(1060)));
        assert!(already_done(&error(1091)));
        assert!(!already_done(&error(1205)));
        assert!(error(1205).is_retryable());
        assert!(error(1213).is_retryable());
        assert!(!error(1062).is_retryable());
    }

    #[test]
    fn only_a_killed_run_marks_a_statement_interrupted() {
        let rec = |status: Status, cursor: Option<&str>| PhaseRecord {
            version: "0002".into(),
            name: "x".into(),
            phase: concertina_codegen::Phase::Expand,
            status,
            checksum: String::new(),
            applied_sql: String::new(),
            statements_done: 1,
            cursor: cursor.map(str::to_string),
            rows_done: 0,
            started_at: None,
            finished_at: None,
            last_error: None,
        };
        let mark = r#"{"ddl_started":1}"#;
        assert_eq!(
            interrupted_statement(Some(&rec(Status::Running, Some(mark)))),
            Some(1)
        );
        // A recorded failure means the statement did not commit: its errors are real.
        assert_eq!(
            interrupted_statement(Some(&rec(Status::Failed, Some(mark)))),
            None
        );
        assert_eq!(
            interrupted_statement(Some(&rec(Status::Running, None))),
            None
        );
        assert_eq!(interrupted_statement(None), None);
    }
}
