// New code (schema version 0004) reading `users.name`, which that version's contract dropped.
#[derive(concertina::Migration)]
#[migration(dir = "migrations", versions = "all")]
pub struct Db;

use diesel::prelude::*;

fn main() {
    let _query = db::v0004_rename_name_to_full_name::users::table
        .select(db::v0004_rename_name_to_full_name::users::name);
}
