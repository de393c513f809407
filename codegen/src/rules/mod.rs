//! The rule registry. One rule per file, its tests beside it: `postgres/` for PostgreSQL lock
//! rules, `mysql/` for MySQL and MariaDB ones, `common/` for rules of every dialect, `compat/`
//! for the schema-version checks.
//! Rules read the replayed model and concertina's [`Change`]s, never sqlparser's types.

pub mod common;
pub mod compat;
pub mod lock_scope;
pub mod mysql;
pub mod postgres;
#[cfg(test)]
pub mod testing;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::change::{AlterOp, Change, QualName};
use crate::config::Config;
use crate::diag::Severity;
use crate::dialect::{Dialect, DialectKind};
use crate::layout::{Layout, Phase};
use crate::model::Schema;
use crate::source::SourceFile;
use crate::sql::{Rename, Statement};

/// A statement rule: looks at one statement in its context and reports findings.
pub struct Rule {
    /// Stable kebab-case id, what users write in `concertina:allow(…)`.
    pub id: &'static str,
    pub severity: Severity,
    /// What the rule flags, one line (the README's rule table).
    pub summary: &'static str,
    /// The safe recipe, printed as `= help:`.
    pub help: &'static str,
    pub check: fn(&StatementCtx, &mut Findings),
    /// The recipe as a rewrite of the statement (`migrate fix`), asked only for a statement
    /// the rule reported; `None` when the recipe needs a decision no rewrite can make.
    pub fix: Option<FixFn>,
}

/// A rule's mechanical recipe: the statement's rewrite, or why there is none for it.
pub type FixFn = fn(&StatementCtx) -> Result<crate::fix::Fix, crate::fix::NoFix>;

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

/// What one rule found on one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub message: String,
    /// Overrides the rule's severity (e.g. E in expand, W in contract).
    pub severity: Option<Severity>,
    /// Overrides the rule's recipe when the statement calls for a specific one.
    pub help: Option<String>,
}

#[derive(Debug, Default)]
pub struct Findings {
    pub items: Vec<Finding>,
}

impl Findings {
    pub fn report(&mut self, message: impl Into<String>) {
        self.items.push(Finding {
            message: message.into(),
            severity: None,
            help: None,
        });
    }

    pub fn report_as(&mut self, severity: Severity, message: impl Into<String>) {
        self.items.push(Finding {
            message: message.into(),
            severity: Some(severity),
            help: None,
        });
    }

    pub fn report_with_help(&mut self, message: impl Into<String>, help: impl Into<String>) {
        self.items.push(Finding {
            message: message.into(),
            severity: None,
            help: Some(help.into()),
        });
    }
}

/// The schema versions of one migration's window (DESIGN.md §2). Shared (`Arc`): one
/// migration's `after` is the next one's `before`.
#[derive(Debug, Clone)]
pub struct Window {
    /// `S(N-1)`: what the old app targets.
    pub before: Arc<Schema>,
    /// `E(N)`: after expand, where old and new apps run together.
    pub expanded: Arc<Schema>,
    /// `S(N)`: after contract, what the new app targets.
    pub after: Arc<Schema>,
    /// Which phase files the migration has.
    pub phases: BTreeSet<Phase>,
    /// Columns the backfill assigns, per table.
    pub backfilled: BTreeSet<(QualName, String)>,
    pub renames: Vec<Rename>,
    /// Each phase file's text as checked (in memory: `migrate fix` rewrites it between rounds),
    /// for a fix that must know what the other phases already do.
    pub phase_texts: BTreeMap<Phase, String>,
    /// concertina's phase files or diesel's `up.sql` / `down.sql`.
    pub layout: Layout,
}

impl Window {
    pub fn has_phase(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    pub fn phase_text(&self, phase: Phase) -> Option<&str> {
        self.phase_texts.get(&phase).map(String::as_str)
    }
}

/// What happened earlier in the same phase file.
#[derive(Debug, Clone, Default)]
pub struct FileState {
    /// Tables created earlier in this file: empty and unused.
    pub created_tables: BTreeSet<QualName>,
    /// Changes since an explicit `BEGIN` that is still open.
    pub open_transaction: Option<Vec<Change>>,
    /// `SET TimeZone = 'UTC'` ran earlier in this file.
    pub timezone_utc: bool,
    /// Enum labels added earlier in this file: (type, label).
    pub added_enum_labels: Vec<(QualName, String)>,
    /// MySQL `SET foreign_key_checks = 0` ran earlier in this file (and no `= 1` since).
    pub foreign_key_checks_off: bool,
}

/// Everything a statement rule may look at.
pub struct StatementCtx<'a> {
    pub dialect: &'a dyn Dialect,
    pub config: &'a Config,
    pub phase: Phase,
    pub statement: &'a Statement,
    pub change: &'a Change,
    /// The model just before this statement.
    pub schema: &'a Schema,
    /// The model at the end of this phase file. Removal is judged on it: an object dropped
    /// and recreated in the same file was not removed for the old app.
    pub phase_end: &'a Schema,
    pub window: &'a Window,
    pub file: &'a FileState,
    pub source: &'a SourceFile,
}

impl StatementCtx<'_> {
    /// Created earlier in this phase file: empty and unused, so lock, scan and compat rules
    /// stay quiet. A table created in expand is no longer new by contract.
    pub fn is_new_table(&self, table: &QualName) -> bool {
        self.file.created_tables.contains(table)
    }

    /// Not created earlier in this file. A table unknown to the model (an opaque statement
    /// may have created it) counts as existing: the safe assumption, so rules still look at
    /// it. A lock rule's error on such a table is then reported as a warning that says the
    /// model does not know the table (see [`lock_scope`]): never silently dropped, never an
    /// error as if it were a known populated table.
    pub fn is_existing_table(&self, table: &QualName) -> bool {
        !self.is_new_table(table)
    }

    /// An `ALTER TABLE` of a table that was not created earlier in this file (the preamble of
    /// every rule about changing an existing table): its table and operations.
    pub fn existing_alter(&self) -> Option<(&QualName, &[AlterOp])> {
        match self.change {
            Change::AlterTable { table, ops, .. } if self.is_existing_table(table) => {
                Some((table, ops.as_slice()))
            }
            _ => None,
        }
    }

    /// The old app (`S(N-1)`) has this table.
    pub fn old_app_has_table(&self, table: &QualName) -> bool {
        self.window.before.tables.contains_key(table)
    }

    pub fn in_transaction(&self) -> bool {
        self.file.open_transaction.is_some()
    }

    pub fn is_postgres(&self) -> bool {
        self.dialect.kind() == DialectKind::Postgres
    }

    /// The oldest server to be safe on is at least `major.minor`.
    pub fn server_at_least(&self, major: u32, minor: u32) -> bool {
        self.config.server_version.at_least(major, minor)
    }

    /// The phase file's real name: `expand.sql`, or diesel's `up.sql`.
    pub fn file_name(&self) -> &str {
        let path = self.source.rel_path.as_str();
        path.rsplit(['/', '\\']).next().unwrap_or(path)
    }

    /// Where this migration's contract work goes, for help texts: its contract.sql, or for a
    /// diesel migration (no contract phase) a later migration.
    pub fn contract_place(&self) -> &'static str {
        match self.window.layout {
            Layout::Concertina => "this migration's contract.sql",
            Layout::Diesel => "the up.sql of a later migration (a diesel migration has no contract phase: make it a migration of its own, deployed once no app reads it)",
        }
    }

    /// The statement's source text.
    pub fn text(&self) -> &str {
        self.statement.text(self.source)
    }
}

/// Every statement rule that applies to a dialect, in report order: the dialect's own (chosen
/// here by its kind, so that `dialect/` knows nothing of rules), then the shared ones.
pub fn rules_for(dialect: &dyn Dialect) -> Vec<&'static Rule> {
    let own: &[&Rule] = match dialect.kind() {
        DialectKind::Postgres => postgres::RULES,
        DialectKind::MySql | DialectKind::MariaDb => mysql::RULES,
    };
    own.iter()
        .chain(common::RULES)
        .chain(compat::RULES)
        .copied()
        .collect()
}

/// Every rule of every dialect (for `allow` lookups and the README table).
pub fn all_rules() -> Vec<&'static Rule> {
    let mut out: Vec<&'static Rule> = Vec::new();
    for kind in [DialectKind::Postgres, DialectKind::MySql] {
        for r in rules_for(kind.dialect()) {
            if !out.iter().any(|o| o.id == r.id) {
                out.push(r);
            }
        }
    }
    out
}

/// Ids reported by the checker itself rather than by a statement rule.
pub const CHECKER_IDS: &[(&str, Severity, &str)] = &[
    ("unparsed-statement", Severity::Warning, "a statement the SQL parser could not read: kept opaque, run as written, invisible to the model"),
    ("unknown-object", Severity::Warning, "a statement names a table, column or other object the model does not know"),
    ("allow-without-reason", Severity::Error, "`concertina:allow(rule)` without `: reason`"),
    ("unused-allow", Severity::Warning, "`concertina:allow(rule)` that suppresses nothing"),
    (crate::sql::UNTERMINATED_TOKEN, Severity::Error, "a string, quoted identifier, dollar quote or block comment that is never closed: the rest of the file would be inside it"),
    ("bad-annotation", Severity::Error, "a `-- concertina:` comment that cannot be read"),
    ("stray-file", Severity::Warning, "a file in the migrations directory that is not part of a migration"),
    ("empty-phase", Severity::Warning, "a phase file without statements"),
    (crate::config::UNKNOWN_SERVER_VERSION, Severity::Warning, "`server_version` in concertina.toml outside the versions the rules know (PostgreSQL 10–18, MySQL 5.7/8.x/9.x, MariaDB 10.x/11.x); one no server ever had is a configuration error"),
];
