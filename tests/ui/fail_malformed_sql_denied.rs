// The warning of a statement the parser does not understand, as rustc prints it (denied here
// so that trybuild records its text).
#![deny(deprecated)]

#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/derive/malformed")]
pub struct Db;

fn main() {}
