//! PostgreSQL's names for what a migration leaves unnamed: `makeObjectName` within 63 bytes,
//! then `ChooseRelationName` / `ChooseConstraintName` past the names already taken. Kept
//! apart because the rules are PostgreSQL's source, ported function by function.

use crate::change::{ConstraintKind, QualName};

use super::super::Schema;

/// The longest name PostgreSQL keeps: `NAMEDATALEN - 1` bytes.
const MAX_NAME_BYTES: usize = 63;

/// The longest prefix of `s` within `max` bytes that ends on a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// `makeObjectName`'s name, with 1, 2, … after the label while `taken` says it is
/// (the loop of PostgreSQL's `ChooseRelationName` / `ChooseConstraintName`).
pub(crate) fn choose_object_name(
    name1: &str,
    name2: Option<&str>,
    label: &str,
    taken: impl Fn(&str) -> bool,
) -> String {
    let mut pass = 0usize;
    loop {
        let label = if pass == 0 {
            label.to_string()
        } else {
            format!("{label}{pass}")
        };
        let name = make_object_name(name1, name2, &label);
        if !taken(&name) {
            return name;
        }
        pass += 1;
    }
}

/// PostgreSQL's `makeObjectName`: `name1[_name2]_label` within 63 bytes, shortening the longer
/// of the two names first (`a_long_table_na_a_long_column_key`).
pub(in crate::model) fn make_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead = usize::from(name2.is_some()) + label.len() + 1;
    let available = MAX_NAME_BYTES.saturating_sub(overhead);
    let mut len1 = name1.len();
    let mut len2 = name2.map_or(0, str::len);
    while len1 + len2 > available {
        if len1 > len2 {
            len1 -= 1;
        } else {
            len2 -= 1;
        }
    }
    let mut out = clip(name1, len1).to_string();
    if let Some(name2) = name2 {
        out.push('_');
        out.push_str(clip(name2, len2));
    }
    out.push('_');
    out.push_str(label);
    out
}

/// PostgreSQL's `ChooseIndexNameAddition`: the column part of a generated name.
fn name_addition(names: &[String]) -> String {
    let mut out = String::new();
    for name in names {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(clip(name, MAX_NAME_BYTES));
        if out.len() > MAX_NAME_BYTES {
            break;
        }
    }
    out
}

/// PostgreSQL's `ChooseIndexColumnNames`: a repeated element name gets a digit (`lower`,
/// `lower1`).
pub(in crate::model) fn index_column_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let mut candidate = clip(name, MAX_NAME_BYTES).to_string();
        let mut suffix = 0;
        while out.contains(&candidate) {
            suffix += 1;
            let digits = suffix.to_string();
            candidate = format!(
                "{}{digits}",
                clip(name, MAX_NAME_BYTES.saturating_sub(digits.len()))
            );
        }
        out.push(candidate);
    }
    out
}

/// What PostgreSQL names an unnamed constraint before it avoids names already taken
/// (`users_pkey`, `users_email_key`, `users_age_check`, `orders_user_id_fkey`), which MySQL's
/// model uses as well: a later `DROP CONSTRAINT` by the generated name then resolves.
pub(crate) fn default_constraint_name(table: &str, kind: &ConstraintKind) -> String {
    let (name2, label) = constraint_name_parts(kind);
    make_object_name(table, name2.as_deref(), label)
}

/// The column part and label of a generated constraint name.
fn constraint_name_parts(kind: &ConstraintKind) -> (Option<String>, &'static str) {
    match kind {
        ConstraintKind::PrimaryKey { .. } => (None, "pkey"),
        ConstraintKind::Unique { columns, .. } => (Some(name_addition(columns)), "key"),
        ConstraintKind::ForeignKey { columns, .. } => (Some(name_addition(columns)), "fkey"),
        ConstraintKind::Check { expr, .. } => {
            // `tab_col_check` when the expression reads exactly one column, else `tab_check`.
            let mut cols = expr.columns.clone();
            cols.sort();
            cols.dedup();
            match cols.as_slice() {
                [one] => (Some(one.clone()), "check"),
                _ => (None, "check"),
            }
        }
        ConstraintKind::Exclude => (None, "excl"),
        ConstraintKind::NotNull { column } => (Some(column.clone()), "not_null"),
    }
}

impl Schema {
    pub(in crate::model) fn relation_name_taken(&self, name: &QualName) -> bool {
        self.tables.contains_key(name)
            || self.indexes.contains_key(name)
            || self.views.contains_key(name)
            || self.sequences.contains(name)
    }

    pub(in crate::model) fn constraint_name_taken(&self, schema: &str, name: &str) -> bool {
        self.tables
            .values()
            .filter(|t| t.name.schema == schema)
            .any(|t| t.constraint(name).is_some())
    }

    /// PostgreSQL's `ChooseRelationName` / `ChooseConstraintName`: the generated name, with
    /// 1, 2, … after the label while a relation (`relation`) or a constraint (`constraint`)
    /// of the schema has it (`orders_user_id_idx1`).
    pub(in crate::model) fn choose_name(
        &self,
        schema: &str,
        name1: &str,
        name2: Option<&str>,
        label: &str,
        relation: bool,
        constraint: bool,
    ) -> String {
        choose_object_name(name1, name2, label, |name| {
            (relation && self.relation_name_taken(&QualName::new(schema, name)))
                || (constraint && self.constraint_name_taken(schema, name))
        })
    }

    /// The name PostgreSQL gives an unnamed constraint on `table`: an index-backed one must not
    /// clash with a relation either.
    pub(in crate::model) fn generated_constraint_name(
        &self,
        table: &QualName,
        kind: &ConstraintKind,
    ) -> String {
        let (name2, label) = constraint_name_parts(kind);
        let index_backed = matches!(
            kind,
            ConstraintKind::PrimaryKey { .. }
                | ConstraintKind::Unique { .. }
                | ConstraintKind::Exclude
        );
        self.choose_name(
            &table.schema,
            &table.name,
            name2.as_deref(),
            label,
            index_backed,
            true,
        )
    }

    /// The name PostgreSQL gives an unnamed index on `table`.
    pub(in crate::model) fn generated_index_name(
        &self,
        table: &QualName,
        element_names: &[String],
    ) -> String {
        let names = index_column_names(element_names);
        let addition = name_addition(&names);
        self.choose_name(
            &table.schema,
            &table.name,
            (!addition.is_empty()).then_some(addition.as_str()),
            "idx",
            true,
            false,
        )
    }
}
