//! Lock rules and what their findings are worth on a table the model cannot judge.
//!
//! A *lock rule* reports a hazard that grows with the table: a lock held while the server
//! scans, copies or indexes every row, or row locks on every row. [`LOCK_RULES`] lists them,
//! here and nowhere else. The checker ([`crate::check`]) adjusts their errors in two cases:
//!
//! - **Unknown object.** The statement's table is not in the model (its `CREATE` was opaque or
//!   unparsed, or an extension made it) and was not created earlier in the file. The hazard
//!   cannot be judged, and the model's `unknown-object` warning already says it does not know
//!   the table; an error "as if it were a known, populated table" is noise. The finding is
//!   kept (never dropped) as a **warning** saying the hazard applies if the table is populated.
//! - **Declared small.** `small_tables` in concertina.toml names the table: the lock is short
//!   by the project's own declaration. The finding is a **warning** whose message states that
//!   reason. concertina never guesses a table's size.

use crate::change::{Change, ObjectKind, QualName};
use crate::config::Config;
use crate::diag::Severity;
use crate::model::Schema;
use crate::rules::{FileState, Finding};

/// What a rule claims the server does to a table that already holds the app's rows: what the
/// lock tracer (`migrate trace`) must observe for the finding to be true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hazard {
    /// Copies the table into a new file (PostgreSQL: a new `relfilenode`; InnoDB: a rebuild).
    Rewrite,
    /// Reads every row under its lock: a validating scan, an index build, or a rewrite.
    Scan,
    /// Takes a lock that blocks the app's writes or reads, however briefly: the hazard is the
    /// lock queue behind a long transaction, not the table's size.
    Lock,
    /// Locks and writes every row in one statement (row locks, not a table lock).
    EveryRow,
    /// The server refuses the statement as written: the deploy stops half-way.
    Fails,
    /// The server refuses it unless it is written otherwise (`CASCADE`): a failure agrees,
    /// a success does not contradict it.
    MayFail,
}

impl Hazard {
    pub fn as_str(self) -> &'static str {
        match self {
            Hazard::Rewrite => "a table rewrite",
            Hazard::Scan => "a scan of every row",
            Hazard::Lock => "a lock that blocks the app",
            Hazard::EveryRow => "a write to every row",
            Hazard::Fails => "a failure",
            Hazard::MayFail => "a failure unless written otherwise",
        }
    }
}

/// Every rule that claims a hazard of the server (the tracer checks each claim). The lock
/// rules ([`LOCK_RULES`]) are those whose hazard grows with the table.
pub const HAZARDS: &[(&str, Hazard)] = &[
    // PostgreSQL
    ("index-not-concurrent", Hazard::Scan),
    ("index-on-partitioned-table", Hazard::Scan),
    ("drop-index-not-concurrent", Hazard::Lock),
    ("reindex-not-concurrent", Hazard::Scan),
    ("add-column-volatile-default", Hazard::Rewrite),
    ("add-column-default-old-server", Hazard::Rewrite),
    ("add-column-serial-or-identity", Hazard::Rewrite),
    ("add-column-generated-stored", Hazard::Rewrite),
    ("add-column-inline-constraint", Hazard::Scan),
    ("column-type-rewrite", Hazard::Scan),
    ("set-not-null-unproven", Hazard::Scan),
    ("add-check-validating", Hazard::Scan),
    ("add-foreign-key-validating", Hazard::Scan),
    ("add-unique-constraint-building-index", Hazard::Scan),
    ("add-exclusion-constraint", Hazard::Scan),
    ("attach-partition-scan", Hazard::Scan),
    ("detach-partition-blocking", Hazard::Lock),
    ("table-rewrite-maintenance", Hazard::Rewrite),
    ("refresh-matview-blocking", Hazard::Rewrite),
    ("lock-table", Hazard::Lock),
    ("create-trigger-or-rule", Hazard::Lock),
    ("concurrently-in-transaction", Hazard::Fails),
    // The UPDATE after the DDL in one transaction rewrites every row under the DDL's lock.
    ("ddl-and-data-in-one-transaction", Hazard::Scan),
    ("validate-in-same-transaction", Hazard::Scan),
    ("domain-constraint-validating", Hazard::Scan),
    // TRUNCATE swaps in a new, empty file: a new relfilenode under ACCESS EXCLUSIVE.
    ("truncate-table", Hazard::Rewrite),
    // `ADD COLUMN … NOT NULL` without a default checks every row (and fails on the first).
    ("compat-required-column-added", Hazard::Scan),
    // PostgreSQL refuses the drop unless CASCADE, which drops the dependents with it.
    ("drop-still-referenced", Hazard::MayFail),
    ("enum-value-in-transaction", Hazard::Fails),
    ("feature-newer-than-server", Hazard::Fails),
    // MySQL / MariaDB. The runtime asks for `LOCK=NONE` (or INSTANT) and never lets the server
    // copy: where the server cannot do the change online it refuses it (measured on MariaDB
    // 10.11 with the tracer: errno 1846 for type, charset and enum changes, foreign keys
    // checked and FULLTEXT/SPATIAL indexes, 1845 for CHECK and stored generated columns), so
    // those rules' hazard under concertina is the deploy stopping there.
    ("mysql-copy-algorithm", Hazard::Rewrite),
    ("mysql-column-type-copy", Hazard::Fails),
    ("mysql-charset-conversion", Hazard::Fails),
    ("mysql-null-to-not-null", Hazard::Rewrite),
    ("mysql-online-rebuild", Hazard::Rewrite),
    ("mysql-drop-primary-key", Hazard::Fails),
    ("mysql-add-check", Hazard::Fails),
    ("mysql-foreign-key-checked", Hazard::Fails),
    ("mysql-fulltext-or-spatial-index", Hazard::Fails),
    ("mysql-add-column-computed", Hazard::Fails),
    ("mysql-enum-change", Hazard::Fails),
    ("mysql-optimize-table", Hazard::Rewrite),
    ("mysql-lock-tables", Hazard::Lock),
    // every dialect
    ("unbatched-data-change", Hazard::EveryRow),
    ("procedural-outside-block", Hazard::Fails),
    (crate::sql::UNTERMINATED_TOKEN, Hazard::Fails),
];

/// The hazard a rule claims, if it claims one of the server.
pub fn hazard(rule_id: &str) -> Option<Hazard> {
    HAZARDS
        .iter()
        .find(|(id, _)| *id == rule_id)
        .map(|(_, h)| *h)
}

/// Every rule whose hazard is proportional to the size of the table it names.
pub const LOCK_RULES: &[&str] = &[
    // PostgreSQL
    "index-not-concurrent",
    "index-on-partitioned-table",
    "drop-index-not-concurrent",
    "reindex-not-concurrent",
    "add-column-volatile-default",
    "add-column-default-old-server",
    "add-column-serial-or-identity",
    "add-column-generated-stored",
    "add-column-inline-constraint",
    "column-type-rewrite",
    "set-not-null-unproven",
    "add-check-validating",
    "add-foreign-key-validating",
    "add-unique-constraint-building-index",
    "add-exclusion-constraint",
    "attach-partition-scan",
    "detach-partition-blocking",
    "table-rewrite-maintenance",
    "refresh-matview-blocking",
    // MySQL / MariaDB
    "mysql-copy-algorithm",
    "mysql-column-type-copy",
    "mysql-charset-conversion",
    "mysql-null-to-not-null",
    "mysql-online-rebuild",
    "mysql-drop-primary-key",
    "mysql-add-check",
    "mysql-foreign-key-checked",
    "mysql-fulltext-or-spatial-index",
    "mysql-add-column-computed",
    "mysql-enum-change",
    "mysql-optimize-table",
    // every dialect
    "unbatched-data-change",
];

pub fn is_lock_rule(id: &str) -> bool {
    LOCK_RULES.contains(&id)
}

/// A table (or materialized view) a statement locks, and whether the model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockTarget {
    pub name: QualName,
    pub known: bool,
}

/// The relations whose size a lock rule's hazard depends on.
pub fn lock_targets(change: &Change, schema: &Schema, file: &FileState) -> Vec<LockTarget> {
    let relation = |name: &QualName| LockTarget {
        name: name.clone(),
        known: schema.tables.contains_key(name)
            // A view the model knows: its base tables are (an `UPDATE` through it).
            || schema.views.contains_key(name)
            || file.created_tables.contains(name),
    };
    let index_table = |name: &QualName| match schema.indexes.get(name) {
        Some(i) => relation(&i.table),
        None => LockTarget {
            name: name.clone(),
            known: false,
        },
    };
    match change {
        Change::AlterTable { table, .. }
        | Change::Update { table, .. }
        | Change::Delete { table, .. }
        | Change::Insert { table, .. } => vec![relation(table)],
        Change::CreateIndex(ci) => vec![relation(&ci.table)],
        Change::RefreshMaterializedView { name, .. } => vec![relation(name)],
        Change::RewriteTable {
            table: Some(table), ..
        } => vec![relation(table)],
        Change::Truncate { tables } | Change::LockTable { tables } => {
            tables.iter().map(relation).collect()
        }
        Change::DropObjects {
            kind: ObjectKind::Index,
            names,
            ..
        } => names.iter().map(index_table).collect(),
        Change::RewriteIndex { name, .. } => vec![index_table(name)],
        Change::Reindex {
            name: Some(name), ..
        } => {
            if schema.indexes.contains_key(name) {
                vec![index_table(name)]
            } else {
                vec![relation(name)]
            }
        }
        _ => Vec::new(),
    }
}

fn list(targets: &[&LockTarget]) -> String {
    targets
        .iter()
        .map(|t| format!("`{}`", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A lock rule's error on a table the model does not know, or one declared small, becomes a
/// warning that says why. Other findings are returned unchanged.
pub fn scope_finding(
    rule_id: &str,
    default: Severity,
    mut finding: Finding,
    targets: &[LockTarget],
    config: &Config,
) -> Finding {
    let severity = finding.severity.unwrap_or(default);
    if !is_lock_rule(rule_id) || severity != Severity::Error || targets.is_empty() {
        return finding;
    }
    let unknown: Vec<&LockTarget> = targets.iter().filter(|t| !t.known).collect();
    if unknown.len() == targets.len() {
        finding.severity = Some(Severity::Warning);
        finding.message = format!(
            "{} (warning, not error: {} is unknown to the model, whose CREATE it could not read; the hazard applies if it is a populated table)",
            finding.message,
            list(&unknown)
        );
        return finding;
    }
    let all: Vec<&LockTarget> = targets.iter().collect();
    if targets.iter().all(|t| config.declares_small(&t.name)) {
        finding.severity = Some(Severity::Warning);
        finding.message = format!(
            "{} (warning, not error: {} declared small in concertina.toml `small_tables`, so the lock is short)",
            finding.message,
            if all.len() == 1 {
                format!("{} is", list(&all))
            } else {
                format!("{} are", list(&all))
            }
        );
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    #[test]
    fn every_lock_rule_is_a_rule_and_claims_a_hazard() {
        let ids: Vec<&str> = crate::rules::all_rules().iter().map(|r| r.id).collect();
        for id in LOCK_RULES {
            assert!(ids.contains(id), "{id} is not a rule");
            assert!(hazard(id).is_some(), "{id} claims no hazard for the tracer");
        }
        for (id, _) in HAZARDS {
            let checker_id = crate::rules::CHECKER_IDS.iter().any(|(c, _, _)| c == id);
            assert!(
                ids.contains(id) || checker_id,
                "{id} in HAZARDS is not a rule"
            );
        }
    }

    #[test]
    fn an_index_on_a_table_the_model_does_not_know_is_a_warning_that_says_why() {
        // The table's CREATE is opaque (vendor syntax the parser cannot read).
        let setup = "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE events (id bigint) FROBNICATE WITH (x);";
        let diags = Case::pg(
            setup,
            &[(Phase::Expand, "CREATE INDEX events_id ON events (id);")],
        )
        .run();
        let lock: Vec<_> = diags
            .iter()
            .filter(|d| d.rule == "index-not-concurrent")
            .collect();
        assert_eq!(lock.len(), 1, "{diags:?}");
        assert!(!lock[0].is_error(), "{:?}", lock[0]);
        assert!(
            lock[0].message.contains("`events` is unknown to the model")
                && lock[0].message.contains("if it is a populated table"),
            "{}",
            lock[0].message
        );
        // The same index on a known table stays an error.
        let known = Case::pg(
            setup,
            &[(Phase::Expand, "CREATE INDEX users_id ON users (id);")],
        )
        .hits("index-not-concurrent");
        assert!(known[0].is_error(), "{known:?}");
    }

    #[test]
    fn a_table_declared_small_is_a_warning_that_says_so() {
        let setup = "CREATE TABLE countries (code text PRIMARY KEY, name text);\nCREATE TABLE users (id bigint PRIMARY KEY, country text);";
        let mut case = Case::pg(
            setup,
            &[(
                Phase::Expand,
                "CREATE INDEX countries_name ON countries (name);\nCREATE INDEX users_country ON users (country);",
            )],
        );
        case.small_tables = &["countries"];
        let hits = case.hits("index-not-concurrent");
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(!hits[0].is_error());
        assert!(
            hits[0]
                .message
                .contains("`countries` is declared small in concertina.toml"),
            "{}",
            hits[0].message
        );
        assert!(hits[1].is_error(), "users is not declared small");
    }

    #[test]
    fn non_lock_rules_keep_their_severity_on_small_tables() {
        let setup = "CREATE TABLE settings (id int PRIMARY KEY, v text);";
        let mut case = Case::pg(
            setup,
            &[(Phase::Expand, "ALTER TABLE settings DROP COLUMN v;")],
        );
        case.small_tables = &["settings"];
        let hits = case.hits("compat-column-removed");
        assert_eq!(hits.len(), 1);
        assert!(hits[0].is_error());
    }

    #[test]
    fn materialized_views_are_known_to_lock_rules() {
        let setup = "CREATE TABLE orders (id bigint PRIMARY KEY, total int);\nCREATE MATERIALIZED VIEW totals AS SELECT id, total FROM orders;";
        let diags = Case::pg(
            setup,
            &[(
                Phase::Expand,
                "CREATE INDEX totals_total ON totals (total);\nREFRESH MATERIALIZED VIEW totals;",
            )],
        )
        .run();
        assert!(
            diags.iter().all(|d| d.rule != "unknown-object"),
            "{diags:?}"
        );
        // REFRESH blocks the view's readers: an error. An index build blocks only REFRESH
        // (index-not-concurrent says so, as a warning).
        for (rule, error) in [
            ("index-not-concurrent", false),
            ("refresh-matview-blocking", true),
        ] {
            let hit: Vec<_> = diags.iter().filter(|d| d.rule == rule).collect();
            assert_eq!(hit.len(), 1, "{rule}: {diags:?}");
            assert_eq!(
                hit[0].is_error(),
                error,
                "{rule}: a known materialized view"
            );
            assert!(!hit[0].message.contains("unknown to the model"), "{rule}");
        }
        // One the model never saw: a warning, with the reason.
        let hits = Case::pg(
            setup,
            &[(Phase::Expand, "REFRESH MATERIALIZED VIEW elsewhere;")],
        )
        .hits("refresh-matview-blocking");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(!hits[0].is_error() && hits[0].message.contains("unknown to the model"));
    }
}
