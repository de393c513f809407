//! Decisions a recipe needs that no rewrite can make, given on `migrate fix`'s command line:
//! the value every old row of a new required column gets (`--fill t.c=EXPR`) and the name of
//! the new column a type change becomes (`--new-column t.c=NAME`). With one, the finding's
//! recipe is mechanical; without, `migrate fix` lists the finding with the flag that applies it.

use crate::change::QualName;

/// One decision about a column: `[schema.]table.column=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDecision {
    pub schema: Option<String>,
    pub table: String,
    pub column: String,
    pub value: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{given}`: {why}; write it as TABLE.COLUMN=VALUE (or SCHEMA.TABLE.COLUMN=VALUE)")]
pub struct DecisionError {
    pub given: String,
    pub why: &'static str,
}

impl ColumnDecision {
    /// Reads `[schema.]table.column=value`: the first `=` ends the column (an expression may
    /// hold more); names are written as the model has them (unquoted, as stored).
    pub fn parse(given: &str) -> Result<ColumnDecision, DecisionError> {
        let fail = |why| DecisionError {
            given: given.to_string(),
            why,
        };
        let (target, value) = given.split_once('=').ok_or_else(|| fail("no `=`"))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(fail("nothing after `=`"));
        }
        let parts: Vec<&str> = target.trim().split('.').map(str::trim).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(fail("an empty name before `=`"));
        }
        let (schema, table, column) = match parts.as_slice() {
            [table, column] => (None, *table, *column),
            [schema, table, column] => (Some(schema.to_string()), *table, *column),
            _ => return Err(fail("the column is not named as TABLE.COLUMN")),
        };
        Ok(ColumnDecision {
            schema,
            table: table.to_string(),
            column: column.to_string(),
            value: value.to_string(),
        })
    }

    fn is_for(&self, table: &QualName, column: &str) -> bool {
        self.table == table.name
            && self.column == column
            && self.schema.as_ref().is_none_or(|s| *s == table.schema)
    }
}

/// Every decision `migrate fix` was given. Empty for `migrate check` and the derive: they
/// only say which flag would make a finding fixable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    /// `--fill`: the value every old row gets in a new required column.
    pub fills: Vec<ColumnDecision>,
    /// `--new-column`: the name of the new column a column's type change becomes.
    pub new_columns: Vec<ColumnDecision>,
}

impl Decisions {
    pub fn fill(&self, table: &QualName, column: &str) -> Option<&str> {
        find(&self.fills, table, column)
    }

    pub fn new_column(&self, table: &QualName, column: &str) -> Option<&str> {
        find(&self.new_columns, table, column)
    }
}

fn find<'d>(all: &'d [ColumnDecision], table: &QualName, column: &str) -> Option<&'d str> {
    all.iter()
        .rev()
        .find(|d| d.is_for(table, column))
        .map(|d| d.value.as_str())
}

/// How a table's column is named in a flag: `table.column`, with the schema when it is not
/// the dialect's default one.
pub fn flag_target(table: &QualName, column: &str, default_schema: &str) -> String {
    if table.schema == default_schema || table.schema.is_empty() {
        format!("{}.{column}", table.name)
    } else {
        format!("{}.{}.{column}", table.schema, table.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> QualName {
        QualName {
            schema: "public".into(),
            name: "users".into(),
        }
    }

    #[test]
    fn parses_a_column_and_its_value_up_to_the_first_equals() {
        let d = ColumnDecision::parse("users.phone = coalesce(a, 'x=y')").unwrap();
        assert_eq!(
            (d.schema.as_deref(), d.table.as_str(), d.column.as_str()),
            (None, "users", "phone")
        );
        assert_eq!(d.value, "coalesce(a, 'x=y')");
        let d = ColumnDecision::parse("app.users.phone='n/a'").unwrap();
        assert_eq!(d.schema.as_deref(), Some("app"));
    }

    #[test]
    fn refuses_what_names_no_column() {
        for bad in [
            "phone='x'",
            "users.phone",
            "users.phone=",
            ".phone=1",
            "a.b.c.d=1",
        ] {
            let e = ColumnDecision::parse(bad).unwrap_err();
            assert!(e.to_string().contains("TABLE.COLUMN=VALUE"), "{bad}: {e}");
        }
    }

    #[test]
    fn finds_the_last_decision_for_a_column_in_any_or_its_own_schema() {
        let decisions = Decisions {
            fills: vec![
                ColumnDecision::parse("users.phone='a'").unwrap(),
                ColumnDecision::parse("public.users.phone='b'").unwrap(),
                ColumnDecision::parse("other.users.phone='c'").unwrap(),
            ],
            new_columns: Vec::new(),
        };
        assert_eq!(decisions.fill(&users(), "phone"), Some("'b'"));
        assert_eq!(decisions.fill(&users(), "email"), None);
        assert_eq!(decisions.new_column(&users(), "phone"), None);
    }
}
