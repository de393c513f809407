//! PostgreSQL: identifiers fold to lower case, `public` is the default schema.

use super::{Dialect, DialectKind};
use crate::change::Volatility;
use crate::types::SqlType;

pub struct Postgres;

/// PostgreSQL truncates identifiers to `NAMEDATALEN - 1` bytes.
const MAX_IDENT_BYTES: usize = 63;

static PARSER: sqlparser::dialect::PostgreSqlDialect = sqlparser::dialect::PostgreSqlDialect {};

impl Dialect for Postgres {
    fn kind(&self) -> DialectKind {
        DialectKind::Postgres
    }

    fn parser(&self) -> &dyn sqlparser::dialect::Dialect {
        &PARSER
    }

    /// Unquoted identifiers fold to lower case (ASCII only, as PostgreSQL does in UTF-8), and
    /// every identifier is truncated to 63 bytes (`NAMEDATALEN - 1`).
    fn normalize_ident(&self, value: &str, quoted: bool) -> String {
        let mut ident = if quoted {
            value.to_string()
        } else {
            value.to_ascii_lowercase()
        };
        let mut len = ident.len().min(MAX_IDENT_BYTES);
        while !ident.is_char_boundary(len) {
            len -= 1;
        }
        ident.truncate(len);
        ident
    }

    fn default_schema(&self) -> &'static str {
        "public"
    }

    fn quote_ident(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    fn canonical_type(&self, mut ty: SqlType) -> (SqlType, bool) {
        let mut serial = false;
        let name = match ty.name.as_str() {
            "int" | "int4" | "integer" => "integer",
            "int8" | "bigint" => "bigint",
            "int2" | "smallint" => "smallint",
            "serial" | "serial4" => {
                serial = true;
                "integer"
            }
            "bigserial" | "serial8" => {
                serial = true;
                "bigint"
            }
            "smallserial" | "serial2" => {
                serial = true;
                "smallint"
            }
            "float8" | "double precision" | "double" => "double precision",
            "float4" | "real" => "real",
            "float" => match ty.arg(0) {
                Some(p) if p <= 24 => {
                    ty.args.clear();
                    "real"
                }
                _ => {
                    ty.args.clear();
                    "double precision"
                }
            },
            "bool" | "boolean" => "boolean",
            "varchar" | "character varying" | "char varying" => "character varying",
            // `bpchar` without a length is unbounded; `char` alone is `char(1)`.
            "bpchar" if ty.args.is_empty() => "bpchar",
            "char" | "character" | "bpchar" => {
                if ty.args.is_empty() {
                    ty.args.push("1".into());
                }
                "character"
            }
            "decimal" | "numeric" | "dec" => {
                // `numeric(p)` is `numeric(p,0)`.
                if ty.args.len() == 1 {
                    ty.args.push("0".into());
                }
                "numeric"
            }
            "timestamp" | "timestamp without time zone" => "timestamp without time zone",
            "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
            "time" | "time without time zone" => "time without time zone",
            "timetz" | "time with time zone" => "time with time zone",
            "varbit" | "bit varying" => "bit varying",
            "bit" => {
                if ty.args.is_empty() {
                    ty.args.push("1".into());
                }
                "bit"
            }
            other => {
                // A user type named by identifiers already carries its schema (see
                // `Lowerer::sql_type`); otherwise keep the last part, unquoted.
                if ty.schema.is_none() {
                    let last = other.rsplit('.').next().unwrap_or(other);
                    ty.name = last.trim_matches('"').to_string();
                }
                return (ty, false);
            }
        };
        ty.name = name.to_string();
        ty.schema = None;
        (ty, serial)
    }

    fn builtin_volatility(&self, function: &str) -> Option<Volatility> {
        const VOLATILE: &[&str] = &[
            "random",
            "clock_timestamp",
            "timeofday",
            "gen_random_uuid",
            "uuid_generate_v1",
            "uuid_generate_v1mc",
            "uuid_generate_v4",
            "uuidv7",
            "uuidv4",
            "nextval",
            "setval",
            "currval",
            "lastval",
            "txid_current",
            "pg_current_xact_id",
            "random_normal",
        ];
        const STABLE_OR_IMMUTABLE: &[&str] = &[
            "now",
            "current_timestamp",
            "current_date",
            "current_time",
            "localtimestamp",
            "localtime",
            "transaction_timestamp",
            "statement_timestamp",
            "current_user",
            "current_schema",
            "session_user",
            "lower",
            "upper",
            "coalesce",
            "nullif",
            "greatest",
            "least",
            "length",
            "char_length",
            "substring",
            "substr",
            "trim",
            "btrim",
            "concat",
            "concat_ws",
            "md5",
            "to_char",
            "to_date",
            "to_timestamp",
            "to_jsonb",
            "to_json",
            "jsonb_build_object",
            "json_build_object",
            "jsonb_build_array",
            "array",
            "abs",
            "round",
            "floor",
            "ceil",
            "make_interval",
            "date_trunc",
            "extract",
            "date_part",
            "interval",
            "timezone",
            "replace",
            "left",
            "right",
            "cast",
        ];
        if VOLATILE.contains(&function) {
            Some(Volatility::Volatile)
        } else if STABLE_OR_IMMUTABLE.contains(&function) {
            Some(Volatility::Stable)
        } else {
            None
        }
    }
}
