// A column type concertina cannot map names table, column and type, and how to map it.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/derive/unmappable")]
pub struct Db;

fn main() {}
