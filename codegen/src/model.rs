//! The schema model: what the database looks like after each statement, replayed from the
//! migration files. Rules and code generation read it; nothing here knows sqlparser.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::change::{
    AlterOp, Change, ColumnSpec, ConstraintKind, ConstraintSpec, CreateIndex, ExprInfo, Generated,
    ObjectKind, QualName, Volatility,
};
use crate::types::SqlType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
    pub default: Option<ExprInfo>,
    /// Values come from an identity, `serial` or `AUTO_INCREMENT`: inserts may omit it.
    pub identity: bool,
    pub generated: Option<Generated>,
    pub collation: Option<String>,
}

impl Column {
    /// An insert must name this column: `NOT NULL` with nothing that fills it.
    pub fn insert_requires(&self) -> bool {
        !self.nullable && self.default.is_none() && !self.identity && self.generated.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    pub name: String,
    pub kind: ConstraintKind,
    /// False while `NOT VALID`.
    pub validated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: QualName,
    pub table: QualName,
    pub unique: bool,
    pub columns: Vec<String>,
    pub expressions: Vec<ExprInfo>,
    pub predicate: Option<ExprInfo>,
    /// False for `ON ONLY` parents until every partition's index is attached.
    pub valid: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: QualName,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub partitioned: bool,
    pub partition_of: Option<QualName>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    pub fn constraint(&self, name: &str) -> Option<&Constraint> {
        self.constraints.iter().find(|c| c.name == name)
    }

    /// The column holds no NULL: `NOT NULL`, or a validated `CHECK (col IS NOT NULL)`.
    pub fn proves_not_null(&self, column: &str) -> bool {
        self.column(column).is_some_and(|c| !c.nullable)
            || self.constraints.iter().any(|c| {
                c.validated
                    && matches!(&c.kind, ConstraintKind::Check { not_null_of: Some(col), .. } if col == column)
            })
    }

    pub fn primary_key(&self) -> Option<&[String]> {
        self.constraints.iter().find_map(|c| match &c.kind {
            ConstraintKind::PrimaryKey { columns, .. } => Some(columns.as_slice()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub name: QualName,
    pub materialized: bool,
    pub reads: Vec<QualName>,
    pub query: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: QualName,
    pub volatility: Volatility,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: QualName,
    pub base: SqlType,
    pub has_constraints: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub name: String,
    pub table: QualName,
}

/// The whole schema at one version. Tables and indexes are shared between versions
/// (`Arc`, copied on write), so keeping every version of hundreds of migrations stays cheap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    pub tables: BTreeMap<QualName, Arc<Table>>,
    pub indexes: BTreeMap<QualName, Arc<Index>>,
    pub enums: BTreeMap<QualName, Vec<String>>,
    pub domains: BTreeMap<QualName, Arc<Domain>>,
    pub types: BTreeSet<QualName>,
    pub sequences: BTreeSet<QualName>,
    pub views: BTreeMap<QualName, Arc<View>>,
    pub functions: BTreeMap<QualName, Arc<Function>>,
    pub triggers: Vec<Trigger>,
}

/// Something the model could not follow; the checker reports it as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelWarning(pub String);

fn column_from_spec(spec: &ColumnSpec) -> Column {
    let primary = spec
        .constraints
        .iter()
        .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }));
    Column {
        name: spec.name.clone(),
        ty: spec.ty.clone(),
        nullable: !(spec.not_null || primary || spec.serial || spec.identity),
        default: spec.default.clone().filter(|d| !d.is_null),
        identity: spec.identity || spec.serial,
        generated: spec.generated.clone(),
        collation: spec.collation.clone(),
    }
}

/// PostgreSQL's names for unnamed constraints (`users_pkey`, `users_email_key`, …), which
/// MySQL's model uses as well: a later `DROP CONSTRAINT` by the generated name then resolves.
pub(crate) fn default_constraint_name(table: &str, kind: &ConstraintKind) -> String {
    match kind {
        ConstraintKind::PrimaryKey { .. } => format!("{table}_pkey"),
        ConstraintKind::Unique { columns, .. } => format!("{table}_{}_key", columns.join("_")),
        ConstraintKind::ForeignKey { columns, .. } => {
            format!("{table}_{}_fkey", columns.join("_"))
        }
        ConstraintKind::Check { expr, .. } => {
            let mut cols: Vec<&String> = expr.columns.iter().collect();
            cols.dedup();
            match cols.as_slice() {
                [one] => format!("{table}_{one}_check"),
                _ => format!("{table}_check"),
            }
        }
        ConstraintKind::Exclude => format!("{table}_excl"),
        ConstraintKind::NotNull { column } => format!("{table}_{column}_not_null"),
    }
}

fn default_index_name(table: &str, columns: &[String], has_expr: bool) -> String {
    if columns.is_empty() || has_expr {
        format!("{table}_expr_idx")
    } else {
        format!("{table}_{}_idx", columns.join("_"))
    }
}

impl Schema {
    fn table_mut(&mut self, name: &QualName) -> Option<&mut Table> {
        self.tables.get_mut(name).map(Arc::make_mut)
    }

    pub fn table(&self, name: &QualName) -> Option<&Table> {
        self.tables.get(name).map(|t| &**t)
    }

    /// Whether a relation of that name exists as a table or view.
    pub fn has_relation(&self, name: &QualName) -> bool {
        self.tables.contains_key(name) || self.views.contains_key(name)
    }

    pub fn indexes_of<'a>(&'a self, table: &'a QualName) -> impl Iterator<Item = &'a Index> + 'a {
        self.indexes
            .values()
            .filter(move |i| &i.table == table)
            .map(|i| &**i)
    }

    /// Volatility of a function the model knows (created by a migration).
    pub fn function_volatility(&self, name: &str) -> Option<Volatility> {
        self.functions
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, f)| f.volatility)
    }

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
                    columns: ct.columns.iter().map(column_from_spec).collect(),
                    constraints: Vec::new(),
                    partitioned: ct.partitioned,
                    partition_of: ct.partition_of.clone(),
                };
                if let Some(like) = &ct.like {
                    match self.tables.get(like) {
                        Some(src) => table.columns.extend(src.columns.iter().cloned()),
                        None => warn(format!("`LIKE {like}`: table unknown to the model")),
                    }
                }
                if let Some(parent) = &ct.partition_of {
                    match self.tables.get(parent) {
                        Some(p) => table.columns = p.columns.clone(),
                        None => warn(format!(
                            "`PARTITION OF {parent}`: table unknown to the model"
                        )),
                    }
                }
                let name = ct.name.clone();
                self.tables.insert(name.clone(), Arc::new(table));
                for col in &ct.columns {
                    for c in &col.constraints {
                        self.add_constraint(&name, c, &mut warn);
                    }
                }
                for c in &ct.constraints {
                    self.add_constraint(&name, c, &mut warn);
                }
            }
            Change::AlterTable {
                table,
                if_exists,
                ops,
                ..
            } => {
                if !self.tables.contains_key(table) {
                    if !if_exists {
                        warn(format!("table `{table}` is unknown to the model"));
                    }
                    return warnings;
                }
                let mut current = table.clone();
                for op in ops {
                    current = self.apply_alter(&current, op, &mut warn);
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
            Change::RenameIndex { from, to } => match self.indexes.remove(from) {
                Some(mut idx) => {
                    Arc::make_mut(&mut idx).name = QualName::new(from.schema.clone(), to.clone());
                    self.indexes.insert(idx.name.clone(), idx);
                }
                None => warn(format!("index `{from}` is unknown to the model")),
            },
            Change::AttachIndex { parent, .. } => {
                // A parent index becomes valid once every partition's index is attached;
                // the model does not count partitions, so the last attach is trusted.
                if let Some(idx) = self.indexes.get_mut(parent) {
                    Arc::make_mut(idx).valid = true;
                }
            }
            Change::CreateEnum { name, labels } => {
                self.enums.insert(name.clone(), labels.clone());
            }
            Change::AddEnumValue {
                name,
                label,
                if_not_exists,
            } => match self.enums.get_mut(name) {
                Some(labels) => {
                    if !labels.contains(label) {
                        labels.push(label.clone());
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
            Change::CreateSequence { name } => {
                self.sequences.insert(name.clone());
            }
            Change::AlterSequence { .. } => {}
            Change::CreateView {
                name,
                materialized,
                reads,
                query,
                ..
            } => {
                self.views.insert(
                    name.clone(),
                    Arc::new(View {
                        name: name.clone(),
                        materialized: *materialized,
                        reads: reads.clone(),
                        query: query.clone(),
                    }),
                );
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
            Change::CreateRule { .. }
            | Change::RefreshMaterializedView { .. }
            | Change::RewriteIndex { .. }
            | Change::Reindex { .. }
            | Change::RewriteTable { .. }
            | Change::Begin
            | Change::Commit
            | Change::Rollback
            | Change::SetVariable { .. }
            | Change::ProceduralBlock
            | Change::NoSchemaEffect { .. }
            | Change::Opaque { .. } => {}
        }
        warnings
    }

    fn add_constraint(
        &mut self,
        table_name: &QualName,
        spec: &ConstraintSpec,
        warn: &mut impl FnMut(String),
    ) {
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| default_constraint_name(&table_name.name, &spec.kind));
        if table.constraint(&name).is_some() {
            warn(format!(
                "table `{table_name}` already has a constraint `{name}`"
            ));
            return;
        }
        match &spec.kind {
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
            kind: spec.kind.clone(),
            validated: !spec.not_valid,
        });
        // Primary keys and unique constraints are backed by an index of the same name.
        if let ConstraintKind::PrimaryKey {
            columns,
            using_index,
        }
        | ConstraintKind::Unique {
            columns,
            using_index,
        } = &spec.kind
        {
            let index_name = QualName::new(table_name.schema.clone(), name.clone());
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
                if matches!(spec.kind, ConstraintKind::PrimaryKey { .. }) {
                    if let Some(t) = self.table_mut(table_name) {
                        for col in &columns {
                            if let Some(c) = t.column_mut(col) {
                                c.nullable = false;
                            }
                        }
                    }
                }
            }
            self.indexes.insert(
                index_name.clone(),
                Arc::new(Index {
                    name: index_name,
                    table: table_name.clone(),
                    unique: true,
                    columns,
                    expressions: Vec::new(),
                    predicate: None,
                    valid: true,
                }),
            );
        }
    }

    fn create_index(&mut self, ci: &CreateIndex, warn: &mut impl FnMut(String)) {
        let Some(table) = self.tables.get(&ci.table) else {
            warn(format!("table `{}` is unknown to the model", ci.table));
            return;
        };
        let name = ci.name.clone().unwrap_or_else(|| {
            default_index_name(&ci.table.name, &ci.columns, !ci.expressions.is_empty())
        });
        let qual = QualName::new(ci.table.schema.clone(), name);
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
        self.indexes.insert(
            qual.clone(),
            Arc::new(Index {
                name: qual,
                table: ci.table.clone(),
                unique: ci.unique,
                columns: ci.columns.clone(),
                expressions: ci.expressions.clone(),
                predicate: ci.predicate.clone(),
                valid: !(ci.only && table.partitioned),
            }),
        );
    }

    fn drop_object(&mut self, kind: ObjectKind, name: &QualName, cascade: bool) -> bool {
        match kind {
            ObjectKind::Table => {
                let found = self.tables.remove(name).is_some();
                if found {
                    self.indexes.retain(|_, i| &i.table != name);
                    self.triggers.retain(|t| &t.table != name);
                    if cascade {
                        self.views.retain(|_, v| !v.reads.contains(name));
                    }
                }
                found
            }
            ObjectKind::View | ObjectKind::MaterializedView => self.views.remove(name).is_some(),
            ObjectKind::Index => {
                let Some(idx) = self.indexes.remove(name) else {
                    return false;
                };
                // Dropping the index of a constraint drops the constraint with it (CASCADE).
                let table = idx.table.clone();
                if let Some(t) = self.table_mut(&table) {
                    t.constraints.retain(|c| c.name != name.name);
                }
                true
            }
            ObjectKind::Sequence => self.sequences.remove(name),
            ObjectKind::Type | ObjectKind::Domain => {
                self.enums.remove(name).is_some()
                    | self.domains.remove(name).is_some()
                    | self.types.remove(name)
            }
            ObjectKind::Function => self.functions.remove(name).is_some(),
            ObjectKind::Schema | ObjectKind::Other => true,
        }
    }

    /// Applies one ALTER TABLE action; returns the table's name afterwards (renames).
    fn apply_alter(
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
                    for t in &mut self.triggers {
                        if &t.table == table_name {
                            t.table = to.clone();
                        }
                    }
                    self.tables.insert(to.clone(), Arc::new(table));
                    return to;
                }
                return table_name.clone();
            }
            _ => {}
        }
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
                    // Constraints and indexes over the column go with it.
                    table
                        .constraints
                        .retain(|c| !c.kind.columns().contains(name));
                    self.indexes.retain(|_, i| {
                        !(&i.table == table_name
                            && (i.columns.contains(name)
                                || i.expressions.iter().any(|e| e.columns.contains(name))))
                    });
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
                        if &idx.table == table_name && idx.columns.contains(from) {
                            rename(&mut Arc::make_mut(idx).columns);
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
            AlterOp::SetDefault { column, default } => match table.column_mut(column) {
                Some(c) => c.default = (!default.is_null).then(|| default.clone()),
                None => warn(unknown_column(column)),
            },
            AlterOp::DropDefault { column } => match table.column_mut(column) {
                Some(c) => c.default = None,
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
                    }) = dropped
                    {
                        if let Some(c) = table.column_mut(&column) {
                            c.nullable = true;
                        }
                    }
                    self.indexes
                        .remove(&QualName::new(table_name.schema.clone(), name.clone()));
                }
            }
            AlterOp::RenameConstraint { from, to } => {
                match table.constraints.iter_mut().find(|c| &c.name == from) {
                    Some(c) => c.name = to.clone(),
                    None => warn(format!("table `{table_name}` has no constraint `{from}`")),
                }
                let old = QualName::new(table_name.schema.clone(), from.clone());
                if let Some(mut idx) = self.indexes.remove(&old) {
                    Arc::make_mut(&mut idx).name =
                        QualName::new(table_name.schema.clone(), to.clone());
                    self.indexes.insert(idx.name.clone(), idx);
                }
            }
            AlterOp::AttachPartition { partition, .. } => {
                if let Some(p) = self.table_mut(partition) {
                    p.partition_of = Some(table_name.clone());
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
                    p.partition_of = None;
                }
            }
            AlterOp::ModifyColumn { old_name, column } => {
                match table.columns.iter_mut().find(|c| &c.name == old_name) {
                    Some(c) => *c = column_from_spec(column),
                    None => warn(unknown_column(old_name)),
                }
            }
            AlterOp::DropPrimaryKey => {
                let before = table.constraints.len();
                table
                    .constraints
                    .retain(|c| !matches!(c.kind, ConstraintKind::PrimaryKey { .. }));
                if table.constraints.len() == before {
                    warn(format!("table `{table_name}` has no primary key"));
                }
            }
            AlterOp::DropIndexOrKey { name } => {
                table.constraints.retain(|c| &c.name != name);
                self.indexes
                    .remove(&QualName::new(table_name.schema.clone(), name.clone()));
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
                };
                self.create_index(&ci, warn);
            }
            AlterOp::AddConstraint(_) | AlterOp::AddColumn { .. } | AlterOp::RenameTable { .. } => {
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
