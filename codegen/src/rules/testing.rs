//! Test helpers for rules: run phase files against a baseline schema, in memory.

use crate::change::QualName;
use crate::config::{Config, RuntimeConfig, ServerVersion};
use crate::diag::Diagnostic;
use crate::dialect::DialectKind;
use crate::layout::{Layout, Migration, MigrationSet, Phase, PhaseFile};
use crate::source::SourceFile;

/// A finding `migrate fix` left: its rule and why.
pub type Left = (String, String);

/// A migration under test: `setup` is replayed as migration 0001 (the baseline, not
/// checked); `phases` form migration 0002, which is checked.
pub struct Case<'a> {
    pub dialect: DialectKind,
    pub server: &'a str,
    pub setup: &'a str,
    pub phases: &'a [(Phase, &'a str)],
    /// concertina.toml's `small_tables`.
    pub small_tables: &'a [&'a str],
    /// The checked migration is a diesel one: `up.sql` (expand) and `down.sql`.
    pub diesel: bool,
    /// What `migrate fix` is told (`--fill`, `--new-column`), for [`Case::fixed`].
    pub decisions: crate::fix::Decisions,
}

impl<'a> Case<'a> {
    pub fn pg(setup: &'a str, phases: &'a [(Phase, &'a str)]) -> Self {
        Case {
            dialect: DialectKind::Postgres,
            server: "14",
            setup,
            phases,
            small_tables: &[],
            diesel: false,
            decisions: Default::default(),
        }
    }

    /// A MySQL 8.0 migration (`.dialect(DialectKind::MariaDb)` for MariaDB).
    pub fn mysql(setup: &'a str, phases: &'a [(Phase, &'a str)]) -> Self {
        Case {
            dialect: DialectKind::MySql,
            server: "8.0.35",
            setup,
            phases,
            small_tables: &[],
            diesel: false,
            decisions: Default::default(),
        }
    }

    /// A MariaDB 10.11 migration.
    pub fn mariadb(setup: &'a str, phases: &'a [(Phase, &'a str)]) -> Self {
        Case {
            dialect: DialectKind::MariaDb,
            server: "10.11",
            setup,
            phases,
            small_tables: &[],
            diesel: false,
            decisions: Default::default(),
        }
    }

    pub fn server(mut self, version: &'a str) -> Self {
        self.server = version;
        self
    }

    /// `migrate fix --fill given` (`t.c=EXPR`).
    pub fn fill(mut self, given: &str) -> Self {
        let d = crate::fix::ColumnDecision::parse(given).expect("a decision");
        self.decisions.fills.push(d);
        self
    }

    /// `migrate fix --new-column given` (`t.c=NAME`).
    pub fn new_column(mut self, given: &str) -> Self {
        let d = crate::fix::ColumnDecision::parse(given).expect("a decision");
        self.decisions.new_columns.push(d);
        self
    }

    pub fn dialect(mut self, dialect: DialectKind) -> Self {
        self.dialect = dialect;
        self
    }

    /// Every diagnostic of the checked migration.
    pub fn run(&self) -> Vec<Diagnostic> {
        self.report().diagnostics
    }

    /// The whole report, sources included (for rendering).
    pub fn report(&self) -> crate::check::Report {
        self.project().check()
    }

    /// `migrate fix` on the checked migration: each of its phase files' text after the
    /// rewrite (absent files left out), and why each finding left was not rewritten.
    pub fn fixed(&self) -> (Vec<(Phase, String)>, Vec<Left>) {
        let project = self.project();
        let options = crate::fix::FixOptions {
            decisions: self.decisions.clone(),
            ..Default::default()
        };
        let outcome = crate::fix::fix_project(&project, &options).expect("fix runs");
        let mut files: Vec<(Phase, String)> = self
            .phases
            .iter()
            .map(|(p, t)| (*p, t.to_string()))
            .collect();
        for change in &outcome.changes {
            let phase = [Phase::Expand, Phase::Backfill, Phase::Contract, Phase::Down]
                .into_iter()
                .find(|p| change.rel_path.ends_with(p.file_name()))
                .unwrap_or(Phase::Expand);
            files.retain(|(p, _)| *p != phase);
            if let Some(after) = &change.after {
                files.push((phase, after.clone()));
            }
        }
        files.sort_by_key(|(p, _)| *p);
        let left = outcome
            .unfixed
            .into_iter()
            .map(|u| (u.diagnostic.rule, u.why))
            .collect();
        (files, left)
    }

    /// The migrations and configuration, as `Project::load` would read them.
    pub fn project(&self) -> crate::Project {
        let diesel = self.diesel;
        let file = |dir: &str, phase: Phase, text: &str| {
            let name = match phase {
                Phase::Expand if diesel && dir != "0001_setup" => "up.sql",
                other => other.file_name(),
            };
            PhaseFile {
                phase,
                source: SourceFile::new(
                    format!("{dir}/{name}"),
                    format!("{dir}/{name}").into(),
                    text.to_string(),
                ),
            }
        };
        let migration = |order: u128, dir: &str, phases: Vec<PhaseFile>| Migration {
            version: format!("{order:04}"),
            order,
            name: dir[5..].to_string(),
            dir_name: dir.to_string(),
            layout: if diesel && order == 2 {
                Layout::Diesel
            } else {
                Layout::Concertina
            },
            run_in_transaction: true,
            phases,
        };
        let set = MigrationSet {
            dir: "migrations".into(),
            migrations: vec![
                migration(
                    1,
                    "0001_setup",
                    vec![file("0001_setup", Phase::Expand, self.setup)],
                ),
                migration(
                    2,
                    "0002_change",
                    self.phases
                        .iter()
                        .map(|(p, t)| file("0002_change", *p, t))
                        .collect(),
                ),
            ],
            warnings: Vec::new(),
        };
        let config = Config {
            types: Default::default(),
            small_tables: self
                .small_tables
                .iter()
                .map(|t| {
                    let d = self.dialect.dialect();
                    QualName::new(d.default_schema(), d.normalize_object(t, false))
                })
                .collect(),
            dialect: self.dialect,
            server_version: ServerVersion::parse(self.server).expect("test server version"),
            baseline: Some("0001".into()),
            runtime: RuntimeConfig::default(),
            path: "migrations/concertina.toml".into(),
            warnings: Vec::new(),
            source: None,
            fix_decisions: Default::default(),
        };
        crate::Project { config, set }
    }

    /// The messages of one rule's diagnostics.
    pub fn hits(&self, rule: &str) -> Vec<Diagnostic> {
        self.run().into_iter().filter(|d| d.rule == rule).collect()
    }
}

/// Shorthand: the diagnostics of `rule` for a PostgreSQL 14 migration with one expand file.
pub fn expand_hits(setup: &str, expand: &str, rule: &str) -> Vec<Diagnostic> {
    Case::pg(setup, &[(Phase::Expand, expand)]).hits(rule)
}

/// Shorthand: the diagnostics of `rule` for a MySQL 8.0 migration with one expand file.
pub fn mysql_hits(setup: &str, expand: &str, rule: &str) -> Vec<Diagnostic> {
    Case::mysql(setup, &[(Phase::Expand, expand)]).hits(rule)
}
