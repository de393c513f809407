//! Rust types for every schema version (DESIGN.md §1–2), generated from the model: diesel
//! `table!`s, a row struct (`Queryable + Selectable`), a new-row struct (`Insertable`) and a
//! changes struct (`AsChangeset`) per table, per version, plus the transition types of each
//! migration's window and a `RunsOn` relation between versions.
//!
//! Layout of the generated module (named by the derive, `db` for `struct Db`):
//!
//! ```text
//! db::sql_types::OrderStatus                 PostgreSQL enum SQL types (one per enum)
//! db::v0004_rename_name::{users, Users, NewUsers, UsersChanges, enums, Version}   S(0004)
//! db::v0004_rename_name::window::{…}        E(0004) + transition types (migrations with a
//!                                           backfill or contract phase)
//! db::latest                                the last version
//! ```
//!
//! A table identical to the previous version's is re-exported (`pub use`), not generated
//! again, so the code grows with the changes rather than versions × tables.

pub mod access;
mod compat;
mod mapping;
mod names;
mod render;
mod spec;
mod window;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub use mapping::Features;

use crate::change::{Change, QualName};
use crate::check::{CheckedMigration, Report};
use crate::config::Config;
use crate::dialect::DialectKind;
use crate::layout::Phase;
use crate::model::Schema;
use mapping::Mapper;
use names::ident;
use spec::{Shape, Skipped, TableSpec};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypegenError {
    #[error("concertina: column `{table}.{column}` has type `{ty}`, which maps to a type of the `{feature}` crate: enable concertina's `{feature}` cargo feature (`concertina = {{ features = [\"{feature}\"] }}`), or map the type in concertina.toml's [types]")]
    NeedsFeature {
        table: String,
        column: String,
        ty: String,
        feature: &'static str,
    },
    #[error("concertina: table `{table}` has {columns} columns, more than diesel's `table!` accepts with its current features ({max}): enable concertina's `{feature}` cargo feature (`concertina = {{ features = [\"{feature}\"] }}`, which turns on diesel's), or turn the types off with `#[migration(types = false)]`")]
    TooWide {
        table: String,
        columns: usize,
        max: usize,
        feature: &'static str,
    },
    #[error("concertina: column `{table}.{column}` has type `{ty}`, which concertina cannot map to a diesel type; map it in concertina.toml: `[types]` `\"{key}\" = {{ sql = \"::diesel::sql_types::…\", rust = \"…\" }}`, or turn the types off with `#[migration(types = false)]`")]
    Unmappable {
        table: String,
        column: String,
        ty: String,
        key: String,
    },
    #[error("concertina: column `{table}.{column}` comes from an expression of `CREATE TABLE … AS SELECT` whose type the model cannot work out: cast it in the query (`expr::type AS {column}`), or turn the types off with `#[migration(types = false)]`")]
    UntypedQueryColumn { table: String, column: String },
}

pub struct Options {
    /// The generated module's name.
    pub module: String,
    pub features: Features,
    /// Generate the versions of the last this many migrations only (`None`: all). An app
    /// uses the current version and the window; older ones cost compile time.
    pub versions: Option<usize>,
}

/// Names shared by the whole generated tree.
pub struct Names {
    dialect: DialectKind,
    enums: BTreeMap<QualName, String>,
}

impl Names {
    pub fn enum_name(&self, name: &QualName) -> String {
        self.enums
            .get(name)
            .cloned()
            .unwrap_or_else(|| names::camel(&name.name))
    }

    /// An identifier quoted for SQL text the generated code sends.
    pub fn quote(&self, name: &str) -> String {
        self.dialect.dialect().quote_ident(name)
    }
}

/// The module path (from the generated root) of a definition.
type ModPath = Vec<String>;

fn path_tokens(up: usize, path: &ModPath) -> TokenStream {
    let up = render::up(up);
    let segs = path.iter().map(|s| ident(s));
    quote!(#up #(::#segs)*)
}

#[derive(Default)]
struct Registry {
    tables: HashMap<QualName, (TableSpec, ModPath)>,
    shapes: HashMap<QualName, (Shape, ModPath)>,
    enums: HashMap<QualName, (Vec<String>, ModPath)>,
}

/// One schema version to generate.
struct State<'a> {
    schema: &'a Schema,
    path: ModPath,
    /// For a window: `S(N-1)`, `S(N)` and the data moves per table.
    window: Option<(&'a Schema, &'a Schema, BTreeMap<QualName, window::Moves>)>,
}

pub fn generate(
    report: &Report,
    config: &Config,
    options: &Options,
) -> Result<TokenStream, Vec<TypegenError>> {
    let dialect = config.dialect;
    let default_schema = dialect.dialect().default_schema();
    let mapper = Mapper {
        dialect,
        features: options.features,
        overrides: &config.types,
    };
    let names = Names {
        dialect,
        enums: enum_names(report, default_schema),
    };

    let mut errors = Vec::new();
    let mut registry = Registry::default();
    let mut versions = Vec::new();
    // (path, schema) of every generated version, in order, for `RunsOn`.
    let mut sequence: Vec<(ModPath, Arc<Schema>)> = Vec::new();
    let skip = options
        .versions
        .map_or(0, |n| report.migrations.len().saturating_sub(n));
    for m in report.migrations.iter().skip(skip) {
        let module = format!("v{}", names::snake(&m.dir_name).0.trim_start_matches('_'));
        let w = &m.window;
        let window_tokens = if m.window.has_phase(Phase::Backfill)
            || m.window.has_phase(Phase::Contract)
        {
            let state = State {
                schema: &w.expanded,
                path: vec![module.clone(), "window".into()],
                window: Some((&w.before, &w.after, moves(m))),
            };
            let doc = format!(
                " `E({0})`: the window of migration `{0}`, after its expand, while apps written for the previous version and for `{0}` run side by side. The structs here are its transition types: the new-row type requires what either version requires and writes moved columns to both places; the row type reads what both versions have.",
                m.dir_name
            );
            let tokens = version_module(
                &state,
                &doc,
                &mapper,
                &names,
                &mut registry,
                &mut errors,
                default_schema,
            );
            sequence.push((state.path.clone(), w.expanded.clone()));
            Some(tokens)
        } else {
            None
        };
        let state = State {
            schema: &w.after,
            path: vec![module.clone()],
            window: None,
        };
        let doc = format!(
            " `S({0})`: the schema after migration `{0}` (all its phases): what an app written for it reads and writes.",
            m.dir_name
        );
        let mut tokens = version_module(
            &state,
            &doc,
            &mapper,
            &names,
            &mut registry,
            &mut errors,
            default_schema,
        );
        if let Some(window) = window_tokens {
            tokens = insert_before_close(tokens, window);
        }
        versions.push(tokens);
        sequence.push((state.path.clone(), w.after.clone()));
    }
    if !errors.is_empty() {
        // The same table or column fails in every version it appears in: say it once.
        let mut seen = BTreeSet::new();
        errors.retain(|e| seen.insert(e.to_string()));
        return Err(errors);
    }

    let sql_types = sql_types(&names, dialect);
    let latest = report.migrations.last().map(|m| {
        let module = format_ident!("v{}", names::snake(&m.dir_name).0.trim_start_matches('_'));
        quote! {
            /// The last schema version.
            pub use self::#module as latest;
        }
    });
    let runs_on = compat::runs_on(&sequence);
    let module = ident(&options.module);
    let doc = format!(
        " Types for every schema version of the migrations directory, generated by concertina ({} versions).",
        sequence.len()
    );
    Ok(quote! {
        #[doc = #doc]
        #[allow(dead_code, non_camel_case_types, clippy::all)]
        pub mod #module {
            #sql_types
            #(#versions)*
            #latest
            #runs_on
        }
    })
}

/// Appends `inner` (the window module) inside the braces of the version module `outer`.
fn insert_before_close(outer: TokenStream, inner: TokenStream) -> TokenStream {
    let mut tokens: Vec<proc_macro2::TokenTree> = outer.into_iter().collect();
    if let Some(proc_macro2::TokenTree::Group(g)) = tokens.last() {
        let mut body = g.stream();
        body.extend(inner);
        let mut group = proc_macro2::Group::new(g.delimiter(), body);
        group.set_span(g.span());
        let last = tokens.len() - 1;
        tokens[last] = proc_macro2::TokenTree::Group(group);
    }
    tokens.into_iter().collect()
}

/// Data moves of a migration, per table: `renames` annotations and backfill `SET b = a`.
fn moves(m: &CheckedMigration) -> BTreeMap<QualName, window::Moves> {
    let mut out: BTreeMap<QualName, window::Moves> = BTreeMap::new();
    for r in &m.window.renames {
        out.entry(r.table.clone())
            .or_default()
            .push((r.from.clone(), r.to.clone()));
    }
    if let Some(backfill) = m.phase(Phase::Backfill) {
        for s in &backfill.parsed.statements {
            if let Change::Update {
                table, assignments, ..
            } = &s.change
            {
                for a in assignments {
                    if let Some(from) = &a.value.bare_column {
                        if *from != a.column {
                            out.entry(table.clone())
                                .or_default()
                                .push((from.clone(), a.column.clone()));
                        }
                    }
                }
            }
        }
    }
    for moves in out.values_mut() {
        let mut seen = BTreeSet::new();
        moves.retain(|(_, to)| seen.insert(to.clone()));
    }
    out
}

fn enum_names(report: &Report, default_schema: &str) -> BTreeMap<QualName, String> {
    let mut all = BTreeSet::new();
    for m in &report.migrations {
        all.extend(m.window.expanded.enums.keys().cloned());
        all.extend(m.window.after.enums.keys().cloned());
    }
    let all: Vec<QualName> = all.into_iter().collect();
    let mut camel: Vec<String> = all
        .iter()
        .map(|q| {
            if q.schema == default_schema || q.schema.is_empty() {
                names::camel(&q.name)
            } else {
                names::camel(&format!("{}_{}", q.schema, q.name))
            }
        })
        .collect();
    names::dedupe(&mut camel);
    all.into_iter().zip(camel).collect()
}

fn sql_types(names: &Names, dialect: DialectKind) -> TokenStream {
    if dialect != DialectKind::Postgres {
        return quote! { pub mod sql_types {} };
    }
    let types = names.enums.iter().map(|(q, rust)| {
        let rust = ident(rust);
        let name = &q.name;
        let schema = &q.schema;
        let doc = format!(" The SQL type of the enum `{q}`.");
        quote! {
            #[doc = #doc]
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::default::Default, ::diesel::sql_types::SqlType, ::diesel::query_builder::QueryId)]
            #[diesel(postgres_type(name = #name, schema = #schema))]
            pub struct #rust;
        }
    });
    quote! {
        /// SQL types of the database's enums, shared by every version.
        pub mod sql_types { #(#types)* }
    }
}

#[allow(clippy::too_many_arguments)]
fn version_module(
    state: &State,
    doc: &str,
    mapper: &Mapper,
    names: &Names,
    registry: &mut Registry,
    errors: &mut Vec<TypegenError>,
    default_schema: &str,
) -> TokenStream {
    let depth = state.path.len();
    let schema = state.schema;
    let module = ident(state.path.last().map_or("version", String::as_str));

    // Enums: defined where their labels first appear, re-exported after.
    let mut enum_items = Vec::new();
    if mapper.dialect == DialectKind::Postgres {
        for (q, labels) in &schema.enums {
            let rust = ident(&names.enum_name(q));
            match registry.enums.get(q) {
                Some((l, p)) if l == labels => {
                    let from = path_tokens(depth + 1, p);
                    enum_items.push(quote!(pub use #from::enums::#rust;));
                }
                _ => {
                    let sql = {
                        let root = render::up(depth + 1);
                        quote!(#root::sql_types::#rust)
                    };
                    let doc = format!(" The enum `{q}` in this schema version.");
                    enum_items.push(render::pg_enum(&names.enum_name(q), labels, &sql, &doc));
                    registry
                        .enums
                        .insert(q.clone(), (labels.clone(), state.path.clone()));
                }
            }
        }
    }

    let modules = spec::module_names(schema, default_schema);
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    let mut present: Vec<(QualName, TableSpec, bool)> = Vec::new();
    for (q, module_name) in &modules {
        let table = &schema.tables[q];
        let spec = match spec::table_spec(table, module_name, schema, mapper, &modules, errors) {
            Ok(s) => s,
            Err(Skipped::Partition | Skipped::TooWide) => continue,
            Err(Skipped::NoKey) => {
                skipped.push(format!(
                    " `{q}` has no types: it has no primary key (nor a unique key over NOT NULL columns), which diesel's `table!` needs."
                ));
                continue;
            }
        };
        let table_mod = ident(&spec.module);
        let new_table = match registry.tables.get(q) {
            Some((s, p)) if *s == spec => {
                let from = path_tokens(depth, p);
                items.push(quote!(pub use #from::#table_mod;));
                false
            }
            _ => {
                items.push(render::table_macro(&spec, depth, default_schema, names));
                registry
                    .tables
                    .insert(q.clone(), (spec.clone(), state.path.clone()));
                true
            }
        };
        let shape = match &state.window {
            None => Shape::plain(spec.clone()),
            Some((before, after, moves)) => window::transition_shape(
                &spec,
                before.table(q),
                after.table(q),
                moves.get(q).unwrap_or(&Vec::new()),
            ),
        };
        match registry.shapes.get(q) {
            Some((s, p)) if *s == shape => {
                let from = path_tokens(depth, p);
                let row = format_ident!("{}", shape.table.camel);
                let mut names_used = vec![quote!(#row)];
                if !shape.insert.is_empty() {
                    let n = format_ident!("New{}", shape.table.camel);
                    names_used.push(quote!(#n));
                }
                if !shape.changes.is_empty() {
                    let n = format_ident!("{}Changes", shape.table.camel);
                    names_used.push(quote!(#n));
                }
                items.push(quote!(pub use #from::{#(#names_used),*};));
            }
            _ => {
                let docs = struct_docs(q, state.window.is_some());
                items.push(render::structs(
                    &shape,
                    depth,
                    names,
                    [&docs[0], &docs[1], &docs[2]],
                ));
                registry
                    .shapes
                    .insert(q.clone(), (shape, state.path.clone()));
            }
        }
        present.push((q.clone(), spec, new_table));
    }

    // Joins and multi-table queries, for pairs with at least one table new in this version
    // (older pairs got theirs where both were defined).
    let module_of: HashMap<&QualName, (&str, bool)> = present
        .iter()
        .map(|(q, s, new)| (q, (s.module.as_str(), *new)))
        .collect();
    // `joinable!(a -> b)` implements the join both ways: one per pair of tables, or two
    // tables with keys to each other conflict (E0119); the first key found wins.
    let mut joined_pairs: BTreeSet<(String, String)> = BTreeSet::new();
    for (_, spec, new) in &present {
        for (field, parent) in &spec.parents {
            if let Some((parent_mod, parent_new)) = module_of.get(parent) {
                let pair = if spec.module.as_str() < *parent_mod {
                    (spec.module.clone(), parent_mod.to_string())
                } else {
                    (parent_mod.to_string(), spec.module.clone())
                };
                if (*new || *parent_new) && joined_pairs.insert(pair) {
                    let child = ident(&spec.module);
                    let parent = ident(parent_mod);
                    let field = ident(field);
                    items.push(quote!(::diesel::joinable!(#child -> #parent (#field));));
                }
            }
        }
    }
    // Only tables a foreign key joins: every pair of n tables would be n² impls per version,
    // which is what made `cargo check` slow. Other pairs: `diesel::allow_tables_to_appear_in_same_query!`
    // in the app, on the version's modules.
    let joined = |a: &TableSpec, qb: &QualName| a.parents.iter().any(|(_, p)| p == qb);
    for (i, (qa, a, a_new)) in present.iter().enumerate() {
        for (qb, b, b_new) in present.iter().skip(i + 1) {
            if (*a_new || *b_new) && qa.schema == qb.schema && (joined(a, qb) || joined(b, qa)) {
                let a = ident(&a.module);
                let b = ident(&b.module);
                items.push(quote!(::diesel::allow_tables_to_appear_in_same_query!(#a, #b);));
            }
        }
    }

    let version_doc = " Marker of this schema version, for `concertina::RunsOn` and `concertina::assert_runs_on`.";
    quote! {
        #[doc = #doc]
        #(#[doc = #skipped])*
        pub mod #module {
            #[doc = #version_doc]
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
            pub struct Version;
            /// The enums of this schema version.
            pub mod enums { #(#enum_items)* }
            #(#items)*
        }
    }
}

fn struct_docs(q: &QualName, window: bool) -> [String; 3] {
    if window {
        [
            format!(" A row of `{q}` as both app versions of the window can read it (select it with `as_select()`)."),
            format!(" A new row of `{q}` written during the window: every column either version requires is required; moved columns are written to both places."),
            format!(" An update of `{q}` during the window: `None` leaves a column alone; moved columns are written to both places."),
        ]
    } else {
        [
            format!(" A row of `{q}` in this schema version."),
            format!(" A new row of `{q}`: `Option` fields may be `None` (the column's default)."),
            format!(" An update of `{q}`: `None` leaves a column alone, `Some(None)` writes NULL."),
        ]
    }
}
