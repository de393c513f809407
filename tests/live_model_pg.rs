//! The schema model is only as good as its agreement with PostgreSQL. These tests replay
//! migrations statement by statement on a fresh database and compare the live catalog with the
//! model after each expand (`E(N)`, `window.expanded`) and each contract (`S(N)`,
//! `window.after`):
//!
//! - tables: kind (plain or partitioned) and the parent of a partition;
//! - columns: position, `format_type(atttypid, atttypmod)`, nullability, and what fills a
//!   value an insert omits (a sequence through an identity, `serial` or `nextval` default; another
//!   default; a generated value);
//! - indexes: name, uniqueness, key columns (expressions counted), partial or not, `indisvalid`;
//! - constraints: name, kind, columns, the referenced table and columns of a foreign key,
//!   `convalidated`;
//! - enums with their labels in order, views and materialized views.
//!
//! Server: `CONCERTINA_TEST_PG_URL` (an admin database URL, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Each test creates its own database
//! `concertina_test_<tag>_<pid>_<nanos>` and drops it (`WITH (FORCE)`) when it ends, failed or
//! not. An unreachable server fails the tests: they never skip.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

mod live;

use live::load;

use concertina_codegen::change::ConstraintKind;
use concertina_codegen::model::Schema;
use concertina_codegen::Project;
use concertina_runtime::testdb::{admin_url, TestDb};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Integer, Nullable, Text};

/// One fact of a schema, comparable between the catalog and the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fact {
    Table {
        table: String,
        partitioned: bool,
        partition_of: Option<String>,
    },
    Column {
        table: String,
        position: usize,
        name: String,
        ty: String,
        not_null: bool,
        /// What fills the value an insert omits: `auto` (identity, `serial`, any `nextval`
        /// default), `default`, `generated`, or `-`.
        fill: &'static str,
    },
    Index {
        table: String,
        name: String,
        unique: bool,
        /// Key columns in order, then ` + N expr` for expression elements.
        columns: String,
        partial: bool,
        valid: bool,
    },
    Constraint {
        table: String,
        name: String,
        kind: &'static str,
        /// In key order; sorted for CHECK (PostgreSQL keeps the set of referenced columns).
        columns: String,
        /// `table(columns)` for a foreign key.
        references: Option<String>,
        validated: bool,
    },
    Enum {
        name: String,
        labels: Vec<String>,
    },
    View {
        name: String,
        materialized: bool,
    },
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fact::Table {
                table,
                partitioned,
                partition_of,
            } => {
                write!(
                    f,
                    "{}table {table}",
                    if *partitioned { "partitioned " } else { "" }
                )?;
                if let Some(parent) = partition_of {
                    write!(f, " partition of {parent}")?;
                }
                Ok(())
            }
            Fact::Column {
                table,
                position,
                name,
                ty,
                not_null,
                fill,
            } => write!(
                f,
                "column {table}.{name} #{position} {ty}{} fill={fill}",
                if *not_null { " NOT NULL" } else { "" }
            ),
            Fact::Index {
                table,
                name,
                unique,
                columns,
                partial,
                valid,
            } => write!(
                f,
                "{}index {name} on {table} ({columns}){}{}",
                if *unique { "unique " } else { "" },
                if *partial { " WHERE …" } else { "" },
                if *valid { "" } else { " INVALID" }
            ),
            Fact::Constraint {
                table,
                name,
                kind,
                columns,
                references,
                validated,
            } => {
                write!(f, "{kind} constraint {name} on {table} ({columns})")?;
                if let Some(r) = references {
                    write!(f, " references {r}")?;
                }
                if !validated {
                    f.write_str(" NOT VALID")?;
                }
                Ok(())
            }
            Fact::Enum { name, labels } => write!(f, "enum {name} ({})", labels.join(", ")),
            Fact::View { name, materialized } => write!(
                f,
                "{}view {name}",
                if *materialized { "materialized " } else { "" }
            ),
        }
    }
}

/// `name` in `public`, `schema.name` elsewhere.
fn label(schema: &str, name: &str) -> String {
    if schema == "public" || schema.is_empty() {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

fn sorted_joined(mut names: Vec<String>) -> String {
    names.sort();
    names.dedup();
    names.join(", ")
}

/// The facts the model holds.
fn model_facts(schema: &Schema) -> BTreeSet<Fact> {
    let mut out = BTreeSet::new();
    for (qual, table) in &schema.tables {
        let t = label(&qual.schema, &qual.name);
        out.insert(Fact::Table {
            table: t.clone(),
            partitioned: table.partitioned,
            partition_of: table
                .partition_of
                .as_ref()
                .map(|p| label(&p.schema, &p.name)),
        });
        for (i, c) in table.columns.iter().enumerate() {
            let fill = match &c.default {
                _ if c.generated.is_some() => "generated",
                Some(d) if d.functions.iter().any(|f| f == "nextval") => "auto",
                Some(_) => "default",
                None if c.identity => "auto",
                None => "-",
            };
            out.insert(Fact::Column {
                table: t.clone(),
                position: i + 1,
                name: c.name.clone(),
                ty: c.ty.to_string(),
                not_null: !c.nullable,
                fill,
            });
        }
        for c in &table.constraints {
            let (kind, columns, references) = match &c.kind {
                ConstraintKind::Check { expr, .. } => {
                    ("check", sorted_joined(expr.columns.clone()), None)
                }
                ConstraintKind::Exclude => ("exclusion", String::new(), None),
                // PostgreSQL before 18 keeps NOT NULL in pg_attribute only.
                ConstraintKind::NotNull { .. } => continue,
                // The rest are keys.
                key => live::key_constraint(key, |t| label(&t.schema, &t.name))
                    .expect("a key constraint"),
            };
            out.insert(Fact::Constraint {
                table: t.clone(),
                name: c.name.clone(),
                kind,
                columns,
                references,
                validated: c.validated,
            });
        }
    }
    for idx in schema.indexes.values() {
        let mut columns = idx.columns.join(", ");
        if !idx.expressions.is_empty() {
            columns.push_str(&format!(" + {} expr", idx.expressions.len()));
        }
        out.insert(Fact::Index {
            table: label(&idx.table.schema, &idx.table.name),
            name: idx.name.name.clone(),
            unique: idx.unique,
            columns,
            partial: idx.predicate.is_some(),
            valid: idx.valid,
        });
    }
    for (name, labels) in &schema.enums {
        out.insert(Fact::Enum {
            name: label(&name.schema, &name.name),
            labels: labels.clone(),
        });
    }
    for (name, view) in &schema.views {
        out.insert(Fact::View {
            name: label(&name.schema, &name.name),
            materialized: view.materialized,
        });
    }
    out
}

/// Relations of the user's schemas only.
const USER_NS: &str = "c.relnamespace IN (SELECT oid FROM pg_namespace
     WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%')";

#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    parent_schema: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    parent: Option<String>,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Integer)]
    pos: i32,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    ty: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
    #[diesel(sql_type = Text)]
    fill: String,
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Text)]
    cols: String,
    #[diesel(sql_type = Integer)]
    n_expr: i32,
    #[diesel(sql_type = Bool)]
    partial: bool,
    #[diesel(sql_type = Bool)]
    valid: bool,
}

#[derive(QueryableByName)]
struct ConstraintRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    contype: String,
    #[diesel(sql_type = Array<Text>)]
    cols: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    ref_schema: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    ref_table: Option<String>,
    #[diesel(sql_type = Array<Text>)]
    ref_cols: Vec<String>,
    #[diesel(sql_type = Bool)]
    validated: bool,
}

#[derive(QueryableByName)]
struct EnumRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Array<Text>)]
    labels: Vec<String>,
}

#[derive(QueryableByName)]
struct ViewRow {
    #[diesel(sql_type = Text)]
    schema: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    materialized: bool,
}

/// The facts the live database holds.
fn live_facts(conn: &mut PgConnection) -> BTreeSet<Fact> {
    let mut out = BTreeSet::new();
    let tables: Vec<TableRow> = load(
        conn,
        "tables",
        &format!(
            "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind,
                    pn.nspname::text AS parent_schema, p.relname::text AS parent
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
             LEFT JOIN pg_class p ON p.oid = i.inhparent
             LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
             WHERE c.relkind IN ('r', 'p') AND {USER_NS}"
        ),
    );
    for r in tables {
        out.insert(Fact::Table {
            table: label(&r.schema, &r.name),
            partitioned: r.kind == "p",
            partition_of: r
                .parent
                .map(|p| label(r.parent_schema.as_deref().unwrap_or_default(), &p)),
        });
    }
    let columns: Vec<ColumnRow> = load(
        conn,
        "columns",
        &format!(
            "SELECT n.nspname::text AS schema, c.relname::text AS tbl,
                    (row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))::int4 AS pos,
                    a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS ty,
                    a.attnotnull AS not_null,
                    CASE WHEN a.attidentity <> '' THEN 'auto'
                         WHEN a.attgenerated <> '' THEN 'generated'
                         WHEN pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%' THEN 'auto'
                         WHEN a.atthasdef THEN 'default'
                         ELSE '-' END AS fill
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
               AND {USER_NS}"
        ),
    );
    for r in columns {
        let fill = match r.fill.as_str() {
            "auto" => "auto",
            "generated" => "generated",
            "default" => "default",
            _ => "-",
        };
        out.insert(Fact::Column {
            table: label(&r.schema, &r.tbl),
            position: usize::try_from(r.pos).expect("positive position"),
            name: r.name,
            ty: r.ty,
            not_null: r.not_null,
            fill,
        });
    }
    let indexes: Vec<IndexRow> = load(
        conn,
        "indexes",
        &format!(
            "SELECT n.nspname::text AS schema, c.relname::text AS tbl, ic.relname::text AS name,
                    i.indisunique AS is_unique,
                    coalesce((SELECT string_agg(att.attname::text, ', ' ORDER BY k.ord)
                              FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                              JOIN pg_attribute att
                                ON att.attrelid = i.indrelid AND att.attnum = k.attnum
                              WHERE k.ord <= i.indnkeyatts), '') AS cols,
                    (SELECT count(*) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                     WHERE k.attnum = 0 AND k.ord <= i.indnkeyatts)::int4 AS n_expr,
                    i.indpred IS NOT NULL AS partial, i.indisvalid AS valid
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {USER_NS}"
        ),
    );
    for r in indexes {
        let mut columns = r.cols;
        if r.n_expr > 0 {
            columns.push_str(&format!(" + {} expr", r.n_expr));
        }
        out.insert(Fact::Index {
            table: label(&r.schema, &r.tbl),
            name: r.name,
            unique: r.is_unique,
            columns,
            partial: r.partial,
            valid: r.valid,
        });
    }
    // A foreign key to a partitioned table has internal clones, one per referenced partition,
    // on the same referencing table: they are not constraints the user wrote.
    let constraints: Vec<ConstraintRow> = load(
        conn,
        "constraints",
        &format!(
            "SELECT n.nspname::text AS schema, c.relname::text AS tbl, co.conname::text AS name,
                    co.contype::text AS contype,
                    ARRAY(SELECT att.attname::text
                          FROM unnest(co.conkey) WITH ORDINALITY AS k(attnum, ord)
                          JOIN pg_attribute att
                            ON att.attrelid = co.conrelid AND att.attnum = k.attnum
                          ORDER BY k.ord) AS cols,
                    rn.nspname::text AS ref_schema, r.relname::text AS ref_table,
                    ARRAY(SELECT att.attname::text
                          FROM unnest(co.confkey) WITH ORDINALITY AS k(attnum, ord)
                          JOIN pg_attribute att
                            ON att.attrelid = co.confrelid AND att.attnum = k.attnum
                          ORDER BY k.ord) AS ref_cols,
                    co.convalidated AS validated
             FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_class r ON r.oid = co.confrelid
             LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
             WHERE co.contype IN ('p', 'u', 'c', 'f', 'x') AND {USER_NS}
               AND NOT (co.contype = 'f' AND co.conparentid <> 0 AND EXISTS (
                   SELECT 1 FROM pg_constraint pc
                   WHERE pc.oid = co.conparentid AND pc.conrelid = co.conrelid))"
        ),
    );
    for r in constraints {
        let kind = match r.contype.as_str() {
            "p" => "primary key",
            "u" => "unique",
            "c" => "check",
            "f" => "foreign key",
            _ => "exclusion",
        };
        let columns = match kind {
            "check" => sorted_joined(r.cols),
            "exclusion" => String::new(),
            _ => r.cols.join(", "),
        };
        let references = r.ref_table.map(|t| {
            format!(
                "{}({})",
                label(r.ref_schema.as_deref().unwrap_or_default(), &t),
                r.ref_cols.join(", ")
            )
        });
        out.insert(Fact::Constraint {
            table: label(&r.schema, &r.tbl),
            name: r.name,
            kind,
            columns,
            references,
            validated: r.validated,
        });
    }
    let enums: Vec<EnumRow> = load(
        conn,
        "enums",
        "SELECT n.nspname::text AS schema, t.typname::text AS name,
                ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                      WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE t.typtype = 'e'
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
    );
    for r in enums {
        out.insert(Fact::Enum {
            name: label(&r.schema, &r.name),
            labels: r.labels,
        });
    }
    let views: Vec<ViewRow> = load(
        conn,
        "views",
        &format!(
            "SELECT n.nspname::text AS schema, c.relname::text AS name,
                    c.relkind = 'm' AS materialized
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('v', 'm') AND {USER_NS}"
        ),
    );
    for r in views {
        out.insert(Fact::View {
            name: label(&r.schema, &r.name),
            materialized: r.materialized,
        });
    }
    out
}

/// A test database, or a loud failure that says how to point the tests at a server.
fn test_db(tag: &str) -> (TestDb, PgConnection) {
    let db = TestDb::new(tag).unwrap_or_else(|e| {
        panic!(
            "cannot create a test database on {}: {e}\n\
             These tests need a PostgreSQL server: start one on 127.0.0.1:5432 (user postgres, \
             trust auth) or set CONCERTINA_TEST_PG_URL to an admin database URL such as \
             postgres://postgres@127.0.0.1:5432/postgres",
            admin_url()
        )
    });
    let conn = PgConnection::establish(&db.url)
        .unwrap_or_else(|e| panic!("connecting to the test database {}: {e}", db.name));
    (db, conn)
}

/// The replay of `dir` on a fresh database, compared with the model (see `live`).
fn replay_and_compare(dir: &Path, tag: &str) -> usize {
    let (_db, mut conn) = test_db(tag);
    live::replay_and_compare(dir, "PostgreSQL", &mut conn, live_facts, model_facts)
}

#[test]
fn example_migrations_model_matches_postgres() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let compared = replay_and_compare(&dir, "live_examples");
    let migrations = Project::load(&dir).expect("examples load").set.migrations;
    assert!(
        compared >= migrations.len(),
        "every example migration was compared at least once ({compared} versions)"
    );
}

#[test]
fn model_fixture_matches_postgres() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model");
    let compared = replay_and_compare(&dir, "live_fixture");
    assert!(
        compared >= 4,
        "the fixture was replayed ({compared} versions)"
    );
}
