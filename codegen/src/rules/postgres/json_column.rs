//! `json-column`: `ADD COLUMN … json`, `ALTER COLUMN … TYPE json` (the latter also hits `column-type-rewrite`)

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "json-column",
    severity: Severity::Warning,
    summary: "`ADD COLUMN … json`, `ALTER COLUMN … TYPE json` (the latter also hits `column-type-rewrite`)",
    help: "`jsonb`",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
