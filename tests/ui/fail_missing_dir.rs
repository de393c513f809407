// A missing migrations directory is a compile error that names the path.
#[derive(concertina::Migration)]
#[migration(dir = "no/such/migrations")]
pub struct Db;

fn main() {}
