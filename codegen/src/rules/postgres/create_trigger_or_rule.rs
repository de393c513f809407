//! `create-trigger-or-rule`: creating or toggling a trigger or a rule on an existing table.
//! The lock is brief (SHARE ROW EXCLUSIVE for triggers, ACCESS EXCLUSIVE for rules) and runs
//! under lock_timeout, but the body then runs on every write: a warning to review its cost.

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "create-trigger-or-rule",
    severity: Severity::Warning,
    summary: "`CREATE [OR REPLACE] TRIGGER`, `ENABLE/DISABLE TRIGGER` on an existing table; `CREATE RULE`",
    help: "fine under lock_timeout; review what the body costs on every write, and prefer a trigger to a rule",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    match ctx.change {
        Change::CreateTrigger { name, table, .. } if ctx.is_existing_table(table) => {
            out.report(format!(
                "trigger `{name}` on `{table}`: SHARE ROW EXCLUSIVE while it is created (writes wait briefly), then its function runs on every matching write"
            ))
        }
        Change::CreateRule { table } if ctx.is_existing_table(table) => out.report(format!(
            "a rule on `{table}`: ACCESS EXCLUSIVE while it is created, then it rewrites every matching query"
        )),
        Change::AlterTable { table, ops, .. } if ctx.is_existing_table(table) => {
            for op in ops {
                if let AlterOp::TriggerToggle { text } = op {
                    out.report(format!(
                        "`{text}` on `{table}` takes SHARE ROW EXCLUSIVE (writes wait briefly) and changes what runs on every write"
                    ));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::expand_hits;

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, updated_at timestamptz);\nCREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at = now(); RETURN NEW; END $$;";
    const RULE: &str = "create-trigger-or-rule";

    #[test]
    fn warns_on_triggers_rules_and_toggles() {
        let sql = "CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();\nALTER TABLE users DISABLE TRIGGER t;\nCREATE RULE r AS ON DELETE TO users DO INSTEAD NOTHING;";
        let hits = expand_hits(SETUP, sql, RULE);
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert!(hits.iter().all(|h| !h.is_error()));
    }

    #[test]
    fn new_tables_are_exempt() {
        let sql = "CREATE TABLE t (id int, updated_at timestamptz);\nCREATE TRIGGER tt BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }
}
