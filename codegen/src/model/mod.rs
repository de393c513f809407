//! The schema model: what the database looks like after each statement, replayed from the
//! migration files. Rules and code generation read it; nothing here knows sqlparser.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::change::{
    AlterOp, Change, ColumnSpec, ConstraintKind, ConstraintSpec, CreateIndex, ExprInfo, Generated,
    LabelPosition, ObjectKind, QualName, Volatility,
};
use crate::types::SqlType;

mod derived;
pub use derived::UNKNOWN_TYPE;

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
    /// MySQL `CHARACTER SET` stated on the column.
    pub charset: Option<String>,
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
    /// Each element's name in PostgreSQL's generated index names (see
    /// [`CreateIndex::element_names`]); partitions' copies of the index are named from it.
    pub element_names: Vec<String>,
    /// The partitioned table's index this partition index is attached to.
    pub parent: Option<QualName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: QualName,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub partitioned: bool,
    pub partition_of: Option<QualName>,
    /// MySQL: the table's default character set, where stated.
    pub charset: Option<String>,
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
    /// Which columns the query reads (see [`crate::change::QueryShape`]); `None` when it
    /// could not be analysed.
    pub shape: Option<crate::change::QueryShape>,
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
    /// MySQL 8.0.29+: INSTANT `ADD`/`DROP COLUMN`s per table since its last rebuild (each
    /// makes a row version; the server allows 64).
    pub instant_row_versions: BTreeMap<QualName, u32>,
    /// MySQL/MariaDB naming: index names live in their table (key `table.index` in
    /// `indexes`), the primary key is `PRIMARY`, an unnamed index takes its first column's
    /// name, an unnamed foreign key `<table>_ibfk_<n>` and an index of its own when none
    /// covers its columns; dropping a column takes it out of its indexes.
    pub mysql: bool,
    /// MySQL: the keys of indexes InnoDB made for a foreign key (dropped when another index
    /// can serve it).
    pub mysql_implicit_indexes: BTreeSet<QualName>,
}

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
        charset: spec.charset.clone(),
    }
}

/// The longest name PostgreSQL keeps: `NAMEDATALEN - 1` bytes.
const MAX_NAME_BYTES: usize = 63;

/// The longest prefix of `s` within `max` bytes that ends on a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// PostgreSQL's `makeObjectName`: `name1[_name2]_label` within 63 bytes, shortening the longer
/// of the two names first (`a_long_table_na_a_long_column_key`).
fn make_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead = usize::from(name2.is_some()) + label.len() + 1;
    let available = MAX_NAME_BYTES.saturating_sub(overhead);
    let mut len1 = name1.len();
    let mut len2 = name2.map_or(0, str::len);
    while len1 + len2 > available {
        if len1 > len2 {
            len1 -= 1;
        } else {
            len2 -= 1;
        }
    }
    let mut out = clip(name1, len1).to_string();
    if let Some(name2) = name2 {
        out.push('_');
        out.push_str(clip(name2, len2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// PostgreSQL's `ChooseIndexNameAddition`: the column part of a generated name.
fn name_addition(names: &[String]) -> String {
    let mut out = String::new();
    for name in names {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(clip(name, MAX_NAME_BYTES));
        if out.len() > MAX_NAME_BYTES {
            break;
        }
    }
    out
}

/// PostgreSQL's `ChooseIndexColumnNames`: a repeated element name gets a digit (`lower`,
/// `lower1`).
fn index_column_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let mut candidate = clip(name, MAX_NAME_BYTES).to_string();
        let mut suffix = 0;
        while out.contains(&candidate) {
            suffix += 1;
            let digits = suffix.to_string();
            candidate = format!(
                "{}{digits}",
                clip(name, MAX_NAME_BYTES.saturating_sub(digits.len()))
            );
        }
        out.push(candidate);
    }
    out
}

/// What PostgreSQL names an unnamed constraint before it avoids names already taken
/// (`users_pkey`, `users_email_key`, `users_age_check`, `orders_user_id_fkey`), which MySQL's
/// model uses as well: a later `DROP CONSTRAINT` by the generated name then resolves.
pub(crate) fn default_constraint_name(table: &str, kind: &ConstraintKind) -> String {
    let (name2, label) = constraint_name_parts(kind);
    make_object_name(table, name2.as_deref(), label)
}

/// The column part and label of a generated constraint name.
fn constraint_name_parts(kind: &ConstraintKind) -> (Option<String>, &'static str) {
    match kind {
        ConstraintKind::PrimaryKey { .. } => (None, "pkey"),
        ConstraintKind::Unique { columns, .. } => (Some(name_addition(columns)), "key"),
        ConstraintKind::ForeignKey { columns, .. } => (Some(name_addition(columns)), "fkey"),
        ConstraintKind::Check { expr, .. } => {
            // `tab_col_check` when the expression reads exactly one column, else `tab_check`.
            let mut cols = expr.columns.clone();
            cols.sort();
            cols.dedup();
            match cols.as_slice() {
                [one] => (Some(one.clone()), "check"),
                _ => (None, "check"),
            }
        }
        ConstraintKind::Exclude => (None, "excl"),
        ConstraintKind::NotNull { column } => (Some(column.clone()), "not_null"),
    }
}

impl Schema {
    fn table_mut(&mut self, name: &QualName) -> Option<&mut Table> {
        self.tables.get_mut(name).map(Arc::make_mut)
    }

    pub fn table(&self, name: &QualName) -> Option<&Table> {
        self.tables.get(name).map(|t| &**t)
    }

    /// The key of an index in [`Schema::indexes`]: PostgreSQL's index names live in the
    /// schema, MySQL's in their table.
    pub fn index_key(&self, table: &QualName, name: &str) -> QualName {
        if self.mysql {
            QualName::new(table.schema.clone(), format!("{}.{name}", table.name))
        } else {
            QualName::new(table.schema.clone(), name)
        }
    }

    /// MySQL's name for an unnamed index: its first column, then `_2`, `_3`… while the table
    /// has an index of that name.
    fn mysql_index_name(&self, table: &QualName, first: &str) -> String {
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
    fn mysql_fk_name(&self, table: &QualName) -> String {
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
    fn mysql_fk_index(&mut self, table: &QualName, columns: &[String], name: Option<&str>) {
        let covered = self
            .indexes_of(table)
            .any(|i| i.columns.starts_with(columns));
        if covered || columns.is_empty() {
            return;
        }
        let index_name = match name {
            Some(n) => n.to_string(),
            None => self.mysql_index_name(table, &columns[0]),
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
    fn mysql_replace_implicit(&mut self, table: &QualName, columns: &[String], new_key: &QualName) {
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

    /// The partitions of a partitioned table.
    pub fn partitions_of(&self, parent: &QualName) -> Vec<QualName> {
        self.tables
            .values()
            .filter(|t| t.partition_of.as_ref() == Some(parent))
            .map(|t| t.name.clone())
            .collect()
    }

    /// Whether `ancestor` is `table` or a table it is (transitively) a partition of.
    fn is_partition_ancestor(&self, ancestor: &QualName, table: &QualName) -> bool {
        let mut current = Some(table.clone());
        // Bounded, so that no model state can make it loop.
        for _ in 0..=self.tables.len() {
            match current {
                Some(t) if &t == ancestor => return true,
                Some(t) => current = self.tables.get(&t).and_then(|t| t.partition_of.clone()),
                None => return false,
            }
        }
        false
    }

    fn relation_name_taken(&self, name: &QualName) -> bool {
        self.tables.contains_key(name)
            || self.indexes.contains_key(name)
            || self.views.contains_key(name)
            || self.sequences.contains(name)
    }

    fn constraint_name_taken(&self, schema: &str, name: &str) -> bool {
        self.tables
            .values()
            .filter(|t| t.name.schema == schema)
            .any(|t| t.constraint(name).is_some())
    }

    /// PostgreSQL's `ChooseRelationName` / `ChooseConstraintName`: the generated name, with
    /// 1, 2, … after the label while a relation (`relation`) or a constraint (`constraint`)
    /// of the schema has it (`orders_user_id_idx1`).
    fn choose_name(
        &self,
        schema: &str,
        name1: &str,
        name2: Option<&str>,
        label: &str,
        relation: bool,
        constraint: bool,
    ) -> String {
        let mut pass = 0usize;
        loop {
            let label = if pass == 0 {
                label.to_string()
            } else {
                format!("{label}{pass}")
            };
            let name = make_object_name(name1, name2, &label);
            let taken = (relation && self.relation_name_taken(&QualName::new(schema, &name)))
                || (constraint && self.constraint_name_taken(schema, &name));
            if !taken {
                return name;
            }
            pass += 1;
        }
    }

    /// The name PostgreSQL gives an unnamed constraint on `table`: an index-backed one must not
    /// clash with a relation either.
    fn generated_constraint_name(&self, table: &QualName, kind: &ConstraintKind) -> String {
        let (name2, label) = constraint_name_parts(kind);
        let index_backed = matches!(
            kind,
            ConstraintKind::PrimaryKey { .. }
                | ConstraintKind::Unique { .. }
                | ConstraintKind::Exclude
        );
        self.choose_name(
            &table.schema,
            &table.name,
            name2.as_deref(),
            label,
            index_backed,
            true,
        )
    }

    /// The name PostgreSQL gives an unnamed index on `table`.
    fn generated_index_name(&self, table: &QualName, element_names: &[String]) -> String {
        let names = index_column_names(element_names);
        let addition = name_addition(&names);
        self.choose_name(
            &table.schema,
            &table.name,
            (!addition.is_empty()).then_some(addition.as_str()),
            "idx",
            true,
            false,
        )
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
                if self.mysql {
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
                            self.mysql_fk_index(&name, columns, c.name.as_deref());
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
                let versions = match instant_column_changes(ops).filter(|_| self.mysql) {
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
        if self.mysql {
            let indexes = &self.indexes;
            self.mysql_implicit_indexes
                .retain(|k| indexes.contains_key(k));
        }
        warnings
    }

    fn add_constraint(
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
        let name = match (&spec.name, &using, &spec.kind) {
            _ if self.mysql && matches!(spec.kind, ConstraintKind::PrimaryKey { .. }) => {
                "PRIMARY".to_string()
            }
            (Some(name), _, _) => name.clone(),
            (None, Some(index), _) => index.clone(),
            (None, None, ConstraintKind::Unique { columns, .. }) if self.mysql => {
                self.mysql_index_name(table_name, columns.first().map_or("", String::as_str))
            }
            (None, None, ConstraintKind::ForeignKey { .. }) if self.mysql => {
                self.mysql_fk_name(table_name)
            }
            (None, None, _) => self.generated_constraint_name(table_name, &spec.kind),
        };
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
            if self.mysql {
                self.mysql_replace_implicit(table_name, &index.columns, &index_name);
            }
            if partitioned {
                let parent = self.tables.get(table_name).cloned();
                for part in self.partitions_of(table_name) {
                    if let Some(parent) = &parent {
                        self.clone_index_into(&index, &part, parent);
                    }
                }
            }
        } else if let (true, ConstraintKind::ForeignKey { columns, .. }) = (self.mysql, &kind) {
            self.mysql_fk_index(table_name, columns, None);
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

    /// A CHECK or foreign key of a partitioned table, on a partition and its own partitions;
    /// an equivalent one the partition already has stands for it.
    fn clone_constraint_into(&mut self, constraint: &Constraint, part: &QualName) {
        let Some(table) = self.table_mut(part) else {
            return;
        };
        let equivalent = table.constraints.iter().any(|c| {
            c.name == constraint.name
                || (matches!(c.kind, ConstraintKind::ForeignKey { .. })
                    && c.kind == constraint.kind)
        });
        if !equivalent {
            table.constraints.push(constraint.clone());
        }
        if table.partitioned {
            for sub in self.partitions_of(part) {
                self.clone_constraint_into(constraint, &sub);
            }
        }
    }

    /// What a new or attached partition takes from its parent: the CHECK constraints and
    /// foreign keys, and a copy of every index (those of primary keys and unique constraints
    /// with their constraint), or the partition's equivalent index attached instead.
    fn clone_parent_into(&mut self, parent: &QualName, part: &QualName) {
        let Some(parent_table) = self.tables.get(parent).cloned() else {
            return;
        };
        for c in &parent_table.constraints {
            if matches!(
                c.kind,
                ConstraintKind::Check { .. } | ConstraintKind::ForeignKey { .. }
            ) {
                self.clone_constraint_into(c, part);
            }
        }
        let indexes: Vec<Arc<Index>> = self
            .indexes
            .values()
            .filter(|i| &i.table == parent)
            .cloned()
            .collect();
        for index in indexes {
            self.clone_index_into(&index, part, &parent_table);
        }
    }

    /// The partition's copy of a partitioned table's index: an equivalent unattached index of
    /// the partition is attached, else one is created under a name PostgreSQL generates.
    fn clone_index_into(&mut self, index: &Index, part: &QualName, parent_table: &Table) {
        let constraint = parent_table
            .constraints
            .iter()
            .find(|c| {
                c.name == index.name.name
                    && matches!(
                        c.kind,
                        ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
                    )
            })
            .cloned();
        let existing = self
            .indexes
            .values()
            .find(|i| {
                &i.table == part
                    && i.parent.is_none()
                    && i.unique == index.unique
                    && i.columns == index.columns
                    && i.expressions
                        .iter()
                        .map(|e| &e.text)
                        .eq(index.expressions.iter().map(|e| &e.text))
                    && i.predicate.as_ref().map(|p| &p.text)
                        == index.predicate.as_ref().map(|p| &p.text)
            })
            .map(|i| i.name.clone());
        let child = match existing {
            Some(name) => {
                if let Some(i) = self.indexes.get_mut(&name) {
                    Arc::make_mut(i).parent = Some(index.name.clone());
                }
                name
            }
            None => {
                let name = match &constraint {
                    Some(c) => self.generated_constraint_name(part, &c.kind),
                    None => self.generated_index_name(part, &index.element_names),
                };
                let name = QualName::new(part.schema.clone(), name);
                let copy = Index {
                    name: name.clone(),
                    table: part.clone(),
                    valid: true,
                    parent: Some(index.name.clone()),
                    ..index.clone()
                };
                self.indexes.insert(name.clone(), Arc::new(copy));
                name
            }
        };
        if let Some(c) = constraint {
            if let Some(t) = self.table_mut(part) {
                let has = t.constraints.iter().any(|x| x.kind == c.kind);
                if !has {
                    t.constraints.push(Constraint {
                        name: child.name.clone(),
                        ..c
                    });
                }
            }
        }
        // A partition that is partitioned itself passes the index on.
        let sub_parent = self.tables.get(part).cloned();
        if let (Some(sub_parent), Some(child_index)) =
            (sub_parent, self.indexes.get(&child).cloned())
        {
            if sub_parent.partitioned {
                for sub in self.partitions_of(part) {
                    self.clone_index_into(&child_index, &sub, &sub_parent);
                }
            }
        }
    }

    /// A partitioned table's index is valid once every partition has an index attached to it.
    fn revalidate_partitioned_index(&mut self, name: &QualName) {
        let Some(index) = self.indexes.get(name) else {
            return;
        };
        let table = index.table.clone();
        let valid = self.partitions_of(&table).iter().all(|part| {
            self.indexes
                .values()
                .any(|i| &i.table == part && i.parent.as_ref() == Some(name) && i.valid)
        });
        if let Some(i) = self.indexes.get_mut(name) {
            Arc::make_mut(i).valid = valid;
        }
    }

    /// Renames an index, keeping the links of partitions' indexes attached to it.
    fn rename_index(&mut self, from: &QualName, to: &QualName) {
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

    fn create_index(&mut self, ci: &CreateIndex, warn: &mut impl FnMut(String)) {
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
            None if self.mysql => {
                self.mysql_index_name(&ci.table, ci.columns.first().map_or("", String::as_str))
            }
            None => self.generated_index_name(&ci.table, &element_names),
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
        if self.mysql {
            self.mysql_replace_implicit(&ci.table, &ci.columns, &qual);
            // A MySQL unique index is a UNIQUE constraint of the same name.
            if ci.unique {
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
        }
        if !ci.only {
            for part in partitions {
                self.clone_index_into(&index, &part, &table);
            }
        }
    }

    fn drop_object(&mut self, kind: ObjectKind, name: &QualName, cascade: bool) -> bool {
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

    /// What an ALTER TABLE action on a partitioned table does to each partition, where
    /// PostgreSQL passes it on: column changes, and CHECK constraints and foreign keys by name
    /// (constraints added to the parent reach the partitions in `add_constraint`).
    fn partition_op(&self, table: &QualName, op: &AlterOp) -> Option<AlterOp> {
        let by_name = |name: &str| {
            self.table(table)
                .and_then(|t| t.constraint(name))
                .is_some_and(|c| {
                    matches!(
                        c.kind,
                        ConstraintKind::Check { .. } | ConstraintKind::ForeignKey { .. }
                    )
                })
        };
        match op {
            AlterOp::AddColumn {
                column,
                if_not_exists,
            } => {
                let primary = column
                    .constraints
                    .iter()
                    .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }));
                Some(AlterOp::AddColumn {
                    column: ColumnSpec {
                        not_null: column.not_null || primary,
                        constraints: Vec::new(),
                        ..column.clone()
                    },
                    if_not_exists: *if_not_exists,
                })
            }
            AlterOp::DropColumn { .. }
            | AlterOp::RenameColumn { .. }
            | AlterOp::AlterColumnType { .. }
            | AlterOp::SetNotNull { .. }
            | AlterOp::DropNotNull { .. }
            | AlterOp::SetDefault { .. }
            | AlterOp::DropDefault { .. } => Some(op.clone()),
            AlterOp::ValidateConstraint { name } | AlterOp::DropConstraint { name, .. }
                if by_name(name) =>
            {
                Some(op.clone())
            }
            AlterOp::RenameConstraint { from, .. }
                if self
                    .table(table)
                    .and_then(|t| t.constraint(from))
                    .is_some_and(|c| matches!(c.kind, ConstraintKind::Check { .. })) =>
            {
                Some(op.clone())
            }
            _ => None,
        }
    }

    /// Applies an action passed on from a partitioned table to a partition and its own
    /// partitions.
    fn apply_alter_tree(&mut self, table: &QualName, op: &AlterOp, warn: &mut impl FnMut(String)) {
        if self.tables.get(table).is_some_and(|t| t.partitioned) {
            for part in self.partitions_of(table) {
                self.apply_alter_tree(&part, op, warn);
            }
        }
        self.apply_alter(table, op, warn);
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
                    if self.mysql {
                        // The keys name the table.
                        let moved: Vec<QualName> = self
                            .indexes
                            .iter()
                            .filter(|(_, i)| i.table == to)
                            .map(|(k, _)| k.clone())
                            .collect();
                        for key in moved {
                            if let Some(idx) = self.indexes.remove(&key) {
                                let new_key = self.index_key(&to, &idx.name.name);
                                if self.mysql_implicit_indexes.remove(&key) {
                                    self.mysql_implicit_indexes.insert(new_key.clone());
                                }
                                self.indexes.insert(new_key, idx);
                            }
                        }
                        // InnoDB renames its generated foreign key names with the table.
                        let old_prefix = format!("{}_ibfk_", table_name.name);
                        for c in &mut table.constraints {
                            if let Some(n) = c.name.strip_prefix(&old_prefix) {
                                if matches!(c.kind, ConstraintKind::ForeignKey { .. }) {
                                    c.name = format!("{}_ibfk_{n}", to.name);
                                }
                            }
                        }
                    }
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
        let mysql = self.mysql;
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
                    if mysql {
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
                    if !self.mysql {
                        self.drop_object(
                            ObjectKind::Index,
                            &QualName::new(table_name.schema.clone(), name.clone()),
                            false,
                        );
                    } else if dropped.as_ref().is_some_and(|c| {
                        matches!(
                            c.kind,
                            ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
                        )
                    }) {
                        // A foreign key's own index stays.
                        let key = self.index_key(table_name, name);
                        self.indexes.remove(&key);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::DialectKind;
    use crate::source::SourceFile;

    /// The schema after replaying `sql` on PostgreSQL (names and shapes checked against a live
    /// server by `tests/live_model_pg.rs`).
    fn replay(sql: &str) -> Schema {
        let file = SourceFile::new("t.sql", "t.sql".into(), sql.to_string());
        let parsed = crate::sql::parse_file(&file, DialectKind::Postgres.dialect());
        let mut schema = Schema::default();
        for s in &parsed.statements {
            let warnings = schema.apply(&s.change);
            assert!(warnings.is_empty(), "{warnings:?}");
        }
        schema
    }

    /// The schema after replaying `sql` on MySQL/MariaDB (checked against MariaDB 10.11 by
    /// `tests/live_model_mysql.rs`).
    fn replay_mysql(sql: &str) -> Schema {
        let file = SourceFile::new("t.sql", "t.sql".into(), sql.to_string());
        let parsed = crate::sql::parse_file(&file, DialectKind::MariaDb.dialect());
        let mut schema = Schema {
            mysql: true,
            ..Schema::default()
        };
        for s in &parsed.statements {
            let warnings = schema.apply(&s.change);
            assert!(warnings.is_empty(), "{warnings:?}");
        }
        schema
    }

    /// `table: index(columns)` for every index, sorted.
    fn mysql_indexes(schema: &Schema) -> Vec<String> {
        let mut out: Vec<String> = schema
            .indexes
            .values()
            .map(|i| format!("{}: {}({})", i.table.name, i.name.name, i.columns.join(",")))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn mysql_names_follow_innodb() {
        let schema = replay_mysql(
            "CREATE TABLE u (id int PRIMARY KEY);
             CREATE TABLE `T` (id int NOT NULL, a int, b int, PRIMARY KEY (id), UNIQUE (a), KEY (a),
                               CONSTRAINT t_u FOREIGN KEY (b) REFERENCES u (id));
             ALTER TABLE `T` ADD FOREIGN KEY (a) REFERENCES u (id), ADD FOREIGN KEY (id) REFERENCES u (id);
             ALTER TABLE `T` ADD INDEX (b, a);
             RENAME TABLE `T` TO t2;",
        );
        assert_eq!(
            mysql_indexes(&schema),
            [
                "t2: PRIMARY(id)",
                "t2: a(a)",
                "t2: a_2(a)",
                "t2: b(b,a)",
                "u: PRIMARY(id)"
            ],
            "the index made for t_u is replaced by (b, a)"
        );
        let t = schema.table(&QualName::new("", "t2")).expect("renamed");
        let names: Vec<&str> = t.constraints.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["PRIMARY", "a", "t_u", "t2_ibfk_1", "t2_ibfk_2"]);
    }

    #[test]
    fn mysql_column_changes_reach_keys_and_indexes() {
        let schema = replay_mysql(
            "CREATE TABLE t (id int NOT NULL, a int, b int, PRIMARY KEY (id), KEY ab (a, b));
             ALTER TABLE t CHANGE a x bigint, MODIFY id int;
             ALTER TABLE t ADD COLUMN c int FIRST, DROP COLUMN b;",
        );
        assert_eq!(mysql_indexes(&schema), ["t: PRIMARY(id)", "t: ab(x)"]);
        let t = schema.table(&QualName::new("", "t")).expect("t");
        let cols: Vec<(&str, bool)> = t
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.nullable))
            .collect();
        assert_eq!(
            cols,
            [("c", true), ("id", false), ("x", true)],
            "a key column stays NOT NULL"
        );
    }

    fn index_names(schema: &Schema) -> Vec<String> {
        schema.indexes.keys().map(|k| k.name.clone()).collect()
    }

    #[test]
    fn generated_names_follow_postgres() {
        let schema = replay(
            "CREATE TABLE t (id int PRIMARY KEY, a text, b int CHECK (b > 0), CHECK (b > 0 AND a <> ''));
             CREATE INDEX ON t (a); CREATE INDEX ON t (a);
             CREATE INDEX ON t (lower(a)); CREATE INDEX ON t (b, (a || 'x'), lower(a), lower(a));",
        );
        assert_eq!(
            index_names(&schema),
            [
                "t_a_idx",
                "t_a_idx1",
                "t_b_expr_lower_lower1_idx",
                "t_lower_idx",
                "t_pkey"
            ]
        );
        let t = schema.table(&QualName::new("public", "t")).expect("t");
        let checks: Vec<&str> = t.constraints.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(checks, ["t_pkey", "t_b_check", "t_check"]);
    }

    #[test]
    fn long_names_are_truncated_like_postgres() {
        assert_eq!(
            make_object_name(
                "a_table_with_a_rather_long_name_for_testing_identifier_truncati",
                Some("a_column_with_an_equally_long_name_to_push_the_generated_names_"),
                "key"
            ),
            "a_table_with_a_rather_long_na_a_column_with_an_equally_long_key"
        );
        assert_eq!(
            make_object_name(
                "a_table_with_a_rather_long_name_for_testing_identifier_truncati",
                None,
                "pkey"
            ),
            "a_table_with_a_rather_long_name_for_testing_identifier_tru_pkey"
        );
    }

    #[test]
    fn using_index_references_and_renames() {
        let schema = replay(
            "CREATE TABLE u (id int PRIMARY KEY, x int);
             CREATE UNIQUE INDEX u_x_i ON u (x);
             ALTER TABLE u ADD UNIQUE USING INDEX u_x_i;
             CREATE TABLE f (id int, u_id int REFERENCES u);
             ALTER TABLE u RENAME COLUMN id TO uid;
             ALTER TABLE u RENAME TO users;
             ALTER INDEX u_x_i RENAME TO users_x_key;",
        );
        let users = schema
            .table(&QualName::new("public", "users"))
            .expect("users");
        assert!(users.constraint("users_x_key").is_some());
        let f = schema.table(&QualName::new("public", "f")).expect("f");
        assert_eq!(
            f.constraints[0].kind,
            ConstraintKind::ForeignKey {
                columns: vec!["u_id".into()],
                ref_table: QualName::new("public", "users"),
                ref_columns: vec!["uid".into()],
            }
        );
    }

    #[test]
    fn partitions_get_the_parents_indexes_and_constraints() {
        let schema = replay(
            "CREATE TABLE ev (id int NOT NULL, at date NOT NULL, k text, PRIMARY KEY (id, at), CHECK (id > 0)) PARTITION BY RANGE (at);
             CREATE TABLE ev1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
             CREATE INDEX ev_k_idx ON ONLY ev (k);
             ALTER TABLE ev ADD COLUMN n int;",
        );
        let ev1 = schema.table(&QualName::new("public", "ev1")).expect("ev1");
        let names: Vec<&str> = ev1.constraints.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ev_id_check", "ev1_pkey"]);
        assert!(ev1.column("n").is_some());
        assert_eq!(index_names(&schema), ["ev1_pkey", "ev_k_idx", "ev_pkey"]);
        let only = &schema.indexes[&QualName::new("public", "ev_k_idx")];
        assert!(!only.valid, "ON ONLY with a partition lacking the index");
    }

    #[test]
    fn column_types_print_like_format_type() {
        let schema = replay(
            "CREATE SCHEMA billing;
             CREATE TYPE \"Priority\" AS ENUM ('low');
             CREATE TYPE billing.state AS ENUM ('open');
             CREATE TABLE t (a \"Priority\", b billing.state[], c public.\"Priority\",
                             d numeric(10), e bpchar, f char);",
        );
        let t = schema.table(&QualName::new("public", "t")).expect("t");
        let types: Vec<String> = t.columns.iter().map(|c| c.ty.to_string()).collect();
        assert_eq!(
            types,
            [
                "\"Priority\"",
                "billing.state[]",
                "\"Priority\"",
                "numeric(10,0)",
                "bpchar",
                "character(1)"
            ]
        );
        assert_eq!(
            t.columns[0].ty.name, "Priority",
            "enum lookups by name still work"
        );
    }

    #[test]
    fn drop_identity_set_schema_and_view_renames() {
        let schema = replay(
            "CREATE SCHEMA archive;
             CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, s serial, a int);
             CREATE INDEX t_a_idx ON t (a);
             ALTER TABLE t ALTER COLUMN id DROP IDENTITY;
             ALTER TABLE t ALTER COLUMN s DROP DEFAULT;
             CREATE VIEW v AS SELECT id FROM t;
             ALTER VIEW v RENAME TO w;
             ALTER TABLE t SET SCHEMA archive;",
        );
        let t = schema.table(&QualName::new("archive", "t")).expect("moved");
        assert!(t.columns.iter().all(|c| !c.identity), "{:?}", t.columns);
        assert_eq!(
            schema.indexes.keys().cloned().collect::<Vec<_>>(),
            [
                QualName::new("archive", "t_a_idx"),
                QualName::new("archive", "t_pkey")
            ]
        );
        assert!(schema.views.contains_key(&QualName::new("public", "w")));
        assert!(!schema.views.contains_key(&QualName::new("public", "v")));
    }

    #[test]
    fn partition_cycles_are_refused_not_followed() {
        let sql = "CREATE TABLE a (id int) PARTITION BY LIST (id);
             CREATE TABLE b PARTITION OF a FOR VALUES IN (1) PARTITION BY LIST (id);
             ALTER TABLE b ATTACH PARTITION a FOR VALUES IN (1);
             ALTER TABLE a ATTACH PARTITION a FOR VALUES IN (2);
             CREATE TABLE c PARTITION OF nowhere FOR VALUES IN (3);
             CREATE INDEX ON a (id);
             ALTER TABLE a ADD COLUMN x int;
             DROP TABLE a;";
        let file = SourceFile::new("t.sql", "t.sql".into(), sql.to_string());
        let parsed = crate::sql::parse_file(&file, DialectKind::Postgres.dialect());
        let mut schema = Schema::default();
        let warnings: Vec<ModelWarning> = parsed
            .statements
            .iter()
            .flat_map(|s| schema.apply(&s.change))
            .collect();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let names: Vec<&str> = schema.tables.keys().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["c"]);
    }

    #[test]
    fn enum_labels_keep_their_place() {
        let schema = replay(
            "CREATE TYPE mood AS ENUM ('happy', 'sad');
             ALTER TYPE mood ADD VALUE 'ecstatic' BEFORE 'happy';
             ALTER TYPE mood ADD VALUE 'content' AFTER 'happy';
             ALTER TYPE mood ADD VALUE 'meh';",
        );
        assert_eq!(
            schema.enums[&QualName::new("public", "mood")],
            ["ecstatic", "happy", "content", "sad", "meh"]
        );
    }
}
