//! Errors that stop a check before it starts: the directory or its configuration is unusable.
//! Each names the path and the fix; the CLI maps them to exit code 2.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: no such directory; pass the migrations directory with --dir, or create it with a concertina.toml", path.display())]
    MissingDir { path: PathBuf },
    #[error("{}: is not a directory; pass the migrations directory with --dir", path.display())]
    NotADir { path: PathBuf },
    #[error("{}: missing; create it with `dialect = \"postgres\"` and `server_version = \"14\"` (the oldest server you run)", path.display())]
    MissingConfig { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("{}: cannot read: {source}; check that the file exists and is readable", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: is not valid UTF-8; save the file as UTF-8", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("{}: `{name}` is not a migration directory name; rename it to <version>_<name> (digits, or diesel's YYYY-MM-DD-HHMMSS, then `_` and a name), e.g. 0002_add_email", path.display())]
    BadMigrationName { path: PathBuf, name: String },
    #[error("{}: version {version} is also used by {}; give each migration its own version", path.display(), other.display())]
    DuplicateVersion {
        path: PathBuf,
        other: PathBuf,
        version: String,
    },
    #[error("{}: baseline = \"{baseline}\" names no migration in this directory; set it to the version of an existing migration (e.g. \"{suggestion}\") or remove it", path.display())]
    UnknownBaseline {
        path: PathBuf,
        baseline: String,
        suggestion: String,
    },
    #[error("{}: holds no phase file; add expand.sql (and backfill.sql, contract.sql, down.sql as needed), or up.sql for a diesel migration", path.display())]
    EmptyMigration { path: PathBuf },
    #[error("{}: mixes concertina phase files ({concertina}) with diesel's {diesel}; use expand.sql instead of up.sql", path.display())]
    MixedLayout {
        path: PathBuf,
        concertina: String,
        diesel: String,
    },
}
