//! `column-type-rewrite`: `ALTER COLUMN … TYPE` rewrites the table and rebuilds its indexes
//! under ACCESS EXCLUSIVE, except for the binary-coercible changes of RULES.md's no-rewrite list
//! (checked against the column's type in the model); any `USING` rewrites. A collation change
//! rebuilds the column's indexes. `timestamp` ↔ `timestamptz` skips the table rewrite only on
//! 12+, without `USING`, after `SET TimeZone = 'UTC'` in the same file, on an unindexed column.

use crate::change::{AlterOp, Change};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};
use crate::types::SqlType;

pub static RULE: Rule = Rule {
    id: "column-type-rewrite",
    severity: Severity::Error,
    summary: "`ALTER COLUMN … TYPE` not in the no-rewrite list, or with `USING`; a collation change on an indexed column",
    help: "expand: a new column of the new type, dual-written by the transition types; backfill: copy the values; the new app reads it; contract: drop the old column",
    check,
};

const TIMESTAMPS: [&str; 2] = ["timestamp without time zone", "timestamp with time zone"];

/// Precision of a time type: no modifier means the maximum, 6.
fn precision(t: &SqlType) -> u64 {
    t.arg(0).unwrap_or(6)
}

/// A change PostgreSQL makes without rewriting the table (binary coercible).
fn no_rewrite(old: &SqlType, new: &SqlType, new_is_unconstrained_domain_over_old: bool) -> bool {
    if old == new || new_is_unconstrained_domain_over_old {
        return true;
    }
    if old.array_dims != new.array_dims || old.array_dims > 0 {
        return false;
    }
    let (o, n) = (old.name.as_str(), new.name.as_str());
    match (o, n) {
        ("character varying", "character varying") => match (old.arg(0), new.arg(0)) {
            (Some(a), Some(b)) => b >= a,
            (_, None) => true,
            (None, Some(_)) => false,
        },
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
        | ("interval", "interval") => precision(new) >= precision(old),
        ("bit varying", "bit varying") => match (old.arg(0), new.arg(0)) {
            (Some(a), Some(b)) => b >= a,
            (_, None) => true,
            (None, Some(_)) => false,
        },
        ("cidr", "inet") => true,
        _ => false,
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Change::AlterTable { table, ops, .. } = ctx.change else {
        return;
    };
    if !ctx.is_existing_table(table) {
        return;
    }
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
        let indexed = ctx.schema.indexes_of(table).any(|i| {
            i.columns.contains(column) || i.expressions.iter().any(|e| e.columns.contains(column))
        });
        let Some(old) = model_table
            .and_then(|t| t.column(column))
            .map(|c| c.ty.clone())
        else {
            out.report(format!(
                "`ALTER COLUMN {column} TYPE {ty}` on `{table}`: the model does not know the column's current type, so a rewrite under ACCESS EXCLUSIVE cannot be ruled out"
            ));
            continue;
        };
        let rewrite = |why: String| {
            format!(
            "`ALTER COLUMN {column} TYPE {ty}` on `{table}` ({old} → {ty}{why}) rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite"
        )
        };
        if *using {
            out.report(rewrite(", with USING".into()));
            continue;
        }
        let domain_over_old = ctx
            .schema
            .domains
            .iter()
            .any(|(n, d)| n.name == ty.name && !d.has_constraints && d.base == old);
        let timestamp_flip = TIMESTAMPS.contains(&old.name.as_str())
            && TIMESTAMPS.contains(&ty.name.as_str())
            && old.name != ty.name;
        if timestamp_flip {
            let ok = ctx.server_at_least(12, 0)
                && ctx.file.timezone_utc
                && !indexed
                && precision(ty) >= precision(&old);
            if !ok {
                let why = if !ctx.server_at_least(12, 0) {
                    ", before PostgreSQL 12"
                } else if precision(ty) < precision(&old) {
                    ", lowering the precision"
                } else if indexed {
                    ", the column is indexed"
                } else {
                    ", no `SET TimeZone = 'UTC'` earlier in this file"
                };
                out.report(rewrite(why.into()));
            }
            continue;
        }
        if !no_rewrite(&old, ty, domain_over_old) {
            out.report(rewrite(String::new()));
            continue;
        }
        let old_collation = model_table
            .and_then(|t| t.column(column))
            .and_then(|c| c.collation.clone());
        if collation.is_some() && *collation != old_collation && indexed {
            out.report(format!(
                "`ALTER COLUMN {column} … COLLATE` on `{table}` changes the collation of an indexed column: its indexes are rebuilt under ACCESS EXCLUSIVE"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TABLE t (id int PRIMARY KEY, name varchar(50), note text, amount numeric(10,2), at timestamp(3), net cidr, ts timestamp, flags bit varying(8), code char(3));\nCREATE INDEX t_name ON t (name);";
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
            "ALTER TABLE t ALTER COLUMN net TYPE inet;",
            "ALTER TABLE t ALTER COLUMN flags TYPE varbit(16);",
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
            "ALTER TABLE t ALTER COLUMN note TYPE varchar(10);",
            "ALTER TABLE t ALTER COLUMN code TYPE char(5);",
            "ALTER TABLE t ALTER COLUMN note TYPE text USING trim(note);",
        ] {
            assert_eq!(hits(sql), 1, "{sql}");
        }
    }

    #[test]
    fn an_unconstrained_domain_over_the_type_passes() {
        let setup = format!("{SETUP}\nCREATE DOMAIN label AS text;\nCREATE DOMAIN short AS text CHECK (length(VALUE) < 5);");
        assert!(
            expand_hits(&setup, "ALTER TABLE t ALTER COLUMN note TYPE label;", RULE).is_empty()
        );
        assert_eq!(
            expand_hits(&setup, "ALTER TABLE t ALTER COLUMN note TYPE short;", RULE).len(),
            1
        );
    }

    #[test]
    fn timestamptz_needs_utc_12_and_no_index() {
        let flip = "ALTER TABLE t ALTER COLUMN ts TYPE timestamptz;";
        assert_eq!(hits(flip), 1);
        let utc = format!("SET TimeZone = 'UTC';\n{flip}");
        assert_eq!(hits(&utc), 0);
        assert_eq!(
            Case::pg(SETUP, &[(Phase::Expand, &utc)])
                .server("11")
                .hits(RULE)
                .len(),
            1
        );
        let lower = "SET TimeZone = 'UTC';\nALTER TABLE t ALTER COLUMN at TYPE timestamptz(0);";
        assert_eq!(hits(lower), 1, "precision 3 -> 0 rewrites");
        let indexed = format!("{SETUP}\nCREATE INDEX t_ts ON t (ts);");
        assert_eq!(expand_hits(&indexed, &utc, RULE).len(), 1);
    }

    #[test]
    fn collation_change_on_an_indexed_column() {
        assert_eq!(
            hits("ALTER TABLE t ALTER COLUMN name TYPE varchar(50) COLLATE \"C\";"),
            1
        );
        assert_eq!(
            hits("ALTER TABLE t ALTER COLUMN note TYPE text COLLATE \"C\";"),
            0
        );
    }

    #[test]
    fn new_table_is_exempt() {
        assert_eq!(
            hits("CREATE TABLE n (a int);\nALTER TABLE n ALTER COLUMN a TYPE bigint;"),
            0
        );
    }
}
