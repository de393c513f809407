//! `add-unique-constraint-building-index`: `ADD CONSTRAINT … UNIQUE` / `PRIMARY KEY (cols)` without `USING INDEX`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "add-unique-constraint-building-index",
    severity: Severity::Error,
    summary: "`ADD CONSTRAINT … UNIQUE` / `PRIMARY KEY (cols)` without `USING INDEX`",
    help: "`CREATE UNIQUE INDEX CONCURRENTLY i`; `ADD CONSTRAINT … UNIQUE USING INDEX i`. `PRIMARY KEY USING INDEX` needs the columns already `NOT NULL` (else a scan): prove it first",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
