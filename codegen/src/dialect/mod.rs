//! One module per SQL dialect behind one trait: parsing, identifier rules, type spelling and
//! the dialect's lock rules. Nothing outside `dialect` and `rules` may assume PostgreSQL.

mod mysql;
mod postgres;

use crate::types::SqlType;

pub use mysql::MySql;
pub use postgres::Postgres;

/// The SQL dialect a project's migrations are written for. PostgreSQL where none is said
/// (an empty [`crate::model::Schema`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DialectKind {
    #[default]
    Postgres,
    MySql,
    MariaDb,
}

impl DialectKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(DialectKind::Postgres),
            "mysql" => Some(DialectKind::MySql),
            "mariadb" => Some(DialectKind::MariaDb),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DialectKind::Postgres => "postgres",
            DialectKind::MySql => "mysql",
            DialectKind::MariaDb => "mariadb",
        }
    }

    pub fn dialect(self) -> &'static dyn Dialect {
        match self {
            DialectKind::Postgres => &Postgres,
            DialectKind::MySql => &MySql { mariadb: false },
            DialectKind::MariaDb => &MySql { mariadb: true },
        }
    }
}

pub trait Dialect: Sync {
    fn kind(&self) -> DialectKind;

    /// The sqlparser dialect statements are tokenised and parsed with.
    fn parser(&self) -> &dyn sqlparser::dialect::Dialect;

    /// The model's key for an identifier: PostgreSQL folds unquoted names to lower case,
    /// MySQL compares column names without case.
    fn normalize_ident(&self, value: &str, quoted: bool) -> String;

    /// The model's key for a table, view or other schema object name: MySQL keeps the case of
    /// table names (they are file names on Linux) while column names compare without case.
    fn normalize_object(&self, value: &str, quoted: bool) -> String {
        self.normalize_ident(value, quoted)
    }

    /// Schema of an unqualified name (`public`; empty for MySQL's current database).
    fn default_schema(&self) -> &'static str;

    /// An identifier quoted for SQL concertina writes: `"a""b"` / `` `a``b` ``. Always quoted,
    /// so a name never reads as a keyword or folds case.
    fn quote_ident(&self, ident: &str) -> String;

    /// Canonical spelling of a type (`int4` → `integer`). Returns whether it was a `serial`
    /// pseudo-type, which also means an implicit sequence default and `NOT NULL`.
    fn canonical_type(&self, ty: SqlType) -> (SqlType, bool);

    /// Whether the client-side `DELIMITER` command may appear in files.
    fn has_delimiter_command(&self) -> bool {
        false
    }

    /// Whether unquoted words could be user functions of unknown volatility.
    fn builtin_volatility(&self, function: &str) -> Option<crate::change::Volatility>;
}
