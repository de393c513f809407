//! What the model derives from queries: the columns of `CREATE TABLE … AS SELECT`, the table
//! columns a view or materialized view reads, and indexes on materialized views.

use std::sync::Arc;

use super::{Column, Index, Schema, View};
use crate::change::{ColumnRef, CreateIndex, OutputSource, QualName, QueryShape};
use crate::types::SqlType;

/// The type of a `CREATE TABLE … AS` column the model cannot work out (an expression, a
/// column of a table it does not know): kept as a column of this type rather than dropped.
pub const UNKNOWN_TYPE: &str = "unknown";

impl Schema {
    fn same_column(&self, a: &str, b: &str) -> bool {
        if self.folds_column_case() {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    /// The tables a column reference resolves to: at the innermost scope level where a table
    /// has the column (a table the model does not know may have it). Empty when none does.
    pub fn resolve_ref(&self, r: &ColumnRef) -> Vec<QualName> {
        for level in &r.scopes {
            let hits: Vec<QualName> = level
                .iter()
                .filter(|t| match self.tables.get(*t) {
                    Some(table) => table
                        .columns
                        .iter()
                        .any(|c| self.same_column(&c.name, &r.column)),
                    // A view or an unknown relation: it may have the column.
                    None => true,
                })
                .cloned()
                .collect();
            if !hits.is_empty() {
                return hits;
            }
        }
        Vec::new()
    }

    /// Whether `view` reads column `column` of `table`: through its query's analysed
    /// references (subqueries, `EXISTS`, CTEs included); a `*` that reaches its result reads
    /// every column. `None` when the query could not be analysed.
    pub fn view_reads_column(&self, view: &View, table: &QualName, column: &str) -> Option<bool> {
        let shape = view.shape.as_ref()?;
        if !view.reads.contains(table) {
            return Some(false);
        }
        if shape.all_columns_of.contains(table) {
            return Some(true);
        }
        Some(
            shape.refs.iter().any(|r| {
                self.same_column(&r.column, column) && self.resolve_ref(r).contains(table)
            }),
        )
    }

    /// The columns of a `CREATE TABLE … AS SELECT`: names from the query, types from the
    /// model's tables or the casts; what cannot be resolved gets the type `unknown`. All
    /// nullable, no defaults: the server copies neither constraints nor defaults.
    pub(super) fn query_columns(&self, shape: &QueryShape) -> Vec<Column> {
        let column = |name: &str, ty: SqlType| Column {
            name: name.to_string(),
            ty,
            nullable: true,
            default: None,
            identity: false,
            generated: None,
            collation: None,
            charset: None,
        };
        let mut out: Vec<Column> = Vec::new();
        for o in &shape.outputs {
            match (&o.name, &o.source) {
                (_, OutputSource::Star(tables)) => {
                    for t in tables {
                        if let Some(table) = self.tables.get(t) {
                            out.extend(table.columns.iter().map(|c| column(&c.name, c.ty.clone())));
                        }
                    }
                }
                (Some(name), OutputSource::Cast(ty)) => out.push(column(name, ty.clone())),
                (Some(name), OutputSource::Column(r)) => {
                    let ty = self
                        .resolve_ref(r)
                        .first()
                        .and_then(|t| self.tables.get(t))
                        .and_then(|t| {
                            t.columns
                                .iter()
                                .find(|c| self.same_column(&c.name, &r.column))
                                .map(|c| c.ty.clone())
                        })
                        .unwrap_or_else(|| SqlType::new(UNKNOWN_TYPE));
                    out.push(column(name, ty));
                }
                (Some(name), OutputSource::Unknown) => {
                    out.push(column(name, SqlType::new(UNKNOWN_TYPE)))
                }
                (None, _) => {}
            }
        }
        out
    }

    /// `CREATE INDEX … ON matview`: PostgreSQL indexes materialized views like tables.
    pub(super) fn index_materialized_view(
        &mut self,
        ci: &CreateIndex,
        warn: &mut impl FnMut(String),
    ) {
        let name = match &ci.name {
            Some(n) => n.clone(),
            None => self.generated_index_name(&ci.table, &ci.element_names),
        };
        let key = QualName::new(ci.table.schema.clone(), name);
        if self.indexes.contains_key(&key) {
            if !ci.if_not_exists {
                warn(format!("index `{key}` already exists in the model"));
            }
            return;
        }
        self.indexes.insert(
            key.clone(),
            Arc::new(Index {
                name: key,
                table: ci.table.clone(),
                unique: ci.unique,
                columns: ci.columns.clone(),
                expressions: ci.expressions.clone(),
                predicate: ci.predicate.clone(),
                valid: true,
                element_names: ci.element_names.clone(),
                parent: None,
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::change::QualName;
    use crate::dialect::DialectKind;
    use crate::model::Schema;
    use crate::source::SourceFile;

    fn replay(sql: &str) -> (Schema, Vec<String>) {
        let file = SourceFile::new("t.sql", "t.sql".into(), sql.to_string());
        let parsed = crate::sql::parse_file(&file, DialectKind::Postgres.dialect());
        let mut schema = Schema::default();
        let mut warnings = Vec::new();
        for s in &parsed.statements {
            warnings.extend(schema.apply(&s.change).into_iter().map(|w| w.0));
        }
        (schema, warnings)
    }

    fn q(name: &str) -> QualName {
        QualName::new("public", name)
    }

    #[test]
    fn create_table_as_select_has_the_querys_columns() {
        let (s, w) = replay("CREATE TABLE t (a text NOT NULL, b text, n numeric(10,2));\nCREATE TABLE q AS SELECT a, b::int AS c, t.n, n * 2 AS twice, lower(a) FROM t;\nCREATE TABLE r AS SELECT * FROM t;");
        assert!(w.is_empty(), "{w:?}");
        let cols: Vec<(String, String)> = s.tables[&q("q")]
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.to_string()))
            .collect();
        assert_eq!(
            cols,
            [
                ("a".to_string(), "text".to_string()),
                ("c".into(), "integer".into()),
                ("n".into(), "numeric(10,2)".into()),
                ("twice".into(), "unknown".into()),
                ("lower".into(), "unknown".into()),
            ]
        );
        assert!(
            s.tables[&q("q")].columns[0].nullable,
            "CTAS copies no NOT NULL"
        );
        let names: Vec<&str> = s.tables[&q("r")]
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "n"]);
    }

    #[test]
    fn materialized_views_are_modelled_with_their_indexes() {
        let (s, w) = replay("CREATE TABLE t (id int PRIMARY KEY, a text);\nCREATE MATERIALIZED VIEW mv AS SELECT id, a FROM t;\nCREATE UNIQUE INDEX mv_id ON mv (id);\nREFRESH MATERIALIZED VIEW CONCURRENTLY mv;");
        assert!(w.is_empty(), "{w:?}");
        assert!(s.views[&q("mv")].materialized);
        assert_eq!(s.indexes_of(&q("mv")).count(), 1);
        let (s, w) = replay("CREATE TABLE t (id int PRIMARY KEY);\nCREATE MATERIALIZED VIEW mv AS SELECT id FROM t;\nCREATE INDEX mv_id ON mv (id);\nDROP MATERIALIZED VIEW mv;\nREFRESH MATERIALIZED VIEW gone;");
        assert!(s.views.is_empty() && s.indexes_of(&q("mv")).count() == 0);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("`gone`"), "{w:?}");
    }

    #[test]
    fn view_column_dependencies_go_through_subqueries_exists_and_ctes() {
        let (s, _) = replay(
            "CREATE TABLE users (id int PRIMARY KEY, email text, name text, note text);\n\
             CREATE TABLE orders (id int PRIMARY KEY, user_id int, total int, note text);\n\
             CREATE VIEW buyers AS SELECT u.id, u.name FROM users u WHERE EXISTS (SELECT * FROM orders o WHERE o.user_id = u.id);\n\
             CREATE VIEW big AS WITH t AS (SELECT user_id, sum(total) AS s FROM orders GROUP BY user_id) SELECT id, s FROM users JOIN t ON t.user_id = users.id;\n\
             CREATE VIEW notes AS SELECT id, (SELECT max(total) FROM orders WHERE orders.user_id = users.id) AS top FROM users WHERE note IS NOT NULL;\n\
             CREATE VIEW everything AS SELECT * FROM (SELECT id FROM orders) o, users;",
        );
        let reads =
            |v: &str, t: &str, c: &str| s.view_reads_column(&s.views[&q(v)], &q(t), c).unwrap();
        // EXISTS (SELECT * …) reads only what its WHERE names.
        assert!(reads("buyers", "orders", "user_id"));
        assert!(!reads("buyers", "orders", "total"));
        assert!(!reads("buyers", "orders", "note"));
        assert!(!reads("buyers", "users", "email"));
        assert!(reads("buyers", "users", "name"));
        // Through a CTE.
        assert!(reads("big", "orders", "total"));
        assert!(!reads("big", "orders", "note"));
        assert!(!reads("big", "users", "name"));
        // An unqualified `note` in the outer query is users', not orders'.
        assert!(reads("notes", "users", "note"));
        assert!(!reads("notes", "orders", "note"));
        assert!(reads("notes", "orders", "total"));
        // `*` over users reaches the result; orders only gives `id`.
        assert!(reads("everything", "users", "email"));
        assert!(reads("everything", "orders", "id"));
        assert!(!reads("everything", "orders", "total"));
    }
}
