//! One trait for what differs between servers: the connection, the state table, the migrator
//! lock, how a phase's statements run (lock timeouts, retries, online DDL clauses), the
//! backfill engine, the catalog and the plan's lock descriptions. `postgres` and `mysql` are
//! its two implementations; the migrator and the commands see only this trait.

use std::collections::BTreeSet;

use concertina_codegen::change::{Change, QualName};
use concertina_codegen::dialect::DialectKind;

use crate::catalog::Fact;
pub use crate::engine::phase::RunsPhases;
use crate::engine::store::{self, StateSql};
use crate::error::RuntimeError;
use crate::plan::{PhasePlan, Step, StepKind};
use crate::state::PhaseRecord;
use crate::url::redact;

/// A lock a statement takes, as `migrate plan` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub table: QualName,
    /// The server's name for the lock or the online DDL mode it runs with.
    pub mode: String,
    /// What the app notices while it is held or queued.
    pub blocks: &'static str,
}

/// Phases run through [`RunsPhases`], the engine's runner on the backend's `PhaseServer`.
pub trait Backend: RunsPhases {
    /// The connection string without its password.
    fn describe(&self) -> String;

    /// Quotes an identifier in this server's syntax.
    fn quote_ident(&self, ident: &str) -> String;

    /// Creates the state tables if missing; refuses a layout newer than this release's.
    fn ensure_state_table(&mut self) -> Result<(), RuntimeError>;

    fn load_state(&mut self) -> Result<Vec<PhaseRecord>, RuntimeError>;

    /// Takes the migrator lock without waiting. `Ok(None)` when taken; otherwise who holds it.
    fn try_lock(&mut self) -> Result<Option<String>, RuntimeError>;

    fn unlock(&mut self) -> Result<(), RuntimeError>;

    /// The connection the state store talks through.
    fn state(&mut self) -> &mut dyn StateSql;

    /// Records a phase at or below the baseline as applied without running it.
    fn record_baseline(&mut self, plan: &PhasePlan) -> Result<(), RuntimeError> {
        store::record_baseline(self.state(), plan)
    }

    /// After `down`: the expand and backfill of `version` are rolled back, its down row goes.
    fn record_rollback(&mut self, version: &str) -> Result<(), RuntimeError> {
        store::record_rollback(self.state(), version)
    }

    /// The live schema's facts, without concertina's own tables.
    fn live_facts(&mut self) -> Result<BTreeSet<Fact>, RuntimeError>;

    /// The model's facts as this server's catalog spells them, for `verify`.
    fn model_facts(&self, schema: &concertina_codegen::model::Schema) -> BTreeSet<Fact> {
        crate::catalog::model_facts(schema)
    }

    /// The column a contract step makes NOT NULL, for `verify` to count the NULLs left.
    fn sets_not_null(&self, step: &Step, _change: Option<&Change>) -> Option<(QualName, String)> {
        match &step.kind {
            StepKind::SafeSetNotNull { table, column } => Some((table.clone(), column.clone())),
            _ => None,
        }
    }

    /// The versions diesel_migrations recorded in `__diesel_schema_migrations`; `None` when
    /// the database has no such table (diesel never ran here).
    fn diesel_versions(&mut self) -> Result<Option<Vec<String>>, RuntimeError> {
        store::diesel_versions(self.state())
    }

    /// Records `version` in diesel's table (created as diesel creates it when missing), so that
    /// `diesel migration run` or `run_pending_migrations` never runs it a second time.
    fn record_diesel_version(&mut self, version: &str) -> Result<(), RuntimeError> {
        store::record_diesel_version(self.state(), version)
    }

    /// Removes `version` from diesel's table (after `down`), if the table exists.
    fn forget_diesel_version(&mut self, version: &str) -> Result<(), RuntimeError> {
        store::forget_diesel_version(self.state(), version)
    }

    /// The server's version as it reports it (`15.4`, `10.11.6-MariaDB`).
    fn server_version(&mut self) -> Result<String, RuntimeError>;

    /// Rows of `table` whose `column` is NULL.
    fn count_nulls(&mut self, table: &QualName, column: &str) -> Result<i64, RuntimeError>;

    /// The server's row estimate for a table; `None` if unknown (e.g. not created yet).
    fn row_estimate(&mut self, table: &QualName) -> Option<i64>;

    /// The locks (or online DDL mode) each table gets from a statement, for `migrate plan`.
    /// `ctx`: the models around the statement and the server version.
    fn step_locks(
        &self,
        change: &Change,
        step: &Step,
        ctx: &crate::plan::LockContext,
    ) -> Vec<LockInfo>;

    /// How a step runs, for `migrate plan`.
    fn how(&self, step: &Step) -> String;

    /// The inverse of `CREATE INDEX name ON table`, as `down` derives it.
    fn drop_index(&self, table: &QualName, index: &str) -> (String, StepKind);

    /// The PostgreSQL connection, for the demo's data loading.
    #[cfg(feature = "postgres")]
    fn as_postgres(&mut self) -> Option<&mut crate::postgres::Postgres> {
        None
    }
}

/// Which backend a URL's scheme names.
fn scheme_dialect(url: &str) -> Option<&'static str> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Some("postgres")
    } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
        Some("mysql")
    } else if lower.contains("://") {
        Some("unknown")
    } else {
        // libpq's keyword form (`host=… dbname=…`).
        Some("postgres")
    }
}

/// Connects to the backend of the configured dialect; a URL of another server is an error.
pub fn connect(dialect: DialectKind, url: &str) -> Result<Box<dyn Backend>, RuntimeError> {
    let wanted = match dialect {
        DialectKind::Postgres => "postgres",
        DialectKind::MySql | DialectKind::MariaDb => "mysql",
    };
    if let Some(reason) = crate::url::malformed(url) {
        return Err(RuntimeError::BadUrl(reason));
    }
    let found = scheme_dialect(url).unwrap_or("unknown");
    if found != wanted {
        return Err(RuntimeError::WrongScheme {
            url: redact(url),
            dialect: dialect.as_str().into(),
            expected: if wanted == "postgres" {
                "postgres://user@host:5432/db"
            } else {
                "mysql://user@host:3306/db"
            },
        });
    }
    match dialect {
        #[cfg(feature = "postgres")]
        DialectKind::Postgres => Ok(Box::new(crate::postgres::Postgres::connect(url)?)),
        #[cfg(feature = "mysql")]
        DialectKind::MySql | DialectKind::MariaDb => Ok(Box::new(crate::mysql::MySql::connect(
            url,
            dialect == DialectKind::MariaDb,
        )?)),
        #[allow(unreachable_patterns)]
        other => Err(RuntimeError::no_backend(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_of_another_server_is_refused_without_its_password() {
        let err = match connect(DialectKind::MariaDb, "postgres://app:hunter2@db/prod") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a postgres URL must not open a MariaDB backend"),
        };
        assert!(err.contains("mariadb") && err.contains("mysql://"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = match connect(DialectKind::Postgres, "mysql://root:pw@127.0.0.1:1/x") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a mysql URL must not open a PostgreSQL backend"),
        };
        assert!(err.contains("postgres://"), "{err}");
        assert!(!err.contains(":pw@"), "{err}");
    }
}
