//! `add-column-inline-constraint`: `ADD COLUMN … UNIQUE` / `PRIMARY KEY` / `CHECK (…)` in one
//! statement builds the index or checks every row under ACCESS EXCLUSIVE. Measured on
//! PostgreSQL 15, 3M rows: `ADD COLUMN i int CHECK (i > 0)` 122 ms against 1 ms for the bare
//! column (the CHECK scans even though the new column is all NULL); `… UNIQUE` 645 ms. An
//! inline `REFERENCES` is `add-foreign-key-validating`'s (not scanned without a default).
//!
//! Fix: the column bare, then each `UNIQUE` or `CHECK (…)` as an `ALTER TABLE … ADD
//! CONSTRAINT` of its own, named as PostgreSQL names the inline one; the next round of fixes
//! turns those into their recipes (`add-unique-constraint-building-index`,
//! `add-check-validating`).

use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::fix::sqltext::{ident, qualified, tokens, Token, COLUMN_CLAUSES};
use crate::fix::{Fix, NoFix};
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-inline-constraint",
    severity: Severity::Error,
    summary: "`ADD COLUMN … UNIQUE` / `PRIMARY KEY` / `CHECK (…)` in one statement",
    help: "add the bare column; then `CREATE UNIQUE INDEX CONCURRENTLY` + `ADD CONSTRAINT … UNIQUE USING INDEX` (see `add-unique-constraint-building-index`), or `ADD CONSTRAINT … CHECK (…) NOT VALID` + `VALIDATE CONSTRAINT` (see `add-check-validating`)",
    check,
    fix: Some(fix),
};

fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    let [AlterOp::AddColumn { column, .. }] = ops else {
        return Err(NoFix::because("the statement has other actions: split it (one action per `ALTER TABLE`) and run fix again"));
    };
    let mut kinds = Vec::new();
    for c in &column.constraints {
        match &c.kind {
            ConstraintKind::Unique { .. } => kinds.push("UNIQUE"),
            ConstraintKind::Check { .. } => kinds.push("CHECK"),
            ConstraintKind::PrimaryKey { .. } => return Err(NoFix::because("a new column as the primary key: the key would be dropped and rebuilt, a decision made by hand")),
            _ => return Err(NoFix::because("the column has a `REFERENCES` too: write it as its own `ADD CONSTRAINT` and run fix again")),
        }
    }
    if ctx.in_transaction() {
        return Err(NoFix::because("it is inside `BEGIN … COMMIT`: the recipe builds the index CONCURRENTLY, which cannot run there"));
    }
    let text = ctx.text();
    let toks = tokens(text)
        .ok_or_else(|| NoFix::because("the statement's text could not be read token by token"))?;
    let clauses = constraint_clauses(text, &toks)?;
    if clauses.len() != kinds.len() {
        return Err(NoFix::because(
            "the column's constraints could not be told apart as written: split them by hand",
        ));
    }
    // The names PostgreSQL gives them: the model applies the statement as the server would.
    let mut after = ctx.schema.clone();
    after.apply(ctx.change);
    let before = ctx
        .schema
        .table(table)
        .map(|t| t.constraints.clone())
        .unwrap_or_default();
    let added: Vec<_> = after
        .table(table)
        .map(|t| {
            t.constraints
                .iter()
                .filter(|c| !before.contains(c))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let d = ctx.dialect;
    let (name, col) = (qualified(table, d), ident(&column.name, d));
    let mut rewritten = String::new();
    let mut kept = 0;
    let mut extra = String::new();
    let mut used: Vec<&str> = Vec::new();
    for (clause, kind) in clauses.iter().zip(&kinds) {
        rewritten.push_str(&text[kept..clause.remove_from]);
        kept = clause.end;
        let wanted = |c: &&crate::model::Constraint| match (&c.kind, *kind) {
            (ConstraintKind::Unique { columns, .. }, "UNIQUE") => {
                columns == std::slice::from_ref(&column.name)
            }
            (ConstraintKind::Check { .. }, "CHECK") => {
                clause.name.as_deref().is_none_or(|n| n == c.name)
            }
            _ => false,
        };
        let Some(constraint) = added
            .iter()
            .filter(|c| !used.contains(&c.name.as_str()))
            .find(wanted)
        else {
            return Err(NoFix::because(
                "the model does not name the constraint: write it out by hand",
            ));
        };
        used.push(&constraint.name);
        let body = match *kind {
            "UNIQUE" => format!("UNIQUE ({col})"),
            _ => text[clause.body_start..clause.end].to_string(),
        };
        extra.push_str(&format!(
            ";\nALTER TABLE {name} ADD CONSTRAINT {} {body}",
            ident(&constraint.name, d)
        ));
    }
    let last = toks.last().map_or(text.len(), |t| t.end);
    rewritten.push_str(&text[kept..last]);
    rewritten.push_str(&extra);
    let start = ctx.statement.start;
    Ok(Fix::replace(start, start + last, rewritten))
}

/// One inline constraint of the column definition, as written.
struct Clause {
    /// Where removing it starts: the end of the token before it (its leading space goes too).
    remove_from: usize,
    /// Where `UNIQUE` or `CHECK` starts (after any `CONSTRAINT name`).
    body_start: usize,
    end: usize,
    name: Option<String>,
}

/// The `[CONSTRAINT n] UNIQUE` and `[CONSTRAINT n] CHECK (…)` clauses of an `ADD COLUMN`, in
/// order; an option on them (`DEFERRABLE`, `NO INHERIT`, `NULLS …`, `WITH`, `USING INDEX …`,
/// `INCLUDE`) is written by hand.
fn constraint_clauses(text: &str, toks: &[Token]) -> Result<Vec<Clause>, NoFix> {
    let by_hand = || {
        NoFix::because("a constraint of the column has options (`DEFERRABLE`, `NO INHERIT`, `NULLS …`, `WITH`, `USING INDEX`, `INCLUDE`): split it by hand")
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let starts = t.depth == 0
            && (t.is(text, "CONSTRAINT") || t.is(text, "UNIQUE") || t.is(text, "CHECK"));
        if !starts {
            i += 1;
            continue;
        }
        let remove_from = if i == 0 { t.start } else { toks[i - 1].end };
        let mut name = None;
        let mut j = i;
        if t.is(text, "CONSTRAINT") {
            let n = toks.get(i + 1).ok_or_else(by_hand)?;
            let raw = &text[n.start..n.end];
            name = Some(raw.trim_matches('"').to_string());
            j = i + 2;
        }
        let body = toks.get(j).ok_or_else(by_hand)?;
        let mut end_at = j + 1;
        if body.is(text, "CHECK") {
            // The parenthesised expression: up to the `)` back at depth 0.
            let open = toks
                .get(j + 1)
                .filter(|o| &text[o.start..o.end] == "(")
                .ok_or_else(by_hand)?;
            let close = toks[j + 2..]
                .iter()
                .position(|c| c.depth == open.depth && &text[c.start..c.end] == ")")
                .ok_or_else(by_hand)?;
            end_at = j + 2 + close + 1;
        } else if !body.is(text, "UNIQUE") {
            // `CONSTRAINT n PRIMARY KEY`, `CONSTRAINT n REFERENCES …`: not this fix's.
            return Err(by_hand());
        }
        if let Some(next) = toks.get(end_at) {
            let ends = next.depth == 0
                && (COLUMN_CLAUSES.iter().any(|w| next.is(text, w))
                    || &text[next.start..next.end] == ";");
            if !ends {
                return Err(by_hand());
            }
        }
        out.push(Clause {
            remove_from,
            body_start: body.start,
            end: toks[end_at - 1].end,
            name,
        });
        i = end_at;
    }
    Ok(out)
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let AlterOp::AddColumn { column, .. } = op else {
            continue;
        };
        for c in &column.constraints {
            let (clause, what) = match &c.kind {
                ConstraintKind::Unique { .. } => ("UNIQUE", "builds its unique index"),
                ConstraintKind::PrimaryKey { .. } => ("PRIMARY KEY", "builds its unique index"),
                ConstraintKind::Check { .. } => ("CHECK (…)", "checks every existing row"),
                _ => continue,
            };
            out.report(format!(
                "`ADD COLUMN {} … {clause}` on `{table}` {what} under ACCESS EXCLUSIVE: reads and writes of `{table}` wait for the whole build",
                column.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str =
        "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE orgs (id bigint PRIMARY KEY);\nCREATE TABLE logs (at timestamptz);";
    const RULE: &str = "add-column-inline-constraint";

    #[test]
    fn flags_unique_primary_key_and_check_inline() {
        for (sql, clause) in [
            ("ALTER TABLE users ADD COLUMN email text UNIQUE;", "UNIQUE"),
            (
                "ALTER TABLE users ADD COLUMN age int CHECK (age > 0);",
                "CHECK",
            ),
            (
                "ALTER TABLE logs ADD COLUMN id bigint PRIMARY KEY;",
                "PRIMARY KEY",
            ),
        ] {
            let hits = expand_hits(SETUP, sql, RULE);
            assert_eq!(hits.len(), 1, "{sql}");
            assert!(
                hits[0].message.contains(clause) && hits[0].message.contains("ACCESS EXCLUSIVE"),
                "{}",
                hits[0].message
            );
        }
    }

    #[test]
    fn one_finding_per_constraint() {
        let sql = "ALTER TABLE users ADD COLUMN email text UNIQUE CHECK (email <> '');";
        assert_eq!(expand_hits(SETUP, sql, RULE).len(), 2);
    }

    #[test]
    fn bare_columns_and_references_are_fine() {
        assert!(expand_hits(SETUP, "ALTER TABLE users ADD COLUMN email text;", RULE).is_empty());
        assert!(expand_hits(
            SETUP,
            "ALTER TABLE users ADD COLUMN org_id bigint REFERENCES orgs (id);",
            RULE
        )
        .is_empty());
        assert!(expand_hits(
            SETUP,
            "ALTER TABLE users ADD COLUMN n int NOT NULL DEFAULT 0;",
            RULE
        )
        .is_empty());
    }

    #[test]
    fn new_table_is_exempt_but_not_by_contract() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int UNIQUE;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
        let hits = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE t (a int);"),
                (Phase::Contract, "ALTER TABLE t ADD COLUMN b int UNIQUE;"),
            ],
        )
        .hits(RULE);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn fix_adds_the_bare_column_and_each_constraint_through_its_recipe() {
        let sql = "ALTER TABLE users ADD COLUMN email text UNIQUE NOT NULL CHECK (email <> '') DEFAULT 'x';\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files[0],
            (
                Phase::Expand,
                "ALTER TABLE users ADD COLUMN email text NOT NULL DEFAULT 'x';\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\nALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;\nALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '') NOT VALID;\n".to_string()
            )
        );
        assert_eq!(
            files[1],
            (
                Phase::Contract,
                "-- contract: written by `cargo xtask migrate fix`\nALTER TABLE users VALIDATE CONSTRAINT users_email_check;\n".to_string()
            )
        );
        assert!(left.iter().all(|(r, _)| r != RULE), "{left:?}");
        // A named one keeps its name; options stay for a hand.
        let sql = "ALTER TABLE users ADD COLUMN age int CONSTRAINT adult CHECK (age >= 18);";
        let (files, _) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert!(
            files[0]
                .1
                .contains("ADD CONSTRAINT adult CHECK (age >= 18) NOT VALID;"),
            "{}",
            files[0].1
        );
        for (sql, why) in [
            (
                "ALTER TABLE users ADD COLUMN a int UNIQUE DEFERRABLE;",
                "options",
            ),
            (
                "ALTER TABLE logs ADD COLUMN id bigint PRIMARY KEY;",
                "primary key",
            ),
            (
                "ALTER TABLE users ADD COLUMN o bigint UNIQUE REFERENCES orgs (id);",
                "REFERENCES",
            ),
        ] {
            let (files, left) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
            assert_eq!(files, [(Phase::Expand, sql.to_string())], "{sql}");
            let (_, reason) = left.iter().find(|(r, _)| r == RULE).expect("listed");
            assert!(reason.contains(why), "{sql}: {reason}");
        }
    }
}
