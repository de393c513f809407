//! Rust names for SQL names: modules and fields stay snake case, row structs and enum variants
//! become camel case, and anything Rust or diesel's `table!` cannot take gets a safe spelling
//! (the SQL name then travels in `#[sql_name = "..."]`).

use proc_macro2::{Ident, Span};

/// Words Rust reserves (strict and reserved, 2021 edition) plus names `table!` generates in a
/// table's module, which a column may not take.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "gen",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    // diesel's `table!` module items
    "table",
    "star",
    "all_columns",
    "columns",
    "dsl",
    "SqlType",
    "is_aggregate",
];

/// A snake-case identifier for `name`: lower case, invalid characters as `_`, never starting
/// with a digit, never reserved. Returns whether it differs from the SQL name.
pub fn snake(name: &str) -> (String, bool) {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else {
            out.push('_');
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if out == "_" || RESERVED.contains(&out.as_str()) {
        out.push('_');
    }
    let changed = out != name;
    (out, changed)
}

/// `order_items` → `OrderItems`, `2fa codes` → `_2faCodes`.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if RESERVED.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

pub fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// Makes every name of `names` unique by appending `2`, `3`, … to later duplicates.
pub fn dedupe(names: &mut [String]) {
    let mut seen = std::collections::BTreeSet::new();
    for name in names.iter_mut() {
        if !seen.insert(name.clone()) {
            let mut n = 2;
            while !seen.insert(format!("{name}{n}")) {
                n += 1;
            }
            *name = format!("{name}{n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names_keep_valid_identifiers_and_fix_the_rest() {
        assert_eq!(snake("full_name"), ("full_name".into(), false));
        assert_eq!(snake("type"), ("type_".into(), true));
        assert_eq!(snake("table"), ("table_".into(), true));
        assert_eq!(snake("CamelCase"), ("camelcase".into(), true));
        assert_eq!(snake("2fa"), ("_2fa".into(), true));
        assert_eq!(snake("with space"), ("with_space".into(), true));
        assert_eq!(snake(""), ("_".to_string() + "_", true));
    }

    #[test]
    fn camel_names() {
        assert_eq!(camel("order_items"), "OrderItems");
        assert_eq!(camel("users"), "Users");
        assert_eq!(camel("in progress"), "InProgress");
        assert_eq!(camel("2fa"), "_2fa");
        assert_eq!(camel("self"), "Self_");
    }

    #[test]
    fn dedupe_appends_numbers() {
        let mut names = vec!["A".to_string(), "B".into(), "A".into(), "A".into()];
        dedupe(&mut names);
        assert_eq!(names, ["A", "B", "A2", "A3"]);
    }
}
