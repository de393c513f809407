//! `compat-contract-needs-data`: contract tightens a column (`SET NOT NULL`, CHECK, FK, unique index) that backfill does not fill or that `E(N)` writers may leave violating

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-contract-needs-data",
    severity: Severity::Error,
    summary: "contract tightens a column (`SET NOT NULL`, CHECK, FK, unique index) that backfill does not fill or that `E(N)` writers may leave violating",
    help: "make the transition types write it, backfill the old rows, then contract",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
