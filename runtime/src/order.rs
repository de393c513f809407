//! Order: where each migration stands in the directory's order, and what the state table says
//! that this order cannot explain. A migration with no state row that sorts before one that
//! has run (a branch merged late, a deleted row) is not simply "pending": running it now
//! applies history out of order (an older `SET DEFAULT` overwriting a newer one, a
//! non-idempotent backfill run twice). Such a migration is refused unless the operator says
//! `--allow-out-of-order` (Flyway's `outOfOrder`); a phase whose own row is missing while a
//! later phase of the same migration has run is drift, never pending.

use std::fmt;

use crate::plan::PhasePlan;
use crate::state::{PhaseRecord, Status};

/// What the state table and the directory's order disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderProblem {
    /// A phase with no state row sorts before the same phase of a migration that has run.
    OutOfOrder { pending: String, applied: String },
    /// A phase of a started migration has no state row, but a later phase of it, or the same
    /// phase of a later migration, has one.
    MissingRow { file: String, later: String },
}

impl OrderProblem {
    /// `--allow-out-of-order` lets this one run; a missing row never does.
    pub fn allowed_out_of_order(&self) -> bool {
        matches!(self, OrderProblem::OutOfOrder { .. })
    }
}

impl fmt::Display for OrderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderProblem::OutOfOrder { pending, applied } => write!(
                f,
                "{pending}: pending, but it sorts before {applied}, which has already run; running it now applies history out of order (a branch merged late, or a deleted state row). Give it a version after the last applied one, or pass --allow-out-of-order if it is independent of what ran after it"
            ),
            OrderProblem::MissingRow { file, later } => write!(
                f,
                "{file}: has no row in the state table, but its migration has started and {later}, which runs after it, has one: the row was deleted or the state table edited. Restore the row from a backup of the state table; concertina will not guess whether the phase ran (running it again could repeat a data change)"
            ),
        }
    }
}

/// A state row that counts: rolled-back phases are as good as never run.
fn present<'a>(state: &'a [PhaseRecord], plan: &PhasePlan) -> Option<&'a PhaseRecord> {
    state
        .iter()
        .find(|r| r.version == plan.version && r.phase == plan.phase)
        .filter(|r| r.status != Status::RolledBack)
}

/// Every order problem, given the plans in directory order (each migration's phases in phase
/// order) and the state table.
pub fn order_problems(plans: &[PhasePlan], state: &[PhaseRecord]) -> Vec<OrderProblem> {
    let mut out = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        if present(state, plan).is_some() {
            continue;
        }
        let later_of_same = plans[i + 1..]
            .iter()
            .take_while(|p| p.version == plan.version)
            .find(|p| present(state, p).is_some());
        if let Some(later) = later_of_same {
            out.push(OrderProblem::MissingRow {
                file: plan.file.clone(),
                later: later.file.clone(),
            });
            continue;
        }
        let migration_started = plans
            .iter()
            .filter(|p| p.version == plan.version)
            .any(|p| present(state, p).is_some());
        // The same phase of a later migration ran; or nothing of this migration ran and
        // anything of a later one did.
        let applied_after = plans[i + 1..]
            .iter()
            .filter(|p| p.version != plan.version)
            .find(|p| (p.phase == plan.phase || !migration_started) && present(state, p).is_some());
        // A branch merged late brings whole migrations; a started migration missing one
        // phase's row lost it.
        match applied_after {
            Some(applied) if migration_started => out.push(OrderProblem::MissingRow {
                file: plan.file.clone(),
                later: applied.file.clone(),
            }),
            Some(applied) => out.push(OrderProblem::OutOfOrder {
                pending: plan.file.clone(),
                applied: applied.file.clone(),
            }),
            None => {}
        }
    }
    out
}

/// The position of `wanted` (a version or a directory name) among `versions`, or an error
/// listing the nearest ones: a typo must never mean "everything".
pub fn resolve_version(
    wanted: &str,
    versions: &[(String, String)],
) -> Result<usize, UnknownVersion> {
    let wanted = wanted.trim();
    if let Some(i) = versions
        .iter()
        .position(|(v, dir)| v == wanted || dir == wanted)
    {
        return Ok(i);
    }
    let mut scored: Vec<(usize, usize, &str)> = versions
        .iter()
        .map(|(v, dir)| {
            let common = v.chars().zip(wanted.chars()).take_while(|(a, b)| a == b);
            (
                usize::MAX - common.count(),
                edit_distance(v, wanted).min(edit_distance(dir, wanted)),
                dir.as_str(),
            )
        })
        .collect();
    scored.sort();
    Err(UnknownVersion {
        wanted: wanted.to_string(),
        nearest: scored.iter().take(3).map(|s| s.2.to_string()).collect(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--to {wanted}: no migration has that version; nearest: {}", if nearest.is_empty() { "none (the directory has no migrations)".to_string() } else { nearest.join(", ") })]
pub struct UnknownVersion {
    pub wanted: String,
    pub nearest: Vec<String>,
}

/// Levenshtein distance over chars; versions are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::checksum;
    use concertina_codegen::Phase;

    fn plan(version: &str, phase: Phase) -> PhasePlan {
        PhasePlan {
            version: version.into(),
            name: "m".into(),
            phase,
            file: format!("{version}_m/{}", phase.file_name()),
            text: String::new(),
            checksum: checksum(""),
            steps: Vec::new(),
        }
    }

    fn row(version: &str, phase: Phase, status: Status) -> PhaseRecord {
        PhaseRecord {
            version: version.into(),
            name: "m".into(),
            phase,
            status,
            checksum: checksum(""),
            applied_sql: String::new(),
            statements_done: 0,
            cursor: None,
            rows_done: 0,
            started_at: None,
            finished_at: None,
            last_error: None,
        }
    }

    fn plans() -> Vec<PhasePlan> {
        let mut out = Vec::new();
        for v in ["0001", "0002", "0003"] {
            for p in Phase::FORWARD {
                out.push(plan(v, p));
            }
        }
        out
    }

    #[test]
    fn a_normal_window_has_no_problem() {
        use Phase::*;
        // 0001 fully done, 0002 and 0003 expanded and backfilled, contracts waiting.
        let mut state = vec![
            row("0001", Expand, Status::Done),
            row("0001", Backfill, Status::Done),
            row("0001", Contract, Status::Done),
        ];
        for v in ["0002", "0003"] {
            state.push(row(v, Expand, Status::Done));
            state.push(row(v, Backfill, Status::Done));
        }
        assert_eq!(order_problems(&plans(), &state), vec![]);
        // Nothing applied at all, and a rolled-back latest migration.
        assert_eq!(order_problems(&plans(), &[]), vec![]);
        let rolled = vec![
            row("0001", Expand, Status::Done),
            row("0002", Expand, Status::RolledBack),
        ];
        assert_eq!(order_problems(&plans(), &rolled), vec![]);
    }

    #[test]
    fn an_older_pending_migration_is_out_of_order() {
        use Phase::*;
        let state = vec![
            row("0001", Expand, Status::Done),
            row("0003", Expand, Status::Done),
        ];
        let problems = order_problems(&plans(), &state);
        assert_eq!(
            problems[0],
            OrderProblem::OutOfOrder {
                pending: "0002_m/expand.sql".into(),
                applied: "0003_m/expand.sql".into()
            }
        );
        assert!(problems[0].allowed_out_of_order());
        // Every phase of 0002 is named (each would run out of order).
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn a_deleted_row_is_never_pending() {
        use Phase::*;
        // 0002's backfill row deleted: its contract ran.
        let state = vec![
            row("0002", Expand, Status::Done),
            row("0002", Contract, Status::Done),
        ];
        let problems = order_problems(&plans(), &state);
        assert!(problems.contains(&OrderProblem::MissingRow {
            file: "0002_m/backfill.sql".into(),
            later: "0002_m/contract.sql".into()
        }));
        // 0002's backfill row deleted while 0003's backfill ran.
        let state = vec![
            row("0001", Expand, Status::Baselined),
            row("0001", Backfill, Status::Baselined),
            row("0001", Contract, Status::Baselined),
            row("0002", Expand, Status::Done),
            row("0003", Expand, Status::Done),
            row("0003", Backfill, Status::Done),
        ];
        let problems = order_problems(&plans(), &state);
        assert_eq!(
            problems,
            vec![OrderProblem::MissingRow {
                file: "0002_m/backfill.sql".into(),
                later: "0003_m/backfill.sql".into()
            }]
        );
        assert!(!problems[0].allowed_out_of_order());
    }

    #[test]
    fn unknown_versions_name_the_nearest() {
        let versions: Vec<(String, String)> = ["0001_a", "0002_b", "0003_c", "0010_d"]
            .iter()
            .map(|d| (d[..4].to_string(), d.to_string()))
            .collect();
        assert_eq!(resolve_version("0002", &versions), Ok(1));
        assert_eq!(resolve_version("0003_c", &versions), Ok(2));
        let e = resolve_version("0002x", &versions).unwrap_err();
        assert_eq!(e.nearest[0], "0002_b");
        assert!(e.to_string().contains("--to 0002x"), "{e}");
        assert!(resolve_version("1", &[])
            .unwrap_err()
            .to_string()
            .contains("no migrations"));
    }
}
