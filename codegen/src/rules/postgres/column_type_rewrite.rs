//! `column-type-rewrite`: `ALTER COLUMN … TYPE` not in the list below, or with `USING`; a collation change on an indexed column

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "column-type-rewrite",
    severity: Severity::Error,
    summary: "`ALTER COLUMN … TYPE` not in the list below, or with `USING`; a collation change on an indexed column",
    help: "expand: new column, dual-written by the transition types; backfill: copy; new app reads it; contract: drop the old one",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
