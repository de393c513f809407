//! `data-change-outside-backfill`: `UPDATE`/`DELETE` with a `WHERE` in expand or contract

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "data-change-outside-backfill",
    severity: Severity::Warning,
    summary: "`UPDATE`/`DELETE` with a `WHERE` in expand or contract",
    help: "move it to `backfill.sql` unless the `WHERE` pins a key",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
