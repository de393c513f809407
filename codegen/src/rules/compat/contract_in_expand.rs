//! `contract-in-expand`: in a migration with a `contract.sql`, a statement in `expand.sql` that belongs to contract: dropping what `S(N-1)` has, tightening a constraint

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "contract-in-expand",
    severity: Severity::Error,
    summary: "in a migration with a `contract.sql`, a statement in `expand.sql` that belongs to contract: dropping what `S(N-1)` has, tightening a constraint",
    help: "move it to `contract.sql`",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
