//! Transition types (DESIGN.md §2): the structs of a table for the window of migration N,
//! when the database is at `E(N)` and apps written for `S(N-1)` and `S(N)` run side by side.
//!
//! - The new-row type has every column of `E(N)`; a column is required when `S(N-1)`, `E(N)`
//!   or `S(N)` requires it, so neither version's readers meet a row they cannot take.
//! - A data move (`-- concertina:renames(t.a -> t.b)`, or `UPDATE t SET b = a` in backfill)
//!   is one field named after the new column that writes both columns.
//! - The row type reads only the columns both versions have; a moved column is read as
//!   `COALESCE(new, old)`, so rows written by either app version read the same.

use super::spec::{ReadField, Shape, TableSpec, WriteField, WriteMode};
use crate::model::Table;

/// `(old column, new column)` pairs of one table, as SQL names.
pub type Moves = Vec<(String, String)>;

fn requires(table: Option<&Table>, column: &str) -> bool {
    table
        .and_then(|t| t.column(column))
        .is_some_and(|c| c.insert_requires())
}

/// A column exists in that version, or the table does not (a table new in this migration
/// or dropped by its contract is read by one version only).
fn has(table: Option<&Table>, column: &str) -> bool {
    table.is_none_or(|t| t.column(column).is_some())
}

fn nullable_in(table: Option<&Table>, column: &str) -> bool {
    table
        .and_then(|t| t.column(column))
        .is_none_or(|c| c.nullable)
}

pub fn transition_shape(
    expanded: &TableSpec,
    before: Option<&Table>,
    after: Option<&Table>,
    moves: &Moves,
) -> Shape {
    // One field writes both columns of a move, which needs one type: a type change written
    // as a new column (`migrate fix --new-column`) has each column written on its own.
    let moves: Moves = moves
        .iter()
        .filter(
            |(from, to)| match (expanded.column(from), expanded.column(to)) {
                (Some(f), Some(t)) => f.ty.same_rust_type(&t.ty),
                _ => true,
            },
        )
        .cloned()
        .collect();
    let moved_from = |sql: &str| moves.iter().find(|(_, to)| to == sql).map(|(f, _)| f);
    let is_source = |sql: &str| moves.iter().any(|(from, _)| from == sql);
    let field = |sql: &str| expanded.column(sql).map(|c| c.field.clone());

    let mut reader = Vec::new();
    let mut insert = Vec::new();
    let mut changes = Vec::new();
    for c in &expanded.columns {
        if is_source(&c.sql_name) {
            continue;
        }
        let from = moved_from(&c.sql_name).filter(|f| expanded.column(f).is_some());
        // Read
        match from {
            Some(from) => {
                if has(before, from) && has(after, &c.sql_name) {
                    let guaranteed = !nullable_in(before, from) && !nullable_in(after, &c.sql_name);
                    reader.push(ReadField {
                        field: c.field.clone(),
                        column: c.field.clone(),
                        ty: c.ty.clone(),
                        nullable: !guaranteed,
                        coalesce: field(from),
                    });
                }
            }
            None => {
                if has(before, &c.sql_name) && has(after, &c.sql_name) {
                    reader.push(ReadField {
                        field: c.field.clone(),
                        column: c.field.clone(),
                        ty: c.ty.clone(),
                        nullable: c.nullable
                            || (after.is_some() && nullable_in(after, &c.sql_name)),
                        coalesce: None,
                    });
                }
            }
        }
        if c.generated {
            continue;
        }
        let mut targets = vec![c.field.clone()];
        let mut required = c.insert_requires || requires(after, &c.sql_name);
        let mut may_be_null = c.nullable
            && (after.is_none() || nullable_in(after, &c.sql_name))
            && (before.is_none() || nullable_in(before, &c.sql_name));
        match from {
            Some(from) => {
                if let Some(f) = field(from) {
                    targets.insert(0, f);
                }
                required |= requires(before, from)
                    || expanded.column(from).is_some_and(|s| s.insert_requires);
                may_be_null &= before.is_none() || nullable_in(before, from);
            }
            None => required |= requires(before, &c.sql_name),
        }
        insert.push(WriteField {
            field: c.field.clone(),
            targets: targets.clone(),
            ty: c.ty.clone(),
            mode: if required {
                WriteMode::Required
            } else {
                WriteMode::Optional
            },
        });
        if !expanded.pk.contains(&c.field) {
            changes.push(WriteField {
                field: c.field.clone(),
                targets,
                ty: c.ty.clone(),
                mode: if may_be_null {
                    WriteMode::OptionalNullable
                } else {
                    WriteMode::Optional
                },
            });
        }
    }
    Shape {
        table: expanded.clone(),
        reader,
        insert,
        changes,
    }
}
