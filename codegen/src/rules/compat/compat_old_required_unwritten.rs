//! `compat-old-required-unwritten`: a column `NOT NULL` without default in `E(N)` but absent from `S(N)`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-old-required-unwritten",
    severity: Severity::Error,
    summary: "a column `NOT NULL` without default in `E(N)` but absent from `S(N)`",
    help: "expand: `DROP NOT NULL` (or add a default); contract: drop the column",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
