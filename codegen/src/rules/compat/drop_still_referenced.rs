//! `drop-still-referenced`: contract (or down) drops a column, table or view that an object
//! still in the model uses, or drops anything with `CASCADE`.
//!
//! "Still in the model" is the schema just before the statement, so dropping the dependent
//! object first, by name, in the same file silences the rule. Dependents found:
//! - of a table or view: views reading it; foreign keys of other tables referencing it;
//!   functions whose body names it (word match);
//! - of a column `t.c`: views whose query reads `t.c`, placed by scope through subqueries,
//!   `EXISTS` and CTEs, or selects `*` from `t` into its result (word match when the query
//!   could not be analysed);
//!   foreign keys of other tables referencing `t(c)` (or `t`'s primary key when `c` is in it);
//!   generated columns of `t` computed from `c`; indexes of `t` whose expression or predicate
//!   uses `c`, or that cover `c` with other columns, and constraints over `c` with other
//!   columns (dropped with it silently); triggers on `t` whose function body uses `NEW.c` /
//!   `OLD.c`; functions whose body names both `t` and `c`.
//!
//! A column whose only dependents are its own table's indexes and constraints is a warning:
//! the drop succeeds and takes them along (PostgreSQL drops each; InnoDB narrows an index to
//! its other columns). Except where PostgreSQL drops a multi-column index whole (queries on its
//! other columns lose it: an error), and a MySQL/MariaDB `CHECK` over other columns too: measured on
//! MariaDB 10.11, the server refuses the drop (`ERROR 1054 Unknown column 'a' in 'CHECK'`),
//! so that one is an error like a view or a foreign key of another table.
//!
//! Function bodies and view queries are matched by words, so a same-named column of another
//! table may cause a false positive: `allow` it with that reason. Checked in contract and down
//! (a rollback that fails halfway is worse than one that is refused in review).

use crate::change::{AlterOp, Change, ConstraintKind, ObjectKind, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::model::Schema;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "drop-still-referenced",
    severity: Severity::Error,
    summary: "contract drops a column or table that an object of `S(N)` still uses (view, function body, trigger, generated column, index expression, foreign key), or drops with `CASCADE`",
    help: "first drop or rewrite each dependent object by name earlier in the same file (`DROP VIEW v`, `CREATE OR REPLACE FUNCTION …`, `ALTER TABLE t DROP CONSTRAINT fk`), then drop without `CASCADE`",
    check,
    fix: None,
};

/// `word` occurs in `text` as a whole identifier, case-insensitively.
pub(crate) fn mentions(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let text = text.to_lowercase();
    let word = word.to_lowercase();
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    let mut from = 0;
    while let Some(pos) = text[from..].find(&word) {
        let start = from + pos;
        let end = start + word.len();
        if (start == 0 || !is_ident(bytes[start - 1]))
            && (end >= bytes.len() || !is_ident(bytes[end]))
        {
            return true;
        }
        from = end;
    }
    false
}

/// The query selects `*` or `t.*` (PostgreSQL expands it into every column at creation).
fn selects_star(query: &str) -> bool {
    let q = query.to_lowercase();
    q.contains("select *") || q.contains(".*") || q.contains(", *") || q.contains("distinct *")
}

/// Objects that use a table or view.
fn relation_dependents(schema: &Schema, rel: &QualName) -> Vec<String> {
    let mut out = Vec::new();
    for v in schema.views.values() {
        if &v.name != rel && v.reads.contains(rel) {
            out.push(format!("view `{}`", v.name));
        }
    }
    for t in schema.tables.values() {
        if &t.name == rel {
            continue;
        }
        for c in &t.constraints {
            if let ConstraintKind::ForeignKey { ref_table, .. } = &c.kind {
                if ref_table == rel {
                    out.push(format!("foreign key `{}` of `{}`", c.name, t.name));
                }
            }
        }
    }
    for f in schema.functions.values() {
        if mentions(&f.body, &rel.name) {
            out.push(format!(
                "function `{}` (its body names `{}`)",
                f.name, rel.name
            ));
        }
    }
    out
}

/// What uses column `c` of table `t`: objects that make the drop fail or that break
/// (`blocking`), and the table's own indexes and constraints the server drops or narrows with
/// the column (`with_it`).
#[derive(Debug, Default)]
struct ColumnDependents {
    blocking: Vec<String>,
    with_it: Vec<String>,
    /// PostgreSQL drops a multi-column index whole: queries on its other columns lose it.
    drops_index_of_others: bool,
}

/// Objects that use column `c` of table `t`.
fn column_dependents(schema: &Schema, t: &QualName, c: &str) -> ColumnDependents {
    let mut deps = ColumnDependents::default();
    let out = &mut deps.blocking;
    for v in schema.views.values() {
        // The analysed query when there is one; word matches otherwise.
        let reads = schema.view_reads_column(v, t, c).unwrap_or_else(|| {
            v.reads.contains(t) && (mentions(&v.query, c) || selects_star(&v.query))
        });
        if reads {
            out.push(format!("view `{}`", v.name));
        }
    }
    let table = schema.table(t);
    let pk: Vec<String> = table
        .and_then(|tb| tb.primary_key())
        .map(|p| p.to_vec())
        .unwrap_or_default();
    for other in schema.tables.values() {
        for con in &other.constraints {
            if let ConstraintKind::ForeignKey {
                ref_table,
                ref_columns,
                ..
            } = &con.kind
            {
                let hits = ref_table == t
                    && (ref_columns.iter().any(|r| r == c)
                        || (ref_columns.is_empty() && pk.iter().any(|p| p == c)));
                if hits && !(&other.name == t && con.kind.columns().iter().any(|x| x == c)) {
                    out.push(format!("foreign key `{}` of `{}`", con.name, other.name));
                }
            }
        }
    }
    if let Some(tb) = table {
        for col in &tb.columns {
            if col.name != c
                && col.generated.as_ref().is_some_and(|g| {
                    g.expr.columns.iter().any(|x| x == c) || mentions(&g.expr.text, c)
                })
            {
                out.push(format!("generated column `{}`", col.name));
            }
        }
        for con in &tb.constraints {
            let cols = con.kind.columns();
            if !(cols.iter().any(|x| x == c) && cols.iter().any(|x| x != c)) {
                continue;
            }
            let check = matches!(con.kind, ConstraintKind::Check { .. });
            if schema.drop_column_narrows_keys() && check {
                // Measured on MariaDB 10.11: `ERROR 1054 Unknown column 'a' in 'CHECK'`.
                out.push(format!(
                    "check constraint `{}` (also over other columns: the server refuses the drop)",
                    con.name
                ));
            } else if schema.drop_column_narrows_keys() {
                deps.with_it.push(format!(
                    "{} constraint `{}` (narrowed to its other columns)",
                    con.kind.label(),
                    con.name
                ));
            } else {
                deps.with_it.push(format!(
                    "{} constraint `{}` (also over other columns, dropped with it)",
                    con.kind.label(),
                    con.name
                ));
            }
        }
    }
    for i in schema.indexes_of(t) {
        // Backed constraints were listed above.
        if table.is_some_and(|tb| tb.constraint(&i.name.name).is_some()) {
            continue;
        }
        let in_expr = i
            .expressions
            .iter()
            .chain(i.predicate.iter())
            .any(|e| e.columns.iter().any(|x| x == c) || mentions(&e.text, c));
        let multi = i.columns.iter().any(|x| x == c) && i.columns.iter().any(|x| x != c);
        if in_expr && schema.drop_column_narrows_keys() {
            out.push(format!("index `{}` (an expression over it)", i.name));
        } else if multi && !in_expr && !schema.drop_column_narrows_keys() {
            deps.drops_index_of_others = true;
            deps.with_it.push(format!(
                "index `{}` (dropped whole, though it also serves its other columns)",
                i.name
            ));
        } else if in_expr {
            deps.with_it
                .push(format!("index `{}` (dropped with it)", i.name));
        } else if multi {
            // Measured on MariaDB 10.11: `KEY (b, c)` becomes `KEY (b)`.
            deps.with_it.push(format!(
                "index `{}` (narrowed to its other columns)",
                i.name
            ));
        }
    }
    let triggers: Vec<&str> = schema
        .triggers
        .iter()
        .filter(|tr| &tr.table == t)
        .map(|tr| tr.name.as_str())
        .collect();
    for f in schema.functions.values() {
        let row_ref =
            mentions(&f.body, &format!("new.{c}")) || mentions(&f.body, &format!("old.{c}"));
        if !triggers.is_empty() && row_ref {
            out.push(format!(
                "trigger {} on `{t}` (function `{}` uses `NEW.{c}`/`OLD.{c}`)",
                triggers
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                f.name
            ));
        } else if mentions(&f.body, &t.name) && mentions(&f.body, c) {
            out.push(format!(
                "function `{}` (its body names `{t}` and `{c}`)",
                f.name
            ));
        }
    }
    deps
}

/// The recipe, in the file's own terms: a down migration undoes what up/expand created.
fn help(ctx: &StatementCtx) -> String {
    let file = ctx.file_name();
    if ctx.phase == Phase::Down {
        format!("a down migration undoes what its expand (up) created: earlier in the same {file}, drop or rewrite by name each dependent object (the ones expand created first, in reverse order), then drop without `CASCADE`")
    } else {
        format!("first drop or rewrite each dependent object by name earlier in the same {file} (`DROP VIEW v`, `CREATE OR REPLACE FUNCTION …`, `ALTER TABLE t DROP CONSTRAINT fk`), then drop without `CASCADE`")
    }
}

fn report(ctx: &StatementCtx, out: &mut Findings, verb: String, cascade: bool, deps: Vec<String>) {
    let phase = ctx.file_name();
    let list = deps.join(", ");
    let before = out.items.len();
    match (cascade, deps.is_empty()) {
        (true, true) => out.report(format!(
            "{verb} in {phase} uses `CASCADE`: it silently drops every object that depends on it (views, foreign keys of other tables, …), including ones an app still uses"
        )),
        (true, false) => out.report(format!(
            "{verb} in {phase} uses `CASCADE`, which silently drops what still uses it: {list}"
        )),
        (false, false) => out.report(format!(
            "{verb} in {phase} is still referenced by {list}: the drop fails, or the server removes or breaks them with it"
        )),
        (false, true) => {}
    }
    for f in &mut out.items[before..] {
        f.help = Some(help(ctx));
    }
}

/// A column whose only dependents are its table's own indexes and constraints: the drop
/// succeeds and takes them along (PostgreSQL drops each; InnoDB narrows an index to its other
/// columns). Worth a warning, not "the drop fails" — except where PostgreSQL drops a
/// multi-column index whole (`others`): the queries on its other columns lose their index
/// without anyone having asked for that, an error.
fn report_with_it(
    ctx: &StatementCtx,
    out: &mut Findings,
    verb: String,
    with_it: &[String],
    others: bool,
) {
    if with_it.is_empty() {
        return;
    }
    let phase = ctx.file_name();
    let list = with_it.join(", ");
    let how = if ctx.is_postgres() {
        "PostgreSQL drops every index and constraint over a dropped column"
    } else {
        "InnoDB takes the column out of each index; a unique index over the remaining columns may then reject duplicates and fail the drop"
    };
    out.items.push(crate::rules::Finding {
        message: format!("{verb} in {phase} also takes {list} with it ({how}): check that no app relies on them"),
        severity: Some(if others {
            Severity::Error
        } else {
            Severity::Warning
        }),
        help: Some(format!("if an app still needs what they enforce or speed up, create the replacement (e.g. `CREATE INDEX CONCURRENTLY` over the remaining columns) in an earlier migration's expand, before this {phase}")),
    });
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if !matches!(ctx.phase, Phase::Contract | Phase::Down) {
        return;
    }
    match ctx.change {
        Change::AlterTable { table, ops, .. } => {
            if ctx.is_new_table(table) {
                return;
            }
            for op in ops {
                match op {
                    AlterOp::DropColumn { name, cascade, .. } => {
                        let deps = column_dependents(ctx.schema, table, name);
                        let verb = format!("`DROP COLUMN {name}` on `{table}`");
                        if deps.blocking.is_empty() && !cascade {
                            report_with_it(
                                ctx,
                                out,
                                verb,
                                &deps.with_it,
                                deps.drops_index_of_others,
                            );
                        } else {
                            let mut all = deps.blocking;
                            all.extend(deps.with_it);
                            report(ctx, out, verb, *cascade, all);
                        }
                    }
                    AlterOp::DropConstraint {
                        name,
                        cascade: true,
                        ..
                    } => report(
                        ctx,
                        out,
                        format!("`DROP CONSTRAINT {name}` on `{table}`"),
                        true,
                        Vec::new(),
                    ),
                    AlterOp::RenameTable { .. } => break,
                    _ => {}
                }
            }
        }
        Change::DropObjects {
            kind,
            names,
            cascade,
            ..
        } => {
            let relation = matches!(
                kind,
                ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView
            );
            let dropped: Vec<&QualName> = names.iter().filter(|n| !ctx.is_new_table(n)).collect();
            for name in &dropped {
                let deps: Vec<String> = if relation {
                    relation_dependents(ctx.schema, name)
                        .into_iter()
                        // Objects dropped by the same statement are not left behind.
                        .filter(|d| !names.iter().any(|n| d.starts_with(&format!("view `{n}`"))))
                        .collect()
                } else {
                    Vec::new()
                };
                let what = match kind {
                    ObjectKind::Table => "TABLE",
                    ObjectKind::View => "VIEW",
                    ObjectKind::MaterializedView => "MATERIALIZED VIEW",
                    ObjectKind::Index => "INDEX",
                    ObjectKind::Sequence => "SEQUENCE",
                    ObjectKind::Type => "TYPE",
                    ObjectKind::Domain => "DOMAIN",
                    ObjectKind::Function => "FUNCTION",
                    ObjectKind::Schema => "SCHEMA",
                    ObjectKind::Other => "",
                };
                report(
                    ctx,
                    out,
                    format!("`DROP {what} {name}`").replace("DROP  ", "DROP "),
                    *cascade,
                    deps,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::mentions;
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text, first text, last text, full_name text GENERATED ALWAYS AS (first || ' ' || last) STORED);\nCREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id), note text);\nCREATE TABLE audit (id bigint PRIMARY KEY, what text);";
    const ID: &str = "drop-still-referenced";

    fn contract(setup: &str, sql: &str) -> Vec<crate::diag::Diagnostic> {
        Case::pg(setup, &[(Phase::Contract, sql)]).hits(ID)
    }

    #[test]
    fn word_matching() {
        assert!(mentions("SELECT u.email FROM users u", "email"));
        assert!(!mentions("SELECT u.email_verified FROM users u", "email"));
        assert!(mentions("new.Email := lower(NEW.email)", "EMAIL"));
    }

    #[test]
    fn table_referenced_by_a_foreign_key_or_view() {
        let setup = format!("{SETUP}\nCREATE VIEW user_emails AS SELECT id, email FROM users;");
        let hits = contract(&setup, "DROP TABLE users;");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].is_error());
        let m = &hits[0].message;
        assert!(
            m.contains("view `user_emails`")
                && m.contains("foreign key `orders_user_id_fkey` of `orders`"),
            "{m}"
        );
    }

    #[test]
    fn column_used_by_a_view_a_generated_column_or_an_index_expression() {
        let setup = format!("{SETUP}\nCREATE VIEW v AS SELECT id, email FROM users;\nCREATE INDEX users_lower_email ON users (lower(email));\nCREATE INDEX users_name ON users (last, first);");
        let hits = contract(&setup, "ALTER TABLE users DROP COLUMN email;");
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("view `v`")
                && hits[0].message.contains("index `users_lower_email`"),
            "{}",
            hits[0].message
        );
        let hits = contract(&setup, "ALTER TABLE users DROP COLUMN first;");
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("generated column `full_name`")
                && hits[0].message.contains("index `users_name`"),
            "{}",
            hits[0].message
        );
        assert!(!hits[0].message.contains("view `v`"), "{}", hits[0].message);
    }

    #[test]
    fn column_referenced_by_another_tables_foreign_key() {
        let hits = contract(SETUP, "ALTER TABLE users DROP COLUMN id;");
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0]
                .message
                .contains("foreign key `orders_user_id_fkey` of `orders`"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn functions_and_triggers() {
        let setup = format!("{SETUP}\nCREATE FUNCTION note_email() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (what) VALUES (NEW.email); RETURN NEW; END $$;\nCREATE TRIGGER users_note AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION note_email();\nCREATE FUNCTION count_audit() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM audit $$;");
        let hits = contract(&setup, "ALTER TABLE users DROP COLUMN email;");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains("trigger `users_note`"),
            "{}",
            hits[0].message
        );
        let hits = contract(&setup, "DROP TABLE audit;");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains("function `count_audit`")
                && hits[0].message.contains("function `note_email`"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn dropping_dependents_first_is_fine() {
        let setup = format!("{SETUP}\nCREATE VIEW v AS SELECT id, email FROM users;");
        let hits = contract(&setup, "DROP VIEW v;\nALTER TABLE users DROP COLUMN email;\nALTER TABLE orders DROP COLUMN note;\nDROP TABLE audit;");
        assert!(hits.is_empty(), "{hits:?}");
        // Dropping a view with the table it reads, in one statement.
        let hits = contract(&setup, "DROP VIEW v;\nALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey;\nDROP TABLE users;");
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn cascade_is_always_reported() {
        let hits = contract(SETUP, "DROP TABLE audit CASCADE;\nALTER TABLE orders DROP COLUMN note CASCADE;\nALTER TABLE users DROP COLUMN id CASCADE;");
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert!(hits[0].message.contains("CASCADE"));
        assert!(
            hits[2].message.contains("orders_user_id_fkey"),
            "{}",
            hits[2].message
        );
    }

    #[test]
    fn down_is_checked_expand_is_not() {
        let hits = Case::pg(SETUP, &[(Phase::Down, "DROP TABLE users;")]).hits(ID);
        assert_eq!(hits.len(), 1);
        let hits = Case::pg(SETUP, &[(Phase::Expand, "DROP TABLE users CASCADE;")]).hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn tables_created_in_the_same_file_are_exempt() {
        let hits = contract(SETUP, "CREATE TABLE t (id int PRIMARY KEY);\nCREATE VIEW tv AS SELECT id FROM t;\nDROP TABLE t CASCADE;");
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(drop-still-referenced): the FK goes with the table on purpose\nDROP TABLE users CASCADE;";
        let all = Case::pg(SETUP, &[(Phase::Contract, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn own_indexes_and_constraints_go_with_the_column() {
        // PostgreSQL drops them with the column: a warning naming them, not "the drop fails".
        let setup = format!("{SETUP}\nCREATE INDEX users_name ON users (last, first);\nALTER TABLE users ADD CONSTRAINT names_differ CHECK (first <> last);\nCREATE INDEX orders_note ON orders (lower(note));");
        let hits = contract(
            &setup,
            "ALTER TABLE users DROP COLUMN full_name;\nALTER TABLE users DROP COLUMN last;",
        );
        // The generated column that read `last` went first. `users_name (last, first)` is
        // dropped whole: queries on `first` lose their index, an error.
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].is_error(), "{hits:?}");
        assert!(
            hits[0].message.contains("also serves its other columns"),
            "{hits:?}"
        );
        assert!(
            hits[0].message.contains("index `users_name`")
                && hits[0].message.contains("check constraint `names_differ`")
                && !hits[0].message.contains("the drop fails"),
            "{}",
            hits[0].message
        );
        let hits = contract(&setup, "ALTER TABLE orders DROP COLUMN note;");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(!hits[0].is_error(), "{hits:?}");
        let m = &hits[0].message;
        assert!(
            m.contains("index `orders_note`")
                && m.contains("PostgreSQL drops every index and constraint")
                && !m.contains("the drop fails"),
            "{m}"
        );
        let setup = "CREATE TABLE p (id bigint PRIMARY KEY, a int, b int, CONSTRAINT a_below_b CHECK (a < b));\nCREATE INDEX p_ab ON p (a, b);";
        let hits = contract(setup, "ALTER TABLE p DROP COLUMN a;");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].is_error(), "p_ab also serves b: {hits:?}");
        assert!(
            hits[0].message.contains("check constraint `a_below_b`")
                && hits[0].message.contains("index `p_ab`"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn mariadb_narrows_indexes_but_refuses_a_check_over_other_columns() {
        // Measured on MariaDB 10.11: `KEY (b, c)` loses `c`; `CHECK (a < b)` makes
        // `DROP COLUMN a` fail with error 1054.
        let setup = "CREATE TABLE p (id int PRIMARY KEY, a int, b int, c int, CONSTRAINT a_below_b CHECK (a < b), KEY p_bc (b, c));";
        let hits =
            Case::mariadb(setup, &[(Phase::Contract, "ALTER TABLE p DROP COLUMN c;")]).hits(ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(!hits[0].is_error());
        assert!(
            hits[0].message.contains("index `p_bc` (narrowed"),
            "{}",
            hits[0].message
        );
        let hits =
            Case::mariadb(setup, &[(Phase::Contract, "ALTER TABLE p DROP COLUMN a;")]).hits(ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].is_error());
        assert!(
            hits[0].message.contains("check constraint `a_below_b`")
                && hits[0].message.contains("the drop fails"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn help_names_the_file_the_drop_is_in() {
        let mut case = Case::pg(SETUP, &[(Phase::Down, "DROP TABLE users;")]);
        case.diesel = true;
        let hits = case.hits(ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains("in down.sql"),
            "{}",
            hits[0].message
        );
        assert!(
            hits[0].help.contains("down.sql") && !hits[0].help.contains("contract"),
            "{}",
            hits[0].help
        );
    }

    #[test]
    fn view_dependencies_are_placed_through_exists_subqueries_and_ctes() {
        let setup = format!("{SETUP}\nCREATE VIEW buyers AS SELECT u.id, u.email FROM users u WHERE EXISTS (SELECT * FROM orders o WHERE o.user_id = u.id);\nCREATE VIEW spend AS WITH s AS (SELECT user_id, count(*) AS n FROM orders GROUP BY user_id) SELECT users.id, s.n FROM users JOIN s ON s.user_id = users.id;");
        // Neither view reads orders.note: `EXISTS (SELECT * …)` returns no column.
        let hits = contract(&setup, "ALTER TABLE orders DROP COLUMN note;");
        assert!(hits.is_empty(), "{hits:?}");
        // Both read orders.user_id.
        let hits = contract(
            &setup,
            "ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey;\nALTER TABLE orders DROP COLUMN user_id;",
        );
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains("view `buyers`") && hits[0].message.contains("view `spend`"),
            "{}",
            hits[0].message
        );
        // users.last is read by neither.
        let hits = contract(
            &setup,
            "ALTER TABLE users DROP COLUMN full_name;\nALTER TABLE users DROP COLUMN last;",
        );
        assert!(hits.is_empty(), "{hits:?}");
    }
}
