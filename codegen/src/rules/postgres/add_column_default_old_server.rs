//! `add-column-default-old-server`: `ADD COLUMN … DEFAULT` with any non-NULL default

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-column-default-old-server",
    severity: Severity::Error,
    summary: "`ADD COLUMN … DEFAULT` with any non-NULL default",
    help: "as above",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
