//! The rename's window on a real MariaDB through the types generated from
//! `migrations-mysql/`: old-version code inserts with `name`, transition code through
//! `window::NewUsers` writes both columns, the window reader sees both rows, and after backfill
//! and contract the new version reads every row by `full_name`.

use concertina::codegen::Phase;
use concertina::runtime::migrator::Migrator;
use concertina::runtime::testdb_mysql::MySqlTestDb;
use concertina_example_app::mysql_db::{
    v0003_index_users_status as old, v0004_rename_name_to_full_name as new,
};
use diesel::prelude::*;

const ALL: [Phase; 3] = [Phase::Expand, Phase::Backfill, Phase::Contract];

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

#[test]
fn old_and_transition_code_share_the_window_on_mariadb() {
    let db = MySqlTestDb::new("example_app").expect("a test database");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations-mysql");
    let mut migrator = Migrator::open(&dir, &db.url).expect("open the migrator");
    migrator.lock(None, |_| {}).expect("migrator lock");
    apply(&mut migrator, &ALL, "0003");
    apply(&mut migrator, &[Phase::Expand], "0004");
    let mut conn = MysqlConnection::establish(&db.url).expect("connect");

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
    let grace: Names =
        diesel::sql_query("SELECT name, full_name FROM users WHERE email = 'grace@example.com'")
            .get_result(&mut conn)
            .expect("read both columns");
    assert_eq!(
        grace,
        Names {
            name: Some("Grace Hopper".into()),
            full_name: Some("Grace Hopper".into())
        }
    );

    // `migrations-mysql` never makes `full_name` NOT NULL, so its types read it as an Option.
    let mut read: Vec<(String, Option<String>)> = new::window::users::table
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
            (
                "ada@example.com".to_string(),
                Some("Ada Lovelace".to_string())
            ),
            (
                "grace@example.com".to_string(),
                Some("Grace Hopper".to_string())
            )
        ]
    );

    apply(&mut migrator, &[Phase::Backfill, Phase::Contract], "0004");
    let mut names: Vec<Option<String>> = new::users::table
        .select(new::users::full_name)
        .load(&mut conn)
        .expect("new reader");
    names.sort();
    assert_eq!(
        names,
        [
            Some("Ada Lovelace".to_string()),
            Some("Grace Hopper".to_string())
        ]
    );
}
