//! What the generated code looks like, as plain data: a table's `table!` (`TableSpec`) and its
//! structs (`Shape`). Two versions whose data are equal share one definition, so the generated
//! code grows with the changes, not with the number of versions times the number of tables.

use std::collections::BTreeSet;

use super::mapping::{Mapper, TyRef, Unmapped};
use super::names;
use super::TypegenError;
use crate::change::{ConstraintKind, QualName};
use crate::model::{Schema, Table};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColSpec {
    pub sql_name: String,
    /// The column's Rust name in `table!` (and the struct field).
    pub field: String,
    pub ty: TyRef,
    pub nullable: bool,
    /// Inserts may not name it (a generated column).
    pub generated: bool,
    /// An insert must give it a value.
    pub insert_requires: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: QualName,
    /// `table!`'s module name.
    pub module: String,
    /// Row struct base name (`Users`, `NewUsers`, `UsersChanges`).
    pub camel: String,
    pub pk: Vec<String>,
    pub columns: Vec<ColSpec>,
    /// Single-column foreign keys to another table's single-column primary key:
    /// (column field, parent table).
    pub parents: Vec<(String, QualName)>,
}

impl TableSpec {
    pub fn column(&self, sql_name: &str) -> Option<&ColSpec> {
        self.columns.iter().find(|c| c.sql_name == sql_name)
    }

    /// The SQL name of the column whose field is `field`.
    pub fn column_sql(&self, field: &str) -> String {
        self.columns
            .iter()
            .find(|c| c.field == field)
            .map_or_else(|| field.to_string(), |c| c.sql_name.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadField {
    pub field: String,
    pub column: String,
    pub ty: TyRef,
    pub nullable: bool,
    /// Read `COALESCE(column, other)`: a renamed column, during the window.
    pub coalesce: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `T`: always written.
    Required,
    /// `Option<T>`: `None` writes `DEFAULT` (insert) or leaves the column alone (update).
    Optional,
    /// `Option<Option<T>>` in an update: `Some(None)` writes NULL.
    OptionalNullable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteField {
    pub field: String,
    /// The columns (fields of `table!`) the value goes to: two for a renamed column.
    pub targets: Vec<String>,
    pub ty: TyRef,
    pub mode: WriteMode,
}

/// A table's three structs: the row (reader), the new row (insert) and the changes (update).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub table: TableSpec,
    pub reader: Vec<ReadField>,
    pub insert: Vec<WriteField>,
    pub changes: Vec<WriteField>,
}

impl Shape {
    /// Derives suffice: every field reads or writes exactly its own column.
    pub fn is_plain(&self) -> bool {
        self.reader
            .iter()
            .all(|r| r.coalesce.is_none() && r.field == r.column)
            && self
                .insert
                .iter()
                .chain(&self.changes)
                .all(|w| w.targets.len() == 1 && w.targets[0] == w.field)
    }

    /// The shape of a table in one schema version: read every column, write what inserts may.
    pub fn plain(table: TableSpec) -> Shape {
        let reader = table
            .columns
            .iter()
            .map(|c| ReadField {
                field: c.field.clone(),
                column: c.field.clone(),
                ty: c.ty.clone(),
                nullable: c.nullable,
                coalesce: None,
            })
            .collect();
        let insert = table
            .columns
            .iter()
            .filter(|c| !c.generated)
            .map(|c| WriteField {
                field: c.field.clone(),
                targets: vec![c.field.clone()],
                ty: c.ty.clone(),
                mode: if c.insert_requires {
                    WriteMode::Required
                } else {
                    WriteMode::Optional
                },
            })
            .collect();
        let changes = table
            .columns
            .iter()
            .filter(|c| !c.generated && !table.pk.contains(&c.field))
            .map(|c| WriteField {
                field: c.field.clone(),
                targets: vec![c.field.clone()],
                ty: c.ty.clone(),
                mode: if c.nullable {
                    WriteMode::OptionalNullable
                } else {
                    WriteMode::Optional
                },
            })
            .collect();
        Shape {
            table,
            reader,
            insert,
            changes,
        }
    }
}

/// Why a table gets no types (a doc comment in the version module says so).
pub enum Skipped {
    /// A partition: the app uses its parent.
    Partition,
    /// diesel's `table!` needs a key.
    NoKey,
    /// More columns than diesel's `table!` takes with the enabled features (an error says so).
    TooWide,
}

/// The `table!` module name of every table of `schema` that gets types: tables of the default
/// schema keep their name, others get `<schema>_<name>`; clashes get a number.
pub fn module_names(schema: &Schema, default_schema: &str) -> Vec<(QualName, String)> {
    let tables: Vec<&QualName> = schema
        .tables
        .iter()
        .filter(|(_, t)| t.partition_of.is_none())
        .map(|(n, _)| n)
        .collect();
    let mut modules: Vec<String> = tables
        .iter()
        .map(|n| {
            if n.schema == default_schema || n.schema.is_empty() {
                names::snake(&n.name).0
            } else {
                names::snake(&format!("{}_{}", n.schema, n.name)).0
            }
        })
        .collect();
    names::dedupe(&mut modules);
    tables.into_iter().cloned().zip(modules).collect()
}

/// The key diesel's `table!` gets: the primary key, else a unique index or constraint over
/// `NOT NULL` columns.
fn key_of(table: &Table, schema: &Schema) -> Option<Vec<String>> {
    if let Some(pk) = table.primary_key() {
        return Some(pk.to_vec());
    }
    let not_null = |cols: &[String]| cols.iter().all(|c| table.proves_not_null(c));
    for c in &table.constraints {
        if let ConstraintKind::Unique { columns, .. } = &c.kind {
            if not_null(columns) {
                return Some(columns.clone());
            }
        }
    }
    schema
        .indexes_of(&table.name)
        .find(|i| {
            i.unique
                && i.valid
                && i.predicate.is_none()
                && i.expressions.is_empty()
                && !i.columns.is_empty()
                && not_null(&i.columns)
        })
        .map(|i| i.columns.clone())
}

pub fn table_spec(
    table: &Table,
    module: &str,
    schema: &Schema,
    mapper: &Mapper,
    modules: &[(QualName, String)],
    errors: &mut Vec<TypegenError>,
) -> Result<TableSpec, Skipped> {
    if table.partition_of.is_some() {
        return Err(Skipped::Partition);
    }
    let key = key_of(table, schema).ok_or(Skipped::NoKey)?;
    // One clear error instead of diesel's cascade of hundreds from inside `table!`.
    let max = mapper.features.max_columns;
    if table.columns.len() > max {
        errors.push(TypegenError::TooWide {
            table: table.name.to_string(),
            columns: table.columns.len(),
            max,
            feature: if table.columns.len() > 64 {
                "128-column-tables"
            } else {
                "64-column-tables"
            },
        });
        return Err(Skipped::TooWide);
    }
    let mut fields: Vec<String> = table
        .columns
        .iter()
        .map(|c| names::snake(&c.name).0)
        .collect();
    names::dedupe(&mut fields);
    let mut columns = Vec::with_capacity(table.columns.len());
    for (c, field) in table.columns.iter().zip(fields) {
        let ty = match mapper.map(&c.ty, schema) {
            Ok(ty) => ty,
            Err(why) => {
                errors.push(TypegenError::unmapped(&table.name, &c.name, &c.ty, why));
                continue;
            }
        };
        columns.push(ColSpec {
            sql_name: c.name.clone(),
            field,
            ty,
            nullable: c.nullable && !table.proves_not_null(&c.name),
            generated: c.generated.is_some(),
            insert_requires: c.insert_requires(),
        });
    }
    let field_of = |sql: &str| {
        columns
            .iter()
            .find(|c| c.sql_name == sql)
            .map(|c| c.field.clone())
    };
    let pk = key.iter().filter_map(|k| field_of(k)).collect::<Vec<_>>();
    if pk.len() != key.len() {
        return Err(Skipped::NoKey);
    }
    let mut parents = Vec::new();
    let mut seen = BTreeSet::new();
    for c in &table.constraints {
        let ConstraintKind::ForeignKey {
            columns: fk_cols,
            ref_table,
            ref_columns,
        } = &c.kind
        else {
            continue;
        };
        let Some(parent) = schema.table(ref_table) else {
            continue;
        };
        let parent_pk = parent.primary_key().unwrap_or(&[]);
        let refs_pk = if ref_columns.is_empty() {
            parent_pk.len() == 1
        } else {
            ref_columns.as_slice() == parent_pk
        };
        // diesel allows one `joinable!` per pair, none to the table itself, and only within
        // one schema (`table!` modules side by side).
        if fk_cols.len() == 1
            && refs_pk
            && parent_pk.len() == 1
            && *ref_table != table.name
            && ref_table.schema == table.name.schema
            && modules.iter().any(|(n, _)| n == ref_table)
            && seen.insert(ref_table.clone())
        {
            if let Some(f) = field_of(&fk_cols[0]) {
                parents.push((f, ref_table.clone()));
            }
        }
    }
    Ok(TableSpec {
        name: table.name.clone(),
        module: module.to_string(),
        camel: names::camel(module),
        pk,
        columns,
        parents,
    })
}

impl TypegenError {
    fn unmapped(
        table: &QualName,
        column: &str,
        ty: &crate::types::SqlType,
        why: Unmapped,
    ) -> TypegenError {
        match why {
            Unmapped::NeedsFeature(feature) => TypegenError::NeedsFeature {
                table: table.to_string(),
                column: column.to_string(),
                ty: ty.to_string(),
                feature,
            },
            Unmapped::Unknown if ty.name == crate::model::UNKNOWN_TYPE && ty.schema.is_none() => {
                TypegenError::UntypedQueryColumn {
                    table: table.to_string(),
                    column: column.to_string(),
                }
            }
            Unmapped::Unknown => TypegenError::Unmappable {
                table: table.to_string(),
                column: column.to_string(),
                ty: ty.to_string(),
                key: match &ty.schema {
                    Some(s) => format!("{s}.{}", ty.name),
                    None => ty.name.clone(),
                },
            },
        }
    }
}
