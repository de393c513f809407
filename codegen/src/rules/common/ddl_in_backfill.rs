//! `ddl-in-backfill`: DDL, or anything but `UPDATE` / `DELETE` / `INSERT … SELECT`, in `backfill.sql`

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "ddl-in-backfill",
    severity: Severity::Error,
    summary: "DDL, or anything but `UPDATE` / `DELETE` / `INSERT … SELECT`, in `backfill.sql`",
    help: "move it to expand or contract",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
