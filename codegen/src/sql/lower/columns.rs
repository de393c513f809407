//! Column and constraint definitions, as CREATE TABLE and ALTER TABLE ... ADD state them.

use sqlparser::ast::{
    self as ast, ColumnOption, Expr, GeneratedAs, GeneratedExpressionMode, TableConstraint,
};

use super::Lowerer;
use crate::change::{ColumnSpec, ConstraintKind, ConstraintSpec, Generated};

impl Lowerer<'_> {
    pub(super) fn constraint(
        &self,
        c: &TableConstraint,
        not_valid: bool,
    ) -> Option<ConstraintSpec> {
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

    pub(super) fn check_kind(&self, expr: &Expr) -> ConstraintKind {
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

    pub(super) fn column(&self, def: &ast::ColumnDef) -> ColumnSpec {
        let options: Vec<&ColumnOption> = def.options.iter().map(|o| &o.option).collect();
        let names: Vec<Option<&ast::Ident>> = def.options.iter().map(|o| o.name.as_ref()).collect();
        self.column_from_parts(&def.name, &def.data_type, &options, &names)
    }

    pub(super) fn column_from_parts(
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
}
