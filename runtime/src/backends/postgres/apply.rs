//! Applying expand and contract on PostgreSQL, statement by statement: each under
//! `lock_timeout`, retried with backoff and jitter when the lock is not granted in time, and
//! recorded in the state table in the same transaction, so a killed migrator resumes exactly
//! where it stopped.

use std::time::{Duration, Instant};

use concertina_codegen::change::QualName;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::locks::{locks, LockMode};
use super::{quote_ident, Postgres};
use crate::engine::{backoff, ApplyOptions, DbError, Jitter, StepReport};
use crate::plan::{LockContext, PhasePlan, Step, StepKind};
use crate::state::STATE_TABLE;

pub struct Applier<'a> {
    pub pg: &'a mut Postgres,
    pub options: ApplyOptions,
    jitter: Jitter,
}

#[derive(QueryableByName)]
struct IndexState {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    valid: bool,
}

#[derive(QueryableByName)]
struct Blocker {
    #[diesel(sql_type = Integer)]
    pid: i32,
    #[diesel(sql_type = Text)]
    query: String,
}

impl<'a> Applier<'a> {
    pub fn new(pg: &'a mut Postgres, options: ApplyOptions) -> Self {
        Applier {
            pg,
            options,
            jitter: Jitter::new(),
        }
    }

    /// Runs migration SQL (or its state record) on the statements' connection.
    fn exec(&mut self, sql: &str, context: &str) -> Result<(), String> {
        self.pg.statements()?.execute(sql).map(|_| ()).map_err(|e| {
            if context.is_empty() {
                e.message
            } else {
                format!("{context}: {}", e.message)
            }
        })
    }

    fn record_step_sql(plan: &PhasePlan, done: usize) -> String {
        format!(
            "UPDATE {} SET statements_done = {done}, updated_at = now() WHERE version = '{}' AND phase = '{}'",
            quote_ident(STATE_TABLE),
            plan.version.replace('\'', "''"),
            plan.phase.as_str()
        )
    }

    pub fn apply_step(&mut self, plan: &PhasePlan, step: &Step) -> Result<StepReport, String> {
        let started = Instant::now();
        let record = Self::record_step_sql(plan, step.index + 1);
        let mut report = StepReport {
            line: step.line,
            ..StepReport::default()
        };
        match &step.kind {
            StepKind::Transactional | StepKind::Backfill { .. } => {
                let body = format!("{};\n{record}", step.sql);
                let targets = self.app_blocking_locks(step);
                report.retries = self.with_lock_retries(&body, &step.sql, &targets)?;
            }
            StepKind::Transaction { statements, .. } => {
                let body = format!("{};\n{record}", statements.join(";\n"));
                let targets = self.app_blocking_locks(step);
                report.retries = self.with_lock_retries(&body, &step.sql, &targets)?;
            }
            StepKind::Session => {
                self.exec(&step.sql, "")?;
                self.exec(&record, "updating the state table")?;
            }
            StepKind::NonTransactional { index, drops } => {
                report.skipped = self.non_transactional(step, index.as_ref(), *drops)?;
                self.exec(&record, "updating the state table")?;
            }
            StepKind::SafeSetNotNull { table, column } => {
                report.retries = self.safe_set_not_null(table, column, &record)?;
            }
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// The tables `step` locks in a mode that queues the app's reads or writes (stronger than
    /// SHARE UPDATE EXCLUSIVE), from the statement's `Change`.
    fn app_blocking_locks(&self, step: &Step) -> Vec<(QualName, LockMode)> {
        let ctx = LockContext::bare(self.options.server_version);
        step.changes()
            .into_iter()
            .flat_map(|c| locks(c, &ctx))
            .filter(|(_, mode)| *mode > LockMode::ShareUpdateExclusive)
            .collect()
    }

    /// Look before queueing: while a transaction that has been open longer than
    /// `long_transaction` holds or awaits a lock on one of `targets` that conflicts with the
    /// mode the statement asks for, the statement does not join the lock queue (where every
    /// app query on the table would queue behind it): it waits for that transaction to end,
    /// saying whom it waits for, up to `max_lock_wait`.
    fn look_before_queueing(&mut self, targets: &[(QualName, LockMode)]) -> Result<(), String> {
        if targets.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut said = None::<Instant>;
        loop {
            let holders = self.long_holders(targets)?;
            if holders.is_empty() {
                if said.is_some() && !self.options.quiet {
                    eprintln!(
                        "migrate: the long transactions ended after {:.1} s; taking the lock",
                        started.elapsed().as_secs_f64()
                    );
                }
                return Ok(());
            }
            let list = holders.join("; ");
            if started.elapsed() >= self.options.max_lock_wait {
                return Err(format!(
                    "waited {:.0?} (max_lock_wait) without asking for the lock: {list}; end that transaction (SELECT pg_terminate_backend(pid)) or raise max_lock_wait",
                    self.options.max_lock_wait
                ));
            }
            if said.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                said = Some(Instant::now());
                if !self.options.quiet {
                    eprintln!(
                        "migrate: not queueing for the lock while {list} (waited {:.1} s of max_lock_wait {:.0?})",
                        started.elapsed().as_secs_f64(),
                        self.options.max_lock_wait
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sessions in a transaction open longer than `long_transaction` that hold or await a lock
    /// conflicting with one of `targets`, described for the operator.
    fn long_holders(&mut self, targets: &[(QualName, LockMode)]) -> Result<Vec<String>, String> {
        let names: Vec<String> = targets
            .iter()
            .map(|(t, _)| {
                let q = format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.name));
                format!("to_regclass('{}')", q.replace('\'', "''"))
            })
            .collect();
        let sql = format!(
            "SELECT a.pid::text, coalesce(a.state, ''), round(extract(epoch FROM clock_timestamp() - a.xact_start)::numeric, 1)::text,
                    left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 120), l.mode, l.granted::text,
                    n.nspname, c.relname, coalesce(a.backend_type, '')
             FROM pg_locks l
             JOIN pg_stat_activity a ON a.pid = l.pid
             JOIN pg_class c ON c.oid = l.relation
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE l.locktype = 'relation' AND l.relation = ANY(ARRAY[{}]::regclass[])
               AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
               AND clock_timestamp() - a.xact_start > interval '{} milliseconds'
             ORDER BY a.xact_start",
            names.join(", "),
            self.options.long_transaction.as_millis()
        );
        let (rows, _) = self
            .pg
            .statements()?
            .run(&sql)
            .map_err(|e| format!("looking for long transactions on the tables: {e}"))?;
        let mut out: Vec<String> = Vec::new();
        for r in rows {
            let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            let Some(mode) = LockMode::from_pg_locks(&get(4)) else {
                continue;
            };
            let table = QualName::new(get(6), get(7));
            let Some((_, wanted)) = targets.iter().find(|(t, _)| *t == table) else {
                continue;
            };
            if !wanted.conflicts_with(mode) {
                continue;
            }
            let state = match get(1).as_str() {
                "idle in transaction" => "idle in transaction".to_string(),
                "idle in transaction (aborted)" => "idle in an aborted transaction".to_string(),
                "active" => "running".to_string(),
                other => other.to_string(),
            };
            let how = if get(5) == "true" {
                "holds"
            } else {
                "waits for"
            };
            let line = format!(
                "pid {} has been {state} for {} s in a transaction that {how} {} on {} (`{}`)",
                get(0),
                get(2),
                mode.as_str(),
                table,
                get(3)
            );
            if !out.contains(&line) {
                out.push(line);
            }
        }
        Ok(out)
    }

    /// Runs `body` in a transaction under a lock timeout that starts at `first_lock_timeout`
    /// and doubles per retry up to `lock_timeout`, after looking before queueing on `targets`;
    /// retries lock timeouts and deadlocks (told by SQLSTATE). Returns how many retries it
    /// took; the final failure names what blocked it.
    fn with_lock_retries(
        &mut self,
        body: &str,
        shown: &str,
        targets: &[(QualName, LockMode)],
    ) -> Result<u32, String> {
        let mut attempt = 0;
        loop {
            self.look_before_queueing(targets)?;
            let timeout_ms = self.options.attempt_timeout(attempt).as_millis();
            let sql =
                format!("BEGIN;\nSET LOCAL lock_timeout = '{timeout_ms}ms';\n{body};\nCOMMIT;");
            let conn = self.pg.statements()?;
            match conn.execute(&sql) {
                Ok(_) => return Ok(attempt),
                Err(e) => {
                    let _ = conn.execute("ROLLBACK");
                    if !e.is_retryable() {
                        return Err(e.message);
                    }
                    if attempt >= self.options.lock_retries {
                        let blockers = self.blockers(shown);
                        return Err(format!(
                            "gave up after {} attempts: the lock was not granted within lock_timeout ({timeout_ms} ms){blockers}; retry when the blocking transaction is done, or raise lock_retries",
                            attempt + 1
                        ));
                    }
                    attempt += 1;
                    std::thread::sleep(backoff(attempt, self.jitter.factor()));
                }
            }
        }
    }

    /// Sessions holding locks on the tables a statement touches, as ` (blocked by pid …)`.
    fn blockers(&mut self, sql: &str) -> String {
        let rows: Vec<Blocker> = diesel::sql_query(
            "SELECT DISTINCT a.pid, left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 200) AS query
             FROM pg_locks l
             JOIN pg_stat_activity a ON a.pid = l.pid
             JOIN pg_class c ON c.oid = l.relation
             WHERE l.granted AND a.pid <> pg_backend_pid()
               AND c.relkind IN ('r', 'p', 'm')
               AND c.relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema'))
               AND position(lower(c.relname) IN lower($1)) > 0
             ORDER BY a.pid",
        )
        .bind::<Text, _>(sql)
        .load(self.pg.connection())
        .unwrap_or_default();
        if rows.is_empty() {
            return String::new();
        }
        let list: Vec<String> = rows
            .iter()
            .map(|b| format!("pid {} running `{}`", b.pid, b.query))
            .collect();
        format!(" (blocked by {})", list.join(", "))
    }

    /// `CONCURRENTLY` statements run outside a transaction and without `lock_timeout`: their
    /// SHARE UPDATE EXCLUSIVE lock never queues the app's reads and writes, and they wait for
    /// old transactions to end by design. Returns true when an earlier run had already done it.
    fn non_transactional(
        &mut self,
        step: &Step,
        index: Option<&concertina_codegen::change::QualName>,
        drops: bool,
    ) -> Result<bool, String> {
        if let Some(index) = index {
            let qualified = format!(
                "{}.{}",
                quote_ident(&index.schema),
                quote_ident(&index.name)
            );
            let state: Option<IndexState> = diesel::sql_query(
                "SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
            )
            .bind::<Text, _>(&qualified)
            .get_result(self.pg.connection())
            .optional()
            .map_err(|e| e.to_string())?;
            match (state, drops) {
                (None, true) => return Ok(true),
                (Some(IndexState { valid: true }), false) => return Ok(true),
                (Some(IndexState { valid: false }), false) => {
                    // Left INVALID by an interrupted build: drop it and build again.
                    self.exec(
                        &format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"),
                        "dropping an INVALID index",
                    )?;
                }
                _ => {}
            }
            let result = self.run_alone(&step.sql);
            if let Err(error) = result {
                // A failed build leaves an INVALID index: never leave it behind.
                if !drops {
                    let _ = self.exec(
                        &format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"),
                        "",
                    );
                }
                return Err(explain_index_failure(&error));
            }
            return Ok(false);
        }
        self.run_alone(&step.sql)
            .map(|_| false)
            .map_err(|e| e.message)
    }

    /// One statement on its own (a multi-statement string would run as one implicit
    /// transaction, which `CONCURRENTLY` refuses), without `lock_timeout`.
    fn run_alone(&mut self, sql: &str) -> Result<(), DbError> {
        let conn = self.pg.statements().map_err(DbError::other)?;
        conn.execute("SET lock_timeout = 0")?;
        let result = conn.execute(sql).map(|_| ());
        let reset = format!(
            "SET lock_timeout = '{}ms'",
            self.options.lock_timeout.as_millis()
        );
        let _ = conn.execute(&reset);
        result
    }

    /// PostgreSQL 12+: `SET NOT NULL` without a scan under ACCESS EXCLUSIVE.
    fn safe_set_not_null(
        &mut self,
        table: &concertina_codegen::change::QualName,
        column: &str,
        record: &str,
    ) -> Result<u32, String> {
        let t = format!(
            "{}.{}",
            quote_ident(&table.schema),
            quote_ident(&table.name)
        );
        let [add_check, validate, set_not_null] = safe_set_not_null_sql(table, column);
        let mut retries = 0;
        let exists: Option<IndexState> = diesel::sql_query(
            "SELECT convalidated AS valid FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
        )
        .bind::<Text, _>(&t)
        .bind::<Text, _>(helper_constraint_name(&table.name, column))
        .get_result(self.pg.connection())
        .optional()
        .map_err(|e| e.to_string())?;
        // ADD CONSTRAINT and SET NOT NULL take ACCESS EXCLUSIVE; VALIDATE queues nobody.
        let exclusive = [(table.clone(), LockMode::AccessExclusive)];
        if exists.is_none() {
            retries += self.with_lock_retries(&add_check, &t, &exclusive)?;
        }
        // VALIDATE takes SHARE UPDATE EXCLUSIVE: the app reads and writes during the scan.
        let rest = (|| {
            let mut retries = 0;
            if !matches!(exists, Some(IndexState { valid: true })) {
                retries += self.with_lock_retries(&validate, &t, &[])?;
            }
            retries +=
                self.with_lock_retries(&format!("{set_not_null};\n{record}"), &t, &exclusive)?;
            Ok::<u32, String>(retries)
        })();
        match rest {
            Ok(n) => Ok(retries + n),
            Err(message) => {
                // The helper check already refuses the app's NULLs: never leave it behind a
                // contract that did not finish (a NULL inserted since the migrator's count).
                let check = quote_ident(&helper_constraint_name(&table.name, column));
                let undo = self.with_lock_retries(
                    &format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}"),
                    &t,
                    &exclusive,
                );
                let undone = match undo {
                    Ok(_) => "; the recipe's helper check was dropped again, the table is as before".to_string(),
                    Err(e) => format!("; dropping the recipe's helper check {check} failed too ({e}): drop it by hand, it refuses the app's NULLs"),
                };
                Err(format!("{}{undone}", message.trim()))
            }
        }
    }
}

/// The helper CHECK of the `SET NOT NULL` recipe, within PostgreSQL's 63-byte names.
/// The contract `SET NOT NULL` without a scan under the strong lock, as three transactions:
/// `CHECK (col IS NOT NULL) NOT VALID`; `VALIDATE` (SHARE UPDATE EXCLUSIVE: the app reads and
/// writes during the scan); `SET NOT NULL` (trusts the valid check) and drop the check.
pub fn safe_set_not_null_sql(
    table: &concertina_codegen::change::QualName,
    column: &str,
) -> [String; 3] {
    let t = format!(
        "{}.{}",
        quote_ident(&table.schema),
        quote_ident(&table.name)
    );
    let c = quote_ident(column);
    let check = quote_ident(&helper_constraint_name(&table.name, column));
    [
        format!("ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID"),
        format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check}"),
        format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;\nALTER TABLE {t} DROP CONSTRAINT {check}"),
    ]
}

pub fn helper_constraint_name(table: &str, column: &str) -> String {
    let mut name = format!("concertina_nn_{table}_{column}");
    if name.len() > 63 {
        let hash = crate::plan::checksum(&name);
        name.truncate(50);
        while !name.is_char_boundary(name.len()) {
            name.pop();
        }
        name.push('_');
        name.push_str(&hash[..12]);
    }
    name
}

/// A unique index that cannot be built (unique_violation, 23505) names the duplicated key
/// PostgreSQL reported.
fn explain_index_failure(error: &DbError) -> String {
    let m = error.message.trim();
    if error.code == "23505" {
        format!("{m}; the table holds duplicate keys: remove or merge them (the key is named above), then run again")
    } else {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_names_fit_postgres() {
        assert_eq!(
            helper_constraint_name("users", "phone"),
            "concertina_nn_users_phone"
        );
        let long = helper_constraint_name(&"t".repeat(60), &"c".repeat(60));
        assert!(long.len() <= 63, "{}", long.len());
    }

    #[test]
    fn a_duplicate_key_is_explained_by_its_code_not_its_text() {
        let e = |code: &str| DbError {
            kind: super::super::raw::classify(code),
            code: code.into(),
            message: "(translated text)".into(),
        };
        assert!(explain_index_failure(&e("23505")).contains("duplicate keys"));
        assert!(!explain_index_failure(&e("42P07")).contains("duplicate keys"));
    }
}
