// Code written for S(0003) cannot run once 0004 contracted (`name` is gone): the generated
// `RunsOn` relation refuses it.
#[derive(concertina::Migration)]
#[migration(dir = "migrations", versions = "all")]
pub struct Db;

use db::{v0003_index_users_status as old, v0004_rename_name_to_full_name as new};

const _: () = concertina::assert_runs_on::<old::Version, new::window::Version>();
const _: () = concertina::assert_runs_on::<old::Version, new::Version>();

fn main() {}
