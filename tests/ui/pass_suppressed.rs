// A reviewed exception (`-- concertina:allow(rule): reason` above the statement) compiles,
// without a warning.
#![deny(deprecated)]

#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/derive/suppressed")]
pub struct Db;

fn main() {
    let _ = db::latest::NewEvents {
        id: 1,
        kind: "signup".into(),
    };
}
