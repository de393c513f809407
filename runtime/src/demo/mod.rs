//! `migrate demo`: a rehearsal (`migrate rehearse`, one code path) of the example migrations
//! (`migrations/`, `migrations-mysql/`): the first migration's tables loaded with generated
//! rows, then every later phase applied while an app built from the generated types runs,
//! with what the app felt per phase. Without DATABASE_URL it starts a throwaway server of
//! this machine (the demo fetches nothing). Also home of the throwaway servers the
//! rehearsal, the tracer and the version matrix start.

pub mod cleanup;
#[cfg(feature = "mysql")]
pub mod mariadb_server;
pub mod pg_builds;
pub mod server;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::rehearse::place::Throwaway;
use crate::rehearse::RehearseOptions;

/// The demo's rehearsal of `dir`: from its second migration on (the first creates the tables
/// the rows go into), `rows` users and a quarter as many orders, `clients` app clients.
pub fn options(dir: &Path, rows: u64, clients: usize) -> Result<RehearseOptions, String> {
    let project = concertina_codegen::Project::load(dir).map_err(|e| e.to_string())?;
    let report = project.check();
    let from = report
        .migrations
        .get(1)
        .map(|m| m.version.clone())
        .ok_or_else(|| format!("{}: the demo needs at least two migrations", dir.display()))?;
    let rows = rows.max(1);
    Ok(RehearseOptions {
        dir: dir.to_path_buf(),
        from: Some(from),
        rows: BTreeMap::from([
            ("users".to_string(), rows),
            ("orders".to_string(), (rows / 4).max(1)),
        ]),
        default_rows: rows,
        clients: clients.max(1),
        baseline: Duration::from_secs(3),
        throwaway: Throwaway::Machine,
        ..Default::default()
    })
}
