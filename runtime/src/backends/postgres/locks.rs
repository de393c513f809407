//! The lock each statement takes on PostgreSQL, for `migrate plan`: the table-level lock mode
//! and whether it blocks the app's reads or writes while held.

use concertina_codegen::change::{AlterOp, Change, ConstraintKind, ObjectKind, QualName};

use crate::plan::LockContext;

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
    /// The mode as `pg_locks.mode` names it (`AccessExclusiveLock`).
    pub fn from_pg_locks(mode: &str) -> Option<LockMode> {
        use LockMode::*;
        Some(match mode {
            "AccessShareLock" => AccessShare,
            "RowShareLock" => RowShare,
            "RowExclusiveLock" => RowExclusive,
            "ShareUpdateExclusiveLock" => ShareUpdateExclusive,
            "ShareLock" => Share,
            "ShareRowExclusiveLock" => ShareRowExclusive,
            "ExclusiveLock" => Exclusive,
            "AccessExclusiveLock" => AccessExclusive,
            _ => return None,
        })
    }

    /// What the app notices, as the tracer compares it.
    pub fn class(self) -> crate::trace::Blocks {
        use crate::trace::Blocks;
        match self {
            LockMode::AccessShare | LockMode::RowShare | LockMode::RowExclusive => Blocks::Nothing,
            LockMode::ShareUpdateExclusive => Blocks::OtherDdl,
            LockMode::Share | LockMode::ShareRowExclusive | LockMode::Exclusive => Blocks::Writes,
            LockMode::AccessExclusive => Blocks::ReadsAndWrites,
        }
    }

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
        self.class().as_str()
    }

    /// The two modes cannot be held at once on one table (the conflict table of PostgreSQL's
    /// "Explicit Locking" chapter).
    pub fn conflicts_with(self, other: LockMode) -> bool {
        use LockMode::*;
        let conflicting: &[LockMode] = match self {
            AccessShare => &[AccessExclusive],
            RowShare => &[Exclusive, AccessExclusive],
            RowExclusive => &[Share, ShareRowExclusive, Exclusive, AccessExclusive],
            ShareUpdateExclusive => &[
                ShareUpdateExclusive,
                Share,
                ShareRowExclusive,
                Exclusive,
                AccessExclusive,
            ],
            Share => &[
                RowExclusive,
                ShareUpdateExclusive,
                ShareRowExclusive,
                Exclusive,
                AccessExclusive,
            ],
            ShareRowExclusive => &[
                RowExclusive,
                ShareUpdateExclusive,
                Share,
                ShareRowExclusive,
                Exclusive,
                AccessExclusive,
            ],
            Exclusive => &[
                RowShare,
                RowExclusive,
                ShareUpdateExclusive,
                Share,
                ShareRowExclusive,
                Exclusive,
                AccessExclusive,
            ],
            AccessExclusive => return true,
        };
        conflicting.contains(&other)
    }
}

/// The locks a statement takes, per relation. `ctx` knows the models (an index's table, a
/// table's partitions, a domain's tables) and the server version.
pub fn locks(change: &Change, ctx: &LockContext) -> Vec<(QualName, LockMode)> {
    use LockMode::*;
    // Measured with the tracer (10 to 18): `DROP INDEX` and `REINDEX INDEX` lock the index's
    // table too (ACCESS EXCLUSIVE and SHARE); their CONCURRENTLY forms hold SHARE UPDATE
    // EXCLUSIVE on the table and end with a brief ACCESS EXCLUSIVE on the index they drop or
    // swap (no query uses it by then).
    let with_tables = |names: &[QualName], on_index: LockMode, on_table: LockMode| {
        let mut out = Vec::new();
        for n in names {
            match ctx.index_table(n) {
                Some(table) => {
                    out.push((table, on_table));
                    out.push((n.clone(), on_index));
                }
                None => out.push((n.clone(), on_index)),
            }
        }
        out
    };
    match change {
        // `REFERENCES` in a new table: SHARE ROW EXCLUSIVE on each referenced table (measured
        // on 15: the new table's foreign-key triggers are created on it).
        Change::CreateTable(ct) => {
            let mut out: Vec<(QualName, LockMode)> = Vec::new();
            let refs = ct
                .constraints
                .iter()
                .chain(ct.columns.iter().flat_map(|c| c.constraints.iter()))
                .filter_map(|c| match &c.kind {
                    ConstraintKind::ForeignKey { ref_table, .. } => Some(ref_table),
                    _ => None,
                });
            for table in refs {
                if table != &ct.name && !out.iter().any(|(t, _)| t == table) {
                    out.push((table.clone(), ShareRowExclusive));
                }
            }
            out
        }
        Change::CreateIndex(ci) => {
            let mode = if ci.concurrently {
                ShareUpdateExclusive
            } else {
                Share
            };
            // On a partitioned table every partition's index is built under the same lock
            // (measured on 15 and 18: SHARE on each partition).
            // `ON ONLY` builds nothing: the partitions are left alone.
            let mut out = vec![(ci.table.clone(), mode)];
            if !ci.only {
                out.extend(ctx.partitions(&ci.table).into_iter().map(|p| (p, mode)));
            }
            out
        }
        // Measured on 10, 15 and 18: SHARE on every table with a column of the domain while
        // the new constraint is checked against its rows.
        Change::AlterDomainAddConstraint {
            name,
            not_valid: false,
        }
        | Change::AlterDomainValidateConstraint { name } => ctx
            .tables_using(name)
            .into_iter()
            .map(|t| (t, Share))
            .collect(),
        Change::DropObjects {
            kind: ObjectKind::Index,
            concurrently,
            names,
            ..
        } => {
            if *concurrently {
                with_tables(names, AccessExclusive, ShareUpdateExclusive)
            } else {
                with_tables(names, AccessExclusive, AccessExclusive)
            }
        }
        Change::DropObjects { names, .. } => {
            names.iter().map(|n| (n.clone(), AccessExclusive)).collect()
        }
        Change::Reindex {
            name, concurrently, ..
        } => {
            let names: Vec<QualName> = name.iter().cloned().collect();
            if *concurrently {
                with_tables(&names, AccessExclusive, ShareUpdateExclusive)
            } else {
                with_tables(&names, AccessExclusive, Share)
            }
        }
        Change::AlterTable { table, ops, .. } => {
            let mut out = Vec::new();
            let mut mode = ShareUpdateExclusive;
            for op in ops {
                let m = match op {
                    AlterOp::ValidateConstraint { .. } => ShareUpdateExclusive,
                    // SHARE UPDATE EXCLUSIVE on the parent from 12 on; measured on 10: ACCESS
                    // EXCLUSIVE.
                    AlterOp::AttachPartition { partition, .. } => {
                        out.push((partition.clone(), AccessExclusive));
                        if ctx.version.at_least(12, 0) {
                            ShareUpdateExclusive
                        } else {
                            AccessExclusive
                        }
                    }
                    // The second of its two transactions takes ACCESS EXCLUSIVE on the partition.
                    AlterOp::DetachPartition {
                        partition,
                        concurrently: true,
                        ..
                    } => {
                        out.push((partition.clone(), AccessExclusive));
                        ShareUpdateExclusive
                    }
                    // Measured with the tracer: the partition is locked SHARE UPDATE EXCLUSIVE
                    // on 10 to 13, ACCESS EXCLUSIVE from 14 on.
                    AlterOp::DetachPartition { partition, .. } => {
                        let on_partition = if ctx.version.at_least(14, 0) {
                            AccessExclusive
                        } else {
                            ShareUpdateExclusive
                        };
                        out.push((partition.clone(), on_partition));
                        AccessExclusive
                    }
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

    #[test]
    fn the_conflict_table_is_symmetric_and_matches_the_manual() {
        use LockMode::*;
        let all = [
            AccessShare,
            RowShare,
            RowExclusive,
            ShareUpdateExclusive,
            Share,
            ShareRowExclusive,
            Exclusive,
            AccessExclusive,
        ];
        for a in all {
            for b in all {
                assert_eq!(a.conflicts_with(b), b.conflicts_with(a), "{a:?} {b:?}");
            }
        }
        // A reader's ACCESS SHARE blocks only ACCESS EXCLUSIVE; writers block SHARE.
        assert!(AccessExclusive.conflicts_with(AccessShare));
        assert!(!ShareRowExclusive.conflicts_with(AccessShare));
        assert!(ShareRowExclusive.conflicts_with(RowExclusive));
        assert!(!ShareUpdateExclusive.conflicts_with(RowExclusive));
        let conflicts = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.conflicts_with(**b))
            .count();
        // The manual's table marks 38 of its 64 cells (1 + 2 + 4 + 5 + 5 + 6 + 7 + 8 by row).
        assert_eq!(conflicts, 38);
    }
    use concertina_codegen::source::SourceFile;

    fn lock_of(sql: &str) -> Vec<(String, &'static str)> {
        let file = SourceFile::new("f.sql", "f.sql".into(), sql.into());
        let parsed = concertina_codegen::sql::parse_file(&file, DialectKind::Postgres.dialect());
        locks(
            &parsed.statements[0].change,
            &LockContext::bare(concertina_codegen::versions::ServerVersion::new(15, 0, 0)),
        )
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
