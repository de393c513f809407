//! The app's workload, built from the generated types' shapes ([`AppVersion`]): per
//! transaction one table the migrations touch, and a point read by key (60 %), an update of
//! one column the version writes (30 %) or an insert with every column it requires (10 %), in
//! the SQL of the app version deployed at the time. What each transaction felt is recorded per
//! stretch (baseline, phase) and per tenth of a second for the timeline.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use concertina_codegen::change::QualName;
use concertina_codegen::typegen::access::{AppVersion, TableAccess};

use super::data::{self, Gen, Keys};
use super::report::{Sample, StretchStats};
use crate::engine::DbError;

/// How the app's SQL is spelt on a server.
pub trait Flavour: Send + Sync {
    fn quote_ident(&self, name: &str) -> String;
    fn table(&self, name: &QualName) -> String;
    /// A value as a string literal the server casts to the column's type.
    fn literal(&self, value: &str) -> String;
}

/// One app connection.
pub trait AppConn: Send {
    fn exec(&mut self, sql: &str) -> Result<(), DbError>;
}

/// What the app felt during one stretch.
#[derive(Default)]
struct Bucket {
    latencies_us: Vec<u32>,
    failed: u64,
    longest_lock_wait: Duration,
    first_error: Option<String>,
}

#[derive(Default, Clone, Copy)]
struct Slice {
    transactions: u32,
    max_us: u32,
    lock_wait_us: u32,
    failed: u32,
}

/// Where the app's transactions are counted: the stretch now running and the timeline.
pub struct Recorder {
    pub started: Instant,
    stretch: AtomicUsize,
    buckets: Mutex<BTreeMap<usize, Bucket>>,
    slices: Mutex<Vec<Slice>>,
}

const SLICE: Duration = Duration::from_millis(100);

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            started: Instant::now(),
            stretch: AtomicUsize::new(0),
            buckets: Mutex::new(BTreeMap::new()),
            slices: Mutex::new(Vec::new()),
        }
    }
}

impl Recorder {
    /// Later transactions count toward stretch `i`.
    pub fn begin_stretch(&self, i: usize) {
        self.stretch.store(i, Ordering::SeqCst);
    }

    fn slice_at(&self, at: Instant) -> usize {
        (at.saturating_duration_since(self.started).as_millis() / SLICE.as_millis()) as usize
    }

    pub fn record(&self, latency: Duration, error: Option<String>) {
        let us = latency.as_micros().min(u32::MAX as u128) as u32;
        let failed = error.is_some();
        if let Ok(mut b) = self.buckets.lock() {
            let bucket = b.entry(self.stretch.load(Ordering::SeqCst)).or_default();
            bucket.latencies_us.push(us);
            if let Some(e) = error {
                bucket.failed += 1;
                bucket.first_error.get_or_insert(e);
            }
        }
        let i = self.slice_at(Instant::now());
        if let Ok(mut s) = self.slices.lock() {
            if s.len() <= i {
                s.resize(i + 1, Slice::default());
            }
            s[i].transactions += 1;
            s[i].max_us = s[i].max_us.max(us);
            s[i].failed += failed as u32;
        }
    }

    /// The longest an app query has been waiting for a lock, as sampled now.
    pub fn lock_wait(&self, wait: Duration) {
        if let Ok(mut b) = self.buckets.lock() {
            let bucket = b.entry(self.stretch.load(Ordering::SeqCst)).or_default();
            bucket.longest_lock_wait = bucket.longest_lock_wait.max(wait);
        }
        let i = self.slice_at(Instant::now());
        let us = wait.as_micros().min(u32::MAX as u128) as u32;
        if let Ok(mut s) = self.slices.lock() {
            if s.len() <= i {
                s.resize(i + 1, Slice::default());
            }
            s[i].lock_wait_us = s[i].lock_wait_us.max(us);
        }
    }

    pub fn stretch(&self, i: usize) -> StretchStats {
        let Ok(b) = self.buckets.lock() else {
            return StretchStats::default();
        };
        let Some(bucket) = b.get(&i) else {
            return StretchStats::default();
        };
        let mut sorted = bucket.latencies_us.clone();
        sorted.sort_unstable();
        let pct = |p: f64| {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
            Duration::from_micros(sorted[at.min(sorted.len() - 1)] as u64)
        };
        StretchStats {
            transactions: sorted.len() as u64,
            failed: bucket.failed,
            p50: pct(0.50),
            p99: pct(0.99),
            max: sorted
                .last()
                .map_or(Duration::ZERO, |v| Duration::from_micros(*v as u64)),
            longest_lock_wait: bucket.longest_lock_wait,
            first_error: bucket.first_error.clone(),
        }
    }

    pub fn timeline(&self) -> Vec<Sample> {
        let Ok(s) = self.slices.lock() else {
            return Vec::new();
        };
        s.iter()
            .enumerate()
            .map(|(i, sl)| Sample {
                t: i as f64 * SLICE.as_secs_f64(),
                transactions: sl.transactions,
                max_ms: sl.max_us as f64 / 1e3,
                lock_wait_ms: sl.lock_wait_us as f64 / 1e3,
                failed: sl.failed,
            })
            .collect()
    }
}

/// The column generators of one app version's tables, and the keys it reads and updates by.
pub struct Deployed {
    pub app: AppVersion,
    /// Per table: the value generator of each column the app writes.
    gens: BTreeMap<QualName, BTreeMap<String, Gen>>,
    /// Tables whose inserts the app can make (every required column has a generator).
    can_insert: BTreeMap<QualName, bool>,
}

impl Deployed {
    /// The app version `app`, on the tables `tables` (the others are not the rehearsal's).
    /// Its values keep the constraints the pending migrations add (`promised`): an app whose
    /// migration adds a foreign key already writes rows that satisfy it.
    pub fn new(mut app: AppVersion, tables: &[QualName], promised: &data::Promised) -> Deployed {
        app.tables.retain(|t| tables.contains(&t.table));
        let mut gens = BTreeMap::new();
        let mut can_insert = BTreeMap::new();
        for t in &app.tables {
            let Some(table) = app.schema.table(&t.table) else {
                continue;
            };
            let planned = data::column_gens(&app.schema, table, promised, &BTreeMap::new(), 0);
            let ok = t
                .inserts
                .iter()
                .all(|w| !w.required || w.targets.last().is_some_and(|c| planned.contains_key(c)));
            can_insert.insert(t.table.clone(), ok);
            gens.insert(t.table.clone(), planned);
        }
        Deployed {
            app,
            gens,
            can_insert,
        }
    }
}

/// The running app: which version is deployed, the keys it picks rows by, and the recorder.
pub struct App {
    pub deployed: RwLock<Arc<Deployed>>,
    /// Per table: key tuples of loaded rows (a sample), to read and update by.
    pub rows: BTreeMap<QualName, Vec<Vec<String>>>,
    /// Parent keys for foreign keys, as loaded.
    pub keys: Arc<Keys>,
    pub recorder: Recorder,
    pub stop: AtomicBool,
    /// Transactions per second over all clients; 0: as fast as they go.
    pub rate: f64,
    pub clients: usize,
    sent: AtomicU64,
}

impl App {
    pub fn new(
        deployed: Deployed,
        rows: BTreeMap<QualName, Vec<Vec<String>>>,
        keys: Arc<Keys>,
        rate: f64,
        clients: usize,
    ) -> App {
        App {
            deployed: RwLock::new(Arc::new(deployed)),
            rows,
            keys,
            recorder: Recorder::default(),
            stop: AtomicBool::new(false),
            rate,
            clients: clients.max(1),
            sent: AtomicU64::new(0),
        }
    }

    pub fn deploy(&self, next: Deployed) {
        if let Ok(mut d) = self.deployed.write() {
            *d = Arc::new(next);
        }
    }

    fn current(&self) -> Option<Arc<Deployed>> {
        self.deployed.read().ok().map(|d| d.clone())
    }

    /// One client until the app stops: builds each transaction in the deployed version's
    /// SQL, runs it, records it, and keeps to its share of `rate`.
    pub fn client(&self, client: u64, conn: &mut dyn AppConn, flavour: &dyn Flavour) {
        let mut n: u64 = 0;
        let per_client =
            (self.rate > 0.0).then(|| Duration::from_secs_f64(self.clients as f64 / self.rate));
        let mut next_at = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            n += 1;
            if let Some(gap) = per_client {
                let now = Instant::now();
                if next_at > now {
                    std::thread::sleep(next_at - now);
                }
                next_at = next_at.max(now) + gap;
            }
            let Some(deployed) = self.current() else {
                return;
            };
            let seed = data::mix(client.wrapping_add(0x51ED), n);
            let Some(sql) = self.transaction(&deployed, seed, client, n, flavour) else {
                // Nothing this version can do (no table with keys): idle a little.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            self.sent.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let result = conn.exec(&sql);
            self.recorder
                .record(started.elapsed(), result.err().map(|e| e.to_string()));
        }
    }

    /// One transaction's SQL, or `None` when the version touches no table.
    pub fn transaction(
        &self,
        d: &Deployed,
        seed: u64,
        client: u64,
        n: u64,
        f: &dyn Flavour,
    ) -> Option<String> {
        if d.app.tables.is_empty() {
            return None;
        }
        let t = &d.app.tables[(seed % d.app.tables.len() as u64) as usize];
        let rows = self.rows.get(&t.table).filter(|r| !r.is_empty());
        let roll = (seed >> 16) % 10;
        let can_insert = d.can_insert.get(&t.table).copied().unwrap_or(false);
        match (roll, rows) {
            (0..=5, Some(rows)) => Some(read(t, pick(rows, seed >> 24), f)),
            (6..=8, Some(rows)) if !t.updates.is_empty() => {
                self.update(d, t, pick(rows, seed >> 24), seed, client, n, f)
            }
            _ if can_insert => self.insert(d, t, client, n, f),
            (_, Some(rows)) => Some(read(t, pick(rows, seed >> 24), f)),
            _ => None,
        }
    }

    /// A value for `column` of `table` that no loaded row and no other client's value has
    /// (unique generators take the row number): rows past the loaded ones.
    fn value(
        &self,
        d: &Deployed,
        table: &QualName,
        column: &str,
        client: u64,
        n: u64,
    ) -> Option<String> {
        let gen = d.gens.get(table)?.get(column)?;
        let i = 1_000_000_000_000 + client * 10_000_000_000 + n;
        let salt = data::salt(&table.to_string()) ^ data::salt(column);
        data::value(gen, column, salt, i, &self.keys)
    }

    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        d: &Deployed,
        t: &TableAccess,
        key: &[String],
        seed: u64,
        client: u64,
        n: u64,
        f: &dyn Flavour,
    ) -> Option<String> {
        let w = &t.updates[((seed >> 32) % t.updates.len() as u64) as usize];
        let col = w.targets.last()?;
        let value = match self.value(d, &t.table, col, client, n) {
            Some(v) => f.literal(&v),
            None if w.nullable => "NULL".to_string(),
            None => return Some(read(t, key, f)),
        };
        let sets: Vec<String> = w
            .targets
            .iter()
            .map(|c| format!("{} = {value}", f.quote_ident(c)))
            .collect();
        Some(format!(
            "UPDATE {} SET {} WHERE {}",
            f.table(&t.table),
            sets.join(", "),
            key_match(t, key, f)
        ))
    }

    fn insert(
        &self,
        d: &Deployed,
        t: &TableAccess,
        client: u64,
        n: u64,
        f: &dyn Flavour,
    ) -> Option<String> {
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        for w in &t.inserts {
            let col = w.targets.last()?;
            // Optional columns are left to their default (or NULL), as `None` does in the
            // generated new-row type.
            if !w.required {
                continue;
            }
            let v = self.value(d, &t.table, col, client, n)?;
            for target in &w.targets {
                cols.push(f.quote_ident(target));
                vals.push(f.literal(&v));
            }
        }
        if cols.is_empty() {
            return None;
        }
        Some(format!(
            "INSERT INTO {} ({}) VALUES ({})",
            f.table(&t.table),
            cols.join(", "),
            vals.join(", ")
        ))
    }

    pub fn transactions_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

fn pick(rows: &[Vec<String>], h: u64) -> &[String] {
    &rows[(h % rows.len() as u64) as usize]
}

fn key_match(t: &TableAccess, key: &[String], f: &dyn Flavour) -> String {
    t.key
        .iter()
        .zip(key)
        .map(|(c, v)| format!("{} = {}", f.quote_ident(c), f.literal(v)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn read(t: &TableAccess, key: &[String], f: &dyn Flavour) -> String {
    let cols: Vec<String> = t
        .reads
        .iter()
        .map(|r| match &r.coalesce {
            Some(other) => format!(
                "COALESCE({}, {})",
                f.quote_ident(&r.column),
                f.quote_ident(other)
            ),
            None => f.quote_ident(&r.column),
        })
        .collect();
    let cols = if cols.is_empty() {
        "1".to_string()
    } else {
        cols.join(", ")
    };
    format!(
        "SELECT {cols} FROM {} WHERE {}",
        f.table(&t.table),
        key_match(t, key, f)
    )
}
