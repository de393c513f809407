//! How the server names what a migration leaves unnamed, and where index names live:
//! PostgreSQL's way in `postgres`, InnoDB's in `innodb`.

mod innodb;
mod postgres;

pub(crate) use postgres::default_constraint_name;
pub(super) use postgres::index_column_names;
#[cfg(test)]
pub(super) use postgres::make_object_name;

use crate::change::QualName;

use super::Schema;

impl Schema {
    /// The key of an index in [`Schema::indexes`]: PostgreSQL's index names live in the
    /// schema, MySQL's in their table.
    pub fn index_key(&self, table: &QualName, name: &str) -> QualName {
        if self.mysql {
            QualName::new(table.schema.clone(), format!("{}.{name}", table.name))
        } else {
            QualName::new(table.schema.clone(), name)
        }
    }
}
