// `unknown-server-version` through the derive: a warning (denied here so that trybuild records
// its text) on the line of concertina.toml that names a server the rules do not know.
#![deny(deprecated)]

#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/rules/unknown-server-version", types = false)]
pub struct Db;

fn main() {}
