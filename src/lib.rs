//! concertina: zero-downtime schema migrations, checked by the compiler.
//!
//! Migrations run in phases — expand, backfill, contract — and every phase is checked for
//! lock safety and backward compatibility. `#[derive(Migration)]` makes an unsafe migration a
//! compile error and generates diesel types for every schema version; `cargo xtask migrate`
//! applies the phases. See the README.

pub use concertina_codegen as codegen;
pub use concertina_macros::Migration;
pub use concertina_runtime as runtime;

/// Code written for schema version `Self` works on a database at version `Db`: every column it
/// reads exists with its type and nullability, every column the database requires it writes.
/// The derive implements it between nearby versions (`db::v0003_x::Version`,
/// `db::v0004_y::window::Version`, …) where that holds.
#[diagnostic::on_unimplemented(
    message = "code written for `{Self}` does not run on a database at `{Db}`",
    label = "not compatible with that schema version",
    note = "a column it reads or writes is gone, changed type or became required there (or the versions are more than four steps apart): use the types of a version that runs on both, such as the migration's `window` module"
)]
pub trait RunsOn<Db> {}

/// Compile-time proof that code written for `App` runs on a database at `Db`:
/// `const _: () = concertina::assert_runs_on::<db::v0003_x::Version, db::v0004_y::window::Version>();`
pub const fn assert_runs_on<App: RunsOn<Db>, Db>() {}

/// Crates the generated code names; not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "bigdecimal")]
    pub use bigdecimal;
    #[cfg(feature = "chrono")]
    pub use chrono;
    #[cfg(feature = "serde_json")]
    pub use serde_json;
    #[cfg(feature = "uuid")]
    pub use uuid;
}
