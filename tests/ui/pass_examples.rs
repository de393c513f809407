// The example migrations pass the check, so the crate compiles.
#[derive(concertina::Migration)]
#[migration(dir = "migrations")]
pub struct Db;

fn main() {
    assert_eq!(Db::MIGRATIONS.len(), 7);
    assert_eq!(Db::MIGRATIONS[0], "0001_create_users");
}
