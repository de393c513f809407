//! This repository's `cargo xtask`: `migrate …` is concertina's CLI (what users put in their own
//! xtask), `bench …` runs the benchmarks, `readme` regenerates the README's rule table,
//! `new-rule` scaffolds a rule.

/// The checker allocates many small model objects; mimalloc frees them far faster than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod bench_db;
mod bench_derive;
mod bench_input;
mod bench_mysql;
mod bench_rehearse;
#[cfg(feature = "postgres")]
mod matrix;
mod new_rule;
mod readme;

use std::process::ExitCode;

fn main() -> ExitCode {
    // A benchmark interrupted while it stops its throwaway servers ends once they are stopped.
    concertina_runtime::demo::cleanup::finished(task())
}

fn task() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("migrate") => {
            let mut forwarded = vec!["cargo xtask migrate".to_string()];
            forwarded.extend(args.into_iter().skip(2));
            concertina_runtime::cli::run_from(forwarded)
        }
        Some("bench") => exit(bench::run(&args[2..])),
        Some("readme") => exit(readme::run(&args[2..])),
        Some("new-rule") => exit(new_rule::run(&args[2..])),
        #[cfg(feature = "postgres")]
        Some("matrix") => match matrix::run(&args[2..]) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
        Some("-h" | "--help") | None => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("error: unknown xtask `{other}`\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}

const HELP: &str = "cargo xtask <task>

tasks:
  migrate <command>   concertina's CLI (`cargo xtask migrate --help`)
  bench check         time `migrate check` on 300 generated migrations
  bench backfill      the backfill engine against one plain UPDATE (--rows N, default 5000000;
                      --dialect mariadb: on DATABASE_URL or CONCERTINA_TEST_MYSQL_URL)
  bench app-impact    app latency during the demo migrations against the same workload without
  readme [--check]    regenerate (or verify) the README's rule table
  matrix [--pg 10,18] [--check] [--write-readme]
                      trace every PostgreSQL rule fixture and its safe counterpart on each
                      supported major and compare with the checker at that version
  new-rule <id> --group postgres|mysql|common|compat
                      scaffold a rule: its file and tests, registration, fixture, trybuild case";

fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
