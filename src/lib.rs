//! concertina: zero-downtime schema migrations, checked by the compiler.
//!
//! Migrations run in phases — expand, backfill, contract — and every phase is checked for
//! lock safety and backward compatibility. See the README for the migration format.

pub use concertina_codegen as codegen;
pub use concertina_runtime as runtime;
