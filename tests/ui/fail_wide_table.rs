// A table wider than diesel's `table!` takes without `64-column-tables` is one error naming the
// table, its column count and the feature, not diesel's cascade.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/derive/wide")]
pub struct Db;

fn main() {}
