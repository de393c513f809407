// An unknown key in #[migration(...)] is refused with what the attribute takes.
#[derive(concertina::Migration)]
#[migration(directory = "migrations")]
pub struct Db;

fn main() {}
