//! Benchmarks against a real PostgreSQL (a throwaway server unless DATABASE_URL is set), each
//! printing ratios against a baseline measured in the same run.
//!
//! - `backfill`: the keyset engine over N rows against one plain `UPDATE` of all rows (the
//!   physical limit) and the naive `WHERE id IN (SELECT … LIMIT … SKIP LOCKED)` loop.
//! - `app-impact`: the demo's workload during the full example migration against the same
//!   workload with no migration.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use concertina_codegen::dialect::DialectKind;
use concertina_runtime::demo::server::Server;
use concertina_runtime::postgres::Postgres;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::bench_input::{flag, time_engine};

/// A server for the benchmark: DATABASE_URL's, or a throwaway one kept alive by the guard.
pub fn server() -> Result<(Option<Server>, String)> {
    match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => Ok((None, url)),
        None => {
            let s = Server::start(|m| eprintln!("bench: {m}")).map_err(|e| anyhow!("{e}"))?;
            let url = s.url("postgres");
            Ok((Some(s), url))
        }
    }
}

fn fresh_db(admin_url: &str, name: &str) -> Result<String> {
    let mut admin = PgConnection::establish(admin_url).map_err(|e| {
        anyhow!(
            "{}",
            concertina_runtime::error::RuntimeError::connect(admin_url, e)
        )
    })?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

fn exec(conn: &mut PgConnection, sql: &str) -> Result<()> {
    conn.batch_execute(sql).with_context(|| sql.to_string())
}

fn timed(conn: &mut PgConnection, sql: &str) -> Result<Duration> {
    let t = Instant::now();
    exec(conn, sql)?;
    Ok(t.elapsed())
}

pub fn backfill(args: &[String]) -> Result<()> {
    let rows = flag(args, "--rows", 5_000_000)? as u64;
    let batch = flag(args, "--batch", 10_000)? as u64;
    let workers = flag(args, "--workers", 2)?.max(1);
    let naive_cap = Duration::from_secs(flag(args, "--naive-seconds", 60)? as u64);
    let (_server, admin) = server()?;
    let url = fresh_db(
        &admin,
        &format!("concertina_bench_backfill_{}", std::process::id()),
    )?;
    let mut conn = PgConnection::establish(&url)?;
    eprintln!("bench: loading 3 tables of {rows} rows");
    for t in ["plain", "engine", "naive"] {
        exec(&mut conn, &format!(
            "CREATE TABLE {t} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, full_name text);
             INSERT INTO {t} (name) SELECT 'user ' || g FROM generate_series(1, {rows}) g;"
        ))?;
        exec(&mut conn, &format!("VACUUM ANALYZE {t}"))?;
    }
    exec(&mut conn, "CHECKPOINT")?;

    eprintln!("bench: one plain UPDATE of every row");
    let plain = timed(
        &mut conn,
        "UPDATE plain SET full_name = name WHERE full_name IS NULL",
    )?;
    // The baseline's dead rows are vacuumed now, untimed, so that autovacuum does not clean
    // them on the cores of the next measurement.
    exec(&mut conn, "VACUUM plain")?;
    exec(&mut conn, "CHECKPOINT")?;

    eprintln!("bench: concertina's keyset engine, batch {batch}, {workers} worker(s), no pause");
    let mut pg = Postgres::connect(&url).map_err(|e| anyhow!("{e}"))?;
    pg.ensure_state_table().map_err(|e| anyhow!("{e}"))?;
    let mut first =
        concertina_runtime::postgres::backfill::PgBatch::connect(&url).map_err(|e| anyhow!(e))?;
    let engine_time = time_engine(&mut first, DialectKind::Postgres, batch, workers, rows)?;
    exec(&mut conn, "VACUUM engine")?;
    exec(&mut conn, "CHECKPOINT")?;

    eprintln!("bench: naive IN (SELECT … LIMIT {batch} FOR UPDATE SKIP LOCKED) loop, at most {naive_cap:?}");
    let t = Instant::now();
    let mut naive_rows: u64 = 0;
    loop {
        let n = diesel::sql_query(format!(
            "UPDATE naive SET full_name = name WHERE id IN (SELECT id FROM naive WHERE full_name IS NULL LIMIT {batch} FOR UPDATE SKIP LOCKED)"
        ))
        .execute(&mut conn)? as u64;
        naive_rows += n;
        if n == 0 || t.elapsed() > naive_cap {
            break;
        }
    }
    let naive_time = t.elapsed();
    let naive_done = naive_rows >= rows;
    let per_row = |d: Duration, n: u64| d.as_secs_f64() / n.max(1) as f64;
    println!("bench backfill: {rows} rows, batch {batch}, {workers} worker(s)");
    println!(
        "  plain UPDATE (baseline):   {:>8.2} s",
        plain.as_secs_f64()
    );
    println!(
        "  concertina keyset engine, {workers} worker(s):  {:>8.2} s   {:.2}x the plain UPDATE (target <= 1.0x)",
        engine_time.as_secs_f64(),
        engine_time.as_secs_f64() / plain.as_secs_f64()
    );
    if naive_done {
        println!(
            "  naive IN (SELECT … LIMIT):  {:>8.2} s   {:.2}x the plain UPDATE",
            naive_time.as_secs_f64(),
            naive_time.as_secs_f64() / plain.as_secs_f64()
        );
    } else {
        println!(
            "  naive IN (SELECT … LIMIT):  {naive_rows} of {rows} rows in {:.1} s, stopped; per row >= {:.1}x the plain UPDATE and slowing (each batch rescans the updated rows)",
            naive_time.as_secs_f64(),
            per_row(naive_time, naive_rows) / per_row(plain, rows)
        );
    }
    drop(conn);
    let mut admin = PgConnection::establish(&admin)?;
    let _ = admin.batch_execute(&format!(
        "DROP DATABASE IF EXISTS \"concertina_bench_backfill_{}\" WITH (FORCE)",
        std::process::id()
    ));
    Ok(())
}

pub fn app_impact(args: &[String]) -> Result<()> {
    let rows = flag(args, "--rows", 1_000_000)? as u64;
    let clients = flag(args, "--clients", 4)?;
    // A polite pace by default: 20 ms batches, 60 ms apart, a quarter of one core for the
    // backfill, so the app keeps its latency on a 2-core machine shared by app, server and
    // migrator; `--batch-target-ms 100 --batch-pause-ms 20` is concertina.toml's pace.
    let pace_target = Duration::from_millis(flag(args, "--batch-target-ms", 20)? as u64);
    let pace_pause = Duration::from_millis(flag(args, "--batch-pause-ms", 60)? as u64);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let lock_timeout = concertina_codegen::Config::load(&dir)
        .map(|c| c.runtime.lock_timeout)
        .map_err(|e| anyhow!("{e}"))?;
    let (_server, admin) = server()?;
    let config = concertina_codegen::Config::load(&dir).map_err(|e| anyhow!("{e}"))?;
    let mut options =
        concertina_runtime::demo::options(&dir, rows, clients).map_err(|e| anyhow!(e))?;
    options.baseline = Duration::from_secs(20);
    // `--config-pace`: concertina.toml's batch_target and batch_pause instead of the bench's
    // polite default; `--budget 1.5x`: app_latency_budget on top.
    let config_pace = args.iter().any(|a| a == "--config-pace");
    if !config_pace {
        options.pace = Some((pace_target, pace_pause));
    }
    if let Some(i) = args.iter().position(|a| a == "--budget") {
        let text = args
            .get(i + 1)
            .context("--budget takes a budget like 1.5x")?;
        options.latency_budget = Some(
            concertina_codegen::config::LatencyBudget::parse(text)
                .with_context(|| format!("--budget {text}: write 1.5x or 5ms"))?,
        );
    }
    // `--reader-s 10`: a session holds a read transaction on the tables for 10 s from the first
    // phase on; the DDL must wait it out without queueing the app behind it.
    let reader = flag(args, "--reader-s", 0)?;
    if reader > 0 {
        options.long_reader = Some(Duration::from_secs(reader as u64));
    }
    // The migration's effect on the app alone: no twin tracing or rollback meanwhile.
    options.trace = false;
    options.rollback = false;
    let rehearse = |options: &concertina_runtime::rehearse::RehearseOptions| {
        concertina_runtime::rehearse::command::run_on(options, &config, Some(&admin), &mut |m| {
            eprintln!("bench: {m}")
        })
        .map_err(|e| anyhow!("{e}"))
    };
    // With a budget, the same migration first runs without it, so the budgeted backfill's
    // throughput is measured against the unthrottled one of the same run.
    let unthrottled = match options.latency_budget {
        Some(_) => {
            let mut free = options.clone();
            free.latency_budget = None;
            eprintln!("bench: first without app_latency_budget, for the throughput it costs");
            Some(backfill_figures(&rehearse(&free)?, rows)?)
        }
        None => None,
    };
    let report = rehearse(&options)?;
    let stats = &report.phases;
    let (baseline, during) = stats.split_first().context("no statistics")?;
    let weighted = |f: fn(&concertina_runtime::rehearse::report::PhaseReport) -> Duration| {
        during.iter().map(f).max().unwrap_or_default()
    };
    let all_tx: u64 = during.iter().map(|s| s.load.transactions).sum();
    let failed: u64 = during.iter().map(|s| s.load.failed).sum();
    let p99_during = weighted_p99(during.iter());
    let max_during = weighted(|s| s.load.max);
    let lock_wait = weighted(|s| s.load.longest_lock_wait);
    print!("{}", concertina_runtime::rehearse::report::human(&report));
    let took: Duration = during.iter().map(|s| s.duration).sum();
    println!(
        "bench app-impact: {rows} rows, {clients} clients, {all_tx} app transactions during the migration ({:.1} s; backfill batches of {} ms, {} ms apart){}",
        took.as_secs_f64(),
        options.pace.map_or(config.runtime.batch_target, |p| p.0).as_millis(),
        options.pace.map_or(config.runtime.batch_pause, |p| p.1).as_millis(),
        if reader > 0 {
            format!("; a {reader} s read transaction open on users and orders from the first phase")
        } else {
            String::new()
        }
    );
    println!(
        "  p99 latency: {:.2} ms without a migration, {:.2} ms during it: {:.2}x (target <= 1.5x)",
        baseline.load.p99.as_secs_f64() * 1e3,
        p99_during.as_secs_f64() * 1e3,
        p99_during.as_secs_f64() / baseline.load.p99.as_secs_f64().max(1e-9)
    );
    println!(
        "  max latency: {:.1} ms without, {:.1} ms during (target <= lock_timeout + 50 ms = {} ms)",
        baseline.load.max.as_secs_f64() * 1e3,
        max_during.as_secs_f64() * 1e3,
        lock_timeout.as_millis() + 50
    );
    println!("  longest lock wait of an app query: {:.1} ms; failed app transactions: {failed} (target 0)", lock_wait.as_secs_f64() * 1e3);
    let budgeted = backfill_figures(&report, rows)?;
    let label = match options.latency_budget {
        Some(b) => format!(" (app_latency_budget {b:?})"),
        None if config_pace => " (concertina.toml's pace, no budget)".to_string(),
        None => String::new(),
    };
    if let Some(free) = &unthrottled {
        println!("  without the budget: {}", free.line());
        println!("  with it{label}: {}", budgeted.line());
        println!(
            "  throughput kept: {:.0} %  (target >= 50 %); app p99 during the budgeted backfills {:.2}x (target <= the budget)",
            100.0 * budgeted.rows_per_s / free.rows_per_s.max(1e-9),
            budgeted.p99_ratio
        );
    } else {
        println!("  {}{label}", budgeted.line());
    }
    Ok(())
}

/// The backfills of one run: the rows they visit (users twice, orders once) per second, and
/// the app's p99 during them against the run's no-migration baseline.
struct BackfillFigures {
    rows: u64,
    seconds: f64,
    rows_per_s: f64,
    p99: Duration,
    p99_ratio: f64,
}

impl BackfillFigures {
    fn line(&self) -> String {
        format!(
            "backfills: {} rows in {:.1} s = {:.0} rows/s; app p99 during them {:.2} ms: {:.2}x",
            self.rows,
            self.seconds,
            self.rows_per_s,
            self.p99.as_secs_f64() * 1e3,
            self.p99_ratio
        )
    }
}

fn backfill_figures(
    report: &concertina_runtime::rehearse::report::RehearsalReport,
    rows: u64,
) -> Result<BackfillFigures> {
    let (baseline, during) = report.phases.split_first().context("no statistics")?;
    let backfills = || during.iter().filter(|p| p.phase == "backfill");
    let seconds: f64 = backfills().map(|p| p.duration.as_secs_f64()).sum();
    let p99 = weighted_p99(backfills());
    let visited = 2 * rows + rows / 4;
    Ok(BackfillFigures {
        rows: visited,
        seconds,
        rows_per_s: visited as f64 / seconds.max(1e-3),
        p99,
        p99_ratio: p99.as_secs_f64() / baseline.load.p99.as_secs_f64().max(1e-9),
    })
}

/// A p99 over several stretches: their p99s weighted by their transactions.
fn weighted_p99<'a>(
    stretches: impl Iterator<Item = &'a concertina_runtime::rehearse::report::PhaseReport> + Clone,
) -> Duration {
    let total: f64 = stretches
        .clone()
        .map(|s| s.load.transactions as f64)
        .sum::<f64>()
        .max(1.0);
    Duration::from_secs_f64(
        stretches
            .map(|s| s.load.p99.as_secs_f64() * s.load.transactions as f64 / total)
            .sum::<f64>(),
    )
}
