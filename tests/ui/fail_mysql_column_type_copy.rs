// A MySQL migration that widens a VARCHAR across its length prefix (a table copy) is a
// compile error naming the mysql-* rule, the file, line and recipe.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/rules/mysql-column-type-copy")]
pub struct Db;

fn main() {}
