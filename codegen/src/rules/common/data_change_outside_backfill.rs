//! `data-change-outside-backfill`: `UPDATE`/`DELETE` with a `WHERE` in expand, contract or down.
//!
//! The checker cannot tell how many rows the `WHERE` selects, so it warns, except when the
//! `WHERE` pins a key: its top-level `AND` terms set every column of the primary key, or of a
//! unique constraint or unique index (plain columns, no predicate), to constants
//! (`id = 42`, `id IN (1, 2, 3)`, `$1`, `?`, `'…'::uuid`). An `OR` at the top level pins
//! nothing. The whole-table forms (no `WHERE`) are `unbatched-data-change`'s.
//!
//! Fix: a statement in a concertina migration's expand.sql moves, as written, to the end of
//! backfill.sql, which runs after the whole expand; anything that could have seen its effect
//! there keeps it where it is (see [`fix`]).

use crate::change::{Change, ConstraintKind, ExprInfo, QualName};
use crate::diag::Severity;
use crate::fix::{recipes, Fix, NoFix};
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "data-change-outside-backfill",
    severity: Severity::Warning,
    summary: "`UPDATE`/`DELETE` with a `WHERE` in expand or contract",
    help: "move it to `backfill.sql` (keyset batches, short transactions, resumable) unless the `WHERE` pins a key, e.g. `WHERE id = 42`",
    check,
    fix: Some(fix),
};

/// The statement moves to the end of backfill.sql where that keeps what it does
/// ([`recipes::move_to_backfill`]).
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    match ctx.change {
        Change::Update { table, .. } | Change::Delete { table, .. } => {
            recipes::move_to_backfill(ctx, table)
        }
        _ => Err(NoFix::because("not an `UPDATE` or `DELETE`")),
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if !matches!(ctx.phase, Phase::Expand | Phase::Contract | Phase::Down) {
        return;
    }
    let (verb, table, filter) = match ctx.change {
        Change::Update {
            table,
            filter: Some(f),
            ..
        } => ("UPDATE", table, f),
        Change::Delete {
            table,
            filter: Some(f),
        } => ("DELETE", table, f),
        _ => return,
    };
    if !ctx.is_existing_table(table) || pins_a_key(ctx, table, filter) {
        return;
    }
    out.report(format!(
        "`{verb}` of `{table}` in {} with a `WHERE` that pins no key: the checker cannot tell how many rows it touches, and it runs as one transaction holding every touched row's lock",
        ctx.file_name()
    ));
}

fn pins_a_key(ctx: &StatementCtx, table: &QualName, filter: &ExprInfo) -> bool {
    let Some(t) = ctx.schema.table(table) else {
        return false;
    };
    let pinned = pinned_columns(&filter.text, |s, quoted| {
        ctx.dialect.normalize_ident(s, quoted)
    });
    if pinned.is_empty() {
        return false;
    }
    let covered = |cols: &[String]| !cols.is_empty() && cols.iter().all(|c| pinned.contains(c));
    t.constraints.iter().any(|c| match &c.kind {
        ConstraintKind::PrimaryKey { columns, .. } | ConstraintKind::Unique { columns, .. } => {
            covered(columns)
        }
        _ => false,
    }) || ctx.schema.indexes_of(table).any(|i| {
        i.unique
            && i.valid
            && i.predicate.is_none()
            && i.expressions.is_empty()
            && covered(&i.columns)
    })
}

/// Columns that the top-level `AND` terms of a `WHERE` text set to constants. Empty when the
/// text has a top-level `OR` or cannot be read.
pub(crate) fn pinned_columns(text: &str, norm: impl Fn(&str, bool) -> String) -> Vec<String> {
    pinned(text, &norm, 0)
}

fn pinned(text: &str, norm: &impl Fn(&str, bool) -> String, depth: usize) -> Vec<String> {
    let terms = split_top_level(text);
    if depth > 16 || terms.iter().any(|t| t.eq_ignore_ascii_case("OR")) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for term in terms.split(|t| t.eq_ignore_ascii_case("AND")) {
        let term: Vec<&str> = term.iter().map(String::as_str).collect();
        match term.as_slice() {
            // `(a = 1 AND b = 2)`: one layer of parentheses around a term.
            [one] if one.len() >= 2 && one.starts_with('(') && one.ends_with(')') => {
                out.extend(pinned(&one[1..one.len() - 1], norm, depth + 1));
            }
            _ => out.extend(pinned_in(&term, norm)),
        }
    }
    out
}

/// `col = const`, `const = col` or `col IN (const, …)`.
fn pinned_in(term: &[&str], norm: &impl Fn(&str, bool) -> String) -> Option<String> {
    match term {
        [a, "=", b] => match (
            column(a, norm),
            is_constant(b),
            column(b, norm),
            is_constant(a),
        ) {
            (Some(c), true, _, _) => Some(c),
            (_, _, Some(c), true) => Some(c),
            _ => None,
        },
        [a, kw, list] if kw.eq_ignore_ascii_case("IN") => {
            let c = column(a, norm)?;
            let inner = list.strip_prefix('(')?.strip_suffix(')')?;
            let items: Vec<String> = split_commas(inner);
            (!items.is_empty() && items.iter().all(|i| is_constant(i.trim()))).then_some(c)
        }
        _ => None,
    }
}

/// A column reference (`id`, `t.id`, `"Id"`): its normalised last part.
fn column(s: &str, norm: &impl Fn(&str, bool) -> String) -> Option<String> {
    let last = s.rsplit('.').next()?;
    if let Some(inner) = last
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| last.strip_prefix('`').and_then(|r| r.strip_suffix('`')))
    {
        return (!inner.is_empty()).then(|| norm(inner, true));
    }
    let ok = last
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && last
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    let keyword = ["true", "false", "null"]
        .iter()
        .any(|k| last.eq_ignore_ascii_case(k));
    (ok && !keyword).then(|| norm(last, false))
}

/// A literal, a bind parameter, or one of those with a `::type` cast.
fn is_constant(s: &str) -> bool {
    let s = match s.split_once("::") {
        Some((value, ty)) if !ty.is_empty() && !ty.contains('(') => value,
        _ => s,
    };
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        return true;
    }
    if ["true", "false"].iter().any(|k| s.eq_ignore_ascii_case(k)) || s == "?" {
        return true;
    }
    if let Some(n) = s.strip_prefix('$').or_else(|| s.strip_prefix(':')) {
        return !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_');
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().any(|c| c.is_ascii_digit())
}

/// Splits on whitespace and `=` outside quotes and parentheses; a parenthesised group and a
/// quoted string each stay one piece (`IN (1, 2)` → `IN`, `(1, 2)`).
fn split_top_level(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    for ch in text.chars() {
        if let Some(q) = quote {
            cur.push(ch);
            if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '\'' | '"' | '`' => {
                quote = Some(ch);
                cur.push(ch);
            }
            '(' => {
                // `f(x)`: a call stays glued to its name.
                depth += 1;
                cur.push(ch);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                cur.push(ch);
            }
            '=' if depth == 0 => {
                // `<=`, `>=`, `!=` stay operators of their own: the term is then not pinned.
                if matches!(cur.chars().last(), Some('<' | '>' | '!')) {
                    cur.push(ch);
                } else {
                    flush(&mut cur, &mut out);
                    out.push("=".into());
                }
            }
            c if c.is_whitespace() && depth == 0 => flush(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    out
}

fn split_commas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for ch in text.chars() {
        if let Some(q) = quote {
            cur.push(ch);
            if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '\'' | '"' => {
                quote = Some(ch);
                cur.push(ch);
            }
            '(' => {
                depth += 1;
                cur.push(ch);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                cur.push(ch);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pinned_columns;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text, active boolean);\nCREATE TABLE memberships (user_id bigint NOT NULL, org_id bigint NOT NULL, role text, PRIMARY KEY (user_id, org_id));\nCREATE TABLE events (kind text, payload text);\nCREATE UNIQUE INDEX users_email ON users (email);";
    const ID: &str = "data-change-outside-backfill";

    fn pins(text: &str) -> Vec<String> {
        pinned_columns(
            text,
            |s, q| if q { s.to_string() } else { s.to_lowercase() },
        )
    }

    #[test]
    fn reads_pinned_columns() {
        assert_eq!(pins("id = 5"), ["id"]);
        assert_eq!(pins("5 = t.ID AND b = 'x y'"), ["id", "b"]);
        assert_eq!(pins("id IN (1, 2, 3)"), ["id"]);
        assert_eq!(pins("(id = $1)"), ["id"]);
        assert_eq!(pins("id = '6c1f…'::uuid"), ["id"]);
        assert!(pins("id = 1 OR id = 2").is_empty());
        assert!(pins("id <= 5").is_empty());
        assert!(pins("id = other_id").is_empty());
        assert!(pins("id IN (SELECT id FROM x)").is_empty());
        assert!(pins("active").is_empty());
    }

    #[test]
    fn warns_on_a_where_that_pins_no_key() {
        let sql = "UPDATE users SET active = false WHERE email LIKE '%@old.example';\nDELETE FROM events WHERE kind = 'debug';";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(!hits[0].is_error());
        assert!(
            hits[0]
                .message
                .contains("`UPDATE` of `users` in expand.sql"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn a_where_pinning_a_key_is_quiet() {
        let sql = "UPDATE users SET active = false WHERE id = 42;\nDELETE FROM users WHERE id IN (1, 2);\nUPDATE users SET active = true WHERE email = 'a@b.c';\nDELETE FROM memberships WHERE org_id = 3 AND user_id = 7;";
        let hits = expand_hits(SETUP, sql, ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn a_partial_key_or_an_or_is_not_pinned() {
        let sql = "DELETE FROM memberships WHERE org_id = 3;\nUPDATE users SET active = true WHERE id = 1 OR id = 2;";
        assert_eq!(expand_hits(SETUP, sql, ID).len(), 2);
    }

    #[test]
    fn whole_table_forms_are_the_other_rule() {
        assert!(expand_hits(SETUP, "UPDATE users SET active = true;", ID).is_empty());
    }

    #[test]
    fn backfill_is_the_right_place() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Backfill,
                "UPDATE users SET active = true WHERE active IS NULL;",
            )],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn contract_and_down_are_checked() {
        for phase in [Phase::Contract, Phase::Down] {
            let hits = Case::pg(SETUP, &[(phase, "DELETE FROM events WHERE kind = 'x';")]).hits(ID);
            assert_eq!(hits.len(), 1, "{phase:?}");
        }
    }

    #[test]
    fn table_created_in_the_same_file_is_exempt() {
        let sql = "CREATE TABLE t (id int, v int);\nUPDATE t SET v = 1 WHERE v IS NULL;";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(data-change-outside-backfill): at most 3 rows\nDELETE FROM events WHERE kind = 'x';";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }

    #[test]
    fn diesel_messages_name_up_sql_and_no_backfill_file() {
        let mut case = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text);",
            &[(
                Phase::Expand,
                "UPDATE users SET name = 'x' WHERE name IS NULL;",
            )],
        );
        case.diesel = true;
        let hits = case.hits("data-change-outside-backfill");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(hits[0].message.contains("in up.sql"), "{}", hits[0].message);
        assert!(
            hits[0].help.contains("a diesel migration has none")
                && !hits[0].help.contains("`backfill.sql`"),
            "{}",
            hits[0].help
        );
    }

    #[test]
    fn fix_moves_an_expand_change_to_the_end_of_backfill() {
        let expand =
            "ALTER TABLE users ADD COLUMN note text;\nDELETE FROM users WHERE email LIKE '%@old.example';\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, expand)]).fixed();
        assert_eq!(
            files,
            [
                (Phase::Expand, "ALTER TABLE users ADD COLUMN note text;\n".to_string()),
                (Phase::Backfill, "-- backfill: written by `cargo xtask migrate fix`\nDELETE FROM users WHERE email LIKE '%@old.example';\n".to_string()),
            ]
        );
        assert!(left.iter().all(|(rule, _)| rule != ID), "{left:?}");
    }

    #[test]
    fn fix_appends_after_a_backfill_of_other_tables() {
        let phases = [
            (
                Phase::Expand,
                "UPDATE users SET active = false WHERE email LIKE '%@old.example';\n",
            ),
            (Phase::Backfill, "DELETE FROM events WHERE kind = 'x';\n"),
        ];
        let (files, _) = Case::pg(SETUP, &phases).fixed();
        assert_eq!(
            files,
            [(Phase::Backfill, "DELETE FROM events WHERE kind = 'x';\nUPDATE users SET active = false WHERE email LIKE '%@old.example';\n".to_string())]
        );
    }

    #[test]
    fn no_fix_where_moving_changes_what_it_does() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, email text, active boolean);\nCREATE TABLE events (kind text, payload text);";
        let update = "UPDATE users SET active = false WHERE email LIKE '%x';";
        let cases: [(&[(Phase, &str)], &str); 6] = [
            (&[(Phase::Contract, update)], "old app is gone"),
            (&[(Phase::Expand, "BEGIN;\nUPDATE users SET active = false WHERE email LIKE '%x';\nCOMMIT;")], "BEGIN"),
            (&[(Phase::Expand, "UPDATE users SET active = false WHERE email LIKE '%x';\nCREATE INDEX CONCURRENTLY u_a ON \"users\" (active);")], "later statement"),
            (&[(Phase::Expand, "UPDATE users SET active = false WHERE email LIKE '%x';\nDO $$ BEGIN PERFORM 1; END $$;")], "later statement"),
            (&[(Phase::Expand, update), (Phase::Backfill, "UPDATE users SET active = true WHERE active IS NULL;")], "already names"),
            (&[(Phase::Expand, "DELETE FROM events WHERE kind = 'x';")], "no primary key"),
        ];
        for (phases, why) in cases {
            let (files, left) = Case::pg(setup, phases).fixed();
            let before: Vec<(Phase, String)> =
                phases.iter().map(|(p, t)| (*p, t.to_string())).collect();
            assert_eq!(files, before, "{why}");
            let (_, reason) = left.iter().find(|(r, _)| r == ID).expect("listed");
            assert!(reason.contains(why), "{why}: {reason}");
        }
    }

    #[test]
    fn no_fix_in_a_diesel_migration() {
        let mut case = Case::pg(
            SETUP,
            &[(Phase::Expand, "DELETE FROM events WHERE kind = 'x';")],
        );
        case.diesel = true;
        let (_, left) = case.fixed();
        let (_, reason) = left.iter().find(|(r, _)| r == ID).expect("listed");
        assert!(reason.contains("no backfill phase"), "{reason}");
    }

    #[test]
    fn fix_moves_on_mysql_too() {
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY, email text, active boolean);";
        let expand = "UPDATE `users` SET active = false WHERE email LIKE '%x';\n";
        let (files, left) = Case::mariadb(setup, &[(Phase::Expand, expand)]).fixed();
        assert_eq!(
            files,
            [(
                Phase::Backfill,
                format!("-- backfill: written by `cargo xtask migrate fix`\n{expand}")
            )]
        );
        assert!(left.is_empty(), "{left:?}");
    }
}
