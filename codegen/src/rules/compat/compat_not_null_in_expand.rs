//! `compat-not-null-in-expand`: expand sets `NOT NULL`, or adds `CHECK (col IS NOT NULL)` (even `NOT VALID`), on a column that `S(N-1)` omits or may write NULL to

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-not-null-in-expand",
    severity: Severity::Error,
    summary: "expand sets `NOT NULL`, or adds `CHECK (col IS NOT NULL)` (even `NOT VALID`), on a column that `S(N-1)` omits or may write NULL to",
    help: "contract, after backfill",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
