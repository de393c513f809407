//! `drop-still-referenced`: contract drops a column or table that an object of `S(N)` still uses (view, function body, trigger, generated column, index expression, foreign key), or drops with `CASCADE`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "drop-still-referenced",
    severity: Severity::Error,
    summary: "contract drops a column or table that an object of `S(N)` still uses (view, function body, trigger, generated column, index expression, foreign key), or drops with `CASCADE`",
    help: "drop or rewrite the dependent object first, in the same contract, by name",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
