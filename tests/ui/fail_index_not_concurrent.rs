// A plain CREATE INDEX on an existing table is a compile error naming the file, line and recipe.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/rules/index-not-concurrent")]
pub struct Db;

fn main() {}
