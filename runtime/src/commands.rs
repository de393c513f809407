//! The commands that talk to a database: status and the apply family. Exit codes: 0 done,
//! 1 refused or failed (check errors, drift, a failing statement), 2 could not run (usage,
//! configuration, connection), 3 another migrator holds the lock.

use std::io::IsTerminal;
use std::process::ExitCode;

use concertina_codegen::Phase;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{default_dir, ApplyArgs, DbArgs, Format};
use crate::error::RuntimeError;
use crate::migrator::{MigrateError, Migrator};

fn exit_code(e: &MigrateError) -> ExitCode {
    match e {
        MigrateError::Runtime(RuntimeError::Locked { .. }) => ExitCode::from(3),
        MigrateError::Load(_)
        | MigrateError::UnsupportedDialect(_)
        | MigrateError::Runtime(RuntimeError::Connect { .. } | RuntimeError::NoDatabase) => {
            ExitCode::from(2)
        }
        _ => ExitCode::from(1),
    }
}

fn fail(e: MigrateError, format: Format) -> ExitCode {
    let code = exit_code(&e);
    match format {
        Format::Json => println!("{}", serde_json::json!({ "error": e.to_string() })),
        Format::Human => eprintln!("error: {e}"),
    }
    code
}

fn open(db: &DbArgs) -> Result<Migrator, MigrateError> {
    let url = db
        .database_url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or(RuntimeError::NoDatabase)?;
    let dir = db.dir.clone().unwrap_or_else(default_dir);
    Migrator::open(&dir, &url)
}

pub fn status(db: DbArgs) -> ExitCode {
    let format = db.format;
    let result = (|| {
        let mut m = open(&db)?;
        let rows = m.status()?;
        let drift = m.drift()?;
        Ok::<_, MigrateError>((m.pg.describe(), rows, drift))
    })();
    let (database, rows, drift) = match result {
        Ok(r) => r,
        Err(e) => return fail(e, format),
    };
    match format {
        Format::Json => {
            let phases: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "version": r.version,
                        "name": r.name,
                        "phase": r.phase.as_str(),
                        "file": r.file,
                        "status": r.status.map_or("pending", |s| s.as_str()),
                        "statements": r.statements,
                        "statements_done": r.statements_done,
                        "rows_done": r.rows_done,
                        "last_error": r.last_error,
                    })
                })
                .collect();
            let drift: Vec<String> = drift.iter().map(|d| d.file.clone()).collect();
            println!(
                "{}",
                serde_json::json!({ "database": database, "phases": phases, "drift": drift })
            );
        }
        Format::Human => {
            println!("database: {database}");
            for r in &rows {
                let status = r.status.map_or("pending", |s| s.as_str());
                let detail = match r.phase {
                    Phase::Backfill if r.rows_done > 0 => format!("{} rows", r.rows_done),
                    _ => format!("{}/{} statements", r.statements_done, r.statements),
                };
                println!(
                    "  {:<40} {:<9} {:<12} {detail}",
                    r.file,
                    r.phase.as_str(),
                    status
                );
                if let Some(e) = &r.last_error {
                    println!("      last error: {e}");
                }
            }
            for d in &drift {
                println!("drift: {d}");
            }
        }
    }
    if drift.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn apply(args: ApplyArgs, phases: &[Phase]) -> ExitCode {
    let format = args.db.format;
    let human = format == Format::Human;
    let terminal = std::io::stderr().is_terminal();
    let mut m = match open(&args.db) {
        Ok(m) => m,
        Err(e) => return fail(e, format),
    };
    if let Err(e) = m.lock(args.wait, |holder| {
        if human {
            eprintln!("waiting for the migrator lock, held by {holder}");
        }
    }) {
        return fail(e, format);
    }
    if let Err(e) = m.adopt_baseline() {
        return fail(e, format);
    }
    let bar: Option<ProgressBar> = (human && terminal).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} keys, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let mut events: Vec<serde_json::Value> = Vec::new();
    let mut last_line = std::time::Instant::now();
    let result = m.apply(
        phases,
        args.to.as_deref(),
        |plan, step, report| {
            if human {
                let retries = if report.retries > 0 {
                    format!(", {} lock retries", report.retries)
                } else {
                    String::new()
                };
                let skipped = if report.skipped { ", already done" } else { "" };
                eprintln!(
                    "  {}:{} ok in {:.0?}{retries}{skipped}",
                    plan.file, step.line, report.elapsed
                );
            }
            events.push(serde_json::json!({
                "file": plan.file, "line": step.line, "retries": report.retries,
                "ms": report.elapsed.as_millis() as u64, "skipped": report.skipped,
            }));
        },
        |plan, what| {
            if human {
                eprintln!(
                    "{} {}",
                    if what == "start" { "applying" } else { "done" },
                    plan.file
                );
            }
        },
        |p| match &bar {
            Some(bar) => {
                bar.set_length(p.estimate.max(p.scanned) as u64);
                bar.set_position(p.scanned as u64);
                bar.set_message(format!(
                    "backfill {} ({} rows changed, batch {})",
                    p.table, p.rows_done, p.batch_size
                ));
            }
            None if human && (last_line.elapsed().as_secs() >= 2 || p.waiting_for_replicas) => {
                last_line = std::time::Instant::now();
                let rate = p.scanned as f64 / p.elapsed.as_secs_f64().max(1e-3);
                eprintln!(
                    "  backfill {}: {} rows changed, {}/{} keys, {:.0} keys/s{}",
                    p.table,
                    p.rows_done,
                    p.scanned,
                    p.estimate,
                    rate,
                    if p.waiting_for_replicas {
                        ", waiting for replicas"
                    } else {
                        ""
                    }
                );
            }
            None => {}
        },
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(n) => {
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({ "applied_phases": n, "steps": events })
                ),
                Format::Human => eprintln!("{n} phase(s) applied"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, format),
    }
}

pub fn verify(db: DbArgs) -> ExitCode {
    let format = db.format;
    let result = open(&db).and_then(|mut m| Ok((m.pg.describe(), m.verify()?)));
    let (database, v) = match result {
        Ok(r) => r,
        Err(e) => return fail(e, format),
    };
    match format {
        Format::Json => {
            let only_live: Vec<String> = v.diff.only_live.iter().map(ToString::to_string).collect();
            let only_model: Vec<String> =
                v.diff.only_model.iter().map(ToString::to_string).collect();
            println!(
                "{}",
                serde_json::json!({
                    "database": database, "ok": v.is_ok(),
                    "only_in_database": only_live, "only_in_migrations": only_model, "nulls": v.nulls,
                })
            );
        }
        Format::Human => {
            if v.is_ok() {
                println!("{database}: the schema matches the migrations; no NULL blocks a pending contract");
            } else {
                if !v.diff.is_empty() {
                    println!(
                        "{database}: the schema differs from the migrations:\n{}",
                        v.diff
                    );
                }
                for n in &v.nulls {
                    println!("{n}");
                }
            }
        }
    }
    if v.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
