//! The SQL front end: a phase file → statements with spans, each lowered to a [`Change`], plus
//! the `-- concertina:` annotations written between them.

mod fallback;
mod lower;
mod split;

use sqlparser::parser::Parser;

pub use lower::Lowerer;
pub use split::{split, GapComment, RawStatement, SplitFile};

use crate::change::{Change, QualName};
use crate::dialect::Dialect;
use crate::source::SourceFile;

/// `-- concertina:allow(rule-id[, rule-id]): reason` above a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub rules: Vec<String>,
    pub reason: Option<String>,
    pub line: usize,
    pub column: usize,
}

/// `-- concertina:renames(table.old -> table.new)`: a data move the transition types honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub table: QualName,
    pub from: String,
    pub to: String,
    pub line: usize,
}

/// A malformed annotation: reported as a diagnostic at its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationProblem {
    pub line: usize,
    pub column: usize,
    pub rule: &'static str,
    pub is_error: bool,
    pub message: String,
    pub help: String,
}

#[derive(Debug, Clone)]
pub struct Statement {
    /// Byte range in the file, without the terminator.
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub column: usize,
    pub change: Change,
    /// Why the statement is opaque: the parser's message.
    pub unparsed: Option<String>,
    pub allows: Vec<Allow>,
}

impl Statement {
    pub fn text<'a>(&self, file: &'a SourceFile) -> &'a str {
        &file.text[self.start..self.end]
    }
}

#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    pub statements: Vec<Statement>,
    pub renames: Vec<Rename>,
    /// Allows after the last statement: they suppress nothing.
    pub dangling_allows: Vec<Allow>,
    pub problems: Vec<AnnotationProblem>,
}

/// Parses a whole phase file. Never fails: what is not understood becomes an opaque statement.
pub fn parse_file(file: &SourceFile, dialect: &dyn Dialect) -> ParsedFile {
    let split = split(file, dialect);
    let lowerer = Lowerer { dialect };
    let mut out = ParsedFile::default();
    for raw in split.statements {
        let (line, column) = file.line_col(raw.start);
        let allows = annotations(&raw.leading_comments, file, dialect, &mut out);
        let (change, unparsed) = match raw.unparsable {
            Some(reason) => (
                Change::Opaque {
                    reason: reason.clone(),
                },
                Some(reason),
            ),
            None => lower_tokens(&lowerer, raw.tokens, &file.text[raw.start..raw.end]),
        };
        out.statements.push(Statement {
            start: raw.start,
            end: raw.end,
            line,
            column,
            change,
            unparsed,
            allows,
        });
    }
    let trailing = annotations(&split.trailing_comments, file, dialect, &mut out);
    out.dangling_allows = trailing;
    out
}

fn lower_tokens(
    lowerer: &Lowerer,
    tokens: Vec<sqlparser::tokenizer::TokenWithSpan>,
    text: &str,
) -> (Change, Option<String>) {
    let parsed = Parser::new(lowerer.dialect.parser())
        .with_tokens_with_locations(tokens)
        .parse_statements();
    // The parser consumed the tokens; the rare fallback re-tokenises the statement's text.
    let retokenize = || {
        sqlparser::tokenizer::Tokenizer::new(lowerer.dialect.parser(), text)
            .tokenize_with_location()
            .unwrap_or_default()
    };
    match parsed {
        Ok(stmts) if stmts.len() == 1 => (lowerer.lower(&stmts[0]), None),
        Ok(stmts) => {
            let reason = format!("parsed as {} statements, expected one", stmts.len());
            match fallback::recognize(lowerer, &retokenize()) {
                Some(change) => (change, None),
                None => (
                    Change::Opaque {
                        reason: reason.clone(),
                    },
                    Some(reason),
                ),
            }
        }
        Err(e) => match fallback::recognize(lowerer, &retokenize()) {
            Some(change) => (change, None),
            None => {
                let reason = e.to_string();
                let reason = reason
                    .strip_prefix("sql parser error: ")
                    .unwrap_or(&reason)
                    .to_string();
                (
                    Change::Opaque {
                        reason: reason.clone(),
                    },
                    Some(reason),
                )
            }
        },
    }
}

const DIRECTIVE: &str = "concertina:";

fn annotations(
    comments: &[GapComment],
    file: &SourceFile,
    dialect: &dyn Dialect,
    out: &mut ParsedFile,
) -> Vec<Allow> {
    let mut allows = Vec::new();
    for c in comments {
        let text = c.text.trim();
        let Some(directive) = text.strip_prefix(DIRECTIVE) else {
            continue;
        };
        let (_, column) = file.line_col(c.offset);
        let problem = |message: String, help: &str, is_error: bool| AnnotationProblem {
            line: c.line,
            column,
            rule: "bad-annotation",
            is_error,
            message,
            help: help.to_string(),
        };
        let directive = directive.trim();
        if let Some(rest) = directive.strip_prefix("allow(") {
            let Some((ids, after)) = rest.split_once(')') else {
                out.problems.push(problem(
                    "`concertina:allow(` is not closed".into(),
                    "write `-- concertina:allow(rule-id): why this is safe here`",
                    true,
                ));
                continue;
            };
            let rules: Vec<String> = ids
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let reason = after
                .trim()
                .strip_prefix(':')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string);
            if rules.is_empty() {
                out.problems.push(problem(
                    "`concertina:allow()` names no rule".into(),
                    "write `-- concertina:allow(rule-id): why this is safe here`",
                    true,
                ));
                continue;
            }
            if reason.is_none() {
                out.problems.push(AnnotationProblem {
                    rule: "allow-without-reason",
                    ..problem(
                        format!("`concertina:allow({})` gives no reason", rules.join(", ")),
                        "say why the statement is safe here: `-- concertina:allow(rule-id): table is empty at this point`",
                        true,
                    )
                });
            }
            allows.push(Allow {
                rules,
                reason,
                line: c.line,
                column,
            });
        } else if let Some(rest) = directive.strip_prefix("renames(") {
            match parse_rename(rest, dialect) {
                Some((table, from, to)) => out.renames.push(Rename {
                    table,
                    from,
                    to,
                    line: c.line,
                }),
                None => out.problems.push(problem(
                    format!("cannot read `concertina:{directive}`"),
                    "write `-- concertina:renames(table.old_column -> table.new_column)`",
                    true,
                )),
            }
        } else {
            out.problems.push(problem(
                format!("unknown annotation `concertina:{directive}`"),
                "known annotations: `concertina:allow(rule-id): reason`, `concertina:renames(t.old -> t.new)`",
                false,
            ));
        }
    }
    allows
}

fn parse_rename(rest: &str, dialect: &dyn Dialect) -> Option<(QualName, String, String)> {
    let (inner, _) = rest.split_once(')')?;
    let (left, right) = inner.split_once("->")?;
    let split = |side: &str| -> Option<(String, String)> {
        let side = side.trim();
        let (table, column) = side.rsplit_once('.')?;
        let norm = |s: &str| {
            let quoted = s.starts_with('"') || s.starts_with('`');
            dialect.normalize_ident(s.trim_matches(['"', '`']), quoted)
        };
        (!table.is_empty() && !column.is_empty()).then(|| (table.to_string(), norm(column)))
    };
    let (lt, from) = split(left)?;
    let (rt, to) = split(right)?;
    let qual = |t: &str| {
        let norm = |s: &str| {
            let quoted = s.starts_with('"') || s.starts_with('`');
            dialect.normalize_ident(s.trim_matches(['"', '`']), quoted)
        };
        match t.rsplit_once('.') {
            Some((s, n)) => QualName::new(norm(s), norm(n)),
            None => QualName::new(dialect.default_schema(), norm(t)),
        }
    };
    let table = qual(&lt);
    (table == qual(&rt)).then_some((table, from, to))
}
