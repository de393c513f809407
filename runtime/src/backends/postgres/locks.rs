//! The lock each statement takes on PostgreSQL, for `migrate plan`: the table-level lock mode
//! and whether it blocks the app's reads or writes while held.

use concertina_codegen::change::{AlterOp, Change, ConstraintKind, ObjectKind, QualName};

/// PostgreSQL's table lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// What the app notices while the lock is held (or queued).
    pub fn blocks(self) -> &'static str {
        match self {
            LockMode::AccessShare | LockMode::RowShare | LockMode::RowExclusive => "nothing",
            LockMode::ShareUpdateExclusive => "other DDL only",
            LockMode::Share | LockMode::ShareRowExclusive | LockMode::Exclusive => "writes",
            LockMode::AccessExclusive => "reads and writes",
        }
    }
}

/// The locks a statement takes, per table.
pub fn locks(change: &Change) -> Vec<(QualName, LockMode)> {
    use LockMode::*;
    match change {
        Change::CreateIndex(ci) => vec![(
            ci.table.clone(),
            if ci.concurrently {
                ShareUpdateExclusive
            } else {
                Share
            },
        )],
        Change::DropObjects {
            kind: ObjectKind::Index,
            concurrently,
            names,
            ..
        } => names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    if *concurrently {
                        ShareUpdateExclusive
                    } else {
                        AccessExclusive
                    },
                )
            })
            .collect(),
        Change::DropObjects { names, .. } => {
            names.iter().map(|n| (n.clone(), AccessExclusive)).collect()
        }
        Change::Reindex {
            name, concurrently, ..
        } => name
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    if *concurrently {
                        ShareUpdateExclusive
                    } else {
                        AccessExclusive
                    },
                )
            })
            .collect(),
        Change::AlterTable { table, ops, .. } => {
            let mut out = Vec::new();
            let mut mode = ShareUpdateExclusive;
            for op in ops {
                let m = match op {
                    AlterOp::ValidateConstraint { .. } => ShareUpdateExclusive,
                    AlterOp::AttachPartition { partition, .. } => {
                        out.push((partition.clone(), AccessExclusive));
                        ShareUpdateExclusive
                    }
                    AlterOp::DetachPartition {
                        concurrently: true, ..
                    } => ShareUpdateExclusive,
                    AlterOp::AddConstraint(c) => match &c.kind {
                        ConstraintKind::ForeignKey { ref_table, .. } => {
                            out.push((ref_table.clone(), ShareRowExclusive));
                            ShareRowExclusive
                        }
                        _ => AccessExclusive,
                    },
                    AlterOp::TriggerToggle { .. } => ShareRowExclusive,
                    _ => AccessExclusive,
                };
                mode = mode.max(m);
            }
            out.insert(0, (table.clone(), mode));
            out
        }
        Change::CreateTrigger { table, .. } => vec![(table.clone(), ShareRowExclusive)],
        Change::CreateRule { table } => vec![(table.clone(), AccessExclusive)],
        Change::Truncate { tables } | Change::LockTable { tables } => tables
            .iter()
            .map(|t| (t.clone(), AccessExclusive))
            .collect(),
        Change::RewriteTable { table, .. } => {
            table.iter().map(|t| (t.clone(), AccessExclusive)).collect()
        }
        Change::RefreshMaterializedView { name, concurrently } => {
            vec![(
                name.clone(),
                if *concurrently {
                    Exclusive
                } else {
                    AccessExclusive
                },
            )]
        }
        Change::Update { table, .. }
        | Change::Delete { table, .. }
        | Change::Insert { table, .. } => {
            vec![(table.clone(), RowExclusive)]
        }
        Change::RenameIndex { from, .. } => vec![(from.clone(), ShareUpdateExclusive)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concertina_codegen::dialect::DialectKind;
    use concertina_codegen::source::SourceFile;

    fn lock_of(sql: &str) -> Vec<(String, &'static str)> {
        let file = SourceFile::new("f.sql", "f.sql".into(), sql.into());
        let parsed = concertina_codegen::sql::parse_file(&file, DialectKind::Postgres.dialect());
        locks(&parsed.statements[0].change)
            .into_iter()
            .map(|(t, m)| (t.name, m.as_str()))
            .collect()
    }

    #[test]
    fn lock_levels_follow_postgres() {
        assert_eq!(lock_of("CREATE INDEX i ON t (a)"), [("t".into(), "SHARE")]);
        assert_eq!(
            lock_of("CREATE INDEX CONCURRENTLY i ON t (a)"),
            [("t".into(), "SHARE UPDATE EXCLUSIVE")]
        );
        assert_eq!(
            lock_of("ALTER TABLE t ADD COLUMN c int"),
            [("t".into(), "ACCESS EXCLUSIVE")]
        );
        assert_eq!(
            lock_of("ALTER TABLE t VALIDATE CONSTRAINT c"),
            [("t".into(), "SHARE UPDATE EXCLUSIVE")]
        );
        assert_eq!(
            lock_of(
                "ALTER TABLE o ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id) NOT VALID"
            ),
            [
                ("o".into(), "SHARE ROW EXCLUSIVE"),
                ("users".into(), "SHARE ROW EXCLUSIVE")
            ]
        );
        assert_eq!(
            lock_of("UPDATE t SET a = 1 WHERE a IS NULL"),
            [("t".into(), "ROW EXCLUSIVE")]
        );
    }
}
