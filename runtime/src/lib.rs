//! concertina's runtime and command line. The CLI module is what a project's own `xtask` calls
//! (`concertina_runtime::cli::main()`), so every project gets the same commands.
//!
//! Layout: `engine` is backend-neutral (options, reports, errors, retries, the backfill cursor);
//! `backends/{postgres,mysql}` run statements on each server behind the [`backend::Backend`]
//! trait, each behind the cargo feature of its name; the migrator, plans, drift, order and the
//! commands are written once above them.

pub mod backend;
pub mod backends;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod down;
pub mod drift;
pub mod engine;
pub mod error;
pub mod init;
pub mod migrator;
pub mod order;
pub mod plan;
pub mod rehearse;
pub mod state;
pub mod trace;
pub mod url;

#[cfg(feature = "mysql")]
pub use backends::mysql;
#[cfg(feature = "mysql")]
pub use backends::mysql::testdb as testdb_mysql;
#[cfg(feature = "postgres")]
pub use backends::postgres;
#[cfg(feature = "postgres")]
pub use backends::postgres::testdb;

pub use concertina_codegen as codegen;
