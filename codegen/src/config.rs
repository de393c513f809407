//! `migrations/concertina.toml`: the settings the derive and the CLI both read.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::dialect::DialectKind;
use crate::error::LoadError;

pub const CONFIG_FILE: &str = "concertina.toml";

/// A server version such as `14`, `12.3` or `8.0.29`. Missing parts are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ServerVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        ServerVersion {
            major,
            minor,
            patch,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        if parts.next().is_some() {
            return None;
        }
        Some(ServerVersion::new(major, minor, patch))
    }

    /// True when this version is at least `major.minor`.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

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
    /// Connections that backfill slices of a statement's key range at once (PostgreSQL).
    pub backfill_workers: usize,
}

/// Upper bound of `backfill_workers`: each worker is a connection and a busy server core.
pub const MAX_BACKFILL_WORKERS: u64 = 64;

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            lock_timeout: Duration::from_millis(500),
            lock_retries: 10,
            batch_size: 1000,
            batch_target: Duration::from_millis(200),
            batch_pause: Duration::from_millis(20),
            max_replica_lag: Duration::from_secs(5),
            // One: a migration tool's default favours the running app. On the 2-core CI machine
            // a second worker halved the backfill (about the time of one plain UPDATE) but
            // raised the app's p99 from 2x to 3x; servers with cores to spare set 2 or more.
            backfill_workers: 1,
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
    /// Where the file was read from.
    pub path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    dialect: String,
    server_version: toml::Value,
    baseline: Option<toml::Value>,
    #[serde(default)]
    runtime: RawRuntime,
    #[serde(default)]
    types: BTreeMap<String, TypeOverride>,
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
    backfill_workers: Option<toml::Value>,
}

impl Config {
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
        let version_text = match &raw.server_version {
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
            Some(v) => humantime::parse_duration(&v).map_err(|e| {
                bad(format!(
                    "runtime.{key} = \"{v}\": {e}; write a duration like \"500ms\" or \"2s\""
                ))
            }),
        };
        let r = raw.runtime;
        let runtime = RuntimeConfig {
            lock_timeout: duration("lock_timeout", r.lock_timeout, defaults.lock_timeout)?,
            lock_retries: r.lock_retries.unwrap_or(defaults.lock_retries),
            batch_size: match r.batch_size {
                Some(0) => return Err(bad("runtime.batch_size must be at least 1".into())),
                Some(n) => n,
                None => defaults.batch_size,
            },
            batch_target: duration("batch_target", r.batch_target, defaults.batch_target)?,
            batch_pause: duration("batch_pause", r.batch_pause, defaults.batch_pause)?,
            max_replica_lag: duration(
                "max_replica_lag",
                r.max_replica_lag,
                defaults.max_replica_lag,
            )?,
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
        };
        Ok(Config {
            dialect,
            server_version,
            baseline,
            runtime,
            types: raw.types,
            path,
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

    #[test]
    fn versions_order() {
        let v = ServerVersion::parse("8.0.29").unwrap();
        assert!(v.at_least(8, 0));
        assert!(!v.at_least(8, 1));
        assert!(ServerVersion::parse("1.2.3.4").is_none());
        assert_eq!(v.to_string(), "8.0.29");
    }
}
