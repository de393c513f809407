//! `unbatched-data-change`: `UPDATE`/`DELETE` without `WHERE`, or `INSERT … SELECT` /
//! `CREATE TABLE … AS SELECT` reading an existing table, outside backfill.sql.
//!
//! Checked in expand, contract and down (the runtime runs all three statement by statement, each
//! statement one transaction). backfill.sql is exempt: the runtime batches it. A table created
//! earlier in the same file is empty, so changing or reading it is free. A relation the model
//! does not know counts as an existing table, unless the statement calls it like a function
//! (`generate_series(…)`, `unnest(…)`).
//!
//! Fix: an `UPDATE`/`DELETE` in expand moves to backfill.sql like `data-change-outside-backfill`'s;
//! a copy (`INSERT … SELECT`, `CREATE TABLE … AS SELECT`) has none: the runtime batches only
//! `UPDATE` and `DELETE`.

use crate::change::{Change, QualName};
use crate::diag::Severity;
use crate::fix::{recipes, Fix, NoFix};
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "unbatched-data-change",
    severity: Severity::Error,
    summary: "`UPDATE`/`DELETE` without `WHERE`, or `INSERT … SELECT` / `CREATE TABLE … AS SELECT` from an existing table, in expand or contract",
    help: "move the data change to `backfill.sql`: the runtime runs it in keyset batches over the primary key, one short transaction each, with pauses, resumable",
    check,
    fix: Some(fix),
};

fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    match ctx.change {
        Change::Update { table, .. } | Change::Delete { table, .. } => {
            recipes::move_to_backfill(ctx, table)
        }
        _ => Err(NoFix::because("a copy (`INSERT … SELECT`, `CREATE TABLE … AS SELECT`) cannot move to backfill.sql: the runtime batches only `UPDATE` and `DELETE`; write it as an `UPDATE` of rows inserted in expand, or copy in batches from the app")),
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if !matches!(ctx.phase, Phase::Expand | Phase::Contract | Phase::Down) {
        return;
    }
    let phase = ctx.file_name();
    const WHY: &str = "one long transaction: row locks on every row until it commits, bloat, a WAL/binlog burst and replica lag, and no resume after a failure";
    // A copy only reads its source. PostgreSQL reads it from a snapshot, without row locks;
    // InnoDB under its default REPEATABLE READ takes shared locks on every source row it reads
    // (measured on MariaDB 10.11: an `UPDATE` of a source row waits for the open
    // `INSERT … SELECT`; under READ COMMITTED it does not).
    let copy_why = if ctx.is_postgres() {
        "one long transaction: the source rows are read from a snapshot, not locked, but every copied row is written in it, a WAL burst and replica lag, bloat if it fails, and no resume after a failure"
    } else {
        "one long transaction: under InnoDB's default REPEATABLE READ it takes shared locks on every source row it reads, so writes to them wait until it commits (not under READ COMMITTED); a binlog burst and replica lag, and no resume after a failure"
    };
    match ctx.change {
        Change::Update {
            table,
            filter: None,
            ..
        } if ctx.is_existing_table(table) => out.report(format!(
            "`UPDATE` of `{table}` without `WHERE` in {phase} rewrites every row in {WHY}"
        )),
        Change::Delete {
            table,
            filter: None,
        } if ctx.is_existing_table(table) => out.report(format!(
            "`DELETE` from `{table}` without `WHERE` in {phase} deletes every row in {WHY}"
        )),
        Change::Insert {
            table, select_from, ..
        } => {
            let sources = existing_sources(ctx, select_from);
            if !sources.is_empty() {
                copy(
                    ctx,
                    out,
                    ctx.is_new_table(table),
                    format!("`INSERT INTO {table} … SELECT` in {phase} copies every row of {sources} in {copy_why}"),
                );
            }
        }
        Change::CreateTable(ct) => {
            if let Some(from) = &ct.as_select_from {
                let sources = existing_sources(ctx, from);
                if !sources.is_empty() {
                    copy(
                        ctx,
                        out,
                        true,
                        format!(
                            "`CREATE TABLE {} AS SELECT` in {phase} copies every row of {sources} in {copy_why}",
                            ct.name
                        ),
                    );
                }
            }
        }
        _ => {}
    }
}

/// A copy into a table no app uses yet (created by the statement or earlier in the file) on
/// PostgreSQL blocks no app query: the source is read from a snapshot and the target is new. It
/// is still one long transaction (WAL, replica lag, no resume): a warning. On MySQL the shared
/// locks on the source rows make it an error; so does a copy into a table the app writes.
fn copy(ctx: &StatementCtx, out: &mut Findings, new_target: bool, message: String) {
    if ctx.is_postgres() && new_target {
        out.items.push(crate::rules::Finding {
            message,
            severity: Some(Severity::Warning),
            help: None,
        });
    } else {
        out.report(message);
    }
}

/// The relations read that hold rows: existing tables and views, named for the message.
fn existing_sources(ctx: &StatementCtx, from: &[QualName]) -> String {
    from.iter()
        .filter(|t| reads_existing_rows(ctx, t))
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn reads_existing_rows(ctx: &StatementCtx, t: &QualName) -> bool {
    if ctx.is_new_table(t) {
        return false;
    }
    if ctx.schema.has_relation(t) {
        return true;
    }
    // Unknown to the model: a set-returning function (`FROM generate_series(1, 10)`) is
    // reported as a relation by the parser; anything else counts as an existing table.
    !called_as_function(ctx.text(), &t.name)
}

/// `name(` appears in the text as a whole word followed by an opening parenthesis.
fn called_as_function(text: &str, name: &str) -> bool {
    let lower = text.to_lowercase();
    let name = name.to_lowercase();
    if name.is_empty() {
        return false;
    }
    let bytes = lower.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&name) {
        let start = from + pos;
        let end = start + name.len();
        let before_ok = start == 0 || !is_word(bytes[start - 1]);
        let after_ok = end >= bytes.len() || !is_word(bytes[end]);
        if before_ok && after_ok && lower[end..].trim_start().starts_with('(') {
            return true;
        }
        from = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text, active boolean);\nCREATE TABLE archive (id bigint PRIMARY KEY, email text);";
    const ID: &str = "unbatched-data-change";

    #[test]
    fn a_copy_into_a_new_table_blocks_nothing_on_postgres_a_warning() {
        for sql in [
            "CREATE TABLE users_copy AS SELECT id, email FROM users;",
            "CREATE TABLE seen (id bigint PRIMARY KEY, email text);\nINSERT INTO seen SELECT id, email FROM users;",
        ] {
            let hits = expand_hits(SETUP, sql, ID);
            assert_eq!(hits.len(), 1, "{sql}: {hits:?}");
            assert!(!hits[0].is_error(), "{sql}: {hits:?}");
            assert!(hits[0].message.contains("not locked"), "{}", hits[0].message);
        }
        // Into a table the app writes: still an error.
        let hits = expand_hits(
            SETUP,
            "INSERT INTO archive SELECT id, email FROM users;",
            ID,
        );
        assert!(hits.len() == 1 && hits[0].is_error(), "{hits:?}");
        // InnoDB locks the source rows it reads: an error there.
        let hits = Case::mariadb(
            "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));",
            &[(
                Phase::Expand,
                "CREATE TABLE users_copy AS SELECT id, email FROM users;",
            )],
        )
        .hits(ID);
        assert!(hits.len() == 1 && hits[0].is_error(), "{hits:?}");
    }

    #[test]
    fn flags_update_and_delete_without_where() {
        let hits = expand_hits(
            SETUP,
            "UPDATE users SET active = true;\nDELETE FROM archive;",
            ID,
        );
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(
            hits[0]
                .message
                .contains("`UPDATE` of `users` without `WHERE`"),
            "{}",
            hits[0].message
        );
        assert!(
            hits[1].message.contains("`DELETE` from `archive`"),
            "{}",
            hits[1].message
        );
        assert!(hits[0].is_error());
    }

    #[test]
    fn flags_insert_select_and_create_table_as_from_existing_tables() {
        let sql = "INSERT INTO archive (id, email) SELECT id, email FROM users;\nCREATE TABLE copy AS SELECT * FROM users;";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(hits[0].message.contains("copies every row of `users`"));
        assert!(hits[1].message.contains("CREATE TABLE copy AS SELECT"));
    }

    #[test]
    fn flags_cte_forms() {
        let sql = "WITH src AS (SELECT id, email FROM users) INSERT INTO archive SELECT * FROM src;\nWITH x AS (SELECT 1) UPDATE users SET active = false;";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(hits[0].message.contains("`users`") && !hits[0].message.contains("`src`"));
    }

    #[test]
    fn safe_variants_are_quiet() {
        let sql = "UPDATE users SET active = true WHERE id = 1;\nDELETE FROM archive WHERE id < 10;\nINSERT INTO archive (id, email) VALUES (1, 'a');\nINSERT INTO archive (id) SELECT g FROM generate_series(1, 10) g;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn backfill_is_exempt() {
        let hits = Case::pg(
            SETUP,
            &[(Phase::Backfill, "UPDATE users SET active = true;")],
        )
        .hits(ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn contract_and_down_are_checked() {
        for phase in [Phase::Contract, Phase::Down] {
            let hits = Case::pg(SETUP, &[(phase, "DELETE FROM archive;")]).hits(ID);
            assert_eq!(hits.len(), 1, "{phase:?}");
            assert!(hits[0].message.contains(phase.file_name()));
        }
    }

    #[test]
    fn tables_created_in_the_same_file_are_exempt() {
        let sql = "CREATE TABLE t (id int, v int);\nUPDATE t SET v = 1;\nDELETE FROM t;\nINSERT INTO archive (id) SELECT id FROM t;\nCREATE TABLE t2 AS SELECT * FROM t;";
        let hits = expand_hits(SETUP, sql, ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn table_created_in_expand_is_not_new_by_contract() {
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (id int, v int);"),
                (Phase::Contract, "UPDATE t SET v = 1;"),
            ],
        )
        .hits(ID);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn mysql_too() {
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, active tinyint);",
            &[(Phase::Expand, "UPDATE users SET active = 1;")],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(unbatched-data-change): 40 rows, a lookup table\nUPDATE archive SET email = NULL;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn copies_say_the_source_is_read_not_locked_on_postgres_and_locked_on_innodb() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, name text);\nCREATE TABLE archive (id bigint PRIMARY KEY, name text);";
        let sql = "INSERT INTO archive SELECT id, name FROM users;\nCREATE TABLE users_copy AS SELECT id, name FROM users;";
        let pg = Case::pg(setup, &[(Phase::Expand, sql)]).hits(ID);
        assert_eq!(pg.len(), 2, "{pg:?}");
        for h in &pg {
            assert!(
                h.message.contains("read from a snapshot, not locked")
                    && !h.message.contains("row locks on every row"),
                "{}",
                h.message
            );
        }
        let my = Case::mysql(setup, &[(Phase::Expand, sql)]).hits(ID);
        assert_eq!(my.len(), 2, "{my:?}");
        assert!(
            my[0].message.contains("shared locks on every source row"),
            "{}",
            my[0].message
        );
        // Diesel: the real file name.
        let mut case = Case::pg(setup, &[(Phase::Expand, "UPDATE users SET name = '';")]);
        case.diesel = true;
        let h = case.hits(ID);
        assert!(h[0].message.contains("in up.sql"), "{}", h[0].message);
    }

    #[test]
    fn fix_moves_a_whole_table_update_to_backfill_and_leaves_a_copy() {
        let expand = "ALTER TABLE users ADD COLUMN email_lower text;\nUPDATE users SET email_lower = lower(email);\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, expand)]).fixed();
        assert_eq!(
            files,
            [
                (Phase::Expand, "ALTER TABLE users ADD COLUMN email_lower text;\n".to_string()),
                (Phase::Backfill, "-- backfill: written by `cargo xtask migrate fix`\nUPDATE users SET email_lower = lower(email);\n".to_string()),
            ]
        );
        assert!(left.is_empty(), "{left:?}");
        let copy = "INSERT INTO archive SELECT id, email FROM users;";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, copy)]).fixed();
        assert_eq!(files, [(Phase::Expand, copy.to_string())]);
        let (_, why) = left.iter().find(|(r, _)| r == ID).expect("listed");
        assert!(why.contains("batches only"), "{why}");
    }

    #[test]
    fn fix_keeps_an_update_whose_source_moves_after_it() {
        // The DELETE moves to backfill (still after the UPDATE); the UPDATE reads `archive`,
        // which backfill.sql then changes: moved after it, it would read no rows.
        let expand = "UPDATE users SET email = a.email FROM archive a WHERE a.id = users.id;\nDELETE FROM archive;\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, expand)]).fixed();
        assert_eq!(
            files,
            [
                (
                    Phase::Expand,
                    "UPDATE users SET email = a.email FROM archive a WHERE a.id = users.id;\n"
                        .to_string()
                ),
                (
                    Phase::Backfill,
                    "-- backfill: written by `cargo xtask migrate fix`\nDELETE FROM archive;\n"
                        .to_string()
                ),
            ]
        );
        assert!(
            left.iter()
                .any(|(r, why)| r == "data-change-outside-backfill"
                    && why.contains("backfill.sql already names")
                    && why.contains("archive")),
            "{left:?}"
        );
    }
}
