//! `add-foreign-key-validating`: `ADD CONSTRAINT … FOREIGN KEY` on an existing column without `NOT VALID`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-foreign-key-validating",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … FOREIGN KEY` on an existing column without `NOT VALID`",
    help: "`… NOT VALID` (brief `SHARE ROW EXCLUSIVE` on both); `VALIDATE CONSTRAINT` separately: `SHARE UPDATE EXCLUSIVE` on the referencing table, `ROW SHARE` on the referenced one",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
