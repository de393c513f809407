//! `migrate demo`: the example migrations applied to a loaded table while an application
//! workload runs against it, with what the application felt in each phase: the longest lock
//! wait, p50/p99/max latency and failed transactions. Without DATABASE_URL it runs its own
//! throwaway PostgreSQL.
// Without a backend the demo only says which feature to turn on; its drivers go unused.
#![cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]

#[cfg(feature = "mysql")]
pub mod mariadb_server;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod pg_builds;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concertina_codegen::Phase;

use crate::migrator::Migrator;

/// One server's demo: `postgres::run` or `mysql::run`.
pub type Runner = fn(&DemoOptions, &mut dyn FnMut(&str)) -> Result<Vec<PhaseStats>, String>;

pub struct DemoOptions {
    pub dir: PathBuf,
    pub rows: u64,
    pub clients: usize,
    /// A running server to use (a database is created on it and dropped); `None` starts one.
    pub database_url: Option<String>,
    /// Seconds of workload before the first migration, the no-migration baseline.
    pub baseline: Duration,
    /// `(batch_target, batch_pause)` instead of concertina.toml's: how politely backfills
    /// share the server with the app.
    pub pace: Option<(Duration, Duration)>,
}

impl DemoOptions {
    /// The demo's migrator on `url`, at its pace, holding the lock, with the first migration's
    /// tables created (the data is loaded into them before the rest runs).
    fn migrator_with_tables(&self, url: &str) -> Result<Migrator, String> {
        let mut m = Migrator::open(&self.dir, url).map_err(|e| e.to_string())?;
        if let Some((target, pause)) = self.pace {
            m.project.config.runtime.batch_target = target;
            m.project.config.runtime.batch_pause = pause;
        }
        m.lock(None, |_| {}).map_err(|e| e.to_string())?;
        m.apply(
            &[Phase::Expand],
            Some("0001"),
            |_, _, _| {},
            |_, _| {},
            |_| {},
        )
        .map_err(|e| e.to_string())?;
        Ok(m)
    }
}

/// One server's part of the demo: its SQL for the demo database and the data, and the app
/// workload and the lock monitor in its terms. [`run_demo`] does the rest on either server.
pub(crate) trait DemoServer {
    type Conn: diesel::Connection;
    /// What generates the data, for the error when loading fails.
    const LOADS_WITH: &'static str;
    /// Drops a leftover database of this name (an earlier demo killed), then creates it.
    fn create(db: &str) -> Vec<String>;
    /// Drops the database at the end.
    fn drop(db: &str) -> String;
    /// `rows` users and a quarter as many orders, then fresh planner statistics.
    fn load(rows: u64) -> Vec<String>;
    /// The migrations' phases and the app's deploys between them.
    const STEPS: fn() -> Vec<Step>;
    /// One app client: transactions until the demo stops.
    const WORKER: fn(String, Arc<App>, u64) -> Result<(), String>;
    /// Samples how long app statements wait for a lock.
    const LOCK_MONITOR: fn(String, Arc<App>);
}

/// The demo on a database of its own on the server of `admin_url` (named under `base`):
/// created, loaded, driven through the steps while the app runs, dropped at the end.
pub(crate) fn run_demo<S: DemoServer>(
    options: &DemoOptions,
    admin_url: &str,
    base: &str,
    started: Instant,
    say: &mut dyn FnMut(&str),
) -> Result<Vec<PhaseStats>, String> {
    use diesel::connection::{Connection, SimpleConnection};
    let db_name = format!("concertina_demo_{}", std::process::id());
    let mut admin = S::Conn::establish(admin_url)
        .map_err(|e| crate::error::RuntimeError::connect(admin_url, e).to_string())?;
    for sql in S::create(&db_name) {
        admin
            .batch_execute(&sql)
            .map_err(|e| format!("creating the demo database: {e}"))?;
    }
    struct DropDb<C: Connection>(C, String);
    impl<C: Connection> Drop for DropDb<C> {
        fn drop(&mut self) {
            let _ = self.0.batch_execute(&self.1);
        }
    }
    let _drop_db = DropDb(admin, S::drop(&db_name));
    let url = format!("{base}/{db_name}");

    let mut m = options.migrator_with_tables(&url)?;
    say(&format!(
        "loading {} users and {} orders",
        options.rows,
        options.rows / 4
    ));
    let load = Instant::now();
    let mut conn = S::Conn::establish(&url).map_err(|e| e.to_string())?;
    for sql in S::load(options.rows.max(1)) {
        conn.batch_execute(&sql)
            .map_err(|e| format!("loading the demo data ({}): {e}", S::LOADS_WITH))?;
    }
    drop(conn);
    say(&format!("loaded in {:.1?}", load.elapsed()));
    drive(
        &mut m,
        &url,
        options,
        (S::STEPS)(),
        S::WORKER,
        S::LOCK_MONITOR,
        started,
        say,
    )
}

/// What the application saw during one phase.
#[derive(Debug, Clone, Default)]
pub struct PhaseStats {
    pub label: String,
    pub duration: Duration,
    pub transactions: u64,
    pub failed: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub longest_lock_wait: Duration,
    /// The first failure's message, if any.
    pub first_error: Option<String>,
}

#[derive(Default)]
pub(crate) struct Bucket {
    latencies_us: Vec<u32>,
    failed: u64,
    longest_lock_wait: Duration,
    first_error: Option<String>,
}

/// Which app version runs: the demo deploys them at the right moments of each window.
#[derive(Default)]
pub(crate) struct App {
    pub(crate) dual_write: AtomicBool,
    pub(crate) new_app: AtomicBool,
    pub(crate) writes_phone: AtomicBool,
    pub(crate) stop: AtomicBool,
    pub(crate) phase: AtomicUsize,
    pub(crate) buckets: Mutex<BTreeMap<usize, Bucket>>,
    pub(crate) max_id: AtomicU64,
}

impl App {
    pub(crate) fn record(&self, latency: Duration, error: Option<String>) {
        let phase = self.phase.load(Ordering::SeqCst);
        if let Ok(mut b) = self.buckets.lock() {
            let bucket = b.entry(phase).or_default();
            bucket
                .latencies_us
                .push(latency.as_micros().min(u32::MAX as u128) as u32);
            if let Some(e) = error {
                bucket.failed += 1;
                bucket.first_error.get_or_insert(e);
            }
        }
    }
}

/// What an app transaction does: read a user, rename one, or sign one up with an order.
pub(crate) enum TxnKind {
    Read,
    Rename,
    Signup,
}

/// One app transaction, as the app version deployed at the time writes it.
pub(crate) struct Txn {
    pub(crate) kind: TxnKind,
    /// The user it reads or renames.
    pub(crate) id: i64,
    /// This client's transaction count and seed: new values and new users' names.
    pub(crate) n: u64,
    pub(crate) seed: u64,
    /// The transition app: writes `name` and `full_name`.
    pub(crate) dual: bool,
    /// The new app: `full_name` only.
    pub(crate) new: bool,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) phone: bool,
}

impl App {
    /// One client's workload until the demo stops: 60 % reads, 30 % renames, 10 % sign-ups,
    /// each timed and recorded; `run` speaks the server's SQL.
    pub(crate) fn clients_loop(
        &self,
        seed: u64,
        mut run: impl FnMut(&Txn) -> Result<(), diesel::result::Error>,
    ) {
        let mut rng = Rng(seed | 1);
        let mut n: u64 = 0;
        while !self.stop.load(Ordering::SeqCst) {
            n += 1;
            let max_id = self.max_id.load(Ordering::SeqCst).max(1);
            let id = (rng.next() % max_id + 1) as i64;
            let kind = match rng.next() % 10 {
                0..=5 => TxnKind::Read,
                6..=8 => TxnKind::Rename,
                _ => TxnKind::Signup,
            };
            let txn = Txn {
                kind,
                id,
                n,
                seed,
                dual: self.dual_write.load(Ordering::SeqCst),
                new: self.new_app.load(Ordering::SeqCst),
                phone: self.writes_phone.load(Ordering::SeqCst),
            };
            let started = Instant::now();
            let result = run(&txn);
            self.record(started.elapsed(), result.err().map(|e| e.to_string()));
        }
    }
}

/// A tiny xorshift for picking rows: no dependency, deterministic per worker.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn percentile(sorted: &[u32], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Duration::from_micros(sorted[i.min(sorted.len() - 1)] as u64)
}

/// One step of the demo: a phase to apply, or an app deploy.
pub(crate) enum Step {
    Apply(&'static str, Phase),
    Deploy(&'static str, fn(&App)),
}

/// What both example directories (migrations/, migrations-mysql/) do first: a status column
/// (0002), its index (0003), and the rename of `name` to `full_name` (0004) with the app's
/// two deploys around its backfill.
pub(crate) fn rename_steps() -> Vec<Step> {
    use Phase::*;
    vec![
        Step::Apply("0002", Expand),
        Step::Apply("0003", Expand),
        Step::Apply("0004", Expand),
        Step::Deploy("transition app: dual-writes name and full_name", |a| {
            a.dual_write.store(true, Ordering::SeqCst)
        }),
        Step::Apply("0004", Backfill),
        Step::Deploy("new app: reads and writes full_name only", |a| {
            a.new_app.store(true, Ordering::SeqCst)
        }),
        Step::Apply("0004", Contract),
    ]
}

/// The app workload, the deploys and the phases, with per-phase statistics: shared by the
/// PostgreSQL and the MySQL demo (`worker` and `monitor` speak the server's SQL).
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive(
    m: &mut Migrator,
    url: &str,
    options: &DemoOptions,
    steps: Vec<Step>,
    worker: fn(String, Arc<App>, u64) -> Result<(), String>,
    lock_monitor: fn(String, Arc<App>),
    started: Instant,
    say: &mut dyn FnMut(&str),
) -> Result<Vec<PhaseStats>, String> {
    let app = Arc::new(App::default());
    app.max_id.store(options.rows.max(1), Ordering::SeqCst);
    let mut labels = vec!["no migration (baseline)".to_string()];
    let mut durations = vec![Duration::ZERO];
    let mut handles = Vec::new();
    for i in 0..options.clients.max(1) {
        let (u, a) = (url.to_string(), app.clone());
        handles.push(std::thread::spawn(move || {
            worker(u, a, 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1))
        }));
    }
    let monitor = {
        let (u, a) = (url.to_string(), app.clone());
        std::thread::spawn(move || lock_monitor(u, a))
    };
    say(&format!(
        "app workload: {} clients; baseline for {:.0?}",
        options.clients.max(1),
        options.baseline
    ));
    let t = Instant::now();
    std::thread::sleep(options.baseline);
    durations[0] = t.elapsed();

    let mut result = Ok(());
    for step in steps {
        match step {
            Step::Deploy(what, f) => {
                say(&format!("deploy: {what}"));
                f(&app);
                // Let in-flight transactions of the previous version finish.
                std::thread::sleep(Duration::from_millis(200));
            }
            Step::Apply(version, phase) => {
                let Some(plan) = m
                    .plans
                    .iter()
                    .find(|p| p.version == version && p.phase == phase)
                    .cloned()
                else {
                    continue;
                };
                labels.push(format!(
                    "{} {}",
                    plan.file.split('/').next().unwrap_or(version),
                    phase.as_str()
                ));
                durations.push(Duration::ZERO);
                app.phase.store(labels.len() - 1, Ordering::SeqCst);
                say(&format!("applying {}", plan.file));
                let t = Instant::now();
                let mut last = Instant::now();
                let r = m.apply(
                    &[phase],
                    Some(version),
                    |_, _, _| {},
                    |_, _| {},
                    |p| {
                        if last.elapsed() > Duration::from_secs(2) {
                            last = Instant::now();
                            let rate = p.scanned as f64 / p.elapsed.as_secs_f64().max(1e-3);
                            eprintln!(
                                "    backfill {}: {} rows, {:.0} keys/s",
                                p.table, p.rows_done, rate
                            );
                        }
                    },
                );
                if let Some(d) = durations.last_mut() {
                    *d = t.elapsed();
                }
                if let Err(e) = r {
                    result = Err(e.to_string());
                    break;
                }
            }
        }
    }
    app.stop.store(true, Ordering::SeqCst);
    for h in handles {
        if let Ok(Err(e)) = h.join() {
            return Err(format!("app workload: {e}"));
        }
    }
    let _ = monitor.join();
    result?;
    let buckets = app
        .buckets
        .lock()
        .map_err(|_| "statistics lock poisoned".to_string())?;
    let mut out = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let empty = Bucket::default();
        let b = buckets.get(&i).unwrap_or(&empty);
        let mut sorted = b.latencies_us.clone();
        sorted.sort_unstable();
        out.push(PhaseStats {
            label: label.clone(),
            duration: durations.get(i).copied().unwrap_or_default(),
            transactions: sorted.len() as u64,
            failed: b.failed,
            p50: percentile(&sorted, 0.50),
            p99: percentile(&sorted, 0.99),
            max: sorted
                .last()
                .map_or(Duration::ZERO, |v| Duration::from_micros(*v as u64)),
            longest_lock_wait: b.longest_lock_wait,
            first_error: b.first_error.clone(),
        });
    }
    say(&format!("done in {:.1?}", started.elapsed()));
    Ok(out)
}

pub fn render(stats: &[PhaseStats], lock_timeout: Duration) -> String {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    let mut s = format!(
        "{:<36} {:>8} {:>7} {:>9} {:>8} {:>8} {:>8} {:>7}\n",
        "phase", "time s", "app tx", "lock ms", "p50 ms", "p99 ms", "max ms", "failed"
    );
    for p in stats {
        s.push_str(&format!(
            "{:<36} {:>8.1} {:>7} {:>9} {:>8} {:>8} {:>8} {:>7}\n",
            p.label,
            p.duration.as_secs_f64(),
            p.transactions,
            ms(p.longest_lock_wait),
            ms(p.p50),
            ms(p.p99),
            ms(p.max),
            p.failed
        ));
        if let Some(e) = &p.first_error {
            s.push_str(&format!("    first failure: {e}\n"));
        }
    }
    let worst = stats
        .iter()
        .map(|p| p.longest_lock_wait)
        .max()
        .unwrap_or_default();
    let failed: u64 = stats.iter().map(|p| p.failed).sum();
    s.push_str(&format!(
        "longest lock wait of any app query: {} ms (lock_timeout {} ms); failed app transactions: {failed}\n",
        ms(worst),
        lock_timeout.as_millis()
    ));
    s
}
