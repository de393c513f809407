//! `cargo xtask bench check`: generates 300 migrations / 3,000 statements and times a full
//! `migrate check` (load + parse + replay + rules), against the time to merely read the files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use concertina_codegen::Project;

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
        Some("derive") => crate::bench_derive::run(&args[1..]),
        Some(other) => {
            bail!("unknown benchmark `{other}`; available: check, derive, backfill, app-impact, generate")
        }
        None => bail!("usage: cargo xtask bench check|derive|backfill|app-impact [options]"),
    }
}

/// `--dialect postgres|mysql|mariadb` (default postgres).
pub fn dialect(args: &[String]) -> Result<&str> {
    match args.iter().position(|a| a == "--dialect") {
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some(d @ ("postgres" | "mysql" | "mariadb")) => Ok(d),
            _ => bail!("--dialect takes postgres, mysql or mariadb"),
        },
        None => Ok("postgres"),
    }
}

pub fn flag(args: &[String], name: &str, default: usize) -> Result<usize> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .with_context(|| format!("{name} needs a value"))?
            .parse()
            .with_context(|| format!("{name} takes a number")),
        None => Ok(default),
    }
}

/// Ten statements per migration over a growing set of tables: every phase, the common shapes.
pub fn generate(dir: &Path, migrations: usize) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("concertina.toml"),
        "dialect = \"postgres\"\nserver_version = \"14\"\n",
    )?;
    let mut statements = 0;
    for n in 1..=migrations {
        let mdir = dir.join(format!("{n:04}_step_{n}"));
        std::fs::create_dir_all(&mdir)?;
        let t = format!("t{}", (n - 1) / 3);
        let mut expand = String::new();
        let mut backfill = String::new();
        let mut contract = String::new();
        if n % 3 == 1 {
            writeln!(
                expand,
                "CREATE TABLE {t} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    name varchar(255) NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);"
            )?;
            writeln!(expand, "CREATE INDEX {t}_name_idx ON {t} (name);")?;
            writeln!(expand, "COMMENT ON TABLE {t} IS 'generated table {n}';")?;
            writeln!(expand, "ALTER TABLE {t} ADD COLUMN note text;")?;
            writeln!(
                expand,
                "ALTER TABLE {t} ADD COLUMN status varchar(20) DEFAULT 'new';"
            )?;
            writeln!(
                expand,
                "CREATE INDEX {t}_status_idx ON {t} (status) WHERE status IS NOT NULL;"
            )?;
            writeln!(
                expand,
                "ALTER TABLE {t} ADD CONSTRAINT {t}_name_len CHECK (char_length(name) < 500);"
            )?;
            writeln!(expand, "CREATE VIEW {t}_recent AS SELECT id, name FROM {t} WHERE created_at > now() - interval '1 day';")?;
            writeln!(expand, "ALTER TABLE {t} ALTER COLUMN note SET DEFAULT '';")?;
            writeln!(expand, "ALTER TABLE {t} ADD COLUMN score integer;")?;
            statements += 10;
        } else {
            let c = format!("c{n}");
            writeln!(expand, "-- expand: new nullable column and its index")?;
            writeln!(expand, "ALTER TABLE {t} ADD COLUMN {c} varchar(100);")?;
            writeln!(
                expand,
                "CREATE INDEX CONCURRENTLY {t}_{c}_idx ON {t} ({c});"
            )?;
            writeln!(
                expand,
                "ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_check CHECK ({c} <> '') NOT VALID;"
            )?;
            writeln!(expand, "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT 'x';")?;
            writeln!(backfill, "UPDATE {t} SET {c} = name WHERE {c} IS NULL;")?;
            writeln!(backfill, "UPDATE {t} SET score = 0 WHERE score IS NULL;")?;
            writeln!(
                contract,
                "ALTER TABLE {t} VALIDATE CONSTRAINT {t}_{c}_check;"
            )?;
            writeln!(contract, "ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;")?;
            writeln!(contract, "DROP INDEX CONCURRENTLY IF EXISTS {t}_{c}_idx;")?;
            writeln!(contract, "COMMENT ON COLUMN {t}.{c} IS 'copied from name';")?;
            statements += 10;
        }
        std::fs::write(mdir.join("expand.sql"), expand)?;
        if !backfill.is_empty() {
            std::fs::write(mdir.join("backfill.sql"), backfill)?;
            std::fs::write(mdir.join("contract.sql"), contract)?;
        }
    }
    Ok(statements)
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
