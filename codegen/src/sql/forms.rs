//! Valid statements sqlparser 0.64 refuses, recognised on tokens (after `fallback`'s forms):
//! some are rewritten without the clause the parser lacks and handed back to it, the rest are
//! recognised as forms with no effect on the model.
//!
//! PostgreSQL: `CONSTRAINT c NOT NULL col` table elements of `CREATE TABLE` (pg_dump 18),
//! `COMMENT ON AGGREGATE|CONSTRAINT|FUNCTION f(args) …`, `DROP AGGREGATE`,
//! `ALTER TABLE … ALTER CONSTRAINT c [NOT] DEFERRABLE …`, `CREATE|DROP STATISTICS`,
//! `CREATE MATERIALIZED VIEW … WITH [NO] DATA`, `ALTER INDEX IF EXISTS i RENAME TO j`,
//! `CREATE FUNCTION … COST n ROWS n`, `CREATE TABLE … USING heap` and columns' `COMPRESSION` /
//! `STORAGE`. MySQL: the `BINARY` attribute of a text column type,
//! `PREPARE s FROM …` and `DROP PREPARE s`.
//!
//! Dynamic SQL in MySQL (`SET @s = '…'; PREPARE s FROM @s; EXECUTE s; DEALLOCATE PREPARE s;`)
//! is opaque by design. `PREPARE` and `DEALLOCATE` only name a statement text: no schema
//! effect. `EXECUTE` runs that text, which may be DDL, so it is lowered as procedural code
//! (`Change::ProceduralBlock`, see `sql::lower`): in backfill.sql `ddl-in-backfill` flags it
//! as it flags a `DO` block (the runtime cannot batch it, and each batch runs in its own
//! session, where the prepared statement does not exist). PostgreSQL's `EXECUTE s(…)` stays
//! a statement without schema effect: its `PREPARE` accepts only queries and data changes.
//!
//! Also here: PL/pgSQL statements written outside a `DO` block or function body
//! ([`procedural_outside_block`]), which the server refuses (`procedural-outside-block`).

use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::fallback::{parse_tokens, Words};
use super::lower::Lowerer;
use crate::change::{AlterOp, Change, ColumnSpec, ConstraintKind, ConstraintSpec, ObjectKind};
use crate::dialect::DialectKind;

/// A PL/pgSQL statement outside a block: `RAISE`, `PERFORM`, `ASSERT`, `GET DIAGNOSTICS`,
/// `RETURN`, control flow (`IF`, `LOOP`, `END IF`, …), `EXECUTE '…'` (dynamic SQL; the SQL
/// command `EXECUTE` takes a prepared statement's name). PostgreSQL only: MySQL's procedural
/// statements live in `DELIMITER` blocks, kept whole. Checked before the parser, which reads
/// some `RAISE` forms as a statement of another dialect.
pub fn procedural_outside_block(lower: &Lowerer, tokens: &[TokenWithSpan]) -> Option<Change> {
    if lower.dialect.kind() != DialectKind::Postgres {
        return None;
    }
    let w = Words::new(tokens);
    let first = w.kw(0)?;
    let what = match first.as_str() {
        "RAISE" => match w.kw(1) {
            Some(level)
                if matches!(
                    level.as_str(),
                    "DEBUG" | "LOG" | "INFO" | "NOTICE" | "WARNING" | "EXCEPTION"
                ) =>
            {
                format!("RAISE {level}")
            }
            _ => first,
        },
        "PERFORM" | "ASSERT" | "RETURN" | "IF" | "ELSIF" | "ELSEIF" | "LOOP" | "WHILE" | "FOR"
        | "FOREACH" | "EXIT" | "CONTINUE" => first,
        "GET" if w.find(1, "DIAGNOSTICS").is_some_and(|i| i <= 2) => "GET DIAGNOSTICS".into(),
        "END" if w.is(1, "IF") || w.is(1, "LOOP") || w.is(1, "CASE") => {
            format!("END {}", w.kw(1)?)
        }
        "EXECUTE" if is_string(w.tokens.get(1).map(|t| &t.token)) => "EXECUTE '…'".into(),
        _ => return None,
    };
    Some(Change::ProceduralOutsideBlock { what })
}

/// Recognises a statement sqlparser refused. `None` when the shape is unknown.
pub fn recognize(lower: &Lowerer, tokens: &[TokenWithSpan]) -> Option<Change> {
    let w = Words::new(tokens);
    if lower.dialect.kind() != DialectKind::Postgres {
        return mysql(lower, tokens, &w);
    }
    if w.starts(&["COMMENT", "ON"]) {
        return comment_on(&w);
    }
    if w.starts(&["DROP", "AGGREGATE"]) {
        return drop_aggregate(lower, &w);
    }
    if w.starts(&["CREATE", "STATISTICS"]) {
        let on = w.find(2, "ON")?;
        let from = w.find(on, "FROM")?;
        let (_, end) = w.name(lower, from + 1)?;
        return (end == w.tokens.len()).then(|| no_effect("CREATE STATISTICS"));
    }
    if w.starts(&["DROP", "STATISTICS"]) {
        let end = name_list(lower, &w, w.skip_if_exists(2), false)?.1;
        return ends_with_behaviour(&w, end).then(|| no_effect("DROP STATISTICS"));
    }
    if w.starts(&["ALTER", "INDEX"]) {
        let at = w.skip_if_exists(2);
        let (from, after) = w.name(lower, at)?;
        return (w.is(after, "RENAME") && w.is(after + 1, "TO") && w.tokens.len() == after + 3)
            .then(|| {
                Some(Change::RenameIndex {
                    from,
                    to: ident(lower, &w, after + 2)?,
                    if_exists: at > 2,
                })
            })
            .flatten();
    }
    if w.starts(&["ALTER", "TABLE"]) {
        return alter_constraint(lower, &w);
    }
    if w.starts(&["CREATE"]) {
        return create_table_not_null(lower, tokens, &w)
            .or_else(|| create_table_storage(lower, tokens, &w))
            .or_else(|| materialized_view_with_data(lower, tokens, &w))
            .or_else(|| function_cost_rows(lower, tokens, &w));
    }
    None
}

fn no_effect(what: &str) -> Change {
    Change::NoSchemaEffect { what: what.into() }
}

fn is_string(token: Option<&Token>) -> bool {
    matches!(
        token,
        Some(
            Token::SingleQuotedString(_)
                | Token::EscapedStringLiteral(_)
                | Token::DollarQuotedString(_)
                | Token::NationalStringLiteral(_)
        )
    )
}

fn token<'a>(w: &'a Words, i: usize) -> Option<&'a Token> {
    w.tokens.get(i).map(|t| &t.token)
}

/// A (possibly quoted) identifier at `i`, normalised.
fn ident(lower: &Lowerer, w: &Words, i: usize) -> Option<String> {
    match token(w, i)? {
        Token::Word(word) => Some(
            lower
                .dialect
                .normalize_ident(&word.value, word.quote_style.is_some()),
        ),
        _ => None,
    }
}

/// The index of the `)` closing the `(` at `open`.
fn close_paren(w: &Words, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for i in open..w.tokens.len() {
        match w.tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `name [(args)] [, …]` from `i`: the names and the index after the list.
fn name_list(
    lower: &Lowerer,
    w: &Words,
    mut i: usize,
    with_args: bool,
) -> Option<(Vec<crate::change::QualName>, usize)> {
    let mut names = Vec::new();
    loop {
        let (name, next) = w.name(lower, i)?;
        names.push(name);
        i = next;
        if with_args && matches!(token(w, i), Some(Token::LParen)) {
            i = close_paren(w, i)? + 1;
        }
        if matches!(token(w, i), Some(Token::Comma)) {
            i += 1;
        } else {
            return Some((names, i));
        }
    }
}

/// The statement ends at `end`, or with `CASCADE` / `RESTRICT` there.
fn ends_with_behaviour(w: &Words, end: usize) -> bool {
    let len = w.tokens.len();
    end == len || (end + 1 == len && (w.is(end, "CASCADE") || w.is(end, "RESTRICT")))
}

/// `COMMENT ON <any object, with argument lists or `ON table`> IS 'text' | NULL`.
fn comment_on(w: &Words) -> Option<Change> {
    let n = w.tokens.len();
    let text = is_string(token(w, n.checked_sub(1)?)) || w.is(n - 1, "NULL");
    (n >= 5 && text && w.is(n - 2, "IS")).then(|| no_effect("COMMENT ON"))
}

/// `DROP AGGREGATE [IF EXISTS] a(args) [, …] [CASCADE | RESTRICT]`. Aggregates are functions
/// the model does not track (it reads no `CREATE AGGREGATE`): an object of another kind.
fn drop_aggregate(lower: &Lowerer, w: &Words) -> Option<Change> {
    let (names, end) = name_list(lower, w, w.skip_if_exists(2), true)?;
    ends_with_behaviour(w, end).then(|| Change::DropObjects {
        kind: ObjectKind::Other,
        names,
        if_exists: w.is(2, "IF"),
        cascade: w.is(end, "CASCADE"),
        concurrently: false,
    })
}

/// `ALTER TABLE t ALTER CONSTRAINT c [NOT] DEFERRABLE [INITIALLY DEFERRED | IMMEDIATE]`: when a
/// constraint is checked changes, nothing the model tracks.
fn alter_constraint(lower: &Lowerer, w: &Words) -> Option<Change> {
    let mut i = w.skip_if_exists(2);
    let only = w.is(i, "ONLY");
    if only {
        i += 1;
    }
    let (table, after) = w.name(lower, i)?;
    if !(w.is(after, "ALTER") && w.is(after + 1, "CONSTRAINT")) {
        return None;
    }
    let name = ident(lower, w, after + 2)?;
    let rest = after + 3..w.tokens.len();
    let timing = |i: usize| {
        ["NOT", "DEFERRABLE", "INITIALLY", "DEFERRED", "IMMEDIATE"]
            .iter()
            .any(|k| w.is(i, k))
    };
    (!rest.is_empty() && rest.clone().all(timing)).then(|| Change::AlterTable {
        table,
        only,
        if_exists: w.is(2, "IF"),
        ops: vec![AlterOp::Other {
            text: format!("ALTER CONSTRAINT {name} (deferrability)"),
        }],
    })
}

/// `CREATE TABLE` with PostgreSQL 18 `[CONSTRAINT c] NOT NULL col [NO INHERIT]` elements (as
/// pg_dump 18 writes them): parsed without them, then each added as a not-null constraint,
/// which the model applies as the column becoming `NOT NULL`.
fn create_table_not_null(lower: &Lowerer, tokens: &[TokenWithSpan], w: &Words) -> Option<Change> {
    let table_at = w.find(1, "TABLE")?;
    let open = (table_at..w.tokens.len()).find(|&i| matches!(token(w, i), Some(Token::LParen)))?;
    let close = close_paren(w, open)?;
    let mut skip: Vec<&TokenWithSpan> = Vec::new();
    let mut specs = Vec::new();
    let mut depth = 0usize;
    let mut i = open;
    while i < close {
        match token(w, i)? {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        let separator = i == open || (depth == 1 && matches!(token(w, i), Some(Token::Comma)));
        if !separator {
            i += 1;
            continue;
        }
        let start = i + 1;
        let (name, at) = if w.is(start, "CONSTRAINT") {
            (Some(ident(lower, w, start + 1)?), start + 2)
        } else {
            (None, start)
        };
        if !(w.is(at, "NOT") && w.is(at + 1, "NULL")) {
            i += 1;
            continue;
        }
        let Some(column) = ident(lower, w, at + 2) else {
            i += 1;
            continue;
        };
        let mut end = at + 3;
        if w.is(end, "NO") && w.is(end + 1, "INHERIT") {
            end += 2;
        }
        let ends_element = matches!(token(w, end), Some(Token::Comma | Token::RParen));
        if !ends_element {
            i += 1;
            continue;
        }
        // Drop the element with one separator: the comma before it, or after the first one.
        let range = if i == open {
            start..if end < close { end + 1 } else { end }
        } else {
            i..end
        };
        skip.extend(range.map(|k| w.tokens[k]));
        specs.push(ConstraintSpec {
            name,
            kind: ConstraintKind::NotNull { column },
            not_valid: false,
        });
        i = end;
    }
    if specs.is_empty() {
        return None;
    }
    match lower.lower(&parse_tokens(lower, without(tokens, &skip))?) {
        Change::CreateTable(mut ct) => {
            ct.constraints.extend(specs);
            Some(Change::CreateTable(ct))
        }
        _ => None,
    }
}

/// `CREATE TABLE` with storage clauses: a column's `COMPRESSION m` / `STORAGE s` (PostgreSQL
/// 14+ / any), the table's access method `USING heap`. How rows are stored changes nothing the
/// model tracks: parsed without them, so the table and its columns are known.
fn create_table_storage(lower: &Lowerer, tokens: &[TokenWithSpan], w: &Words) -> Option<Change> {
    let table = w.find(1, "TABLE")?;
    if table > 3 {
        return None;
    }
    let mut skip: Vec<&TokenWithSpan> = Vec::new();
    let (mut depth, mut closed) = (0usize, false);
    for i in table..w.tokens.len() {
        match token(w, i)? {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth = depth.saturating_sub(1);
                closed |= depth == 0;
            }
            Token::Word(_) if depth == 1 && (w.is(i, "COMPRESSION") || w.is(i, "STORAGE")) => {
                if matches!(token(w, i + 1), Some(Token::Word(_))) {
                    skip.extend([w.tokens[i], w.tokens[i + 1]]);
                }
            }
            Token::Word(_) if depth == 0 && closed && w.is(i, "USING") => {
                if matches!(token(w, i + 1), Some(Token::Word(_))) {
                    skip.extend([w.tokens[i], w.tokens[i + 1]]);
                }
            }
            _ => {}
        }
    }
    if skip.is_empty() {
        return None;
    }
    match lower.lower(&parse_tokens(lower, without(tokens, &skip))?) {
        change @ Change::CreateTable(_) => Some(change),
        _ => None,
    }
}

/// `CREATE MATERIALIZED VIEW … WITH [NO] DATA`: parsed without the clause. (`WITH NO DATA`
/// leaves it unscannable until refreshed; the model keeps no such state.)
fn materialized_view_with_data(
    lower: &Lowerer,
    tokens: &[TokenWithSpan],
    w: &Words,
) -> Option<Change> {
    let view = w.find(1, "VIEW")?;
    if !w.is(view - 1, "MATERIALIZED") {
        return None;
    }
    let n = w.tokens.len();
    let from = if n >= 3 && w.is(n - 3, "WITH") && w.is(n - 2, "NO") {
        n - 3
    } else if n >= 2 && w.is(n - 2, "WITH") {
        n - 2
    } else {
        return None;
    };
    if !w.is(n - 1, "DATA") {
        return None;
    }
    match lower.lower(&parse_tokens(lower, without(tokens, &w.tokens[from..]))?) {
        change @ Change::CreateView { .. } => Some(change),
        _ => None,
    }
}

/// `CREATE [OR REPLACE] FUNCTION … COST n … ROWS n …` (planner estimates, anywhere among the
/// options): parsed without them. Only options before a `BEGIN ATOMIC` / `RETURN` body count.
fn function_cost_rows(lower: &Lowerer, tokens: &[TokenWithSpan], w: &Words) -> Option<Change> {
    let function = w.find(1, "FUNCTION")?;
    if !(function == 1 || (function == 3 && w.is(1, "OR") && w.is(2, "REPLACE"))) {
        return None;
    }
    let mut skip: Vec<&TokenWithSpan> = Vec::new();
    let mut depth = 0usize;
    for i in function..w.tokens.len() {
        match token(w, i)? {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            _ if w.is(i, "BEGIN") || w.is(i, "RETURN") => break,
            _ if (w.is(i, "COST") || w.is(i, "ROWS"))
                && matches!(token(w, i + 1), Some(Token::Number(..))) =>
            {
                skip.extend([w.tokens[i], w.tokens[i + 1]]);
            }
            _ => {}
        }
    }
    if skip.is_empty() {
        return None;
    }
    match lower.lower(&parse_tokens(lower, without(tokens, &skip))?) {
        change @ Change::CreateFunction { .. } => Some(change),
        _ => None,
    }
}

/// MySQL and MariaDB forms.
fn mysql(lower: &Lowerer, tokens: &[TokenWithSpan], w: &Words) -> Option<Change> {
    // `PREPARE s FROM @var | 'text'`, `DROP PREPARE s` (a synonym of `DEALLOCATE PREPARE`).
    if w.starts(&["PREPARE"]) && w.is(2, "FROM") && w.tokens.len() == 4 {
        return Some(no_effect("PREPARE"));
    }
    if w.starts(&["DROP", "PREPARE"]) && w.tokens.len() == 3 {
        return Some(no_effect("DEALLOCATE PREPARE"));
    }
    if w.starts(&["CREATE"]) || w.starts(&["ALTER", "TABLE"]) {
        return text_type_binary(lower, tokens, w);
    }
    None
}

/// MySQL's `BINARY` attribute of a text type (`VARCHAR(20) BINARY`, `CHAR(3) BINARY
/// CHARACTER SET x COLLATE y`): shorthand for the `_bin` collation of the column's character
/// set. Parsed without it; a column that states its character set and no collation gets
/// that set's `_bin` collation in the model.
fn text_type_binary(lower: &Lowerer, tokens: &[TokenWithSpan], w: &Words) -> Option<Change> {
    const TEXT_TYPES: [&str; 9] = [
        "CHAR",
        "VARCHAR",
        "CHARACTER",
        "NCHAR",
        "NVARCHAR",
        "TINYTEXT",
        "TEXT",
        "MEDIUMTEXT",
        "LONGTEXT",
    ];
    let is_text_type = |i: usize| TEXT_TYPES.iter().any(|t| w.is(i, t));
    let mut skip: Vec<&TokenWithSpan> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for i in 1..w.tokens.len() {
        if !w.is(i, "BINARY") || matches!(token(w, i + 1), Some(Token::LParen)) {
            continue;
        }
        // The type word before it, past its `(length)`.
        let type_at = match token(w, i - 1) {
            Some(Token::RParen) => (0..i - 1)
                .rev()
                .find(|&o| close_paren(w, o) == Some(i - 1))
                .and_then(|o| o.checked_sub(1)),
            _ => Some(i - 1),
        };
        let after_charset =
            i >= 3 && (w.is(i - 2, "CHARSET") || (w.is(i - 3, "CHARACTER") && w.is(i - 2, "SET")));
        match type_at.filter(|&t| is_text_type(t)) {
            Some(t) => {
                if let Some(column) = t.checked_sub(1).and_then(|c| ident(lower, w, c)) {
                    columns.push(column);
                }
            }
            None if after_charset => {}
            None => continue,
        }
        skip.push(w.tokens[i]);
    }
    if skip.is_empty() {
        return None;
    }
    let mut change = lower.lower(&parse_tokens(lower, without(tokens, &skip))?);
    let mark = |spec: &mut ColumnSpec| {
        if columns.contains(&spec.name) && spec.collation.is_none() {
            spec.collation = spec.charset.as_ref().map(|cs| format!("{cs}_bin"));
        }
    };
    match &mut change {
        Change::CreateTable(ct) => ct.columns.iter_mut().for_each(mark),
        Change::AlterTable { ops, .. } => {
            for op in ops {
                match op {
                    AlterOp::AddColumn { column, .. } | AlterOp::ModifyColumn { column, .. } => {
                        mark(column)
                    }
                    _ => {}
                }
            }
        }
        _ => return None,
    }
    Some(change)
}

/// `tokens` without those in `skip` (compared by address: `skip` holds references into it).
fn without(tokens: &[TokenWithSpan], skip: &[&TokenWithSpan]) -> Vec<TokenWithSpan> {
    tokens
        .iter()
        .filter(|t| !skip.iter().any(|s| std::ptr::eq(*t, *s)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::change::{AlterOp, Change, ObjectKind, QualName};
    use crate::dialect::DialectKind;
    use crate::model::Schema;
    use crate::source::SourceFile;
    use crate::sql::{parse_file, ParsedFile};

    fn parse(sql: &str, dialect: DialectKind) -> ParsedFile {
        let file = SourceFile::new("f.sql", "f.sql".into(), sql.to_string());
        parse_file(&file, dialect.dialect())
    }

    /// Each statement's change; fails on an `unparsed-statement` (or several statements).
    fn change(sql: &str, dialect: DialectKind) -> Change {
        let parsed = parse(sql, dialect);
        assert_eq!(parsed.statements.len(), 1, "{sql}");
        let s = &parsed.statements[0];
        assert_eq!(s.unparsed, None, "{sql}: {:?}", s.change);
        s.change.clone()
    }

    fn pg(sql: &str) -> Change {
        change(sql, DialectKind::Postgres)
    }

    /// The model after `sql`, which must replay without warnings or unparsed statements.
    fn replay(sql: &str, dialect: DialectKind) -> Schema {
        let mut schema = Schema {
            dialect,
            ..Schema::default()
        };
        for s in &parse(sql, dialect).statements {
            assert_eq!(s.unparsed, None, "{:?}", s.change);
            let warnings = schema.apply(&s.change);
            assert!(warnings.is_empty(), "{warnings:?}");
        }
        schema
    }

    fn nullable(schema: &Schema, table: &str, column: &str) -> bool {
        let t = &schema.tables[&QualName::new("public", table)];
        t.column(column).expect("column").nullable
    }

    #[test]
    fn create_table_not_null_constraints_make_columns_not_null() {
        let schema = replay(
            "CREATE TABLE public.accounts (\n    id bigint,\n    CONSTRAINT accounts_id_not_null NOT NULL id,\n    email text,\n    note text,\n    NOT NULL email NO INHERIT\n);",
            DialectKind::Postgres,
        );
        assert!(!nullable(&schema, "accounts", "id"));
        assert!(!nullable(&schema, "accounts", "email"));
        assert!(nullable(&schema, "accounts", "note"));
        let t = &schema.tables[&QualName::new("public", "accounts")];
        assert!(t.constraint("accounts_id_not_null").is_some());
        // As the first element, and as the last one.
        let schema = replay(
            "CREATE TABLE a (CONSTRAINT a_x_nn NOT NULL x, x int, y int);\nCREATE TABLE b (z int, NOT NULL z);",
            DialectKind::Postgres,
        );
        assert!(!nullable(&schema, "a", "x"));
        assert!(nullable(&schema, "a", "y"));
        assert!(!nullable(&schema, "b", "z"));
    }

    #[test]
    fn alter_table_add_not_null_constraint_makes_the_column_not_null() {
        let schema = replay(
            "CREATE TABLE t (id int, a int);\nALTER TABLE ONLY t ADD CONSTRAINT t_a_not_null NOT NULL a;",
            DialectKind::Postgres,
        );
        assert!(!nullable(&schema, "t", "a"));
        assert!(nullable(&schema, "t", "id"));
    }

    #[test]
    fn comments_on_aggregates_constraints_and_functions_have_no_schema_effect() {
        for sql in [
            "COMMENT ON AGGREGATE total_of(int4) IS 'sum of the amounts'",
            "COMMENT ON CONSTRAINT orders_amount_check ON orders IS 'positive'",
            "COMMENT ON FUNCTION billing.touch(int4, text) IS $$keeps updated_at$$",
            "COMMENT ON FUNCTION touch(int4) IS NULL",
        ] {
            assert_eq!(
                pg(sql),
                Change::NoSchemaEffect {
                    what: "COMMENT ON".into()
                },
                "{sql}"
            );
        }
    }

    #[test]
    fn drop_aggregate_is_a_drop() {
        let Change::DropObjects {
            kind,
            names,
            if_exists,
            cascade,
            ..
        } = pg("DROP AGGREGATE IF EXISTS total_of(int4), stats.median(numeric) CASCADE")
        else {
            panic!("not a drop");
        };
        assert_eq!(kind, ObjectKind::Other);
        assert_eq!(
            names,
            [
                QualName::new("public", "total_of"),
                QualName::new("stats", "median")
            ]
        );
        assert!(if_exists && cascade);
        assert!(matches!(
            pg("DROP AGGREGATE total_of(int4)"),
            Change::DropObjects {
                if_exists: false,
                ..
            }
        ));
        // Unknown to the model, and no warning for it.
        replay("DROP AGGREGATE total_of(*);", DialectKind::Postgres);
    }

    #[test]
    fn alter_constraint_deferrability_is_understood() {
        for sql in [
            "ALTER TABLE orders ALTER CONSTRAINT orders_user_fk DEFERRABLE INITIALLY DEFERRED",
            "ALTER TABLE orders ALTER CONSTRAINT orders_user_fk DEFERRABLE INITIALLY IMMEDIATE",
            "ALTER TABLE IF EXISTS orders ALTER CONSTRAINT orders_user_fk NOT DEFERRABLE",
        ] {
            let Change::AlterTable { table, ops, .. } = pg(sql) else {
                panic!("{sql}: not an ALTER TABLE");
            };
            assert_eq!(table.name, "orders");
            assert!(matches!(&ops[..], [AlterOp::Other { .. }]), "{ops:?}");
        }
        let parsed = parse(
            "ALTER TABLE orders ALTER CONSTRAINT c FROBNICATE",
            DialectKind::Postgres,
        );
        assert!(parsed.statements[0].unparsed.is_some());
    }

    #[test]
    fn statistics_objects_have_no_schema_effect() {
        for (sql, what) in [
            (
                "CREATE STATISTICS IF NOT EXISTS orders_stats (ndistinct, dependencies) ON user_id, status FROM orders",
                "CREATE STATISTICS",
            ),
            (
                "CREATE STATISTICS orders_stats ON user_id, status FROM public.orders",
                "CREATE STATISTICS",
            ),
            ("DROP STATISTICS IF EXISTS orders_stats", "DROP STATISTICS"),
            (
                "DROP STATISTICS orders_stats, s.other CASCADE",
                "DROP STATISTICS",
            ),
        ] {
            assert_eq!(pg(sql), Change::NoSchemaEffect { what: what.into() }, "{sql}");
        }
    }

    #[test]
    fn materialized_view_with_or_without_data_is_a_view() {
        let schema = replay(
            "CREATE TABLE orders (id int, amount int);\nCREATE MATERIALIZED VIEW totals AS SELECT sum(amount) AS total FROM orders WITH NO DATA;\nCREATE MATERIALIZED VIEW all_orders AS SELECT id FROM orders WITH DATA;",
            DialectKind::Postgres,
        );
        assert!(schema
            .views
            .contains_key(&QualName::new("public", "totals")));
        assert!(matches!(
            pg("CREATE MATERIALIZED VIEW totals AS SELECT 1 FROM orders WITH NO DATA"),
            Change::CreateView {
                materialized: true,
                reads,
                ..
            } if reads == [QualName::new("public", "orders")]
        ));
    }

    #[test]
    fn alter_index_if_exists_rename() {
        assert_eq!(
            pg("ALTER INDEX IF EXISTS orders_idx RENAME TO orders_user_idx"),
            Change::RenameIndex {
                from: QualName::new("public", "orders_idx"),
                to: "orders_user_idx".into(),
                if_exists: true,
            }
        );
        // The model renames a known index, and an unknown one is no warning with IF EXISTS.
        let schema = replay(
            "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\nALTER INDEX IF EXISTS t_a RENAME TO t_a_idx;\nALTER INDEX IF EXISTS missing RENAME TO other;",
            DialectKind::Postgres,
        );
        assert!(schema
            .indexes
            .contains_key(&QualName::new("public", "t_a_idx")));
    }

    #[test]
    fn create_table_storage_clauses_leave_a_known_table() {
        let schema = replay(
            "CREATE TABLE refunds (id bigint PRIMARY KEY, body text COMPRESSION lz4 NOT NULL, blob bytea STORAGE EXTERNAL, note text) USING heap;",
            DialectKind::Postgres,
        );
        let t = &schema.tables[&QualName::new("public", "refunds")];
        assert_eq!(t.columns.len(), 4);
        assert!(!nullable(&schema, "refunds", "body"));
        assert!(nullable(&schema, "refunds", "note"));
        // A `USING` inside a column's expression is not the access method.
        assert!(matches!(
            pg("CREATE TABLE u (id int, CONSTRAINT ex EXCLUDE USING gist (id WITH =)) USING heap"),
            Change::CreateTable(_)
        ));
    }

    #[test]
    fn function_cost_and_rows_options_anywhere() {
        for sql in [
            "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql COST 100 ROWS 10 AS $$ BEGIN RETURN 1; END $$",
            "CREATE OR REPLACE FUNCTION g() RETURNS SETOF int AS $$ BEGIN RETURN; END $$ LANGUAGE plpgsql ROWS 10 STABLE COST 5",
            "CREATE FUNCTION h(a int) RETURNS int COST 1 LANGUAGE sql IMMUTABLE RETURN a + 1",
        ] {
            let Change::CreateFunction { name, .. } = pg(sql) else {
                panic!("{sql}: not a function");
            };
            assert_eq!(name.schema, "public");
        }
        assert!(matches!(
            pg("CREATE OR REPLACE FUNCTION g() RETURNS SETOF int AS $$ SELECT 1 $$ LANGUAGE sql ROWS 10 STABLE COST 5"),
            Change::CreateFunction { or_replace: true, volatility: Some(crate::change::Volatility::Stable), .. }
        ));
    }

    #[test]
    fn mysql_binary_text_attribute() {
        let schema = replay(
            "CREATE TABLE m (id int PRIMARY KEY, a VARCHAR(10) BINARY, b CHAR(3) BINARY CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, c varchar(5) binary character set latin1, d BINARY(16));\nALTER TABLE m ADD COLUMN e VARCHAR(5) BINARY, MODIFY a VARCHAR(20) BINARY NOT NULL;",
            DialectKind::MySql,
        );
        let t = &schema.tables[&QualName::new("", "m")];
        let col = |n: &str| t.column(n).expect("column");
        assert_eq!(col("a").ty.name, "varchar");
        assert!(!col("a").nullable);
        assert!(!col("b").nullable);
        assert_eq!(col("b").collation.as_deref(), Some("utf8mb4_bin"));
        assert_eq!(col("c").collation.as_deref(), Some("latin1_bin"));
        assert_eq!(col("d").ty.name, "binary");
        assert!(t.column("e").is_some());
    }

    #[test]
    fn mysql_dynamic_sql_is_recognised() {
        let parsed = parse(
            "SET @s = 'ALTER TABLE m ADD COLUMN d int';\nPREPARE stmt FROM @s;\nEXECUTE stmt;\nEXECUTE stmt USING @a, @b;\nDEALLOCATE PREPARE stmt;\nPREPARE q FROM 'SELECT 1';\nDROP PREPARE q;",
            DialectKind::MySql,
        );
        let changes: Vec<&Change> = parsed.statements.iter().map(|s| &s.change).collect();
        assert!(
            parsed.statements.iter().all(|s| s.unparsed.is_none()),
            "{changes:?}"
        );
        assert!(matches!(changes[0], Change::SetVariable { .. }));
        assert!(matches!(changes[1], Change::NoSchemaEffect { what } if what == "PREPARE"));
        // EXECUTE may run DDL: procedural code the model cannot follow.
        assert_eq!(changes[2], &Change::ProceduralBlock);
        assert_eq!(changes[3], &Change::ProceduralBlock);
        assert!(matches!(changes[4], Change::NoSchemaEffect { .. }));
        assert!(matches!(changes[6], Change::NoSchemaEffect { .. }));
        // PostgreSQL's EXECUTE runs a prepared query or data change only.
        assert!(matches!(
            pg("EXECUTE fetch_user(1)"),
            Change::NoSchemaEffect { .. }
        ));
    }

    #[test]
    fn plpgsql_statements_outside_a_block_are_recognised() {
        for (sql, what) in [
            ("raise notice 'x'", "RAISE NOTICE"),
            ("RAISE EXCEPTION 'bad %', 1", "RAISE EXCEPTION"),
            ("RAISE 'plain'", "RAISE"),
            ("PERFORM pg_sleep(1)", "PERFORM"),
            ("ASSERT 1 = 1", "ASSERT"),
            ("GET DIAGNOSTICS n = ROW_COUNT", "GET DIAGNOSTICS"),
            ("EXECUTE 'ALTER TABLE t ADD COLUMN b int'", "EXECUTE '…'"),
            ("END IF", "END IF"),
        ] {
            assert_eq!(
                pg(sql),
                Change::ProceduralOutsideBlock { what: what.into() },
                "{sql}"
            );
        }
        // Valid SQL that starts alike.
        assert!(matches!(pg("END"), Change::Commit));
        assert!(matches!(pg("EXECUTE q(1)"), Change::NoSchemaEffect { .. }));
        // Not in MySQL, and not inside blocks.
        let parsed = parse(
            "DO $$ BEGIN RAISE NOTICE 'x'; PERFORM 1; END $$;\nCREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'y'; END $$;",
            DialectKind::Postgres,
        );
        assert!(parsed
            .statements
            .iter()
            .all(|s| !matches!(s.change, Change::ProceduralOutsideBlock { .. })));
        assert!(!matches!(
            change("DO RELEASE_LOCK('x')", DialectKind::MySql),
            Change::ProceduralOutsideBlock { .. }
        ));
    }
}
