//! `enum-value-in-transaction`: before PostgreSQL 12, `ALTER TYPE … ADD VALUE` is refused inside
//! a transaction block; on every version, a label added in a transaction cannot be used until
//! that transaction commits. This rule fires on the `ADD VALUE` in an explicit transaction
//! (before 12), and on a later statement of the same open transaction that uses the label.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "enum-value-in-transaction",
    severity: Severity::Error,
    summary: "`ALTER TYPE … ADD VALUE` in an explicit transaction (before 12); the new label used later in the same transaction (any version)",
    help: "expand: `ALTER TYPE … ADD VALUE` as a statement of its own, outside `BEGIN … COMMIT`; use the label from backfill on (and see `compat-enum-value-added`)",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some(tx) = &ctx.file.open_transaction else {
        return;
    };
    if let Change::AddEnumValue { name, label, .. } = ctx.change {
        if !ctx.server_at_least(12, 0) {
            out.report(format!(
                "`ALTER TYPE {name} ADD VALUE '{label}'` inside `BEGIN … COMMIT`: PostgreSQL before 12 refuses it in a transaction block"
            ));
        }
        return;
    }
    let text = ctx.text();
    for added in tx {
        let Change::AddEnumValue { name, label, .. } = added else {
            continue;
        };
        let quoted = format!("'{}'", label.replace('\'', "''"));
        if text.contains(&quoted) {
            out.report(format!(
                "uses the label {quoted} that `ALTER TYPE {name} ADD VALUE` added earlier in this transaction: a new label is unusable until its transaction commits, so this statement fails"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TYPE mood AS ENUM ('happy', 'sad');\nCREATE TABLE people (id bigint PRIMARY KEY, feeling mood);";
    const RULE: &str = "enum-value-in-transaction";

    #[test]
    fn add_value_in_a_transaction_before_12() {
        let sql = "BEGIN;\nALTER TYPE mood ADD VALUE 'meh';\nCOMMIT;";
        assert_eq!(
            Case::pg(SETUP, &[(Phase::Expand, sql)])
                .server("11")
                .hits(RULE)
                .len(),
            1
        );
        assert!(Case::pg(SETUP, &[(Phase::Expand, sql)])
            .server("12")
            .hits(RULE)
            .is_empty());
    }

    #[test]
    fn using_the_new_label_in_the_same_transaction() {
        let sql = "BEGIN;\nALTER TYPE mood ADD VALUE 'meh';\nALTER TABLE people ALTER COLUMN feeling SET DEFAULT 'meh';\nCOMMIT;";
        let hits = expand_hits(SETUP, sql, RULE);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 3);
    }

    #[test]
    fn outside_a_transaction_is_fine() {
        let sql = "ALTER TYPE mood ADD VALUE 'meh';\nALTER TABLE people ALTER COLUMN feeling SET DEFAULT 'meh';";
        assert!(Case::pg(SETUP, &[(Phase::Expand, sql)])
            .server("11")
            .hits(RULE)
            .is_empty());
    }
}
