//! A schema as comparable facts (tables, columns, indexes, constraints), from the model, and
//! the comparison `verify` makes with what a backend reads from its catalog
//! (`backends::*::catalog`).

use std::collections::BTreeSet;

use concertina_codegen::change::ConstraintKind;
use concertina_codegen::model::Schema;

/// One fact of a schema, comparable between the catalog and the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    Table(String),
    Column {
        table: String,
        column: String,
        ty: String,
        nullable: bool,
    },
    Index {
        table: String,
        name: String,
        unique: bool,
        columns: String,
        valid: bool,
    },
    Constraint {
        table: String,
        name: String,
        kind: &'static str,
        validated: bool,
    },
}

impl std::fmt::Display for Fact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fact::Table(t) => write!(f, "table {t}"),
            Fact::Column {
                table,
                column,
                ty,
                nullable,
            } => write!(
                f,
                "column {table}.{column} {ty}{}",
                if *nullable { "" } else { " NOT NULL" }
            ),
            Fact::Index {
                table,
                name,
                unique,
                columns,
                valid,
            } => write!(
                f,
                "{}index {name} on {table} ({columns}){}",
                if *unique { "unique " } else { "" },
                if *valid { "" } else { " INVALID" }
            ),
            Fact::Constraint {
                table,
                name,
                kind,
                validated,
            } => write!(
                f,
                "{kind} constraint {name} on {table}{}",
                if *validated { "" } else { " NOT VALID" }
            ),
        }
    }
}

pub(crate) fn table_label(schema: &str, name: &str) -> String {
    if schema == "public" || schema.is_empty() {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

/// The facts of the model (tables, columns, indexes, constraints).
pub fn model_facts(schema: &Schema) -> BTreeSet<Fact> {
    let mut out = BTreeSet::new();
    for (name, table) in &schema.tables {
        let t = table_label(&name.schema, &name.name);
        out.insert(Fact::Table(t.clone()));
        for c in &table.columns {
            out.insert(Fact::Column {
                table: t.clone(),
                column: c.name.clone(),
                ty: c.ty.to_string(),
                nullable: c.nullable,
            });
        }
        for c in &table.constraints {
            let kind = match &c.kind {
                ConstraintKind::PrimaryKey { .. } => "primary key",
                ConstraintKind::Unique { .. } => "unique",
                ConstraintKind::Check { .. } => "check",
                ConstraintKind::ForeignKey { .. } => "foreign key",
                ConstraintKind::Exclude => "exclusion",
                // PostgreSQL < 18 has no NOT NULL constraints in pg_constraint.
                ConstraintKind::NotNull { .. } => continue,
            };
            out.insert(Fact::Constraint {
                table: t.clone(),
                name: c.name.clone(),
                kind,
                validated: c.validated,
            });
        }
    }
    for idx in schema.indexes.values() {
        let columns = if idx.expressions.is_empty() {
            idx.columns.join(", ")
        } else {
            "expression".into()
        };
        out.insert(Fact::Index {
            table: table_label(&idx.table.schema, &idx.table.name),
            name: idx.name.name.clone(),
            unique: idx.unique,
            columns,
            valid: idx.valid,
        });
    }
    out
}

/// What the database has that the model lacks, and the reverse.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SchemaDiff {
    pub only_live: Vec<Fact>,
    pub only_model: Vec<Fact>,
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.only_live.is_empty() && self.only_model.is_empty()
    }
}

impl std::fmt::Display for SchemaDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for fact in &self.only_model {
            writeln!(f, "  - {fact} (in the migrations, not in the database)")?;
        }
        for fact in &self.only_live {
            writeln!(f, "  + {fact} (in the database, not in the migrations)")?;
        }
        Ok(())
    }
}

pub fn diff(live: &BTreeSet<Fact>, model: &BTreeSet<Fact>) -> SchemaDiff {
    SchemaDiff {
        only_live: live.difference(model).cloned().collect(),
        only_model: model.difference(live).cloned().collect(),
    }
}
