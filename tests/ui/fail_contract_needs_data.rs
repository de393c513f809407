// Check 3: contract sets NOT NULL on a column nothing fills in the window.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/derive/contract_needs_data")]
pub struct Db;

fn main() {}
