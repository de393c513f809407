//! SQL types → diesel SQL types and Rust types, one table per backend. A `[types]` entry of
//! `concertina.toml` overrides both for a type name.

use std::collections::BTreeMap;

use crate::change::QualName;
use crate::config::TypeOverride;
use crate::dialect::DialectKind;
use crate::model::Schema;
use crate::types::SqlType;

/// Optional crates the generated code may name, mirroring diesel's features of the same name.
/// The derive passes concertina's enabled features; the CLI enables all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    pub chrono: bool,
    pub uuid: bool,
    pub serde_json: bool,
    pub bigdecimal: bool,
    /// The widest table diesel's `table!` accepts with the app's diesel features: 32 by
    /// default, 64 with `64-column-tables`, 128 with `128-column-tables` (concertina's features
    /// of the same names turn diesel's on).
    pub max_columns: usize,
}

impl Features {
    pub const ALL: Features = Features {
        chrono: true,
        uuid: true,
        serde_json: true,
        bigdecimal: true,
        max_columns: 128,
    };
}

/// A column's type on both sides, as paths (rendered into tokens later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TyRef {
    Builtin {
        sql: String,
        rust: String,
    },
    /// A PostgreSQL enum: a generated SQL type and Rust enum.
    Enum(EnumRef),
    /// PostgreSQL arrays: `Array<Nullable<T>>` / `Vec<Option<T>>`, as diesel_cli prints them.
    Array(Box<TyRef>),
}

impl TyRef {
    /// One Rust value can be written to a column of either type (`varchar` and `text` both
    /// take a `String`; `int` and `bigint` do not share one).
    pub fn same_rust_type(&self, other: &TyRef) -> bool {
        match (self, other) {
            (TyRef::Builtin { rust: a, .. }, TyRef::Builtin { rust: b, .. }) => a == b,
            (TyRef::Array(a), TyRef::Array(b)) => a.same_rust_type(b),
            _ => self == other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnumRef {
    pub name: QualName,
    pub labels: Vec<String>,
}

/// Why a type has no mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmapped {
    /// Maps once concertina's cargo feature of that name is on.
    NeedsFeature(&'static str),
    Unknown,
}

pub struct Mapper<'a> {
    pub dialect: DialectKind,
    pub features: Features,
    pub overrides: &'a BTreeMap<String, TypeOverride>,
}

const PRIVATE: &str = "::concertina::__private";

impl Mapper<'_> {
    pub fn map(&self, ty: &SqlType, schema: &Schema) -> Result<TyRef, Unmapped> {
        if ty.array_dims > 0 {
            let element = self.map(&ty.element(), schema)?;
            return match self.dialect {
                DialectKind::Postgres => Ok(TyRef::Array(Box::new(element))),
                _ => Err(Unmapped::Unknown),
            };
        }
        if let Some(o) = self.override_for(ty) {
            return Ok(TyRef::Builtin {
                sql: o.sql.clone(),
                rust: o.rust.clone(),
            });
        }
        match self.dialect {
            DialectKind::Postgres => self.postgres(ty, schema),
            DialectKind::MySql | DialectKind::MariaDb => self.mysql(ty),
        }
    }

    fn override_for(&self, ty: &SqlType) -> Option<&TypeOverride> {
        let base = match &ty.schema {
            Some(s) => format!("{s}.{}", ty.name),
            None => ty.name.clone(),
        };
        let full = if ty.args.is_empty() {
            base.clone()
        } else {
            format!("{base}({})", ty.args.join(","))
        };
        self.overrides
            .get(&full)
            .or_else(|| self.overrides.get(&base))
            .or_else(|| self.overrides.get(&ty.name))
    }

    fn feature(&self, on: bool, name: &'static str) -> Result<(), Unmapped> {
        if on {
            Ok(())
        } else {
            Err(Unmapped::NeedsFeature(name))
        }
    }

    fn postgres(&self, ty: &SqlType, schema: &Schema) -> Result<TyRef, Unmapped> {
        let f = self.features;
        let b = |sql: &str, rust: &str| {
            Ok(TyRef::Builtin {
                sql: format!("::diesel::sql_types::{sql}"),
                rust: rust.to_string(),
            })
        };
        let chrono = |sql: &str, rust: &str| -> Result<TyRef, Unmapped> {
            self.feature(f.chrono, "chrono")?;
            b(sql, &format!("{PRIVATE}::chrono::{rust}"))
        };
        if ty.schema.is_none() {
            match ty.name.as_str() {
                "smallint" => return b("Int2", "i16"),
                "integer" => return b("Int4", "i32"),
                "bigint" => return b("Int8", "i64"),
                "real" => return b("Float4", "f32"),
                "double precision" => return b("Float8", "f64"),
                "boolean" => return b("Bool", "bool"),
                "text" | "character varying" | "character" | "bpchar" | "name" | "citext" => {
                    return b("Text", "::std::string::String")
                }
                "bytea" => return b("Binary", "::std::vec::Vec<u8>"),
                "oid" => return b("Oid", "u32"),
                "money" => return b("Money", "::diesel::pg::data_types::PgMoney"),
                "interval" => return b("Interval", "::diesel::pg::data_types::PgInterval"),
                "numeric" => {
                    self.feature(f.bigdecimal, "bigdecimal")?;
                    return b("Numeric", &format!("{PRIVATE}::bigdecimal::BigDecimal"));
                }
                "timestamp with time zone" => {
                    self.feature(f.chrono, "chrono")?;
                    return b(
                        "Timestamptz",
                        &format!("{PRIVATE}::chrono::DateTime<{PRIVATE}::chrono::Utc>"),
                    );
                }
                "timestamp without time zone" => return chrono("Timestamp", "NaiveDateTime"),
                "date" => return chrono("Date", "NaiveDate"),
                "time without time zone" => return chrono("Time", "NaiveTime"),
                "uuid" => {
                    self.feature(f.uuid, "uuid")?;
                    return b("Uuid", &format!("{PRIVATE}::uuid::Uuid"));
                }
                "json" | "jsonb" => {
                    self.feature(f.serde_json, "serde_json")?;
                    let sql = if ty.name == "json" { "Json" } else { "Jsonb" };
                    return b(sql, &format!("{PRIVATE}::serde_json::Value"));
                }
                _ => {}
            }
        }
        // A user type: an enum or a domain over a mappable type.
        let name = QualName::new(
            ty.schema.clone().unwrap_or_else(|| "public".to_string()),
            ty.name.clone(),
        );
        if let Some(labels) = schema.enums.get(&name) {
            return Ok(TyRef::Enum(EnumRef {
                name,
                labels: labels.clone(),
            }));
        }
        if let Some(domain) = schema.domains.get(&name) {
            if domain.base != *ty {
                return self.map(&domain.base, schema);
            }
        }
        Err(Unmapped::Unknown)
    }

    fn mysql(&self, ty: &SqlType) -> Result<TyRef, Unmapped> {
        let f = self.features;
        let b = |sql: &str, rust: &str| {
            Ok(TyRef::Builtin {
                sql: format!("::diesel::sql_types::{sql}"),
                rust: rust.to_string(),
            })
        };
        let unsigned = |sql: &str, rust: &str| {
            Ok(TyRef::Builtin {
                sql: format!("::diesel::sql_types::Unsigned<::diesel::sql_types::{sql}>"),
                rust: rust.to_string(),
            })
        };
        let name = ty.name.as_str();
        let (base, is_unsigned) = match name.strip_suffix(" unsigned") {
            Some(base) => (base.trim(), true),
            None => (name, false),
        };
        match (base, is_unsigned) {
            ("tinyint", false) if ty.arg(0) == Some(1) => b("Bool", "bool"),
            ("bool" | "boolean", _) => b("Bool", "bool"),
            ("tinyint", false) => b("TinyInt", "i8"),
            ("tinyint", true) => unsigned("TinyInt", "u8"),
            ("smallint", false) => b("SmallInt", "i16"),
            ("smallint", true) => unsigned("SmallInt", "u16"),
            ("mediumint" | "int" | "integer", false) => b("Integer", "i32"),
            ("mediumint" | "int" | "integer", true) => unsigned("Integer", "u32"),
            ("bigint", false) => b("BigInt", "i64"),
            ("bigint", true) => unsigned("BigInt", "u64"),
            ("float", false) => b("Float", "f32"),
            ("double" | "real", false) => b("Double", "f64"),
            ("decimal" | "numeric", _) => {
                self.feature(f.bigdecimal, "bigdecimal")?;
                b("Numeric", &format!("{PRIVATE}::bigdecimal::BigDecimal"))
            }
            (
                "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum"
                | "set",
                _,
            ) => b("Text", "::std::string::String"),
            ("binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob", _) => {
                b("Blob", "::std::vec::Vec<u8>")
            }
            ("date", _) => {
                self.feature(f.chrono, "chrono")?;
                b("Date", &format!("{PRIVATE}::chrono::NaiveDate"))
            }
            ("datetime", _) => {
                self.feature(f.chrono, "chrono")?;
                b("Datetime", &format!("{PRIVATE}::chrono::NaiveDateTime"))
            }
            ("timestamp", _) => {
                self.feature(f.chrono, "chrono")?;
                b("Timestamp", &format!("{PRIVATE}::chrono::NaiveDateTime"))
            }
            ("time", _) => {
                self.feature(f.chrono, "chrono")?;
                b("Time", &format!("{PRIVATE}::chrono::NaiveTime"))
            }
            ("json", _) => {
                self.feature(f.serde_json, "serde_json")?;
                b("Json", &format!("{PRIVATE}::serde_json::Value"))
            }
            _ => Err(Unmapped::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(features: Features, overrides: &BTreeMap<String, TypeOverride>) -> Mapper<'_> {
        Mapper {
            dialect: DialectKind::Postgres,
            features,
            overrides,
        }
    }

    fn rust(r: Result<TyRef, Unmapped>) -> String {
        match r {
            Ok(TyRef::Builtin { rust, .. }) => rust,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn builtin_postgres_types() {
        let none = BTreeMap::new();
        let m = mapper(Features::ALL, &none);
        let s = Schema::default();
        assert_eq!(rust(m.map(&SqlType::new("bigint"), &s)), "i64");
        assert_eq!(
            rust(m.map(&SqlType::new("character varying"), &s)),
            "::std::string::String"
        );
        assert!(rust(m.map(&SqlType::new("timestamp with time zone"), &s)).contains("Utc"));
        let mut arr = SqlType::new("integer");
        arr.array_dims = 1;
        assert!(matches!(m.map(&arr, &s), Ok(TyRef::Array(_))));
    }

    #[test]
    fn a_type_behind_a_feature_names_it() {
        let none = BTreeMap::new();
        let mut f = Features::ALL;
        f.chrono = false;
        let m = mapper(f, &none);
        assert_eq!(
            m.map(&SqlType::new("date"), &Schema::default()),
            Err(Unmapped::NeedsFeature("chrono"))
        );
    }

    #[test]
    fn overrides_win_and_unknown_types_are_unmapped() {
        let mut o = BTreeMap::new();
        o.insert(
            "inet".to_string(),
            TypeOverride {
                sql: "::diesel::sql_types::Inet".into(),
                rust: "my::Ip".into(),
            },
        );
        let m = mapper(Features::ALL, &o);
        let s = Schema::default();
        assert_eq!(rust(m.map(&SqlType::new("inet"), &s)), "my::Ip");
        assert_eq!(m.map(&SqlType::new("tsvector"), &s), Err(Unmapped::Unknown));
    }

    #[test]
    fn mysql_unsigned_and_tinyint_bool() {
        let none = BTreeMap::new();
        let m = Mapper {
            dialect: DialectKind::MariaDb,
            features: Features::ALL,
            overrides: &none,
        };
        let s = Schema::default();
        assert_eq!(rust(m.map(&SqlType::new("bigint unsigned"), &s)), "u64");
        assert_eq!(
            rust(m.map(&SqlType::new("tinyint").with_args(vec!["1".into()]), &s)),
            "bool"
        );
    }
}
