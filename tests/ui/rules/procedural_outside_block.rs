// `procedural-outside-block` through the derive: a `RAISE NOTICE` at the top level of a
// migration file, which the server refuses, and the file does not compile.
#![deny(deprecated)]

#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/rules/procedural-outside-block", types = false)]
pub struct Db;

fn main() {}
