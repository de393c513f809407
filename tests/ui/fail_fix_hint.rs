// A finding `migrate fix` can rewrite says so under its recipe; one it cannot (an index built
// inside BEGIN … COMMIT) has no such note; one that needs a decision names the flag for it.
#[derive(concertina::Migration)]
#[migration(dir = "tests/fixtures/fix_hint", types = false)]
pub struct Db;

fn main() {}
