//! Creating and dropping what hangs off tables: constraints (with the index a primary key or
//! unique constraint is backed by), indexes, and `DROP` of any kind of object with what goes
//! with it.

use std::sync::Arc;

use crate::change::{AlterOp, ConstraintKind, ConstraintSpec, CreateIndex, ObjectKind, QualName};

use super::naming::{index_column_names, Naming};
use super::{Constraint, Index, Schema};

impl Schema {
    pub(super) fn add_constraint(
        &mut self,
        table_name: &QualName,
        spec: &ConstraintSpec,
        warn: &mut impl FnMut(String),
    ) {
        if !self.tables.contains_key(table_name) {
            return;
        }
        // An unnamed `… USING INDEX i` takes the index's name.
        let using = match &spec.kind {
            ConstraintKind::PrimaryKey { using_index, .. }
            | ConstraintKind::Unique { using_index, .. } => using_index.clone(),
            _ => None,
        };
        let name = self.constraint_name(table_name, spec, using.as_ref());
        let mut kind = spec.kind.clone();
        // `REFERENCES t` without columns references t's primary key.
        if let ConstraintKind::ForeignKey {
            ref_table,
            ref_columns,
            ..
        } = &mut kind
        {
            if ref_columns.is_empty() {
                let pk = self
                    .table(ref_table)
                    .and_then(|t| t.primary_key().map(<[String]>::to_vec));
                if let Some(pk) = pk {
                    *ref_columns = pk;
                }
            }
        }
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        if table.constraint(&name).is_some() {
            warn(format!(
                "table `{table_name}` already has a constraint `{name}`"
            ));
            return;
        }
        match &kind {
            ConstraintKind::PrimaryKey { columns, .. } => {
                for col in columns {
                    if let Some(c) = table.column_mut(col) {
                        c.nullable = false;
                    }
                }
            }
            ConstraintKind::NotNull { column } if !spec.not_valid => {
                if let Some(c) = table.column_mut(column) {
                    c.nullable = false;
                }
            }
            _ => {}
        }
        table.constraints.push(Constraint {
            name: name.clone(),
            kind: kind.clone(),
            validated: !spec.not_valid,
        });
        let partitioned = table.partitioned;
        // Primary keys and unique constraints are backed by an index of the same name.
        if let ConstraintKind::PrimaryKey {
            columns,
            using_index,
        }
        | ConstraintKind::Unique {
            columns,
            using_index,
        } = &kind
        {
            let index_name = self.index_key(table_name, &name);
            let mut columns = columns.clone();
            if let Some(existing) = using_index {
                let old = QualName::new(table_name.schema.clone(), existing.clone());
                match self.indexes.remove(&old) {
                    Some(idx) => columns = idx.columns.clone(),
                    None => warn(format!("index `{old}` is unknown to the model")),
                }
                if let Some(c) = self
                    .table_mut(table_name)
                    .and_then(|t| t.constraints.last_mut())
                {
                    match &mut c.kind {
                        ConstraintKind::PrimaryKey { columns: cs, .. }
                        | ConstraintKind::Unique { columns: cs, .. } => *cs = columns.clone(),
                        _ => {}
                    }
                }
                if matches!(kind, ConstraintKind::PrimaryKey { .. }) {
                    if let Some(t) = self.table_mut(table_name) {
                        for col in &columns {
                            if let Some(c) = t.column_mut(col) {
                                c.nullable = false;
                            }
                        }
                    }
                }
            }
            let index = Index {
                name: QualName::new(table_name.schema.clone(), name.clone()),
                table: table_name.clone(),
                unique: true,
                element_names: columns.clone(),
                columns,
                expressions: Vec::new(),
                predicate: None,
                valid: true,
                parent: None,
            };
            self.indexes
                .insert(index_name.clone(), Arc::new(index.clone()));
            self.index_added(table_name, &index.columns, &index_name);
            if partitioned {
                let parent = self.tables.get(table_name).cloned();
                for part in self.partitions_of(table_name) {
                    if let Some(parent) = &parent {
                        self.clone_index_into(&index, &part, parent);
                    }
                }
            }
        } else if let (Naming::InnoDb, ConstraintKind::ForeignKey { columns, .. }) =
            (self.naming(), &kind)
        {
            self.add_implicit_fk_index(table_name, columns, None);
        } else if partitioned {
            // CHECK and foreign keys are copied to every partition under the same name.
            let constraint = Constraint {
                name,
                kind,
                validated: !spec.not_valid,
            };
            for part in self.partitions_of(table_name) {
                self.clone_constraint_into(&constraint, &part);
            }
        }
    }

    /// Renames an index, keeping the links of partitions' indexes attached to it.
    pub(super) fn rename_index(&mut self, from: &QualName, to: &QualName) {
        if let Some(mut idx) = self.indexes.remove(from) {
            Arc::make_mut(&mut idx).name = to.clone();
            self.indexes.insert(to.clone(), idx);
            for i in self.indexes.values_mut() {
                if i.parent.as_ref() == Some(from) {
                    Arc::make_mut(i).parent = Some(to.clone());
                }
            }
        }
    }

    pub(super) fn create_index(&mut self, ci: &CreateIndex, warn: &mut impl FnMut(String)) {
        let Some(table) = self.tables.get(&ci.table).cloned() else {
            if self.views.get(&ci.table).is_some_and(|v| v.materialized) {
                self.index_materialized_view(ci, warn);
                return;
            }
            warn(format!("table `{}` is unknown to the model", ci.table));
            return;
        };
        let element_names = if ci.element_names.is_empty() {
            ci.columns.clone()
        } else {
            index_column_names(&ci.element_names)
        };
        let name = match &ci.name {
            Some(name) => name.clone(),
            None => self.unnamed_index_name(&ci.table, &ci.columns, &element_names),
        };
        let qual = self.index_key(&ci.table, &name);
        let display = QualName::new(ci.table.schema.clone(), name);
        if self.indexes.contains_key(&qual) {
            if !ci.if_not_exists {
                warn(format!("index `{qual}` already exists in the model"));
            }
            return;
        }
        for col in &ci.columns {
            if table.column(col).is_none() {
                warn(format!("table `{}` has no column `{col}`", ci.table));
            }
        }
        let partitions = if table.partitioned {
            self.partitions_of(&ci.table)
        } else {
            Vec::new()
        };
        let index = Index {
            name: display,
            table: ci.table.clone(),
            unique: ci.unique,
            columns: ci.columns.clone(),
            expressions: ci.expressions.clone(),
            predicate: ci.predicate.clone(),
            // `ON ONLY` a partitioned table with partitions: invalid until each has its index.
            valid: !ci.only || partitions.is_empty(),
            element_names,
            parent: None,
        };
        self.indexes.insert(qual.clone(), Arc::new(index.clone()));
        self.index_added(&ci.table, &ci.columns, &qual);
        if ci.unique && self.unique_index_is_constraint() {
            if let Some(t) = self.table_mut(&ci.table) {
                if t.constraint(&index.name.name).is_none() {
                    t.constraints.push(Constraint {
                        name: index.name.name.clone(),
                        kind: ConstraintKind::Unique {
                            columns: ci.columns.clone(),
                            using_index: None,
                        },
                        validated: true,
                    });
                }
            }
        }
        if !ci.only {
            for part in partitions {
                self.clone_index_into(&index, &part, &table);
            }
        }
    }

    pub(super) fn drop_object(&mut self, kind: ObjectKind, name: &QualName, cascade: bool) -> bool {
        match kind {
            ObjectKind::Table => {
                let found = self.tables.remove(name).is_some();
                self.instant_row_versions.remove(name);
                if found {
                    // A partitioned table takes its partitions with it.
                    for part in self.partitions_of(name) {
                        self.drop_object(ObjectKind::Table, &part, cascade);
                    }
                    self.indexes.retain(|_, i| &i.table != name);
                    self.triggers.retain(|t| &t.table != name);
                    if cascade {
                        self.views.retain(|_, v| !v.reads.contains(name));
                    }
                    // Foreign keys to it go too (PostgreSQL refuses the drop without CASCADE).
                    for t in self.tables.values_mut() {
                        let refers = |c: &Constraint| matches!(&c.kind, ConstraintKind::ForeignKey { ref_table, .. } if ref_table == name);
                        if t.constraints.iter().any(refers) {
                            Arc::make_mut(t).constraints.retain(|c| !refers(c));
                        }
                    }
                }
                found
            }
            ObjectKind::View | ObjectKind::MaterializedView => {
                // A materialized view's indexes go with it.
                self.indexes.retain(|_, i| &i.table != name);
                self.views.remove(name).is_some()
            }
            ObjectKind::Index => {
                let Some(idx) = self.indexes.remove(name) else {
                    return false;
                };
                // A partitioned table's index takes the partitions' attached indexes with it.
                let children: Vec<QualName> = self
                    .indexes
                    .values()
                    .filter(|i| i.parent.as_ref() == Some(name))
                    .map(|i| i.name.clone())
                    .collect();
                for child in children {
                    self.drop_object(ObjectKind::Index, &child, cascade);
                }
                // Dropping the index of a constraint drops the constraint with it (CASCADE).
                let table = idx.table.clone();
                if let Some(t) = self.table_mut(&table) {
                    t.constraints.retain(|c| c.name != name.name);
                }
                true
            }
            ObjectKind::Sequence => self.sequences.remove(name),
            ObjectKind::Type | ObjectKind::Domain => {
                let found = self.enums.remove(name).is_some()
                    | self.domains.remove(name).is_some()
                    | self.types.remove(name);
                if found && cascade {
                    // The columns of that type go with it.
                    let columns: Vec<(QualName, String)> = self
                        .tables
                        .values()
                        .flat_map(|t| {
                            t.columns
                                .iter()
                                .filter(|c| {
                                    c.ty.name == name.name
                                        && c.ty.schema.as_deref() == Some(name.schema.as_str())
                                })
                                .map(|c| (t.name.clone(), c.name.clone()))
                        })
                        .collect();
                    for (table, column) in columns {
                        let drop = AlterOp::DropColumn {
                            name: column,
                            if_exists: true,
                            cascade: true,
                        };
                        self.apply_alter(&table, &drop, &mut |_| {});
                    }
                }
                found
            }
            ObjectKind::Function => self.functions.remove(name).is_some(),
            ObjectKind::Schema | ObjectKind::Other => true,
        }
    }
}
