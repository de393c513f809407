//! The state store: every statement against the state table (and diesel's record of what
//! ran), written once. A backend supplies a [`StateSql`] connection that binds parameters and
//! says how its server spells the few things that differ ([`Flavour`]); what the statements
//! mean lives here.

use crate::engine::Slices;
use crate::error::RuntimeError;
use crate::plan::PhasePlan;
use crate::state::{PhaseRecord, Status, DIESEL_TABLE, DIESEL_TABLE_DDL, STATE_TABLE};

/// One bound value.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
}

/// What a server spells its own way in the state statements.
#[derive(Debug, Clone, Copy)]
pub struct Flavour {
    /// Placeholders are numbered (`$1`, PostgreSQL) rather than `?` (MySQL).
    pub numbered_placeholders: bool,
    /// The current time as the state table stores it.
    pub now: &'static str,
    /// The current schema, for a catalog lookup.
    pub current_schema: &'static str,
    /// An identifier quoted.
    pub quote: fn(&str) -> String,
    /// An `INSERT … VALUES (…)` that does nothing when the key exists: the statement's
    /// head keyword and its tail.
    pub insert_ignore: (&'static str, &'static str),
    /// An expression as text.
    pub as_text: fn(&str) -> String,
}

impl Flavour {
    /// `sql` written with `?` placeholders, in this server's spelling.
    fn spell(&self, sql: &str) -> String {
        if !self.numbered_placeholders {
            return sql.to_string();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(ch);
            }
        }
        out
    }
}

/// A connection the state store can talk through.
pub trait StateSql {
    fn flavour(&self) -> Flavour;

    /// Runs one statement (its placeholders already in this server's spelling).
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<usize, diesel::result::Error>;

    /// The column `v` of every row, as text.
    fn texts(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<Option<String>>, diesel::result::Error>;

    /// Runs `body` in one transaction.
    fn transaction(
        &mut self,
        body: &mut dyn FnMut(&mut dyn StateSql) -> Result<(), diesel::result::Error>,
    ) -> Result<(), diesel::result::Error>;
}

fn run(c: &mut dyn StateSql, sql: &str, params: &[Param]) -> Result<usize, diesel::result::Error> {
    let sql = c.flavour().spell(sql);
    c.execute(&sql, params)
}

fn state(c: &dyn StateSql) -> String {
    (c.flavour().quote)(STATE_TABLE)
}

/// Starts (or resumes) the state row of a phase; returns the steps already done.
pub fn begin_phase(
    c: &mut dyn StateSql,
    plan: &PhasePlan,
    existing: Option<&PhaseRecord>,
) -> Result<usize, RuntimeError> {
    let (table, now) = (state(c), c.flavour().now);
    let p = [
        Param::Text(&plan.checksum),
        Param::Text(&plan.text),
        Param::Text(&plan.version),
        Param::Text(plan.phase.as_str()),
    ];
    let result = match existing {
        // Undone by `down`: start over with the file as it is now.
        Some(rec) if rec.status == Status::RolledBack => run(
            c,
            &format!(
                "UPDATE {table} SET status = 'running', last_error = NULL, statements_done = 0,
                     backfill_cursor = NULL, rows_done = 0, checksum = ?, applied_sql = ?,
                     started_at = {now}, finished_at = NULL, updated_at = {now}
                 WHERE version = ? AND phase = ?"
            ),
            &p,
        )
        .map(|_| 0),
        // Resumed: the text is recorded again, since a failed phase may have been fixed past
        // the statements that ran (drift::unfinished_edit_is_safe let it through).
        Some(rec) => run(
            c,
            &format!(
                "UPDATE {table} SET status = 'running', last_error = NULL, checksum = ?, applied_sql = ?,
                     updated_at = {now}
                 WHERE version = ? AND phase = ?"
            ),
            &p,
        )
        .map(|_| rec.statements_done.max(0) as usize),
        None => run(
            c,
            &format!(
                "INSERT INTO {table} (version, name, phase, status, checksum, applied_sql, started_at)
                 VALUES (?, ?, ?, 'running', ?, ?, {now})"
            ),
            &[
                Param::Text(&plan.version),
                Param::Text(&plan.name),
                Param::Text(plan.phase.as_str()),
                Param::Text(&plan.checksum),
                Param::Text(&plan.text),
            ],
        )
        .map(|_| 0),
    };
    result.map_err(|e| RuntimeError::query("recording the phase in the state table", e))
}

/// Marks a phase done, failed (with its located message) or running.
pub fn finish_phase(
    c: &mut dyn StateSql,
    plan: &PhasePlan,
    status: Status,
    error: Option<&str>,
) -> Result<(), RuntimeError> {
    let (table, now) = (state(c), c.flavour().now);
    run(
        c,
        &format!(
            "UPDATE {table} SET status = ?, last_error = ?, updated_at = {now},
                 finished_at = CASE WHEN ? = 'done' THEN {now} ELSE finished_at END
             WHERE version = ? AND phase = ?"
        ),
        &[
            Param::Text(status.as_str()),
            Param::OptText(error),
            Param::Text(status.as_str()),
            Param::Text(&plan.version),
            Param::Text(plan.phase.as_str()),
        ],
    )
    .map(|_| ())
    .map_err(|e| RuntimeError::query("updating the state table", e))
}

/// Records a phase at or below the baseline as applied without running it.
pub fn record_baseline(c: &mut dyn StateSql, plan: &PhasePlan) -> Result<(), RuntimeError> {
    let (table, now) = (state(c), c.flavour().now);
    run(
        c,
        &format!(
            "INSERT INTO {table} (version, name, phase, status, checksum, applied_sql, statements_done, finished_at)
             VALUES (?, ?, ?, 'baselined', ?, ?, 0, {now})"
        ),
        &[
            Param::Text(&plan.version),
            Param::Text(&plan.name),
            Param::Text(plan.phase.as_str()),
            Param::Text(&plan.checksum),
            Param::Text(&plan.text),
        ],
    )
    .map(|_| ())
    .map_err(|e| RuntimeError::query("recording the baseline", e))
}

/// After `down`: the expand and backfill of `version` are rolled back, its down row goes.
pub fn record_rollback(c: &mut dyn StateSql, version: &str) -> Result<(), RuntimeError> {
    let (table, now) = (state(c), c.flavour().now);
    c.transaction(&mut |c| {
        run(
            c,
            &format!(
                "UPDATE {table} SET status = 'rolled_back', updated_at = {now}
                 WHERE version = ? AND phase IN ('expand', 'backfill')"
            ),
            &[Param::Text(version)],
        )?;
        run(
            c,
            &format!("DELETE FROM {table} WHERE version = ? AND phase = 'down'"),
            &[Param::Text(version)],
        )?;
        Ok(())
    })
    .map_err(|e| RuntimeError::query("recording the rollback", e))
}

/// A backfill statement finished: the next one starts from no cursor.
pub fn backfill_statement_done(
    c: &mut dyn StateSql,
    version: &str,
    index: usize,
) -> Result<(), RuntimeError> {
    let (table, now) = (state(c), c.flavour().now);
    run(
        c,
        &format!(
            "UPDATE {table} SET statements_done = ?, backfill_cursor = NULL, updated_at = {now}
             WHERE version = ? AND phase = 'backfill'"
        ),
        &[Param::Int(index as i64 + 1), Param::Text(version)],
    )
    .map(|_| ())
    .map_err(|e| RuntimeError::query("updating the state table", e))
}

/// The saved backfill cursor of `version`. One that cannot be read is an error: starting the
/// statement over could write rows twice. A DDL statement's started mark (MySQL keeps one there
/// for a statement of a backfill phase that is not a data change) is no cursor.
pub fn saved_cursor(c: &mut dyn StateSql, version: &str) -> Result<Option<Slices>, RuntimeError> {
    let table = state(c);
    let rows = c
        .texts(
            &c.flavour().spell(&format!(
                "SELECT backfill_cursor AS v FROM {table} WHERE version = ? AND phase = 'backfill'"
            )),
            &[Param::Text(version)],
        )
        .map_err(|e| RuntimeError::query("reading the backfill cursor", e))?;
    match rows.into_iter().next().flatten() {
        None => Ok(None),
        Some(text) if is_ddl_mark(&text) => Ok(None),
        Some(text) => Slices::from_json(&text).map(Some).ok_or_else(|| {
            RuntimeError::query(
                format!("reading the backfill cursor of version {version}"),
                format!("`{text}` is not a cursor this release can read; if the statement is safe to run again from its first row, set backfill_cursor to NULL in {STATE_TABLE}"),
            )
        }),
    }
}

/// `{"ddl_started": n}`: MySQL's mark of a started DDL statement, read as JSON (a key value of
/// a real cursor may contain any text).
fn is_ddl_mark(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.get("ddl_started").is_some())
}

/// The versions diesel_migrations recorded; `None` when the database has no such table.
pub fn diesel_versions(c: &mut dyn StateSql) -> Result<Option<Vec<String>>, RuntimeError> {
    let f = c.flavour();
    let exists = c
        .texts(
            &f.spell(&format!(
                "SELECT {} AS v FROM information_schema.tables
                 WHERE table_schema = {} AND table_name = ?",
                (f.as_text)("COUNT(*)"),
                f.current_schema
            )),
            &[Param::Text(DIESEL_TABLE)],
        )
        .map_err(|e| RuntimeError::query("looking for diesel's migration table", e))?;
    if exists.first().cloned().flatten().as_deref().map(str::trim) == Some("0") {
        return Ok(None);
    }
    let rows = c
        .texts(
            &format!(
                "SELECT {} AS v FROM {DIESEL_TABLE} ORDER BY version",
                (f.as_text)("version")
            ),
            &[],
        )
        .map_err(|e| RuntimeError::query("reading diesel's migration table", e))?;
    Ok(Some(rows.into_iter().flatten().collect()))
}

/// Records `version` in diesel's table (created as diesel creates it when missing).
pub fn record_diesel_version(c: &mut dyn StateSql, version: &str) -> Result<(), RuntimeError> {
    c.execute(DIESEL_TABLE_DDL, &[])
        .map_err(|e| RuntimeError::query("creating diesel's migration table", e))?;
    let (head, tail) = c.flavour().insert_ignore;
    run(
        c,
        &format!("{head} INTO {DIESEL_TABLE} (version) VALUES (?){tail}"),
        &[Param::Text(version)],
    )
    .map(|_| ())
    .map_err(|e| RuntimeError::query("recording the version in diesel's migration table", e))
}

/// Removes `version` from diesel's table (after `down`), if the table exists.
pub fn forget_diesel_version(c: &mut dyn StateSql, version: &str) -> Result<(), RuntimeError> {
    if diesel_versions(c)?.is_none() {
        return Ok(());
    }
    run(
        c,
        &format!("DELETE FROM {DIESEL_TABLE} WHERE version = ?"),
        &[Param::Text(version)],
    )
    .map(|_| ())
    .map_err(|e| RuntimeError::query("removing the version from diesel's migration table", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_ddl_mark_is_no_cursor() {
        assert!(is_ddl_mark(r#"{"ddl_started": 3}"#));
        // A cursor whose key holds the words is still a cursor.
        assert!(!is_ddl_mark(
            r#"{"statement":0,"slices":[{"lo":null,"hi":null,"key":["ddl_started"],"skipped":[],"revisiting":false}]}"#
        ));
    }

    #[test]
    fn placeholders_are_spelled_per_server() {
        let pg = Flavour {
            numbered_placeholders: true,
            now: "now()",
            current_schema: "current_schema()",
            quote: |s| format!("\"{s}\""),
            insert_ignore: ("INSERT", " ON CONFLICT DO NOTHING"),
            as_text: |e| format!("({e})::text"),
        };
        assert_eq!(
            pg.spell("UPDATE t SET a = ? WHERE b = ? AND c = ?"),
            "UPDATE t SET a = $1 WHERE b = $2 AND c = $3"
        );
        let my = Flavour {
            numbered_placeholders: false,
            ..pg
        };
        assert_eq!(my.spell("a = ?"), "a = ?");
    }
}
