//! sqlparser's AST → concertina's [`Change`]. The only module that reads sqlparser's statement
//! types: a sqlparser upgrade is absorbed here.
//!
//! This file holds [`Lowerer`], its shared helpers (names, types, expressions) and
//! [`Lowerer::lower`], which dispatches each kind of statement to a method in the file of its
//! concern: `table` (CREATE/ALTER/RENAME TABLE), `columns` (column and constraint
//! definitions), `index`, `objects` (DROP, views, types, functions), `data` (DML, locks,
//! `SET`); `shape` works out which columns a query reads.

use std::ops::ControlFlow;

use sqlparser::ast::{
    self as ast, Expr, ObjectName, ObjectNamePart, ObjectType, Statement, TableFactor,
};

use crate::change::{Change, ExprInfo, QualName};
use crate::dialect::{Dialect, DialectKind};
use crate::types::SqlType;

mod columns;
mod data;
mod index;
mod objects;
mod shape;
mod table;

pub struct Lowerer<'d> {
    pub dialect: &'d dyn Dialect,
}

impl Lowerer<'_> {
    fn ident(&self, ident: &ast::Ident) -> String {
        self.dialect
            .normalize_ident(&ident.value, ident.quote_style.is_some())
    }

    fn part(&self, part: &ObjectNamePart) -> String {
        match part {
            ObjectNamePart::Identifier(i) => self.ident(i),
            other => other.to_string(),
        }
    }

    pub fn name(&self, name: &ObjectName) -> QualName {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| match p {
                ObjectNamePart::Identifier(i) => self
                    .dialect
                    .normalize_object(&i.value, i.quote_style.is_some()),
                other => other.to_string(),
            })
            .collect();
        match parts.as_slice() {
            [] => QualName::new(self.dialect.default_schema(), ""),
            [one] => QualName::new(self.dialect.default_schema(), one.clone()),
            [.., schema, last] => QualName::new(schema.clone(), last.clone()),
        }
    }

    /// A name that lives in a table's schema (indexes, constraints): the last part.
    fn last_part(&self, name: &ObjectName) -> String {
        name.0.last().map(|p| self.part(p)).unwrap_or_default()
    }

    pub fn sql_type(&self, data_type: &ast::DataType) -> (SqlType, bool) {
        let mut ty = SqlType::parse_text(&data_type.to_string());
        // ENUM/SET labels from the AST, each quoted as MySQL prints them: splitting the text
        // on commas would cut a label holding one.
        let labels: Option<Vec<&str>> = match data_type {
            ast::DataType::Enum(members, _) => Some(
                members
                    .iter()
                    .map(|m| match m {
                        ast::EnumMember::Name(n) | ast::EnumMember::NamedValue(n, _) => n.as_str(),
                    })
                    .collect(),
            ),
            ast::DataType::Set(members) => Some(members.iter().map(String::as_str).collect()),
            _ => None,
        };
        if let Some(labels) = labels {
            ty.args = labels
                .iter()
                .map(|l| format!("'{}'", l.replace('\'', "''")))
                .collect();
        }
        // A type named by an identifier is a user type unless the dialect knows the name: it
        // keeps its case and schema the way table names do (`"Priority"`, `billing.state`).
        if self.dialect.kind() == DialectKind::Postgres {
            if let Some(name) = named_type(data_type) {
                let qual = self.name(name);
                ty.name = qual.name;
                ty.schema = Some(qual.schema);
            }
        }
        self.dialect.canonical_type(ty)
    }

    pub fn expr(&self, expr: &Expr) -> ExprInfo {
        let mut info = ExprInfo {
            text: expr.to_string(),
            ..ExprInfo::default()
        };
        info.is_null = info.text.eq_ignore_ascii_case("null");
        info.bare_column = match expr {
            Expr::Identifier(i) => Some(self.ident(i)),
            Expr::Nested(inner) => match inner.as_ref() {
                Expr::Identifier(i) => Some(self.ident(i)),
                _ => None,
            },
            _ => None,
        };
        let _ = ast::visit_expressions(expr, |e| {
            match e {
                Expr::Function(f) => {
                    let name = f
                        .name
                        .0
                        .last()
                        .map(|p| match p {
                            ObjectNamePart::Identifier(i) => i.value.to_lowercase(),
                            other => other.to_string().to_lowercase(),
                        })
                        .unwrap_or_default();
                    info.functions.push(name);
                }
                Expr::Identifier(i) => info.columns.push(self.ident(i)),
                Expr::CompoundIdentifier(parts) => {
                    if let Some(last) = parts.last() {
                        info.columns.push(self.ident(last));
                    }
                }
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        info.columns.dedup();
        info
    }

    fn idents(&self, idents: &[ast::Ident]) -> Vec<String> {
        idents.iter().map(|i| self.ident(i)).collect()
    }

    fn tables_read(&self, node: &impl ast::Visit) -> Vec<QualName> {
        let mut out = Vec::new();
        let _ = ast::visit_relations(node, |rel| {
            let n = self.name(rel);
            if !out.contains(&n) {
                out.push(n);
            }
            ControlFlow::<()>::Continue(())
        });
        out
    }

    fn factor_name(&self, factor: &TableFactor) -> Option<QualName> {
        match factor {
            TableFactor::Table { name, .. } => Some(self.name(name)),
            _ => None,
        }
    }

    pub fn lower(&self, stmt: &Statement) -> Change {
        match stmt {
            Statement::CreateTable(ct) => self.create_table(ct),
            Statement::AlterTable(at) => self.alter_table(at),
            Statement::RenameTable(pairs) if pairs.len() == 1 => self.rename_table(&pairs[0]),
            Statement::CreateIndex(ci) => self.create_index(ci),
            Statement::Drop {
                object_type: ObjectType::Index,
                names,
                table: Some(table),
                ..
            } if names.len() == 1 => self.drop_table_index(table, &names[0]),
            Statement::AlterIndex { name, operation } => self.alter_index(name, operation),
            Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop_objects(object_type, *if_exists, names, *cascade),
            Statement::DropFunction(df) => self.drop_function(df),
            Statement::DropDomain(dd) => self.drop_domain(dd),
            Statement::AlterView(av) => self.alter_view(stmt, av),
            Statement::CreateType {
                name,
                representation,
            } => self.create_type(name, representation),
            Statement::AlterType(at) => self.alter_type(at),
            Statement::CreateDomain(d) => Change::CreateDomain {
                name: self.name(&d.name),
                base: self.sql_type(&d.data_type).0,
                has_constraints: !d.constraints.is_empty(),
            },
            Statement::CreateSequence { name, .. } => Change::CreateSequence {
                name: self.name(name),
            },
            Statement::CreateView(v) => self.create_view(v),
            Statement::RefreshMaterializedView(r) => Change::RefreshMaterializedView {
                name: self.name(&r.name),
                concurrently: r.concurrently,
            },
            Statement::CreateFunction(f) => self.create_function(stmt, f),
            Statement::CreateTrigger(t) => Change::CreateTrigger {
                name: self.last_part(&t.name),
                table: self.name(&t.table_name),
                or_replace: t.or_replace,
            },
            Statement::CreateRule(r) => Change::CreateRule {
                table: self.name(&r.table_name),
            },
            Statement::Truncate(t) => Change::Truncate {
                tables: t.table_names.iter().map(|t| self.name(&t.name)).collect(),
            },
            Statement::Lock(l) => Change::LockTable {
                tables: l.tables.iter().map(|t| self.name(&t.name)).collect(),
            },
            Statement::LockTables { tables } => self.lock_tables(tables),
            Statement::Update(u) => self.update(u),
            Statement::Delete(d) => self.delete(d),
            Statement::Insert(i) => self.insert(i),
            Statement::Vacuum(v) if v.full => Change::RewriteTable {
                table: v.table_name.as_ref().map(|n| self.name(n)),
                what: "VACUUM FULL".into(),
            },
            Statement::OptimizeTable { name, .. } => Change::RewriteTable {
                table: Some(self.name(name)),
                what: "OPTIMIZE TABLE".into(),
            },
            Statement::StartTransaction { statements, .. } if statements.is_empty() => {
                Change::Begin
            }
            Statement::StartTransaction { .. } => Change::ProceduralBlock,
            Statement::Commit { .. } => Change::Commit,
            Statement::Rollback {
                savepoint: None, ..
            } => Change::Rollback,
            Statement::Set(set) => self.set_variable(set),
            Statement::Query(q) => self.with_query(stmt, q),
            // MySQL `EXECUTE stmt [USING …]` runs a statement text built at run time
            // (`PREPARE stmt FROM @s`): it may be DDL, so it is procedural code the model cannot
            // follow, and backfill flags it like a `DO` block (see `sql::forms`).
            Statement::Execute { .. } if self.dialect.kind() != DialectKind::Postgres => {
                Change::ProceduralBlock
            }
            other => Change::NoSchemaEffect {
                what: statement_kind(other),
            },
        }
    }
}

/// The name of a type written as an identifier (`mood`, `billing.state`, `"Priority"[]`).
fn named_type(data_type: &ast::DataType) -> Option<&ObjectName> {
    match data_type {
        ast::DataType::Custom(name, _) => Some(name),
        ast::DataType::Array(
            ast::ArrayElemTypeDef::AngleBracket(inner)
            | ast::ArrayElemTypeDef::SquareBracket(inner, _)
            | ast::ArrayElemTypeDef::Parenthesis(inner)
            | ast::ArrayElemTypeDef::ParenthesisNotNull(inner)
            | ast::ArrayElemTypeDef::Qualified(inner, _),
        ) => named_type(inner),
        _ => None,
    }
}

/// The first words of a statement, for messages (`GRANT`, `COMMENT ON`).
fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}
