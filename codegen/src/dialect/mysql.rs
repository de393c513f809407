//! MySQL and MariaDB: backtick quoting, column names compare without case, no schema default.
//! Their lock rules arrive with the MySQL issue; the shared and compat rules already apply.

use super::{Dialect, DialectKind};
use crate::change::Volatility;
use crate::rules::Rule;
use crate::types::SqlType;

pub struct MySql {
    pub mariadb: bool,
}

static PARSER: sqlparser::dialect::MySqlDialect = sqlparser::dialect::MySqlDialect {};

impl Dialect for MySql {
    fn kind(&self) -> DialectKind {
        if self.mariadb {
            DialectKind::MariaDb
        } else {
            DialectKind::MySql
        }
    }

    fn parser(&self) -> &dyn sqlparser::dialect::Dialect {
        &PARSER
    }

    fn normalize_ident(&self, value: &str, _quoted: bool) -> String {
        value.to_lowercase()
    }

    fn default_schema(&self) -> &'static str {
        ""
    }

    fn canonical_type(&self, mut ty: SqlType) -> (SqlType, bool) {
        let name = match ty.name.as_str() {
            "integer" | "int" => "int",
            "bool" | "boolean" => {
                ty.args = vec!["1".into()];
                "tinyint"
            }
            "numeric" | "decimal" | "dec" => "decimal",
            "double precision" | "double" => "double",
            "character varying" | "varchar" => "varchar",
            "character" | "char" => "char",
            "serial" => {
                ty.name = "bigint unsigned".into();
                return (ty, true);
            }
            other => {
                ty.name = other.trim_matches('`').to_string();
                return (ty, false);
            }
        };
        ty.name = name.to_string();
        (ty, false)
    }

    fn rules(&self) -> &'static [&'static Rule] {
        &[]
    }

    fn has_delimiter_command(&self) -> bool {
        true
    }

    fn builtin_volatility(&self, function: &str) -> Option<Volatility> {
        match function {
            "rand" | "uuid" | "uuid_short" | "sysdate" => Some(Volatility::Volatile),
            "now" | "current_timestamp" | "curdate" | "current_date" | "utc_timestamp" => {
                Some(Volatility::Stable)
            }
            _ => None,
        }
    }
}
