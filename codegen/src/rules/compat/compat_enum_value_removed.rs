//! `compat-enum-value-removed`: an enum label of `S(N-1)` removed or renamed before contract
//! (in expand or backfill): `ALTER TYPE … RENAME VALUE`, `DROP TYPE` of an old-app enum (a
//! drop-and-recreate is reported at the drop), `ALTER COLUMN … TYPE` onto a replacement
//! created under the old name (after `ALTER TYPE … RENAME TO …_old`), a MySQL `ENUM`/`SET`
//! redefinition.
//!
//! A switch to an enum of another name is `compat-type-changed`'s. [`enum_label_changes`] is
//! shared with `compat-enum-value-added`.

use crate::change::{AlterOp, Change, ObjectKind, QualName};
use crate::diag::Severity;
use crate::layout::Phase;
use crate::rules::{Findings, Rule, StatementCtx};
use crate::types::SqlType;

pub static RULE: Rule = Rule {
    id: "compat-enum-value-removed",
    severity: Severity::Error,
    summary: "an enum label of `S(N-1)` removed or renamed before contract (`ALTER TYPE … RENAME VALUE`, recreating the type, a MySQL `ENUM` redefinition)",
    help: "keep the label until contract; backfill maps old rows to the new label; the new app stops writing it; contract then forbids it with `CHECK (col <> 'old') NOT VALID` + `VALIDATE` (PostgreSQL cannot drop a label)",
    check,
    fix: None,
};

/// Labels of an old-app enum that a statement removes and adds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct LabelChange {
    /// What the message names: "enum `mood`", "`users.status`".
    pub subject: String,
    /// "`ALTER TYPE … RENAME VALUE`", "`CREATE TYPE mood`"…
    pub how: String,
    pub removed: Vec<String>,
    pub added: Vec<String>,
}

/// MySQL `ENUM('a','b')` labels.
fn inline_labels(ty: &SqlType) -> Vec<String> {
    ty.args
        .iter()
        .map(|a| {
            let a = a.trim();
            let a = a
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .unwrap_or(a);
            a.replace("''", "'")
        })
        .collect()
}

fn diff(old: &[String], new: &[String], subject: String, how: String) -> Option<LabelChange> {
    let removed: Vec<String> = old.iter().filter(|l| !new.contains(l)).cloned().collect();
    let added: Vec<String> = new.iter().filter(|l| !old.contains(l)).cloned().collect();
    (!removed.is_empty() || !added.is_empty()).then_some(LabelChange {
        subject,
        how,
        removed,
        added,
    })
}

fn old_enum<'a>(ctx: &'a StatementCtx, name: &QualName) -> Option<&'a Vec<String>> {
    ctx.window.before.enums.get(name)
}

/// Label removals and additions this statement makes to enums the old app knows.
pub(crate) fn enum_label_changes(ctx: &StatementCtx) -> Vec<LabelChange> {
    let mut out = Vec::new();
    match ctx.change {
        Change::RenameEnumValue { name, from, to }
            if old_enum(ctx, name).is_some_and(|l| l.contains(from)) =>
        {
            out.push(LabelChange {
                subject: format!("enum `{name}`"),
                how: format!("`ALTER TYPE {name} RENAME VALUE '{from}' TO '{to}'`"),
                removed: vec![from.clone()],
                added: vec![to.clone()],
            });
        }
        Change::AddEnumValue { name, label, .. }
            if old_enum(ctx, name).is_some_and(|l| !l.contains(label)) =>
        {
            out.push(LabelChange {
                subject: format!("enum `{name}`"),
                how: format!("`ALTER TYPE {name} ADD VALUE '{label}'`"),
                removed: Vec::new(),
                added: vec![label.clone()],
            });
        }
        Change::DropObjects {
            kind: ObjectKind::Type,
            names,
            ..
        } => {
            for name in names {
                if let Some(labels) = old_enum(ctx, name) {
                    out.push(LabelChange {
                        subject: format!("enum `{name}`"),
                        how: format!("`DROP TYPE {name}`"),
                        removed: labels.clone(),
                        added: Vec::new(),
                    });
                }
            }
        }
        Change::AlterTable { table, ops, .. } => {
            if ctx.is_new_table(table) {
                return out;
            }
            let Some(old_table) = ctx.window.before.table(table) else {
                return out;
            };
            for op in ops {
                match op {
                    AlterOp::AlterColumnType { column, ty, .. } => {
                        let Some(before) = old_table.column(column) else {
                            continue;
                        };
                        // The same enum name, now naming a replacement type.
                        if before.ty.name != ty.name {
                            continue;
                        }
                        let Some((old, new)) = ctx
                            .window
                            .before
                            .enums
                            .iter()
                            .find(|(k, _)| k.name == ty.name)
                            .map(|(_, l)| l)
                            .zip(
                                ctx.schema
                                    .enums
                                    .iter()
                                    .find(|(k, _)| k.name == ty.name)
                                    .map(|(_, l)| l),
                            )
                        else {
                            continue;
                        };
                        out.extend(diff(
                            old,
                            new,
                            format!("`{table}.{column}`"),
                            format!("`ALTER COLUMN {column} TYPE {ty}` onto the recreated `{ty}`"),
                        ));
                    }
                    AlterOp::ModifyColumn { old_name, column } => {
                        let Some(before) = old_table.column(old_name) else {
                            continue;
                        };
                        let kinds = ["enum", "set"];
                        if kinds.contains(&before.ty.name.as_str())
                            && kinds.contains(&column.ty.name.as_str())
                        {
                            out.extend(diff(
                                &inline_labels(&before.ty),
                                &inline_labels(&column.ty),
                                format!("`{table}.{old_name}`"),
                                format!("`MODIFY {} {}`", column.name, column.ty),
                            ));
                        }
                    }
                    AlterOp::RenameTable { .. } => break,
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

fn quoted(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| format!("'{l}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check(ctx: &StatementCtx, out: &mut Findings) {
    if !matches!(ctx.phase, Phase::Expand | Phase::Backfill) {
        return;
    }
    for ch in enum_label_changes(ctx) {
        if ch.removed.is_empty() {
            continue;
        }
        out.report(format!(
            "{} in {} removes {} from {} before contract: the old app (S(N-1)) still writes and reads {}, so its writes fail and its reads of old rows cannot decode",
            ch.how,
            ctx.file_name(),
            quoted(&ch.removed),
            ch.subject,
            if ch.removed.len() == 1 { "it" } else { "them" }
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::DialectKind;
    use crate::layout::Phase;
    use crate::rules::testing::{expand_hits, Case};

    const SETUP: &str = "CREATE TYPE mood AS ENUM ('ok', 'sad', 'meh');\nCREATE TABLE users (id bigint PRIMARY KEY, m mood);";
    const ID: &str = "compat-enum-value-removed";

    #[test]
    fn flags_a_label_rename() {
        let hits = expand_hits(SETUP, "ALTER TYPE mood RENAME VALUE 'meh' TO 'so-so';", ID);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].is_error());
        assert!(
            hits[0].message.contains("removes 'meh' from enum `mood`"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn flags_recreating_the_type_without_a_label() {
        let sql = "ALTER TYPE mood RENAME TO mood_old;\nCREATE TYPE mood AS ENUM ('ok', 'sad');\nALTER TABLE users ALTER COLUMN m TYPE mood USING m::text::mood;\nDROP TYPE mood_old;";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].line, 3);
        assert!(hits[0].message.contains("`users.m`"), "{}", hits[0].message);
    }

    #[test]
    fn flags_drop_and_recreate() {
        let sql = "DROP TYPE mood CASCADE;\nCREATE TYPE mood AS ENUM ('ok');";
        let hits = expand_hits(SETUP, sql, ID);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert!(
            hits[0].message.contains("'ok', 'sad', 'meh'"),
            "{}",
            hits[0].message
        );
    }

    #[test]
    fn adding_labels_or_new_enums_is_not_removal() {
        let sql = "ALTER TYPE mood ADD VALUE 'glad';\nCREATE TYPE color AS ENUM ('red');\nALTER TYPE color RENAME VALUE 'red' TO 'crimson';";
        assert!(expand_hits(SETUP, sql, ID).is_empty());
    }

    #[test]
    fn contract_is_where_labels_may_go() {
        let hits = Case::pg(
            SETUP,
            &[(
                Phase::Contract,
                "ALTER TYPE mood RENAME VALUE 'meh' TO 'so-so';",
            )],
        )
        .hits(ID);
        assert!(hits.is_empty());
    }

    #[test]
    fn mysql_enum_redefinition() {
        let case = |sql: &'static str| {
            Case::pg(
                "CREATE TABLE users (id bigint PRIMARY KEY, status ENUM('new','active','gone'));",
                &[(Phase::Expand, sql)],
            )
            .dialect(DialectKind::MySql)
            .server("8.0")
            .hits(ID)
        };
        let hits = case("ALTER TABLE users MODIFY status ENUM('new','active');");
        assert_eq!(hits.len(), 1);
        assert!(
            hits[0].message.contains("'gone'") && hits[0].message.contains("`users.status`"),
            "{}",
            hits[0].message
        );
        assert!(
            case("ALTER TABLE users MODIFY status ENUM('new','active','gone','paused');")
                .is_empty()
        );
    }

    #[test]
    fn suppressed_with_a_reason() {
        let sql = "-- concertina:allow(compat-enum-value-removed): 'meh' was never written\nALTER TYPE mood RENAME VALUE 'meh' TO 'so-so';";
        let all = Case::pg(SETUP, &[(Phase::Expand, sql)]).run();
        assert!(
            all.iter().all(|d| d.rule != ID && d.rule != "unused-allow"),
            "{all:?}"
        );
    }
}
