//! `migrate <command>`: the command line every project's xtask forwards to.
//!
//! ```no_run
//! // xtask/src/main.rs of your project
//! fn main() -> std::process::ExitCode {
//!     concertina_runtime::cli::main()
//! }
//! ```
//!
//! Exit codes: 0 success (no error diagnostics), 1 the check found errors, 2 the command could
//! not run (usage, I/O, configuration).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use concertina_codegen::{render, rules, Phase, Project};

pub mod args;
pub mod fix;

pub use args::*;

/// Parses `std::env::args()` (after the program name, `migrate` optional) and runs.
pub fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    // `cargo xtask migrate check`: the xtask forwards everything after its own name.
    if args.get(1).map(String::as_str) == Some("migrate") {
        args.remove(1);
    }
    run_from(args)
}

/// Runs with explicit arguments; the first is the program name.
pub fn run_from(args: Vec<String>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    crate::demo::cleanup::finished(run(cli))
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(args) => check(args),
        Command::Fix(args) => fix::run(args),
        Command::Rules { format } => {
            list_rules(format);
            ExitCode::SUCCESS
        }
        Command::Status(db) => crate::commands::status(db),
        Command::Expand(args) => crate::commands::apply(args, &[Phase::Expand]),
        Command::Backfill(args) => crate::commands::apply(args, &[Phase::Backfill]),
        Command::Contract(args) => {
            if !args.yes {
                eprintln!("error: contract removes what the old app version uses; confirm that no running app targets it (nor the transition types) with --yes");
                return ExitCode::from(2);
            }
            crate::commands::apply(args.apply, &[Phase::Contract])
        }
        Command::Up(args) => {
            let phases: &[Phase] = if args.contract {
                &[Phase::Expand, Phase::Backfill, Phase::Contract]
            } else {
                &[Phase::Expand, Phase::Backfill]
            };
            crate::commands::apply(args.apply, phases)
        }
        Command::Verify(db) => crate::commands::verify(db),
        Command::Plan(db) => crate::commands::plan(db),
        Command::Trace(args) => crate::trace::command::run(args),
        Command::Rehearse(args) => crate::rehearse::command::run(args),
        Command::Down(args) => crate::commands::down(args),
        Command::New { name, dir, format } => crate::commands::new_migration(&name, dir, format),
        Command::Init {
            dir,
            database_url,
            format,
        } => crate::commands::init(dir, database_url, format),
        Command::Demo {
            dir,
            dialect,
            rows,
            clients,
            database_url,
            format,
        } => crate::commands::demo(dir, dialect, rows, clients, database_url, format),
    }
}

/// The project in `dir`, or exit code 2 after saying why it cannot be loaded.
pub(crate) fn load_project(dir: &std::path::Path) -> Result<Project, ExitCode> {
    Project::load(dir).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn check(args: CheckArgs) -> ExitCode {
    let dir = args.dir.unwrap_or_else(default_dir);
    let project = match load_project(&dir) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let report = project.check();
    match args.format {
        Format::Json => println!("{}", render::json(&report.diagnostics)),
        Format::Human => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", render::human(&report, color));
        }
    }
    if report.errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn list_rules(format: Format) {
    let all = rules::all_rules();
    match format {
        Format::Json => {
            let items: Vec<serde_json::Value> = all
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "rule": r.id,
                        "severity": r.severity.as_str(),
                        "summary": r.summary,
                        "help": r.help,
                    })
                })
                .collect();
            println!("{}", serde_json::json!({ "rules": items }));
        }
        Format::Human => {
            for r in all {
                println!("{:<40} {:<8} {}", r.id, r.severity.as_str(), r.summary);
            }
            for (id, severity, summary) in rules::CHECKER_IDS {
                println!("{:<40} {:<8} {}", id, severity.as_str(), summary);
            }
        }
    }
}
