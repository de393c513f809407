//! [`Schema::apply`]: one change replayed on the model, dispatched by kind of change.

use std::sync::Arc;

use crate::change::{
    AlterOp, Change, ConstraintKind, ConstraintSpec, LabelPosition, QualName, Volatility,
};

use super::naming::Naming;
use super::{column_from_spec, instant_column_changes, Column, Domain, Function, ModelWarning};
use super::{Schema, Table, View};

impl Schema {
    /// Applies one change; returns what could not be followed.
    pub fn apply(&mut self, change: &Change) -> Vec<ModelWarning> {
        let mut warnings = Vec::new();
        let mut warn = |m: String| warnings.push(ModelWarning(m));
        match change {
            Change::CreateTable(ct) => {
                if self.tables.contains_key(&ct.name) {
                    if !ct.if_not_exists {
                        warn(format!("table `{}` already exists in the model", ct.name));
                    }
                    return warnings;
                }
                let mut table = Table {
                    name: ct.name.clone(),
                    columns: match &ct.as_select_shape {
                        Some(shape) if ct.columns.is_empty() => self.query_columns(shape),
                        _ => ct.columns.iter().map(column_from_spec).collect(),
                    },
                    constraints: Vec::new(),
                    partitioned: ct.partitioned,
                    partition_of: ct.partition_of.clone(),
                    charset: ct.charset.clone(),
                };
                if let Some(like) = &ct.like {
                    // LIKE copies names, types and NOT NULL; defaults only with `INCLUDING
                    // DEFAULTS`; identities and generation expressions not (sqlparser reads no
                    // other LIKE option).
                    match self.tables.get(like) {
                        Some(src) => table.columns.extend(src.columns.iter().map(|c| Column {
                            default: c.default.clone().filter(|_| ct.like_defaults),
                            identity: false,
                            generated: None,
                            ..c.clone()
                        })),
                        None => warn(format!("`LIKE {like}`: table unknown to the model")),
                    }
                }
                if let Some(parent) = &ct.partition_of {
                    match self.tables.get(parent) {
                        Some(p) => table.columns = p.columns.clone(),
                        None => {
                            // PostgreSQL refuses it; no link to a table the model lacks.
                            table.partition_of = None;
                            warn(format!(
                                "`PARTITION OF {parent}`: table unknown to the model"
                            ))
                        }
                    }
                }
                let name = ct.name.clone();
                self.tables.insert(name.clone(), Arc::new(table));
                let is_fk =
                    |c: &&ConstraintSpec| matches!(c.kind, ConstraintKind::ForeignKey { .. });
                let all = ct
                    .columns
                    .iter()
                    .flat_map(|col| &col.constraints)
                    .chain(&ct.constraints);
                if self.naming() == Naming::InnoDb {
                    // Keys and indexes in order, then the foreign keys, which make an index
                    // only where none of those covers them.
                    for c in all.clone().filter(|c| !is_fk(c)) {
                        self.add_constraint(&name, c, &mut warn);
                    }
                    for op in &ct.indexes {
                        self.apply_alter(&name, op, &mut warn);
                    }
                    for c in all.filter(is_fk) {
                        if let ConstraintKind::ForeignKey { columns, .. } = &c.kind {
                            self.add_implicit_fk_index(&name, columns, c.name.as_deref());
                        }
                        self.add_constraint(&name, c, &mut warn);
                    }
                } else {
                    for c in all {
                        self.add_constraint(&name, c, &mut warn);
                    }
                }
                if let Some(parent) = self.tables.get(&name).and_then(|t| t.partition_of.clone()) {
                    self.clone_parent_into(&parent, &name);
                }
            }
            Change::AlterTable {
                table,
                only,
                if_exists,
                ops,
            } => {
                if !self.tables.contains_key(table) {
                    // `ALTER TABLE|VIEW v RENAME TO w` / `SET SCHEMA s` of a view.
                    if let Some(mut view) = self.views.remove(table) {
                        for op in ops {
                            if let AlterOp::RenameTable { to } = op {
                                let v = Arc::make_mut(&mut view);
                                v.name = QualName::new(
                                    if to.schema.is_empty() {
                                        v.name.schema.clone()
                                    } else {
                                        to.schema.clone()
                                    },
                                    to.name.clone(),
                                );
                            }
                        }
                        self.views.insert(view.name.clone(), view);
                        return warnings;
                    }
                    if !if_exists {
                        warn(format!("table `{table}` is unknown to the model"));
                    }
                    return warnings;
                }
                let versions =
                    match instant_column_changes(ops).filter(|_| self.counts_row_versions()) {
                        Some(n) => self
                            .instant_row_versions
                            .get(table)
                            .copied()
                            .unwrap_or(0)
                            .saturating_add(n),
                        None => 0,
                    };
                let mut current = table.clone();
                for op in ops {
                    // PostgreSQL applies most column changes to every partition too.
                    let partitioned = self.tables.get(&current).is_some_and(|t| t.partitioned);
                    if partitioned && !only {
                        if let Some(child_op) = self.partition_op(&current, op) {
                            for part in self.partitions_of(&current) {
                                self.apply_alter_tree(&part, &child_op, &mut warn);
                            }
                        }
                    }
                    current = self.apply_alter(&current, op, &mut warn);
                }
                self.instant_row_versions.remove(table);
                if versions > 0 && self.tables.contains_key(&current) {
                    self.instant_row_versions.insert(current, versions);
                }
            }
            Change::CreateIndex(ci) => self.create_index(ci, &mut warn),
            Change::DropObjects {
                kind,
                names,
                if_exists,
                cascade,
                ..
            } => {
                for name in names {
                    let found = self.drop_object(*kind, name, *cascade);
                    if !found && !if_exists {
                        warn(format!("cannot drop `{name}`: unknown to the model"));
                    }
                }
            }
            Change::RenameIndex {
                from,
                to,
                if_exists,
            } => match self.indexes.get(from).cloned() {
                Some(idx) => {
                    let to = QualName::new(from.schema.clone(), to.clone());
                    self.rename_index(from, &to);
                    // The constraint an index backs is renamed with it.
                    if let Some(t) = self.table_mut(&idx.table) {
                        if let Some(c) = t.constraints.iter_mut().find(|c| {
                            c.name == from.name
                                && matches!(
                                    c.kind,
                                    ConstraintKind::PrimaryKey { .. }
                                        | ConstraintKind::Unique { .. }
                                        | ConstraintKind::Exclude
                                )
                        }) {
                            c.name = to.name.clone();
                        }
                    }
                }
                None if *if_exists => {}
                None => warn(format!("index `{from}` is unknown to the model")),
            },
            Change::AttachIndex { parent, child } => {
                match self.indexes.get_mut(child) {
                    Some(idx) => Arc::make_mut(idx).parent = Some(parent.clone()),
                    None => warn(format!("index `{child}` is unknown to the model")),
                }
                self.revalidate_partitioned_index(parent);
            }
            Change::CreateEnum { name, labels } => {
                self.enums.insert(name.clone(), labels.clone());
            }
            Change::AddEnumValue {
                name,
                label,
                if_not_exists,
                position,
            } => match self.enums.get_mut(name) {
                Some(labels) => {
                    if !labels.contains(label) {
                        let at = match position {
                            Some(LabelPosition::Before(l)) => labels.iter().position(|x| x == l),
                            Some(LabelPosition::After(l)) => {
                                labels.iter().position(|x| x == l).map(|i| i + 1)
                            }
                            None => None,
                        };
                        labels.insert(at.unwrap_or(labels.len()), label.clone());
                    } else if !if_not_exists {
                        warn(format!("enum `{name}` already has the label '{label}'"));
                    }
                }
                None => warn(format!("enum `{name}` is unknown to the model")),
            },
            Change::RenameEnumValue { name, from, to } => match self.enums.get_mut(name) {
                Some(labels) => match labels.iter_mut().find(|l| *l == from) {
                    Some(l) => *l = to.clone(),
                    None => warn(format!("enum `{name}` has no label '{from}'")),
                },
                None => warn(format!("enum `{name}` is unknown to the model")),
            },
            Change::RenameType { from, to } => {
                let to_name = QualName::new(from.schema.clone(), to.clone());
                if let Some(labels) = self.enums.remove(from) {
                    self.enums.insert(to_name.clone(), labels);
                    for table in self.tables.values_mut() {
                        if table.columns.iter().any(|c| c.ty.name == from.name) {
                            for col in &mut Arc::make_mut(table).columns {
                                if col.ty.name == from.name {
                                    col.ty.name = to.clone();
                                }
                            }
                        }
                    }
                } else if self.types.remove(from) {
                    self.types.insert(to_name);
                } else {
                    warn(format!("type `{from}` is unknown to the model"));
                }
            }
            Change::CreateType { name } => {
                self.types.insert(name.clone());
            }
            Change::CreateDomain {
                name,
                base,
                has_constraints,
            } => {
                self.domains.insert(
                    name.clone(),
                    Arc::new(Domain {
                        name: name.clone(),
                        base: base.clone(),
                        has_constraints: *has_constraints,
                    }),
                );
            }
            Change::AlterDomainAddConstraint { name, .. } => match self.domains.get_mut(name) {
                Some(d) => Arc::make_mut(d).has_constraints = true,
                None => warn(format!("domain `{name}` is unknown to the model")),
            },
            Change::AlterDomainValidateConstraint { name } => {
                if !self.domains.contains_key(name) {
                    warn(format!("domain `{name}` is unknown to the model"));
                }
            }
            Change::CreateSequence { name } => {
                self.sequences.insert(name.clone());
            }
            Change::AlterSequence { .. } => {}
            Change::CreateView {
                name,
                materialized,
                reads,
                query,
                shape,
                ..
            } => {
                self.views.insert(
                    name.clone(),
                    Arc::new(View {
                        name: name.clone(),
                        materialized: *materialized,
                        reads: reads.clone(),
                        query: query.clone(),
                        shape: shape.clone(),
                    }),
                );
            }
            Change::RefreshMaterializedView { name, .. } => {
                if !self.views.get(name).is_some_and(|v| v.materialized) {
                    warn(format!(
                        "materialized view `{name}` is unknown to the model"
                    ));
                }
            }
            Change::CreateFunction {
                name,
                volatility,
                body,
                ..
            } => {
                self.functions.insert(
                    name.clone(),
                    Arc::new(Function {
                        name: name.clone(),
                        volatility: volatility.unwrap_or(Volatility::Volatile),
                        body: body.clone(),
                    }),
                );
            }
            Change::CreateTrigger { name, table, .. } => {
                if !self.tables.contains_key(table) {
                    warn(format!("table `{table}` is unknown to the model"));
                }
                self.triggers
                    .retain(|t| !(t.name == *name && t.table == *table));
                self.triggers.push(crate::model::Trigger {
                    name: name.clone(),
                    table: table.clone(),
                });
            }
            Change::Truncate { tables } | Change::LockTable { tables } => {
                for t in tables {
                    if !self.tables.contains_key(t) {
                        warn(format!("table `{t}` is unknown to the model"));
                    }
                }
            }
            Change::Update { table, .. }
            | Change::Delete { table, .. }
            | Change::Insert { table, .. } => {
                if !self.tables.contains_key(table) && !self.views.contains_key(table) {
                    warn(format!("table `{table}` is unknown to the model"));
                }
            }
            Change::RewriteTable {
                table: Some(table), ..
            } => {
                self.instant_row_versions.remove(table);
            }
            Change::CreateRule { .. }
            | Change::RewriteIndex { .. }
            | Change::Reindex { .. }
            | Change::RewriteTable { table: None, .. }
            | Change::Begin
            | Change::Commit
            | Change::Rollback
            | Change::SetVariable { .. }
            | Change::ProceduralBlock
            | Change::ProceduralOutsideBlock { .. }
            | Change::NoSchemaEffect { .. }
            | Change::Opaque { .. } => {}
        }
        if self.naming() == Naming::InnoDb {
            self.forget_dropped_implicit_indexes();
        }
        warnings
    }
}
