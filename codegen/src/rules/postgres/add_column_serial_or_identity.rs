//! `add-column-serial-or-identity`: `ADD COLUMN` of `smallserial/serial/bigserial`, or `GENERATED … AS IDENTITY`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-serial-or-identity",
    severity: Severity::Error,
    summary: "`ADD COLUMN` of `smallserial/serial/bigserial`, or `GENERATED … AS IDENTITY`",
    help: "expand: nullable `bigint`, `CREATE SEQUENCE`, `SET DEFAULT nextval(…)`; backfill: old rows; contract: `SET NOT NULL`",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
