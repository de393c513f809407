//! One ALTER TABLE action applied to the model: [`Schema::apply_alter`] dispatches each
//! action to a method, on columns in `columns`, on constraints and indexes in `keys`, on the
//! whole table in `table` (partitions' in `super::partition`). Also which MySQL ALTERs
//! rebuild the table.

mod columns;
mod keys;
mod table;

use crate::change::{AlterOp, ConstraintKind, QualName};

use super::Schema;

/// Whether one ALTER's actions make MySQL rebuild the table (so its `ADD`/`DROP COLUMN`s run
/// INPLACE and make no row version).
pub fn alter_rebuilds(ops: &[AlterOp]) -> bool {
    ops.iter().any(|op| match op {
        AlterOp::Rewrite { .. } | AlterOp::ConvertCharset { .. } | AlterOp::DropPrimaryKey => true,
        AlterOp::Algorithm(a) => a == "COPY" || a == "INPLACE",
        AlterOp::AddConstraint(c) => matches!(c.kind, ConstraintKind::PrimaryKey { .. }),
        // AUTO_INCREMENT and STORED generated columns are filled by a rebuild.
        AlterOp::AddColumn { column, .. } => {
            column.identity
                || column.serial
                || column.generated.as_ref().and_then(|g| g.stored) == Some(true)
        }
        _ => false,
    })
}

/// The INSTANT `ADD`/`DROP COLUMN`s of one ALTER: `None` when it rebuilds the table.
pub fn instant_column_changes(ops: &[AlterOp]) -> Option<u32> {
    if alter_rebuilds(ops) {
        return None;
    }
    let n = ops
        .iter()
        .filter(|op| matches!(op, AlterOp::AddColumn { .. } | AlterOp::DropColumn { .. }))
        .count();
    Some(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The warning for a column the table does not have.
fn unknown_column(table: &QualName, column: &str) -> String {
    format!("table `{table}` has no column `{column}`")
}

impl Schema {
    /// Applies one ALTER TABLE action; returns the table's name afterwards (renames).
    pub(in crate::model) fn apply_alter(
        &mut self,
        table_name: &QualName,
        op: &AlterOp,
        warn: &mut impl FnMut(String),
    ) -> QualName {
        match op {
            AlterOp::AddConstraint(spec) => self.add_constraint(table_name, spec, warn),
            AlterOp::ModifyColumn { old_name, column } => {
                self.modify_column(table_name, old_name, column, warn)
            }
            AlterOp::AddColumn {
                column,
                if_not_exists,
            } => self.add_column(table_name, column, *if_not_exists, warn),
            AlterOp::RenameTable { to } => return self.rename_table(table_name, to),
            // The other actions change nothing of a table the model does not know.
            _ if !self.tables.contains_key(table_name) => {}
            AlterOp::DropColumn {
                name, if_exists, ..
            } => self.drop_column(table_name, name, *if_exists, warn),
            AlterOp::RenameColumn { from, to } => self.rename_column(table_name, from, to, warn),
            AlterOp::AlterColumnType {
                column,
                ty,
                collation,
                ..
            } => self.change_column(table_name, column, warn, |c| {
                c.ty = ty.clone();
                if collation.is_some() {
                    c.collation = collation.clone();
                }
            }),
            AlterOp::SetNotNull { column } => {
                self.change_column(table_name, column, warn, |c| c.nullable = false)
            }
            AlterOp::DropNotNull { column } => {
                self.change_column(table_name, column, warn, |c| c.nullable = true)
            }
            // PostgreSQL refuses both on an identity column, so an `identity` column here is a
            // `serial` one: its sequence default is replaced or gone.
            AlterOp::SetDefault { column, default } => {
                self.change_column(table_name, column, warn, |c| {
                    c.default = (!default.is_null).then(|| default.clone());
                    c.identity = false;
                })
            }
            AlterOp::DropDefault { column } => self.change_column(table_name, column, warn, |c| {
                c.default = None;
                c.identity = false;
            }),
            AlterOp::AddIdentity { column } => self.change_column(table_name, column, warn, |c| {
                c.identity = true;
                c.nullable = false;
            }),
            AlterOp::MoveColumn { column, after } => {
                self.move_column(table_name, column, after, warn)
            }
            AlterOp::ValidateConstraint { .. }
            | AlterOp::DropConstraint { .. }
            | AlterOp::RenameConstraint { .. }
            | AlterOp::DropPrimaryKey
            | AlterOp::DropIndexOrKey { .. }
            | AlterOp::RenameIndex { .. } => self.alter_keys(table_name, op, warn),
            AlterOp::AddIndex {
                name,
                columns,
                unique,
                ..
            } => self.add_index(table_name, name, columns, *unique, warn),
            AlterOp::AttachPartition { partition, .. } => {
                self.attach_partition(table_name, partition, warn)
            }
            AlterOp::DetachPartition { partition, .. } => self.detach_partition(partition),
            AlterOp::ConvertCharset { charset } => self.convert_charset(table_name, charset),
            AlterOp::DefaultCharset { charset } => self.default_charset(table_name, charset),
            AlterOp::Rewrite { .. }
            | AlterOp::TriggerToggle { .. }
            | AlterOp::Algorithm(_)
            | AlterOp::Lock(_)
            | AlterOp::Other { .. } => {}
        }
        table_name.clone()
    }
}
