//! Statements on schema objects other than tables and indexes: DROP of any kind, views,
//! types and enums, functions.

use sqlparser::ast::{
    self as ast, AlterTypeOperation, CreateFunctionBody, ObjectName, ObjectType, Statement,
    UserDefinedTypeRepresentation,
};

use super::{statement_kind, Lowerer};
use crate::change::{AlterOp, Change, LabelPosition, ObjectKind, QualName, Volatility};

impl Lowerer<'_> {
    pub(super) fn drop_objects(
        &self,
        object_type: &ObjectType,
        if_exists: bool,
        names: &[ObjectName],
        cascade: bool,
    ) -> Change {
        Change::DropObjects {
            kind: match object_type {
                ObjectType::Table => ObjectKind::Table,
                ObjectType::View => ObjectKind::View,
                ObjectType::MaterializedView => ObjectKind::MaterializedView,
                ObjectType::Index => ObjectKind::Index,
                ObjectType::Sequence => ObjectKind::Sequence,
                ObjectType::Type => ObjectKind::Type,
                ObjectType::Schema => ObjectKind::Schema,
                _ => ObjectKind::Other,
            },
            names: names.iter().map(|n| self.name(n)).collect(),
            if_exists,
            cascade,
            concurrently: false,
        }
    }

    pub(super) fn drop_function(&self, df: &ast::DropFunction) -> Change {
        Change::DropObjects {
            kind: ObjectKind::Function,
            names: df.func_desc.iter().map(|f| self.name(&f.name)).collect(),
            if_exists: df.if_exists,
            cascade: matches!(df.drop_behavior, Some(ast::DropBehavior::Cascade)),
            concurrently: false,
        }
    }

    pub(super) fn drop_domain(&self, dd: &ast::DropDomain) -> Change {
        Change::DropObjects {
            kind: ObjectKind::Domain,
            names: vec![self.name(&dd.name)],
            if_exists: dd.if_exists,
            cascade: matches!(dd.drop_behavior, Some(ast::DropBehavior::Cascade)),
            concurrently: false,
        }
    }

    /// A view renamed or moved: the model renames it like a table.
    pub(super) fn alter_view(&self, stmt: &Statement, av: &ast::AlterView) -> Change {
        let table = self.name(&av.name);
        let to = match &av.operation {
            ast::AlterViewOperation::RenameTo { new_name } => {
                let mut to = self.name(new_name);
                if new_name.0.len() == 1 {
                    to.schema = table.schema.clone();
                }
                Some(to)
            }
            ast::AlterViewOperation::SetSchema { schema_name } => Some(QualName::new(
                self.last_part(schema_name),
                table.name.clone(),
            )),
            _ => None,
        };
        match to {
            Some(to) => Change::AlterTable {
                table,
                only: false,
                if_exists: av.if_exists,
                ops: vec![AlterOp::RenameTable { to }],
            },
            None => Change::NoSchemaEffect {
                what: statement_kind(stmt),
            },
        }
    }

    pub(super) fn create_type(
        &self,
        name: &ObjectName,
        representation: &Option<UserDefinedTypeRepresentation>,
    ) -> Change {
        match representation {
            Some(UserDefinedTypeRepresentation::Enum { labels }) => Change::CreateEnum {
                name: self.name(name),
                labels: labels.iter().map(|l| l.value.clone()).collect(),
            },
            _ => Change::CreateType {
                name: self.name(name),
            },
        }
    }

    pub(super) fn alter_type(&self, at: &ast::AlterType) -> Change {
        let name = self.name(&at.name);
        match &at.operation {
            AlterTypeOperation::AddValue(v) => Change::AddEnumValue {
                name,
                label: v.value.value.clone(),
                if_not_exists: v.if_not_exists,
                position: v.position.as_ref().map(|p| match p {
                    ast::AlterTypeAddValuePosition::Before(l) => {
                        LabelPosition::Before(l.value.clone())
                    }
                    ast::AlterTypeAddValuePosition::After(l) => {
                        LabelPosition::After(l.value.clone())
                    }
                }),
            },
            AlterTypeOperation::RenameValue(v) => Change::RenameEnumValue {
                name,
                from: v.from.value.clone(),
                to: v.to.value.clone(),
            },
            AlterTypeOperation::Rename(r) => Change::RenameType {
                from: name,
                to: self.ident(&r.new_name),
            },
        }
    }

    pub(super) fn create_view(&self, v: &ast::CreateView) -> Change {
        Change::CreateView {
            name: self.name(&v.name),
            materialized: v.materialized,
            or_replace: v.or_replace,
            reads: self.tables_read(v.query.as_ref()),
            query: v.query.to_string(),
            shape: Some(self.query_shape(&v.query)),
        }
    }

    pub(super) fn create_function(&self, stmt: &Statement, f: &ast::CreateFunction) -> Change {
        Change::CreateFunction {
            name: self.name(&f.name),
            or_replace: f.or_replace,
            volatility: f.behavior.as_ref().map(|b| match b {
                ast::FunctionBehavior::Immutable => Volatility::Immutable,
                ast::FunctionBehavior::Stable => Volatility::Stable,
                ast::FunctionBehavior::Volatile => Volatility::Volatile,
            }),
            body: match &f.function_body {
                Some(
                    CreateFunctionBody::AsBeforeOptions { body, .. }
                    | CreateFunctionBody::AsAfterOptions(body)
                    | CreateFunctionBody::Return(body),
                ) => body.to_string(),
                Some(_) => stmt.to_string(),
                None => String::new(),
            },
        }
    }
}
