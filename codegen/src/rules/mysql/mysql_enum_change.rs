//! `mysql-enum-change`: `MODIFY` of an `ENUM`/`SET` column is INSTANT only when it appends
//! labels at the end and the storage size stays the same (an `ENUM` of at most 255 labels
//! takes one byte, more take two; a `SET` takes 1, 2, 3, 4 or 8 bytes by its number of
//! labels). Anything else (reordering, inserting, removing, renaming labels) copies the table
//! with writes blocked. Removals and renames also break the old app: `compat-enum-value-removed`.

use super::{is_label_type, labels, modifies};
use crate::diag::Severity;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-enum-change",
    severity: Severity::Error,
    summary: "`MODIFY` of an `ENUM`/`SET` other than appending labels at the end",
    help: "append new labels at the end only (INSTANT); keep old labels until contract (`compat-enum-value-removed`), mapping them in backfill",
    check,
    fix: None,
};

/// Bytes a value takes: ENUM by label count, SET by bits.
fn storage(kind: &str, n: usize) -> usize {
    if kind == "enum" {
        if n <= 255 {
            1
        } else {
            2
        }
    } else {
        match n.div_ceil(8) {
            0 | 1 => 1,
            2 => 2,
            3 => 3,
            4 => 4,
            _ => 8,
        }
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    for (_, old, new) in modifies(ctx, table, ops) {
        if !is_label_type(&old.ty) || old.ty.name != new.ty.name {
            continue;
        }
        let (before, after) = (labels(&old.ty), labels(&new.ty));
        if before == after {
            continue;
        }
        let kind = old.ty.name.as_str();
        let why = if !after.starts_with(&before) {
            "the labels are not the old ones with new ones appended at the end".to_string()
        } else if storage(kind, before.len()) != storage(kind, after.len()) {
            format!(
                "{} labels → {} changes the storage size",
                before.len(),
                after.len()
            )
        } else {
            continue;
        };
        out.report(format!(
            "`MODIFY {}` of `{table}` ({}): {why}, so InnoDB copies the whole table and writes wait until it is done",
            new.name,
            kind.to_uppercase()
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::mysql_hits;

    const SETUP: &str = "CREATE TABLE orders (id int PRIMARY KEY, state enum('new','paid') NOT NULL DEFAULT 'new', tags set('a','b'));";
    const RULE: &str = "mysql-enum-change";

    #[test]
    fn flags_anything_but_appending() {
        for sql in [
            "ALTER TABLE orders MODIFY state enum('paid','new') NOT NULL DEFAULT 'new';",
            "ALTER TABLE orders MODIFY state enum('new','open','paid') NOT NULL DEFAULT 'new';",
            "ALTER TABLE orders MODIFY state enum('new') NOT NULL DEFAULT 'new';",
            "ALTER TABLE orders MODIFY tags set('a','b','c','d','e','f','g','h','i');",
        ] {
            let h = mysql_hits(SETUP, sql, RULE);
            assert_eq!(h.len(), 1, "{sql}: {h:?}");
            assert!(h[0].message.contains("orders"), "{}", h[0].message);
        }
    }

    #[test]
    fn appending_is_fine() {
        for sql in [
            "ALTER TABLE orders MODIFY state enum('new','paid','shipped') NOT NULL DEFAULT 'new';",
            "ALTER TABLE orders MODIFY tags set('a','b','c');",
        ] {
            assert!(mysql_hits(SETUP, sql, RULE).is_empty(), "{sql}");
        }
    }

    #[test]
    fn suppressed_and_new_table() {
        let allowed = "-- concertina:allow(mysql-enum-change): 12 rows\nALTER TABLE orders MODIFY state enum('paid','new') NOT NULL;";
        assert!(mysql_hits(SETUP, allowed, RULE).is_empty());
        let new = "CREATE TABLE t (s enum('x','y'));\nALTER TABLE t MODIFY s enum('y','x');";
        assert!(mysql_hits(SETUP, new, RULE).is_empty());
    }
}
