//! MySQL and MariaDB: backtick quoting, column names compare without case, no schema default.
//! Table names keep their case (`lower_case_table_names=0`, the Linux default).

use super::{Dialect, DialectKind};
use crate::change::Volatility;
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

    fn quote_ident(&self, ident: &str) -> String {
        format!("`{}`", ident.replace('`', "``"))
    }

    fn normalize_object(&self, value: &str, _quoted: bool) -> String {
        value.to_string()
    }

    fn canonical_type(&self, mut ty: SqlType) -> (SqlType, bool) {
        // `int unsigned zerofill`: the base word first, the attributes kept after it.
        let mut words = ty.name.split_whitespace();
        let base = words
            .next()
            .unwrap_or_default()
            .trim_matches('`')
            .to_string();
        let rest: Vec<&str> = words.collect();
        let base = match base.as_str() {
            "integer" => "int".to_string(),
            "bool" | "boolean" => {
                ty.args = vec!["1".into()];
                "tinyint".to_string()
            }
            "numeric" | "dec" | "fixed" => "decimal".to_string(),
            "real" => "double".to_string(),
            "character" if rest.first() == Some(&"varying") => "varchar".to_string(),
            "character" => "char".to_string(),
            "serial" => {
                ty.name = "bigint unsigned".into();
                ty.args.clear();
                return (ty, true);
            }
            other => other.to_string(),
        };
        let rest: Vec<&str> = rest
            .into_iter()
            .filter(|w| !matches!(*w, "varying" | "precision"))
            .collect();
        match base.as_str() {
            // Display widths mean nothing since MySQL 8.0.19, which no longer prints them;
            // `tinyint(1)` is kept: it marks a boolean.
            "tinyint" if ty.args.len() == 1 && ty.arg(0) == Some(1) => {}
            "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => ty.args.clear(),
            "decimal" if ty.args.is_empty() => ty.args = vec!["10".into(), "0".into()],
            "decimal" if ty.args.len() == 1 => ty.args.push("0".into()),
            "char" | "binary" if ty.args.is_empty() => ty.args = vec!["1".into()],
            _ => {}
        }
        ty.name = std::iter::once(base.as_str())
            .chain(rest)
            .collect::<Vec<_>>()
            .join(" ");
        (ty, false)
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
