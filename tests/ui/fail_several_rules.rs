// Every error is reported, not only the first.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/mixed")]
pub struct Db;

fn main() {}
