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
    #[error("{}: `{name}` is not a migration directory name: {reason}; rename it to <version>_<name> (a version of digits, dashes allowed as in diesel's 2024-01-31-120000 or 2024-01-31-120000-0000, then `_` and a name), e.g. 0002_add_email", path.display())]
    BadMigrationName {
        path: PathBuf,
        name: String,
        reason: String,
    },
    #[error("{}: version {version} is also used by {}{}; give each migration its own version", path.display(), other.display(), if *diesel { " (diesel reads a version with its dashes removed, and would run only one of the two)" } else { "" })]
    DuplicateVersion {
        path: PathBuf,
        other: PathBuf,
        version: String,
        /// The directory is in diesel's order (it holds a diesel migration).
        diesel: bool,
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
    #[error("{}: is a symlink that leads nowhere (its target is missing, or the links loop); point it at an existing {what}, or remove it", path.display())]
    BrokenLink { path: PathBuf, what: &'static str },
    #[error("{}: is a {kind}, not a regular file; concertina reads only regular files and directories (a symlink to one is fine): replace it with the file itself", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{}: is {} bytes or more, over the {} MiB concertina reads of one file; a migration file that large is data, not schema: load the data outside the migrations, or split the file across migrations", path.display(), size, limit / (1024 * 1024))]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{}: is not diesel's metadata.toml ({message}); write `run_in_transaction = false` (or `true`) in it, or delete it (diesel would silently ignore it and run up.sql in a transaction)", path.display())]
    BadMetadata { path: PathBuf, message: String },
    /// Every problem of a migrations directory at once, each naming its path and its fix.
    #[error("{}: {} problems in the migrations directory, fix each:{}", dir.display(), errors.len(), errors.iter().map(|e| format!("\n  {e}")).collect::<String>())]
    Many {
        dir: PathBuf,
        errors: Vec<LoadError>,
    },
}
