//! `down`: undo an expand that has not been contracted. The migration's `down.sql` when it
//! has one; otherwise the inverse of each expand statement, derived where it is obvious
//! (ADD COLUMN → DROP COLUMN, CREATE INDEX → DROP INDEX CONCURRENTLY, …) and refused with a
//! clear message where it is not (data inserted, enum labels added).

use concertina_codegen::change::{AlterOp, Change, ConstraintKind, ObjectKind, QualName};
use concertina_codegen::check::CheckedMigration;
use concertina_codegen::{Config, Phase};

use crate::backend::Backend;
use crate::plan::{checksum, plan_phase, PhasePlan, Step, StepKind};

fn qualified(db: &dyn Backend, name: &QualName) -> String {
    if name.schema.is_empty() {
        db.quote_ident(&name.name)
    } else {
        format!(
            "{}.{}",
            db.quote_ident(&name.schema),
            db.quote_ident(&name.name)
        )
    }
}

/// The plan that undoes a migration's expand.
pub fn down_plan(
    migration: &CheckedMigration,
    config: &Config,
    db: &dyn Backend,
) -> Result<PhasePlan, String> {
    let q = |name: &QualName| qualified(db, name);
    let quote_ident = |ident: &str| db.quote_ident(ident);
    if let Some(down) = migration.phase(Phase::Down) {
        return Ok(plan_phase(migration, down, config));
    }
    let Some(expand) = migration.phase(Phase::Expand) else {
        return Err(format!(
            "{}: has no expand phase to undo",
            migration.dir_name
        ));
    };
    let before = &migration.window.before;
    let mut inverse: Vec<(usize, Vec<(String, StepKind)>)> = Vec::new();
    for stmt in &expand.parsed.statements {
        let refuse = |what: &str| {
            Err(format!(
                "{}:{}: {what} has no obvious inverse; write {}/down.sql",
                expand.source.rel_path, stmt.line, migration.dir_name
            ))
        };
        let ddl = |sql: String| (sql, StepKind::Transactional);
        let steps: Vec<(String, StepKind)> = match &stmt.change {
            Change::CreateTable(ct) => vec![ddl(format!("DROP TABLE {}", q(&ct.name)))],
            Change::CreateIndex(ci) => {
                let Some(name) = &ci.name else {
                    return refuse("an unnamed CREATE INDEX");
                };
                vec![db.drop_index(&ci.table, name)]
            }
            Change::CreateEnum { name, .. } | Change::CreateType { name } => {
                vec![ddl(format!("DROP TYPE {}", q(name)))]
            }
            Change::CreateView {
                name,
                materialized,
                or_replace: false,
                ..
            } => vec![ddl(format!(
                "DROP {}VIEW {}",
                if *materialized { "MATERIALIZED " } else { "" },
                q(name)
            ))],
            Change::CreateSequence { name } => vec![ddl(format!("DROP SEQUENCE {}", q(name)))],
            Change::AlterTable { table, ops, .. } => {
                let mut out = Vec::new();
                for op in ops.iter().rev() {
                    let t = q(table);
                    match op {
                        AlterOp::AddColumn { column, .. } => out.push(ddl(format!(
                            "ALTER TABLE {t} DROP COLUMN {}",
                            quote_ident(&column.name)
                        ))),
                        AlterOp::AddConstraint(c) => {
                            let Some(name) = &c.name else {
                                return refuse("an unnamed ADD CONSTRAINT");
                            };
                            if let ConstraintKind::PrimaryKey { .. }
                            | ConstraintKind::Unique { .. } = c.kind
                            {
                                // Its index goes with it.
                            }
                            out.push(ddl(format!(
                                "ALTER TABLE {t} DROP CONSTRAINT {}",
                                quote_ident(name)
                            )));
                        }
                        AlterOp::DropNotNull { column } => out.push((
                            format!(
                                "ALTER TABLE {t} ALTER COLUMN {} SET NOT NULL",
                                quote_ident(column)
                            ),
                            StepKind::SafeSetNotNull {
                                table: table.clone(),
                                column: column.clone(),
                            },
                        )),
                        AlterOp::SetDefault { column, .. } | AlterOp::DropDefault { column } => {
                            let old = before
                                .tables
                                .get(table)
                                .and_then(|t| t.column(column))
                                .and_then(|c| c.default.clone());
                            out.push(ddl(match old {
                                Some(d) => format!(
                                    "ALTER TABLE {t} ALTER COLUMN {} SET DEFAULT {}",
                                    quote_ident(column),
                                    d.text
                                ),
                                None => format!(
                                    "ALTER TABLE {t} ALTER COLUMN {} DROP DEFAULT",
                                    quote_ident(column)
                                ),
                            }));
                        }
                        // MySQL's `ALTER TABLE … ADD INDEX name (…)`.
                        AlterOp::AddIndex {
                            name: Some(name), ..
                        } => out.push(db.drop_index(table, name)),
                        AlterOp::ValidateConstraint { .. }
                        | AlterOp::Other { .. }
                        | AlterOp::Algorithm(_)
                        | AlterOp::Lock(_) => {}
                        _ => return refuse("this ALTER TABLE"),
                    }
                }
                out
            }
            Change::NoSchemaEffect { .. } | Change::SetVariable { .. } => Vec::new(),
            Change::DropObjects {
                kind: ObjectKind::Index,
                ..
            } => return refuse("dropping an index"),
            _ => return refuse("this statement"),
        };
        inverse.push((stmt.line, steps));
    }
    // Undo in reverse order of the expand statements.
    let mut steps = Vec::new();
    for (line, group) in inverse.into_iter().rev() {
        for (sql, kind) in group {
            steps.push(Step {
                index: steps.len(),
                line,
                last_line: line,
                change: crate::plan::statement_change(&sql, config.dialect),
                sql,
                kind,
            });
        }
    }
    let text: String = steps.iter().map(|s| format!("{};\n", s.sql)).collect();
    Ok(PhasePlan {
        version: migration.version.clone(),
        name: migration.name.clone(),
        phase: Phase::Down,
        file: format!("{}/down.sql (derived from expand.sql)", migration.dir_name),
        checksum: checksum(&text),
        text,
        steps,
    })
}
