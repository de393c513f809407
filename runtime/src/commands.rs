//! The commands that talk to a database: status and the apply family. Exit codes: 0 done,
//! 1 refused or failed (check errors, drift, a failing statement), 2 could not run (usage,
//! configuration, connection), 3 another migrator holds the lock.

use std::io::IsTerminal;
use std::process::ExitCode;

use concertina_codegen::Phase;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::args::{default_dir, ApplyArgs, DbArgs, Format};
use crate::error::RuntimeError;
use crate::migrator::{MigrateError, Migrator};

fn exit_code(e: &MigrateError) -> ExitCode {
    match e {
        MigrateError::Runtime(RuntimeError::Locked { .. }) => ExitCode::from(3),
        MigrateError::Load(_)
        | MigrateError::UnknownVersion(_)
        | MigrateError::Runtime(
            RuntimeError::Connect { .. }
            | RuntimeError::NoDatabase
            | RuntimeError::BadUrl(_)
            | RuntimeError::NoBackend { .. }
            | RuntimeError::WrongScheme { .. },
        ) => ExitCode::from(2),
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
        let order = m.order_problems()?;
        let diesel = m.diesel_applied()?;
        Ok::<_, MigrateError>((m.db.describe(), rows, drift, order, diesel))
    })();
    let (database, rows, drift, order, diesel) = match result {
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
            let order: Vec<String> = order.iter().map(ToString::to_string).collect();
            println!(
                "{}",
                serde_json::json!({ "database": database, "phases": phases, "drift": drift, "order": order, "applied_by_diesel": diesel })
            );
        }
        Format::Human => {
            println!("database: {database}");
            for r in &rows {
                let status = match r.status {
                    Some(s) => s.as_str(),
                    None if diesel.contains(&r.version) => "diesel",
                    None => "pending",
                };
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
            for o in &order {
                println!("order: {o}");
            }
            if !diesel.is_empty() {
                println!(
                    "diesel: {} migration(s) marked `diesel` were applied by diesel_migrations; the next apply adopts them as baselined (never runs them)",
                    diesel.len()
                );
            }
        }
    }
    if drift.is_empty() && order.is_empty() {
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
    match m.sync_diesel() {
        Ok(sync) if human => {
            if !sync.adopted.is_empty() {
                eprintln!(
                    "adopted {} migration(s) diesel had applied (recorded as baselined, not run): {}",
                    sync.adopted.len(),
                    sync.adopted.join(", ")
                );
            }
            if !sync.recorded.is_empty() {
                eprintln!(
                    "recorded {} applied migration(s) in __diesel_schema_migrations: {}",
                    sync.recorded.len(),
                    sync.recorded.join(", ")
                );
            }
        }
        Ok(_) => {}
        Err(e) => return fail(e, format),
    }
    m.allow_out_of_order = args.allow_out_of_order;
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
                if p.elapsed.is_zero() {
                    // A statement starts (or resumes) here: its rate and ETA count from now.
                    bar.reset_eta();
                }
                bar.set_message(format!(
                    "backfill {} ({} rows changed, batch {}, {} worker(s){}{})",
                    p.table,
                    p.rows_done,
                    p.batch_size,
                    p.workers,
                    if p.estimate > 0 {
                        ""
                    } else {
                        "; total unknown: no statistics yet"
                    },
                    if p.pace.is_empty() {
                        String::new()
                    } else {
                        format!("; pace: {}", p.pace)
                    }
                ));
            }
            None if human && (last_line.elapsed().as_secs() >= 2 || p.waiting_for_replicas) => {
                last_line = std::time::Instant::now();
                let rate =
                    (p.scanned - p.scanned_before) as f64 / p.elapsed.as_secs_f64().max(1e-3);
                // A table never analyzed has no row estimate: say so rather than `n/0`.
                let total = if p.estimate > 0 {
                    p.estimate.to_string()
                } else {
                    "unknown (no statistics yet)".to_string()
                };
                eprintln!(
                    "  backfill {}: {} rows changed, {}/{total} keys, {:.0} keys/s, batch {}, {} worker(s){}{}",
                    p.table,
                    p.rows_done,
                    p.scanned,
                    rate,
                    p.batch_size,
                    p.workers,
                    if p.waiting_for_replicas {
                        ", waiting for replicas"
                    } else {
                        ""
                    },
                    if p.pace.is_empty() || p.waiting_for_replicas {
                        String::new()
                    } else {
                        format!("; pace: {}", p.pace)
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

pub fn down(args: ApplyArgs) -> ExitCode {
    let format = args.db.format;
    let human = format == Format::Human;
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
    let result = m.down(|plan, step, report| {
        if human {
            eprintln!("  {}:{} ok in {:.0?}", plan.file, step.line, report.elapsed);
        }
    });
    match result {
        Ok(plan) => {
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({ "undone": plan.version, "file": plan.file })
                ),
                Format::Human => eprintln!(
                    "undid the expand of {}_{} ({})",
                    plan.version, plan.name, plan.file
                ),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, format),
    }
}

pub fn demo(
    dir: Option<std::path::PathBuf>,
    dialect: Option<String>,
    rows: u64,
    clients: usize,
    database_url: Option<String>,
    format: Format,
) -> ExitCode {
    use concertina_codegen::dialect::DialectKind;
    let wanted = match dialect.as_deref().map(DialectKind::parse) {
        None => None,
        Some(Some(d)) => Some(d),
        Some(None) => {
            eprintln!("error: --dialect takes postgres, mariadb or mysql");
            return ExitCode::from(2);
        }
    };
    let dir = dir.unwrap_or_else(|| match wanted {
        Some(DialectKind::MySql | DialectKind::MariaDb) => "migrations-mysql".into(),
        _ => default_dir(),
    });
    let config = match concertina_codegen::Config::load(&dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mysql = matches!(config.dialect, DialectKind::MySql | DialectKind::MariaDb);
    if let Some(w) = wanted {
        let w_mysql = matches!(w, DialectKind::MySql | DialectKind::MariaDb);
        if w_mysql != mysql {
            eprintln!(
                "error: --dialect {} but {} says `dialect = \"{}\"`",
                w.as_str(),
                config.path.display(),
                config.dialect.as_str()
            );
            return ExitCode::from(2);
        }
    }
    if let Some(reason) = database_url.as_deref().and_then(crate::url::malformed) {
        eprintln!("error: {reason}");
        return ExitCode::from(2);
    }
    let options = match crate::demo::options(&dir, rows, clients) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let url = database_url.filter(|u| !u.trim().is_empty());
    let human = format == Format::Human;
    let result = crate::rehearse::command::run_on(&options, &config, url.as_deref(), &mut |m| {
        if human {
            eprintln!("demo: {m}")
        }
    });
    match result {
        Ok(r) => {
            match format {
                Format::Human => print!("{}", crate::rehearse::report::human(&r)),
                Format::Json => println!("{}", crate::rehearse::report::json(&r)),
            }
            if r.failures().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {}", crate::url::redact(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

pub fn verify(db: DbArgs) -> ExitCode {
    let format = db.format;
    let result = open(&db).and_then(|mut m| Ok((m.db.describe(), m.verify()?)));
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

pub fn plan(db: DbArgs) -> ExitCode {
    let format = db.format;
    let result = open(&db).and_then(|mut m| {
        let state = m.state()?;
        let mut out = Vec::new();
        let plans = m.plans.clone();
        let report = &m.report;
        let version = m.project.config.server_version;
        for plan in &plans {
            let applied = state.iter().any(|r| {
                r.version == plan.version && r.phase == plan.phase && r.status.is_applied()
            });
            if applied {
                continue;
            }
            let mut steps = Vec::new();
            let ctx = match report.migrations.iter().find(|x| x.version == plan.version) {
                Some(migration) => crate::plan::LockContext::of(migration, version),
                None => crate::plan::LockContext::bare(version),
            };
            for step in &plan.steps {
                let infos: Vec<_> = step
                    .changes()
                    .into_iter()
                    .flat_map(|c| m.db.step_locks(c, step, &ctx))
                    .collect();
                let locks: Vec<(String, String, &'static str, i64)> = infos
                    .into_iter()
                    .map(|l| {
                        let rows = m.db.row_estimate(&l.table).unwrap_or(-1);
                        (l.table.to_string(), l.mode, l.blocks, rows)
                    })
                    .collect();
                steps.push((step.clone(), m.db.how(step), locks));
            }
            out.push((plan.clone(), steps));
        }
        Ok((m.db.describe(), out))
    });
    let (database, plans) = match result {
        Ok(r) => r,
        Err(e) => return fail(e, format),
    };
    match format {
        Format::Json => {
            let phases: Vec<serde_json::Value> = plans
                .iter()
                .map(|(p, steps)| {
                    serde_json::json!({
                        "file": p.file, "phase": p.phase.as_str(), "version": p.version,
                        "steps": steps.iter().map(|(s, how, locks)| serde_json::json!({
                            "line": s.line, "sql": s.sql, "runs": how,
                            "locks": locks.iter().map(|(t, mode, blocks, rows)| serde_json::json!({
                                "table": t, "mode": mode, "blocks": blocks, "rows_estimate": rows,
                            })).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({ "database": database, "pending": phases })
            );
        }
        Format::Human => {
            println!("database: {database}");
            if plans.is_empty() {
                println!("nothing pending");
            }
            for (p, steps) in &plans {
                println!("{} ({})", p.file, p.phase.as_str());
                for (s, how, locks) in steps {
                    let first_line = s.sql.lines().next().unwrap_or_default();
                    println!("  line {:>3}: {first_line}", s.line);
                    println!("            runs: {how}");
                    for (t, mode, blocks, rows) in locks {
                        let rows = if *rows >= 0 {
                            format!("~{rows} rows")
                        } else {
                            "new table".into()
                        };
                        println!("            lock: {mode} on {t} ({rows}; blocks {blocks})");
                    }
                }
            }
        }
    }
    ExitCode::SUCCESS
}

/// `migrate init`: concertina.toml for an existing directory; exit 2 when it cannot.
pub fn init(
    dir: Option<std::path::PathBuf>,
    database_url: Option<String>,
    format: Format,
) -> ExitCode {
    let dir = dir.unwrap_or_else(default_dir);
    match crate::init::init(&dir, database_url.as_deref()) {
        Ok(report) => {
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({
                        "written": report.path.display().to_string(),
                        "dialect": report.dialect.as_str(),
                        "server_version": report.server_version,
                        "baseline": report.baseline,
                        "reasons": report.reasons,
                    })
                ),
                Format::Human => {
                    println!("wrote {}:", report.path.display());
                    for r in &report.reasons {
                        println!("  {r}");
                    }
                    println!("next: `cargo xtask migrate check`, then `migrate status`");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            match format {
                Format::Json => println!("{}", serde_json::json!({ "error": e.to_string() })),
                Format::Human => eprintln!("error: {e}"),
            }
            ExitCode::from(2)
        }
    }
}

/// `migrate new <name>`: the next version (same style as the existing ones) with phase files.
pub fn new_migration(name: &str, dir: Option<std::path::PathBuf>, format: Format) -> ExitCode {
    let dir = dir.unwrap_or_else(default_dir);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        eprintln!("error: `{name}` is not a migration name: use letters, digits and underscores, e.g. add_email");
        return ExitCode::from(2);
    }
    let set = match concertina_codegen::layout::discover(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let diesel_style = set
        .migrations
        .last()
        .is_some_and(|m| m.version.contains('-'));
    let version = if diesel_style {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        diesel_timestamp(now)
    } else {
        let width = set.migrations.last().map_or(4, |m| m.version.len().max(4));
        let next = set.migrations.last().map_or(1, |m| m.order + 1);
        format!("{next:0width$}")
    };
    let path = dir.join(format!("{version}_{name}"));
    let concertina_files = [
        ("expand.sql", "-- expand: add new structure, backward compatible (the old app keeps working).\n-- nullable columns, CREATE INDEX CONCURRENTLY, constraints NOT VALID.\n"),
        ("backfill.sql", "-- backfill: data moves, run in resumable keyset batches while both app versions run.\n-- e.g. UPDATE users SET full_name = name WHERE full_name IS NULL;\n"),
        ("contract.sql", "-- contract: remove the old structure and tighten constraints once no running app needs it.\n-- VALIDATE CONSTRAINT, SET NOT NULL, DROP COLUMN.\n"),
    ];
    // A diesel project keeps diesel's files: diesel_migrations refuses a directory without
    // up.sql, and an app may run them at start-up. up.sql runs as expand.
    let diesel_files = [
        ("up.sql", "-- up (concertina runs it as expand): backward compatible, the old app keeps working.\n-- nullable columns, CREATE INDEX CONCURRENTLY, constraints NOT VALID.\n"),
        ("down.sql", "-- down: undoes up.sql.\n"),
    ];
    let diesel_layout = set
        .migrations
        .last()
        .is_some_and(|m| m.layout == concertina_codegen::layout::Layout::Diesel);
    let files: &[(&str, &str)] = if diesel_layout {
        &diesel_files
    } else {
        &concertina_files
    };
    let names: Vec<&str> = files.iter().map(|f| f.0).collect();
    if path.exists() {
        eprintln!("error: {} already exists", path.display());
        return ExitCode::from(2);
    }
    let written = std::fs::create_dir_all(&path).and_then(|_| {
        files
            .iter()
            .try_for_each(|(f, text)| std::fs::write(path.join(f), text))
    });
    match written {
        Ok(()) => {
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({ "created": path.display().to_string(), "files": names })
                ),
                Format::Human if diesel_layout => println!(
                    "created {}/{{up,down}}.sql (diesel's layout, as the directory's other migrations)",
                    path.display()
                ),
                Format::Human => println!(
                    "created {}/{{expand,backfill,contract}}.sql (delete the phases you do not need)",
                    path.display()
                ),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

/// `YYYY-MM-DD-HHMMSS` in UTC from seconds since the epoch.
pub fn diesel_timestamp(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn diesel_timestamps() {
        assert_eq!(super::diesel_timestamp(0), "1970-01-01-000000");
        assert_eq!(
            super::diesel_timestamp(1_764_028_800 + 3661),
            "2025-11-25-010101"
        );
    }
}
