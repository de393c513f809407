//! ALTER TABLE actions on a table's constraints and indexes: validate, drop and rename a
//! constraint, MySQL's `DROP PRIMARY KEY`, `DROP INDEX|KEY`, `ADD INDEX` and `RENAME INDEX`.

use std::sync::Arc;

use crate::change::{AlterOp, ConstraintKind, CreateIndex, ObjectKind, QualName};

use super::super::naming::Naming;
use super::super::{Constraint, Schema};

impl Schema {
    /// Applies an action on the constraints or indexes of a table (the others change nothing).
    pub(super) fn alter_keys(
        &mut self,
        table_name: &QualName,
        op: &AlterOp,
        warn: &mut impl FnMut(String),
    ) {
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        match op {
            // A validated `NOT NULL` constraint makes its column NOT NULL.
            AlterOp::ValidateConstraint { name } => {
                match table.constraints.iter_mut().find(|c| &c.name == name) {
                    Some(c) => {
                        c.validated = true;
                        if let ConstraintKind::NotNull { column } = &c.kind {
                            let column = column.clone();
                            if let Some(col) = table.column_mut(&column) {
                                col.nullable = false;
                            }
                        }
                    }
                    None => warn(format!("table `{table_name}` has no constraint `{name}`")),
                }
            }
            AlterOp::DropConstraint {
                name, if_exists, ..
            } => {
                if table.constraint(name).is_none() {
                    if !if_exists {
                        warn(format!("table `{table_name}` has no constraint `{name}`"));
                    }
                } else {
                    let dropped = table.constraint(name).cloned();
                    table.constraints.retain(|c| &c.name != name);
                    if let Some(Constraint {
                        kind: ConstraintKind::NotNull { column },
                        ..
                    }) = &dropped
                    {
                        if let Some(c) = table.column_mut(column) {
                            c.nullable = true;
                        }
                    }
                    // The index of a primary key or unique constraint goes with it, and with
                    // that index the partitions' indexes and constraints attached to it.
                    match self.naming() {
                        Naming::Postgres => {
                            self.drop_object(
                                ObjectKind::Index,
                                &QualName::new(table_name.schema.clone(), name.clone()),
                                false,
                            );
                        }
                        Naming::InnoDb => {
                            if dropped.as_ref().is_some_and(|c| {
                                matches!(
                                    c.kind,
                                    ConstraintKind::PrimaryKey { .. }
                                        | ConstraintKind::Unique { .. }
                                )
                            }) {
                                // A foreign key's own index stays.
                                let key = self.index_key(table_name, name);
                                self.indexes.remove(&key);
                            }
                        }
                    }
                }
            }
            // The index a constraint is backed by is renamed with it.
            AlterOp::RenameConstraint { from, to } => {
                match table.constraints.iter_mut().find(|c| &c.name == from) {
                    Some(c) => c.name = to.to_string(),
                    None => warn(format!("table `{table_name}` has no constraint `{from}`")),
                }
                let old = QualName::new(table_name.schema.clone(), from.clone());
                if self.indexes.contains_key(&old) {
                    self.rename_index(
                        &old,
                        &QualName::new(table_name.schema.clone(), to.to_string()),
                    );
                }
            }
            AlterOp::DropPrimaryKey => {
                let pk = table
                    .constraints
                    .iter()
                    .find(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }))
                    .map(|c| c.name.clone());
                table
                    .constraints
                    .retain(|c| !matches!(c.kind, ConstraintKind::PrimaryKey { .. }));
                match pk {
                    Some(pk) => {
                        let key = self.index_key(table_name, &pk);
                        self.indexes.remove(&key);
                    }
                    None => warn(format!("table `{table_name}` has no primary key")),
                }
            }
            // MySQL's `DROP INDEX|KEY`: a foreign key of the same name stays.
            AlterOp::DropIndexOrKey { name } => {
                table.constraints.retain(|c| {
                    &c.name != name || matches!(c.kind, ConstraintKind::ForeignKey { .. })
                });
                let key = self.index_key(table_name, name);
                if self.indexes.remove(&key).is_none() {
                    warn(format!("table `{table_name}` has no index `{name}`"));
                }
            }
            // MySQL's `RENAME INDEX|KEY`, with the constraint of the same name.
            AlterOp::RenameIndex { from, to } => {
                for c in &mut table.constraints {
                    if &c.name == from {
                        c.name = to.to_string();
                    }
                }
                let old = self.index_key(table_name, from);
                match self.indexes.remove(&old) {
                    Some(mut idx) if &idx.table == table_name => {
                        Arc::make_mut(&mut idx).name =
                            QualName::new(table_name.schema.clone(), to.to_string());
                        let new_key = self.index_key(table_name, to);
                        if self.mysql_implicit_indexes.remove(&old) {
                            self.mysql_implicit_indexes.insert(new_key.clone());
                        }
                        self.indexes.insert(new_key, idx);
                    }
                    other => {
                        if let Some(idx) = other {
                            self.indexes.insert(old, idx);
                        }
                        warn(format!("table `{table_name}` has no index `{from}`"));
                    }
                }
            }
            _ => {}
        }
    }

    /// MySQL's `ADD [UNIQUE] INDEX|KEY`: a `CREATE INDEX` of the table.
    pub(super) fn add_index(
        &mut self,
        table_name: &QualName,
        name: &Option<String>,
        columns: &[String],
        unique: bool,
        warn: &mut impl FnMut(String),
    ) {
        let ci = CreateIndex {
            name: name.clone(),
            table: table_name.clone(),
            unique,
            concurrently: false,
            if_not_exists: false,
            only: false,
            columns: columns.to_vec(),
            expressions: Vec::new(),
            predicate: None,
            element_names: columns.to_vec(),
        };
        self.create_index(&ci, warn);
    }
}
