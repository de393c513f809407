//! The app of each schema version as data: per table, the key it reads and updates by, the
//! columns it reads, inserts and updates. These are the shapes the derive generates its
//! structs from ([`Shape`]: the row, new-row and changes types of a version, or the transition
//! types of a window), in SQL names, so a workload built from them (`migrate rehearse`) sends
//! what an app written with the generated types sends: the old app before expand, the
//! transition app in the window (moved columns written to both places, read through
//! `COALESCE`), the new app after backfill.

use std::collections::{BTreeMap, BTreeSet};

use super::mapping::{Features, Mapper};
use super::spec::{self, Shape, TableSpec, WriteMode};
use super::window;
use crate::change::QualName;
use crate::check::Report;
use crate::config::Config;
use crate::model::Schema;
use crate::types::SqlType;

/// One column the app reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRead {
    pub column: String,
    /// Read as `COALESCE(column, other)`: a moved column during its window.
    pub coalesce: Option<String>,
}

/// One value the app writes, to one column or (a moved column in its window) to two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnWrite {
    /// SQL column names, the old one first for a moved column.
    pub targets: Vec<String>,
    /// The type of the value (the last target's).
    pub ty: SqlType,
    /// An insert must give it a value (a required field of the new-row type).
    pub required: bool,
    /// An update may set it to NULL.
    pub nullable: bool,
}

/// What one app version does with one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableAccess {
    pub table: QualName,
    /// The key it reads and updates rows by (SQL names).
    pub key: Vec<String>,
    pub reads: Vec<ColumnRead>,
    pub inserts: Vec<ColumnWrite>,
    pub updates: Vec<ColumnWrite>,
}

/// Which app of migration N's deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppOf {
    /// Written for `S(N-1)`: runs before the expand.
    Old,
    /// The transition types of `E(N)`: runs in the window, between expand and contract.
    Transition,
    /// Written for `S(N)`: runs after the backfill.
    New,
}

/// One app version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppVersion {
    /// `S(0003_add_status)`, `E(0004_rename) transition`, …
    pub name: String,
    /// The schema the app is written for (the window's `E(N)` for the transition app).
    pub schema: std::sync::Arc<Schema>,
    /// Tables with a key; a table without one gets no generated types, so no app access.
    pub tables: Vec<TableAccess>,
}

impl AppVersion {
    pub fn table(&self, name: &QualName) -> Option<&TableAccess> {
        self.tables.iter().find(|t| &t.table == name)
    }
}

/// The app of migration `index` of `report` (`AppOf::Old` of the first migration is the app of
/// the empty schema: no tables).
pub fn app_version(report: &Report, config: &Config, index: usize, which: AppOf) -> AppVersion {
    let m = &report.migrations[index];
    let w = &m.window;
    let (name, schema, window) = match which {
        AppOf::Old => {
            let name = index.checked_sub(1).map_or("S(0)".to_string(), |i| {
                format!("S({})", report.migrations[i].dir_name)
            });
            (name, w.before.clone(), None)
        }
        AppOf::Transition => (
            format!("E({}) transition", m.dir_name),
            w.expanded.clone(),
            Some(super::moves(m)),
        ),
        AppOf::New => (format!("S({})", m.dir_name), w.after.clone(), None),
    };
    let dialect = config.dialect;
    let mapper = Mapper {
        dialect,
        // Every crate's types: the workload needs the columns, not the Rust types.
        features: Features::ALL,
        overrides: &config.types,
    };
    let default_schema = dialect.dialect().default_schema();
    let modules = spec::module_names(&schema, default_schema);
    let mut tables = Vec::new();
    for (q, module) in &modules {
        let table = &schema.tables[q];
        let mut ignored = Vec::new();
        let Ok(spec) = spec::table_spec(table, module, &schema, &mapper, &modules, &mut ignored)
        else {
            continue;
        };
        let shape = match &window {
            None => Shape::plain(spec.clone()),
            Some(moves) => window::transition_shape(
                &spec,
                w.before.table(q),
                w.after.table(q),
                moves.get(q).unwrap_or(&Vec::new()),
            ),
        };
        tables.push(access(&shape, &spec, &schema, q));
    }
    AppVersion {
        name,
        schema,
        tables,
    }
}

fn access(shape: &Shape, spec: &TableSpec, schema: &Schema, q: &QualName) -> TableAccess {
    let sql = |field: &str| spec.column_sql(field);
    let ty = |column: &str| {
        schema
            .table(q)
            .and_then(|t| t.column(column))
            .map_or_else(|| SqlType::new("text"), |c| c.ty.clone())
    };
    let write = |w: &spec::WriteField, required: bool| {
        let targets: Vec<String> = w.targets.iter().map(|t| sql(t)).collect();
        ColumnWrite {
            ty: ty(targets.last().map_or("", String::as_str)),
            targets,
            required,
            nullable: w.mode == WriteMode::OptionalNullable,
        }
    };
    TableAccess {
        table: q.clone(),
        key: spec.pk.iter().map(|f| sql(f)).collect(),
        reads: shape
            .reader
            .iter()
            .map(|r| ColumnRead {
                column: sql(&r.column),
                coalesce: r.coalesce.as_deref().map(sql),
            })
            .collect(),
        inserts: shape
            .insert
            .iter()
            .map(|w| write(w, w.mode == WriteMode::Required))
            .collect(),
        updates: shape.changes.iter().map(|w| write(w, false)).collect(),
    }
}

/// The tables migration `index` changes: their definition or indexes differ between `S(N-1)`,
/// `E(N)` and `S(N)`, or its backfill writes them. These are the tables a rehearsal loads and
/// the app works on.
pub fn touched_tables(report: &Report, index: usize) -> BTreeSet<QualName> {
    let w = &report.migrations[index].window;
    let mut out: BTreeSet<QualName> = w.backfilled.iter().map(|(t, _)| t.clone()).collect();
    let schemas = [&w.before, &w.expanded, &w.after];
    let names: BTreeSet<&QualName> = schemas.iter().flat_map(|s| s.tables.keys()).collect();
    for q in names {
        let defs: Vec<_> = schemas.iter().map(|s| s.tables.get(q)).collect();
        let indexes: Vec<BTreeMap<&QualName, _>> = schemas
            .iter()
            .map(|s| {
                s.indexes
                    .iter()
                    .filter(|(_, i)| &i.table == q)
                    .map(|(n, i)| (n, &**i))
                    .collect()
            })
            .collect();
        if defs.windows(2).any(|p| p[0] != p[1]) || indexes.windows(2).any(|p| p[0] != p[1]) {
            out.insert(q.clone());
        }
    }
    out
}
