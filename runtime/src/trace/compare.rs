//! The checker's verdict against what the server did, both ways: the checker calls a statement
//! safe but the server rewrote or scanned an app table under a lock that blocks the app, took a
//! lock the plan does not show, or failed; or the checker claims a hazard (a rule's
//! [`Hazard`]) and nothing of the kind happened. Each disagreement is a `trace-disagrees`
//! finding.
//!
//! Only relations that held the app's rows when the phase file started count: what the same
//! file created is empty and unused, as the checker itself treats it.

use concertina_codegen::change::QualName;
use concertina_codegen::rules::lock_scope::Hazard;

use super::{Blocks, ClaimedLock, Observation, Verdict};

/// The id of a tracer finding.
pub const RULE: &str = "trace-disagrees";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// The checker said nothing (or less) of what the server did; `false`: the checker claims
    /// more than the server did.
    pub checker_missed: bool,
    pub message: String,
}

fn names(list: &[&QualName]) -> String {
    list.iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The strongest claim per relation.
fn strongest_claims(claimed: &[ClaimedLock]) -> Vec<&ClaimedLock> {
    let mut out: Vec<&ClaimedLock> = Vec::new();
    for c in claimed {
        match out.iter_mut().find(|o| o.relation == c.relation) {
            Some(o) if o.blocks < c.blocks => *o = c,
            Some(_) => {}
            None => out.push(c),
        }
    }
    out
}

/// Every disagreement between the verdicts and claims of one step and its observation on
/// `server`.
pub fn compare(
    verdicts: &[Verdict],
    claimed: &[ClaimedLock],
    observed: &Observation,
    server: &str,
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let missed = |message: String| Disagreement {
        checker_missed: true,
        message,
    };
    let overstated = |message: String| Disagreement {
        checker_missed: false,
        message,
    };
    let claims = |h: Hazard| verdicts.iter().any(|v| v.hazard == Some(h));

    // A failure: the deploy stops half-way unless the checker said so.
    if let Some(e) = &observed.error {
        if !claims(Hazard::Fails) && !claims(Hazard::MayFail) {
            out.push(missed(format!(
                "fails on {server}: {} (code {}); the checker did not say it would",
                e.message,
                if e.code.is_empty() { "none" } else { &e.code }
            )));
        }
        return out;
    }
    for v in verdicts.iter().filter(|v| v.hazard == Some(Hazard::Fails)) {
        out.push(overstated(format!(
            "`{}` says this fails, but it ran on {server}",
            v.rule
        )));
    }

    let locks = observed.strongest_app_locks();

    // Work proportional to the table, under a lock that stops the app.
    if !(claims(Hazard::Rewrite) || claims(Hazard::Scan)) {
        for work in &observed.blocking_work {
            out.push(missed(format!(
                "{server} {} `{}` while holding {} on it, and no rule says so",
                work.what, work.relation, work.mode
            )));
        }
    }
    let rewrote = !observed.rewritten.is_empty();
    let read_rows = rewrote || !observed.scanned.is_empty() || !observed.rebuilt_indexes.is_empty();
    let blocked = locks.iter().any(|l| l.blocks.blocks_app());
    let wrote_rows = locks.iter().any(|l| l.rank >= 2);
    for v in verdicts {
        let (happened, did) = match v.hazard {
            Some(Hazard::Rewrite) => (
                rewrote,
                if read_rows {
                    "only read the rows"
                } else {
                    "rewrote nothing"
                },
            ),
            Some(Hazard::Scan) => (read_rows, "read no table row by row"),
            Some(Hazard::Lock) => (blocked, "took no lock that blocks the app"),
            Some(Hazard::EveryRow) => (wrote_rows, "locked no row"),
            Some(Hazard::Fails | Hazard::MayFail) | None => continue,
        };
        if !happened {
            out.push(overstated(format!(
                "`{}` claims {}, but {server} {did}",
                v.rule,
                v.hazard.map(Hazard::as_str).unwrap_or_default()
            )));
        }
    }

    // The plan's lock claim, where either side says the app waits.
    let claims_by_relation = strongest_claims(claimed);
    for lock in &locks {
        let claim = claims_by_relation
            .iter()
            .find(|c| c.relation == lock.relation);
        // An index is locked with its table (a rewrite locks every index of the table): only
        // an index the plan names is held to the plan.
        if lock.kind == super::RelKind::Index && claim.is_none() {
            continue;
        }
        let claimed_blocks = claim.map_or(Blocks::Nothing, |c| c.blocks);
        // A sampled observation is a lower bound: weaker than the claim proves nothing.
        let sampled_only = !observed
            .locks
            .iter()
            .any(|l| l.relation == lock.relation && l.exact);
        if lock.blocks < claimed_blocks && sampled_only {
            continue;
        }
        if claimed_blocks != lock.blocks
            && (claimed_blocks.blocks_app() || lock.blocks.blocks_app())
        {
            let plan = match claim {
                Some(c) => format!("{} (blocks {})", c.mode, c.blocks.as_str()),
                None => "no lock".into(),
            };
            out.push(Disagreement {
                checker_missed: lock.blocks > claimed_blocks,
                message: format!(
                    "`migrate plan` shows {plan} on `{}`; {server} took {} (blocks {})",
                    lock.relation,
                    lock.mode,
                    lock.blocks.as_str()
                ),
            });
        }
    }
    let unlocked: Vec<&QualName> = claims_by_relation
        .iter()
        .filter(|c| c.blocks.blocks_app())
        .filter(|c| !observed.locks.iter().any(|l| l.relation == c.relation))
        // A backend that saw no lock at all, or only sampled them, cannot tell.
        .filter(|_| !observed.locks.is_empty() && observed.locks.iter().all(|l| l.exact))
        .map(|c| &c.relation)
        .collect();
    if !unlocked.is_empty() {
        out.push(overstated(format!(
            "`migrate plan` shows a lock that blocks the app on {}; {server} took none there",
            names(&unlocked)
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{ObservedLock, RelKind};
    use concertina_codegen::diag::Severity;

    fn users() -> QualName {
        QualName::new("public", "users")
    }

    fn exclusive(app: bool) -> ObservedLock {
        ObservedLock {
            relation: users(),
            kind: RelKind::Table,
            mode: "ACCESS EXCLUSIVE".into(),
            rank: 7,
            blocks: Blocks::ReadsAndWrites,
            app,
            exact: true,
        }
    }

    fn claim(mode: &str, blocks: Blocks) -> Vec<ClaimedLock> {
        vec![ClaimedLock {
            relation: users(),
            mode: mode.into(),
            blocks,
        }]
    }

    fn verdict(rule: &str, hazard: Hazard) -> Verdict {
        Verdict {
            rule: rule.into(),
            severity: Severity::Error,
            hazard: Some(hazard),
            suppressed: false,
        }
    }

    #[test]
    fn a_rewrite_nobody_claimed_is_the_checkers_miss() {
        let observed = Observation::of_units(vec![Observation {
            locks: vec![exclusive(true)],
            rewritten: vec![users()],
            ..Default::default()
        }]);
        let claimed = claim("ACCESS EXCLUSIVE", Blocks::ReadsAndWrites);
        let found = compare(&[], &claimed, &observed, "PostgreSQL 15");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].checker_missed);
        assert!(found[0].message.contains("rewrote `users`"), "{found:?}");
        // Claimed: they agree.
        let found = compare(
            &[verdict("add-column-volatile-default", Hazard::Rewrite)],
            &claimed,
            &observed,
            "PostgreSQL 15",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_claimed_rewrite_that_did_not_happen_is_overstated() {
        let observed = Observation {
            locks: vec![exclusive(true)],
            ..Default::default()
        };
        let found = compare(
            &[verdict("add-column-volatile-default", Hazard::Rewrite)],
            &claim("ACCESS EXCLUSIVE", Blocks::ReadsAndWrites),
            &observed,
            "PostgreSQL 15",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(!found[0].checker_missed);
        assert!(found[0].message.contains("rewrote nothing"), "{found:?}");
    }

    #[test]
    fn locks_on_tables_the_file_created_do_not_count() {
        let observed = Observation {
            locks: vec![exclusive(false)],
            rewritten: vec![],
            ..Default::default()
        };
        assert!(compare(&[], &[], &observed, "PostgreSQL 15").is_empty());
    }

    #[test]
    fn an_unshown_blocking_lock_and_a_failure_are_reported() {
        let observed = Observation {
            locks: vec![exclusive(true)],
            ..Default::default()
        };
        let found = compare(&[], &[], &observed, "PostgreSQL 15");
        assert!(
            found.len() == 1 && found[0].message.contains("shows no lock on `users`"),
            "{found:?}"
        );
        let failed = Observation {
            error: Some(crate::engine::DbError {
                kind: crate::engine::DbErrorKind::Other,
                code: "42601".into(),
                message: "syntax error".into(),
            }),
            ..Default::default()
        };
        let found = compare(&[], &[], &failed, "PostgreSQL 10");
        assert!(
            found.len() == 1 && found[0].message.contains("fails on PostgreSQL 10"),
            "{found:?}"
        );
    }
}
