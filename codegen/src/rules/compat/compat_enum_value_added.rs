//! `compat-enum-value-added`: expand adds an enum label that the new app may write during the window

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-enum-value-added",
    severity: Severity::Warning,
    summary: "expand adds an enum label that the new app may write during the window",
    help: "write it only once the old app is gone (next migration), or give generated enums an unknown-value fallback",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
