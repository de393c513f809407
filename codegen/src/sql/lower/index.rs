//! CREATE INDEX, ALTER INDEX and MySQL's `DROP INDEX i ON t`, and the names PostgreSQL
//! derives from an index's elements (for the generated names the model gives).

use sqlparser::ast::{self as ast, Expr, ObjectName};

use super::Lowerer;
use crate::change::{AlterOp, Change, CreateIndex, ExprInfo};

impl Lowerer<'_> {
    pub(super) fn create_index(&self, ci: &ast::CreateIndex) -> Change {
        let (columns, expressions) = self.index_columns(&ci.columns);
        let table = self.name(&ci.table_name);
        Change::CreateIndex(CreateIndex {
            name: ci.name.as_ref().map(|n| self.last_part(n)),
            table,
            unique: ci.unique,
            concurrently: ci.concurrently,
            if_not_exists: ci.if_not_exists,
            only: false,
            columns,
            expressions,
            predicate: ci.predicate.as_ref().map(|p| self.expr(p)),
            element_names: ci
                .columns
                .iter()
                .map(|c| self.index_element_name(&c.column.expr))
                .collect(),
        })
    }

    /// MySQL `DROP INDEX i ON t`: the index lives in the table's namespace.
    pub(super) fn drop_table_index(&self, table: &ObjectName, index: &ObjectName) -> Change {
        Change::AlterTable {
            table: self.name(table),
            only: false,
            if_exists: false,
            ops: vec![AlterOp::DropIndexOrKey {
                name: self.last_part(index),
            }],
        }
    }

    pub(super) fn alter_index(
        &self,
        name: &ObjectName,
        operation: &ast::AlterIndexOperation,
    ) -> Change {
        match operation {
            ast::AlterIndexOperation::RenameIndex { index_name } => Change::RenameIndex {
                from: self.name(name),
                to: self.last_part(index_name),
                if_exists: false,
            },
        }
    }

    pub(super) fn index_columns(&self, cols: &[ast::IndexColumn]) -> (Vec<String>, Vec<ExprInfo>) {
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        for c in cols {
            match &c.column.expr {
                Expr::Identifier(i) => names.push(self.ident(i)),
                other => exprs.push(self.expr(other)),
            }
        }
        (names, exprs)
    }

    /// PostgreSQL's `FigureIndexColname`: what an index element contributes to a generated
    /// index name.
    pub(super) fn index_element_name(&self, expr: &Expr) -> String {
        self.strong_element_name(expr)
            .unwrap_or_else(|| match expr {
                Expr::Cast { data_type, .. } => cast_type_name(data_type),
                Expr::Nested(inner) => self.index_element_name(inner),
                Expr::Case { .. } => "case".into(),
                Expr::Array(_) => "array".into(),
                _ => "expr".into(),
            })
    }

    /// A column reference or a function call: names that win over a cast's type.
    pub(super) fn strong_element_name(&self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::Identifier(i) => Some(self.ident(i)),
            Expr::CompoundIdentifier(parts) => parts.last().map(|i| self.ident(i)),
            Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => self.strong_element_name(inner),
            Expr::Collate { expr, .. } => self.strong_element_name(expr),
            Expr::Function(f) => f.name.0.last().map(|p| self.part(p)),
            Expr::AtTimeZone { .. } => Some("timezone".into()),
            Expr::Extract { .. } => Some("extract".into()),
            Expr::Substring { .. } => Some("substring".into()),
            Expr::Position { .. } => Some("position".into()),
            Expr::Ceil { .. } => Some("ceil".into()),
            Expr::Floor { .. } => Some("floor".into()),
            _ => None,
        }
    }
}

/// The type name PostgreSQL's parser gives a cast (`::integer` is `int4`), for index names.
fn cast_type_name(data_type: &ast::DataType) -> String {
    let text = data_type.to_string().to_ascii_lowercase();
    let base = text.split('(').next().unwrap_or_default().trim();
    match base {
        "int" | "integer" => "int4",
        "bigint" => "int8",
        "smallint" => "int2",
        "boolean" => "bool",
        "real" => "float4",
        "double precision" | "float" => "float8",
        "character varying" => "varchar",
        "character" | "char" => "bpchar",
        "decimal" => "numeric",
        "timestamp with time zone" => "timestamptz",
        "timestamp without time zone" => "timestamp",
        "time with time zone" => "timetz",
        "time without time zone" => "time",
        other => other.rsplit('.').next().unwrap_or(other),
    }
    .trim_matches('"')
    .to_string()
}
