//! `domain-constraint-validating`: `ALTER DOMAIN … ADD CONSTRAINT` without `NOT VALID` checks
//! every column of that domain in every table while blocking writes to them.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "domain-constraint-validating",
    severity: Severity::Error,
    summary: "`ALTER DOMAIN … ADD CONSTRAINT` without `NOT VALID`",
    help: "`ALTER DOMAIN … ADD CONSTRAINT … NOT VALID`, then `ALTER DOMAIN … VALIDATE CONSTRAINT …` as a separate statement",
    check,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::AlterDomainAddConstraint { name, not_valid } = ctx.change else {
        return;
    };
    if *not_valid {
        return;
    }
    let users: Vec<String> = ctx
        .schema
        .tables
        .values()
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| c.ty.name == name.name)
                .map(move |c| format!("{}.{}", t.name, c.name))
        })
        .filter(|c| {
            let table = c.rsplit_once('.').map_or(c.as_str(), |(t, _)| t);
            !ctx.file
                .created_tables
                .iter()
                .any(|n| n.to_string() == table)
        })
        .collect();
    let where_ = if users.is_empty() {
        "every column of that domain".to_string()
    } else {
        format!("`{}`", users.join("`, `"))
    };
    out.report(format!(
        "`ALTER DOMAIN {name} ADD CONSTRAINT` without `NOT VALID` checks {where_} in every row while writes to those tables wait"
    ));
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str =
        "CREATE DOMAIN positive AS int;\nCREATE TABLE items (id bigint PRIMARY KEY, qty positive);";
    const RULE: &str = "domain-constraint-validating";

    #[test]
    fn flags_a_validating_domain_constraint_naming_its_columns() {
        let hits = expand_hits(
            SETUP,
            "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);",
            RULE,
        );
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("items.qty"), "{}", hits[0].message);
    }

    #[test]
    fn not_valid_is_safe() {
        let sql = "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
