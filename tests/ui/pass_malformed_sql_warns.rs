// A statement the parser does not understand is a warning, not an error: the crate compiles
// (rustc prints the warning; fail_malformed_sql_denied.rs shows its text).
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/derive/malformed")]
pub struct Db;

fn main() {
    let _ = db::latest::NewNotes { id: 1, body: None };
}
