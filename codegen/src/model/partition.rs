//! Partitioned tables: what a new or attached partition takes from its parent (CHECK
//! constraints, foreign keys, a copy of every index) and which ALTER TABLE actions reach the
//! partitions. Apart from the rest of the replay because PostgreSQL's partition rules
//! are a tree walk of their own.

use std::sync::Arc;

use crate::change::{AlterOp, ColumnSpec, ConstraintKind, QualName};

use super::{Constraint, Index, Schema, Table};

impl Schema {
    /// The partitions of a partitioned table.
    pub fn partitions_of(&self, parent: &QualName) -> Vec<QualName> {
        self.tables
            .values()
            .filter(|t| t.partition_of.as_ref() == Some(parent))
            .map(|t| t.name.clone())
            .collect()
    }

    /// Whether `ancestor` is `table` or a table it is (transitively) a partition of.
    pub(super) fn is_partition_ancestor(&self, ancestor: &QualName, table: &QualName) -> bool {
        let mut current = Some(table.clone());
        // Bounded, so that no model state can make it loop.
        for _ in 0..=self.tables.len() {
            match current {
                Some(t) if &t == ancestor => return true,
                Some(t) => current = self.tables.get(&t).and_then(|t| t.partition_of.clone()),
                None => return false,
            }
        }
        false
    }

    /// A CHECK or foreign key of a partitioned table, on a partition and its own partitions;
    /// an equivalent one the partition already has stands for it.
    pub(super) fn clone_constraint_into(&mut self, constraint: &Constraint, part: &QualName) {
        let Some(table) = self.table_mut(part) else {
            return;
        };
        let equivalent = table.constraints.iter().any(|c| {
            c.name == constraint.name
                || (matches!(c.kind, ConstraintKind::ForeignKey { .. })
                    && c.kind == constraint.kind)
        });
        if !equivalent {
            table.constraints.push(constraint.clone());
        }
        if table.partitioned {
            for sub in self.partitions_of(part) {
                self.clone_constraint_into(constraint, &sub);
            }
        }
    }

    /// What a new or attached partition takes from its parent: the CHECK constraints and
    /// foreign keys, and a copy of every index (those of primary keys and unique constraints
    /// with their constraint), or the partition's equivalent index attached instead.
    pub(super) fn clone_parent_into(&mut self, parent: &QualName, part: &QualName) {
        let Some(parent_table) = self.tables.get(parent).cloned() else {
            return;
        };
        for c in &parent_table.constraints {
            if matches!(
                c.kind,
                ConstraintKind::Check { .. } | ConstraintKind::ForeignKey { .. }
            ) {
                self.clone_constraint_into(c, part);
            }
        }
        let indexes: Vec<Arc<Index>> = self
            .indexes
            .values()
            .filter(|i| &i.table == parent)
            .cloned()
            .collect();
        for index in indexes {
            self.clone_index_into(&index, part, &parent_table);
        }
    }

    /// The partition's copy of a partitioned table's index: an equivalent unattached index of
    /// the partition is attached, else one is created under a name PostgreSQL generates.
    pub(super) fn clone_index_into(
        &mut self,
        index: &Index,
        part: &QualName,
        parent_table: &Table,
    ) {
        let constraint = parent_table
            .constraints
            .iter()
            .find(|c| {
                c.name == index.name.name
                    && matches!(
                        c.kind,
                        ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
                    )
            })
            .cloned();
        let existing = self
            .indexes
            .values()
            .find(|i| {
                &i.table == part
                    && i.parent.is_none()
                    && i.unique == index.unique
                    && i.columns == index.columns
                    && i.expressions
                        .iter()
                        .map(|e| &e.text)
                        .eq(index.expressions.iter().map(|e| &e.text))
                    && i.predicate.as_ref().map(|p| &p.text)
                        == index.predicate.as_ref().map(|p| &p.text)
            })
            .map(|i| i.name.clone());
        let child = match existing {
            Some(name) => {
                if let Some(i) = self.indexes.get_mut(&name) {
                    Arc::make_mut(i).parent = Some(index.name.clone());
                }
                name
            }
            None => {
                let name = match &constraint {
                    Some(c) => self.generated_constraint_name(part, &c.kind),
                    None => self.generated_index_name(part, &index.element_names),
                };
                let name = QualName::new(part.schema.clone(), name);
                let copy = Index {
                    name: name.clone(),
                    table: part.clone(),
                    valid: true,
                    parent: Some(index.name.clone()),
                    ..index.clone()
                };
                self.indexes.insert(name.clone(), Arc::new(copy));
                name
            }
        };
        if let Some(c) = constraint {
            if let Some(t) = self.table_mut(part) {
                let has = t.constraints.iter().any(|x| x.kind == c.kind);
                if !has {
                    t.constraints.push(Constraint {
                        name: child.name.clone(),
                        ..c
                    });
                }
            }
        }
        // A partition that is partitioned itself passes the index on.
        let sub_parent = self.tables.get(part).cloned();
        if let (Some(sub_parent), Some(child_index)) =
            (sub_parent, self.indexes.get(&child).cloned())
        {
            if sub_parent.partitioned {
                for sub in self.partitions_of(part) {
                    self.clone_index_into(&child_index, &sub, &sub_parent);
                }
            }
        }
    }

    /// A partitioned table's index is valid once every partition has an index attached to it.
    pub(super) fn revalidate_partitioned_index(&mut self, name: &QualName) {
        let Some(index) = self.indexes.get(name) else {
            return;
        };
        let table = index.table.clone();
        let valid = self.partitions_of(&table).iter().all(|part| {
            self.indexes
                .values()
                .any(|i| &i.table == part && i.parent.as_ref() == Some(name) && i.valid)
        });
        if let Some(i) = self.indexes.get_mut(name) {
            Arc::make_mut(i).valid = valid;
        }
    }

    /// What an ALTER TABLE action on a partitioned table does to each partition, where
    /// PostgreSQL passes it on: column changes, and CHECK constraints and foreign keys by name
    /// (constraints added to the parent reach the partitions in `add_constraint`).
    pub(super) fn partition_op(&self, table: &QualName, op: &AlterOp) -> Option<AlterOp> {
        let by_name = |name: &str| {
            self.table(table)
                .and_then(|t| t.constraint(name))
                .is_some_and(|c| {
                    matches!(
                        c.kind,
                        ConstraintKind::Check { .. } | ConstraintKind::ForeignKey { .. }
                    )
                })
        };
        match op {
            AlterOp::AddColumn {
                column,
                if_not_exists,
            } => {
                let primary = column
                    .constraints
                    .iter()
                    .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }));
                Some(AlterOp::AddColumn {
                    column: ColumnSpec {
                        not_null: column.not_null || primary,
                        constraints: Vec::new(),
                        ..column.clone()
                    },
                    if_not_exists: *if_not_exists,
                })
            }
            AlterOp::DropColumn { .. }
            | AlterOp::RenameColumn { .. }
            | AlterOp::AlterColumnType { .. }
            | AlterOp::SetNotNull { .. }
            | AlterOp::DropNotNull { .. }
            | AlterOp::SetDefault { .. }
            | AlterOp::DropDefault { .. } => Some(op.clone()),
            AlterOp::ValidateConstraint { name } | AlterOp::DropConstraint { name, .. }
                if by_name(name) =>
            {
                Some(op.clone())
            }
            AlterOp::RenameConstraint { from, .. }
                if self
                    .table(table)
                    .and_then(|t| t.constraint(from))
                    .is_some_and(|c| matches!(c.kind, ConstraintKind::Check { .. })) =>
            {
                Some(op.clone())
            }
            _ => None,
        }
    }

    /// Applies an action passed on from a partitioned table to a partition and its own
    /// partitions.
    pub(super) fn apply_alter_tree(
        &mut self,
        table: &QualName,
        op: &AlterOp,
        warn: &mut impl FnMut(String),
    ) {
        if self.tables.get(table).is_some_and(|t| t.partitioned) {
            for part in self.partitions_of(table) {
                self.apply_alter_tree(&part, op, warn);
            }
        }
        self.apply_alter(table, op, warn);
    }

    /// `ATTACH PARTITION`: the partition takes its parent's constraints and indexes.
    pub(super) fn attach_partition(
        &mut self,
        table_name: &QualName,
        partition: &QualName,
        warn: &mut impl FnMut(String),
    ) {
        // PostgreSQL refuses a table as a partition of itself or of its own partition;
        // the model keeps its partition tree free of cycles too.
        if self.is_partition_ancestor(partition, table_name) {
            warn(format!(
                "`{partition}` cannot be a partition of `{table_name}`, its own partition"
            ));
        } else if let Some(p) = self.table_mut(partition) {
            p.partition_of = Some(table_name.clone());
            self.clone_parent_into(table_name, partition);
        }
    }

    /// `DETACH PARTITION`: the partition keeps its columns, constraints and indexes, now its
    /// own. (`CONCURRENTLY` finishes in a second transaction; the model takes it as done.)
    pub(super) fn detach_partition(&mut self, partition: &QualName) {
        if let Some(p) = self.table_mut(partition) {
            p.partition_of = None;
            for i in self.indexes.values_mut() {
                if &i.table == partition && i.parent.is_some() {
                    Arc::make_mut(i).parent = None;
                }
            }
        }
    }
}
