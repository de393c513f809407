//! `compat-enum-value-added`: expand adds a label to an enum the old app (`S(N-1)`) knows
//! (`ALTER TYPE … ADD VALUE`, a MySQL `ENUM`/`SET` with appended labels, a same-named
//! replacement type with more labels). Once the new app writes it, the old app's generated enum
//! cannot decode those rows. A warning: the checker cannot see whether the new app writes the
//! label during the window. Enums created by this migration are not the old app's. A statement
//! that also removes labels (`RENAME VALUE`) is reported by `compat-enum-value-removed` only.

use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::compat::compat_enum_value_removed::enum_label_changes;
use crate::rules::{Findings, Rule, StatementCtx};

pub static RULE: Rule = Rule {
    id: "compat-enum-value-added",
    severity: Severity::Warning,
    summary: "expand adds an enum label that the new app may write during the window",
    help: "write the new label only once no old app runs (from the next migration on), or give the generated enums an unknown-value fallback; then `allow` this with that reason",
    check,
    fix: None,
};

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if ctx.phase != Phase::Expand {
        return;
    }
    for ch in enum_label_changes(ctx) {
        // A change that also removes labels (a `RENAME VALUE`, a redefinition) is
        // `compat-enum-value-removed`'s error already: one diagnostic per statement.
        if ch.added.is_empty() || !ch.removed.is_empty() {
            continue;
        }
        let labels = ch
            .added
            .iter()
            .map(|l| format!("'{l}'"))
            .collect::<Vec<_>>()
            .join(", ");
        out.report(format!(
            "{} adds {labels} to {} in expand: once the new app writes it, the old app's (S(N-1)) generated enum cannot decode those rows and its reads of them fail",
            ch.how, ch.subject
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TYPE mood AS ENUM ('ok', 'sad');\nCREATE TABLE users (id bigint PRIMARY KEY, m mood);";
    const ID: &str = "compat-enum-value-added";

    #[test]
    fn warns_on_add_value() {
        let hits = expand_hits(SETUP, "ALTER TYPE mood ADD VALUE 'glad';", ID);
        assert_eq!(hits.len(), 1);
        assert!(!hits[0].is_error());
        assert!(
            hits[0].message.contains("adds 'glad' to enum `mood`"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn existing_labels_and_new_enums_are_quiet() {
        let sql = "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'ok';\nCREATE TYPE color AS ENUM ('red');\nALTER TYPE color ADD VALUE 'blue';";
        let hits = expand_hits(SETUP, sql, ID);
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn a_renamed_label_is_left_to_compat_enum_value_removed() {
        let all = Case::pg(
            SETUP,
            &[(
                Phase::Expand,
                "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';",
            )],
        )
        .run();
        let rules: Vec<&str> = all.iter().map(|d| d.rule.as_str()).collect();
        assert_eq!(rules, ["compat-enum-value-removed"], "{all:?}");
    }

    #[test]
    fn contract_is_fine() {
        let hits = Case::pg(
            SETUP,
            &[(Phase::Contract, "ALTER TYPE mood ADD VALUE 'glad';")],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn mysql_appended_label() {
        let hits = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, status ENUM('new','active'));",
            &[(
                Phase::Expand,
                "ALTER TABLE users MODIFY status ENUM('new','active','paused');",
            )],
        )
        .dialect(DialectKind::MySql)
        .server("8.0")
        .hits(ID);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("'paused'"));
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(compat-enum-value-added): written only from the next release on\nALTER TYPE mood ADD VALUE 'glad';";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
