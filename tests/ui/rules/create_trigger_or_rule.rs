// `create-trigger-or-rule` through the derive: its failing fixture does not compile (a warning-level finding
// fails too here, under `deny(deprecated)`, so that its text is recorded).
#![deny(deprecated)]

#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/rules/create-trigger-or-rule", types = false)]
pub struct Db;

fn main() {}
