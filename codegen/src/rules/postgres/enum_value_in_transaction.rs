//! `enum-value-in-transaction`: `ALTER TYPE … ADD VALUE` in an explicit transaction (before 12); the new label used later in the same transaction (any version)

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "enum-value-in-transaction",
    severity: Severity::Error,
    summary: "`ALTER TYPE … ADD VALUE` in an explicit transaction (before 12); the new label used later in the same transaction (any version)",
    help: "expand: `ADD VALUE` as its own statement; use the label from backfill on (and see `compat-enum-value-added`)",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
