//! One `ALTER TABLE` of several actions split into one statement per action, in order: each
//! runs with the algorithm (and lock) its own action needs. Checked on the model: the split
//! statements must end where the original does, or there is no fix (actions that depend on
//! running together, such as two renames that swap names).

use super::sqltext::{tokens, Token};
use super::{Fix, NoFix};
use crate::rules::StatementCtx;

pub fn split_alter(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let text = ctx.text();
    let unreadable = || NoFix::because("the statement's text could not be read token by token");
    let toks = tokens(text).ok_or_else(unreadable)?;
    let table_end = table_name_end(text, &toks).ok_or_else(|| {
        NoFix::because(
            "the statement does not start `ALTER TABLE name` as written: split it by hand",
        )
    })?;
    let prefix = &text[..toks[table_end].end];
    let mut actions = Vec::new();
    let mut start = table_end + 1;
    for (i, t) in toks.iter().enumerate().skip(table_end + 1) {
        if t.depth == 0 && &text[t.start..t.end] == "," {
            actions.push((start, i));
            start = i + 1;
        }
    }
    actions.push((start, toks.len()));
    if actions.len() < 2 {
        return Err(NoFix::because(
            "the statement has one action: nothing to split",
        ));
    }
    let mut parts = Vec::new();
    for (from, to) in actions {
        let (Some(first), Some(last)) =
            (toks.get(from), to.checked_sub(1).and_then(|l| toks.get(l)))
        else {
            return Err(unreadable());
        };
        if ["ALGORITHM", "LOCK"].iter().any(|w| first.is(text, w)) {
            return Err(NoFix::because("an `ALGORITHM` or `LOCK` clause applies to the whole statement: drop it (the runtime chooses per statement) and run fix again"));
        }
        parts.push(format!("{prefix} {}", &text[first.start..last.end]));
    }
    let rewritten = parts.join(";\n");
    // The split must end where the statement does.
    let mut whole = ctx.schema.clone();
    whole.apply(ctx.change);
    let mut split = ctx.schema.clone();
    let (_, parsed) = super::recipes::parse(ctx, &format!("{rewritten};"));
    if parsed.statements.len() != parts.len() {
        return Err(unreadable());
    }
    for s in &parsed.statements {
        if !split.apply(&s.change).is_empty() {
            return Err(NoFix::because(
                "one action depends on another of the same statement: split it by hand",
            ));
        }
    }
    if split != whole {
        return Err(NoFix::because("the actions run one by one end elsewhere than together (they depend on each other): split it by hand"));
    }
    let last = toks.last().ok_or_else(unreadable)?;
    let start = ctx.statement.start;
    Ok(Fix::replace(start, start + last.end, rewritten))
}

/// The index of the table name's last token in `ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS]
/// [ONLY] name`.
fn table_name_end(text: &str, toks: &[Token]) -> Option<usize> {
    let mut i = 0;
    if !toks.first()?.is(text, "ALTER") {
        return None;
    }
    i += 1;
    while ["ONLINE", "IGNORE"]
        .iter()
        .any(|w| toks.get(i).is_some_and(|t| t.is(text, w)))
    {
        i += 1;
    }
    if !toks.get(i)?.is(text, "TABLE") {
        return None;
    }
    i += 1;
    if toks.get(i)?.is(text, "IF") {
        i += 2;
    }
    if toks.get(i)?.is(text, "ONLY") {
        i += 1;
    }
    toks.get(i)?;
    while toks
        .get(i + 1)
        .is_some_and(|t| &text[t.start..t.end] == ".")
    {
        i += 2;
    }
    toks.get(i).map(|_| i)
}
