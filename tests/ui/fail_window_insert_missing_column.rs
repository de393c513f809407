// In the window of the rename, the transition insert type requires `full_name` (the old
// version required `name`, which it also writes): forgetting it does not compile.
#[derive(concertina::Migration)]
#[migration(dir = "migrations", versions = "all")]
pub struct Db;

use db::v0004_rename_name_to_full_name::window;

fn main() {
    let _ = window::NewUsers {
        id: None,
        email: "a@example.com".into(),
        created_at: None,
        status: None,
    };
}
