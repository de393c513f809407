//! `migrate fix`: codegen's rewrite ([`concertina_codegen::fix`]) with what only the runtime
//! knows, the state table's applied migrations; the diff on stdout, the rest on stderr.

use std::collections::BTreeMap;
use std::process::ExitCode;

use concertina_codegen::fix::{fix_project, Decisions, FixOptions, FixOutcome};
use concertina_codegen::Project;

use super::args::{default_dir, FixArgs};
use crate::error::RuntimeError;
use crate::state::Status;

pub fn run(args: FixArgs) -> ExitCode {
    let dir = args.dir.unwrap_or_else(default_dir);
    let project = match super::load_project(&dir) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let applied = match args.database_url.filter(|u| !u.trim().is_empty()) {
        None => BTreeMap::new(),
        Some(url) => match applied_migrations(&project, &url) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let options = FixOptions {
        migration: args.migration,
        applied,
        decisions: Decisions {
            fills: args.fill,
            new_columns: args.new_column,
        },
    };
    let outcome = match fix_project(&project, &options) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.write {
        if let Err(e) = outcome.write() {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    } else {
        print!("{}", outcome.diff());
    }
    eprint!("{}", summary(&outcome, args.write));
    if outcome.errors_left() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Every migration the state table has a phase of that is not rolled back: applied, or
/// started (running, failed), so its file is what ran, or part of it.
pub fn applied_migrations(
    project: &Project,
    url: &str,
) -> Result<BTreeMap<String, String>, RuntimeError> {
    let mut db = crate::backend::connect(project.config.dialect, url)?;
    db.ensure_state_table()?;
    let mut out = BTreeMap::new();
    for row in db.load_state()? {
        if row.status == Status::RolledBack {
            continue;
        }
        out.entry(row.version.clone()).or_insert_with(|| {
            format!(
                "has its {} phase {} in the state table of {}",
                row.phase.as_str(),
                row.status.as_str(),
                db.describe()
            )
        });
    }
    Ok(out)
}

/// What was rewritten, and each finding left with its recipe and why it was not rewritten.
fn summary(outcome: &FixOutcome, written: bool) -> String {
    let mut out = String::new();
    for f in &outcome.fixed {
        out.push_str(&format!("fixed: {}:{}: {}\n", f.file, f.line, f.rule));
    }
    for u in &outcome.unfixed {
        let d = &u.diagnostic;
        out.push_str(&format!(
            "{}[{}]: {}:{}:{}: {}\n  = help: {}\n  = not fixed: {}\n",
            d.severity.as_str(),
            d.rule,
            d.file,
            d.line,
            d.column,
            d.message,
            d.help,
            u.why
        ));
    }
    let files = outcome.changes.len();
    let verb = match (files, written) {
        (0, _) => "nothing to rewrite",
        (_, true) => "wrote",
        (_, false) => "would rewrite (run with --write)",
    };
    out.push_str(&format!(
        "{verb}{}; {} finding(s) fixed, {} left ({} error(s))\n",
        if files > 0 {
            format!(" {files} file(s)")
        } else {
            String::new()
        },
        outcome.fixed.len(),
        outcome.unfixed.len(),
        outcome.errors_left()
    ));
    out
}
