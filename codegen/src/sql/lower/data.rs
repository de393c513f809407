//! Data changes (UPDATE, DELETE, INSERT, also under `WITH`), locks and session settings.

use sqlparser::ast::{self as ast, ObjectName, Statement, TableFactor};

use super::{statement_kind, Lowerer};
use crate::change::{Assignment, Change, QualName, UpdateParts};

impl Lowerer<'_> {
    pub(super) fn lock_tables(&self, tables: &[ast::LockTable]) -> Change {
        Change::LockTable {
            tables: tables
                .iter()
                .map(|t| {
                    QualName::new(
                        self.dialect.default_schema(),
                        self.dialect
                            .normalize_object(&t.table.value, t.table.quote_style.is_some()),
                    )
                })
                .collect(),
        }
    }

    pub(super) fn update(&self, u: &ast::Update) -> Change {
        match self.factor_name(&u.table.relation) {
            Some(table) => Change::Update {
                table,
                assignments: u
                    .assignments
                    .iter()
                    .flat_map(|a| {
                        let targets: Vec<&ObjectName> = match &a.target {
                            ast::AssignmentTarget::ColumnName(n) => vec![n],
                            ast::AssignmentTarget::Tuple(ns) => ns.iter().collect(),
                        };
                        let value = self.expr(&a.value);
                        targets
                            .into_iter()
                            .map(|n| Assignment {
                                column: self.last_part(n),
                                value: value.clone(),
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect(),
                filter: u.selection.as_ref().map(|s| self.expr(s)),
                parts: UpdateParts {
                    target: u.table.to_string(),
                    alias: match &u.table.relation {
                        TableFactor::Table { alias, .. } => {
                            alias.as_ref().map(|a| a.name.to_string())
                        }
                        _ => None,
                    },
                    set: u
                        .assignments
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    from: u.from.as_ref().map(|f| match f {
                        ast::UpdateTableFromKind::BeforeSet(t)
                        | ast::UpdateTableFromKind::AfterSet(t) => t
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    }),
                },
            },
            None => Change::Opaque {
                reason: "UPDATE of something other than a table".into(),
            },
        }
    }

    pub(super) fn delete(&self, d: &ast::Delete) -> Change {
        let from = match &d.from {
            ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
        };
        match from.first().and_then(|t| self.factor_name(&t.relation)) {
            Some(table) => Change::Delete {
                table,
                filter: d.selection.as_ref().map(|s| self.expr(s)),
            },
            None => Change::Opaque {
                reason: "DELETE from something other than a table".into(),
            },
        }
    }

    pub(super) fn insert(&self, i: &ast::Insert) -> Change {
        match &i.table {
            ast::TableObject::TableName(name) => {
                let select_from = match &i.source {
                    Some(q) if !matches!(q.body.as_ref(), ast::SetExpr::Values(_)) => {
                        self.tables_read(q.as_ref())
                    }
                    _ => Vec::new(),
                };
                Change::Insert {
                    table: self.name(name),
                    columns: i.columns.iter().map(|c| self.last_part(c)).collect(),
                    select_from,
                }
            }
            _ => Change::Opaque {
                reason: "INSERT into something other than a table".into(),
            },
        }
    }

    pub(super) fn set_variable(&self, set: &ast::Set) -> Change {
        match set {
            ast::Set::SingleAssignment {
                variable, values, ..
            } => Change::SetVariable {
                name: variable.to_string().to_lowercase(),
                value: values
                    .iter()
                    .map(|v| v.to_string().trim_matches('\'').to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            ast::Set::SetTimeZone { value, .. } => Change::SetVariable {
                name: "timezone".into(),
                value: value.to_string().trim_matches('\'').to_string(),
            },
            other => Change::SetVariable {
                name: other.to_string().to_lowercase(),
                value: String::new(),
            },
        }
    }

    /// `WITH … INSERT/UPDATE/DELETE`: the data change, reading the CTEs' tables.
    pub(super) fn with_query(&self, stmt: &Statement, q: &ast::Query) -> Change {
        match q.body.as_ref() {
            ast::SetExpr::Insert(inner)
            | ast::SetExpr::Update(inner)
            | ast::SetExpr::Delete(inner) => {
                let mut change = self.lower(inner);
                if let (Change::Insert { select_from, .. }, Some(with)) = (&mut change, &q.with) {
                    let ctes: Vec<String> = with
                        .cte_tables
                        .iter()
                        .map(|c| self.ident(&c.alias.name))
                        .collect();
                    select_from.retain(|t| !ctes.contains(&t.name));
                    for t in self.tables_read(with) {
                        if !ctes.contains(&t.name) && !select_from.contains(&t) {
                            select_from.push(t);
                        }
                    }
                }
                change
            }
            _ => Change::NoSchemaEffect {
                what: statement_kind(stmt),
            },
        }
    }
}
