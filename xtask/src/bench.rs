//! `cargo xtask bench check`: generates 300 migrations / 3,000 statements and times a full
//! `migrate check` (load + parse + replay + rules), against the time to merely read the files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use concertina_codegen::Project;

use crate::bench_input::{dialect, flag, generate};

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("check") => bench_check(&args[1..]),
        Some("generate") => {
            let dir = args
                .get(1)
                .context("usage: cargo xtask bench generate DIR [--migrations N]")?;
            let n = generate(Path::new(dir), flag(args, "--migrations", 300)?)?;
            println!("wrote {n} statements to {dir}");
            Ok(())
        }
        Some("backfill") if dialect(args)? != "postgres" => {
            crate::bench_mysql::backfill(&args[1..])
        }
        Some("backfill") => crate::bench_db::backfill(&args[1..]),
        Some("app-impact") => crate::bench_db::app_impact(&args[1..]),
        Some("rehearse-scale") => crate::bench_rehearse::scale(&args[1..]),
        Some("derive") => crate::bench_derive::run(&args[1..]),
        Some(other) => {
            bail!("unknown benchmark `{other}`; available: check, derive, backfill, app-impact, rehearse-scale, generate")
        }
        None => bail!(
            "usage: cargo xtask bench check|derive|backfill|app-impact|rehearse-scale [options]"
        ),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn read_all(dir: &Path) -> Result<usize> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            for f in std::fs::read_dir(&path)? {
                bytes += std::fs::read(f?.path())?.len();
            }
        }
    }
    Ok(bytes)
}

fn bench_check(args: &[String]) -> Result<()> {
    let migrations = flag(args, "--migrations", 300)?;
    let runs = flag(args, "--runs", 7)?.max(1);
    if cfg!(debug_assertions) {
        eprintln!(
            "note: this is a debug build of xtask; the README's figures come from `cargo run --release -p xtask -- bench check`"
        );
    }
    let dir: PathBuf =
        std::env::temp_dir().join(format!("concertina-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let statements = generate(&dir, migrations)?;
    let result = (|| -> Result<()> {
        let mut read_times = Vec::new();
        let mut check_times = Vec::new();
        let mut diagnostics = 0;
        for _ in 0..runs {
            let start = Instant::now();
            read_all(&dir)?;
            read_times.push(start.elapsed());
            let start = Instant::now();
            let project = Project::load(&dir)?;
            let report = project.check();
            check_times.push(start.elapsed());
            diagnostics = report.diagnostics.len();
            if report.statements != statements {
                bail!(
                    "checked {} statements, generated {statements}",
                    report.statements
                );
            }
        }
        let read = median(read_times);
        let check = median(check_times);
        let per_sec = statements as f64 / check.as_secs_f64();
        println!("bench check: {migrations} migrations, {statements} statements, {diagnostics} diagnostics, median of {runs} runs");
        println!(
            "  read files only (baseline): {:>9.2} ms",
            read.as_secs_f64() * 1e3
        );
        println!(
            "  full check:                 {:>9.2} ms  ({:.1}x the baseline)",
            check.as_secs_f64() * 1e3,
            check.as_secs_f64() / read.as_secs_f64().max(1e-9)
        );
        println!(
            "  throughput:                 {:>9.0} statements/s (target >= 100000)",
            per_sec
        );
        println!(
            "  full check of {migrations} migrations: {} (target well under 1 s)",
            if check < Duration::from_millis(500) {
                "ok"
            } else {
                "SLOW"
            }
        );
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
