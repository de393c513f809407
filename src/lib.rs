//! concertina: zero-downtime schema migrations, checked by the compiler.
//!
//! Migrations run in phases — expand, backfill, contract — and every phase is checked for
//! lock safety and backward compatibility. `#[derive(Migration)]` makes an unsafe migration a
//! compile error; `cargo xtask migrate` applies the phases. See the README.

pub use concertina_codegen as codegen;
pub use concertina_macros::Migration;
pub use concertina_runtime as runtime;
