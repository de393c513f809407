//! A query's shape ([`QueryShape`]): which table columns it reads, through subqueries,
//! `EXISTS`, derived tables and CTEs, and what its top-level `SELECT` returns. Names are
//! placed by scope as SQL does (innermost `FROM` first; an alias hides its table); the model
//! finishes the job with the tables' columns (`model::derived`).

use std::ops::ControlFlow;

use sqlparser::ast::{
    self as ast, Expr, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    TableFactor, Visit, Visitor,
};

use super::Lowerer;
use crate::change::{ColumnRef, OutputColumn, OutputSource, QualName, QueryShape};

/// One relation of a `FROM`: a table, or a subquery / CTE with the names it returns.
#[derive(Debug, Clone)]
struct Entry {
    /// What references qualify it by: its alias, else its name.
    qualifier: String,
    table: Option<QualName>,
    /// A subquery's or CTE's column names; `None` when unknown (it selects `*`).
    outputs: Option<Vec<String>>,
}

type Level = Vec<Entry>;

/// The CTEs visible at a point: name and column names.
type Ctes = Vec<(String, Option<Vec<String>>)>;

struct QueryOut {
    names: Option<Vec<String>>,
    outputs: Vec<OutputColumn>,
}

/// Collects the column references of one scope and the subqueries directly inside it.
#[derive(Default)]
struct Collector {
    depth: usize,
    refs: Vec<Vec<ast::Ident>>,
    /// Copies: sqlparser's visitor lends each node only for the call.
    children: Vec<Query>,
    exists: Vec<Query>,
}

impl Visitor for Collector {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if self.depth == 0 {
            self.children.push(query.clone());
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if self.depth > 0 {
            return ControlFlow::Continue(());
        }
        match expr {
            Expr::Identifier(i) => self.refs.push(vec![i.clone()]),
            Expr::CompoundIdentifier(parts) => self.refs.push(parts.clone()),
            Expr::Exists { subquery, .. } => {
                self.exists.push(subquery.as_ref().clone());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

struct Walk<'a, 'd> {
    low: &'a Lowerer<'d>,
    shape: QueryShape,
}

impl Lowerer<'_> {
    /// The shape of a view's or `CREATE TABLE … AS`'s query.
    pub fn query_shape(&self, query: &Query) -> QueryShape {
        let mut walk = Walk {
            low: self,
            shape: QueryShape::default(),
        };
        let out = walk.query(query, &[], &Vec::new(), true);
        walk.shape.outputs = out.outputs;
        walk.shape.all_columns_of.dedup();
        walk.shape
    }
}

/// The name PostgreSQL gives an unaliased output column.
fn derived_name(low: &Lowerer, expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => low.ident(i),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| low.ident(i)).unwrap_or_default(),
        Expr::Nested(e) => derived_name(low, e),
        Expr::Cast { expr, .. } => derived_name(low, expr),
        Expr::Function(f) => f
            .name
            .0
            .last()
            .map(|p| p.to_string().to_lowercase())
            .unwrap_or_default(),
        _ => "?column?".into(),
    }
}

impl Walk<'_, '_> {
    fn query(&mut self, q: &Query, outer: &[Level], ctes: &Ctes, reaches: bool) -> QueryOut {
        let mut env = ctes.clone();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let out = self.query(&cte.query, outer, &env, true);
                let names = if cte.alias.columns.is_empty() {
                    out.names
                } else {
                    Some(
                        cte.alias
                            .columns
                            .iter()
                            .map(|c| self.low.ident(&c.name))
                            .collect(),
                    )
                };
                env.push((self.low.ident(&cte.alias.name), names));
            }
        }
        let (out, level) = self.set_expr(&q.body, outer, &env, reaches);
        // ORDER BY / LIMIT read the body's tables too.
        let mut c = Collector::default();
        let _ = q.order_by.visit(&mut c);
        let _ = q.limit_clause.visit(&mut c);
        let mut levels = vec![level.unwrap_or_default()];
        levels.extend(outer.iter().cloned());
        self.finish(c, &levels, &env, &[]);
        out
    }

    fn set_expr(
        &mut self,
        body: &SetExpr,
        outer: &[Level],
        ctes: &Ctes,
        reaches: bool,
    ) -> (QueryOut, Option<Level>) {
        match body {
            SetExpr::Select(s) => {
                let (out, level) = self.select(s, outer, ctes, reaches);
                (out, Some(level))
            }
            SetExpr::Query(q) => (self.query(q, outer, ctes, reaches), None),
            SetExpr::SetOperation { left, right, .. } => {
                let (out, level) = self.set_expr(left, outer, ctes, reaches);
                self.set_expr(right, outer, ctes, reaches);
                (out, level)
            }
            _ => {
                let mut c = Collector::default();
                let _ = body.visit(&mut c);
                self.finish(c, outer, ctes, &[]);
                (
                    QueryOut {
                        names: None,
                        outputs: Vec::new(),
                    },
                    None,
                )
            }
        }
    }

    fn factor(
        &mut self,
        f: &TableFactor,
        outer: &[Level],
        ctes: &Ctes,
        level: &mut Level,
        derived: &mut Vec<Query>,
    ) {
        match f {
            TableFactor::Table { name, alias, .. } => {
                let alias = alias.as_ref().map(|a| self.low.ident(&a.name));
                let cte = (name.0.len() == 1)
                    .then(|| self.low.last_part(name))
                    .and_then(|n| ctes.iter().rev().find(|(c, _)| *c == n).cloned());
                match cte {
                    Some((n, outputs)) => level.push(Entry {
                        qualifier: alias.unwrap_or(n),
                        table: None,
                        outputs,
                    }),
                    None => level.push(Entry {
                        qualifier: alias.unwrap_or_else(|| self.low.last_part(name)),
                        table: Some(self.low.name(name)),
                        outputs: None,
                    }),
                }
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                derived.push(subquery.as_ref().clone());
                let out = self.query(subquery, outer, ctes, true);
                let outputs = match alias {
                    Some(a) if !a.columns.is_empty() => {
                        Some(a.columns.iter().map(|c| self.low.ident(&c.name)).collect())
                    }
                    _ => out.names,
                };
                level.push(Entry {
                    qualifier: alias
                        .as_ref()
                        .map(|a| self.low.ident(&a.name))
                        .unwrap_or_default(),
                    table: None,
                    outputs,
                });
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                self.factor(&table_with_joins.relation, outer, ctes, level, derived);
                for j in &table_with_joins.joins {
                    self.factor(&j.relation, outer, ctes, level, derived);
                }
            }
            _ => {}
        }
    }

    fn select(
        &mut self,
        s: &Select,
        outer: &[Level],
        ctes: &Ctes,
        reaches: bool,
    ) -> (QueryOut, Level) {
        let mut level = Level::new();
        let mut derived = Vec::new();
        for twj in &s.from {
            self.factor(&twj.relation, outer, ctes, &mut level, &mut derived);
            for j in &twj.joins {
                self.factor(&j.relation, outer, ctes, &mut level, &mut derived);
            }
        }
        let mut levels = vec![level.clone()];
        levels.extend(outer.iter().cloned());
        let mut c = Collector::default();
        let _ = s.visit(&mut c);
        self.finish(c, &levels, ctes, &derived);

        let reals =
            |l: &Level| -> Vec<QualName> { l.iter().filter_map(|e| e.table.clone()).collect() };
        let mut names = Some(Vec::new());
        let mut outputs = Vec::new();
        for item in &s.projection {
            // `*` and `t.*`: every column of the tables they name.
            let star = match item {
                SelectItem::Wildcard(_) => Some(reals(&level)),
                SelectItem::QualifiedWildcard(kind, _) => Some(match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(n) => {
                        let q = self.low.last_part(n);
                        level
                            .iter()
                            .filter(|e| e.qualifier == q)
                            .filter_map(|e| e.table.clone())
                            .collect()
                    }
                    SelectItemQualifiedWildcardKind::Expr(_) => Vec::new(),
                }),
                _ => None,
            };
            if let Some(tables) = star {
                if reaches {
                    self.shape.all_columns_of.extend(tables.iter().cloned());
                }
                outputs.push(OutputColumn {
                    name: None,
                    source: OutputSource::Star(tables),
                });
                names = None;
                continue;
            }
            let (expr, alias) = match item {
                SelectItem::UnnamedExpr(e) => (e, None),
                SelectItem::ExprWithAlias { expr, alias } => (expr, Some(self.low.ident(alias))),
                _ => {
                    names = None;
                    continue;
                }
            };
            let name = alias.unwrap_or_else(|| derived_name(self.low, expr));
            let source = self.output_source(expr, &levels);
            if let Some(n) = &mut names {
                n.push(name.clone());
            }
            outputs.push(OutputColumn {
                name: Some(name),
                source,
            });
        }
        (QueryOut { names, outputs }, level)
    }

    fn output_source(&self, expr: &Expr, levels: &[Level]) -> OutputSource {
        match expr {
            Expr::Nested(e) => self.output_source(e, levels),
            Expr::Cast { data_type, .. } => OutputSource::Cast(self.low.sql_type(data_type).0),
            Expr::Identifier(i) => self
                .place(std::slice::from_ref(i), levels)
                .map_or(OutputSource::Unknown, OutputSource::Column),
            Expr::CompoundIdentifier(parts) => self
                .place(parts, levels)
                .map_or(OutputSource::Unknown, OutputSource::Column),
            _ => OutputSource::Unknown,
        }
    }

    /// Records a scope's references and walks the subqueries inside it (not the derived
    /// tables of its `FROM`, walked already).
    fn finish(&mut self, c: Collector, levels: &[Level], ctes: &Ctes, derived: &[Query]) {
        for parts in &c.refs {
            if let Some(r) = self.place(parts, levels) {
                self.shape.refs.push(r);
            }
        }
        for child in &c.children {
            if derived.contains(child) {
                continue;
            }
            let reaches = !c.exists.contains(child);
            self.query(child, levels, ctes, reaches);
        }
    }

    /// The tables a reference may belong to, by scope level; `None` when it is a subquery's
    /// or CTE's output (whose own references are recorded) or names nothing in scope.
    fn place(&self, parts: &[ast::Ident], levels: &[Level]) -> Option<ColumnRef> {
        let column = self.low.ident(parts.last()?);
        if parts.len() >= 2 {
            let q = self.low.ident(&parts[parts.len() - 2]);
            for level in levels {
                if let Some(e) = level.iter().find(|e| e.qualifier == q) {
                    return e.table.clone().map(|t| ColumnRef {
                        column,
                        scopes: vec![vec![t]],
                    });
                }
            }
            return None;
        }
        let mut scopes = Vec::new();
        for level in levels {
            let reals: Vec<QualName> = level.iter().filter_map(|e| e.table.clone()).collect();
            let derived_may_have = level.iter().any(|e| {
                e.table.is_none() && e.outputs.as_ref().is_none_or(|o| o.contains(&column))
            });
            if !reals.is_empty() {
                scopes.push(reals);
            }
            if derived_may_have {
                break;
            }
        }
        (!scopes.is_empty()).then_some(ColumnRef { column, scopes })
    }
}
