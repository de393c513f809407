//! `feature-newer-than-server`: syntax or a feature that the configured `server_version` does
//! not have yet. The server refuses the statement, so the deploy stops half-way through the
//! phase. Each entry of [`FEATURES`] names the major that introduced it (from that major's
//! release notes), and each is verified on the servers of the version matrix (`cargo xtask
//! matrix`: the statement fails on the major before and runs on the one that introduced it).

use crate::change::{AlterOp, Change, ColumnSpec};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};
use crate::sql::words::{has_phrase, words};

pub static RULE: Rule = Rule {
    id: "feature-newer-than-server",
    severity: Severity::Error,
    summary: "syntax or a feature newer than `server_version` (generated columns before 12, `EXECUTE FUNCTION` before 11, …): the server refuses it and the deploy stops half-way",
    help: "write it the way the oldest server you run understands (the message names the older form), or raise `server_version` in concertina.toml once every server runs the newer major",
    check,
    fix: None,
};

/// A feature: its major, what it is, and what the older servers accept instead.
struct Feature {
    since: u32,
    what: &'static str,
    instead: &'static str,
}

const GENERATED: Feature = Feature {
    since: 12,
    what: "a generated column (`GENERATED ALWAYS AS (…) STORED`)",
    instead: "a plain column filled by a trigger",
};
const VIRTUAL: Feature = Feature {
    since: 18,
    what: "a virtual generated column (`GENERATED ALWAYS AS (…)` without `STORED`)",
    instead: "`… STORED` (PostgreSQL 12 to 17)",
};
const EXECUTE_FUNCTION: Feature = Feature {
    since: 11,
    what: "`EXECUTE FUNCTION` in `CREATE TRIGGER`",
    instead: "`EXECUTE PROCEDURE`, which every version accepts",
};
const OR_REPLACE_TRIGGER: Feature = Feature {
    since: 14,
    what: "`CREATE OR REPLACE TRIGGER`",
    instead: "`DROP TRIGGER IF EXISTS …` then `CREATE TRIGGER`",
};
const PARTITIONED_INDEX: Feature = Feature {
    since: 11,
    what: "an index on a partitioned table",
    instead: "one index per partition",
};
const INCLUDE: Feature = Feature {
    since: 11,
    what: "`INCLUDE (…)` columns in an index",
    instead: "the columns in the key, or no covering index",
};
const REINDEX_CONCURRENTLY: Feature = Feature {
    since: 12,
    what: "`REINDEX CONCURRENTLY`",
    instead: "build a twin index `CONCURRENTLY`, then `DROP INDEX CONCURRENTLY` the old one",
};
const DETACH_CONCURRENTLY: Feature = Feature {
    since: 14,
    what: "`DETACH PARTITION … CONCURRENTLY`",
    instead: "`DETACH PARTITION` (ACCESS EXCLUSIVE on the parent)",
};
const NULLS_NOT_DISTINCT: Feature = Feature {
    since: 15,
    what: "`NULLS NOT DISTINCT`",
    instead: "a unique index on `coalesce(col, …)`",
};
const MERGE: Feature = Feature {
    since: 15,
    what: "`MERGE`",
    instead: "`INSERT … ON CONFLICT … DO UPDATE`",
};
const PROCEDURE: Feature = Feature {
    since: 11,
    what: "procedures (`CREATE PROCEDURE`, `CALL`)",
    instead: "a function called with `SELECT`",
};
const COMPRESSION: Feature = Feature {
    since: 14,
    what: "a column's `COMPRESSION` method",
    instead: "no `COMPRESSION` clause (pglz)",
};
const GEN_RANDOM_UUID: Feature = Feature {
    since: 13,
    what: "`gen_random_uuid()` without an extension",
    instead: "`CREATE EXTENSION IF NOT EXISTS pgcrypto` first (it provides the function before 13)",
};

/// Every feature the rule knows, for the README and the matrix.
pub const FEATURES: &[(u32, &str)] = &[
    (
        11,
        "`EXECUTE FUNCTION` in triggers, indexes on partitioned tables, `INCLUDE`, procedures",
    ),
    (12, "generated columns, `REINDEX CONCURRENTLY`"),
    (13, "`gen_random_uuid()` built in"),
    (
        14,
        "`CREATE OR REPLACE TRIGGER`, `DETACH PARTITION … CONCURRENTLY`, column `COMPRESSION`",
    ),
    (15, "`MERGE`, `NULLS NOT DISTINCT`"),
    (18, "virtual generated columns"),
];

fn column_features(column: &ColumnSpec, found: &mut Vec<&'static Feature>) {
    if let Some(generated) = &column.generated {
        match generated.stored {
            Some(true) => found.push(&GENERATED),
            _ => found.push(&VIRTUAL),
        }
    }
    let defaults = column
        .default
        .iter()
        .chain(column.generated.iter().map(|g| &g.expr));
    if defaults
        .flat_map(|e| e.functions.iter())
        .any(|f| f.eq_ignore_ascii_case("gen_random_uuid"))
    {
        found.push(&GEN_RANDOM_UUID);
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let version = ctx.config.server_version;
    let text = ctx.statement.text(ctx.source);
    let w = words(text, ctx.dialect);
    let mut found: Vec<&'static Feature> = Vec::new();
    match ctx.change {
        Change::CreateTable(ct) => {
            for c in &ct.columns {
                column_features(c, &mut found);
            }
        }
        Change::AlterTable { ops, .. } => {
            for op in ops {
                match op {
                    AlterOp::AddColumn { column, .. } => column_features(column, &mut found),
                    AlterOp::SetDefault { default, .. }
                        if default
                            .functions
                            .iter()
                            .any(|f| f.eq_ignore_ascii_case("gen_random_uuid")) =>
                    {
                        found.push(&GEN_RANDOM_UUID)
                    }
                    AlterOp::DetachPartition {
                        concurrently: true, ..
                    } => found.push(&DETACH_CONCURRENTLY),
                    _ => {}
                }
            }
        }
        Change::CreateTrigger { or_replace, .. } => {
            if has_phrase(&w, "EXECUTE FUNCTION") {
                found.push(&EXECUTE_FUNCTION);
            }
            if *or_replace {
                found.push(&OR_REPLACE_TRIGGER);
            }
        }
        Change::CreateIndex(ci) => {
            if ctx.schema.table(&ci.table).is_some_and(|t| t.partitioned) {
                found.push(&PARTITIONED_INDEX);
            }
            if has_phrase(&w, "INCLUDE (") {
                found.push(&INCLUDE);
            }
        }
        Change::Reindex {
            concurrently: true, ..
        } => found.push(&REINDEX_CONCURRENTLY),
        _ => {}
    }
    if has_phrase(&w, "NULLS NOT DISTINCT") {
        found.push(&NULLS_NOT_DISTINCT);
    }
    if w.first().is_some_and(|f| f == "MERGE") {
        found.push(&MERGE);
    }
    if has_phrase(&w, "CREATE PROCEDURE")
        || has_phrase(&w, "CREATE OR REPLACE PROCEDURE")
        || w.first().is_some_and(|f| f == "CALL")
    {
        found.push(&PROCEDURE);
    }
    if matches!(
        ctx.change,
        Change::CreateTable(_) | Change::AlterTable { .. }
    ) && w.iter().any(|x| x == "COMPRESSION")
    {
        found.push(&COMPRESSION);
    }
    for feature in found {
        if version.at_least(feature.since, 0) {
            continue;
        }
        let message = format!(
            "{} is PostgreSQL {}+, and `server_version` is {version}: the server refuses this statement and the deploy stops here; instead: {}",
            feature.what, feature.since, feature.instead
        );
        // Before 13 `gen_random_uuid()` works where pgcrypto is installed: a warning.
        if std::ptr::eq(feature, &GEN_RANDOM_UUID) {
            out.report_as(Severity::Warning, message);
        } else {
            out.report(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::Case;
    use crate::Phase;

    const SETUP: &str =
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, price int, qty int);\n\
                         CREATE TABLE events (id bigint, at date) PARTITION BY RANGE (at);";
    const ID: &str = "feature-newer-than-server";

    fn hits(version: &str, sql: &str) -> Vec<String> {
        Case::pg(SETUP, &[(Phase::Expand, sql)])
            .server(version)
            .run()
            .into_iter()
            .filter(|d| d.rule == ID)
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn each_feature_is_flagged_before_its_major_only() {
        let cases: &[(&str, u32)] = &[
            ("ALTER TABLE users ADD COLUMN total int GENERATED ALWAYS AS (price * qty) STORED;", 12),
            ("ALTER TABLE users ADD COLUMN total int GENERATED ALWAYS AS (price * qty);", 18),
            ("CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION f();", 11),
            ("CREATE OR REPLACE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE PROCEDURE f();", 14),
            ("CREATE INDEX events_at ON events (at);", 11),
            ("CREATE INDEX CONCURRENTLY users_email ON users (email) INCLUDE (price);", 11),
            ("REINDEX INDEX CONCURRENTLY users_pkey;", 12),
            ("ALTER TABLE users ADD CONSTRAINT users_email UNIQUE NULLS NOT DISTINCT (email);", 15),
            ("CREATE PROCEDURE p() LANGUAGE sql AS $$ SELECT 1 $$;", 11),
            ("CREATE TABLE notes (id bigint PRIMARY KEY, body text COMPRESSION lz4);", 14),
        ];
        for (sql, since) in cases {
            let before = hits(&(since - 1).to_string(), sql);
            assert_eq!(before.len(), 1, "{sql} on {}: {before:?}", since - 1);
            assert!(
                before[0].contains(&format!("PostgreSQL {since}+")),
                "{before:?}"
            );
            assert!(hits(&since.to_string(), sql).is_empty(), "{sql} on {since}");
        }
    }

    #[test]
    fn older_forms_and_look_alikes_are_quiet() {
        for sql in [
            "CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE PROCEDURE f();",
            "ALTER TABLE users ADD COLUMN note text DEFAULT 'EXECUTE FUNCTION';",
            "CREATE INDEX CONCURRENTLY users_email ON users (email);",
            "ALTER TABLE users ADD COLUMN \"compression\" text;",
        ] {
            assert!(hits("10", sql).is_empty(), "{sql}");
        }
    }

    #[test]
    fn gen_random_uuid_before_13_is_a_warning_naming_pgcrypto() {
        let diags = Case::pg(
            SETUP,
            &[(
                Phase::Expand,
                "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            )],
        )
        .server("12")
        .run();
        let d = diags.iter().find(|d| d.rule == ID).expect("flagged");
        assert!(!d.is_error() && d.message.contains("pgcrypto"), "{d:?}");
    }
}
