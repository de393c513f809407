//! `migrations/concertina.toml`: the settings the derive and the CLI both read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::change::QualName;
use crate::diag::{Diagnostic, Severity};
use crate::dialect::DialectKind;
use crate::error::LoadError;
use crate::source::SourceFile;
use crate::versions::{self, VersionSupport};

pub const CONFIG_FILE: &str = "concertina.toml";

pub use crate::versions::ServerVersion;

/// Defaults for the runtime; each can be overridden on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    /// `lock_timeout` (PostgreSQL) / `lock_wait_timeout` (MySQL) for every DDL statement.
    pub lock_timeout: Duration,
    /// How often a DDL statement that timed out on its lock is retried.
    pub lock_retries: u32,
    /// First backfill batch size (rows); adapted to `batch_target` afterwards.
    pub batch_size: u64,
    /// Wanted duration of one backfill batch.
    pub batch_target: Duration,
    /// Pause between backfill batches.
    pub batch_pause: Duration,
    /// Backfill pauses while a replica lags more than this.
    pub max_replica_lag: Duration,
    /// ... or has more than this many bytes of WAL to replay (PostgreSQL; current at every
    /// batch, where the time lag is refreshed only when a standby replies).
    pub max_replica_lag_bytes: u64,
    /// Connections that backfill slices of a statement's key range at once (PostgreSQL).
    pub backfill_workers: usize,
    /// Look before queueing: a transaction open on a DDL statement's tables for longer than
    /// this is waited out before the statement asks for its lock (while it waits in the lock
    /// queue, every app query on the table would queue behind it).
    pub long_transaction: Duration,
    /// How long a DDL statement waits, in all, for such transactions to end before it gives up
    /// and names them.
    pub max_lock_wait: Duration,
    /// The first attempt's `lock_timeout`; each retry doubles it, up to `lock_timeout`.
    pub first_lock_timeout: Duration,
    /// Pace the backfill by the app's latency (a canary query's p99): `None` paces by
    /// `batch_target` and `batch_pause` alone.
    pub app_latency_budget: Option<LatencyBudget>,
    /// MySQL/MariaDB replicas whose lag the backfill watches (`"host"`, `"host:port"` with the
    /// migrator's user and password, or a `mysql://` URL): the migrator connects to the
    /// primary, where `SHOW REPLICA STATUS` says nothing of them, so they are named, as
    /// gh-ost's throttle-control replicas are. PostgreSQL's primary lists its standbys itself.
    pub replicas: Vec<String>,
}

/// `app_latency_budget`: `"2x"` of the p99 measured before the backfill, or `"5ms"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyBudget {
    Relative(f64),
    Absolute(Duration),
}

impl LatencyBudget {
    /// `"1.5x"` (more than 1, at most 100) or a duration from 100 µs to 60 s.
    pub fn parse(text: &str) -> Option<LatencyBudget> {
        let t = text.trim();
        if let Some(f) = t.strip_suffix('x') {
            let f: f64 = f.trim().parse().ok()?;
            return (f > 1.0 && f <= 100.0).then_some(LatencyBudget::Relative(f));
        }
        let d = humantime::parse_duration(t).ok()?;
        (d >= Duration::from_micros(100) && d <= Duration::from_secs(60))
            .then_some(LatencyBudget::Absolute(d))
    }
}

/// Upper bound of `backfill_workers`: each worker is a connection and a busy server core.
pub const MAX_BACKFILL_WORKERS: u64 = 64;

/// Upper bound of `batch_size`: the first batch holds the locks of all its rows in one
/// transaction, and the runtime's adaptive sizing never grows a batch beyond this either.
pub const MAX_BATCH_SIZE: u64 = 200_000;

/// The warning id for a `server_version` outside what the rules know (see [`crate::versions`]).
pub const UNKNOWN_SERVER_VERSION: &str = "unknown-server-version";

/// PostgreSQL's `lock_timeout` is an `int` of milliseconds: `SET lock_timeout` refuses more.
pub const PG_MAX_LOCK_TIMEOUT_MS: u64 = 2_147_483_647;

/// MySQL's and MariaDB's `lock_wait_timeout` is whole seconds, 1 to 31536000 (365 days);
/// `innodb_lock_wait_timeout`, set to the same value, accepts more.
pub const MYSQL_MAX_LOCK_WAIT_TIMEOUT_S: u64 = 31_536_000;

/// The range a `[runtime]` duration key accepts, and why, for the error that refuses the rest.
/// A zero or absurd value of these keys does harm rather than nothing, and `check` (which
/// loads the configuration) must refuse it before the runtime runs anything:
///
/// - `lock_timeout`, 1 ms to the server's maximum, whole milliseconds. PostgreSQL reads 0 as
///   *no timeout*, and the runtime sets `lock_timeout` in whole milliseconds, so `"0ms"` or
///   `"500us"` would let a waiting `ALTER` queue every app query behind it indefinitely.
///   MySQL and MariaDB count `lock_wait_timeout` in whole seconds (1 to 31536000): the runtime
///   rounds `lock_timeout` **up** to whole seconds, at least 1 — `"500ms"` runs as 1 s, never
///   as 0 — so a sub-second value is accepted there and means one second.
/// - `batch_target`, 1 ms to 60 s: a batch holds the row locks of its key range for about
///   this long, so the app's writes to those rows wait as long; 0 would shrink every batch to
///   the engine's minimum.
/// - `batch_pause`, 0 (no pause) to 1 h: longer makes a backfill of N batches take N hours.
/// - `max_replica_lag`, 100 ms to 7 days: 0 would stop the backfill whenever a replica is any
///   amount behind (which its own writes cause); 7 days leaves room for a delayed standby,
///   whose lag includes its apply delay.
struct DurationBounds {
    min: Duration,
    max: Duration,
    /// Must be whole milliseconds (what the runtime sends to the server).
    whole_ms: bool,
    why: &'static str,
}

impl DurationBounds {
    fn of(key: &str, dialect: DialectKind) -> DurationBounds {
        match (key, dialect) {
            ("lock_timeout", DialectKind::Postgres) => DurationBounds {
                min: Duration::from_millis(1),
                max: Duration::from_millis(PG_MAX_LOCK_TIMEOUT_MS),
                whole_ms: true,
                why: "PostgreSQL reads a lock_timeout of 0 as no timeout at all, the runtime sets it in whole milliseconds, and the server refuses more than 2147483647ms",
            },
            ("lock_timeout", _) => DurationBounds {
                min: Duration::from_millis(1),
                max: Duration::from_secs(MYSQL_MAX_LOCK_WAIT_TIMEOUT_S),
                whole_ms: true,
                why: "lock_wait_timeout counts whole seconds from 1 to 31536000: the runtime rounds lock_timeout up to whole seconds, so \"500ms\" runs as 1s",
            },
            ("batch_target", _) => DurationBounds {
                min: Duration::from_millis(1),
                max: Duration::from_secs(60),
                whole_ms: false,
                why: "a backfill batch holds its rows' locks for about this long, and the app's writes to them wait as long",
            },
            ("long_transaction", _) => DurationBounds {
                min: Duration::from_millis(1),
                max: Duration::from_secs(3600),
                whole_ms: false,
                why: "a transaction open on a DDL statement's tables longer than this is waited out before the statement asks for its lock",
            },
            ("max_lock_wait", _) => DurationBounds {
                min: Duration::ZERO,
                max: Duration::from_secs(24 * 3600),
                whole_ms: false,
                why: "how long a DDL statement waits for long transactions on its tables to end before it gives up and names them",
            },
            ("first_lock_timeout", _) => DurationBounds {
                min: Duration::from_millis(1),
                max: Duration::from_millis(PG_MAX_LOCK_TIMEOUT_MS),
                whole_ms: true,
                why: "the first attempt's lock_timeout, doubled per retry up to lock_timeout; 0 would mean no timeout on PostgreSQL",
            },
            ("batch_pause", _) => DurationBounds {
                min: Duration::ZERO,
                max: Duration::from_secs(3600),
                whole_ms: false,
                why: "the pause between backfill batches: longer makes a backfill of N batches take N hours",
            },
            _ => DurationBounds {
                min: Duration::from_millis(100),
                max: Duration::from_secs(7 * 24 * 3600),
                whole_ms: false,
                why: "0 would stop the backfill whenever a replica is any amount behind, which its own writes cause; a delayed standby needs its delay plus a margin",
            },
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            lock_timeout: Duration::from_millis(500),
            lock_retries: 10,
            batch_size: 1000,
            batch_target: Duration::from_millis(200),
            batch_pause: Duration::from_millis(20),
            max_replica_lag: Duration::from_secs(5),
            max_replica_lag_bytes: 16 << 20,
            // One: a migration tool's default favours the running app. On the 2-core CI machine
            // a second worker halved the backfill (about the time of one plain UPDATE) but
            // raised the app's p99 from 2x to 3x; servers with cores to spare set 2 or more.
            backfill_workers: 1,
            long_transaction: Duration::from_millis(200),
            max_lock_wait: Duration::from_secs(300),
            first_lock_timeout: Duration::from_millis(20),
            app_latency_budget: None,
            replicas: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub dialect: DialectKind,
    pub server_version: ServerVersion,
    /// Migrations with a version at or below this are replayed into the model but never checked.
    pub baseline: Option<String>,
    pub runtime: RuntimeConfig,
    /// `[types]`: the diesel SQL type and Rust type generated for a SQL type name, for types
    /// concertina does not map (or maps differently): `inet = { sql = "...", rust = "..." }`.
    pub types: BTreeMap<String, TypeOverride>,
    /// `small_tables`: tables the project declares small (a few thousand rows at most). A lock
    /// rule on one of them is a warning that says so, never silent: the declaration is the
    /// project's, concertina never guesses a table's size.
    pub small_tables: Vec<QualName>,
    /// Where the file was read from.
    pub path: PathBuf,
    /// What is suspicious but not wrong (`unknown-server-version`): `check` reports these
    /// with the migrations' diagnostics.
    pub warnings: Vec<Diagnostic>,
    /// The file's text, when a warning points into it (for the snippet under the warning).
    pub source: Option<SourceFile>,
    /// Not in the file: what `migrate fix` was told on its command line (`--fill`,
    /// `--new-column`), for the rules' fixes to read. Empty for `check` and the derive.
    pub fix_decisions: crate::fix::Decisions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    dialect: String,
    server_version: toml::Spanned<toml::Value>,
    baseline: Option<toml::Value>,
    #[serde(default)]
    runtime: RawRuntime,
    #[serde(default)]
    types: BTreeMap<String, TypeOverride>,
    #[serde(default)]
    small_tables: Vec<toml::Value>,
}

/// One `[types]` entry: paths as the generated code should spell them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeOverride {
    /// The diesel SQL type, e.g. `::diesel::sql_types::Inet`.
    pub sql: String,
    /// The Rust type, e.g. `::ipnetwork::IpNetwork`.
    pub rust: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    lock_timeout: Option<String>,
    lock_retries: Option<u32>,
    batch_size: Option<u64>,
    batch_target: Option<String>,
    batch_pause: Option<String>,
    max_replica_lag: Option<String>,
    max_replica_lag_bytes: Option<toml::Value>,
    backfill_workers: Option<toml::Value>,
    long_transaction: Option<String>,
    max_lock_wait: Option<String>,
    first_lock_timeout: Option<String>,
    app_latency_budget: Option<String>,
    #[serde(default)]
    replicas: Vec<String>,
}

/// `runtime.replicas`: MySQL/MariaDB only; each a host, `host:port` or `mysql://` URL.
fn replicas(values: Vec<String>, dialect: DialectKind) -> Result<Vec<String>, String> {
    if !values.is_empty() && dialect == DialectKind::Postgres {
        return Err("runtime.replicas is for MySQL/MariaDB: a PostgreSQL primary lists its standbys in pg_stat_replication, which the backfill reads (max_replica_lag, max_replica_lag_bytes)".into());
    }
    for (i, v) in values.iter().enumerate() {
        let host = v
            .strip_prefix("mysql://")
            .or_else(|| v.strip_prefix("mariadb://"))
            .map(|rest| rest.rsplit('@').next().unwrap_or(rest))
            .unwrap_or(v)
            .split('/')
            .next()
            .unwrap_or("");
        let (name, port) = host.rsplit_once(':').unwrap_or((host, "3306"));
        let other_scheme =
            v.contains("://") && !v.starts_with("mysql://") && !v.starts_with("mariadb://");
        if name.is_empty() || other_scheme || port.parse::<u16>().is_err() {
            // The host part only: a URL's password is never printed.
            return Err(format!(
                "runtime.replicas, entry {} (host `{host}`): write \"host\", \"host:port\" (the migrator's user and password) or \"mysql://user@host:port/\"",
                i + 1
            ));
        }
    }
    Ok(values)
}

/// A size in bytes: an integer, or a string with `kB`, `MB`, `GB` or `TB` (powers of 1024,
/// as PostgreSQL reads them), from 64 kB to 1 TB.
fn parse_bytes(v: &toml::Value) -> Option<u64> {
    let n = match v {
        toml::Value::Integer(n) => u64::try_from(*n).ok()?,
        toml::Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (digits, unit) = s.split_at(split);
            let n: u64 = digits.parse().ok()?;
            let shift = match unit.trim() {
                "" | "B" => 0,
                "kB" | "KB" => 10,
                "MB" => 20,
                "GB" => 30,
                "TB" => 40,
                _ => return None,
            };
            n.checked_mul(1u64 << shift)?
        }
        _ => return None,
    };
    (64 << 10..=1u64 << 40).contains(&n).then_some(n)
}

/// `small_tables = ["countries", "billing.plans"]`: each a table name, optionally
/// schema-qualified, normalised as the dialect normalises an unquoted name; no duplicates.
fn small_tables(values: &[toml::Value], dialect: DialectKind) -> Result<Vec<QualName>, String> {
    let d = dialect.dialect();
    let mut out: Vec<QualName> = Vec::new();
    for v in values {
        let toml::Value::String(s) = v else {
            return Err(format!(
                "small_tables: `{v}` is not a table name; write strings such as [\"countries\", \"billing.plans\"]"
            ));
        };
        let parts: Vec<&str> = s.split('.').map(str::trim).collect();
        let ident_ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                && !p.starts_with(|c: char| c.is_ascii_digit())
        };
        let name = match parts.as_slice() {
            [t] if ident_ok(t) => QualName::new(d.default_schema(), d.normalize_object(t, false)),
            [schema, t] if ident_ok(schema) && ident_ok(t) => QualName::new(
                d.normalize_object(schema, false),
                d.normalize_object(t, false),
            ),
            _ => {
                return Err(format!(
                    "small_tables: \"{s}\" is not a table name; write `table` or `schema.table` (letters, digits, `_`)"
                ))
            }
        };
        if out.contains(&name) {
            return Err(format!("small_tables: \"{s}\" is listed twice"));
        }
        out.push(name);
    }
    Ok(out)
}

impl Config {
    /// The project declared `table` small in `small_tables`.
    pub fn declares_small(&self, table: &QualName) -> bool {
        self.small_tables.iter().any(|t| {
            t == table
                || (self.dialect != DialectKind::Postgres
                    && t.name.eq_ignore_ascii_case(&table.name)
                    && (t.schema.is_empty() || t.schema.eq_ignore_ascii_case(&table.schema)))
        })
    }

    /// Reads `concertina.toml` from a migrations directory.
    pub fn load(dir: &Path) -> Result<Config, LoadError> {
        let path = dir.join(CONFIG_FILE);
        let text = match std::fs::read(&path) {
            Ok(bytes) => {
                String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 { path: path.clone() })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LoadError::MissingConfig { path })
            }
            Err(source) => return Err(LoadError::Io { path, source }),
        };
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: PathBuf) -> Result<Config, LoadError> {
        let bad = |message: String| LoadError::Config {
            path: path.clone(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| bad(one_line(e.message())))?;
        let dialect = DialectKind::parse(&raw.dialect).ok_or_else(|| {
            bad(format!(
                "unknown dialect `{}`: use one of \"postgres\", \"mysql\", \"mariadb\"",
                raw.dialect
            ))
        })?;
        let version_text = match raw.server_version.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => other.to_string(),
        };
        let server_version = ServerVersion::parse(&version_text).ok_or_else(|| {
            bad(format!(
                "server_version `{version_text}` is not a version: write it like \"14\" or \"8.0.29\""
            ))
        })?;
        let mut warnings = Vec::new();
        let mut source = None;
        match versions::support(dialect, server_version) {
            VersionSupport::Known => {}
            VersionSupport::Impossible(why) => {
                return Err(bad(format!("server_version = \"{version_text}\": {why}")))
            }
            VersionSupport::Unknown(why) => {
                let file = SourceFile::new(CONFIG_FILE, path.clone(), text.to_string());
                let (line, column) = file.line_col(raw.server_version.span().start);
                source = Some(file);
                warnings.push(Diagnostic {
                    rule: UNKNOWN_SERVER_VERSION.into(),
                    severity: Severity::Warning,
                    file: CONFIG_FILE.into(),
                    line,
                    column,
                    message: format!("server_version = \"{version_text}\": {why}"),
                    help: format!(
                        "set server_version to the oldest server you run; the rules know {}; a version outside that range is checked as the nearest one they know",
                        versions::known_range(dialect)
                    ),
                    fixable: false,
                    fix_with: None,
                });
            }
        }
        let baseline = match raw.baseline {
            None => None,
            Some(toml::Value::String(s)) => Some(s),
            Some(toml::Value::Integer(i)) => Some(i.to_string()),
            Some(other) => {
                return Err(bad(format!(
                    "baseline `{other}` must be a migration version string such as \"0003\""
                )))
            }
        };
        let defaults = RuntimeConfig::default();
        let duration = |key: &str, value: Option<String>, default: Duration| match value {
            None => Ok(default),
            Some(v) => {
                let d = humantime::parse_duration(&v).map_err(|e| {
                    bad(format!(
                        "runtime.{key} = \"{v}\": {e}; write a duration like \"500ms\" or \"2s\""
                    ))
                })?;
                let bounds = DurationBounds::of(key, dialect);
                if d < bounds.min || d > bounds.max {
                    return Err(bad(format!(
                        "runtime.{key} = \"{v}\" is out of range: write a duration from \"{}\" to \"{}\" ({})",
                        humantime::format_duration(bounds.min),
                        humantime::format_duration(bounds.max),
                        bounds.why
                    )));
                }
                if bounds.whole_ms && d.subsec_nanos() % 1_000_000 != 0 {
                    return Err(bad(format!(
                        "runtime.{key} = \"{v}\" has a fraction of a millisecond: the runtime sets it in whole milliseconds; write e.g. \"{}ms\"",
                        d.as_millis().max(1)
                    )));
                }
                Ok(d)
            }
        };
        let r = raw.runtime;
        let runtime = RuntimeConfig {
            lock_timeout: duration("lock_timeout", r.lock_timeout, defaults.lock_timeout)?,
            lock_retries: r.lock_retries.unwrap_or(defaults.lock_retries),
            batch_size: match r.batch_size {
                None => defaults.batch_size,
                Some(n @ 1..=MAX_BATCH_SIZE) => n,
                Some(n) => {
                    return Err(bad(format!(
                        "runtime.batch_size = {n}: write a number of rows from 1 to {MAX_BATCH_SIZE} (the first batch holds its rows' locks in one transaction; the engine never grows a batch beyond {MAX_BATCH_SIZE} rows)"
                    )))
                }
            },
            batch_target: duration("batch_target", r.batch_target, defaults.batch_target)?,
            batch_pause: duration("batch_pause", r.batch_pause, defaults.batch_pause)?,
            max_replica_lag: duration(
                "max_replica_lag",
                r.max_replica_lag,
                defaults.max_replica_lag,
            )?,
            max_replica_lag_bytes: match r.max_replica_lag_bytes {
                None => defaults.max_replica_lag_bytes,
                Some(v) => parse_bytes(&v).ok_or_else(|| {
                    bad(format!(
                        "runtime.max_replica_lag_bytes = {v}: write a size from 64kB to 1TB, e.g. \"16MB\" or 16777216 (0 or less would stop the backfill at every batch: a replica always has the last batch's WAL to replay)"
                    ))
                })?,
            },
            backfill_workers: match r.backfill_workers {
                None => defaults.backfill_workers,
                Some(toml::Value::Integer(n)) if (1..=MAX_BACKFILL_WORKERS as i64).contains(&n) => {
                    n as usize
                }
                Some(other) => {
                    return Err(bad(format!(
                        "runtime.backfill_workers = {other}: write a whole number from 1 to {MAX_BACKFILL_WORKERS}"
                    )))
                }
            },
            long_transaction: duration(
                "long_transaction",
                r.long_transaction,
                defaults.long_transaction,
            )?,
            max_lock_wait: duration("max_lock_wait", r.max_lock_wait, defaults.max_lock_wait)?,
            first_lock_timeout: duration(
                "first_lock_timeout",
                r.first_lock_timeout,
                defaults.first_lock_timeout,
            )?,
            app_latency_budget: match r.app_latency_budget {
                None => None,
                Some(v) => Some(LatencyBudget::parse(&v).ok_or_else(|| {
                    bad(format!(
                        "runtime.app_latency_budget = \"{v}\": write a multiple of the app's p99 before the backfill, more than 1x and at most 100x (\"2x\"), or a duration from 100us to 60s (\"5ms\")"
                    ))
                })?),
            },
            replicas: replicas(r.replicas, dialect).map_err(bad)?,
        };
        let small_tables = small_tables(&raw.small_tables, dialect).map_err(bad)?;
        Ok(Config {
            dialect,
            server_version,
            baseline,
            runtime,
            types: raw.types,
            small_tables,
            path,
            warnings,
            source,
            fix_decisions: Default::default(),
        })
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, LoadError> {
        Config::parse(text, PathBuf::from("m/concertina.toml"))
    }

    #[test]
    fn small_tables_are_names_normalised_and_validated() {
        let c = parse("dialect = \"postgres\"\nserver_version = \"14\"\nsmall_tables = [\"Countries\", \"billing.plans\"]\n").unwrap();
        assert_eq!(
            c.small_tables,
            [
                QualName::new("public", "countries"),
                QualName::new("billing", "plans")
            ]
        );
        assert!(c.declares_small(&QualName::new("public", "countries")));
        assert!(!c.declares_small(&QualName::new("public", "plans")));
        let my =
            parse("dialect = \"mysql\"\nserver_version = \"8.0\"\nsmall_tables = [\"Settings\"]\n")
                .unwrap();
        assert!(my.declares_small(&QualName::new("", "settings")));
        for (value, expect) in [
            ("[1]", "is not a table name"),
            ("[\"a b\"]", "is not a table name"),
            ("[\"a.b.c\"]", "is not a table name"),
            ("[\"\"]", "is not a table name"),
            ("[\"t\", \"T\"]", "listed twice"),
        ] {
            let e = parse(&format!(
                "dialect = \"postgres\"\nserver_version = \"14\"\nsmall_tables = {value}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("small_tables") && e.contains(expect),
                "{value}: {e}"
            );
        }
    }

    #[test]
    fn reads_a_full_file() {
        let c = parse(
            "dialect = \"postgres\"\nserver_version = \"12.4\"\nbaseline = \"0003\"\n[runtime]\nlock_timeout = \"250ms\"\nbatch_size = 500\n",
        )
        .unwrap();
        assert_eq!(c.dialect, DialectKind::Postgres);
        assert_eq!(c.server_version, ServerVersion::new(12, 4, 0));
        assert_eq!(c.baseline.as_deref(), Some("0003"));
        assert_eq!(c.runtime.lock_timeout, Duration::from_millis(250));
        assert_eq!(c.runtime.batch_size, 500);
        assert_eq!(
            c.runtime.lock_retries,
            RuntimeConfig::default().lock_retries
        );
    }

    #[test]
    fn backfill_workers_defaults_to_two_and_is_bounded() {
        let base = "dialect = \"postgres\"\nserver_version = \"14\"\n";
        assert_eq!(parse(base).unwrap().runtime.backfill_workers, 1);
        let four = format!("{base}[runtime]\nbackfill_workers = 4\n");
        assert_eq!(parse(&four).unwrap().runtime.backfill_workers, 4);
        for bad in ["0", "65", "-1", "\"two\""] {
            let text = format!("{base}[runtime]\nbackfill_workers = {bad}\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains("backfill_workers"), "{bad}: {e}");
        }
    }

    #[test]
    fn integer_version_is_accepted() {
        let c = parse("dialect = \"mariadb\"\nserver_version = 11\n").unwrap();
        assert_eq!(c.server_version, ServerVersion::new(11, 0, 0));
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = parse("dialect = \"postgres\"\nserver_version = \"14\"\nlock_timout = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m/concertina.toml"), "{e}");
        assert!(e.contains("lock_timout"), "{e}");
    }

    #[test]
    fn unknown_dialect_names_the_choices() {
        let e = parse("dialect = \"oracle\"\nserver_version = \"14\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown dialect `oracle`"), "{e}");
        assert!(e.contains("\"postgres\""), "{e}");
    }

    #[test]
    fn bad_version_and_duration_are_errors() {
        assert!(parse("dialect = \"postgres\"\nserver_version = \"fourteen\"\n").is_err());
        assert!(parse(
            "dialect = \"postgres\"\nserver_version = \"14\"\n[runtime]\nlock_timeout = \"soon\"\n"
        )
        .is_err());
        assert!(parse("dialect = \"postgres\"\n").is_err());
    }

    fn runtime(dialect: &str, key: &str, value: &str) -> Result<Config, LoadError> {
        parse(&format!(
            "dialect = \"{dialect}\"\nserver_version = \"{}\"\n[runtime]\n{key} = {value}\n",
            if dialect == "postgres" { "14" } else { "10.11" }
        ))
    }

    #[test]
    fn lock_timeout_that_would_turn_the_timeout_off_is_refused() {
        for (dialect, value) in [
            ("postgres", "\"0ms\""),
            ("postgres", "\"500us\""),
            ("postgres", "\"0s\""),
            ("mariadb", "\"0ms\""),
            ("mysql", "\"999us\""),
        ] {
            let e = runtime(dialect, "lock_timeout", value)
                .unwrap_err()
                .to_string();
            assert!(e.contains("runtime.lock_timeout"), "{dialect} {value}: {e}");
            assert!(e.contains("out of range"), "{dialect} {value}: {e}");
            assert!(e.contains("\"1ms\""), "names the minimum: {e}");
        }
        let e = runtime("postgres", "lock_timeout", "\"1500us\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("whole milliseconds"), "{e}");
        let ok = runtime("postgres", "lock_timeout", "\"1ms\"").unwrap();
        assert_eq!(ok.runtime.lock_timeout, Duration::from_millis(1));
        // MySQL rounds up to whole seconds: sub-second values are accepted and mean 1 s.
        let ok = runtime("mariadb", "lock_timeout", "\"500ms\"").unwrap();
        assert_eq!(ok.runtime.lock_timeout, Duration::from_millis(500));
    }

    #[test]
    fn lock_timeout_above_the_servers_maximum_is_refused() {
        let pg_max = format!("\"{PG_MAX_LOCK_TIMEOUT_MS}ms\"");
        assert!(runtime("postgres", "lock_timeout", &pg_max).is_ok());
        let over = format!("\"{}ms\"", PG_MAX_LOCK_TIMEOUT_MS + 1);
        let e = runtime("postgres", "lock_timeout", &over)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2147483647ms"), "{e}");
        let my_max = format!("\"{MYSQL_MAX_LOCK_WAIT_TIMEOUT_S}s\"");
        assert!(runtime("mysql", "lock_timeout", &my_max).is_ok());
        // 24.8 days is fine on PostgreSQL, more than a year is not on MariaDB.
        let e = runtime("mariadb", "lock_timeout", "\"366days\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("31536000"), "{e}");
    }

    #[test]
    fn backfill_durations_and_batch_size_are_bounded() {
        for (key, bad, good) in [
            ("batch_target", "\"0ms\"", "\"1ms\""),
            ("batch_target", "\"10m\"", "\"60s\""),
            ("batch_pause", "\"2h\"", "\"0s\""),
            ("max_replica_lag", "\"0s\"", "\"100ms\""),
            ("max_replica_lag", "\"8days\"", "\"7days\""),
            ("long_transaction", "\"0s\"", "\"50ms\""),
            ("long_transaction", "\"2h\"", "\"1h\""),
            ("max_lock_wait", "\"25h\"", "\"0s\""),
            ("first_lock_timeout", "\"0ms\"", "\"10ms\""),
            ("first_lock_timeout", "\"1500us\"", "\"2ms\""),
            ("max_replica_lag_bytes", "0", "65536"),
            ("max_replica_lag_bytes", "\"16XB\"", "\"16MB\""),
            ("max_replica_lag_bytes", "\"2TB\"", "\"1TB\""),
            ("batch_size", "200001", "200000"),
            ("batch_size", "0", "1"),
        ] {
            let e = runtime("postgres", key, bad).unwrap_err().to_string();
            assert!(e.contains(&format!("runtime.{key}")), "{key} {bad}: {e}");
            assert!(runtime("postgres", key, good).is_ok(), "{key} {good}");
        }
    }

    #[test]
    fn impossible_server_version_is_an_error_naming_key_and_fix() {
        for (dialect, version) in [
            ("postgres", "99"),
            ("postgres", "5"),
            ("mariadb", "99"),
            ("mariadb", "8.0"),
            ("mysql", "2"),
        ] {
            let text = format!("dialect = \"{dialect}\"\nserver_version = \"{version}\"\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains("m/concertina.toml"), "{e}");
            assert!(
                e.contains(&format!("server_version = \"{version}\"")),
                "{e}"
            );
            assert!(e.contains("write"), "names the fix: {e}");
        }
    }

    #[test]
    fn unknown_server_version_is_a_warning_at_its_line() {
        let c = parse("dialect = \"postgres\"\n\nserver_version = \"9\"\n").unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let w = &c.warnings[0];
        assert_eq!(w.rule, UNKNOWN_SERVER_VERSION);
        assert_eq!(w.severity, Severity::Warning);
        assert_eq!((w.file.as_str(), w.line, w.column), (CONFIG_FILE, 3, 18));
        assert!(
            w.message.contains("server_version = \"9\""),
            "{}",
            w.message
        );
        assert!(w.help.contains("PostgreSQL 10 to 18"), "{}", w.help);
        let c = parse("dialect = \"mysql\"\nserver_version = \"11.4\"\n").unwrap();
        assert!(
            c.warnings[0].message.contains("mariadb"),
            "{:?}",
            c.warnings
        );
        let c = parse("dialect = \"postgres\"\nserver_version = 16\n").unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn versions_order() {
        let v = ServerVersion::parse("8.0.29").unwrap();
        assert!(v.at_least(8, 0));
        assert!(!v.at_least(8, 1));
        assert!(ServerVersion::parse("1.2.3.4").is_none());
        assert_eq!(v.to_string(), "8.0.29");
    }

    #[test]
    fn replicas_are_named_for_mysql_only() {
        let c = parse("dialect = \"mariadb\"\nserver_version = \"10.11\"\n[runtime]\nreplicas = [\"10.0.0.2\", \"10.0.0.3:3307\", \"mysql://monitor:pw@10.0.0.4/\"]\n").unwrap();
        assert_eq!(c.runtime.replicas.len(), 3);
        let e = parse("dialect = \"postgres\"\nserver_version = \"16\"\n[runtime]\nreplicas = [\"10.0.0.2\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pg_stat_replication"), "{e}");
        for bad in [
            "\"\"",
            "\"h:port\"",
            "\"postgres://u:secret@h/\"",
            "\"mysql://u:secret@:3306/\"",
        ] {
            let e = parse(&format!(
                "dialect = \"mysql\"\nserver_version = \"8.0\"\n[runtime]\nreplicas = [{bad}]\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(e.contains("entry 1"), "{bad}: {e}");
            assert!(!e.contains("secret"), "a password printed: {e}");
        }
    }
}
