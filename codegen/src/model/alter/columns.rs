//! ALTER TABLE actions on columns: add, restate (`MODIFY`/`CHANGE`), drop, rename, move, and
//! the one-line changes to a column's type, nullability, default or identity. Kept apart from
//! the constraint and table actions because a column change reaches the table's keys,
//! indexes and other tables' foreign keys.

use std::sync::Arc;

use crate::change::{AlterOp, ColumnSpec, ConstraintKind, ExprInfo, QualName};

use super::super::{column_from_spec, Column, Constraint, Schema};
use super::unknown_column;

impl Schema {
    /// `CHANGE a b …` renames first (keys, indexes and foreign keys follow), then the column is
    /// replaced by its restatement; a primary key column stays NOT NULL.
    pub(super) fn modify_column(
        &mut self,
        table_name: &QualName,
        old_name: &String,
        column: &ColumnSpec,
        warn: &mut impl FnMut(String),
    ) {
        let renamed = old_name != &column.name
            && self
                .table(table_name)
                .is_some_and(|t| t.column(old_name).is_some());
        if renamed {
            let rename = AlterOp::RenameColumn {
                from: old_name.clone(),
                to: column.name.clone(),
            };
            self.apply_alter(table_name, &rename, warn);
        }
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        let in_pk = table
            .primary_key()
            .is_some_and(|pk| pk.contains(&column.name));
        match table.columns.iter_mut().find(|c| c.name == column.name) {
            Some(c) => {
                *c = column_from_spec(column);
                if in_pk {
                    c.nullable = false;
                }
            }
            None => warn(unknown_column(table_name, old_name)),
        }
    }

    pub(super) fn add_column(
        &mut self,
        table_name: &QualName,
        column: &ColumnSpec,
        if_not_exists: bool,
        warn: &mut impl FnMut(String),
    ) {
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        if table.column(&column.name).is_some() {
            if !if_not_exists {
                warn(format!(
                    "table `{table_name}` already has a column `{}`",
                    column.name
                ));
            }
            return;
        }
        table.columns.push(column_from_spec(column));
        for c in &column.constraints {
            self.add_constraint(table_name, c, warn);
        }
    }

    /// PostgreSQL drops the constraints and indexes over the column (and other tables' foreign
    /// keys to it); MySQL narrows them to their other columns.
    pub(super) fn drop_column(
        &mut self,
        table_name: &QualName,
        name: &String,
        if_exists: bool,
        warn: &mut impl FnMut(String),
    ) {
        let narrows_keys = self.drop_column_narrows_keys();
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        if table.column(name).is_none() {
            if !if_exists {
                warn(unknown_column(table_name, name));
            }
        } else {
            table.columns.retain(|c| &c.name != name);
            if narrows_keys {
                // MySQL takes the column out of its keys and indexes and drops those
                // left without columns.
                for c in &mut table.constraints {
                    if let ConstraintKind::PrimaryKey { columns, .. }
                    | ConstraintKind::Unique { columns, .. } = &mut c.kind
                    {
                        columns.retain(|x| x != name);
                    }
                }
                table.constraints.retain(|c| {
                    let cols = c.kind.columns();
                    let keyed = matches!(
                        c.kind,
                        ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
                    );
                    !cols.contains(name) && (!cols.is_empty() || !keyed)
                });
                for idx in self.indexes.values_mut() {
                    if &idx.table == table_name && idx.columns.contains(name) {
                        let idx = Arc::make_mut(idx);
                        idx.columns.retain(|x| x != name);
                        idx.element_names.retain(|x| x != name);
                    }
                }
                self.indexes.retain(|_, i| {
                    &i.table != table_name || !i.columns.is_empty() || !i.expressions.is_empty()
                });
                return;
            }
            // Constraints and indexes over the column go with it, also where only an
            // index expression or predicate reads it.
            table
                .constraints
                .retain(|c| !c.kind.columns().contains(name));
            self.indexes.retain(|_, i| {
                !(&i.table == table_name
                    && (i.columns.contains(name)
                        || i.expressions.iter().any(|e| e.columns.contains(name))
                        || i.predicate
                            .as_ref()
                            .is_some_and(|p| p.columns.contains(name))))
            });
            // So do foreign keys of other tables to it (PostgreSQL asks for CASCADE).
            for t in self.tables.values_mut() {
                let refers = |c: &Constraint| {
                    matches!(&c.kind, ConstraintKind::ForeignKey { ref_table, ref_columns, .. }
                        if ref_table == table_name && ref_columns.contains(name))
                };
                if t.constraints.iter().any(refers) {
                    Arc::make_mut(t).constraints.retain(|c| !refers(c));
                }
            }
        }
    }

    /// The column's keys, indexes and other tables' foreign keys to it follow the new name.
    pub(super) fn rename_column(
        &mut self,
        table_name: &QualName,
        from: &String,
        to: &str,
        warn: &mut impl FnMut(String),
    ) {
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        match table.column_mut(from) {
            Some(c) => {
                c.name = to.to_string();
                let rename = |cols: &mut Vec<String>| {
                    for c in cols.iter_mut() {
                        if c == from {
                            *c = to.to_string();
                        }
                    }
                };
                for con in &mut table.constraints {
                    match &mut con.kind {
                        ConstraintKind::PrimaryKey { columns, .. }
                        | ConstraintKind::Unique { columns, .. }
                        | ConstraintKind::ForeignKey { columns, .. } => rename(columns),
                        ConstraintKind::Check {
                            expr, not_null_of, ..
                        } => {
                            rename(&mut expr.columns);
                            if not_null_of.as_ref() == Some(from) {
                                *not_null_of = Some(to.to_string());
                            }
                        }
                        ConstraintKind::NotNull { column } if column == from => {
                            *column = to.to_string()
                        }
                        _ => {}
                    }
                }
                for idx in self.indexes.values_mut() {
                    let reads = |e: &ExprInfo| e.columns.contains(from);
                    if &idx.table == table_name
                        && (idx.columns.contains(from)
                            || idx.expressions.iter().any(reads)
                            || idx.predicate.as_ref().is_some_and(reads))
                    {
                        let idx = Arc::make_mut(idx);
                        rename(&mut idx.columns);
                        for e in idx.expressions.iter_mut().chain(idx.predicate.as_mut()) {
                            rename(&mut e.columns);
                        }
                    }
                }
                // Foreign keys to the column follow it.
                for t in self.tables.values_mut() {
                    let refers = |c: &Constraint| {
                        matches!(&c.kind, ConstraintKind::ForeignKey { ref_table, ref_columns, .. }
                        if ref_table == table_name && ref_columns.contains(from))
                    };
                    if t.constraints.iter().any(refers) {
                        for c in &mut Arc::make_mut(t).constraints {
                            if let ConstraintKind::ForeignKey {
                                ref_table,
                                ref_columns,
                                ..
                            } = &mut c.kind
                            {
                                if ref_table == table_name {
                                    rename(ref_columns);
                                }
                            }
                        }
                    }
                }
            }
            None => warn(unknown_column(table_name, from)),
        }
    }

    /// MySQL's `FIRST` (`after` is `None`) / `AFTER c`.
    pub(super) fn move_column(
        &mut self,
        table_name: &QualName,
        column: &String,
        after: &Option<String>,
        warn: &mut impl FnMut(String),
    ) {
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        let Some(at) = table.columns.iter().position(|c| &c.name == column) else {
            warn(unknown_column(table_name, column));
            return;
        };
        let moved = table.columns.remove(at);
        let to = match after {
            None => Some(0),
            Some(a) => table
                .columns
                .iter()
                .position(|c| &c.name == a)
                .map(|i| i + 1),
        };
        match to {
            Some(to) => table.columns.insert(to, moved),
            None => {
                table.columns.insert(at, moved);
                warn(unknown_column(
                    table_name,
                    after.as_deref().unwrap_or_default(),
                ));
            }
        }
    }

    /// Changes one column in place; warns when the table has no such column.
    pub(super) fn change_column(
        &mut self,
        table_name: &QualName,
        column: &str,
        warn: &mut impl FnMut(String),
        change: impl FnOnce(&mut Column),
    ) {
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        match table.column_mut(column) {
            Some(c) => change(c),
            None => warn(unknown_column(table_name, column)),
        }
    }
}
