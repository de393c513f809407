//! `add-unique-constraint-building-index`: `ADD CONSTRAINT … UNIQUE` / `PRIMARY KEY (cols)`
//! without `USING INDEX` builds the index under ACCESS EXCLUSIVE.

use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::fix::sqltext::{find_word, ident, qualified, tokens};
use crate::fix::{recipes, Edit, Fix, NoFix};
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-unique-constraint-building-index",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … UNIQUE` / `PRIMARY KEY (cols)` without `USING INDEX`",
    help: "`CREATE UNIQUE INDEX CONCURRENTLY i …`, then `ADD CONSTRAINT … UNIQUE USING INDEX i`; `PRIMARY KEY USING INDEX` needs the columns NOT NULL already (else a scan): prove it first",
    check,
    fix: Some(fix),
};

/// `ADD [CONSTRAINT c] UNIQUE (cols)` → `CREATE UNIQUE INDEX CONCURRENTLY c ON t (cols);` then
/// `ADD CONSTRAINT c UNIQUE USING INDEX c` (PostgreSQL names such an index after its
/// constraint anyway); `PRIMARY KEY` alike when its columns are NOT NULL already.
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    let [AlterOp::AddConstraint(spec)] = ops else {
        return Err(NoFix::because("the constraint shares its `ALTER TABLE` with other actions: split the statement (one action per `ALTER TABLE`) and run fix again"));
    };
    let (keyword, columns) = match &spec.kind {
        ConstraintKind::Unique { columns, .. } => ("UNIQUE", columns),
        ConstraintKind::PrimaryKey { columns, .. } => ("PRIMARY KEY", columns),
        _ => return Err(NoFix::because("not a UNIQUE or PRIMARY KEY constraint")),
    };
    if ctx.in_transaction() {
        return Err(NoFix::because(recipes::IN_TRANSACTION));
    }
    let nullable: Vec<&str> = columns
        .iter()
        .filter(|c| {
            ctx.schema
                .table(table)
                .and_then(|t| t.columns.iter().find(|col| &col.name == *c))
                .is_none_or(|col| col.nullable)
        })
        .map(String::as_str)
        .collect();
    if keyword == "PRIMARY KEY" && !nullable.is_empty() {
        return Err(NoFix::because(format!("`PRIMARY KEY USING INDEX` would set `{}` NOT NULL with a scan under ACCESS EXCLUSIVE: make the columns NOT NULL first (the `set-not-null-unproven` recipe), then run fix again", nullable.join("`, `"))));
    }
    let text = ctx.text();
    let unreadable = || NoFix::because("the statement's text could not be read token by token");
    let toks = tokens(text).ok_or_else(unreadable)?;
    let add = find_word(text, &toks, "ADD").ok_or_else(unreadable)?;
    let kind = find_word(text, &toks, keyword.split(' ').next().unwrap_or(keyword))
        .ok_or_else(unreadable)?;
    // The column list must follow the keyword and end the statement: options (`NULLS NOT
    // DISTINCT`, `INCLUDE`, `WITH`, `DEFERRABLE`, …) belong to a recipe written by hand.
    let open = kind + keyword.split(' ').count();
    let list_ends = toks.get(open).is_some_and(|t| &text[t.start..t.end] == "(")
        && toks
            .last()
            .is_some_and(|t| &text[t.start..t.end] == ")" && t.depth == 0)
        && toks[open + 1..toks.len() - 1].iter().all(|t| t.depth > 0);
    if !list_ends {
        return Err(NoFix::because("the constraint has options besides its column list (`NULLS NOT DISTINCT`, `INCLUDE`, `WITH`, `DEFERRABLE`, …): write its index by hand"));
    }
    let last = toks.last().ok_or_else(unreadable)?;
    let list = &text[toks[open].start..last.end];
    let name = ident(&ctx.schema.added_constraint_name(table, spec), ctx.dialect);
    let at = |i: usize| ctx.statement.start + i;
    Ok(Fix::replace(
        at(0),
        at(0),
        format!(
            "CREATE UNIQUE INDEX CONCURRENTLY {name} ON {} {list};\n",
            qualified(table, ctx.dialect)
        ),
    )
    .and(Edit::Replace {
        start: at(toks[add].end),
        end: at(last.end),
        text: format!(" CONSTRAINT {name} {keyword} USING INDEX {name}"),
    }))
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        let AlterOp::AddConstraint(spec) = op else {
            continue;
        };
        let (what, columns) = match &spec.kind {
            ConstraintKind::Unique {
                columns,
                using_index: None,
            } => ("UNIQUE", columns),
            ConstraintKind::PrimaryKey {
                columns,
                using_index: None,
            } => ("PRIMARY KEY", columns),
            _ => continue,
        };
        out.report(format!(
            "`ADD CONSTRAINT … {what} ({})` on `{table}` builds its index under ACCESS EXCLUSIVE: reads and writes wait for the whole build",
            columns.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint NOT NULL, email text);";
    const RULE: &str = "add-unique-constraint-building-index";

    #[test]
    fn flags_unique_and_primary_key_builds() {
        assert_eq!(
            expand_hits(
                SETUP,
                "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
                RULE
            )
            .len(),
            1
        );
        assert_eq!(
            expand_hits(SETUP, "ALTER TABLE users ADD PRIMARY KEY (id);", RULE).len(),
            1
        );
    }

    #[test]
    fn using_index_is_the_recipe() {
        let sql = "CREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users (email);\nALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    #[test]
    fn fix_builds_the_index_concurrently_and_adds_the_constraint_using_it() {
        let sql = "ALTER TABLE users ADD UNIQUE (email);\nALTER TABLE users ADD CONSTRAINT users_pk PRIMARY KEY (id);\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Contract, sql)]).fixed();
        assert_eq!(
            files,
            [(Phase::Contract, "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\nALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;\nCREATE UNIQUE INDEX CONCURRENTLY users_pk ON users (id);\nALTER TABLE users ADD CONSTRAINT users_pk PRIMARY KEY USING INDEX users_pk;\n".to_string())]
        );
        assert!(left.iter().all(|(rule, _)| rule != RULE), "{left:?}");
    }

    #[test]
    fn no_fix_for_a_nullable_primary_key_or_options() {
        for (sql, why) in [
            (
                "ALTER TABLE users ADD PRIMARY KEY (email);",
                "NOT NULL first",
            ),
            (
                "ALTER TABLE users ADD UNIQUE (email) DEFERRABLE;",
                "options",
            ),
        ] {
            let (files, left) = Case::pg(SETUP, &[(Phase::Contract, sql)]).fixed();
            assert_eq!(files, [(Phase::Contract, sql.to_string())]);
            assert!(
                left.iter().any(|(rule, w)| rule == RULE && w.contains(why)),
                "{left:?}"
            );
        }
    }
}
