//! Building blocks the rules' fixes share: a keyword inserted after a statement's leading
//! words, a constraint split into `NOT VALID` and `VALIDATE CONSTRAINT`, a statement moved to
//! contract, whether other statements name a table. Each rule decides in its own file when its
//! recipe applies.

use super::sqltext::{find_word, ident, qualified, tokens, Token, TokenKind};
use super::{Edit, Fix, NoFix};
use crate::change::{AlterOp, Change, ConstraintSpec, QualName};
use crate::layout::{Layout, Phase};
use crate::rules::common::backfill_table_without_key::has_batch_key;
use crate::rules::StatementCtx;
use crate::source::SourceFile;
use crate::sql;

pub const IN_TRANSACTION: &str = "it is inside `BEGIN … COMMIT`, where `CONCURRENTLY` cannot run; taking it out of the transaction changes what commits together, a decision to make by hand";
pub const NO_CONTRACT: &str = "a diesel migration has no contract phase to move the rest of the recipe to: give it concertina's expand.sql/backfill.sql/contract.sql layout first";

/// The statement's text has an unclosed quote or comment: no token to rewrite.
pub fn unreadable() -> NoFix {
    NoFix::because(
        "the statement's text could not be read token by token (an unclosed quote or comment)",
    )
}

/// Inserts ` word` after the statement's leading words `prefix` (`?` marks an optional one:
/// `["CREATE", "UNIQUE?", "INDEX"]`), unless `word` already follows them.
pub fn insert_after_prefix(ctx: &StatementCtx, prefix: &[&str], word: &str) -> Result<Fix, NoFix> {
    let text = ctx.text();
    let toks = tokens(text).ok_or_else(unreadable)?;
    let mut i = 0;
    for want in prefix {
        let (keyword, optional) = match want.strip_suffix('?') {
            Some(k) => (k, true),
            None => (*want, false),
        };
        match toks.get(i) {
            Some(t) if t.is(text, keyword) => i += 1,
            _ if optional => {}
            _ => {
                return Err(NoFix::because(format!(
                    "the statement does not start with `{}` as written: rewrite it by hand",
                    prefix.join(" ").replace('?', "")
                )))
            }
        }
    }
    let Some(last) = i.checked_sub(1).map(|j| &toks[j]) else {
        return Err(unreadable());
    };
    if toks.get(i).is_some_and(|t| t.is(text, word)) {
        return Err(NoFix::because(format!("`{word}` is already there")));
    }
    let at = ctx.statement.start + last.end;
    Ok(Fix::replace(at, at, format!(" {word}")))
}

/// Inserts ` word` after the first top-level `keyword` of the statement.
pub fn insert_after_word(ctx: &StatementCtx, keyword: &str, word: &str) -> Result<Fix, NoFix> {
    let text = ctx.text();
    let toks = tokens(text).ok_or_else(unreadable)?;
    let i = find_word(text, &toks, keyword).ok_or_else(|| {
        NoFix::because(format!(
            "no `{keyword}` in the statement as written: rewrite it by hand"
        ))
    })?;
    if toks.get(i + 1).is_some_and(|t| t.is(text, word)) {
        return Err(NoFix::because(format!("`{word}` is already there")));
    }
    let at = ctx.statement.start + toks[i].end;
    Ok(Fix::replace(at, at, format!(" {word}")))
}

/// `ALTER TABLE t ADD [CONSTRAINT c] …` → `… NOT VALID`, then `ALTER TABLE t VALIDATE
/// CONSTRAINT c` in contract (right after it when it already is in contract or down). An
/// unnamed constraint gets, written out, the name the server would give it, so the VALIDATE
/// can name it.
pub fn not_valid_then_validate(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    let spec = match ops {
        [AlterOp::AddConstraint(spec)] => spec,
        [AlterOp::AddColumn { .. }] => return Err(NoFix::because("the constraint is written inline on `ADD COLUMN`: add the column bare and the constraint as an `ALTER TABLE … ADD CONSTRAINT` of its own, then run fix again")),
        _ => return Err(NoFix::because("the constraint shares its `ALTER TABLE` with other actions: split the statement (one action per `ALTER TABLE`) and run fix again")),
    };
    let later = matches!(ctx.phase, Phase::Expand | Phase::Backfill);
    if later && ctx.window.layout == Layout::Diesel {
        return Err(NoFix::because(NO_CONTRACT));
    }
    if !later && ctx.in_transaction() {
        return Err(NoFix::because("it is inside `BEGIN … COMMIT`: a `VALIDATE` in the same transaction keeps the lock the split is meant to avoid; end the transaction before it by hand"));
    }
    let text = ctx.text();
    let toks = tokens(text).ok_or_else(unreadable)?;
    let last = toks.last().ok_or_else(unreadable)?;
    let name = constraint_name(ctx, table, spec);
    let dialect = ctx.dialect;
    let validate = format!(
        "ALTER TABLE {} VALIDATE CONSTRAINT {}",
        qualified(table, dialect),
        ident(&name, dialect)
    );
    let end = ctx.statement.start + last.end;
    let mut fix = if later {
        Fix::replace(end, end, " NOT VALID").and(Edit::Append {
            phase: Phase::Contract,
            text: format!("{validate};"),
        })
    } else {
        Fix::replace(end, end, format!(" NOT VALID;\n{validate}"))
    };
    if spec.name.is_none() {
        let add = find_word(text, &toks, "ADD").ok_or_else(unreadable)?;
        let at = ctx.statement.start + toks[add].end;
        fix = fix.and(Edit::Replace {
            start: at,
            end: at,
            text: format!(" CONSTRAINT {}", ident(&name, dialect)),
        });
    }
    Ok(fix)
}

fn constraint_name(ctx: &StatementCtx, table: &QualName, spec: &ConstraintSpec) -> String {
    ctx.schema.added_constraint_name(table, spec)
}

/// Moves the statement, as written, to the end of contract.sql.
pub fn move_to_contract(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    if ctx.window.layout == Layout::Diesel {
        return Err(NoFix::because(NO_CONTRACT));
    }
    Ok(moved(ctx, Phase::Contract))
}

/// Moves an expand `UPDATE`/`DELETE` of `table`, as written, to the end of backfill.sql,
/// unless that changes what it does: backfill runs after every later expand statement and
/// after what backfill.sql already has, so a statement there that names a relation it reads or
/// changes (or code the model cannot follow) keeps it in expand.
pub fn move_to_backfill(ctx: &StatementCtx, table: &QualName) -> Result<Fix, NoFix> {
    match ctx.phase {
        Phase::Expand => {}
        Phase::Contract => return Err(NoFix::because("it is in contract, which runs once the old app is gone: in backfill it would run while the old app still writes the rows, another result; keep it, or split what can run earlier by hand")),
        _ => return Err(NoFix::because(format!("it is in {}: only a data change in expand moves to backfill", ctx.file_name()))),
    }
    if ctx.window.layout == Layout::Diesel {
        return Err(NoFix::because("a diesel migration has no backfill phase: give it concertina's expand.sql/backfill.sql/contract.sql layout first"));
    }
    if ctx.in_transaction() {
        return Err(NoFix::because(
            "it is inside `BEGIN … COMMIT`: moving it out changes what commits together",
        ));
    }
    match ctx.schema.table(table) {
        None => return Err(NoFix::because(format!("the model does not know `{table}`: the runtime could not batch it over a key"))),
        Some(t) if !has_batch_key(ctx.schema, t) => return Err(NoFix::because(format!("`{table}` has no primary key or unique index over NOT NULL columns for the runtime to batch by (`backfill-table-without-key`)"))),
        Some(_) => {}
    }
    let later = &ctx.source.text[ctx.statement.end..];
    let backfill = ctx.window.phase_text(Phase::Backfill).unwrap_or("");
    for t in relations_named(ctx, table) {
        if names_table(ctx, later, &t) {
            return Err(NoFix::because(format!("a later statement of expand.sql names `{t}` or cannot be read: in backfill the change would come after it, and it may depend on it")));
        }
        if names_table(ctx, backfill, &t) {
            return Err(NoFix::because(format!("backfill.sql already names `{t}`: appended after it, the change would run in another order")));
        }
    }
    Ok(moved(ctx, Phase::Backfill))
}

/// The statement moved, as written, to the end of `phase`'s file, with the comment lines right
/// above it (they say what it does; a blank line or a statement ends them). A `renames`
/// annotation stays: it speaks for the migration, not for the statement under it.
fn moved(ctx: &StatementCtx, phase: Phase) -> Fix {
    let s = ctx.statement;
    let text = ctx.source.text.as_str();
    let start = leading_comments(text, s.start);
    Fix {
        edits: vec![
            Edit::Remove { start, end: s.end },
            Edit::Append {
                phase,
                text: format!("{}{};", &text[start..s.start], ctx.text()),
            },
        ],
    }
}

/// Where the `--` comment lines directly above the statement starting at `start` begin
/// (`start` itself when there are none, or when the statement does not begin its line).
fn leading_comments(text: &str, start: usize) -> usize {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if !text[line_start..start].trim().is_empty() {
        return start;
    }
    let mut first = line_start;
    while first > 0 {
        let above_end = first - 1;
        let above_start = text[..above_end].rfind('\n').map_or(0, |i| i + 1);
        let line = text[above_start..above_end].trim();
        if !line.starts_with("--") || line.starts_with("-- concertina:renames") {
            break;
        }
        first = above_start;
    }
    if first == line_start {
        start
    } else {
        first
    }
}

/// `table` and every relation of the model the statement's words name (a `FROM`, a subquery).
fn relations_named(ctx: &StatementCtx, table: &QualName) -> Vec<QualName> {
    let mut out = vec![table.clone()];
    let text = ctx.text();
    for t in tokens(text).unwrap_or_default() {
        let Some(name) = word(text, &t) else {
            continue;
        };
        for q in ctx.schema.tables.keys().chain(ctx.schema.views.keys()) {
            if q.name.eq_ignore_ascii_case(name) && !out.contains(q) {
                out.push(q.clone());
            }
        }
    }
    out
}

/// A word or quoted name's text, without its quotes.
fn word<'t>(text: &'t str, t: &Token) -> Option<&'t str> {
    let raw = &text[t.start..t.end];
    match t.kind {
        TokenKind::Word => Some(raw),
        TokenKind::Quoted if raw.len() >= 2 => Some(&raw[1..raw.len() - 1]),
        _ => None,
    }
}

/// Some statement of `text` names `table` (a word or quoted name equal to its name, any case:
/// matching too much only keeps a statement where it is), or is code the model cannot follow.
/// Unreadable text counts as naming it.
pub fn names_table(ctx: &StatementCtx, text: &str, table: &QualName) -> bool {
    let Some(toks) = tokens(text) else {
        return true;
    };
    let named = toks
        .iter()
        .any(|t| word(text, t).is_some_and(|w| w.eq_ignore_ascii_case(&table.name)));
    named
        || parse(ctx, text)
            .1
            .statements
            .iter()
            .any(|s| matches!(s.change, Change::Opaque { .. } | Change::ProceduralBlock))
}

/// SQL a fix reads or writes besides the statement (another phase file, a rewrite), parsed
/// as the statement's own file is: the file (for statement texts) and its statements.
pub fn parse(ctx: &StatementCtx, text: &str) -> (SourceFile, sql::ParsedFile) {
    let file = SourceFile::new(String::new(), ctx.source.path.clone(), text.to_string());
    let parsed = sql::parse_file(&file, ctx.dialect);
    (file, parsed)
}

#[cfg(test)]
mod moved_tests {
    use super::leading_comments;

    #[test]
    fn the_comments_right_above_a_statement_go_with_it() {
        let text = "-- users\nALTER TABLE users ADD c int;\n\n-- old rows get 0\n-- (in batches)\nUPDATE users SET c = 0;\n";
        let update = text.find("UPDATE").unwrap();
        assert_eq!(
            &text[leading_comments(text, update)..update],
            "-- old rows get 0\n-- (in batches)\n"
        );
        // A statement right under another has none; nor one that shares its line.
        let alter = text.find("ALTER").unwrap();
        assert_eq!(leading_comments(text, alter), 0);
        let shared = "SELECT 1; UPDATE t SET c = 0;";
        let at = shared.find("UPDATE").unwrap();
        assert_eq!(leading_comments(shared, at), at);
        let under = "SELECT 1;\nUPDATE t SET c = 0;";
        let at = under.find("UPDATE").unwrap();
        assert_eq!(leading_comments(under, at), at);
        // The migration's renames annotation stays where it is.
        let renames = "-- concertina:renames(t.a -> t.b)\n-- why\nUPDATE t SET b = a;";
        let at = renames.find("UPDATE").unwrap();
        assert_eq!(&renames[leading_comments(renames, at)..at], "-- why\n");
    }
}
