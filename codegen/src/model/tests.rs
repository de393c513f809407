//! The model replayed from SQL, checked name by name against what the servers do.

use super::naming::make_object_name;
use super::*;
use crate::dialect::DialectKind;
use crate::source::SourceFile;

/// The schema after replaying `sql` on PostgreSQL (names and shapes checked against a live
/// server by `tests/live_model_pg.rs`).
fn replay(sql: &str) -> Schema {
    let file = SourceFile::new("t.sql", "t.sql".into(), sql.to_string());
    let parsed = crate::sql::parse_file(&file, DialectKind::Postgres.dialect());
    let mut schema = Schema::default();
    for s in &parsed.statements {
        let warnings = schema.apply(&s.change);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
    schema
}

/// The schema after replaying `sql` on MySQL/MariaDB (checked against MariaDB 10.11 by
/// `tests/live_model_mysql.rs`).
fn replay_mysql(sql: &str) -> Schema {
    let file = SourceFile::new("t.sql", "t.sql".into(), sql.to_string());
    let parsed = crate::sql::parse_file(&file, DialectKind::MariaDb.dialect());
    let mut schema = Schema {
        dialect: DialectKind::MariaDb,
        ..Schema::default()
    };
    for s in &parsed.statements {
        let warnings = schema.apply(&s.change);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
    schema
}

/// `table: index(columns)` for every index, sorted.
fn mysql_indexes(schema: &Schema) -> Vec<String> {
    let mut out: Vec<String> = schema
        .indexes
        .values()
        .map(|i| format!("{}: {}({})", i.table.name, i.name.name, i.columns.join(",")))
        .collect();
    out.sort();
    out
}

#[test]
fn mysql_names_follow_innodb() {
    let schema = replay_mysql(
        "CREATE TABLE u (id int PRIMARY KEY);
         CREATE TABLE `T` (id int NOT NULL, a int, b int, PRIMARY KEY (id), UNIQUE (a), KEY (a),
                           CONSTRAINT t_u FOREIGN KEY (b) REFERENCES u (id));
         ALTER TABLE `T` ADD FOREIGN KEY (a) REFERENCES u (id), ADD FOREIGN KEY (id) REFERENCES u (id);
         ALTER TABLE `T` ADD INDEX (b, a);
         RENAME TABLE `T` TO t2;",
    );
    assert_eq!(
        mysql_indexes(&schema),
        [
            "t2: PRIMARY(id)",
            "t2: a(a)",
            "t2: a_2(a)",
            "t2: b(b,a)",
            "u: PRIMARY(id)"
        ],
        "the index made for t_u is replaced by (b, a)"
    );
    let t = schema.table(&QualName::new("", "t2")).expect("renamed");
    let names: Vec<&str> = t.constraints.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["PRIMARY", "a", "t_u", "t2_ibfk_1", "t2_ibfk_2"]);
}

#[test]
fn mysql_column_changes_reach_keys_and_indexes() {
    let schema = replay_mysql(
        "CREATE TABLE t (id int NOT NULL, a int, b int, PRIMARY KEY (id), KEY ab (a, b));
         ALTER TABLE t CHANGE a x bigint, MODIFY id int;
         ALTER TABLE t ADD COLUMN c int FIRST, DROP COLUMN b;",
    );
    assert_eq!(mysql_indexes(&schema), ["t: PRIMARY(id)", "t: ab(x)"]);
    let t = schema.table(&QualName::new("", "t")).expect("t");
    let cols: Vec<(&str, bool)> = t
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.nullable))
        .collect();
    assert_eq!(
        cols,
        [("c", true), ("id", false), ("x", true)],
        "a key column stays NOT NULL"
    );
}

fn index_names(schema: &Schema) -> Vec<String> {
    schema.indexes.keys().map(|k| k.name.clone()).collect()
}

#[test]
fn generated_names_follow_postgres() {
    let schema = replay(
        "CREATE TABLE t (id int PRIMARY KEY, a text, b int CHECK (b > 0), CHECK (b > 0 AND a <> ''));
         CREATE INDEX ON t (a); CREATE INDEX ON t (a);
         CREATE INDEX ON t (lower(a)); CREATE INDEX ON t (b, (a || 'x'), lower(a), lower(a));",
    );
    assert_eq!(
        index_names(&schema),
        [
            "t_a_idx",
            "t_a_idx1",
            "t_b_expr_lower_lower1_idx",
            "t_lower_idx",
            "t_pkey"
        ]
    );
    let t = schema.table(&QualName::new("public", "t")).expect("t");
    let checks: Vec<&str> = t.constraints.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(checks, ["t_pkey", "t_b_check", "t_check"]);
}

#[test]
fn long_names_are_truncated_like_postgres() {
    assert_eq!(
        make_object_name(
            "a_table_with_a_rather_long_name_for_testing_identifier_truncati",
            Some("a_column_with_an_equally_long_name_to_push_the_generated_names_"),
            "key"
        ),
        "a_table_with_a_rather_long_na_a_column_with_an_equally_long_key"
    );
    assert_eq!(
        make_object_name(
            "a_table_with_a_rather_long_name_for_testing_identifier_truncati",
            None,
            "pkey"
        ),
        "a_table_with_a_rather_long_name_for_testing_identifier_tru_pkey"
    );
}

#[test]
fn using_index_references_and_renames() {
    let schema = replay(
        "CREATE TABLE u (id int PRIMARY KEY, x int);
         CREATE UNIQUE INDEX u_x_i ON u (x);
         ALTER TABLE u ADD UNIQUE USING INDEX u_x_i;
         CREATE TABLE f (id int, u_id int REFERENCES u);
         ALTER TABLE u RENAME COLUMN id TO uid;
         ALTER TABLE u RENAME TO users;
         ALTER INDEX u_x_i RENAME TO users_x_key;",
    );
    let users = schema
        .table(&QualName::new("public", "users"))
        .expect("users");
    assert!(users.constraint("users_x_key").is_some());
    let f = schema.table(&QualName::new("public", "f")).expect("f");
    assert_eq!(
        f.constraints[0].kind,
        ConstraintKind::ForeignKey {
            columns: vec!["u_id".into()],
            ref_table: QualName::new("public", "users"),
            ref_columns: vec!["uid".into()],
        }
    );
}

#[test]
fn partitions_get_the_parents_indexes_and_constraints() {
    let schema = replay(
        "CREATE TABLE ev (id int NOT NULL, at date NOT NULL, k text, PRIMARY KEY (id, at), CHECK (id > 0)) PARTITION BY RANGE (at);
         CREATE TABLE ev1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE INDEX ev_k_idx ON ONLY ev (k);
         ALTER TABLE ev ADD COLUMN n int;",
    );
    let ev1 = schema.table(&QualName::new("public", "ev1")).expect("ev1");
    let names: Vec<&str> = ev1.constraints.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ev_id_check", "ev1_pkey"]);
    assert!(ev1.column("n").is_some());
    assert_eq!(index_names(&schema), ["ev1_pkey", "ev_k_idx", "ev_pkey"]);
    let only = &schema.indexes[&QualName::new("public", "ev_k_idx")];
    assert!(!only.valid, "ON ONLY with a partition lacking the index");
}

#[test]
fn column_types_print_like_format_type() {
    let schema = replay(
        "CREATE SCHEMA billing;
         CREATE TYPE \"Priority\" AS ENUM ('low');
         CREATE TYPE billing.state AS ENUM ('open');
         CREATE TABLE t (a \"Priority\", b billing.state[], c public.\"Priority\",
                         d numeric(10), e bpchar, f char);",
    );
    let t = schema.table(&QualName::new("public", "t")).expect("t");
    let types: Vec<String> = t.columns.iter().map(|c| c.ty.to_string()).collect();
    assert_eq!(
        types,
        [
            "\"Priority\"",
            "billing.state[]",
            "\"Priority\"",
            "numeric(10,0)",
            "bpchar",
            "character(1)"
        ]
    );
    assert_eq!(
        t.columns[0].ty.name, "Priority",
        "enum lookups by name still work"
    );
}

#[test]
fn drop_identity_set_schema_and_view_renames() {
    let schema = replay(
        "CREATE SCHEMA archive;
         CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, s serial, a int);
         CREATE INDEX t_a_idx ON t (a);
         ALTER TABLE t ALTER COLUMN id DROP IDENTITY;
         ALTER TABLE t ALTER COLUMN s DROP DEFAULT;
         CREATE VIEW v AS SELECT id FROM t;
         ALTER VIEW v RENAME TO w;
         ALTER TABLE t SET SCHEMA archive;",
    );
    let t = schema.table(&QualName::new("archive", "t")).expect("moved");
    assert!(t.columns.iter().all(|c| !c.identity), "{:?}", t.columns);
    assert_eq!(
        schema.indexes.keys().cloned().collect::<Vec<_>>(),
        [
            QualName::new("archive", "t_a_idx"),
            QualName::new("archive", "t_pkey")
        ]
    );
    assert!(schema.views.contains_key(&QualName::new("public", "w")));
    assert!(!schema.views.contains_key(&QualName::new("public", "v")));
}

#[test]
fn partition_cycles_are_refused_not_followed() {
    let sql = "CREATE TABLE a (id int) PARTITION BY LIST (id);
         CREATE TABLE b PARTITION OF a FOR VALUES IN (1) PARTITION BY LIST (id);
         ALTER TABLE b ATTACH PARTITION a FOR VALUES IN (1);
         ALTER TABLE a ATTACH PARTITION a FOR VALUES IN (2);
         CREATE TABLE c PARTITION OF nowhere FOR VALUES IN (3);
         CREATE INDEX ON a (id);
         ALTER TABLE a ADD COLUMN x int;
         DROP TABLE a;";
    let file = SourceFile::new("t.sql", "t.sql".into(), sql.to_string());
    let parsed = crate::sql::parse_file(&file, DialectKind::Postgres.dialect());
    let mut schema = Schema::default();
    let warnings: Vec<ModelWarning> = parsed
        .statements
        .iter()
        .flat_map(|s| schema.apply(&s.change))
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    let names: Vec<&str> = schema.tables.keys().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["c"]);
}

#[test]
fn enum_labels_keep_their_place() {
    let schema = replay(
        "CREATE TYPE mood AS ENUM ('happy', 'sad');
         ALTER TYPE mood ADD VALUE 'ecstatic' BEFORE 'happy';
         ALTER TYPE mood ADD VALUE 'content' AFTER 'happy';
         ALTER TYPE mood ADD VALUE 'meh';",
    );
    assert_eq!(
        schema.enums[&QualName::new("public", "mood")],
        ["ecstatic", "happy", "content", "sad", "meh"]
    );
}
