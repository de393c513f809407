//! `reindex-not-concurrent`: `REINDEX INDEX/TABLE/SCHEMA/DATABASE` without `CONCURRENTLY`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "reindex-not-concurrent",
    severity: Severity::Error,
    summary: "`REINDEX INDEX/TABLE/SCHEMA/DATABASE` without `CONCURRENTLY`",
    help: "12+: `REINDEX … CONCURRENTLY`; before: build a twin `CONCURRENTLY`, `DROP INDEX CONCURRENTLY` the old one",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
