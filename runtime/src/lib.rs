//! concertina's runtime and command line. The CLI module is what a project's own `xtask` calls
//! (`concertina_runtime::cli::main()`), so every project gets the same commands. Applying
//! phases on a live server arrives with the runtime issue; it reads the same model the checker
//! builds in `concertina-codegen`.

pub mod apply;
pub mod backend;
pub mod backfill;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod down;
pub mod drift;
pub mod error;
pub mod locks;
pub mod migrator;
pub mod mysql;
pub mod order;
pub mod plan;
pub mod postgres;
pub mod state;
pub mod testdb;
pub mod testdb_mysql;
pub mod url;

pub use concertina_codegen as codegen;
