//! The new-column recipe (migrations/0004's): a column that changes its name or its type in
//! place becomes a new column beside the old one, filled by the backfill, the old one dropped
//! in contract:
//!
//! - expand: `-- concertina:renames(t.a -> t.b)` (a rename only), `ADD COLUMN b T` (nullable),
//!   and, when `a` is NOT NULL, `a` made nullable (the new app stops writing it);
//! - backfill: `UPDATE t SET b = <a, or the USING expression> WHERE b IS NULL`, in batches;
//! - contract: `DROP COLUMN a`, then `b` made NOT NULL when it should be;
//! - down (when down.sql undoes the change as written): `a` NOT NULL again if it was, `DROP
//!   COLUMN b`. Like migrations/0004's, it runs before contract.
//!
//! A type change gets no `renames` annotation: the annotation makes the transition types write
//! both columns from one field, which needs one type; they write each column instead. The
//! copy is the plain column where no `USING` is written, as the server's own `ALTER … TYPE`
//! would convert it (PostgreSQL's assignment cast; MySQL's conversion of `MODIFY`).
//!
//! Only a plain column: a default, key, index, reference, view or trigger would each need a
//! copy of its own, written by hand.

use super::decisions::flag_target;
use super::recipes::{self, names_table};
use super::sqltext::{find_word, ident, qualified, tokens};
use super::{Edit, Fix, NoFix};
use crate::change::{AlterOp, Change, ColumnSpec, ConstraintKind, QualName};
use crate::layout::{Layout, Phase};
use crate::model::{Column, Schema};
use crate::rules::StatementCtx;

/// One column becoming another.
pub struct NewColumn<'a> {
    pub table: &'a QualName,
    pub from: &'a str,
    pub to: &'a str,
    /// The new column's type, as SQL.
    pub ty: String,
    /// The new column ends NOT NULL.
    pub not_null: bool,
    /// What the backfill writes into the new column (SQL over the old one).
    pub copy: String,
    /// A rename: the `renames` annotation goes above the new column.
    pub rename: bool,
}

/// The statement (its own `ALTER TABLE`, one action) rewritten into the recipe.
pub fn new_column_and_copy(ctx: &StatementCtx, new: &NewColumn) -> Result<Fix, NoFix> {
    let NewColumn {
        table, from, to, ..
    } = *new;
    if ctx.window.layout == Layout::Diesel {
        return Err(NoFix::because("a diesel migration has no backfill or contract phase: give it concertina's expand.sql/backfill.sql/contract.sql layout first"));
    }
    if ctx.phase != Phase::Expand {
        return Err(NoFix::because(format!(
            "it is in {}: the recipe starts in expand",
            ctx.file_name()
        )));
    }
    if ctx.in_transaction() {
        return Err(NoFix::because(
            "it is inside `BEGIN … COMMIT`: the recipe's statements would commit together",
        ));
    }
    let names = [table.schema.as_str(), table.name.as_str(), from, to];
    if new.rename
        && names
            .iter()
            .any(|n| n.contains(['.', '(', ')', '-', '>', '"', '`']))
    {
        return Err(NoFix::because("a name holds a character `concertina:renames(…)` cannot carry (`.`, `(`, `)`, `-`, `>`, a quote)"));
    }
    let Some(t) = ctx.schema.table(table) else {
        return Err(NoFix::because(format!("the model does not know `{table}`")));
    };
    let Some(column) = t.column(from) else {
        return Err(NoFix::because(format!(
            "the model does not know `{table}.{from}`"
        )));
    };
    if t.column(to).is_some() && !to.eq_ignore_ascii_case(from) {
        return Err(NoFix::because(format!(
            "`{table}` has a column `{to}` already"
        )));
    }
    if let Some(why) = not_plain(ctx.schema, table, from, column) {
        return Err(NoFix::because(format!(
            "`{table}.{from}` {why}: the new column needs the same, written by hand"
        )));
    }
    let later = &ctx.source.text[ctx.statement.end..];
    let others = [Phase::Backfill, Phase::Contract].map(|p| ctx.window.phase_text(p).unwrap_or(""));
    if names_table(ctx, later, table) || others.iter().any(|text| names_table(ctx, text, table)) {
        return Err(NoFix::because(format!("a later statement (in expand.sql, backfill.sql or contract.sql) names `{table}` or cannot be followed: it may read `{to}` before the backfill fills it")));
    }
    let text = ctx.text();
    let Some(last) = tokens(text).and_then(|t| t.last().cloned()) else {
        return Err(NoFix::because(
            "the statement's text could not be read token by token",
        ));
    };
    let d = ctx.dialect;
    let (name, a, b) = (qualified(table, d), ident(from, d), ident(to, d));
    let mut expand = String::new();
    if new.rename {
        let t_note = match table.schema == d.default_schema() {
            true => note_name(&table.name, ctx),
            false => format!(
                "{}.{}",
                note_name(&table.schema, ctx),
                note_name(&table.name, ctx)
            ),
        };
        expand.push_str(&format!(
            "-- concertina:renames({t_note}.{} -> {t_note}.{})\n",
            note_name(from, ctx),
            note_name(to, ctx),
        ));
    }
    expand.push_str(&format!("ALTER TABLE {name} ADD COLUMN {b} {}", new.ty));
    let mut contract = format!("ALTER TABLE {name} DROP COLUMN {a};");
    let pg = ctx.is_postgres();
    if !column.nullable {
        // MySQL has no DROP NOT NULL: the column is restated, which `not_plain` made safe
        // (no default, collation or character set of its own to lose).
        let nullable = match pg {
            true => format!("ALTER COLUMN {a} DROP NOT NULL"),
            false => format!("MODIFY {a} {} NULL", column.ty),
        };
        expand.push_str(&format!(";\nALTER TABLE {name} {nullable}"));
    }
    if new.not_null {
        let required = match pg {
            true => format!("ALTER COLUMN {b} SET NOT NULL"),
            false => format!("MODIFY {b} {} NOT NULL", new.ty),
        };
        contract.push_str(&format!("\nALTER TABLE {name} {required};"));
    }
    // down.sql undoes expand (before contract): `a` required again, `b` dropped.
    let mut down = String::new();
    if !column.nullable {
        let required = match pg {
            true => format!("ALTER COLUMN {a} SET NOT NULL"),
            false => format!("MODIFY {a} {} NOT NULL", column.ty),
        };
        down.push_str(&format!("ALTER TABLE {name} {required};\n"));
    }
    down.push_str(&format!("ALTER TABLE {name} DROP COLUMN {b}"));
    let down = undo_in_down(ctx, new, down)?;
    let start = ctx.statement.start;
    let mut fix = Fix::replace(start, start + last.end, expand)
        .and(Edit::Append {
            phase: Phase::Backfill,
            text: format!("UPDATE {name} SET {b} = {} WHERE {b} IS NULL;", new.copy),
        })
        .and(Edit::Append {
            phase: Phase::Contract,
            text: contract,
        });
    if let Some(edit) = down {
        fix = fix.and(edit);
    }
    Ok(fix)
}

/// The down.sql statement that undoes the change as written (`RENAME COLUMN b TO a`, the type
/// changed back), replaced with the recipe's `down`; `None` without a down.sql. Any other
/// statement of down.sql naming the table leaves the whole to be rewritten by hand.
fn undo_in_down(ctx: &StatementCtx, new: &NewColumn, down: String) -> Result<Option<Edit>, NoFix> {
    let Some(text) = ctx.window.phase_text(Phase::Down) else {
        return Ok(None);
    };
    let by_hand = |why: &str| {
        NoFix::because(format!(
            "down.sql {why}: rewrite it with the recipe by hand (its down drops `{}`{})",
            new.to,
            if new.not_null {
                " and makes the old column NOT NULL again"
            } else {
                ""
            }
        ))
    };
    let (file, parsed) = recipes::parse(ctx, text);
    let same = |a: &str, b: &str| match ctx.is_postgres() {
        true => a == b,
        false => a.eq_ignore_ascii_case(b),
    };
    let mut undo = None;
    for s in &parsed.statements {
        let ops = match &s.change {
            Change::AlterTable { table, ops, .. } if table == new.table => ops.as_slice(),
            Change::Opaque { .. } | Change::ProceduralBlock => {
                return Err(by_hand("holds code the model cannot follow"))
            }
            _ if names_table(ctx, s.text(&file), new.table) => {
                return Err(by_hand(&format!("does more with `{}`", new.table)))
            }
            _ => continue,
        };
        let undoes = match ops {
            [AlterOp::RenameColumn { from, to }] => same(from, new.to) && same(to, new.from),
            [AlterOp::AlterColumnType { column, .. }] => !new.rename && same(column, new.from),
            [AlterOp::ModifyColumn { old_name, column }] => {
                (same(old_name, new.to) || same(old_name, new.from)) && same(&column.name, new.from)
            }
            _ => false,
        };
        if !undoes || undo.is_some() {
            return Err(by_hand(&format!("does more with `{}`", new.table)));
        }
        undo = Some(s);
    }
    let Some(s) = undo else {
        return Err(by_hand("does not undo the change"));
    };
    let last = tokens(s.text(&file))
        .and_then(|t| t.last().cloned())
        .ok_or_else(|| by_hand("cannot be read token by token"))?;
    Ok(Some(Edit::ReplaceIn {
        phase: Phase::Down,
        start: s.start,
        end: s.start + last.end,
        text: down,
    }))
}

/// A column's type changed in place (`ALTER COLUMN a TYPE T [USING e]`, MySQL `MODIFY a T` or
/// `CHANGE a b T`) → the new-column recipe, the new column named by `--new-column t.a=b` (a
/// `CHANGE` names it itself). The fix of `compat-type-changed`, `column-type-rewrite` and
/// `mysql-column-type-copy`: whichever rewrites the statement first, the others find it gone.
pub fn type_change(ctx: &StatementCtx) -> Result<Fix, NoFix> {
    let Some((table, ops)) = ctx.existing_alter() else {
        return Err(NoFix::because("not an `ALTER TABLE` of an existing table"));
    };
    let op = match ops {
        [op] => op,
        _ => return Err(NoFix::because("the statement has other actions: split it (one action per `ALTER TABLE`) and run fix again")),
    };
    let Some(old) = ctx.schema.table(table) else {
        return Err(NoFix::because(format!("the model does not know `{table}`")));
    };
    let d = ctx.dialect;
    let (from, ty, not_null, copy, named) = match op {
        AlterOp::AlterColumnType {
            column,
            ty,
            using,
            collation,
        } => {
            if collation.is_some() {
                return Err(NoFix::because("the type change sets a collation too: the new column needs it, written by hand"));
            }
            let Some(c) = old.column(column) else {
                return Err(NoFix::because(format!(
                    "the model does not know `{table}.{column}`"
                )));
            };
            let copy = match using {
                true => using_expression(ctx)?,
                false => ident(column, d),
            };
            (column, ty.to_string(), !c.nullable, copy, None)
        }
        AlterOp::ModifyColumn { old_name, column } => {
            if old.column(old_name).is_none() {
                return Err(NoFix::because(format!(
                    "the model does not know `{table}.{old_name}`"
                )));
            }
            if let Some(why) = restates_more(column) {
                return Err(NoFix::because(format!(
                    "the `MODIFY` {why}: the new column needs the same, written by hand"
                )));
            }
            let named =
                (!column.name.eq_ignore_ascii_case(old_name)).then_some(column.name.as_str());
            (
                old_name,
                column.ty.to_string(),
                column.not_null,
                ident(old_name, d),
                named,
            )
        }
        _ => return Err(NoFix::because("not a change of a column's type")),
    };
    let decided = ctx.config.fix_decisions.new_column(table, from);
    let Some(to) = named.or(decided) else {
        // Whatever else stands in the way is said first: the flag alone would not do.
        let probe = format!("{from}_concertina_new");
        let new = NewColumn {
            table,
            from,
            to: &probe,
            ty,
            not_null,
            copy,
            rename: false,
        };
        new_column_and_copy(ctx, &new)?;
        let target = flag_target(table, from, d.default_schema());
        return Err(NoFix::needs(format!("--new-column {target}=NAME"), format!("the new column needs a name of its own, the one the new app reads (renaming it back in contract would break the new app): run `cargo xtask migrate fix --new-column {target}=NAME` to write the recipe with one (the backfill copies `{}` into it)", new.copy)));
    };
    new_column_and_copy(
        ctx,
        &NewColumn {
            table,
            from,
            to,
            ty,
            not_null,
            copy,
            rename: false,
        },
    )
}

/// The `USING` expression as written (the statement's last clause): the backfill computes it
/// per row as `ALTER … TYPE` would.
fn using_expression(ctx: &StatementCtx) -> Result<String, NoFix> {
    let text = ctx.text();
    let toks = tokens(text).unwrap_or_default();
    let at = find_word(text, &toks, "USING");
    match (at, toks.last()) {
        (Some(i), Some(last)) if i + 1 < toks.len() => {
            Ok(text[toks[i + 1].start..last.end].trim().to_string())
        }
        _ => Err(NoFix::because(
            "the `USING` expression could not be read from the statement",
        )),
    }
}

/// What a restated column (`MODIFY`, `CHANGE`) says besides its name, type and NULL or NOT
/// NULL: each would need its own copy on the new column.
pub fn restates_more(spec: &ColumnSpec) -> Option<&'static str> {
    if spec.default.is_some() || spec.identity || spec.serial || spec.generated.is_some() {
        Some("gives the column a default, an identity or a generation expression")
    } else if spec.collation.is_some() || spec.charset.is_some() {
        Some("gives the column a collation or character set")
    } else if !spec.constraints.is_empty() {
        Some("gives the column a key, reference or check")
    } else {
        None
    }
}

/// A name as `concertina:renames` reads it: bare when lower case letters, digits and `_` (a
/// keyword is fine in a comment), quoted otherwise.
fn note_name(name: &str, ctx: &StatementCtx) -> String {
    if crate::types::is_plain_ident(name) {
        name.to_string()
    } else {
        ident(name, ctx.dialect)
    }
}

/// What makes `column` more than its type and nullability, if anything.
fn not_plain(
    schema: &Schema,
    table: &QualName,
    name: &str,
    column: &Column,
) -> Option<&'static str> {
    let t = schema.table(table)?;
    let has = |cols: &[String]| cols.iter().any(|c| c == name);
    if column.default.is_some() || column.identity || column.generated.is_some() {
        Some("has a default, an identity or a generation expression")
    } else if column.collation.is_some() || column.charset.is_some() {
        Some("has a collation of its own")
    } else if t.partitioned || t.partition_of.is_some() {
        Some("belongs to a partitioned table")
    } else if t.constraints.iter().any(|c| match &c.kind {
        ConstraintKind::PrimaryKey { columns, .. }
        | ConstraintKind::Unique { columns, .. }
        | ConstraintKind::ForeignKey { columns, .. } => has(columns),
        ConstraintKind::NotNull { column } => column == name,
        // The expression's columns are not tracked one by one: any such constraint counts.
        ConstraintKind::Check { .. } | ConstraintKind::Exclude => true,
    }) {
        Some("is in a constraint (or the table has a CHECK or exclusion constraint)")
    } else if schema
        .indexes_of(table)
        .any(|i| has(&i.columns) || !i.expressions.is_empty() || i.predicate.is_some())
    {
        Some("is in an index (or the table has an expression or partial index)")
    } else if schema.tables.values().any(|o| {
        o.constraints.iter().any(|c| {
            matches!(&c.kind, ConstraintKind::ForeignKey { ref_table, ref_columns, .. }
                if ref_table == table && has(ref_columns))
        })
    }) {
        Some("is referenced by a foreign key")
    } else if schema.views.values().any(|v| v.reads.contains(table)) {
        Some("is read by a view")
    } else if schema.triggers.iter().any(|tr| &tr.table == table) {
        Some("has a trigger on its table")
    } else {
        None
    }
}
