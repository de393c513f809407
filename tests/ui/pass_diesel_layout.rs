// A diesel CLI layout (`<timestamp>_<name>/up.sql`): each `up.sql` is one expand phase and
// the versions are named after the directories.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/derive/diesel_layout")]
pub struct Db;

use diesel::prelude::*;

fn main() {
    use db::v2024_02_01_000000_add_title_index::{posts, NewPosts, Posts};
    let _ = diesel::insert_into(posts::table).values(&NewPosts {
        id: None,
        title: "Hello".into(),
        body: "…".into(),
        published: None,
    });
    let query = posts::table.filter(posts::published).select(Posts::as_select());
    let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
    assert!(sql.contains("\"posts\".\"title\""), "{sql}");
    assert_eq!(Db::MIGRATIONS.len(), 2);
}
