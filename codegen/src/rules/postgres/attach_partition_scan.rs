//! `attach-partition-scan`: `ATTACH PARTITION` when the table has no validated CHECK implying the bound, or a DEFAULT partition has none excluding it

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "attach-partition-scan",
    severity: Severity::Error,
    summary: "`ATTACH PARTITION` when the table has no validated CHECK implying the bound, or a DEFAULT partition has none excluding it",
    help: "`CHECK (<bound>) NOT VALID` + `VALIDATE` on the table (and one excluding the bound on the default partition); `ATTACH`; drop the helper CHECKs",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
