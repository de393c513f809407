//! `validate-in-same-transaction`: `VALIDATE CONSTRAINT` in the same explicit transaction as
//! the `NOT VALID` add: the add's strong lock is still held during the validation scan.

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::model::default_constraint_name;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "validate-in-same-transaction",
    severity: Severity::Error,
    summary: "`VALIDATE CONSTRAINT` in the same explicit transaction as its `NOT VALID` add",
    help: "no explicit transaction: the add and the VALIDATE as separate statements (the runtime commits each); the VALIDATE best in contract",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some(tx) = &ctx.file.open_transaction else {
        return;
    };
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return;
    };
    for op in ops {
        let AlterOp::ValidateConstraint { name } = op else {
            continue;
        };
        let added_here = tx.iter().any(|c| match c {
            Change::AlterTable {
                table: t, ops, ..
            } if t == table => ops.iter().any(|o| {
                matches!(o, AlterOp::AddConstraint(spec) if spec.not_valid
                    && spec.name.clone().unwrap_or_else(|| default_constraint_name(&table.name, &spec.kind)) == *name)
            }),
            _ => false,
        });
        if added_here {
            out.report(format!(
                "`VALIDATE CONSTRAINT {name}` in the same transaction as its `NOT VALID` add: the add's lock on `{table}` is held for the whole validation scan, so nothing is gained"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, age int);";
    const RULE: &str = "validate-in-same-transaction";

    #[test]
    fn flags_validate_in_the_adding_transaction() {
        let sql = "BEGIN;\nALTER TABLE users ADD CONSTRAINT age_ok CHECK (age >= 0) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT age_ok;\nCOMMIT;";
        let hits = expand_hits(SETUP, sql, RULE);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 3);
    }

    #[test]
    fn an_unnamed_add_is_matched_by_its_automatic_name() {
        let sql = "BEGIN;\nALTER TABLE users ADD CHECK (age >= 0) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT users_age_check;\nCOMMIT;";
        assert_eq!(expand_hits(SETUP, sql, RULE).len(), 1);
    }

    #[test]
    fn separate_statements_are_fine() {
        let sql = "ALTER TABLE users ADD CONSTRAINT age_ok CHECK (age >= 0) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT age_ok;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
