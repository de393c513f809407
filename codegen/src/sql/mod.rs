//! The SQL front end: a phase file → statements with spans, each lowered to a [`Change`], plus
//! the `-- concertina:` annotations written between them.

mod fallback;
mod forms;
mod lower;
mod split;
pub mod words;

use sqlparser::parser::Parser;

pub use lower::Lowerer;
pub use split::{split, GapComment, LexicalError, RawStatement, SplitFile};

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
    /// The statement holds a token that is never closed (reported as `unterminated-token`, an
    /// error, rather than as `unparsed-statement`).
    pub unterminated: bool,
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
        let unterminated = raw.lexical_error.as_ref().is_some_and(|e| e.unterminated);
        if let Some(error) = raw.lexical_error.as_ref().filter(|e| e.unterminated) {
            out.problems.push(unterminated_problem(file, error));
        }
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
            unterminated,
            allows,
        });
    }
    let trailing = annotations(&split.trailing_comments, file, dialect, &mut out);
    out.dangling_allows = trailing;
    out
}

/// The id of the error for a token that is never closed.
pub const UNTERMINATED_TOKEN: &str = "unterminated-token";

fn unterminated_problem(file: &SourceFile, error: &LexicalError) -> AnnotationProblem {
    let (line, column) = file.line_col(error.offset);
    let rest = &file.text[error.offset..];
    let what = if rest.starts_with("/*") {
        "block comment `/*`".to_string()
    } else if rest.starts_with('$') {
        let tag: String = rest.chars().skip(1).take_while(|c| *c != '$').collect();
        format!("dollar quote `${tag}$`")
    } else if rest.starts_with(['"', '`', '[']) {
        format!("quoted identifier `{}`", &rest[..1])
    } else {
        let prefix: String = rest.chars().take_while(|c| *c != '\'').take(3).collect();
        format!("string `{prefix}'`")
    };
    AnnotationProblem {
        line,
        column,
        rule: UNTERMINATED_TOKEN,
        is_error: true,
        message: format!(
            "the {what} that starts here is never closed ({}): the rest of the file is inside it, so no statement after it is checked, and the server would read the runtime's own SQL after it as part of it",
            error.message
        ),
        help: "close it where it is meant to end (`'`, `\"`, the same `$tag$`, `*/`), or double a quote that is part of the text (`'it''s'`)".into(),
    }
}

fn lower_tokens(
    lowerer: &Lowerer,
    tokens: Vec<sqlparser::tokenizer::TokenWithSpan>,
    text: &str,
) -> (Change, Option<String>) {
    if let Some(change) = forms::procedural_outside_block(lowerer, &tokens) {
        return (change, None);
    }
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
            match recognize(lowerer, &retokenize()) {
                Some(change) => (change, None),
                None => (
                    Change::Opaque {
                        reason: reason.clone(),
                    },
                    Some(reason),
                ),
            }
        }
        Err(e) => match recognize(lowerer, &retokenize()) {
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

/// The token-level forms: `fallback`'s, then `forms`'.
fn recognize(lowerer: &Lowerer, tokens: &[sqlparser::tokenizer::TokenWithSpan]) -> Option<Change> {
    fallback::recognize(lowerer, tokens).or_else(|| forms::recognize(lowerer, tokens))
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
            dialect.normalize_object(s.trim_matches(['"', '`']), quoted)
        };
        match t.rsplit_once('.') {
            Some((s, n)) => QualName::new(norm(s), norm(n)),
            None => QualName::new(dialect.default_schema(), norm(t)),
        }
    };
    let table = qual(&lt);
    (table == qual(&rt)).then_some((table, from, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{AlterOp, ObjectKind};
    use crate::dialect::DialectKind;

    fn parse(text: &str, dialect: DialectKind) -> ParsedFile {
        let file = SourceFile::new("f.sql", "f.sql".into(), text.to_string());
        parse_file(&file, dialect.dialect())
    }

    fn texts(text: &str, dialect: DialectKind) -> Vec<String> {
        let file = SourceFile::new("f.sql", "f.sql".into(), text.to_string());
        parse_file(&file, dialect.dialect())
            .statements
            .iter()
            .map(|s| s.text(&file).to_string())
            .collect()
    }

    #[test]
    fn semicolons_inside_strings_comments_and_dollar_quotes_do_not_split() {
        let sql = "SELECT 'a;b';\n-- c;d\nSELECT $$ x; y $$;\n/* e; /* nested; */ f; */ SELECT 2;\nSELECT $tag$ ; $tag$";
        assert_eq!(
            texts(sql, DialectKind::Postgres),
            vec![
                "SELECT 'a;b'",
                "SELECT $$ x; y $$",
                "SELECT 2",
                "SELECT $tag$ ; $tag$"
            ]
        );
    }

    #[test]
    fn do_blocks_and_function_bodies_stay_whole() {
        let sql = "DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 1 END; END;\nSELECT 3;";
        let t = texts(sql, DialectKind::Postgres);
        assert_eq!(t.len(), 3, "{t:?}");
        assert!(t[1].ends_with("END"), "{t:?}");
        let parsed = parse(sql, DialectKind::Postgres);
        assert_eq!(parsed.statements[0].change, Change::ProceduralBlock);
    }

    #[test]
    fn spans_point_at_the_statement_start() {
        let parsed = parse(
            "\n\n  -- note\n  ALTER TABLE a ADD COLUMN b int;\nSELECT 1;",
            DialectKind::Postgres,
        );
        assert_eq!(
            (parsed.statements[0].line, parsed.statements[0].column),
            (4, 3)
        );
        assert_eq!(
            (parsed.statements[1].line, parsed.statements[1].column),
            (5, 1)
        );
    }

    #[test]
    fn mysql_delimiter_blocks_are_kept_whole_and_opaque() {
        let sql = "CREATE TABLE t (id int);\nDELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END //\nDELIMITER ;\nALTER TABLE t ADD COLUMN b int;";
        let parsed = parse(sql, DialectKind::MySql);
        assert_eq!(parsed.statements.len(), 3, "{:?}", parsed.statements);
        assert!(matches!(parsed.statements[1].change, Change::Opaque { .. }));
        assert!(parsed.statements[1]
            .unparsed
            .as_deref()
            .unwrap_or("")
            .contains("DELIMITER //"));
        assert_eq!(parsed.statements[2].line, 5);
        assert!(matches!(
            parsed.statements[2].change,
            Change::AlterTable { .. }
        ));
    }

    /// (file, dialect, line and column of the unterminated token, what the message names)
    const UNTERMINATED: &[(&str, DialectKind, (usize, usize), &str)] = &[
        (
            "CREATE TABLE a (id int);\nSELECT $$ x;\nSELECT 2;\n",
            DialectKind::Postgres,
            (2, 8),
            "dollar quote `$$`",
        ),
        (
            "CREATE TABLE a (id int);\nDO $body$ BEGIN PERFORM 1; END $bod$;\n",
            DialectKind::Postgres,
            (2, 4),
            "dollar quote `$body$`",
        ),
        (
            "CREATE TABLE a (id int);\nSELECT 1;\n  /* open\nSELECT 2;\n",
            DialectKind::Postgres,
            (3, 3),
            "block comment",
        ),
        (
            "CREATE TABLE a (id int);\nSELECT 'oops;\nSELECT 2;",
            DialectKind::Postgres,
            (2, 8),
            "string `'`",
        ),
        (
            "CREATE TABLE a (id int);\nSELECT E'a\\'b;\n",
            DialectKind::Postgres,
            (2, 8),
            "string `E'`",
        ),
        (
            "CREATE TABLE a (id int);\nALTER TABLE a ADD COLUMN \"b int;\n",
            DialectKind::Postgres,
            (2, 26),
            "quoted identifier",
        ),
        (
            "CREATE TABLE a (id int);\nALTER TABLE a ADD COLUMN `b int;\n",
            DialectKind::MySql,
            (2, 26),
            "quoted identifier",
        ),
        (
            "CREATE TABLE a (id int);\nSELECT 'it\\'s;\nSELECT 2;\n",
            DialectKind::MariaDb,
            (2, 8),
            "string `'`",
        ),
        (
            "CREATE TABLE a (id int);\n/* open\n",
            DialectKind::MySql,
            (2, 1),
            "block comment",
        ),
    ];

    #[test]
    fn an_unterminated_token_is_an_error_at_its_start_and_what_precedes_is_kept() {
        for (sql, dialect, at, what) in UNTERMINATED {
            let parsed = parse(sql, *dialect);
            assert!(
                matches!(parsed.statements[0].change, Change::CreateTable(_)),
                "{sql:?}: {:?}",
                parsed.statements
            );
            let last = parsed.statements.last().expect("statements");
            assert!(last.unterminated && last.unparsed.is_some(), "{sql:?}");
            assert_eq!(parsed.problems.len(), 1, "{sql:?}: {:?}", parsed.problems);
            let p = &parsed.problems[0];
            assert_eq!(p.rule, UNTERMINATED_TOKEN);
            assert!(p.is_error);
            assert_eq!((p.line, p.column), *at, "{sql:?}: {}", p.message);
            assert!(p.message.contains(what), "{sql:?}: {}", p.message);
            assert!(!p.help.is_empty());
        }
    }

    #[test]
    fn closed_tokens_are_not_unterminated() {
        let parsed = parse("SELECT $$ a $$, '/*', \"x\";\n", DialectKind::Postgres);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert!(!parsed.statements[0].unterminated);
    }

    #[test]
    fn unparsable_statement_is_opaque_with_the_parser_message() {
        let parsed = parse("ALTER TABLE a FROBNICATE;", DialectKind::Postgres);
        let reason = parsed.statements[0].unparsed.as_deref().unwrap_or_default();
        assert!(reason.contains("FROBNICATE"), "{reason}");
    }

    #[test]
    fn fallback_recognises_postgres_forms_the_parser_lacks() {
        let parsed = parse(
            "DROP INDEX CONCURRENTLY IF EXISTS a_idx, b_idx;\nREINDEX INDEX CONCURRENTLY a_idx;\nCLUSTER t USING i;\nALTER TABLE t SET TABLESPACE x;\nALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0) NOT VALID;\nCREATE INDEX p_idx ON ONLY p (a);\nALTER TABLE t ALTER COLUMN c TYPE text COLLATE \"C\";",
            DialectKind::Postgres,
        );
        let changes: Vec<&Change> = parsed.statements.iter().map(|s| &s.change).collect();
        assert!(
            parsed.statements.iter().all(|s| s.unparsed.is_none()),
            "{changes:?}"
        );
        assert!(
            matches!(changes[0], Change::DropObjects { kind: ObjectKind::Index, concurrently: true, names, .. } if names.len() == 2)
        );
        assert!(matches!(
            changes[1],
            Change::Reindex {
                concurrently: true,
                ..
            }
        ));
        assert!(matches!(changes[2], Change::RewriteTable { .. }));
        assert!(
            matches!(changes[3], Change::AlterTable { ops, .. } if matches!(ops[0], AlterOp::Rewrite { .. }))
        );
        assert!(matches!(
            changes[4],
            Change::AlterDomainAddConstraint {
                not_valid: true,
                ..
            }
        ));
        assert!(matches!(changes[5], Change::CreateIndex(ci) if ci.only));
        assert!(
            matches!(changes[6], Change::AlterTable { ops, .. } if matches!(&ops[0], AlterOp::AlterColumnType { collation: Some(c), .. } if c == "C"))
        );
    }

    #[test]
    fn identifiers_follow_the_dialect_case_rules() {
        let parsed = parse(
            "ALTER TABLE Sales.\"Users\" ADD COLUMN \"Email\" text, ADD COLUMN Name text;",
            DialectKind::Postgres,
        );
        let Change::AlterTable { table, ops, .. } = &parsed.statements[0].change else {
            panic!("not an ALTER TABLE");
        };
        assert_eq!(
            (table.schema.as_str(), table.name.as_str()),
            ("sales", "Users")
        );
        let names: Vec<&str> = ops
            .iter()
            .filter_map(|o| match o {
                AlterOp::AddColumn { column, .. } => Some(column.name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["Email", "name"]);
        let parsed = parse(
            "ALTER TABLE `Users` ADD COLUMN `Email` text;",
            DialectKind::MySql,
        );
        let Change::AlterTable { table, ops, .. } = &parsed.statements[0].change else {
            panic!("not an ALTER TABLE");
        };
        // Table names are file names on Linux (`lower_case_table_names=0`): case kept.
        assert_eq!((table.schema.as_str(), table.name.as_str()), ("", "Users"));
        assert!(
            matches!(&ops[0], AlterOp::AddColumn { column, .. } if column.name == "email"),
            "{ops:?}"
        );
    }

    #[test]
    fn annotations_are_read() {
        let parsed = parse(
            "-- concertina:allow(index-not-concurrent, lock-table): tiny table\nCREATE INDEX i ON t (a);\n-- concertina:allow(lock-table)\nSELECT 1;\n-- concertina:renames(users.name -> users.full_name)\n-- concertina:whatever\nSELECT 2;\n-- concertina:allow(truncate-table): trailing",
            DialectKind::Postgres,
        );
        let allow = &parsed.statements[0].allows[0];
        assert_eq!(allow.rules, ["index-not-concurrent", "lock-table"]);
        assert_eq!(allow.reason.as_deref(), Some("tiny table"));
        assert_eq!(parsed.statements[1].allows[0].reason, None);
        assert_eq!(parsed.renames.len(), 1);
        assert_eq!(
            (
                parsed.renames[0].table.name.as_str(),
                parsed.renames[0].from.as_str(),
                parsed.renames[0].to.as_str()
            ),
            ("users", "name", "full_name")
        );
        let rules: Vec<&str> = parsed.problems.iter().map(|p| p.rule).collect();
        assert_eq!(rules, ["allow-without-reason", "bad-annotation"]);
        assert_eq!(parsed.dangling_allows.len(), 1);
    }
}
