//! `domain-constraint-validating`: a domain constraint is checked against every column of
//! that domain in every table while writes to those tables wait. `ALTER DOMAIN … ADD
//! CONSTRAINT` without `NOT VALID` does it, and so does `ALTER DOMAIN … VALIDATE CONSTRAINT`:
//! measured with the tracer on PostgreSQL 10, 15 and 18, both hold SHARE on each table using
//! the domain for the scan (unlike a table's `VALIDATE CONSTRAINT`, which takes SHARE UPDATE
//! EXCLUSIVE). There is no online way to validate a domain constraint: the check belongs on
//! the tables.

use crate::change::Change;
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "domain-constraint-validating",
    severity: Severity::Error,
    summary: "`ALTER DOMAIN … ADD CONSTRAINT` without `NOT VALID`, or `ALTER DOMAIN … VALIDATE CONSTRAINT`: SHARE on every table using the domain while it scans",
    help: "put the check on each table that uses the domain instead: `ALTER TABLE … ADD CONSTRAINT … CHECK (…) NOT VALID` in expand, `ALTER TABLE … VALIDATE CONSTRAINT …` in contract (SHARE UPDATE EXCLUSIVE: the app reads and writes during the scan); a domain constraint added `NOT VALID` and never validated guards new values only",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let (name, what) = match ctx.change {
        Change::AlterDomainAddConstraint {
            name,
            not_valid: false,
        } => (name, "ADD CONSTRAINT` without `NOT VALID"),
        Change::AlterDomainValidateConstraint { name } => (name, "VALIDATE CONSTRAINT"),
        _ => return,
    };
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
        "`ALTER DOMAIN {name} {what}` checks {where_} in every row while writes to those tables wait (SHARE)"
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
    fn validating_a_domain_constraint_later_is_flagged_too() {
        let hits = expand_hits(
            SETUP,
            "ALTER DOMAIN positive VALIDATE CONSTRAINT pos;",
            RULE,
        );
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains("VALIDATE CONSTRAINT"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn not_valid_is_safe() {
        let sql = "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
