//! Column types in concertina's own representation, independent of sqlparser's `DataType`.
//! The dialect canonicalises the spelling (`int4` → `integer`) so types compare by value.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SqlType {
    /// Canonical base name, lower case: `integer`, `character varying`, `timestamp with time zone`,
    /// or a user type's normalised name.
    pub name: String,
    /// Modifiers such as length, precision and scale, in order.
    pub args: Vec<String>,
    /// Number of array dimensions (`text[]` is 1).
    pub array_dims: u8,
    /// The schema of a user-defined type (enum, domain, composite), `None` for a built-in one.
    /// With it the type prints as `format_type` does: qualified outside the default schema
    /// (`billing.state`), quoted where the name needs it (`"Priority"`).
    pub schema: Option<String>,
}

impl SqlType {
    pub fn new(name: impl Into<String>) -> Self {
        SqlType {
            name: name.into(),
            args: Vec::new(),
            array_dims: 0,
            schema: None,
        }
    }

    pub fn with_args(mut self, args: Vec<String>) -> Self {
        self.args = args;
        self
    }

    /// The first modifier as a number (`varchar(20)` → 20).
    pub fn arg(&self, i: usize) -> Option<u64> {
        self.args.get(i).and_then(|a| a.trim().parse().ok())
    }

    /// Splits a type's text (`VARCHAR(255)`, `numeric(10, 2)[]`, `timestamp(3) with time zone`)
    /// into a lower-case base name, modifiers and array dimensions. The dialect canonicalises
    /// the base name afterwards.
    pub fn parse_text(text: &str) -> SqlType {
        let mut rest = text.trim();
        let mut array_dims = 0u8;
        loop {
            let trimmed = rest.trim_end();
            if let Some(inner) = trimmed.strip_suffix(']') {
                if let Some(open) = inner.rfind('[') {
                    rest = &inner[..open];
                    array_dims = array_dims.saturating_add(1);
                    continue;
                }
            }
            let upper = trimmed.to_ascii_uppercase();
            if upper.ends_with(" ARRAY") {
                rest = &trimmed[..trimmed.len() - 6];
                array_dims = array_dims.saturating_add(1);
                continue;
            }
            rest = trimmed;
            break;
        }
        let (name, args) = match (rest.find('('), rest.rfind(')')) {
            (Some(open), Some(close)) if close > open => {
                let args = rest[open + 1..close]
                    .split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect();
                let name = format!("{} {}", rest[..open].trim(), rest[close + 1..].trim());
                (name, args)
            }
            _ => (rest.to_string(), Vec::new()),
        };
        let name = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_lowercase();
        SqlType {
            name,
            args,
            array_dims,
            schema: None,
        }
    }

    pub fn element(&self) -> SqlType {
        SqlType {
            array_dims: 0,
            ..self.clone()
        }
    }
}

/// Prints the way PostgreSQL's `format_type` does, so the model compares with the catalog:
/// `character varying(255)`, `timestamp(3) with time zone`, `integer[]`.
impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args = if self.args.is_empty() {
            String::new()
        } else {
            format!("({})", self.args.join(","))
        };
        match (&self.schema, self.name.split_once(" with")) {
            (Some(schema), _) => {
                if !schema.is_empty() && schema != "public" {
                    write!(f, "{}.", quote_ident(schema))?;
                }
                write!(f, "{}{args}", quote_ident(&self.name))?
            }
            (None, Some((head, tail))) if head.starts_with("time") && !self.args.is_empty() => {
                write!(f, "{head}{args} with{tail}")?
            }
            _ => write!(f, "{}{args}", self.name)?,
        }
        // Like `format_type`: PostgreSQL does not enforce dimensions, `int[][]` is `integer[]`.
        if self.array_dims > 0 {
            f.write_str("[]")?;
        }
        Ok(())
    }
}

/// Lower case letters, digits and `_`, not starting with a digit: a name the server reads back
/// unchanged without quotes (keywords aside).
pub(crate) fn is_plain_ident(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An identifier as PostgreSQL's `quote_ident` prints it: bare when it is lower case letters,
/// digits and underscores not starting with a digit, else in double quotes.
fn quote_ident(name: &str) -> String {
    if is_plain_ident(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let t = SqlType::parse_text("VARCHAR(255)");
        assert_eq!((t.name.as_str(), t.arg(0)), ("varchar", Some(255)));
        let t = SqlType::parse_text("NUMERIC(10, 2)[]");
        assert_eq!(t.args, vec!["10", "2"]);
        assert_eq!(t.array_dims, 1);
        let t = SqlType::parse_text("TIMESTAMP(3) WITH TIME ZONE");
        assert_eq!(t.name, "timestamp with time zone");
        assert_eq!(t.to_string(), "timestamp(3) with time zone");
        let t = SqlType::parse_text("int ARRAY");
        assert_eq!((t.name.as_str(), t.array_dims), ("int", 1));
        let t = SqlType::parse_text("text[][]");
        assert_eq!((t.array_dims, t.to_string().as_str()), (2, "text[]"));
        let mut t = SqlType::new("Priority");
        t.schema = Some("public".into());
        assert_eq!(t.to_string(), "\"Priority\"");
        t.schema = Some("billing".into());
        t.name = "state".into();
        t.array_dims = 1;
        assert_eq!(t.to_string(), "billing.state[]");
    }
}
