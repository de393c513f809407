//! `concurrently-in-transaction`: `CREATE/DROP INDEX`, `REINDEX` or `DETACH PARTITION` `… CONCURRENTLY` inside `BEGIN … COMMIT`, a `DO` block or a function

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "concurrently-in-transaction",
    severity: Severity::Error,
    summary: "`CREATE/DROP INDEX`, `REINDEX` or `DETACH PARTITION` `… CONCURRENTLY` inside `BEGIN … COMMIT`, a `DO` block or a function",
    help: "drop the explicit transaction; the runtime runs them on their own",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
