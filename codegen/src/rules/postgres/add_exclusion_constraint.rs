//! `add-exclusion-constraint`: `ADD CONSTRAINT … EXCLUDE` on an existing table builds its index
//! and checks every row under ACCESS EXCLUSIVE; no concurrent or `USING INDEX` form exists.

use crate::change::{AlterOp, ConstraintKind};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-exclusion-constraint",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … EXCLUDE` on an existing table",
    help: "a new table with the constraint, dual-written by the app, backfilled, then switched to; or a reviewed `-- concertina:allow(add-exclusion-constraint): reason` for a small table",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for op in ops {
        if let AlterOp::AddConstraint(spec) = op {
            if matches!(spec.kind, ConstraintKind::Exclude) {
                out.report(format!(
                    "`EXCLUDE` constraint on `{table}` builds its index and checks every row under ACCESS EXCLUSIVE, and has no concurrent form: reads and writes wait for the whole build"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str =
        "CREATE TABLE bookings (id bigint PRIMARY KEY, room int, during tstzrange);";
    const RULE: &str = "add-exclusion-constraint";

    #[test]
    fn flags_exclusion_on_existing_table() {
        let sql = "ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);";
        assert_eq!(expand_hits(SETUP, sql, RULE).len(), 1);
    }

    #[test]
    fn new_table_is_exempt() {
        let sql = "CREATE TABLE b2 (room int, during tstzrange);\nALTER TABLE b2 ADD CONSTRAINT x EXCLUDE USING gist (room WITH =, during WITH &&);";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
