//! `compat-enum-value-removed`: an enum label of `S(N-1)` removed or renamed before contract (`ALTER TYPE … RENAME VALUE`, recreating the type, a MySQL `ENUM` redefinition)

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-enum-value-removed",
    severity: Severity::Error,
    summary: "an enum label of `S(N-1)` removed or renamed before contract (`ALTER TYPE … RENAME VALUE`, recreating the type, a MySQL `ENUM` redefinition)",
    help: "keep the label until contract; backfill maps old to new; then the CHECK of the §2 note",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
