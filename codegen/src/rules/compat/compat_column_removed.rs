//! `compat-column-removed`: expand drops or renames a column that `S(N-1)` has

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-column-removed",
    severity: Severity::Error,
    summary: "expand drops or renames a column that `S(N-1)` has",
    help: "expand: new column; backfill: copy (`-- concertina:renames(t.a -> t.b)` makes the transition types write both); contract: drop the old",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
