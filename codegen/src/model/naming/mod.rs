//! How the server names what a migration leaves unnamed, and where index names live: one
//! [`Naming`] per server family, PostgreSQL's rules in `postgres`, InnoDB's in `innodb`. The
//! rest of the model asks the methods here and never branches on the dialect for a name.

mod innodb;
mod postgres;

pub(super) use postgres::index_column_names;
#[cfg(test)]
pub(super) use postgres::make_object_name;
pub(crate) use postgres::{choose_object_name, default_constraint_name};

use crate::change::{ConstraintKind, ConstraintSpec, QualName};
use crate::dialect::DialectKind;

use super::{Schema, Table};

/// Whose rules name what a migration leaves unnamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Naming {
    /// PostgreSQL: index names live in the schema, generated names are `makeObjectName`'s
    /// (`users_email_key`, `orders_user_id_idx1`) within 63 bytes.
    Postgres,
    /// MySQL/MariaDB: index names live in their table, the primary key is `PRIMARY`, an
    /// unnamed index takes its first column's name, an unnamed foreign key
    /// `<table>_ibfk_<n>` and an index of its own when none covers its columns.
    InnoDb,
}

impl Schema {
    pub(super) fn naming(&self) -> Naming {
        match self.dialect {
            DialectKind::Postgres => Naming::Postgres,
            DialectKind::MySql | DialectKind::MariaDb => Naming::InnoDb,
        }
    }

    /// The key of an index in [`Schema::indexes`]: PostgreSQL's index names live in the
    /// schema, MySQL's in their table.
    pub fn index_key(&self, table: &QualName, name: &str) -> QualName {
        match self.naming() {
            Naming::Postgres => QualName::new(table.schema.clone(), name),
            Naming::InnoDb => QualName::new(table.schema.clone(), format!("{}.{name}", table.name)),
        }
    }

    /// The name of a constraint added to `table`: its own, else the `USING INDEX` index's,
    /// else the one the server generates. InnoDB calls every primary key `PRIMARY`.
    pub(super) fn constraint_name(
        &self,
        table: &QualName,
        spec: &ConstraintSpec,
        using_index: Option<&String>,
    ) -> String {
        match (self.naming(), &spec.name, using_index, &spec.kind) {
            (Naming::InnoDb, _, _, ConstraintKind::PrimaryKey { .. }) => "PRIMARY".to_string(),
            (_, Some(name), _, _) => name.clone(),
            (_, None, Some(index), _) => index.clone(),
            (Naming::InnoDb, None, None, ConstraintKind::Unique { columns, .. }) => {
                self.innodb_index_name(table, columns.first().map_or("", String::as_str))
            }
            (Naming::InnoDb, None, None, ConstraintKind::ForeignKey { .. }) => {
                self.innodb_fk_name(table)
            }
            (_, None, None, kind) => self.generated_constraint_name(table, kind),
        }
    }

    /// The name a constraint `ALTER TABLE table ADD …` adds gets on this schema: its own, or
    /// the one the server would generate (what `migrate fix` writes into the statement).
    pub fn added_constraint_name(&self, table: &QualName, spec: &ConstraintSpec) -> String {
        self.constraint_name(table, spec, None)
    }

    /// The name the server gives an unnamed index on `table` over `columns` (PostgreSQL
    /// names it from `element_names`, which include expressions).
    pub(super) fn unnamed_index_name(
        &self,
        table: &QualName,
        columns: &[String],
        element_names: &[String],
    ) -> String {
        match self.naming() {
            Naming::Postgres => self.generated_index_name(table, element_names),
            Naming::InnoDb => {
                self.innodb_index_name(table, columns.first().map_or("", String::as_str))
            }
        }
    }

    /// After an index over `columns` was added under `key`: InnoDB drops the indexes it made
    /// for foreign keys that the new one can serve.
    pub(super) fn index_added(&mut self, table: &QualName, columns: &[String], key: &QualName) {
        match self.naming() {
            Naming::Postgres => {}
            Naming::InnoDb => self.replace_implicit_indexes(table, columns, key),
        }
    }

    /// After `from` was renamed `to` (`renamed`, not yet back in [`Schema::tables`]): InnoDB's
    /// index keys and generated foreign key names carry the table's name.
    pub(super) fn names_follow_table_rename(
        &mut self,
        from: &QualName,
        to: &QualName,
        renamed: &mut Table,
    ) {
        match self.naming() {
            Naming::Postgres => {}
            Naming::InnoDb => self.innodb_rename_table_keys(from, to, renamed),
        }
    }
}
