//! `domain-constraint-validating`: a domain constraint is checked against every column of
//! that domain in every table while writes to those tables wait. `ALTER DOMAIN … ADD
//! CONSTRAINT` without `NOT VALID` does it, and so does `ALTER DOMAIN … VALIDATE CONSTRAINT`:
//! measured with the tracer on PostgreSQL 10, 15 and 18, both hold SHARE on each table using
//! the domain for the scan (unlike a table's `VALIDATE CONSTRAINT`, which takes SHARE UPDATE
//! EXCLUSIVE). There is no online way to validate a domain constraint: the check belongs on
//! the tables.
//!
//! `migrate fix` writes that recipe for `ALTER DOMAIN d ADD [CONSTRAINT c] CHECK (expr)`:
//! - the statement gets `NOT VALID` (every new value of the domain is checked, no scan; the
//!   domain constraint is never validated);
//! - for each column of a table of the model whose type is `d`, right after it: `ALTER TABLE t
//!   ADD CONSTRAINT t_col_c CHECK (expr with the keyword VALUE replaced by the column's
//!   name) NOT VALID` (the name is `makeObjectName`'s `<table>_<column>_<c>` within 63 bytes,
//!   `c` cut to 30 bytes, a digit after it when the table has the name already; an unnamed
//!   domain constraint stays unnamed, its label is then `check`, so the table constraint is
//!   named as PostgreSQL names an unnamed one-column check);
//! - `ALTER TABLE t VALIDATE CONSTRAINT t_col_c` in contract.sql (right after, when the
//!   statement already is in contract or down): SHARE UPDATE EXCLUSIVE, the app keeps reading
//!   and writing. A table created earlier in the same file gets its check validated at once
//!   (it is new: nothing waits on it).
//!
//! Together the domain's `NOT VALID` constraint and the validated table checks guarantee what
//! the validated domain constraint did for every stored row. With no column of the domain in
//! the model, `NOT VALID` alone is the fix (nothing the model knows holds old values; a column
//! the model does not know is left unchecked, as the `NOT VALID` says).
//!
//! No mechanical fix: `ALTER DOMAIN … VALIDATE CONSTRAINT` (the model does not keep a domain
//! constraint's expression, so the table checks cannot be written); inside `BEGIN … COMMIT`;
//! a diesel migration in expand (no contract phase for the VALIDATE); a constraint other than
//! `CHECK (…)` or with words after it; an array of the domain (a table `CHECK` cannot test
//! each element: no subquery in `CHECK`); another domain over this one (its columns hold
//! values of this domain too, and its own constraints stay in the way of a per-column copy);
//! a column of a partitioned table or of a partition (the parent's check goes down to every
//! partition under names of its own, and a partition's own would double it: a decision per
//! hierarchy).

use crate::change::{Change, QualName};
use crate::diag::Severity;
use crate::fix::sqltext::{find_word, ident, qualified, tokens, Token, TokenKind};
use crate::fix::{recipes, Edit, Fix, NoFix};
use crate::layout::{Layout, Phase};
use crate::model::choose_object_name;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "domain-constraint-validating",
    severity: Severity::Error,
    summary: "`ALTER DOMAIN … ADD CONSTRAINT` without `NOT VALID`, or `ALTER DOMAIN … VALIDATE CONSTRAINT`: SHARE on every table using the domain while it scans",
    help: "put the check on each table that uses the domain instead: `ALTER TABLE … ADD CONSTRAINT … CHECK (…) NOT VALID` in expand, `ALTER TABLE … VALIDATE CONSTRAINT …` in contract (SHARE UPDATE EXCLUSIVE: the app reads and writes during the scan); a domain constraint added `NOT VALID` and never validated guards new values only",
    check,
    fix: Some(fix),
};

const VALIDATE_NO_FIX: &str = "the model does not keep a domain constraint's expression, so the per-table checks cannot be written: add `CHECK (…) NOT VALID` on each column of the domain by hand (its expression with the column for `VALUE`), validate those in contract, and drop this `VALIDATE` (the domain constraint stays `NOT VALID`, guarding new values)";

/// The longest part of the domain constraint's name a table constraint's name takes, so that
/// the table and the column keep room within PostgreSQL's 63 bytes.
const LABEL_BYTES: usize = 30;

/// `ALTER DOMAIN d ADD … CHECK (e)` → `… NOT VALID`, then `CHECK (e[VALUE := col]) NOT VALID`
/// on each column of `d`, validated in contract (see the module doc).
fn fix(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let domain = match ctx.change {
        Change::AlterDomainAddConstraint {
            name,
            not_valid: false,
        } => name,
        Change::AlterDomainValidateConstraint { .. } => {
            return Err(NoFix::because(VALIDATE_NO_FIX))
        }
        _ => return Err(NoFix::because("not an `ALTER DOMAIN … ADD CONSTRAINT`")),
    };
    if ctx.in_transaction() {
        return Err(NoFix::because("it is inside `BEGIN … COMMIT`: each table's `ADD CONSTRAINT … NOT VALID` would hold its brief ACCESS EXCLUSIVE until `COMMIT`, and a `VALIDATE` in the same transaction keeps the lock the split is meant to avoid; end the transaction before it by hand"));
    }
    let text = ctx.text();
    let toks = tokens(text).ok_or_else(recipes::unreadable)?;
    let parts = parse_add(text, &toks)?;
    let dialect = ctx.dialect;

    let is_domain = |ty: &crate::types::SqlType| {
        ty.name == domain.name && ty.schema.as_deref() == Some(domain.schema.as_str())
    };
    if let Some(d) = ctx.schema.domains.values().find(|d| is_domain(&d.base)) {
        return Err(NoFix::because(format!("domain `{}` is defined over `{domain}`: its columns hold values of this domain too, under constraints of their own; put the checks on the tables by hand", d.name)));
    }
    let mut users: Vec<(&QualName, &str)> = Vec::new();
    for t in ctx.schema.tables.values() {
        for c in t.columns.iter().filter(|c| is_domain(&c.ty)) {
            if c.ty.array_dims > 0 {
                return Err(NoFix::because(format!("`{}.{}` is an array of `{domain}`: a table `CHECK` cannot test each element (no subquery in `CHECK`); check it by hand", t.name, c.name)));
            }
            if t.partitioned || t.partition_of.is_some() {
                return Err(NoFix::because(format!("`{}.{}` is a column of a partitioned table or a partition: a parent's check goes down to every partition under names of its own; put the checks on the hierarchy by hand", t.name, c.name)));
            }
            users.push((&t.name, c.name.as_str()));
        }
    }

    let end = ctx.statement.start + toks.last().ok_or_else(recipes::unreadable)?.end;
    let later = matches!(ctx.phase, Phase::Expand | Phase::Backfill);
    let mut adds = Vec::new();
    let mut validates = Vec::new();
    let mut chosen: Vec<(&QualName, String)> = Vec::new();
    for (table, column) in users {
        let name = table_constraint_name(ctx, table, column, &parts.label, &chosen);
        chosen.push((table, name.clone()));
        let check = format!(
            "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})",
            qualified(table, dialect),
            ident(&name, dialect),
            with_column(parts.expr, &ident(column, dialect))?
        );
        if ctx.is_new_table(table) {
            adds.push(check);
        } else {
            adds.push(format!("{check} NOT VALID"));
            validates.push(format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                qualified(table, dialect),
                ident(&name, dialect)
            ));
        }
    }
    if later && !validates.is_empty() && ctx.window.layout == Layout::Diesel {
        return Err(NoFix::because(recipes::NO_CONTRACT));
    }
    let mut after = vec![" NOT VALID".to_string()];
    after.extend(adds);
    if later {
        let mut fix = Fix::replace(end, end, after.join(";\n"));
        for v in validates {
            fix = fix.and(Edit::Append {
                phase: Phase::Contract,
                text: format!("{v};"),
            });
        }
        Ok(fix)
    } else {
        after.extend(validates);
        Ok(Fix::replace(end, end, after.join(";\n")))
    }
}

/// What the fix needs of `ALTER DOMAIN d ADD [CONSTRAINT c] CHECK (expr)`.
struct AddCheck<'t> {
    /// The domain constraint's name, or `check` for an unnamed one.
    label: String,
    /// The expression inside `CHECK (…)`, as written.
    expr: &'t str,
}

fn parse_add<'t>(text: &'t str, toks: &[Token]) -> Result<AddCheck<'t>, NoFix> {
    let add = find_word(text, toks, "ADD").ok_or_else(recipes::unreadable)?;
    let label = if toks.get(add + 1).is_some_and(|t| t.is(text, "CONSTRAINT")) {
        let t = toks.get(add + 2).ok_or_else(recipes::unreadable)?;
        let raw = &text[t.start..t.end];
        match t.kind {
            TokenKind::Word => raw.to_lowercase(),
            TokenKind::Quoted if raw.len() >= 2 => raw[1..raw.len() - 1].replace("\"\"", "\""),
            _ => return Err(recipes::unreadable()),
        }
    } else {
        "check".to_string()
    };
    let not_check = || {
        NoFix::because("only a `CHECK (…)` constraint has an expression to copy onto the tables: add this one `NOT VALID` by hand, or keep it where the domain is unused")
    };
    let check = find_word(text, toks, "CHECK").ok_or_else(not_check)?;
    let open = toks.get(check + 1).filter(|t| &text[t.start..t.end] == "(");
    let open = open.ok_or_else(not_check)?;
    let close = toks[check + 1..]
        .iter()
        .position(|t| t.depth == 0 && &text[t.start..t.end] == ")")
        .map(|i| check + 1 + i)
        .ok_or_else(recipes::unreadable)?;
    if close + 1 != toks.len() {
        return Err(NoFix::because(
            "words follow `CHECK (…)` in the statement: rewrite it by hand",
        ));
    }
    Ok(AddCheck {
        label,
        expr: &text[open.end..toks[close].start],
    })
}

/// `expr` with each keyword `VALUE` (a whole word, not a string, a quoted name or a field
/// after `.`) replaced by `column`.
fn with_column(expr: &str, column: &str) -> Result<String, NoFix> {
    let toks = tokens(expr).ok_or_else(recipes::unreadable)?;
    let mut out = String::with_capacity(expr.len());
    let mut at = 0;
    for (i, t) in toks.iter().enumerate() {
        let field = i > 0 && &expr[toks[i - 1].start..toks[i - 1].end] == ".";
        if t.is(expr, "VALUE") && !field {
            out.push_str(&expr[at..t.start]);
            out.push_str(column);
            at = t.end;
        }
    }
    out.push_str(&expr[at..]);
    Ok(out)
}

/// `<table>_<column>_<label>` (`makeObjectName`, within 63 bytes), a digit after the label
/// while `table` has a constraint of that name or this fix gave it one.
fn table_constraint_name(
    ctx: &StatementCtx,
    table: &QualName,
    column: &str,
    label: &str,
    chosen: &[(&QualName, String)],
) -> String {
    let mut cut = label.len().min(LABEL_BYTES);
    while !label.is_char_boundary(cut) {
        cut -= 1;
    }
    let label = &label[..cut];
    let existing = ctx.schema.tables.get(table);
    choose_object_name(&table.name, Some(column), label, |name| {
        existing.is_some_and(|t| t.constraint(name).is_some())
            || chosen.iter().any(|(t, n)| *t == table && n == name)
    })
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let (name, what) = match ctx.change {
        Change::AlterDomainAddConstraint {
            name,
            not_valid: false,
        } => (name, "ADD CONSTRAINT` without `NOT VALID"),
        Change::AlterDomainValidateConstraint { name } => (name, "VALIDATE CONSTRAINT"),
        _ => return,
    };
    let users: Vec<String> = ctx
        .schema
        .tables
        .values()
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| c.ty.name == name.name)
                .map(move |c| format!("{}.{}", t.name, c.name))
        })
        .filter(|c| {
            let table = c.rsplit_once('.').map_or(c.as_str(), |(t, _)| t);
            !ctx.file
                .created_tables
                .iter()
                .any(|n| n.to_string() == table)
        })
        .collect();
    let where_ = if users.is_empty() {
        "every column of that domain".to_string()
    } else {
        format!("`{}`", users.join("`, `"))
    };
    out.report(format!(
        "`ALTER DOMAIN {name} {what}` checks {where_} in every row while writes to those tables wait (SHARE)"
    ));
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case, Left};

    const SETUP: &str =
        "CREATE DOMAIN positive AS int;\nCREATE TABLE items (id bigint PRIMARY KEY, qty positive);";
    const RULE: &str = "domain-constraint-validating";

    #[test]
    fn flags_a_validating_domain_constraint_naming_its_columns() {
        let hits = expand_hits(
            SETUP,
            "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);",
            RULE,
        );
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("items.qty"), "{}", hits[0].message);
    }

    #[test]
    fn validating_a_domain_constraint_later_is_flagged_too() {
        let hits = expand_hits(
            SETUP,
            "ALTER DOMAIN positive VALIDATE CONSTRAINT pos;",
            RULE,
        );
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains("VALIDATE CONSTRAINT"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn not_valid_is_safe() {
        let sql = "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;";
        assert!(expand_hits(SETUP, sql, RULE).is_empty());
    }

    const HEADER: &str = "-- contract: written by `cargo xtask migrate fix`\n";

    fn only(files: &[(Phase, String)], phase: Phase) -> &str {
        files
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("no {phase:?} in {files:?}"))
    }

    fn why(left: &[Left]) -> &str {
        left.iter()
            .find(|(rule, _)| rule == RULE)
            .map(|(_, why)| why.as_str())
            .unwrap_or_else(|| panic!("not left: {left:?}"))
    }

    #[test]
    fn fix_adds_it_not_valid_and_checks_each_column_on_its_table() {
        let setup = "CREATE DOMAIN positive AS int;\nCREATE TABLE items (id bigint PRIMARY KEY, qty positive, value_x int);\nCREATE TABLE \"Orders\" (id bigint PRIMARY KEY, \"order\" positive, note text);";
        let sql = "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0 AND value::text <> 'VALUE' AND (VALUE).x IS NULL);\n";
        let (files, left) = Case::pg(setup, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            only(&files, Phase::Expand),
            "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0 AND value::text <> 'VALUE' AND (VALUE).x IS NULL) NOT VALID;\n\
             ALTER TABLE \"Orders\" ADD CONSTRAINT \"Orders_order_pos\" CHECK (\"order\" > 0 AND \"order\"::text <> 'VALUE' AND (\"order\").x IS NULL) NOT VALID;\n\
             ALTER TABLE \"items\" ADD CONSTRAINT items_qty_pos CHECK (qty > 0 AND qty::text <> 'VALUE' AND (qty).x IS NULL) NOT VALID;\n"
        );
        assert_eq!(
            only(&files, Phase::Contract),
            format!("{HEADER}ALTER TABLE \"Orders\" VALIDATE CONSTRAINT \"Orders_order_pos\";\nALTER TABLE \"items\" VALIDATE CONSTRAINT items_qty_pos;\n")
        );
        assert!(left.iter().all(|(rule, _)| rule != RULE), "{left:?}");
    }

    #[test]
    fn fix_of_an_unnamed_constraint_names_the_table_checks_as_postgres_would() {
        let sql = "ALTER DOMAIN positive ADD CHECK (VALUE > 0);";
        let (files, left) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files,
            [
                (Phase::Expand, "ALTER DOMAIN positive ADD CHECK (VALUE > 0) NOT VALID;\nALTER TABLE \"items\" ADD CONSTRAINT items_qty_check CHECK (qty > 0) NOT VALID;".to_string()),
                (Phase::Contract, format!("{HEADER}ALTER TABLE \"items\" VALIDATE CONSTRAINT items_qty_check;\n")),
            ]
        );
        assert!(left.iter().all(|(rule, _)| rule != RULE), "{left:?}");
    }

    #[test]
    fn fix_in_contract_validates_right_after() {
        let sql = "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);\nSELECT 1;\n";
        let (files, left) = Case::pg(SETUP, &[(Phase::Contract, sql)]).fixed();
        assert_eq!(
            files,
            [(Phase::Contract, "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;\nALTER TABLE \"items\" ADD CONSTRAINT items_qty_pos CHECK (qty > 0) NOT VALID;\nALTER TABLE \"items\" VALIDATE CONSTRAINT items_qty_pos;\nSELECT 1;\n".to_string())]
        );
        assert!(left.iter().all(|(rule, _)| rule != RULE), "{left:?}");
    }

    #[test]
    fn fix_names_stay_within_63_bytes_and_avoid_a_taken_name() {
        let long = "a_table_name_that_is_rather_long_for_any_schema_at_all";
        let setup = format!("CREATE DOMAIN positive AS int;\nCREATE TABLE {long} (id bigint PRIMARY KEY, a_column_name_that_is_long_too positive CONSTRAINT items_qty_pos CHECK (id > 0));\nCREATE TABLE items (id bigint PRIMARY KEY, qty positive CONSTRAINT items_qty_pos CHECK (id > 0));");
        let sql = "ALTER DOMAIN positive ADD CONSTRAINT a_domain_constraint_named_at_great_length CHECK (VALUE > 0);";
        let (files, _) = Case::pg(&setup, &[(Phase::Expand, sql)]).fixed();
        let expand = only(&files, Phase::Expand);
        let name = expand
            .split("ADD CONSTRAINT ")
            .nth(2)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("{expand}"));
        // The label cut to 30 bytes, then table and column shortened alike (`makeObjectName`).
        assert_eq!(
            name,
            "a_table_name_tha_a_column_name_t_a_domain_constraint_named_at_g"
        );
        assert_eq!(name.len(), 63);
        let (files, _) = Case::pg(
            &setup,
            &[(
                Phase::Expand,
                "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);",
            )],
        )
        .fixed();
        assert!(
            only(&files, Phase::Expand)
                .contains("ADD CONSTRAINT items_qty_pos1 CHECK (qty > 0) NOT VALID"),
            "{files:?}"
        );
    }

    #[test]
    fn fix_checks_a_table_new_in_the_file_at_once_and_an_unused_domain_gets_not_valid_alone() {
        let sql = "CREATE TABLE boxes (id bigint PRIMARY KEY, n positive);\nALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);";
        let (files, _) = Case::pg(SETUP, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            only(&files, Phase::Expand),
            "CREATE TABLE boxes (id bigint PRIMARY KEY, n positive);\nALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;\nALTER TABLE boxes ADD CONSTRAINT boxes_n_pos CHECK (n > 0);\nALTER TABLE \"items\" ADD CONSTRAINT items_qty_pos CHECK (qty > 0) NOT VALID;"
        );
        assert_eq!(
            only(&files, Phase::Contract),
            format!("{HEADER}ALTER TABLE \"items\" VALIDATE CONSTRAINT items_qty_pos;\n")
        );
        let unused =
            "CREATE DOMAIN positive AS int;\nCREATE TABLE items (id bigint PRIMARY KEY, qty int);";
        let sql = "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);";
        let (files, left) = Case::pg(unused, &[(Phase::Expand, sql)]).fixed();
        assert_eq!(
            files,
            [(
                Phase::Expand,
                "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;".to_string()
            )]
        );
        assert!(left.iter().all(|(rule, _)| rule != RULE), "{left:?}");
    }

    #[test]
    fn no_fix_for_validate_or_where_the_copy_is_a_decision() {
        let (files, left) = Case::pg(
            SETUP,
            &[(
                Phase::Expand,
                "ALTER DOMAIN positive VALIDATE CONSTRAINT pos;",
            )],
        )
        .fixed();
        assert_eq!(files.len(), 1);
        assert!(why(&left).contains("expression"), "{left:?}");

        let add = "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);";
        for (setup, phases, says) in [
            (
                "CREATE DOMAIN positive AS int;\nCREATE TABLE items (id bigint PRIMARY KEY, qty positive[]);",
                vec![(Phase::Expand, add)],
                "array",
            ),
            (
                "CREATE DOMAIN positive AS int;\nCREATE DOMAIN small AS positive;\nCREATE TABLE items (id bigint PRIMARY KEY, qty small);",
                vec![(Phase::Expand, add)],
                "defined over",
            ),
            (
                "CREATE DOMAIN positive AS int;\nCREATE TABLE items (id bigint, qty positive) PARTITION BY RANGE (id);",
                vec![(Phase::Expand, add)],
                "partition",
            ),
            (
                SETUP,
                vec![(Phase::Expand, "BEGIN;\nALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);\nCOMMIT;")],
                "BEGIN",
            ),
            (
                SETUP,
                vec![(Phase::Expand, "ALTER DOMAIN positive ADD CONSTRAINT pos NOT NULL;")],
                "only a `CHECK",
            ),
        ] {
            let (files, left) = Case::pg(setup, &phases).fixed();
            assert_eq!(files, [(Phase::Expand, phases[0].1.to_string())], "{says}");
            assert!(why(&left).contains(says), "{says}: {left:?}");
        }
    }

    #[test]
    fn no_fix_in_a_diesel_migration_where_the_validate_has_no_contract() {
        let sql = "ALTER DOMAIN positive ADD CONSTRAINT pos CHECK (VALUE > 0);";
        let phases = [(Phase::Expand, sql)];
        let case = Case {
            diesel: true,
            ..Case::pg(SETUP, &phases)
        };
        let (files, left) = case.fixed();
        assert_eq!(files, [(Phase::Expand, sql.to_string())]);
        assert!(why(&left).contains("diesel"), "{left:?}");
    }
}
