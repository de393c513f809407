// `unterminated-token` through the derive: a dollar quote closed with `$` instead of `$$` is
// never closed, and the file does not compile.
#![deny(deprecated)]

#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/rules/unterminated-token", types = false)]
pub struct Db;

fn main() {}
