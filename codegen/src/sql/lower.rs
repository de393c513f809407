//! sqlparser's AST → concertina's [`Change`]. The only module that reads sqlparser's statement
//! types: a sqlparser upgrade is absorbed here.

use std::ops::ControlFlow;

use sqlparser::ast::{
    self as ast, AlterColumnOperation, AlterTableOperation, AlterTypeOperation, ColumnOption,
    CreateFunctionBody, CreateTableLikeKind, Expr, GeneratedAs, GeneratedExpressionMode,
    ObjectName, ObjectNamePart, ObjectType, Statement, TableConstraint, TableFactor,
    UserDefinedTypeRepresentation,
};

use crate::change::{
    AlterOp, Assignment, Change, ColumnSpec, ConstraintKind, ConstraintSpec, CreateIndex,
    CreateTable, ExprInfo, Generated, LabelPosition, ObjectKind, QualName, UpdateParts, Volatility,
};
use crate::dialect::{Dialect, DialectKind};
use crate::types::SqlType;

mod shape;

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

    fn index_columns(&self, cols: &[ast::IndexColumn]) -> (Vec<String>, Vec<ExprInfo>) {
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
    fn index_element_name(&self, expr: &Expr) -> String {
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
    fn strong_element_name(&self, expr: &Expr) -> Option<String> {
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

    fn constraint(&self, c: &TableConstraint, not_valid: bool) -> Option<ConstraintSpec> {
        let (name, kind) = match c {
            TableConstraint::PrimaryKey(pk) => (
                pk.name.as_ref(),
                ConstraintKind::PrimaryKey {
                    columns: self.index_columns(&pk.columns).0,
                    using_index: None,
                },
            ),
            // MySQL names the index (and so the constraint) `KEY k` over `CONSTRAINT c`.
            TableConstraint::Unique(u) => (
                u.index_name.as_ref().or(u.name.as_ref()),
                ConstraintKind::Unique {
                    columns: self.index_columns(&u.columns).0,
                    using_index: None,
                },
            ),
            TableConstraint::ForeignKey(fk) => (
                fk.name.as_ref(),
                ConstraintKind::ForeignKey {
                    columns: self.idents(&fk.columns),
                    ref_table: self.name(&fk.foreign_table),
                    ref_columns: self.idents(&fk.referred_columns),
                },
            ),
            TableConstraint::Check(ck) => (ck.name.as_ref(), self.check_kind(&ck.expr)),
            TableConstraint::PrimaryKeyUsingIndex(u) => (
                u.name.as_ref(),
                ConstraintKind::PrimaryKey {
                    columns: Vec::new(),
                    using_index: Some(self.ident(&u.index_name)),
                },
            ),
            TableConstraint::UniqueUsingIndex(u) => (
                u.name.as_ref(),
                ConstraintKind::Unique {
                    columns: Vec::new(),
                    using_index: Some(self.ident(&u.index_name)),
                },
            ),
            TableConstraint::Exclude(e) => (e.name.as_ref(), ConstraintKind::Exclude),
            // MySQL inline `INDEX`/`KEY`/`FULLTEXT`: indexes, not constraints.
            TableConstraint::Index(_) | TableConstraint::FulltextOrSpatial(_) => return None,
        };
        Some(ConstraintSpec {
            name: name.map(|n| self.ident(n)),
            kind,
            not_valid,
        })
    }

    fn check_kind(&self, expr: &Expr) -> ConstraintKind {
        let not_null_of = match expr {
            Expr::IsNotNull(inner) => match inner.as_ref() {
                Expr::Identifier(i) => Some(self.ident(i)),
                _ => None,
            },
            _ => None,
        };
        ConstraintKind::Check {
            expr: self.expr(expr),
            not_null_of,
        }
    }

    fn column(&self, def: &ast::ColumnDef) -> ColumnSpec {
        let options: Vec<&ColumnOption> = def.options.iter().map(|o| &o.option).collect();
        let names: Vec<Option<&ast::Ident>> = def.options.iter().map(|o| o.name.as_ref()).collect();
        self.column_from_parts(&def.name, &def.data_type, &options, &names)
    }

    fn column_from_parts(
        &self,
        name: &ast::Ident,
        data_type: &ast::DataType,
        options: &[&ColumnOption],
        option_names: &[Option<&ast::Ident>],
    ) -> ColumnSpec {
        let column = self.ident(name);
        let (ty, serial) = self.sql_type(data_type);
        let type_is_user_defined = matches!(data_type, ast::DataType::Custom(..));
        let mut spec = ColumnSpec {
            name: column.clone(),
            ty,
            not_null: false,
            default: None,
            serial,
            identity: false,
            generated: None,
            collation: None,
            charset: None,
            constraints: Vec::new(),
            type_is_user_defined,
        };
        for (i, opt) in options.iter().enumerate() {
            let cname = option_names
                .get(i)
                .copied()
                .flatten()
                .map(|n| self.ident(n));
            let push = |spec: &mut ColumnSpec, kind| {
                spec.constraints.push(ConstraintSpec {
                    name: cname.clone(),
                    kind,
                    not_valid: false,
                })
            };
            match opt {
                ColumnOption::NotNull => spec.not_null = true,
                ColumnOption::Null => spec.not_null = false,
                ColumnOption::Default(e) => spec.default = Some(self.expr(e)),
                ColumnOption::PrimaryKey(_) => push(
                    &mut spec,
                    ConstraintKind::PrimaryKey {
                        columns: vec![column.clone()],
                        using_index: None,
                    },
                ),
                ColumnOption::Unique(_) => push(
                    &mut spec,
                    ConstraintKind::Unique {
                        columns: vec![column.clone()],
                        using_index: None,
                    },
                ),
                ColumnOption::ForeignKey(fk) => push(
                    &mut spec,
                    ConstraintKind::ForeignKey {
                        columns: vec![column.clone()],
                        ref_table: self.name(&fk.foreign_table),
                        ref_columns: self.idents(&fk.referred_columns),
                    },
                ),
                ColumnOption::Check(ck) => {
                    let kind = self.check_kind(&ck.expr);
                    push(&mut spec, kind)
                }
                ColumnOption::Collation(c) => spec.collation = Some(c.to_string()),
                ColumnOption::CharacterSet(c) => {
                    spec.charset = Some(c.to_string().trim_matches(['`', '\'', '"']).to_lowercase())
                }
                ColumnOption::Generated {
                    generated_as,
                    generation_expr,
                    generation_expr_mode,
                    ..
                } => match generation_expr {
                    Some(e) => {
                        spec.generated = Some(Generated {
                            expr: self.expr(e),
                            stored: match (generation_expr_mode, generated_as) {
                                (Some(GeneratedExpressionMode::Stored), _) => Some(true),
                                (_, GeneratedAs::ExpStored) => Some(true),
                                (Some(GeneratedExpressionMode::Virtual), _) => Some(false),
                                _ => None,
                            },
                        })
                    }
                    None => spec.identity = true,
                },
                ColumnOption::Identity(_) => spec.identity = true,
                ColumnOption::DialectSpecific(tokens)
                    if tokens.iter().any(|t| {
                        t.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")
                            || t.to_string().eq_ignore_ascii_case("AUTOINCREMENT")
                    }) =>
                {
                    spec.identity = true;
                }
                _ => {}
            }
        }
        spec
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
            Statement::CreateTable(ct) => {
                let like = ct.like.as_ref().map(|l| match l {
                    CreateTableLikeKind::Parenthesized(l) | CreateTableLikeKind::Plain(l) => l,
                });
                let like_defaults = like.is_some_and(|l| {
                    matches!(l.defaults, Some(ast::CreateTableLikeDefaults::Including))
                });
                let like = like.map(|l| self.name(&l.name));
                Change::CreateTable(CreateTable {
                    name: self.name(&ct.name),
                    columns: ct.columns.iter().map(|c| self.column(c)).collect(),
                    constraints: ct
                        .constraints
                        .iter()
                        .filter_map(|c| self.constraint(c, false))
                        .collect(),
                    if_not_exists: ct.if_not_exists,
                    temporary: ct.temporary,
                    partitioned: ct.partition_by.is_some(),
                    partition_of: ct.partition_of.as_ref().map(|p| self.name(p)),
                    as_select_from: ct.query.as_ref().map(|q| self.tables_read(q.as_ref())),
                    as_select_shape: ct.query.as_ref().map(|q| self.query_shape(q)),
                    like,
                    like_defaults,
                    indexes: ct
                        .constraints
                        .iter()
                        .filter(|c| {
                            matches!(
                                c,
                                TableConstraint::Index(_) | TableConstraint::FulltextOrSpatial(_)
                            )
                        })
                        .map(|c| self.mysql_index(c))
                        .collect(),
                    charset: table_charset(&ct.table_options),
                })
            }
            Statement::AlterTable(at) => {
                let table = self.name(&at.name);
                let ops = at
                    .operations
                    .iter()
                    .flat_map(|op| {
                        let mut ops = vec![self.alter_op(&table, op)];
                        ops.extend(self.column_position(op));
                        ops
                    })
                    .collect();
                Change::AlterTable {
                    table,
                    only: at.only,
                    if_exists: at.if_exists,
                    ops,
                }
            }
            Statement::CreateIndex(ci) => {
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
            // MySQL `DROP INDEX i ON t`: the index lives in the table's namespace.
            Statement::Drop {
                object_type: ObjectType::Index,
                names,
                table: Some(table),
                ..
            } if names.len() == 1 => Change::AlterTable {
                table: self.name(table),
                only: false,
                if_exists: false,
                ops: vec![AlterOp::DropIndexOrKey {
                    name: self.last_part(&names[0]),
                }],
            },
            Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => Change::DropObjects {
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
                if_exists: *if_exists,
                cascade: *cascade,
                concurrently: false,
            },
            Statement::DropFunction(df) => Change::DropObjects {
                kind: ObjectKind::Function,
                names: df.func_desc.iter().map(|f| self.name(&f.name)).collect(),
                if_exists: df.if_exists,
                cascade: matches!(df.drop_behavior, Some(ast::DropBehavior::Cascade)),
                concurrently: false,
            },
            Statement::DropDomain(dd) => Change::DropObjects {
                kind: ObjectKind::Domain,
                names: vec![self.name(&dd.name)],
                if_exists: dd.if_exists,
                cascade: matches!(dd.drop_behavior, Some(ast::DropBehavior::Cascade)),
                concurrently: false,
            },
            // A view renamed or moved: the model renames it like a table.
            Statement::AlterView(av) => {
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
            Statement::AlterIndex { name, operation } => match operation {
                ast::AlterIndexOperation::RenameIndex { index_name } => Change::RenameIndex {
                    from: self.name(name),
                    to: self.last_part(index_name),
                    if_exists: false,
                },
            },
            Statement::CreateType {
                name,
                representation,
            } => match representation {
                Some(UserDefinedTypeRepresentation::Enum { labels }) => Change::CreateEnum {
                    name: self.name(name),
                    labels: labels.iter().map(|l| l.value.clone()).collect(),
                },
                _ => Change::CreateType {
                    name: self.name(name),
                },
            },
            Statement::AlterType(at) => {
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
            Statement::CreateDomain(d) => Change::CreateDomain {
                name: self.name(&d.name),
                base: self.sql_type(&d.data_type).0,
                has_constraints: !d.constraints.is_empty(),
            },
            Statement::CreateSequence { name, .. } => Change::CreateSequence {
                name: self.name(name),
            },
            Statement::CreateView(v) => Change::CreateView {
                name: self.name(&v.name),
                materialized: v.materialized,
                or_replace: v.or_replace,
                reads: self.tables_read(v.query.as_ref()),
                query: v.query.to_string(),
                shape: Some(self.query_shape(&v.query)),
            },
            Statement::RefreshMaterializedView(r) => Change::RefreshMaterializedView {
                name: self.name(&r.name),
                concurrently: r.concurrently,
            },
            Statement::CreateFunction(f) => Change::CreateFunction {
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
            },
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
            Statement::LockTables { tables } => Change::LockTable {
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
            },
            Statement::Update(u) => match self.factor_name(&u.table.relation) {
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
            },
            Statement::Delete(d) => {
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
            Statement::Insert(i) => match &i.table {
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
            },
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
            Statement::Set(set) => match set {
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
            },
            // `WITH … INSERT/UPDATE/DELETE`: the data change, reading the CTEs' tables.
            Statement::Query(q) => match q.body.as_ref() {
                ast::SetExpr::Insert(inner)
                | ast::SetExpr::Update(inner)
                | ast::SetExpr::Delete(inner) => {
                    let mut change = self.lower(inner);
                    if let (Change::Insert { select_from, .. }, Some(with)) = (&mut change, &q.with)
                    {
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
            },
            // MySQL `RENAME TABLE a TO b` (one pair; a multi-pair swap stays untracked).
            Statement::RenameTable(pairs) if pairs.len() == 1 => {
                let table = self.name(&pairs[0].old_name);
                let mut to = self.name(&pairs[0].new_name);
                if pairs[0].new_name.0.len() == 1 {
                    to.schema = table.schema.clone();
                }
                Change::AlterTable {
                    table,
                    only: false,
                    if_exists: false,
                    ops: vec![AlterOp::RenameTable { to }],
                }
            }
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

    fn alter_op(&self, table: &QualName, op: &AlterTableOperation) -> AlterOp {
        match op {
            AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                ..
            } => AlterOp::AddColumn {
                column: self.column(column_def),
                if_not_exists: *if_not_exists,
            },
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                drop_behavior,
                ..
            } => match column_names.as_slice() {
                [one] => AlterOp::DropColumn {
                    name: self.ident(one),
                    if_exists: *if_exists,
                    cascade: matches!(drop_behavior, Some(ast::DropBehavior::Cascade)),
                },
                _ => AlterOp::Other {
                    text: op.to_string(),
                },
            },
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => AlterOp::RenameColumn {
                from: self.ident(old_column_name),
                to: self.ident(new_column_name),
            },
            AlterTableOperation::RenameTable { table_name } => {
                let n = match table_name {
                    ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => n,
                };
                let mut to = self.name(n);
                if n.0.len() == 1 {
                    to.schema = table.schema.clone();
                }
                AlterOp::RenameTable { to }
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let column = self.ident(column_name);
                match op {
                    AlterColumnOperation::SetNotNull => AlterOp::SetNotNull { column },
                    AlterColumnOperation::DropNotNull => AlterOp::DropNotNull { column },
                    AlterColumnOperation::SetDefault { value } => AlterOp::SetDefault {
                        column,
                        default: self.expr(value),
                    },
                    AlterColumnOperation::DropDefault => AlterOp::DropDefault { column },
                    AlterColumnOperation::SetDataType {
                        data_type, using, ..
                    } => AlterOp::AlterColumnType {
                        // `USING col` is what no `USING` does (measured: no rewrite).
                        using: using.as_ref().is_some_and(|e| {
                            self.expr(e).bare_column.as_deref() != Some(column.as_str())
                        }),
                        column,
                        ty: self.sql_type(data_type).0,
                        collation: None,
                    },
                    AlterColumnOperation::AddGenerated { .. } => AlterOp::AddIdentity { column },
                    AlterColumnOperation::GenericOptions { .. } => AlterOp::Other {
                        text: op.to_string(),
                    },
                }
            }
            AlterTableOperation::AddConstraint {
                constraint,
                not_valid,
            } => match constraint {
                TableConstraint::Index(_) | TableConstraint::FulltextOrSpatial(_) => {
                    self.mysql_index(constraint)
                }
                _ => match self.constraint(constraint, *not_valid) {
                    Some(c) => AlterOp::AddConstraint(c),
                    None => AlterOp::Other {
                        text: op.to_string(),
                    },
                },
            },
            AlterTableOperation::ValidateConstraint { name } => AlterOp::ValidateConstraint {
                name: self.ident(name),
            },
            AlterTableOperation::DropConstraint {
                if_exists,
                name,
                drop_behavior,
            } => AlterOp::DropConstraint {
                name: self.ident(name),
                if_exists: *if_exists,
                cascade: matches!(drop_behavior, Some(ast::DropBehavior::Cascade)),
            },
            AlterTableOperation::RenameConstraint { old_name, new_name } => {
                AlterOp::RenameConstraint {
                    from: self.ident(old_name),
                    to: self.ident(new_name),
                }
            }
            AlterTableOperation::AttachPartitionOf {
                partition,
                for_values,
            } => {
                let bound = for_values.to_string();
                AlterOp::AttachPartition {
                    partition: self.name(partition),
                    is_default: bound.trim().eq_ignore_ascii_case("default"),
                    bound,
                }
            }
            AlterTableOperation::DetachPartitionOf { partition, mode } => {
                AlterOp::DetachPartition {
                    partition: self.name(partition),
                    concurrently: matches!(mode, Some(ast::DetachPartitionMode::Concurrently)),
                    finalize: matches!(mode, Some(ast::DetachPartitionMode::Finalize)),
                }
            }
            AlterTableOperation::SetLogged => AlterOp::Rewrite {
                what: "SET LOGGED".into(),
            },
            AlterTableOperation::SetUnlogged => AlterOp::Rewrite {
                what: "SET UNLOGGED".into(),
            },
            AlterTableOperation::EnableTrigger { .. }
            | AlterTableOperation::DisableTrigger { .. }
            | AlterTableOperation::EnableAlwaysTrigger { .. }
            | AlterTableOperation::EnableReplicaTrigger { .. }
            | AlterTableOperation::EnableRule { .. }
            | AlterTableOperation::DisableRule { .. }
            | AlterTableOperation::EnableAlwaysRule { .. }
            | AlterTableOperation::EnableReplicaRule { .. } => AlterOp::TriggerToggle {
                text: op.to_string(),
            },
            AlterTableOperation::ModifyColumn {
                col_name,
                data_type,
                options,
                ..
            } => {
                let opts: Vec<&ColumnOption> = options.iter().collect();
                AlterOp::ModifyColumn {
                    old_name: self.ident(col_name),
                    column: self.column_from_parts(col_name, data_type, &opts, &[]),
                }
            }
            AlterTableOperation::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                ..
            } => {
                let opts: Vec<&ColumnOption> = options.iter().collect();
                AlterOp::ModifyColumn {
                    old_name: self.ident(old_name),
                    column: self.column_from_parts(new_name, data_type, &opts, &[]),
                }
            }
            AlterTableOperation::DropPrimaryKey { .. } => AlterOp::DropPrimaryKey,
            // The foreign key goes, the index MySQL made for it stays.
            AlterTableOperation::DropForeignKey { name, .. } => AlterOp::DropConstraint {
                name: self.ident(name),
                if_exists: false,
                cascade: false,
            },
            AlterTableOperation::DropIndex { name } => AlterOp::DropIndexOrKey {
                name: self.ident(name),
            },
            AlterTableOperation::Algorithm { algorithm, .. } => {
                AlterOp::Algorithm(algorithm.to_string().to_ascii_uppercase())
            }
            AlterTableOperation::Lock { lock, .. } => {
                AlterOp::Lock(lock.to_string().to_ascii_uppercase())
            }
            other => AlterOp::Other {
                text: other.to_string(),
            },
        }
    }

    /// MySQL `FIRST` / `AFTER col` of a column action, as its own step.
    fn column_position(&self, op: &AlterTableOperation) -> Option<AlterOp> {
        let (column, position) = match op {
            AlterTableOperation::AddColumn {
                column_def,
                column_position,
                ..
            } => (&column_def.name, column_position),
            AlterTableOperation::ModifyColumn {
                col_name,
                column_position,
                ..
            } => (col_name, column_position),
            AlterTableOperation::ChangeColumn {
                new_name,
                column_position,
                ..
            } => (new_name, column_position),
            _ => return None,
        };
        let after = match position.as_ref()? {
            ast::MySQLColumnPosition::First => None,
            ast::MySQLColumnPosition::After(c) => Some(self.ident(c)),
        };
        Some(AlterOp::MoveColumn {
            column: self.ident(column),
            after,
        })
    }

    fn mysql_index(&self, constraint: &TableConstraint) -> AlterOp {
        match constraint {
            TableConstraint::Index(i) => AlterOp::AddIndex {
                name: i.name.as_ref().map(|n| self.ident(n)),
                columns: self.index_columns(&i.columns).0,
                unique: false,
                kind: "INDEX".into(),
            },
            TableConstraint::FulltextOrSpatial(f) => AlterOp::AddIndex {
                name: f.opt_index_name.as_ref().map(|n| self.ident(n)),
                columns: self.index_columns(&f.columns).0,
                unique: false,
                kind: if f.fulltext { "FULLTEXT" } else { "SPATIAL" }.into(),
            },
            other => AlterOp::Other {
                text: other.to_string(),
            },
        }
    }
}

/// A MySQL table's default character set from its options (`DEFAULT CHARSET=x`,
/// `CHARACTER SET x`, or the character set a `COLLATE=x` names).
fn table_charset(options: &ast::CreateTableOptions) -> Option<String> {
    let list = match options {
        ast::CreateTableOptions::None => return None,
        ast::CreateTableOptions::With(l)
        | ast::CreateTableOptions::Options(l)
        | ast::CreateTableOptions::Plain(l)
        | ast::CreateTableOptions::TableProperties(l) => l,
    };
    let value = |text: &str, key: &str| {
        let upper = text.to_ascii_uppercase();
        let at = upper.find(key)? + key.len();
        let rest = text[at..].trim_start().trim_start_matches('=').trim();
        let word: String = rest
            .trim_matches(['\'', '"', '`'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (!word.is_empty()).then(|| word.to_lowercase())
    };
    let texts: Vec<String> = list.iter().map(ToString::to_string).collect();
    texts
        .iter()
        .find_map(|t| value(t, "CHARSET").or_else(|| value(t, "CHARACTER SET")))
        .or_else(|| {
            texts
                .iter()
                .find_map(|t| value(t, "COLLATE"))
                .and_then(|c| c.split('_').next().map(str::to_string))
        })
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
