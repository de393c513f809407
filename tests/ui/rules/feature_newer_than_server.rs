// `feature-newer-than-server` through the derive: its failing fixture does not compile (a warning-level finding
// fails too here, under `deny(deprecated)`, so that its text is recorded).
#![deny(deprecated)]

#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/rules/feature-newer-than-server", types = false)]
pub struct Db;

fn main() {}
