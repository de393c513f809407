//! CREATE TABLE, ALTER TABLE and MySQL's RENAME TABLE, lowered action by action. Apart from
//! the other statements because ALTER TABLE alone has dozens of actions, and MySQL adds its
//! own (column positions, inline indexes, character sets).

use sqlparser::ast::{
    self as ast, AlterColumnOperation, AlterTableOperation, ColumnOption, CreateTableLikeKind,
    TableConstraint,
};

use super::Lowerer;
use crate::change::{AlterOp, Change, CreateTable, QualName};

impl Lowerer<'_> {
    pub(super) fn create_table(&self, ct: &ast::CreateTable) -> Change {
        let like = ct.like.as_ref().map(|l| match l {
            CreateTableLikeKind::Parenthesized(l) | CreateTableLikeKind::Plain(l) => l,
        });
        let like_defaults = like
            .is_some_and(|l| matches!(l.defaults, Some(ast::CreateTableLikeDefaults::Including)));
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

    pub(super) fn alter_table(&self, at: &ast::AlterTable) -> Change {
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

    /// MySQL `RENAME TABLE a TO b` (one pair; a multi-pair swap stays untracked).
    pub(super) fn rename_table(&self, pair: &ast::RenameTable) -> Change {
        let table = self.name(&pair.old_name);
        let mut to = self.name(&pair.new_name);
        if pair.new_name.0.len() == 1 {
            to.schema = table.schema.clone();
        }
        Change::AlterTable {
            table,
            only: false,
            if_exists: false,
            ops: vec![AlterOp::RenameTable { to }],
        }
    }

    pub(super) fn alter_op(&self, table: &QualName, op: &AlterTableOperation) -> AlterOp {
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
    pub(super) fn column_position(&self, op: &AlterTableOperation) -> Option<AlterOp> {
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

    pub(super) fn mysql_index(&self, constraint: &TableConstraint) -> AlterOp {
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
