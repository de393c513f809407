//! Statements sqlparser does not parse but whose shape matters for lock safety (`REINDEX`,
//! `DROP INDEX CONCURRENTLY`, `CLUSTER`, `DO`, `ALTER DOMAIN`, …), recognised on tokens.
//! Some are rewritten (a clause removed) and handed back to sqlparser, then patched.

use sqlparser::ast::Statement;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::lower::Lowerer;
use crate::change::{AlterOp, Change, ConstraintKind, ConstraintSpec, ObjectKind, QualName};

/// A token sequence without trivia, with helpers to read words.
pub(super) struct Words<'a> {
    pub(super) tokens: Vec<&'a TokenWithSpan>,
}

impl<'a> Words<'a> {
    pub(super) fn new(tokens: &'a [TokenWithSpan]) -> Self {
        Words {
            tokens: tokens
                .iter()
                .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
                .collect(),
        }
    }

    /// The unquoted keyword at `i`, upper case.
    pub(super) fn kw(&self, i: usize) -> Option<String> {
        match &self.tokens.get(i)?.token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            _ => None,
        }
    }

    pub(super) fn is(&self, i: usize, kw: &str) -> bool {
        self.kw(i).as_deref() == Some(kw)
    }

    pub(super) fn starts(&self, kws: &[&str]) -> bool {
        kws.iter().enumerate().all(|(i, k)| self.is(i, k))
    }

    pub(super) fn find(&self, from: usize, kw: &str) -> Option<usize> {
        (from..self.tokens.len()).find(|&i| self.is(i, kw))
    }

    /// A possibly qualified name starting at `i`; returns it and the index after it.
    pub(super) fn name(&self, lower: &Lowerer, i: usize) -> Option<(QualName, usize)> {
        let mut parts = Vec::new();
        let mut j = i;
        loop {
            match &self.tokens.get(j)?.token {
                Token::Word(w) => parts.push(
                    lower
                        .dialect
                        .normalize_object(&w.value, w.quote_style.is_some()),
                ),
                _ => return None,
            }
            j += 1;
            if matches!(self.tokens.get(j).map(|t| &t.token), Some(Token::Period)) {
                j += 1;
                continue;
            }
            break;
        }
        let schema = if parts.len() >= 2 {
            parts[parts.len() - 2].clone()
        } else {
            lower.dialect.default_schema().to_string()
        };
        Some((QualName::new(schema, parts.pop()?), j))
    }

    pub(super) fn skip_if_exists(&self, i: usize) -> usize {
        if self.is(i, "IF") && self.is(i + 1, "EXISTS") {
            i + 2
        } else {
            i
        }
    }
}

pub(super) fn parse_tokens(lower: &Lowerer, tokens: Vec<TokenWithSpan>) -> Option<Statement> {
    let mut stmts = Parser::new(lower.dialect.parser())
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .ok()?;
    (stmts.len() == 1).then(|| stmts.remove(0))
}

/// Recognises a statement sqlparser refused. `None` when the shape is unknown.
pub fn recognize(lower: &Lowerer, tokens: &[TokenWithSpan]) -> Option<Change> {
    let w = Words::new(tokens);
    if w.starts(&["DO"]) {
        return Some(Change::ProceduralBlock);
    }
    if w.starts(&["DROP", "INDEX", "CONCURRENTLY"]) {
        let mut i = w.skip_if_exists(3);
        let mut names = Vec::new();
        while let Some((n, next)) = w.name(lower, i) {
            names.push(n);
            i = next;
            if matches!(w.tokens.get(i).map(|t| &t.token), Some(Token::Comma)) {
                i += 1;
            } else {
                break;
            }
        }
        return Some(Change::DropObjects {
            kind: ObjectKind::Index,
            names,
            if_exists: w.is(3, "IF"),
            cascade: w.find(3, "CASCADE").is_some(),
            concurrently: true,
        });
    }
    if w.starts(&["REINDEX"]) {
        let mut i = 1;
        if matches!(w.tokens.get(1).map(|t| &t.token), Some(Token::LParen)) {
            while i < w.tokens.len() && !matches!(w.tokens[i].token, Token::RParen) {
                i += 1;
            }
            i += 1;
        }
        let target = w.kw(i).unwrap_or_default();
        let concurrently = w.is(i + 1, "CONCURRENTLY");
        let name_at = if concurrently { i + 2 } else { i + 1 };
        return Some(Change::Reindex {
            target,
            name: w.name(lower, name_at).map(|(n, _)| n),
            concurrently,
        });
    }
    if w.starts(&["CLUSTER"]) {
        let i = if w.is(1, "VERBOSE") { 2 } else { 1 };
        return Some(Change::RewriteTable {
            table: w.name(lower, i).map(|(n, _)| n),
            what: "CLUSTER".into(),
        });
    }
    if w.starts(&["OPTIMIZE", "TABLE"]) {
        return Some(Change::RewriteTable {
            table: w.name(lower, 2).map(|(n, _)| n),
            what: "OPTIMIZE TABLE".into(),
        });
    }
    if w.starts(&["ALTER", "SEQUENCE"]) {
        let i = w.skip_if_exists(2);
        return Some(Change::AlterSequence {
            name: w.name(lower, i)?.0,
        });
    }
    if w.starts(&["ALTER", "DOMAIN"]) {
        let (name, after) = w.name(lower, 2)?;
        if w.is(after, "ADD") {
            let last = w.tokens.len();
            let not_valid = last >= 2 && w.is(last - 2, "NOT") && w.is(last - 1, "VALID");
            return Some(Change::AlterDomainAddConstraint { name, not_valid });
        }
        if w.is(after, "VALIDATE") {
            return Some(Change::AlterDomainValidateConstraint { name });
        }
        return Some(Change::NoSchemaEffect {
            what: "ALTER DOMAIN".into(),
        });
    }
    if w.starts(&["ALTER", "INDEX"]) {
        let i = w.skip_if_exists(2);
        let (name, after) = w.name(lower, i)?;
        if w.is(after, "ATTACH") && w.is(after + 1, "PARTITION") {
            return Some(Change::AttachIndex {
                parent: name,
                child: w.name(lower, after + 2)?.0,
            });
        }
        if w.is(after, "SET") && w.is(after + 1, "TABLESPACE") {
            return Some(Change::RewriteIndex {
                name,
                what: "SET TABLESPACE".into(),
            });
        }
        return None;
    }
    if let Some(change) = generated_virtual(lower, tokens) {
        return Some(change);
    }
    // MySQL `CREATE FULLTEXT|SPATIAL INDEX i ON t (…)`: read as the equivalent
    // `ALTER TABLE t ADD FULLTEXT|SPATIAL INDEX i (…)`.
    if (w.starts(&["CREATE", "FULLTEXT"]) || w.starts(&["CREATE", "SPATIAL"]))
        && (w.is(2, "INDEX") || w.is(2, "KEY"))
        && w.is(4, "ON")
    {
        let text = |ts: &[&TokenWithSpan]| {
            ts.iter()
                .map(|t| t.token.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (_, after) = w.name(lower, 5)?;
        let sql = format!(
            "ALTER TABLE {} ADD {} INDEX {} {}",
            text(&w.tokens[5..after]),
            text(&w.tokens[1..2]),
            text(&w.tokens[3..4]),
            text(&w.tokens[after..])
        );
        let tokens = sqlparser::tokenizer::Tokenizer::new(lower.dialect.parser(), &sql)
            .tokenize_with_location()
            .ok()?;
        return Some(lower.lower(&parse_tokens(lower, tokens)?));
    }
    if w.starts(&["CREATE"]) {
        // `CREATE [UNIQUE] INDEX … ON ONLY parent …`: parse without ONLY, then mark it.
        if let Some(on) = w.find(1, "ON") {
            if w.is(on + 1, "ONLY") && w.find(1, "INDEX").is_some_and(|i| i < on) {
                let only_token = w.tokens[on + 1];
                let rest: Vec<TokenWithSpan> = tokens
                    .iter()
                    .filter(|t| !std::ptr::eq(*t, only_token))
                    .cloned()
                    .collect();
                if let Change::CreateIndex(mut ci) = lower.lower(&parse_tokens(lower, rest)?) {
                    ci.only = true;
                    return Some(Change::CreateIndex(ci));
                }
            }
        }
        return None;
    }
    if w.starts(&["ALTER", "TABLE"]) {
        let mut i = w.skip_if_exists(2);
        let only = w.is(i, "ONLY");
        if only {
            i += 1;
        }
        let (table, after) = w.name(lower, i)?;
        if w.is(after, "SET") && w.is(after + 1, "TABLESPACE") {
            return Some(alter(
                table,
                only,
                AlterOp::Rewrite {
                    what: "SET TABLESPACE".into(),
                },
            ));
        }
        if w.is(after, "FORCE") || (w.is(after, "ENGINE")) {
            return Some(alter(
                table,
                only,
                AlterOp::Rewrite {
                    what: "FORCE".into(),
                },
            ));
        }
        if w.is(after, "CONVERT") {
            let at = (after + 1..w.tokens.len()).find(|&i| w.is(i, "SET") || w.is(i, "CHARSET"));
            let charset = at
                .and_then(|i| w.tokens.get(i + 1))
                .map(|t| match &t.token {
                    Token::Word(word) => word.value.to_lowercase(),
                    other => other.to_string().to_lowercase(),
                })
                .unwrap_or_default();
            return Some(alter(table, only, AlterOp::ConvertCharset { charset }));
        }
        // MySQL metadata-only actions: `COMMENT = '…'`, `ALTER INDEX i [IN]VISIBLE`,
        // `ALTER [COLUMN] c SET [IN]VISIBLE`.
        let visibility = |i: usize| w.is(i, "VISIBLE") || w.is(i, "INVISIBLE");
        let column_at = if w.is(after + 1, "COLUMN") {
            after + 2
        } else {
            after + 1
        };
        let last = w.tokens.len();
        if w.is(after, "COMMENT")
            || (w.is(after, "ALTER")
                && w.is(after + 1, "INDEX")
                && visibility(after + 3)
                && last == after + 4)
            || (w.is(after, "ALTER")
                && w.is(column_at + 1, "SET")
                && visibility(column_at + 2)
                && last == column_at + 3)
        {
            return Some(alter(
                table,
                only,
                AlterOp::Other {
                    text: "COMMENT / VISIBLE".into(),
                },
            ));
        }
        // MySQL `DROP CHECK c`.
        if w.is(after, "DROP") && w.is(after + 1, "CHECK") && last == after + 3 {
            let name = match &w.tokens.get(after + 2)?.token {
                Token::Word(word) => lower
                    .dialect
                    .normalize_ident(&word.value, word.quote_style.is_some()),
                _ => return None,
            };
            return Some(alter(
                table,
                only,
                AlterOp::DropConstraint {
                    name,
                    if_exists: false,
                    cascade: false,
                },
            ));
        }
        // MySQL `[DEFAULT] CHARACTER SET [=] x` / `[DEFAULT] CHARSET [=] x`: new columns only.
        let cs_at = if w.is(after, "DEFAULT") {
            after + 1
        } else {
            after
        };
        let value_at = if w.is(cs_at, "CHARSET") {
            Some(cs_at + 1)
        } else if w.is(cs_at, "CHARACTER") && w.is(cs_at + 1, "SET") {
            Some(cs_at + 2)
        } else {
            None
        };
        if let Some(mut at) = value_at {
            if matches!(w.tokens.get(at).map(|t| &t.token), Some(Token::Eq)) {
                at += 1;
            }
            if let Some(Token::Word(word)) = w.tokens.get(at).map(|t| &t.token) {
                if last == at + 1 {
                    return Some(alter(
                        table,
                        only,
                        AlterOp::DefaultCharset {
                            charset: word.value.to_lowercase(),
                        },
                    ));
                }
            }
        }
        // MySQL `ROW_FORMAT=…`: the table is rebuilt in the new format.
        if w.is(after, "ROW_FORMAT") {
            return Some(alter(
                table,
                only,
                AlterOp::Rewrite {
                    what: "ROW_FORMAT".into(),
                },
            ));
        }
        // MySQL `RENAME INDEX|KEY a TO b`.
        if w.is(after, "RENAME") && (w.is(after + 1, "INDEX") || w.is(after + 1, "KEY")) {
            let word = |i: usize| match &w.tokens.get(i)?.token {
                Token::Word(word) => Some(
                    lower
                        .dialect
                        .normalize_ident(&word.value, word.quote_style.is_some()),
                ),
                _ => None,
            };
            if w.is(after + 3, "TO") && w.tokens.len() == after + 5 {
                return Some(alter(
                    table,
                    only,
                    AlterOp::RenameIndex {
                        from: word(after + 2)?,
                        to: word(after + 4)?,
                    },
                ));
            }
        }
        // `SET SCHEMA s`: the table moves, with its indexes and constraints.
        if w.is(after, "SET") && w.is(after + 1, "SCHEMA") && w.tokens.len() == after + 3 {
            let schema = match &w.tokens.get(after + 2)?.token {
                Token::Word(word) => lower
                    .dialect
                    .normalize_ident(&word.value, word.quote_style.is_some()),
                _ => return None,
            };
            let to = QualName::new(schema, table.name.clone());
            return Some(alter(table, only, AlterOp::RenameTable { to }));
        }
        // `ALTER [COLUMN] c DROP IDENTITY [IF EXISTS]`: nothing fills the column any more, as
        // after a `DROP DEFAULT`.
        if w.is(after, "ALTER") {
            let at = if w.is(after + 1, "COLUMN") {
                after + 2
            } else {
                after + 1
            };
            if w.is(at + 1, "DROP") && w.is(at + 2, "IDENTITY") {
                let column = match &w.tokens.get(at)?.token {
                    Token::Word(word) => lower
                        .dialect
                        .normalize_ident(&word.value, word.quote_style.is_some()),
                    _ => return None,
                };
                return Some(alter(table, only, AlterOp::DropDefault { column }));
            }
        }
        // `ADD CONSTRAINT c NOT NULL col [NOT VALID]` (PostgreSQL 18).
        if w.is(after, "ADD")
            && w.is(after + 1, "CONSTRAINT")
            && w.is(after + 3, "NOT")
            && w.is(after + 4, "NULL")
        {
            let name = match &w.tokens.get(after + 2)?.token {
                Token::Word(word) => lower
                    .dialect
                    .normalize_ident(&word.value, word.quote_style.is_some()),
                _ => return None,
            };
            let column = match &w.tokens.get(after + 5)?.token {
                Token::Word(word) => lower
                    .dialect
                    .normalize_ident(&word.value, word.quote_style.is_some()),
                _ => return None,
            };
            let last = w.tokens.len();
            return Some(alter(
                table,
                only,
                AlterOp::AddConstraint(ConstraintSpec {
                    name: Some(name),
                    kind: ConstraintKind::NotNull { column },
                    not_valid: w.is(last - 2, "NOT") && w.is(last - 1, "VALID"),
                }),
            ));
        }
        // `ALTER COLUMN c TYPE t COLLATE "x"`: parse without the COLLATE clause.
        if let Some(collate) = w.find(after, "COLLATE") {
            let collation_token = w.tokens.get(collate + 1)?;
            let collation = match &collation_token.token {
                Token::Word(word) => word.value.clone(),
                other => other.to_string(),
            };
            let skip = [w.tokens[collate] as *const _, *collation_token as *const _];
            let rest: Vec<TokenWithSpan> = tokens
                .iter()
                .filter(|t| !skip.contains(&(*t as *const _)))
                .cloned()
                .collect();
            if let Change::AlterTable {
                table,
                only,
                if_exists,
                mut ops,
            } = lower.lower(&parse_tokens(lower, rest)?)
            {
                for op in &mut ops {
                    if let AlterOp::AlterColumnType { collation: c, .. } = op {
                        *c = Some(collation.clone());
                    }
                }
                return Some(Change::AlterTable {
                    table,
                    only,
                    if_exists,
                    ops,
                });
            }
        }
        return None;
    }
    None
}

fn alter(table: QualName, only: bool, op: AlterOp) -> Change {
    Change::AlterTable {
        table,
        only,
        if_exists: false,
        ops: vec![op],
    }
}

/// PostgreSQL 18's `GENERATED ALWAYS AS (e) VIRTUAL`, or the form with neither `STORED` nor
/// `VIRTUAL` (virtual from 18), in `CREATE TABLE` / `ALTER TABLE … ADD COLUMN`: sqlparser wants
/// `STORED`, so the statement is parsed with it and each such column marked back
/// (`Some(false)` for `VIRTUAL`, `None` when unsaid).
fn generated_virtual(lower: &Lowerer, tokens: &[TokenWithSpan]) -> Option<Change> {
    let is_kw = |t: &TokenWithSpan, kw: &str| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw));
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_) | Token::EOF))
        .collect();
    // Per `GENERATED ALWAYS AS (…)`, in order: what follows the expression.
    let mut marks: Vec<Option<bool>> = Vec::new();
    let mut replace: Vec<usize> = Vec::new();
    let mut insert_after: Vec<usize> = Vec::new();
    let mut k = 0;
    while k + 3 < significant.len() {
        let at = |j: usize| &tokens[significant[j]];
        if !(is_kw(at(k), "GENERATED")
            && is_kw(at(k + 1), "ALWAYS")
            && is_kw(at(k + 2), "AS")
            && matches!(at(k + 3).token, Token::LParen))
        {
            k += 1;
            continue;
        }
        let mut depth = 0usize;
        let mut close = None;
        for j in k + 3..significant.len() {
            match at(j).token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        close = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close?;
        match significant.get(close + 1).map(|&i| &tokens[i]) {
            Some(t) if is_kw(t, "STORED") => marks.push(Some(true)),
            Some(t) if is_kw(t, "VIRTUAL") => {
                marks.push(Some(false));
                replace.push(significant[close + 1]);
            }
            _ => {
                marks.push(None);
                insert_after.push(significant[close]);
            }
        }
        k = close + 1;
    }
    if replace.is_empty() && insert_after.is_empty() {
        return None;
    }
    let mut rewritten = Vec::with_capacity(tokens.len() + insert_after.len() * 2);
    for (i, t) in tokens.iter().enumerate() {
        if replace.contains(&i) {
            rewritten.push(TokenWithSpan {
                token: Token::make_keyword("STORED"),
                span: t.span,
            });
            continue;
        }
        rewritten.push(t.clone());
        if insert_after.contains(&i) {
            rewritten.push(TokenWithSpan {
                token: Token::Whitespace(sqlparser::tokenizer::Whitespace::Space),
                span: t.span,
            });
            rewritten.push(TokenWithSpan {
                token: Token::make_keyword("STORED"),
                span: t.span,
            });
        }
    }
    let mut change = lower.lower(&parse_tokens(lower, rewritten)?);
    let mut marks = marks.into_iter();
    let mut mark = |spec: &mut crate::change::ColumnSpec| {
        if let Some(g) = &mut spec.generated {
            g.stored = marks.next().flatten();
        }
    };
    match &mut change {
        Change::CreateTable(ct) => ct.columns.iter_mut().for_each(&mut mark),
        Change::AlterTable { ops, .. } => {
            for op in ops {
                if let AlterOp::AddColumn { column, .. } = op {
                    mark(column);
                }
            }
        }
        _ => return None,
    }
    Some(change)
}
