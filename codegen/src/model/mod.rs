//! The schema model: what the database looks like after each statement, replayed from the
//! migration files. Rules and code generation read it; nothing here knows sqlparser.
//!
//! This file holds the model's types and their small accessors; the replay is split by
//! concern:
//! - `replay`: [`Schema::apply`], one change at a time;
//! - `alter`: one ALTER TABLE action, dispatched by concern (columns, keys, the table);
//! - `objects`: creating and dropping indexes and constraints, dropping any object;
//! - `partition`: what partitions take from, and pass on to, their partitioned table;
//! - `naming`: how the server names what a migration leaves unnamed, PostgreSQL's way or
//!   InnoDB's, and where index names live;
//! - `derived`: what the model derives from queries (`CREATE TABLE … AS`, views).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::change::{ColumnSpec, ConstraintKind, ExprInfo, Generated, QualName, Volatility};
use crate::dialect::DialectKind;
use crate::types::SqlType;

mod alter;
mod derived;
mod naming;
mod objects;
mod partition;
mod replay;

pub use alter::{alter_rebuilds, instant_column_changes};
pub use derived::UNKNOWN_TYPE;
pub(crate) use naming::{choose_object_name, default_constraint_name};

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
    /// The server the migrations are replayed for: it decides how unnamed objects are named
    /// and where index names live (`naming`; MySQL/MariaDB key an index `table.index` in
    /// `indexes`), and the few other ways the servers differ (the methods below [`Schema`]'s
    /// accessors).
    pub dialect: DialectKind,
    /// MySQL: the keys of indexes InnoDB made for a foreign key (dropped when another index
    /// can serve it).
    pub mysql_implicit_indexes: BTreeSet<QualName>,
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
}

/// Where the servers' models differ beyond names (those are `naming`'s).
impl Schema {
    fn is_mysql_family(&self) -> bool {
        matches!(self.dialect, DialectKind::MySql | DialectKind::MariaDb)
    }

    /// MySQL and MariaDB compare column names without case.
    fn folds_column_case(&self) -> bool {
        self.is_mysql_family()
    }

    /// Dropping a column takes it out of its keys and indexes, dropping only those left
    /// without columns (MySQL), rather than dropping every constraint and index over it
    /// (PostgreSQL).
    pub fn drop_column_narrows_keys(&self) -> bool {
        self.is_mysql_family()
    }

    /// A unique index is a UNIQUE constraint of the same name (MySQL).
    fn unique_index_is_constraint(&self) -> bool {
        self.is_mysql_family()
    }

    /// INSTANT `ADD`/`DROP COLUMN`s make row versions (MySQL 8.0.29+), counted in
    /// [`Schema::instant_row_versions`].
    fn counts_row_versions(&self) -> bool {
        self.is_mysql_family()
    }
}

#[cfg(test)]
mod tests;
