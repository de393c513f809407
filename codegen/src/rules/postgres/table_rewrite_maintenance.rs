//! `table-rewrite-maintenance`: `VACUUM FULL`, `CLUSTER`, `ALTER TABLE/INDEX … SET TABLESPACE`, `SET LOGGED` / `SET UNLOGGED`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "table-rewrite-maintenance",
    severity: Severity::Error,
    summary: "`VACUUM FULL`, `CLUSTER`, `ALTER TABLE/INDEX … SET TABLESPACE`, `SET LOGGED` / `SET UNLOGGED`",
    help: "not a migration step: an online repack tool outside migrations; plain `VACUUM` / `ANALYZE` are fine",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
