//! Drift: a phase file that changed after it was applied. The database holds what the old text
//! did; running the new one would diverge silently, so the runtime refuses and shows the diff.

use std::fmt;

use crate::plan::{checksum, PhasePlan};
use crate::state::{PhaseRecord, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub version: String,
    pub file: String,
    /// Unified diff from the applied text to the file's current text; empty when the file is gone.
    pub diff: String,
    pub missing: bool,
    /// The file matches the text the row records as applied, but not the row's checksum:
    /// the state row was edited, not the file.
    pub row_edited: bool,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.row_edited {
            write!(
                f,
                "{}: the file is exactly the text recorded as applied, but the state row's checksum does not match it: the state table was edited, not the file. Restore the row's checksum (`SELECT checksum …` from a backup of the state table); the file needs no change",
                self.file
            )
        } else if self.missing {
            write!(
                f,
                "{}: applied to this database but missing from the migrations directory; restore it (applied migrations are history, write a new migration to change the schema)",
                self.file
            )
        } else {
            write!(
                f,
                "{}: changed after it was applied; restore the applied text (below) and put the change in a new migration\n{}",
                self.file, self.diff
            )
        }
    }
}

/// Compares every recorded phase that changed the database with the files of the plan.
pub fn find_drift(records: &[PhaseRecord], plans: &[PhasePlan]) -> Vec<Drift> {
    let mut out = Vec::new();
    for rec in records {
        let started = rec.status.is_applied()
            || (rec.status != Status::RolledBack && (rec.statements_done > 0 || rec.rows_done > 0));
        if rec.phase == concertina_codegen::Phase::Down {
            continue;
        }
        if !started {
            continue;
        }
        match plans
            .iter()
            .find(|p| p.version == rec.version && p.phase == rec.phase)
        {
            None => out.push(Drift {
                version: rec.version.clone(),
                file: format!("{}_{}/{}", rec.version, rec.name, rec.phase.file_name()),
                diff: String::new(),
                missing: true,
                row_edited: false,
            }),
            Some(plan) if plan.checksum != rec.checksum => {
                if unfinished_edit_is_safe(rec, plan) {
                    continue;
                }
                let row_edited = checksum(&rec.applied_sql) == plan.checksum;
                out.push(Drift {
                    version: rec.version.clone(),
                    file: plan.file.clone(),
                    diff: if row_edited {
                        String::new()
                    } else {
                        unified_diff(&rec.applied_sql, &plan.text, &plan.file)
                    },
                    missing: false,
                    row_edited,
                })
            }
            Some(_) => {}
        }
    }
    out
}

/// A failed or interrupted DDL phase may be fixed in place: only the statements that ran are
/// history. True when every line before the first statement that has not run is unchanged
/// (the statements that ran are exactly as applied); the rerun then records the new text.
pub fn unfinished_edit_is_safe(rec: &PhaseRecord, plan: &PhasePlan) -> bool {
    if rec.status.is_applied() || rec.status == Status::RolledBack {
        return false;
    }
    // A backfill's progress is rows, not statements: any edit of a started one is drift.
    if rec.phase == concertina_codegen::Phase::Backfill && rec.rows_done > 0 {
        return false;
    }
    let done = rec.statements_done.max(0) as usize;
    if done == 0 && rec.rows_done == 0 {
        return true;
    }
    let Some(next) = plan.steps.get(done) else {
        return false;
    };
    // Lines 1..next.line-1 hold every statement that ran (a statement that ran and the next
    // one sharing a line is rare; then the line itself must match too).
    let same_line_as_done = done > 0 && plan.steps[done - 1].line == next.line;
    let keep = if same_line_as_done {
        next.line
    } else {
        next.line - 1
    };
    let applied: Vec<&str> = rec.applied_sql.lines().take(keep).collect();
    let now: Vec<&str> = plan.text.lines().take(keep).collect();
    applied.len() == keep && applied == now
}

pub fn unified_diff(applied: &str, current: &str, file: &str) -> String {
    similar::TextDiff::from_lines(applied, current)
        .unified_diff()
        .context_radius(2)
        .header(&format!("{file} (applied)"), &format!("{file} (now)"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use concertina_codegen::Phase;

    fn record(text: &str, status: Status) -> PhaseRecord {
        PhaseRecord {
            version: "0002".into(),
            name: "add_email".into(),
            phase: Phase::Expand,
            status,
            checksum: checksum(text),
            applied_sql: text.into(),
            statements_done: 0,
            cursor: None,
            rows_done: 0,
            started_at: None,
            finished_at: None,
            last_error: None,
        }
    }

    fn plan(text: &str) -> PhasePlan {
        PhasePlan {
            version: "0002".into(),
            name: "add_email".into(),
            phase: Phase::Expand,
            file: "0002_add_email/expand.sql".into(),
            text: text.into(),
            checksum: checksum(text),
            steps: Vec::new(),
        }
    }

    #[test]
    fn an_edited_applied_file_is_drift_with_a_diff() {
        let applied = "ALTER TABLE users ADD COLUMN email text;\n";
        let now = "ALTER TABLE users ADD COLUMN email varchar(100);\n";
        let drift = find_drift(&[record(applied, Status::Done)], &[plan(now)]);
        assert_eq!(drift.len(), 1);
        let text = drift[0].to_string();
        assert!(
            text.contains("-ALTER TABLE users ADD COLUMN email text;"),
            "{text}"
        );
        assert!(
            text.contains("+ALTER TABLE users ADD COLUMN email varchar(100);"),
            "{text}"
        );
        assert!(text.contains("0002_add_email/expand.sql"), "{text}");
    }

    #[test]
    fn unchanged_or_unstarted_is_not_drift() {
        let t = "SELECT 1;\n";
        assert!(find_drift(&[record(t, Status::Done)], &[plan(t)]).is_empty());
        assert!(find_drift(&[record(t, Status::Failed)], &[plan("SELECT 2;\n")]).is_empty());
    }

    #[test]
    fn a_missing_applied_file_is_drift() {
        let drift = find_drift(&[record("SELECT 1;\n", Status::Done)], &[]);
        assert!(drift[0].missing);
        assert!(drift[0]
            .to_string()
            .contains("missing from the migrations directory"));
    }
}
