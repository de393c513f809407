//! `compat-constraint-in-expand`: expand adds a CHECK, FK or unique index (even `NOT VALID`) over columns `S(N-1)` writes

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-constraint-in-expand",
    severity: Severity::Warning,
    summary:
        "expand adds a CHECK, FK or unique index (even `NOT VALID`) over columns `S(N-1)` writes",
    help: "contract, or `allow` saying why the old app complies",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
