//! `unbatched-data-change`: `UPDATE`/`DELETE` without `WHERE`, or `INSERT … SELECT` / `CREATE TABLE … AS SELECT` from an existing table, in expand or contract

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "unbatched-data-change",
    severity: Severity::Error,
    summary: "`UPDATE`/`DELETE` without `WHERE`, or `INSERT … SELECT` / `CREATE TABLE … AS SELECT` from an existing table, in expand or contract",
    help: "move it to `backfill.sql` (keyset batches, pauses, resumable)",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
