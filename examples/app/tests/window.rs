//! Old-version code and transition code against one real PostgreSQL at `E(0004)` (the rename
//! of `users.name` to `full_name`, mid-window), through the generated types: the transition
//! code writes both columns, both versions read each other's rows, and after backfill and
//! contract the new version reads everything the old one wrote.

use concertina::codegen::Phase;
use concertina::runtime::migrator::Migrator;
use concertina::runtime::testdb::TestDb;
use concertina_example_app::db::{
    v0003_index_users_status as old, v0004_rename_name_to_full_name as new,
};
use diesel::prelude::*;

const ALL: [Phase; 3] = [Phase::Expand, Phase::Backfill, Phase::Contract];

fn migrations() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

fn apply(m: &mut Migrator, phases: &[Phase], until: &str) {
    m.apply(phases, Some(until), |_, _, _| {}, |_, _| {}, |_| {})
        .unwrap_or_else(|e| panic!("applying {phases:?} until {until}: {e}"));
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Names {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    full_name: Option<String>,
}

fn both_columns(conn: &mut PgConnection, email: &str) -> Names {
    diesel::sql_query(
        "SELECT name::text AS name, full_name::text AS full_name FROM users WHERE email = $1",
    )
    .bind::<diesel::sql_types::Text, _>(email)
    .get_result(conn)
    .expect("read both columns")
}

#[test]
fn old_and_transition_code_share_the_window_and_the_new_code_reads_all_rows() {
    let db = TestDb::new("example_app").expect("a test database");
    let mut migrator = Migrator::open(&migrations(), &db.url).expect("open the migrator");
    migrator.lock(None, |_| {}).expect("migrator lock");
    apply(&mut migrator, &ALL, "0003");
    apply(&mut migrator, &[Phase::Expand], "0004");

    let mut conn = PgConnection::establish(&db.url).expect("connect");

    // The old app (written for S(0003)) keeps inserting with `name` only.
    diesel::insert_into(old::users::table)
        .values(&old::NewUsers {
            id: None,
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            created_at: None,
            status: None,
        })
        .execute(&mut conn)
        .expect("old code inserts at E(0004)");

    // The transition app gives the name once; the generated type writes both columns.
    diesel::insert_into(new::window::users::table)
        .values(&new::window::NewUsers {
            id: None,
            email: "grace@example.com".into(),
            created_at: None,
            status: None,
            full_name: "Grace Hopper".into(),
        })
        .execute(&mut conn)
        .expect("transition code inserts");
    assert_eq!(
        both_columns(&mut conn, "grace@example.com"),
        Names {
            name: Some("Grace Hopper".into()),
            full_name: Some("Grace Hopper".into())
        }
    );

    // An update through the transition type also keeps both columns equal.
    diesel::update(
        new::window::users::table.filter(new::window::users::email.eq("grace@example.com")),
    )
    .set(&new::window::UsersChanges {
        full_name: Some("Grace B. Hopper".into()),
        ..Default::default()
    })
    .execute(&mut conn)
    .expect("transition code updates");
    assert_eq!(
        both_columns(&mut conn, "grace@example.com"),
        Names {
            name: Some("Grace B. Hopper".into()),
            full_name: Some("Grace B. Hopper".into())
        }
    );

    // The window's reader sees the old app's row through COALESCE(full_name, name) …
    let mut read: Vec<(String, String)> = new::window::users::table
        .select(new::window::Users::as_select())
        .load(&mut conn)
        .expect("window reader")
        .into_iter()
        .map(|u| (u.email, u.full_name))
        .collect();
    read.sort();
    assert_eq!(
        read,
        [
            ("ada@example.com".to_string(), "Ada Lovelace".to_string()),
            (
                "grace@example.com".to_string(),
                "Grace B. Hopper".to_string()
            )
        ]
    );
    // … and the old app sees the transition app's row.
    let grace: old::Users = old::users::table
        .filter(old::users::email.eq("grace@example.com"))
        .select(old::Users::as_select())
        .first(&mut conn)
        .expect("old reader");
    assert_eq!(grace.name, "Grace B. Hopper");

    // Backfill and contract: the new app reads every row by `full_name`.
    apply(&mut migrator, &[Phase::Backfill, Phase::Contract], "0004");
    let mut names: Vec<String> = new::users::table
        .select(new::users::full_name)
        .load(&mut conn)
        .expect("new reader");
    names.sort();
    assert_eq!(names, ["Ada Lovelace", "Grace B. Hopper"]);
}
