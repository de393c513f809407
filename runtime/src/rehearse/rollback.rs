//! Each pending migration's `down`, rehearsed on an empty database of its own: the schema is
//! read from the live catalog before the expand, the expand and backfill run, `down` runs,
//! and the catalog must be what it was. The migration is then applied in full, so the next
//! one's `down` starts where a deploy would.

use std::path::Path;

use concertina_codegen::check::Report;
use concertina_codegen::Phase;

use super::report::Rollback;
use super::RehearseError;
use crate::migrator::Migrator;

pub fn rehearse_downs(
    dir: &Path,
    url: &str,
    first: usize,
    report: &Report,
) -> Result<Vec<Rollback>, RehearseError> {
    let setup = |e: crate::migrator::MigrateError| RehearseError::Setup(e.to_string());
    let mut m = Migrator::open(dir, url).map_err(setup)?;
    m.lock(None, |_| {}).map_err(setup)?;
    if let Some(prev) = first.checked_sub(1) {
        let version = report.migrations[prev].version.clone();
        m.apply_quietly(&Phase::FORWARD, Some(&version))
            .map_err(setup)?;
    }
    let mut out = Vec::new();
    for mig in &report.migrations[first..] {
        let version = mig.version.as_str();
        // `down` undoes an expand; a migration without one has nothing to undo.
        if mig.phase(Phase::Expand).is_none() {
            m.apply_quietly(&Phase::FORWARD, Some(version))
                .map_err(setup)?;
            continue;
        }
        let mut problems = Vec::new();
        let before =
            m.db.live_facts()
                .map_err(|e| RehearseError::Setup(e.to_string()))?;
        match m.apply_quietly(&[Phase::Expand, Phase::Backfill], Some(version)) {
            Err(e) => problems.push(format!("its expand or backfill failed: {e}")),
            Ok(_) => match m.down(|_, _, _| {}) {
                Err(e) => problems.push(format!("down failed: {e}")),
                Ok(_) => {
                    let after =
                        m.db.live_facts()
                            .map_err(|e| RehearseError::Setup(e.to_string()))?;
                    let diff = crate::catalog::diff(&after, &before);
                    for f in &diff.only_live {
                        problems.push(format!("left behind: {f}"));
                    }
                    for f in &diff.only_model {
                        problems.push(format!("not restored: {f}"));
                    }
                }
            },
        }
        let failed = !problems.is_empty();
        out.push(Rollback {
            version: mig.dir_name.clone(),
            ok: !failed,
            problems,
        });
        if failed {
            // What follows would start from a schema no deploy has.
            break;
        }
        m.apply_quietly(&Phase::FORWARD, Some(version))
            .map_err(setup)?;
    }
    Ok(out)
}
