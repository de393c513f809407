//! `mysql-instant-row-versions`: from MySQL 8.0.29 each INSTANT `ADD`/`DROP COLUMN` makes a
//! row version; at 64 (255 from 9.1) INSTANT is refused (error 4092) until the table is
//! rebuilt. The model counts them per table since its creation or last rebuild (`FORCE`,
//! `OPTIMIZE TABLE`, an ALTER that rebuilds), across migrations; the rule warns from 14
//! before the limit (the 50th of 64). MariaDB has no such limit.

use super::{at_least, is_mariadb};
use crate::diag::Severity;
use crate::model::instant_column_changes;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "mysql-instant-row-versions",
    severity: Severity::Warning,
    summary: "the 50th+ INSTANT `ADD`/`DROP COLUMN` on one table since its last rebuild (MySQL 8.0.29+)",
    help: "plan one rebuild before the limit: `ALTER TABLE … FORCE` at a quiet time, with `concertina:allow(mysql-optimize-table): reason`",
    check,
    fix: None,
};

/// How many row versions the server allows.
fn limit(ctx: &StatementCtx) -> u32 {
    if at_least(ctx, 9, 1, 0) {
        255
    } else {
        64
    }
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if is_mariadb(ctx) || !at_least(ctx, 8, 0, 29) {
        return;
    }
    let Some((table, ops)) = ctx.existing_alter() else {
        return;
    };
    let Some(n) = instant_column_changes(ops).filter(|n| *n > 0) else {
        return;
    };
    let before = ctx
        .schema
        .instant_row_versions
        .get(table)
        .copied()
        .unwrap_or(0);
    let total = before.saturating_add(n);
    let limit = limit(ctx);
    if total + 14 >= limit {
        out.report(format!(
            "`{table}` reaches {total} INSTANT ADD/DROP COLUMNs since its last rebuild; at {limit} MySQL refuses INSTANT (error 4092)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    const RULE: &str = "mysql-instant-row-versions";

    fn setup(adds: usize) -> String {
        let mut s = String::from("CREATE TABLE t (id int PRIMARY KEY);\n");
        for i in 0..adds {
            s.push_str(&format!("ALTER TABLE t ADD COLUMN c{i} int;\n"));
        }
        s
    }

    #[test]
    fn warns_from_the_50th() {
        let setup = setup(48);
        let one = "ALTER TABLE t ADD COLUMN x int;";
        assert!(Case::mysql(&setup, &[(Phase::Expand, one)])
            .hits(RULE)
            .is_empty());
        let two = "ALTER TABLE t ADD COLUMN x int, DROP COLUMN c1;";
        let h = Case::mysql(&setup, &[(Phase::Expand, two)]).hits(RULE);
        assert_eq!(h.len(), 1);
        assert!(h[0].message.contains("50"), "{}", h[0].message);
    }

    #[test]
    fn a_rebuild_resets_the_count() {
        let setup = setup(60) + "ALTER TABLE t FORCE;\n";
        let h = Case::mysql(
            &setup,
            &[(Phase::Expand, "ALTER TABLE t ADD COLUMN x int;")],
        )
        .hits(RULE);
        assert!(h.is_empty(), "{h:?}");
    }

    #[test]
    fn versions_and_servers() {
        let setup = setup(60);
        let sql = "ALTER TABLE t ADD COLUMN x int;";
        let run = |case: Case| case.hits(RULE).len();
        assert_eq!(run(Case::mysql(&setup, &[(Phase::Expand, sql)])), 1);
        assert_eq!(
            run(Case::mysql(&setup, &[(Phase::Expand, sql)]).server("8.0.28")),
            0
        );
        assert_eq!(
            run(Case::mysql(&setup, &[(Phase::Expand, sql)]).server("9.1")),
            0
        );
        assert_eq!(run(Case::mariadb(&setup, &[(Phase::Expand, sql)])), 0);
    }

    #[test]
    fn suppressed() {
        let setup = setup(60);
        let sql = "-- concertina:allow(mysql-instant-row-versions): rebuild planned next week\nALTER TABLE t ADD COLUMN x int;";
        assert!(Case::mysql(&setup, &[(Phase::Expand, sql)])
            .hits(RULE)
            .is_empty());
    }
}
