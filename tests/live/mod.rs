//! Shared by the live model tests (live_model_pg.rs, live_model_mysql.rs): replaying a
//! migrations directory statement by statement on a fresh database and comparing the server's
//! catalog with the model after each expand and contract. Each server's file gives its facts.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::Path;

use concertina_codegen::change::{ConstraintKind, QualName};
use concertina_codegen::check::CheckedPhase;
use concertina_codegen::model::Schema;
use concertina_codegen::{Phase, Project};
use diesel::connection::{Connection, SimpleConnection};
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::RunQueryDsl;

/// The rows of a catalog query; a failed one fails the test with the query.
pub fn load<C: Connection, T>(conn: &mut C, what: &str, sql: &str) -> Vec<T>
where
    for<'a> SqlQuery: LoadQuery<'a, C, T>,
{
    diesel::sql_query(sql)
        .load(conn)
        .unwrap_or_else(|e| panic!("reading the catalog ({what}): {e}\n{sql}"))
}

/// The facts only one side holds, one per line: `-` model only, `+` database only.
pub fn diff<F: Ord + Display>(live: &BTreeSet<F>, model: &BTreeSet<F>, server: &str) -> String {
    let mut out = String::new();
    for fact in model.difference(live) {
        out.push_str(&format!("    - {fact}   (model only)\n"));
    }
    for fact in live.difference(model) {
        out.push_str(&format!("    + {fact}   ({server} only)\n"));
    }
    out
}

/// A key constraint (primary key, unique, foreign key) as both catalogs describe it: its kind,
/// its columns, and for a foreign key the table (spelled by `ref_table`) and columns it
/// references. `None` for any other kind: each server compares those its own way.
pub fn key_constraint(
    kind: &ConstraintKind,
    ref_table: impl Fn(&QualName) -> String,
) -> Option<(&'static str, String, Option<String>)> {
    match kind {
        ConstraintKind::PrimaryKey { columns, .. } => {
            Some(("primary key", columns.join(", "), None))
        }
        ConstraintKind::Unique { columns, .. } => Some(("unique", columns.join(", "), None)),
        ConstraintKind::ForeignKey {
            columns,
            ref_table: table,
            ref_columns,
        } => Some((
            "foreign key",
            columns.join(", "),
            Some(format!("{}({})", ref_table(table), ref_columns.join(", "))),
        )),
        _ => None,
    }
}

/// What the model could not follow in a phase: unparsed statements and replay warnings.
fn model_notes(start: &Schema, phase: &CheckedPhase) -> Vec<String> {
    let mut schema = start.clone();
    let mut notes = Vec::new();
    for stmt in &phase.parsed.statements {
        if let Some(reason) = &stmt.unparsed {
            notes.push(format!("line {}: not parsed: {reason}", stmt.line));
        }
        for w in schema.apply(&stmt.change) {
            notes.push(format!("line {}: {}", stmt.line, w.0));
        }
    }
    notes
}

/// Replays every forward phase of every migration of `dir` on `conn` (a fresh database of
/// `server`), comparing `live` (the server's catalog) with `model` (the model's facts in the
/// server's spelling) after each expand and each contract. Returns how many versions were
/// compared; panics with every mismatch found.
pub fn replay_and_compare<C: SimpleConnection, F: Ord + Display>(
    dir: &Path,
    server: &str,
    conn: &mut C,
    live: impl Fn(&mut C) -> BTreeSet<F>,
    model_facts: impl Fn(&Schema) -> BTreeSet<F>,
) -> usize {
    let project = Project::load(dir)
        .unwrap_or_else(|e| panic!("loading the migrations of {}: {e}", dir.display()));
    let report = project.check();
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for m in &report.migrations {
        let mut schema = (*m.window.before).clone();
        for phase in Phase::FORWARD {
            let Some(p) = m.phase(phase) else { continue };
            for stmt in &p.parsed.statements {
                let sql = stmt.text(&p.source);
                // One statement per call, outside any transaction: CONCURRENTLY works.
                if let Err(e) = conn.batch_execute(sql) {
                    panic!(
                        "{}:{}: {server} refused the statement: {e}\n{sql}\n\n\
                         mismatches before it:\n{}",
                        p.source.rel_path,
                        stmt.line,
                        mismatches.join("\n")
                    );
                }
            }
            let model = match phase {
                Phase::Expand => &m.window.expanded,
                Phase::Contract => &m.window.after,
                Phase::Backfill | Phase::Down => {
                    schema = (*m.window.expanded).clone();
                    continue;
                }
            };
            let d = diff(&live(conn), &model_facts(model), server);
            if !d.is_empty() {
                let notes = model_notes(&schema, p);
                let notes = if notes.is_empty() {
                    String::new()
                } else {
                    format!(
                        "  what the model could not follow:\n    {}\n",
                        notes.join("\n    ")
                    )
                };
                mismatches.push(format!(
                    "after {} ({}):\n{d}{notes}",
                    p.source.rel_path,
                    if phase == Phase::Expand {
                        "E(N)"
                    } else {
                        "S(N)"
                    }
                ));
            }
            schema = (**model).clone();
            compared += 1;
        }
    }
    assert!(
        mismatches.is_empty(),
        "the model disagrees with {server} ({} of {compared} versions):\n\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    compared
}
