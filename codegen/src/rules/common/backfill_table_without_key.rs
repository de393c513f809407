//! `backfill-table-without-key`: a backfill statement on a table with no primary key and no unique index over `NOT NULL` columns

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "backfill-table-without-key",
    severity: Severity::Error,
    summary: "a backfill statement on a table with no primary key and no unique index over `NOT NULL` columns",
    help: "give the table a key first (a migration of its own), or `allow` and accept one long transaction",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
