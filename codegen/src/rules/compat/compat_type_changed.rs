//! `compat-type-changed`: a column of `S(N-1)` changes type in `E(N)` so the old Rust type cannot decode it (`int`→`bigint` included) or the old app's values no longer fit (narrowing, shorter `varchar`, text→enum)

use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-type-changed",
    severity: Severity::Error,
    summary: "a column of `S(N-1)` changes type in `E(N)` so the old Rust type cannot decode it (`int`→`bigint` included) or the old app's values no longer fit (narrowing, shorter `varchar`, text→enum)",
    help: "new column of the new type, as for a rename",
    check,
};

fn check(_ctx: &StatementCtx, _out: &mut Findings) {}
