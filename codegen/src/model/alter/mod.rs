//! One ALTER TABLE action applied to the model, and which MySQL ALTERs rebuild the table.

use std::sync::Arc;

use crate::change::{AlterOp, ConstraintKind, CreateIndex, ExprInfo, ObjectKind, QualName};

use super::naming::Naming;
use super::{column_from_spec, Constraint, Schema};

/// Most bytes a character takes in a MySQL character set (4 when unknown).
fn mysql_charset_bytes(charset: &str) -> u64 {
    match charset
        .trim_matches(['`', '\'', '"'])
        .to_lowercase()
        .as_str()
    {
        "latin1" | "ascii" | "binary" | "latin2" | "cp1250" | "cp1251" | "cp1252" => 1,
        "ucs2" | "gbk" | "big5" | "sjis" | "cp932" => 2,
        "utf8" | "utf8mb3" | "ujis" | "eucjpms" | "gb2312" => 3,
        _ => 4,
    }
}

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

impl Schema {
    /// Applies one ALTER TABLE action; returns the table's name afterwards (renames).
    pub(in crate::model) fn apply_alter(
        &mut self,
        table_name: &QualName,
        op: &AlterOp,
        warn: &mut impl FnMut(String),
    ) -> QualName {
        let unknown_column = |c: &str| format!("table `{table_name}` has no column `{c}`");
        match op {
            AlterOp::AddConstraint(spec) => {
                self.add_constraint(table_name, spec, warn);
                return table_name.clone();
            }
            // `CHANGE a b …` renames first (keys, indexes and foreign keys follow), then the
            // column is replaced by its restatement; a primary key column stays NOT NULL.
            AlterOp::ModifyColumn { old_name, column } => {
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
                    return table_name.clone();
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
                    None => warn(unknown_column(old_name)),
                }
                return table_name.clone();
            }
            AlterOp::AddColumn {
                column,
                if_not_exists,
            } => {
                let Some(table) = self.table_mut(table_name) else {
                    return table_name.clone();
                };
                if table.column(&column.name).is_some() {
                    if !if_not_exists {
                        warn(format!(
                            "table `{table_name}` already has a column `{}`",
                            column.name
                        ));
                    }
                    return table_name.clone();
                }
                table.columns.push(column_from_spec(column));
                for c in &column.constraints {
                    self.add_constraint(table_name, c, warn);
                }
                return table_name.clone();
            }
            AlterOp::RenameTable { to } => {
                if let Some(table) = self.tables.remove(table_name) {
                    let mut table = Arc::unwrap_or_clone(table);
                    let to = QualName::new(
                        if to.schema.is_empty() {
                            table_name.schema.clone()
                        } else {
                            to.schema.clone()
                        },
                        to.name.clone(),
                    );
                    table.name = to.clone();
                    for idx in self.indexes.values_mut() {
                        if &idx.table == table_name {
                            Arc::make_mut(idx).table = to.clone();
                        }
                    }
                    self.names_follow_table_rename(table_name, &to, &mut table);
                    // `SET SCHEMA` moves the table's indexes along.
                    if to.schema != table_name.schema {
                        let moved: Vec<QualName> = self
                            .indexes
                            .values()
                            .filter(|i| i.table == to)
                            .map(|i| i.name.clone())
                            .collect();
                        for from in moved {
                            let new = QualName::new(to.schema.clone(), from.name.clone());
                            self.rename_index(&from, &new);
                        }
                    }
                    for t in &mut self.triggers {
                        if &t.table == table_name {
                            t.table = to.clone();
                        }
                    }
                    // Foreign keys, partitions and views follow the table by identity.
                    for t in self.tables.values_mut() {
                        let refers = t.partition_of.as_ref() == Some(table_name)
                            || t.constraints.iter().any(|c| {
                                matches!(&c.kind, ConstraintKind::ForeignKey { ref_table, .. } if ref_table == table_name)
                            });
                        if refers {
                            let t = Arc::make_mut(t);
                            if t.partition_of.as_ref() == Some(table_name) {
                                t.partition_of = Some(to.clone());
                            }
                            for c in &mut t.constraints {
                                if let ConstraintKind::ForeignKey { ref_table, .. } = &mut c.kind {
                                    if ref_table == table_name {
                                        *ref_table = to.clone();
                                    }
                                }
                            }
                        }
                    }
                    for v in self.views.values_mut() {
                        if v.reads.contains(table_name) {
                            for r in &mut Arc::make_mut(v).reads {
                                if r == table_name {
                                    *r = to.clone();
                                }
                            }
                        }
                    }
                    self.tables.insert(to.clone(), Arc::new(table));
                    return to;
                }
                return table_name.clone();
            }
            _ => {}
        }
        let narrows_keys = self.drop_column_narrows_keys();
        let Some(table) = self.table_mut(table_name) else {
            return table_name.clone();
        };
        match op {
            AlterOp::DropColumn {
                name, if_exists, ..
            } => {
                if table.column(name).is_none() {
                    if !if_exists {
                        warn(unknown_column(name));
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
                            &i.table != table_name
                                || !i.columns.is_empty()
                                || !i.expressions.is_empty()
                        });
                        return table_name.clone();
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
            AlterOp::RenameColumn { from, to } => match table.column_mut(from) {
                Some(c) => {
                    c.name = to.clone();
                    let rename = |cols: &mut Vec<String>| {
                        for c in cols.iter_mut() {
                            if c == from {
                                *c = to.clone();
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
                                    *not_null_of = Some(to.clone());
                                }
                            }
                            ConstraintKind::NotNull { column } if column == from => {
                                *column = to.clone()
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
                None => warn(unknown_column(from)),
            },
            AlterOp::AlterColumnType {
                column,
                ty,
                collation,
                ..
            } => match table.column_mut(column) {
                Some(c) => {
                    c.ty = ty.clone();
                    if collation.is_some() {
                        c.collation = collation.clone();
                    }
                }
                None => warn(unknown_column(column)),
            },
            AlterOp::SetNotNull { column } => match table.column_mut(column) {
                Some(c) => c.nullable = false,
                None => warn(unknown_column(column)),
            },
            AlterOp::DropNotNull { column } => match table.column_mut(column) {
                Some(c) => c.nullable = true,
                None => warn(unknown_column(column)),
            },
            // PostgreSQL refuses both on an identity column, so an `identity` column here is a
            // `serial` one: its sequence default is replaced or gone.
            AlterOp::SetDefault { column, default } => match table.column_mut(column) {
                Some(c) => {
                    c.default = (!default.is_null).then(|| default.clone());
                    c.identity = false;
                }
                None => warn(unknown_column(column)),
            },
            AlterOp::DropDefault { column } => match table.column_mut(column) {
                Some(c) => {
                    c.default = None;
                    c.identity = false;
                }
                None => warn(unknown_column(column)),
            },
            AlterOp::AddIdentity { column } => match table.column_mut(column) {
                Some(c) => {
                    c.identity = true;
                    c.nullable = false;
                }
                None => warn(unknown_column(column)),
            },
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
            AlterOp::RenameConstraint { from, to } => {
                match table.constraints.iter_mut().find(|c| &c.name == from) {
                    Some(c) => c.name = to.clone(),
                    None => warn(format!("table `{table_name}` has no constraint `{from}`")),
                }
                let old = QualName::new(table_name.schema.clone(), from.clone());
                if self.indexes.contains_key(&old) {
                    self.rename_index(&old, &QualName::new(table_name.schema.clone(), to.clone()));
                }
            }
            AlterOp::AttachPartition { partition, .. } => {
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
            AlterOp::DetachPartition {
                partition,
                concurrently,
                ..
            } => {
                // `CONCURRENTLY` finishes in a second transaction; the model takes it as done.
                let _ = concurrently;
                if let Some(p) = self.table_mut(partition) {
                    // It keeps its columns, constraints and indexes, now its own.
                    p.partition_of = None;
                    for i in self.indexes.values_mut() {
                        if &i.table == partition && i.parent.is_some() {
                            Arc::make_mut(i).parent = None;
                        }
                    }
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
            AlterOp::DropIndexOrKey { name } => {
                table.constraints.retain(|c| {
                    &c.name != name || matches!(c.kind, ConstraintKind::ForeignKey { .. })
                });
                let key = self.index_key(table_name, name);
                if self.indexes.remove(&key).is_none() {
                    warn(format!("table `{table_name}` has no index `{name}`"));
                }
            }
            AlterOp::AddIndex {
                name,
                columns,
                unique,
                ..
            } => {
                let ci = CreateIndex {
                    name: name.clone(),
                    table: table_name.clone(),
                    unique: *unique,
                    concurrently: false,
                    if_not_exists: false,
                    only: false,
                    columns: columns.clone(),
                    expressions: Vec::new(),
                    predicate: None,
                    element_names: columns.clone(),
                };
                self.create_index(&ci, warn);
            }
            AlterOp::AddConstraint(_)
            | AlterOp::AddColumn { .. }
            | AlterOp::RenameTable { .. }
            | AlterOp::ModifyColumn { .. } => {}
            AlterOp::MoveColumn { column, after } => {
                let Some(at) = table.columns.iter().position(|c| &c.name == column) else {
                    warn(unknown_column(column));
                    return table_name.clone();
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
                        warn(unknown_column(after.as_deref().unwrap_or_default()));
                    }
                }
            }
            AlterOp::RenameIndex { from, to } => {
                for c in &mut table.constraints {
                    if &c.name == from {
                        c.name = to.clone();
                    }
                }
                let old = self.index_key(table_name, from);
                match self.indexes.remove(&old) {
                    Some(mut idx) if &idx.table == table_name => {
                        Arc::make_mut(&mut idx).name =
                            QualName::new(table_name.schema.clone(), to.clone());
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
            // Every text column takes the new character set, which becomes the table default;
            // a TEXT type grows to hold as many characters as before (`text` in `utf8mb3` →
            // `mediumtext` in `utf8mb4`), a VARCHAR keeps its length in characters.
            AlterOp::ConvertCharset { charset } => {
                const TEXTS: [(&str, u64); 4] = [
                    ("tinytext", 255),
                    ("text", 65_535),
                    ("mediumtext", 16_777_215),
                    ("longtext", 4_294_967_295),
                ];
                let table_default = table.charset.clone();
                let new_bytes = mysql_charset_bytes(charset);
                for c in &mut table.columns {
                    if let Some(at) = TEXTS.iter().position(|(n, _)| *n == c.ty.name) {
                        let old = c
                            .charset
                            .clone()
                            .or_else(|| {
                                c.collation
                                    .as_ref()
                                    .and_then(|k| k.split('_').next().map(str::to_string))
                            })
                            .or_else(|| table_default.clone())
                            .unwrap_or_else(|| "utf8mb4".into());
                        let chars = TEXTS[at].1 / mysql_charset_bytes(&old);
                        if let Some((name, _)) = TEXTS[at..]
                            .iter()
                            .find(|(_, bytes)| chars.saturating_mul(new_bytes) <= *bytes)
                        {
                            c.ty.name = (*name).to_string();
                        }
                    }
                    c.charset = None;
                    c.collation = None;
                }
                table.charset = Some(charset.clone());
            }
            // Existing text columns keep the character set they have.
            AlterOp::DefaultCharset { charset } => {
                let old = table.charset.clone().unwrap_or_else(|| "utf8mb4".into());
                for c in &mut table.columns {
                    let text = matches!(
                        c.ty.name.as_str(),
                        "char"
                            | "varchar"
                            | "tinytext"
                            | "text"
                            | "mediumtext"
                            | "longtext"
                            | "enum"
                            | "set"
                    );
                    if text && c.charset.is_none() && c.collation.is_none() {
                        c.charset = Some(old.clone());
                    }
                }
                table.charset = Some(charset.clone());
            }
            AlterOp::Rewrite { .. }
            | AlterOp::TriggerToggle { .. }
            | AlterOp::Algorithm(_)
            | AlterOp::Lock(_)
            | AlterOp::Other { .. } => {}
        }
        table_name.clone()
    }
}
