//! The example app: the repository's `migrations/` as typed diesel code, one module per
//! schema version (`db::v0004_rename_name_to_full_name`, its `window`, `db::latest`).
//! `tests/window.rs` runs old-version and transition code against one PostgreSQL.

#[derive(concertina::Migration)]
#[migration(dir = "../../migrations", versions = "all")]
pub struct Db;

use db::v0003_index_users_status as before_rename;
use db::v0004_rename_name_to_full_name as rename;

// The deploy order of the rename, proven at compile time: the old app keeps running after
// expand, and the new app may ship before contract.
const _: () = concertina::assert_runs_on::<before_rename::Version, rename::window::Version>();
const _: () = concertina::assert_runs_on::<rename::window::Version, rename::window::Version>();
const _: () = concertina::assert_runs_on::<rename::Version, rename::window::Version>();

/// The same app on MariaDB: `migrations-mysql/`, the same generator, diesel's MySQL backend.
#[derive(concertina::Migration)]
#[migration(dir = "../../migrations-mysql", module = "mysql_db", versions = "all")]
pub struct MySqlDb;

const _: () = concertina::assert_runs_on::<
    mysql_db::v0003_index_users_status::Version,
    mysql_db::v0004_rename_name_to_full_name::window::Version,
>();
