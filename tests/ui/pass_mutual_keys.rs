// Two tables with keys to each other get one `joinable!` (two conflict, E0119); a table keyed
// to itself gets none; both joins compile.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/derive/keys")]
pub struct Db;

use diesel::prelude::*;

fn main() {
    use db::latest::{comments, members, teams};
    let _ = members::table.inner_join(teams::table).select(members::id);
    let _ = comments::table.inner_join(members::table).select(comments::body);
    let _ = db::latest::NewTeams { id: None, name: "core".into(), owner_id: None };
}
