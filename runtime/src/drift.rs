//! Drift: a phase file that changed after it was applied. The database holds what the old text
//! did; running the new one would diverge silently, so the runtime refuses and shows the diff.

use std::fmt;

use crate::plan::PhasePlan;
use crate::state::{PhaseRecord, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub version: String,
    pub file: String,
    /// Unified diff from the applied text to the file's current text; empty when the file is gone.
    pub diff: String,
    pub missing: bool,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing {
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
            }),
            Some(plan) if plan.checksum != rec.checksum => out.push(Drift {
                version: rec.version.clone(),
                file: plan.file.clone(),
                diff: unified_diff(&rec.applied_sql, &plan.text, &plan.file),
                missing: false,
            }),
            Some(_) => {}
        }
    }
    out
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
    use crate::plan::checksum;
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
