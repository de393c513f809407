//! InnoDB's names for what a migration leaves unnamed (MySQL and MariaDB): an index after
//! its first column, a foreign key `<table>_ibfk_<n>`, and the index InnoDB makes for a
//! foreign key no index covers, which a later index replaces.

use std::sync::Arc;

use crate::change::{ConstraintKind, QualName};

use super::super::{Index, Schema, Table};

impl Schema {
    /// MySQL's name for an unnamed index: its first column, then `_2`, `_3`… while the table
    /// has an index of that name.
    pub(super) fn innodb_index_name(&self, table: &QualName, first: &str) -> String {
        let taken = |n: &str| {
            n.eq_ignore_ascii_case("primary")
                || self.indexes.contains_key(&self.index_key(table, n))
        };
        if !taken(first) {
            return first.to_string();
        }
        (2..=u32::MAX)
            .map(|i| format!("{first}_{i}"))
            .find(|n| !taken(n))
            .unwrap_or_default()
    }

    /// InnoDB's name for an unnamed foreign key: `<table>_ibfk_<n>`, one past the highest `n`.
    pub(super) fn innodb_fk_name(&self, table: &QualName) -> String {
        let prefix = format!("{}_ibfk_", table.name);
        let highest = self
            .table(table)
            .map(|t| {
                t.constraints
                    .iter()
                    .filter_map(|c| c.name.strip_prefix(&prefix)?.parse::<u32>().ok())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        format!("{prefix}{}", highest.saturating_add(1))
    }

    /// InnoDB needs an index led by a foreign key's columns and makes one where none is, named
    /// `name` (MariaDB 10.11: the constraint's name in `CREATE TABLE`) or after the first
    /// column (`ALTER TABLE … ADD [CONSTRAINT c] FOREIGN KEY`). A later index that can serve
    /// the foreign key replaces it ([`Schema::mysql_implicit_indexes`]).
    pub(in crate::model) fn add_implicit_fk_index(
        &mut self,
        table: &QualName,
        columns: &[String],
        name: Option<&str>,
    ) {
        let covered = self
            .indexes_of(table)
            .any(|i| i.columns.starts_with(columns));
        if covered || columns.is_empty() {
            return;
        }
        let index_name = match name {
            Some(n) => n.to_string(),
            None => self.innodb_index_name(table, &columns[0]),
        };
        let index = Index {
            name: QualName::new(table.schema.clone(), index_name.clone()),
            table: table.clone(),
            unique: false,
            columns: columns.to_vec(),
            expressions: Vec::new(),
            predicate: None,
            valid: true,
            element_names: columns.to_vec(),
            parent: None,
        };
        let key = self.index_key(table, &index_name);
        self.indexes.insert(key.clone(), Arc::new(index));
        self.mysql_implicit_indexes.insert(key);
    }

    /// A new index on `table` over `columns` replaces the implicit foreign key indexes it can
    /// serve for.
    pub(super) fn replace_implicit_indexes(
        &mut self,
        table: &QualName,
        columns: &[String],
        new_key: &QualName,
    ) {
        let replaced: Vec<QualName> = self
            .mysql_implicit_indexes
            .iter()
            .filter(|k| *k != new_key)
            .filter(|k| {
                self.indexes
                    .get(*k)
                    .is_some_and(|i| &i.table == table && columns.starts_with(&i.columns))
            })
            .cloned()
            .collect();
        for key in replaced {
            self.indexes.remove(&key);
            self.mysql_implicit_indexes.remove(&key);
        }
    }

    /// InnoDB's side of a table rename: the index keys name the table, and so do the foreign
    /// key names InnoDB generated.
    pub(super) fn innodb_rename_table_keys(
        &mut self,
        from: &QualName,
        to: &QualName,
        renamed: &mut Table,
    ) {
        // The keys name the table.
        let moved: Vec<QualName> = self
            .indexes
            .iter()
            .filter(|(_, i)| &i.table == to)
            .map(|(k, _)| k.clone())
            .collect();
        for key in moved {
            if let Some(idx) = self.indexes.remove(&key) {
                let new_key = self.index_key(to, &idx.name.name);
                if self.mysql_implicit_indexes.remove(&key) {
                    self.mysql_implicit_indexes.insert(new_key.clone());
                }
                self.indexes.insert(new_key, idx);
            }
        }
        // InnoDB renames its generated foreign key names with the table.
        let old_prefix = format!("{}_ibfk_", from.name);
        for c in &mut renamed.constraints {
            if let Some(n) = c.name.strip_prefix(&old_prefix) {
                if matches!(c.kind, ConstraintKind::ForeignKey { .. }) {
                    c.name = format!("{}_ibfk_{n}", to.name);
                }
            }
        }
    }

    /// Forgets the implicit foreign key indexes no longer in the model.
    pub(in crate::model) fn forget_dropped_implicit_indexes(&mut self) {
        let indexes = &self.indexes;
        self.mysql_implicit_indexes
            .retain(|k| indexes.contains_key(k));
    }
}
