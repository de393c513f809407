//! The command line's shape: every subcommand and its arguments (clap), apart from what runs
//! them, so that `commands` takes its arguments from here and `cli` calls `commands` (no loop).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use concertina_codegen::fix::ColumnDecision;

#[derive(Parser, Debug)]
#[command(
    name = "migrate",
    about = "Zero-downtime schema migrations: check, plan and apply expand / backfill / contract",
    long_about = None,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check every migration: lock safety per statement and compatibility across each window.
    Check(CheckArgs),
    /// Rewrite migrations into the recipes their findings print (a unified diff; --write
    /// writes it).
    #[command(long_about = FIX_ABOUT)]
    Fix(FixArgs),
    /// List every rule with its severity and what it flags.
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show every phase of every migration and where it stands on the database.
    Status(DbArgs),
    /// Apply pending expand phases (additive, backward compatible).
    Expand(ApplyArgs),
    /// Run pending backfill phases in resumable keyset batches.
    Backfill(ApplyArgs),
    /// Apply pending contract phases: only once no running app needs the old structure.
    Contract(ContractArgs),
    /// Expand and backfill every pending migration (contract only with --contract).
    Up(UpArgs),
    /// Compare the live schema with the model of the applied phases; check that no NULL is
    /// left where a pending contract sets NOT NULL.
    Verify(DbArgs),
    /// Undo the expand (and backfill) of the latest migration whose contract has not run,
    /// with its down.sql or the inverse derived from expand.sql.
    Down(ApplyArgs),
    /// Show what each pending phase would run: statements, how they run, the lock each takes
    /// and the row estimate of each table from the server's statistics.
    Plan(DbArgs),
    /// Run every migration on a scratch database (a database of its own on DATABASE_URL's
    /// server, or a throwaway server) and set what the server did per statement (locks,
    /// rewrites, scans, failures) beside the checker's verdict; every disagreement is a
    /// `trace-disagrees` error.
    Trace(TraceArgs),
    /// Rehearse the pending migrations before the deploy: on a throwaway server (or databases
    /// of its own on DATABASE_URL's server), with generated production-like rows, while an app
    /// workload built from the generated types runs; every phase applied and traced, each
    /// down rehearsed. Exits 1 on a failed app transaction, a lock wait over lock_timeout, a
    /// tracer disagreement or a down that does not restore the schema.
    Rehearse(RehearseArgs),
    /// Rehearse the example migrations (`migrate rehearse` from the second migration on, with
    /// `--rows` users and a quarter as many orders) and show what the app felt per phase.
    /// Without DATABASE_URL, runs a throwaway server of this machine.
    Demo {
        /// Migrations directory. Default: ./migrations (./migrations-mysql with --dialect
        /// mariadb or mysql).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The server kind: postgres (default), mariadb or mysql (these need DATABASE_URL).
        #[arg(long, value_name = "DIALECT")]
        dialect: Option<String>,
        /// Rows in the users table (orders get a quarter as many).
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Concurrent app clients.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// A running server to use instead of a throwaway one (a database is created and dropped).
        #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Output format of the per-phase table.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Write concertina.toml for an existing migrations directory (a diesel project's): the
    /// dialect, the server's version and, with a database, the last migration diesel applied
    /// as baseline. Changes nothing else.
    Init {
        /// Migrations directory. Default: ./migrations.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The database the migrations ran on: read its version and diesel's record of what ran.
        #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Scaffold a new migration directory with commented phase files.
    New {
        /// The migration's name (letters, digits, underscores).
        name: String,
        /// Migrations directory. Default: ./migrations.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

#[derive(clap::Args, Debug)]
pub struct DbArgs {
    /// Migrations directory (holding concertina.toml). Default: ./migrations.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Database URL; default: the DATABASE_URL environment variable.
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// Migrations directory (holding concertina.toml). Default: ./migrations.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Judge with the rules of this server version instead of concertina.toml's
    /// `server_version` (trace on a server of that version to compare like with like).
    #[arg(long, value_name = "V")]
    pub server_version: Option<String>,
    /// Only report the steps of this migration (all earlier ones still run, untraced in the
    /// output, to build its schema).
    #[arg(long, value_name = "VERSION")]
    pub migration: Option<String>,
    /// A server to create the scratch database on (it is dropped after the trace); default:
    /// the DATABASE_URL environment variable, else a throwaway server.
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct RehearseArgs {
    /// Migrations directory (holding concertina.toml). Default: ./migrations.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The first migration to rehearse (version or directory name); the ones before it are
    /// replayed as the database's past. Default: the last migration.
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,
    /// The production database whose statistics the generated rows follow (row counts, NULL
    /// fractions, most common values, histograms, correlation; MySQL: row counts and index
    /// cardinality). Read only, and only statistics: no row is read or copied. A read-only
    /// role is enough.
    #[arg(long, value_name = "URL")]
    pub stats_from: Option<String>,
    /// Rows of a table at full size (repeatable): `--rows users=2000000`. Wins over the
    /// statistics' row count.
    #[arg(long, value_name = "TABLE=N", value_parser = table_rows)]
    pub rows: Vec<(String, u64)>,
    /// Rows of every table --rows does not size.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub default_rows: u64,
    /// Rehearse at this fraction of the size (0 < F <= 1); each phase's duration is also
    /// extrapolated to full size.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub scale: f64,
    /// App transactions per second over all clients (default: as fast as the clients go).
    #[arg(long, value_name = "TPS")]
    pub rate: Option<f64>,
    /// Concurrent app clients.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub clients: usize,
    /// How long the app runs before the first phase (its baseline latency).
    #[arg(long, value_name = "DURATION", value_parser = humantime_duration, default_value = "3s")]
    pub baseline: std::time::Duration,
    /// Also write the report as one self-contained HTML page (no network: inline SVG).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Do not trace the phases on a twin database.
    #[arg(long)]
    pub no_trace: bool,
    /// Do not rehearse the downs.
    #[arg(long)]
    pub no_rollback: bool,
    /// A server to create the rehearsal's databases on (they are dropped at the end); default:
    /// the DATABASE_URL environment variable, else a throwaway server. Never the database
    /// itself: the rehearsal creates its own.
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

fn table_rows(text: &str) -> Result<(String, u64), String> {
    let (table, n) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: write TABLE=N, e.g. users=1000000"))?;
    let n = n
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}`: {n} is not a number of rows"))?;
    Ok((table.trim().to_string(), n))
}

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Stop after this migration version (a version or a directory name; an unknown one is
    /// an error, never "everything").
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Also run a pending migration that sorts before one already applied (a branch merged
    /// late). Only when it is independent of what ran after it.
    #[arg(long)]
    pub allow_out_of_order: bool,
    /// When another migrator holds the lock, wait up to this long (e.g. 10m) instead of exiting.
    #[arg(long, value_name = "DURATION", value_parser = humantime_duration)]
    pub wait: Option<std::time::Duration>,
}

#[derive(clap::Args, Debug)]
pub struct ContractArgs {
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Confirm that no running app targets the old schema or the transition types.
    #[arg(long)]
    pub yes: bool,
}

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Also apply contract phases (confirms no running app needs the old structure).
    #[arg(long)]
    pub contract: bool,
}

fn humantime_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| e.to_string())
}

const FIX_ABOUT: &str = "Rewrite migrations into the recipes their findings print.

For each finding whose rule has a mechanical recipe (an index built or dropped CONCURRENTLY, a
constraint added NOT VALID and validated in contract, a SET NOT NULL moved to contract, ...),
rewrites the statement across the migration's phase files, creating backfill.sql or
contract.sql when the recipe needs them; every other statement, comment and blank line stays
byte for byte. Checks again after each round, until nothing fixable is left.

Two recipes need a decision first: a NOT NULL column added without default needs the value old
rows get (--fill users.phone=\"'unknown'\"), a column's type change needs the name of the new
column (--new-column orders.amount=amount_cents). The findings left say which flag applies.

Prints the rewrite as a unified diff on stdout; --write writes it (each file through a
temporary file and a rename). The findings left, with why each has no mechanical fix, go to
stderr. Running it twice changes nothing the second time.

Never touches an applied migration: one at or below concertina.toml's baseline, or, with a
database URL, one the state table records (applied, running or failed); it names it and stops.

Exit codes: 0 no error left, 1 errors remain that have no mechanical fix, 2 could not run.";

fn decision(given: &str) -> Result<ColumnDecision, String> {
    ColumnDecision::parse(given).map_err(|e| e.to_string())
}

#[derive(clap::Args, Debug)]
pub struct FixArgs {
    /// Migrations directory (holding concertina.toml). Default: ./migrations.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only this migration (a version or a directory name).
    #[arg(long, value_name = "VERSION")]
    pub migration: Option<String>,
    /// Write the rewrite instead of printing it.
    #[arg(long)]
    pub write: bool,
    /// The value every old row gets in a new NOT NULL column without default (the backfill's
    /// `SET c = EXPR`): a constant or SQL over the row's columns. Repeat for more columns.
    #[arg(long, value_name = "TABLE.COLUMN=EXPR", value_parser = decision)]
    pub fill: Vec<ColumnDecision>,
    /// The name of the new column a column's type change becomes (the one the new app reads;
    /// the old column is dropped in contract). Repeat for more columns.
    #[arg(long = "new-column", value_name = "TABLE.COLUMN=NAME", value_parser = decision)]
    pub new_column: Vec<ColumnDecision>,
    /// The database whose state table says what is applied (never rewritten); default: the
    /// DATABASE_URL environment variable; without one, only the baseline counts as applied.
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Migrations directory (holding concertina.toml). Default: ./migrations.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Output format: rustc-like text, or JSON on stdout for CI.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// Where migrations live unless `--dir` says otherwise.
pub fn default_dir() -> PathBuf {
    PathBuf::from("migrations")
}
