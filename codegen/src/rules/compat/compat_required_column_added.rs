//! `compat-required-column-added`: in `E(N)` a column is `NOT NULL` without default that `S(N-1)` inserts omit: added that way, or its default dropped

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-required-column-added",
    severity: Severity::Error,
    summary: "in `E(N)` a column is `NOT NULL` without default that `S(N-1)` inserts omit: added that way, or its default dropped",
    help: "expand: nullable or with a default; backfill; contract: `SET NOT NULL`",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
