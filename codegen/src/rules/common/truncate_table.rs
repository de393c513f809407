//! `truncate-table`: `TRUNCATE` of an existing table

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "truncate-table",
    severity: Severity::Error,
    summary: "`TRUNCATE` of an existing table",
    help: "contract: `DROP TABLE` once no version reads it; or a batched `DELETE` in backfill",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
