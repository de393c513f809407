//! `set-not-null-unproven`: `ALTER COLUMN … SET NOT NULL` on an existing column without a validated `CHECK (col IS NOT NULL)`, in expand (any version) or anywhere before 12; in contract on 12+ it is not flagged because the runtime applies the recipe

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "set-not-null-unproven",
    severity: Severity::Error,
    summary: "`ALTER COLUMN … SET NOT NULL` on an existing column without a validated `CHECK (col IS NOT NULL)`, in expand (any version) or anywhere before 12; in contract on 12+ it is not flagged because the runtime applies the recipe",
    help: "contract only; the runtime expands it to `ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID`; `VALIDATE CONSTRAINT c` (`SHARE UPDATE EXCLUSIVE`: app goes on); `SET NOT NULL` (12+ trusts the check); `DROP CONSTRAINT c`. 18+: `ADD CONSTRAINT c NOT NULL col NOT VALID` + `VALIDATE` also works. Before 12 keep the validated CHECK instead; the model reads it as not-null",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
