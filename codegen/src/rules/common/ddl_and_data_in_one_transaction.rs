//! `ddl-and-data-in-one-transaction`: an explicit transaction that changes a table's schema and updates or deletes its rows

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "ddl-and-data-in-one-transaction",
    severity: Severity::Error,
    summary:
        "an explicit transaction that changes a table's schema and updates or deletes its rows",
    help: "DDL in expand/contract, data in backfill",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
