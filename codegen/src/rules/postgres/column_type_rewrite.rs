//! `column-type-rewrite`: `ALTER COLUMN … TYPE` rewrites the table and rebuilds its indexes
//! under ACCESS EXCLUSIVE, except for the binary-coercible changes of RULES.md's no-rewrite list
//! (checked against the column's type in the model); any `USING` rewrites. A collation change
//! rebuilds the column's indexes. `timestamp` ↔ `timestamptz` skips the table rewrite only on
//! 12+, without `USING` (a bare `USING col` counts as none), after `SET TimeZone = 'UTC'` in
//! the same file; the column's indexes are still rebuilt (their operator class changes), which
//! the message says instead of "rewrites the table". A change that keeps the table rebuilds
//! indexes whose expression or predicate reads the column (even to the same type); a plain
//! index on the column keeps its file (measured on 15: `varchar(10)` → `varchar(20)` and
//! `varchar` → `text` keep both the table's and the index's `relfilenode`).
//!
//! Measured on PostgreSQL 15 (the table's `relfilenode` before and after): besides RULES.md's
//! list, `timetz(p)` → `timetz(q)` with q ≥ p, a domain → its base type (even a domain with
//! constraints), and a type → an unconstrained domain over a type it reaches without a rewrite
//! (`varchar(50)` → a domain over `varchar(100)`) keep the table; a domain with constraints as
//! the target, any array element change (`varchar[]` → `text[]`), `char(n)` growth and
//! `char` → `text` rewrite it.

use crate::change::{AlterOp, QualName};
use crate::diag::Severity;
use crate::model::{Domain, Schema};
use crate::rules::{Findings, Rule, StatementCtx};
use crate::types::SqlType;

pub static RULE: Rule = Rule {
    id: "column-type-rewrite",
    severity: Severity::Error,
    summary: "`ALTER COLUMN … TYPE` not in the no-rewrite list, or with `USING`; a collation change on an indexed column",
    help: "expand: a new column of the new type, dual-written by the transition types; backfill: copy the values; the new app reads it; contract: drop the old column",
    check,
    fix: Some(crate::fix::new_column::type_change),
};

const TIMESTAMPS: [&str; 2] = ["timestamp without time zone", "timestamp with time zone"];

/// Precision of a time type: no modifier means the maximum, 6.
fn precision(t: &SqlType) -> u64 {
    t.arg(0).unwrap_or(6)
}

/// The domain a (non-array) type names, if the model knows one.
pub(crate) fn domain_of<'a>(schema: &'a Schema, ty: &SqlType) -> Option<&'a Domain> {
    if ty.array_dims > 0 {
        return None;
    }
    let key = QualName::new(
        ty.schema.clone().unwrap_or_else(|| "public".to_string()),
        ty.name.clone(),
    );
    schema.domains.get(&key).map(|d| &**d)
}

/// The type under any domains (`d2` over `d1` over `text` is `text`), and whether one of those
/// domains has constraints. Bounded, so that no model state can make it loop.
pub(crate) fn strip_domains(schema: &Schema, ty: &SqlType) -> (SqlType, bool) {
    let mut ty = ty.clone();
    let mut constrained = false;
    for _ in 0..16 {
        match domain_of(schema, &ty) {
            Some(d) => {
                constrained |= d.has_constraints;
                ty = d.base.clone();
            }
            None => break,
        }
    }
    (ty, constrained)
}

/// A change between two base types that PostgreSQL makes without rewriting the table.
fn binary_coercible(old: &SqlType, new: &SqlType) -> bool {
    if old == new {
        return true;
    }
    // An array's elements are coerced one by one: a rewrite even for `varchar[]` → `text[]`.
    if old.array_dims != new.array_dims || old.array_dims > 0 {
        return false;
    }
    // A length limit that grows or goes away.
    let grows = |old: &SqlType, new: &SqlType| match (old.arg(0), new.arg(0)) {
        (Some(a), Some(b)) => b >= a,
        (_, None) => true,
        (None, Some(_)) => false,
    };
    match (old.name.as_str(), new.name.as_str()) {
        ("character varying", "character varying") | ("bit varying", "bit varying") => {
            grows(old, new)
        }
        ("character varying", "text") => true,
        ("text", "character varying") => new.args.is_empty(),
        ("numeric", "numeric") => match (old.arg(0), new.arg(0)) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(p), Some(q)) => q >= p && old.arg(1).unwrap_or(0) == new.arg(1).unwrap_or(0),
        },
        ("timestamp without time zone", "timestamp without time zone")
        | ("timestamp with time zone", "timestamp with time zone")
        | ("time without time zone", "time without time zone")
        | ("time with time zone", "time with time zone")
        | ("interval", "interval") => precision(new) >= precision(old),
        ("cidr", "inet") => true,
        _ => false,
    }
}

/// Why `old` → `new` rewrites the table, or `None` when it does not (the timestamp flip is
/// decided by the caller).
fn rewrite_reason(schema: &Schema, old: &SqlType, new: &SqlType) -> Option<String> {
    if old == new {
        return None;
    }
    // Leaving a domain is a relabel: free whatever its constraints.
    let (old_base, _) = strip_domains(schema, old);
    // Entering a domain checks its constraints on every row.
    let (new_base, constrained) = strip_domains(schema, new);
    if constrained {
        return Some(format!(
            ", domain `{}` has constraints to check on every row",
            new.name
        ));
    }
    (!binary_coercible(&old_base, &new_base)).then(String::new)
}

/// A collation name as written, without quotes (`"C"` and `C` are the same collation).
fn collation_key(c: &str) -> String {
    c.trim().trim_matches('"').to_string()
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let model_table = ctx.schema.table(table);
    for op in ops {
        let AlterOp::AlterColumnType {
            column,
            ty,
            using,
            collation,
        } = op
        else {
            continue;
        };
        // Indexes that read the column: as a plain key column (kept by a binary-coercible
        // change that keeps the operator class), or in an expression or predicate (rebuilt).
        let in_expr = |i: &crate::model::Index| {
            i.expressions.iter().any(|e| e.columns.contains(column))
                || i.predicate
                    .as_ref()
                    .is_some_and(|p| p.columns.contains(column))
        };
        let key_indexes: Vec<String> = ctx
            .schema
            .indexes_of(table)
            .filter(|i| i.columns.contains(column) || in_expr(i))
            .map(|i| format!("`{}`", i.name))
            .collect();
        let expr_indexes: Vec<String> = ctx
            .schema
            .indexes_of(table)
            .filter(|i| in_expr(i))
            .map(|i| format!("`{}`", i.name))
            .collect();
        let indexed = !key_indexes.is_empty();
        let rebuild = |indexes: &[String], why: &str| {
            format!(
                "`ALTER COLUMN {column} TYPE {ty}` on `{table}` ({} → {ty}) does not rewrite the table, but rebuilds {} {} under ACCESS EXCLUSIVE ({why}): reads and writes wait for the whole build",
                model_table.and_then(|t| t.column(column)).map(|c| c.ty.to_string()).unwrap_or_default(),
                if indexes.len() == 1 { "index" } else { "indexes" },
                indexes.join(", ")
            )
        };
        let Some(current) = model_table.and_then(|t| t.column(column)) else {
            out.report(format!(
                "`ALTER COLUMN {column} TYPE {ty}` on `{table}`: the model does not know the column's current type, so a rewrite under ACCESS EXCLUSIVE cannot be ruled out"
            ));
            continue;
        };
        let old = &current.ty;
        let rewrite = |why: &str| {
            format!(
                "`ALTER COLUMN {column} TYPE {ty}` on `{table}` ({old} → {ty}{why}) rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite"
            )
        };
        if *using {
            out.report(rewrite(", with USING"));
            continue;
        }
        let (old_base, _) = strip_domains(ctx.schema, old);
        let (new_base, new_constrained) = strip_domains(ctx.schema, ty);
        let timestamp_flip = TIMESTAMPS.contains(&old_base.name.as_str())
            && TIMESTAMPS.contains(&new_base.name.as_str())
            && old_base.name != new_base.name
            && old_base.array_dims == 0
            && new_base.array_dims == 0;
        if timestamp_flip {
            let why = if !ctx.server_at_least(12, 0) {
                Some(", before PostgreSQL 12")
            } else if new_constrained {
                Some(", into a domain with constraints")
            } else if precision(&new_base) < precision(&old_base) {
                Some(", lowering the precision")
            } else if !ctx.file.timezone_utc {
                Some(", no `SET TimeZone = 'UTC'` earlier in this file")
            } else {
                None
            };
            if let Some(why) = why {
                out.report(rewrite(why));
            } else if indexed {
                // Measured on PostgreSQL 15: the table keeps its relfilenode, the column's
                // indexes get new ones (timestamp_ops → timestamptz_ops).
                out.report(rebuild(
                    &key_indexes,
                    "their operator class changes with the type",
                ));
            }
            continue;
        }
        if let Some(why) = rewrite_reason(ctx.schema, old, ty) {
            out.report(rewrite(&why));
            continue;
        }
        if !expr_indexes.is_empty() {
            // Measured on PostgreSQL 15: `varchar` → `text` keeps a plain index on the column
            // and rebuilds one on `lower(col)`.
            out.report(rebuild(
                &expr_indexes,
                "an expression or predicate over the column is re-planned",
            ));
            continue;
        }
        let changed_collation = collation.as_deref().is_some_and(|new| {
            current.collation.as_deref().map(collation_key) != Some(collation_key(new))
        });
        if changed_collation && indexed {
            out.report(format!(
                "`ALTER COLUMN {column} … COLLATE {}` on `{table}` changes the collation of an indexed column: its indexes are rebuilt under ACCESS EXCLUSIVE, reads and writes wait for the whole build",
                collation.as_deref().unwrap_or_default()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE t (id int PRIMARY KEY, name varchar(50), note text, amount numeric(10,2), at timestamp(3), net cidr, ts timestamp, flags bit varying(8), code char(3), tz timetz(3), tags varchar(10)[], c text COLLATE \"C\", at3 timestamptz(3));\nCREATE INDEX t_name ON t (name);\nCREATE INDEX t_c ON t (c);";
    const RULE: &str = "column-type-rewrite";

    fn hits(sql: &str) -> usize {
        expand_hits(SETUP, sql, RULE).len()
    }

    #[test]
    fn the_no_rewrite_list_passes() {
        for sql in [
            "ALTER TABLE t ALTER COLUMN name TYPE varchar(100);",
            "ALTER TABLE t ALTER COLUMN name TYPE text;",
            "ALTER TABLE t ALTER COLUMN name TYPE varchar;",
            "ALTER TABLE t ALTER COLUMN note TYPE varchar;",
            "ALTER TABLE t ALTER COLUMN amount TYPE numeric(12,2);",
            "ALTER TABLE t ALTER COLUMN amount TYPE numeric;",
            "ALTER TABLE t ALTER COLUMN at TYPE timestamp(6);",
            "ALTER TABLE t ALTER COLUMN at TYPE timestamp;",
            "ALTER TABLE t ALTER COLUMN net TYPE inet;",
            "ALTER TABLE t ALTER COLUMN flags TYPE varbit(16);",
            "ALTER TABLE t ALTER COLUMN flags TYPE varbit;",
            "ALTER TABLE t ALTER COLUMN tz TYPE timetz(6);",
            "ALTER TABLE t ALTER COLUMN id TYPE integer;",
        ] {
            assert_eq!(hits(sql), 0, "{sql}");
        }
    }

    #[test]
    fn rewrites_are_flagged() {
        for sql in [
            "ALTER TABLE t ALTER COLUMN id TYPE bigint;",
            "ALTER TABLE t ALTER COLUMN name TYPE varchar(20);",
            "ALTER TABLE t ALTER COLUMN amount TYPE numeric(12,3);",
            "ALTER TABLE t ALTER COLUMN amount TYPE numeric(9,2);",
            "ALTER TABLE t ALTER COLUMN note TYPE varchar(10);",
            "ALTER TABLE t ALTER COLUMN code TYPE char(5);",
            "ALTER TABLE t ALTER COLUMN code TYPE text;",
            "ALTER TABLE t ALTER COLUMN at TYPE timestamp(0);",
            "ALTER TABLE t ALTER COLUMN net TYPE text;",
            "ALTER TABLE t ALTER COLUMN tags TYPE varchar(20)[];",
            "ALTER TABLE t ALTER COLUMN tags TYPE text[];",
            "ALTER TABLE t ALTER COLUMN note TYPE text USING trim(note);",
            "ALTER TABLE t ALTER COLUMN note TYPE text USING note || '';",
        ] {
            assert_eq!(hits(sql), 1, "{sql}");
        }
    }

    #[test]
    fn the_message_names_the_change() {
        let h = expand_hits(SETUP, "ALTER TABLE t ALTER COLUMN id TYPE bigint;", RULE);
        assert!(
            h[0].message.contains("integer → bigint")
                && h[0].message.contains("`t`")
                && h[0].message.contains("ACCESS EXCLUSIVE"),
            "{}",
            h[0].message
        );
    }

    #[test]
    fn domains_in_and_out() {
        let setup = format!("{SETUP}\nCREATE DOMAIN label AS text;\nCREATE DOMAIN short AS text CHECK (length(VALUE) < 5);\nCREATE DOMAIN wide AS varchar(100);\nCREATE DOMAIN wider AS wide;\nCREATE TABLE d (s short, l label);");
        for (sql, n) in [
            // Into an unconstrained domain over the type, or over a type reached for free.
            ("ALTER TABLE t ALTER COLUMN note TYPE label;", 0),
            ("ALTER TABLE t ALTER COLUMN name TYPE wide;", 0),
            ("ALTER TABLE t ALTER COLUMN name TYPE wider;", 0),
            // Into a domain with constraints: every row is checked (measured: a rewrite).
            ("ALTER TABLE t ALTER COLUMN note TYPE short;", 1),
            // Out of a domain into its base, whatever its constraints.
            ("ALTER TABLE d ALTER COLUMN s TYPE text;", 0),
            ("ALTER TABLE d ALTER COLUMN l TYPE text;", 0),
            ("ALTER TABLE d ALTER COLUMN s TYPE label;", 0),
            // Out of a domain into something its base needs a rewrite for.
            ("ALTER TABLE d ALTER COLUMN s TYPE varchar(3);", 1),
        ] {
            assert_eq!(expand_hits(&setup, sql, RULE).len(), n, "{sql}");
        }
    }

    #[test]
    fn timestamptz_needs_utc_12_and_no_index() {
        let flip = "ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;";
        assert_eq!(hits(flip), 1);
        assert!(expand_hits(SETUP, flip, RULE)[0]
            .message
            .contains("SET TimeZone"));
        let utc = format!("SET TimeZone = 'UTC';\n{flip}");
        assert_eq!(hits(&utc), 0);
        assert_eq!(hits("SET TIME ZONE 'UTC';\nALTER TABLE t ALTER COLUMN ts TYPE timestamp with time zone;"), 0);
        // Back the other way, raising the precision.
        assert_eq!(
            hits("SET TimeZone = 'UTC';\nALTER TABLE t ALTER COLUMN at3 TYPE timestamp(6);"),
            0
        );
        let old = Case::pg(SETUP, &[(Phase::Expand, &utc)])
            .server("11")
            .hits(RULE);
        assert_eq!(old.len(), 1);
        assert!(old[0].message.contains("before PostgreSQL 12"));
        let paris = format!("SET TimeZone = 'Europe/Paris';\n{flip}");
        assert_eq!(hits(&paris), 1);
        let lower = "SET TimeZone = 'UTC';\nALTER TABLE t ALTER COLUMN at TYPE timestamptz(0);";
        assert_eq!(hits(lower), 1, "precision 3 -> 0 rewrites");
        let with_using = "SET TimeZone = 'UTC';\nALTER TABLE t ALTER COLUMN ts TYPE timestamptz USING ts AT TIME ZONE 'UTC';";
        assert_eq!(hits(with_using), 1);
        // The table is kept but an index on the column is rebuilt (measured on 15).
        let indexed = format!("{SETUP}\nCREATE INDEX t_ts ON t (ts);");
        assert_eq!(expand_hits(&indexed, &utc, RULE).len(), 1);
        let partial = format!("{SETUP}\nCREATE INDEX t_p ON t (id) WHERE ts IS NOT NULL;");
        assert_eq!(expand_hits(&partial, &utc, RULE).len(), 1);
    }

    #[test]
    fn what_really_happens_is_said() {
        // `USING ts` is no `USING` (measured on 15: relfilenode 16388 before and after).
        let utc = "SET timezone = 'UTC';\nALTER TABLE t ALTER COLUMN ts TYPE timestamptz USING ts;";
        assert_eq!(hits(utc), 0);
        assert_eq!(
            hits(
                "SET timezone = 'UTC';\nALTER TABLE t ALTER COLUMN ts TYPE timestamptz USING (ts);"
            ),
            0
        );
        // Indexed: the table is kept, the index rebuilt (measured: t 16388 kept, index
        // 16397 → 16399).
        let indexed = format!("{SETUP}\nCREATE INDEX t_ts ON t (ts);");
        let h = expand_hits(&indexed, utc, RULE);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].message.contains("does not rewrite the table")
                && h[0].message.contains("rebuilds index `t_ts`")
                && !h[0].message.contains("rewrites the table"),
            "{}",
            h[0].message
        );
        // A plain index on a varchar keeps its file through `varchar(n)` growth and `text`
        // (measured: index 16393 and 16394 kept); an expression index is rebuilt (16396 →
        // 16416).
        assert_eq!(hits("ALTER TABLE t ALTER COLUMN name TYPE varchar(80);"), 0);
        let lower = format!("{SETUP}\nCREATE INDEX t_lower_note ON t (lower(note));");
        // Even to the same type (measured: 17571 → 17574), and a partial index whose
        // predicate reads the column (17572 → 17575).
        assert_eq!(
            expand_hits(&lower, "ALTER TABLE t ALTER COLUMN note TYPE text;", RULE).len(),
            1
        );
        let lower = format!("{SETUP}\nCREATE INDEX t_lower_name ON t (lower(name));");
        let h = expand_hits(&lower, "ALTER TABLE t ALTER COLUMN name TYPE text;", RULE);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(
            h[0].message.contains("rebuilds index `t_lower_name`")
                && h[0].message.contains("does not rewrite the table"),
            "{}",
            h[0].message
        );
    }

    #[test]
    fn collation_change_on_an_indexed_column() {
        let h = expand_hits(
            SETUP,
            "ALTER TABLE t ALTER COLUMN name TYPE varchar(50) COLLATE \"C\";",
            RULE,
        );
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("collation"), "{}", h[0].message);
        // Not indexed: the collation is a catalog change.
        assert_eq!(
            hits("ALTER TABLE t ALTER COLUMN note TYPE text COLLATE \"C\";"),
            0
        );
        // The same collation again changes nothing, quoted or not.
        assert_eq!(
            hits("ALTER TABLE t ALTER COLUMN c TYPE text COLLATE \"C\";"),
            0
        );
        assert_eq!(hits("ALTER TABLE t ALTER COLUMN c TYPE text COLLATE C;"), 0);
        assert_eq!(
            hits("ALTER TABLE t ALTER COLUMN c TYPE text COLLATE POSIX;"),
            1
        );
        let all = Case::pg(
            SETUP,
            &[(
                Phase::Expand,
                "ALTER TABLE t ALTER COLUMN c TYPE text COLLATE C;",
            )],
        )
        .run();
        assert!(all.is_empty(), "{all:?}");
    }

    #[test]
    fn unknown_columns_cannot_be_ruled_out() {
        let h = expand_hits(SETUP, "ALTER TABLE t ALTER COLUMN ghost TYPE bigint;", RULE);
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("does not know"));
    }

    #[test]
    fn new_table_is_exempt_but_not_by_contract() {
        assert_eq!(
            hits("CREATE TABLE n (a int);\nALTER TABLE n ALTER COLUMN a TYPE bigint;"),
            0
        );
        let h = Case::pg(
            SETUP,
            &[
                (Phase::Expand, "CREATE TABLE n (a int);"),
                (Phase::Contract, "ALTER TABLE n ALTER COLUMN a TYPE bigint;"),
            ],
        )
        .hits(RULE);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(column-type-rewrite): t holds 40 rows\nALTER TABLE t ALTER COLUMN id TYPE bigint;";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter()
                .all(|d| d.rule != RULE && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
