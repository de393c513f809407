//! `compat-table-removed`: expand drops or renames a table or view that `S(N-1)` uses

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-table-removed",
    severity: Severity::Error,
    summary: "expand drops or renames a table or view that `S(N-1)` uses",
    help: "expand: new table; backfill: copy; contract: drop the old",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
