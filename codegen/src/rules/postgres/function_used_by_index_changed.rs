//! `function-used-by-index-changed`: `CREATE OR REPLACE FUNCTION` of a function used in an index expression/predicate, generated column or CHECK

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "function-used-by-index-changed",
    severity: Severity::Warning,
    summary: "`CREATE OR REPLACE FUNCTION` of a function used in an index expression/predicate, generated column or CHECK",
    help: "new function + new index `CONCURRENTLY`; or `REINDEX … CONCURRENTLY` (12+) right after",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
