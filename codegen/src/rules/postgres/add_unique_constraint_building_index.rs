//! `add-unique-constraint-building-index`: `ADD CONSTRAINT … UNIQUE` / `PRIMARY KEY (cols)`
//! without `USING INDEX` builds the index under ACCESS EXCLUSIVE.

use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-unique-constraint-building-index",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … UNIQUE` / `PRIMARY KEY (cols)` without `USING INDEX`",
    help: "`CREATE UNIQUE INDEX CONCURRENTLY i …`, then `ADD CONSTRAINT … UNIQUE USING INDEX i`; `PRIMARY KEY USING INDEX` needs the columns NOT NULL already (else a scan): prove it first",
    check,
    fix: None,
};

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
    use crate::rules::testing::expand_hits;

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
}
