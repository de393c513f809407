//! The runtime plan: what each phase of each migration executes, and how. Built from the
//! checker's report (same statements, same spans, same model), so what runs is exactly what
//! was checked.

use concertina_codegen::change::{AlterOp, Change, ObjectKind, QualName};
use concertina_codegen::check::{CheckedMigration, CheckedPhase};
use concertina_codegen::model::Schema;
use concertina_codegen::versions::ServerVersion;
use concertina_codegen::{Config, Phase};

/// How the runtime executes one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// In a short transaction of its own, under `lock_timeout`, retried when the lock times
    /// out; the state row is updated in the same transaction, so a crash never half-records.
    Transactional,
    /// Outside any transaction (`CONCURRENTLY`). An interrupted index build leaves an INVALID
    /// index: `index` names it so the runtime can find, drop and rebuild it.
    NonTransactional {
        index: Option<QualName>,
        drops: bool,
    },
    /// `SET NOT NULL` in contract on PostgreSQL 12+: `CHECK (col IS NOT NULL) NOT VALID`,
    /// `VALIDATE`, `SET NOT NULL` (trusts the check, no scan under the strong lock), drop the
    /// check.
    SafeSetNotNull { table: QualName, column: String },
    /// Statements between an explicit `BEGIN` and `COMMIT` of the file: one transaction.
    /// `changes`: the checker's reading of each.
    Transaction {
        statements: Vec<String>,
        changes: Vec<Change>,
    },
    /// `SET …`: a session setting of the migrator's connection, kept for later steps.
    Session,
    /// A backfill statement: run in keyset batches.
    Backfill {
        table: QualName,
        change: Box<Change>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Position among the phase's steps (the state table's `statements_done` counts these).
    pub index: usize,
    pub line: usize,
    /// The last line of the step's text in its file (of `COMMIT` for a transaction).
    pub last_line: usize,
    pub sql: String,
    pub kind: StepKind,
    /// The checker's reading of the statement (`None` for a transaction of several), so that
    /// nothing parses SQL again at run time.
    pub change: Option<Change>,
}

/// The `Change` of one statement, read as the checker reads it: for steps made outside the
/// checked files (`down`'s derived inverses).
pub fn statement_change(
    sql: &str,
    dialect: concertina_codegen::dialect::DialectKind,
) -> Option<Change> {
    let file = concertina_codegen::source::SourceFile::new(
        "step.sql",
        "step.sql".into(),
        format!("{sql};\n"),
    );
    let parsed = concertina_codegen::sql::parse_file(&file, dialect.dialect());
    parsed.statements.into_iter().next().map(|s| s.change)
}

#[derive(Debug, Clone)]
pub struct PhasePlan {
    pub version: String,
    pub name: String,
    pub phase: Phase,
    /// Path relative to the migrations directory.
    pub file: String,
    pub text: String,
    pub checksum: String,
    pub steps: Vec<Step>,
}

/// What a lock description needs beyond the statement: the models it runs between (an index's
/// table, a table's partitions, the tables whose columns use a domain) and the server version.
pub struct LockContext<'a> {
    /// Searched in order: the schema before the migration first.
    pub schemas: Vec<&'a Schema>,
    pub version: ServerVersion,
}

impl<'a> LockContext<'a> {
    /// For a statement of `migration`: its window's schemas.
    pub fn of(migration: &'a CheckedMigration, version: ServerVersion) -> LockContext<'a> {
        let w = &migration.window;
        LockContext {
            schemas: vec![&*w.before, &*w.expanded, &*w.after],
            version,
        }
    }

    /// Without a model (lock descriptions of the statement alone).
    pub fn bare(version: ServerVersion) -> LockContext<'static> {
        LockContext {
            schemas: Vec::new(),
            version,
        }
    }

    pub fn index_table(&self, index: &QualName) -> Option<QualName> {
        self.schemas
            .iter()
            .find_map(|s| s.indexes.get(index).map(|i| i.table.clone()))
    }

    pub fn partitions(&self, table: &QualName) -> Vec<QualName> {
        self.schemas
            .iter()
            .map(|s| s.partitions_of(table))
            .find(|p| !p.is_empty())
            .unwrap_or_default()
    }

    /// The tables with a column of `domain`'s type.
    pub fn tables_using(&self, domain: &QualName) -> Vec<QualName> {
        let Some(schema) = self.schemas.first() else {
            return Vec::new();
        };
        schema
            .tables
            .iter()
            .filter(|(_, t)| {
                t.columns.iter().any(|c| {
                    c.ty.name == domain.name
                        && c.ty.schema.as_deref().unwrap_or(domain.schema.as_str()) == domain.schema
                })
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

impl Step {
    /// The checker's reading of every statement the step runs.
    pub fn changes(&self) -> Vec<&Change> {
        match &self.kind {
            StepKind::Transaction { changes, .. } => changes.iter().collect(),
            _ => self.change.iter().collect(),
        }
    }
}

/// SHA-256 of a phase file, line endings normalised so a CRLF checkout is not drift.
pub fn checksum(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let normalised = text.replace("\r\n", "\n");
    let digest = Sha256::digest(normalised.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Plans one phase file.
pub fn plan_phase(
    migration: &CheckedMigration,
    phase: &CheckedPhase,
    config: &Config,
) -> PhasePlan {
    let source = &phase.source;
    let mut steps: Vec<Step> = Vec::new();
    // An explicit transaction being collected: its first line, statements and changes.
    let mut open_tx: Option<(usize, Vec<String>, Vec<Change>)> = None;
    let transaction = |index: usize,
                       line: usize,
                       last_line: usize,
                       statements: Vec<String>,
                       changes: Vec<Change>| Step {
        index,
        line,
        last_line,
        sql: statements.join(";\n"),
        kind: StepKind::Transaction {
            statements,
            changes,
        },
        change: None,
    };
    for stmt in &phase.parsed.statements {
        let sql = stmt.text(source).to_string();
        let last_line = stmt.line + sql.lines().count().saturating_sub(1);
        match &stmt.change {
            Change::Begin => {
                open_tx = Some((stmt.line, Vec::new(), Vec::new()));
                continue;
            }
            Change::Commit | Change::Rollback => {
                if let Some((line, statements, changes)) = open_tx.take() {
                    if matches!(stmt.change, Change::Commit) && !statements.is_empty() {
                        steps.push(transaction(
                            steps.len(),
                            line,
                            last_line,
                            statements,
                            changes,
                        ));
                    }
                }
                continue;
            }
            _ => {}
        }
        if let Some((_, statements, changes)) = &mut open_tx {
            statements.push(sql);
            changes.push(stmt.change.clone());
            continue;
        }
        let kind = step_kind(&stmt.change, &sql, phase.phase, config, migration);
        steps.push(Step {
            index: steps.len(),
            line: stmt.line,
            last_line,
            sql,
            kind,
            change: Some(stmt.change.clone()),
        });
    }
    // A `BEGIN` without `COMMIT` still runs its statements, as one transaction.
    if let Some((line, statements, changes)) = open_tx {
        if !statements.is_empty() {
            let last_line = source.text.lines().count().max(line);
            steps.push(transaction(
                steps.len(),
                line,
                last_line,
                statements,
                changes,
            ));
        }
    }
    PhasePlan {
        version: migration.version.clone(),
        name: migration.name.clone(),
        phase: phase.phase,
        file: source.rel_path.clone(),
        text: source.text.clone(),
        checksum: checksum(&source.text),
        steps,
    }
}

fn step_kind(
    change: &Change,
    sql: &str,
    phase: Phase,
    config: &Config,
    migration: &CheckedMigration,
) -> StepKind {
    match change {
        Change::CreateIndex(ci) if ci.concurrently => StepKind::NonTransactional {
            index: Some(QualName::new(
                ci.table.schema.clone(),
                ci.name
                    .clone()
                    .unwrap_or_else(|| default_index_name(&ci.table.name, &ci.columns)),
            )),
            drops: false,
        },
        Change::DropObjects {
            kind: ObjectKind::Index,
            concurrently: true,
            names,
            ..
        } => StepKind::NonTransactional {
            index: names.first().cloned(),
            drops: true,
        },
        Change::Reindex {
            concurrently: true, ..
        } => StepKind::NonTransactional {
            index: None,
            drops: false,
        },
        Change::AlterTable { ops, .. }
            if ops.iter().any(|op| {
                matches!(
                    op,
                    AlterOp::DetachPartition {
                        concurrently: true,
                        ..
                    }
                )
            }) =>
        {
            StepKind::NonTransactional {
                index: None,
                drops: false,
            }
        }
        // Before 12, `ALTER TYPE … ADD VALUE` cannot run inside a transaction block.
        Change::AddEnumValue { .. } if !config.server_version.at_least(12, 0) => {
            StepKind::NonTransactional {
                index: None,
                drops: false,
            }
        }
        Change::AlterTable { table, ops, .. }
            if matches!(phase, Phase::Contract | Phase::Down)
                && config.server_version.at_least(12, 0)
                && config.dialect == concertina_codegen::dialect::DialectKind::Postgres
                && ops.len() == 1
                && migration.window.before.tables.contains_key(table) =>
        {
            match &ops[0] {
                AlterOp::SetNotNull { column } => StepKind::SafeSetNotNull {
                    table: table.clone(),
                    column: column.clone(),
                },
                _ => StepKind::Transactional,
            }
        }
        Change::SetVariable { .. } => StepKind::Session,
        Change::Update { table, .. }
        | Change::Delete { table, .. }
        | Change::Insert { table, .. }
            if phase == Phase::Backfill =>
        {
            StepKind::Backfill {
                table: table.clone(),
                change: Box::new(change.clone()),
            }
        }
        _ if config.dialect == concertina_codegen::dialect::DialectKind::Postgres
            && refuses_transactions(sql) =>
        {
            StepKind::NonTransactional {
                index: None,
                drops: false,
            }
        }
        _ => StepKind::Transactional,
    }
}

/// PostgreSQL statements that fail with 25001 inside a transaction block (found by
/// `migrate trace`: `VACUUM FULL` planned in a transaction failed on 15), so the runtime runs
/// them on their own.
fn refuses_transactions(sql: &str) -> bool {
    let words: Vec<String> = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .flat_map(|l| l.split_whitespace())
        .take(2)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect();
    let first = words.first().map(String::as_str).unwrap_or("");
    let second = words.get(1).map(String::as_str).unwrap_or("");
    matches!(
        (first, second),
        ("VACUUM", _)
            | ("CREATE" | "DROP", "DATABASE" | "TABLESPACE")
            | ("ALTER", "SYSTEM")
            | ("REINDEX", "DATABASE" | "SYSTEM" | "SCHEMA")
    )
}

/// PostgreSQL's name for an unnamed index (`users_email_idx`), as the model uses it.
fn default_index_name(table: &str, columns: &[String]) -> String {
    if columns.is_empty() {
        format!("{table}_expr_idx")
    } else {
        format!("{table}_{}_idx", columns.join("_"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_refused_in_a_transaction_block_are_known() {
        assert!(refuses_transactions("VACUUM FULL orders"));
        assert!(refuses_transactions("-- tidy\nvacuum (analyze) orders;"));
        assert!(refuses_transactions("REINDEX SCHEMA public"));
        assert!(!refuses_transactions("REINDEX INDEX users_email"));
        assert!(!refuses_transactions("ALTER TABLE users ADD COLUMN c int"));
    }

    #[test]
    fn checksum_ignores_crlf() {
        assert_eq!(checksum("a\r\nb\n"), checksum("a\nb\n"));
        assert_ne!(checksum("a\n"), checksum("b\n"));
        assert_eq!(checksum("").len(), 64);
    }
}
