//! `add-column-generated-stored`: `ADD COLUMN … GENERATED ALWAYS AS (e) STORED`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-generated-stored",
    severity: Severity::Error,
    summary: "`ADD COLUMN … GENERATED ALWAYS AS (e) STORED`",
    help: "plain column written by the app + backfill; on 18+ a `VIRTUAL` column (the default there) stores nothing: not flagged",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
