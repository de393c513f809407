//! `add-column-volatile-default`: `ADD COLUMN … DEFAULT e`, `e` volatile (`random()`, `clock_timestamp()`, `gen_random_uuid()`, `nextval()`, a user function not known `STABLE`/`IMMUTABLE`), or of a domain type with constraints

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-volatile-default",
    severity: Severity::Error,
    summary: "`ADD COLUMN … DEFAULT e`, `e` volatile (`random()`, `clock_timestamp()`, `gen_random_uuid()`, `nextval()`, a user function not known `STABLE`/`IMMUTABLE`), or of a domain type with constraints",
    help: "expand: column without default, then `SET DEFAULT e` (new rows only); backfill: old rows",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
