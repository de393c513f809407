//! The backfill engine, written once for every server: each statement of `backfill.sql` runs
//! as keyset batches over the table's primary key (or a unique index over NOT NULL columns).
//! One short transaction per batch changes the rows of the batch's key range and saves the
//! slice's cursor and row count in the state table — in the same transaction, so a killed
//! migrator resumes at the cursor and touches no row twice.
//!
//! Slices and workers: the key range is split into contiguous slices (min/max arithmetic for
//! a single integer key, a sample of the keys otherwise), [`SLICES_PER_WORKER`] per worker,
//! worked by `workers` connections at once, each with its own batches, batch size, pause and
//! lock handling; a worker done with a slice takes the next pending one. The saved cursor
//! holds every slice's bounds, last key and skipped ranges; a batch rewrites only its own
//! slice, so a killed run resumes every slice where it stood.
//!
//! Locked rows: a server that can skip locked rows ([`BatchServer::can_skip_locked`]) first
//! runs a batch as a plain range update that may wait at most [`FAST_LOCK_WAIT`]; when that
//! runs out it runs the batch again skipping the rows an app transaction holds, and records the
//! range for a revisit at the end that waits for the locks. Otherwise a batch waits for the
//! full `lock_timeout` and is retried with backoff on a lock timeout or a deadlock.
//!
//! Between batches: a pause, and a wait while a replica lags. The batch size adapts to a
//! target batch duration. What differs between servers — the SQL of each query, how the
//! cursor is saved, what a worker connection is — sits behind [`BatchServer`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use concertina_codegen::change::{Change, QualName};

use super::cursor::slices_between;
use super::pace::{self, Canary, Pace};
use super::{adapt, backoff, integer_bounds, BackfillOptions, DbError, Jitter, Progress};
use super::{Slice, Slices, MAX_WORKERS, SLICES_PER_WORKER};

/// How long a batch's plain range update may wait for a row an app transaction holds before
/// the batch switches to skipping locked rows (where the server can).
pub const FAST_LOCK_WAIT: Duration = Duration::from_millis(20);

/// One column of the batching key.
#[derive(Debug, Clone)]
pub struct KeyColumn {
    pub name: String,
    /// The server's type name (PostgreSQL casts literals to it).
    pub ty: String,
    /// An integer type: split by min/max arithmetic, bound as a number.
    pub integer: bool,
}

/// A batchable statement (`UPDATE` or `DELETE` of `backfill.sql`) in parts, from which each
/// server builds its batch template.
#[derive(Debug, Clone)]
pub struct BatchStatement<'a> {
    pub table: &'a QualName,
    /// The target as written (with its alias), or the quoted table of a `DELETE`.
    pub target: String,
    /// The alias other clauses use for the target.
    pub alias: Option<&'a str>,
    /// The `SET` list; `None` for a `DELETE`.
    pub set: Option<&'a str>,
    /// An `UPDATE`'s `FROM` list.
    pub from: Option<&'a str>,
    /// The statement's own predicate.
    pub filter: Option<&'a str>,
}

impl<'a> BatchStatement<'a> {
    /// The parts of `change`; only `UPDATE` and `DELETE` can be batched.
    pub fn of(
        change: &'a Change,
        quoted_table: impl Fn(&QualName) -> String,
    ) -> Result<BatchStatement<'a>, String> {
        match change {
            Change::Update {
                table,
                filter,
                parts,
                ..
            } => Ok(BatchStatement {
                table,
                target: parts.target.clone(),
                alias: parts.alias.as_deref(),
                set: Some(&parts.set),
                from: parts.from.as_deref(),
                filter: filter.as_ref().map(|f| f.text.as_str()),
            }),
            Change::Delete { table, filter } => Ok(BatchStatement {
                table,
                target: quoted_table(table),
                alias: None,
                set: None,
                from: None,
                filter: filter.as_ref().map(|f| f.text.as_str()),
            }),
            _ => Err("only UPDATE and DELETE can be batched by the backfill engine; express the data move as an UPDATE of the target table".into()),
        }
    }

    /// The statement with `range` (the server's placeholder for the batch's key condition)
    /// in front of its own predicate.
    pub fn rebuilt(&self, range: &str) -> String {
        let filter = self
            .filter
            .map(|f| format!(" AND ({f})"))
            .unwrap_or_default();
        match self.set {
            Some(set) => {
                let from = self.from.map(|f| format!(" FROM {f}")).unwrap_or_default();
                format!(
                    "UPDATE {} SET {set}{from} WHERE {range}{filter}",
                    self.target
                )
            }
            None => format!("DELETE FROM {} WHERE {range}{filter}", self.target),
        }
    }
}

/// A key as the servers return it for the cursor: a JSON array of the key's columns as text
/// (`json_build_array(k::text, …)`, `JSON_ARRAY(CAST(k AS CHAR), …)`). A NULL reads as the
/// empty string (key columns are NOT NULL); a number as its digits.
pub fn key_from_json(text: &str) -> Result<Vec<String>, String> {
    let values: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        })
        .collect())
}

/// How one batch treats rows an app transaction holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Wait for them, at most this long per lock.
    Wait(Duration),
    /// Change only the rows nobody holds (`FOR UPDATE SKIP LOCKED`).
    SkipLocked,
}

/// One batch: the key range `(lo, hi]` (`None`: open end) of slice `index`, and the slice as
/// it is to be saved with the batch — which may depend on what the batch saw.
pub struct Batch<'a> {
    pub version: &'a str,
    pub index: usize,
    pub lo: Option<&'a [String]>,
    pub hi: Option<&'a [String]>,
    pub mode: LockMode,
    /// The full `lock_timeout`, for the state row the workers share.
    pub lock_timeout: Duration,
    /// The slice to save given (candidate rows, changed rows) of the batch.
    pub save: &'a (dyn Fn(i64, i64) -> Slice + Sync),
}

/// What the backfill engine needs from a server. One value is one connection.
pub trait BatchServer: Send + Sized {
    /// A statement rebuilt around a key range.
    type Template: Sync;

    fn template(&self, change: &Change) -> Result<Self::Template, String>;

    /// The table the statement changes.
    fn target(t: &Self::Template) -> &QualName;

    /// Whether a batch of this statement may skip locked rows: only where a predicate makes the
    /// revisit harmless, and only on servers that can.
    fn can_skip_locked(_t: &Self::Template) -> bool {
        false
    }

    /// The primary key, else the narrowest unique index over NOT NULL columns.
    fn key_of(&mut self, table: &QualName) -> Result<Vec<KeyColumn>, String>;

    /// The server's row estimate (0 when unknown).
    fn estimate(&mut self, table: &QualName) -> i64;

    /// How far the worst replica lags (zero without replicas; [`Duration::MAX`] for one that
    /// does not replay at all or cannot be asked).
    fn replica_lag(&mut self) -> Duration;

    /// What the last [`BatchServer::replica_lag`] found of the worst replica, in words
    /// (`replica 10.0.0.2:3306: replication stopped`), where the backend can say more than a
    /// duration.
    fn replica_lag_note(&mut self) -> Option<String> {
        None
    }

    /// A canary for `app_latency_budget`: a connection of its own that reads the row of key
    /// `at` of the statement's table, as an app's point read would; `None` where the server
    /// cannot open one (the backfill then keeps its fixed pace).
    fn canary(
        &mut self,
        _t: &Self::Template,
        _keys: &[KeyColumn],
        _at: &[String],
    ) -> Option<Box<dyn Canary>> {
        None
    }

    /// How many bytes of WAL the worst replica has yet to replay (zero without replicas, or
    /// where the server cannot say). Current at every call, where the time lag is refreshed
    /// only when a standby replies.
    fn replica_lag_bytes(&mut self) -> u64 {
        0
    }

    /// Sets what the session needs before its first batch (lock wait limits).
    fn prepare_session(&mut self, _options: &BackfillOptions) -> Result<(), String> {
        Ok(())
    }

    /// The upper key of the next batch of `n` keys in `(lo, hi]`, or `None` when fewer are left.
    fn upper_key(
        &mut self,
        t: &Self::Template,
        keys: &[KeyColumn],
        lo: Option<&[String]>,
        hi: Option<&[String]>,
        n: u64,
    ) -> Result<Option<Vec<String>>, String>;

    /// Lowest and highest value of a single integer key (`None`: empty table).
    fn integer_span(
        &mut self,
        t: &Self::Template,
        key: &KeyColumn,
    ) -> Result<Option<(i128, i128)>, String>;

    /// A sorted sample of the keys, to cut at quantiles (cheap on any size).
    fn sample_keys(
        &mut self,
        t: &Self::Template,
        keys: &[KeyColumn],
        estimate: i64,
    ) -> Result<Vec<Vec<String>>, String>;

    /// Runs one batch and saves its slice, in one transaction. Returns (candidates, changed):
    /// the rows of the range the statement selects and those it changed (fewer when it
    /// skipped locked rows).
    fn batch(
        &mut self,
        t: &Self::Template,
        keys: &[KeyColumn],
        batch: &Batch,
    ) -> Result<(i64, i64), DbError>;

    /// Saves the whole cursor of `version`'s backfill (no row changes with it).
    fn save_cursor(&mut self, version: &str, cursor: &Slices) -> Result<(), String>;

    /// Another connection for a worker, holding whatever marks a live worker on the server.
    fn worker(&mut self) -> Result<Self, String>;

    /// Who holds locks on `table`, for the message when a batch gives up.
    fn blockers(&mut self, _table: &QualName) -> Vec<String> {
        Vec::new()
    }
}

/// What a worker tells the coordinating thread, which reports progress.
enum Event {
    Batch {
        changed: i64,
        scanned: i64,
        batch_size: u64,
    },
    /// Why: which replica, how far behind.
    WaitingForReplicas(String),
}

/// Runs one backfill statement from `cursor` to its end, its slices worked by
/// `options.workers` connections at once (`server` is the first). Returns the rows changed by
/// this run. `rows_before`: the phase's rows changed before (an interrupted run's, earlier
/// statements'), for the progress reports.
#[allow(clippy::too_many_arguments)]
pub fn run_statement<S: BatchServer>(
    server: &mut S,
    options: &BackfillOptions,
    version: &str,
    step_index: usize,
    change: &Change,
    mut cursor: Slices,
    rows_before: i64,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<i64, String> {
    let t = server.template(change)?;
    let table = S::target(&t).clone();
    let keys = server.key_of(&table)?;
    if let Some(bad) = cursor
        .slices
        .iter()
        .filter_map(|s| s.key.as_ref().or(s.hi.as_ref()))
        .find(|k| k.len() != keys.len())
    {
        // The key changed since the cursor was saved (or the state row was edited).
        return Err(format!(
            "the saved backfill cursor has {} key value(s) but `{table}` is keyed by {} column(s); clear `backfill_cursor` of this phase in the state table to start the statement over (its predicate skips rows already done)",
            bad.len(),
            keys.len()
        ));
    }
    let estimate = server.estimate(&table);
    let started = Instant::now();
    cursor.statement = step_index;
    if cursor.slices.is_empty() {
        let slices = match options.workers.clamp(1, MAX_WORKERS) {
            1 => 1,
            n => n * SLICES_PER_WORKER,
        };
        cursor.slices = split(server, &t, &keys, slices, estimate)?;
    }
    // Every slice's bounds are saved before its first batch, which then rewrites only its own
    // entry; an old single cursor is saved in the new shape here too.
    server.save_cursor(version, &cursor)?;
    let pending: Vec<(usize, Slice)> = cursor
        .slices
        .iter()
        .cloned()
        .enumerate()
        .filter(|(_, s)| !s.is_done())
        .collect();
    let wanted = options
        .workers
        .clamp(1, pending.len().clamp(1, MAX_WORKERS));
    let mut extra = Vec::new();
    for _ in 1..wanted {
        // A server at its connection limit gets fewer workers, not a failed backfill; the
        // progress reports how many run.
        match server.worker() {
            Ok(w) => extra.push(w),
            Err(_) => break,
        }
    }
    let workers = extra.len() + 1;
    let mut servers: Vec<&mut S> = Vec::with_capacity(workers);
    servers.push(server);
    servers.extend(extra.iter_mut());
    // A resumed statement's progress starts where the interrupted run left it.
    let scanned_before: i64 = cursor.slices.iter().map(|s| s.scanned).sum();
    // Pacing by the app's latency: a canary's baseline before the first batch, then a
    // controller beside the workers.
    let mut canary = match options.latency_budget {
        Some(_) => match servers[0].upper_key(&t, &keys, None, None, 1)? {
            Some(at) => servers[0].canary(&t, &keys, &at),
            None => None,
        },
        None => None,
    };
    let paced = match (options.latency_budget, canary.as_mut()) {
        (Some(budget), Some(c)) => {
            let base = pace::baseline(c.as_mut());
            let limit = pace::limit(budget, base);
            let p = Pace::new(options.batch_target, options.batch_pause);
            // An absolute budget the app already misses starts the backfill slow.
            p.steer(base, limit);
            Some((p, limit))
        }
        _ => None,
    };
    let pace_ref = paced.as_ref().map(|(p, _)| p);
    let report = |rows_done: i64, scanned: i64, batch_size: u64, waiting: Option<&str>| Progress {
        table: table.clone(),
        rows_done: rows_before + rows_done,
        scanned,
        scanned_before,
        estimate,
        batch_size,
        elapsed: started.elapsed(),
        waiting_for_replicas: waiting.is_some(),
        workers,
        pace: match (waiting, pace_ref) {
            (Some(why), _) => format!("replicas: waiting for them to catch up ({why})"),
            (None, Some(p)) => p.reason(),
            (None, None) => String::new(),
        },
    };
    on_progress(&Progress {
        elapsed: Duration::ZERO,
        ..report(0, scanned_before, options.batch_size, None)
    });
    let stop = AtomicBool::new(false);
    let controller_stop = AtomicBool::new(false);
    let next = AtomicUsize::new(workers);
    let (tx, rx) = mpsc::channel::<Event>();
    let (t, keys, stop, pending, next) = (&t, &keys, &stop, &pending, &next);
    let (rows_done, results) = std::thread::scope(|scope| {
        let controller = match (canary.as_mut(), paced.as_ref()) {
            (Some(c), Some((p, limit))) => {
                let (limit, cs) = (*limit, &controller_stop);
                Some(scope.spawn(move || pace::control(c.as_mut(), p, limit, cs)))
            }
            _ => None,
        };
        let handles: Vec<_> = servers
            .into_iter()
            .enumerate()
            .map(|(w, server)| {
                let tx = tx.clone();
                scope.spawn(move || {
                    if let Err(e) = server.prepare_session(options) {
                        stop.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                    let mut worker = Worker {
                        server,
                        options,
                        version,
                        jitter: Jitter::new(),
                        stop,
                        events: tx,
                        batch_size: options.batch_size.max(1),
                        pace: pace_ref,
                    };
                    // Worker w starts with pending slice w, then takes whichever is next: a
                    // part of the range with more rows to change keeps no one idle.
                    let mut i = w;
                    while let Some((index, slice)) = pending.get(i) {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if let Err(e) = worker.run_slice(t, keys, *index, slice.clone()) {
                            // The others stop at their next batch; their work is saved.
                            stop.store(true, Ordering::SeqCst);
                            return Err(e);
                        }
                        i = next.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(())
                })
            })
            .collect();
        drop(tx);
        let (mut rows_done, mut scanned, mut batch_size) = (0i64, scanned_before, 0u64);
        for event in rx {
            let waiting = match event {
                Event::Batch {
                    changed,
                    scanned: keys,
                    batch_size: size,
                } => {
                    rows_done += changed;
                    scanned += keys;
                    batch_size = size;
                    None
                }
                Event::WaitingForReplicas(why) => Some(why),
            };
            on_progress(&report(rows_done, scanned, batch_size, waiting.as_deref()));
        }
        controller_stop.store(true, Ordering::SeqCst);
        if let Some(c) = controller {
            let _ = c.join();
        }
        let results: Vec<Result<(), String>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a backfill worker panicked".to_string()))
            })
            .collect();
        (rows_done, results)
    });
    results.into_iter().collect::<Result<(), String>>()?;
    Ok(rows_done)
}

/// Splits the key range into at most `n` slices of about equal row counts.
fn split<S: BatchServer>(
    server: &mut S,
    t: &S::Template,
    keys: &[KeyColumn],
    n: usize,
    estimate: i64,
) -> Result<Vec<Slice>, String> {
    if n <= 1 {
        return Ok(slices_between(Vec::new()));
    }
    if let [key] = keys {
        if key.integer {
            // Two index probes; an even split of the key span fits serial and identity keys.
            let bounds = match server.integer_span(t, key)? {
                Some((lo, hi)) => integer_bounds(lo, hi, n)
                    .into_iter()
                    .map(|b| vec![b.to_string()])
                    .collect(),
                None => Vec::new(),
            };
            return Ok(slices_between(bounds));
        }
    }
    let sample = server.sample_keys(t, keys, estimate)?;
    let mut bounds: Vec<Vec<String>> = Vec::new();
    for i in 1..n {
        let Some(values) = sample.get(sample.len() * i / n) else {
            continue;
        };
        if bounds.last() != Some(values) {
            bounds.push(values.clone());
        }
    }
    Ok(slices_between(bounds))
}

/// One worker thread's connection and state.
struct Worker<'a, S: BatchServer> {
    server: &'a mut S,
    options: &'a BackfillOptions,
    version: &'a str,
    jitter: Jitter,
    stop: &'a AtomicBool,
    events: Sender<Event>,
    /// Adapted batch size, carried over from the worker's previous slice.
    batch_size: u64,
    /// The pace the latency budget sets, if one does.
    pace: Option<&'a Pace>,
}

impl<S: BatchServer> Worker<'_, S> {
    /// Works one slice to its end: the main pass in batches, then its skipped ranges.
    fn run_slice(
        &mut self,
        t: &S::Template,
        keys: &[KeyColumn],
        index: usize,
        mut slice: Slice,
    ) -> Result<(), String> {
        let may_skip = S::can_skip_locked(t);
        while !slice.revisiting {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            self.wait_for_replicas();
            let size = self.batch_size;
            let lo = slice.key.clone();
            let hi = self
                .server
                .upper_key(t, keys, lo.as_deref(), slice.hi.as_deref(), size)?;
            let batch_started = Instant::now();
            let (candidates, changed) = match &hi {
                Some(hi) => {
                    let mut next = slice.clone();
                    next.key = Some(hi.clone());
                    next.scanned += size as i64;
                    // Rows locked by the app were skipped: keep the range for the revisit,
                    // decided and saved inside the batch's transaction.
                    let mut with_skip = next.clone();
                    with_skip.skipped.push((lo.clone(), hi.clone()));
                    let save = |candidates: i64, changed: i64| {
                        if may_skip && candidates > changed {
                            with_skip.clone()
                        } else {
                            next.clone()
                        }
                    };
                    let r = self.batch(t, keys, index, lo.as_deref(), Some(hi), may_skip, &save)?;
                    slice = save(r.0, r.1);
                    r
                }
                None => {
                    // Less than a batch left: the rest of the slice, waiting for locks.
                    let mut done = slice.clone();
                    done.key = slice.hi.clone().or_else(|| lo.clone());
                    done.revisiting = true;
                    let save = |candidates: i64, _| {
                        let mut saved = done.clone();
                        saved.scanned += candidates;
                        saved
                    };
                    let hi = slice.hi.clone();
                    let r =
                        self.batch(t, keys, index, lo.as_deref(), hi.as_deref(), false, &save)?;
                    slice = save(r.0, r.1);
                    r
                }
            };
            let _ = self.events.send(Event::Batch {
                changed,
                scanned: if hi.is_some() {
                    size as i64
                } else {
                    candidates
                },
                batch_size: size,
            });
            if slice.revisiting {
                break;
            }
            let (target, pause) = match self.pace {
                Some(p) => (p.target(), p.pause()),
                None => (self.options.batch_target, self.options.batch_pause),
            };
            self.batch_size = adapt(size, batch_started.elapsed(), target);
            std::thread::sleep(pause);
        }
        // Revisit ranges where locked rows were skipped, waiting for the locks this time.
        while let Some((lo, hi)) = slice.skipped.first().cloned() {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            let mut next = slice.clone();
            next.skipped.remove(0);
            let save = |_, _| next.clone();
            let (_, changed) =
                self.batch(t, keys, index, lo.as_deref(), Some(&hi), false, &save)?;
            let _ = self.events.send(Event::Batch {
                changed,
                scanned: 0,
                batch_size: self.batch_size,
            });
            slice = next;
        }
        Ok(())
    }

    /// One batch with its retries: a lock timeout on the fast path switches to skipping locked
    /// rows (where allowed); lock timeouts and deadlocks otherwise retry with backoff, up to
    /// `lock_retries`.
    #[allow(clippy::too_many_arguments)]
    fn batch(
        &mut self,
        t: &S::Template,
        keys: &[KeyColumn],
        index: usize,
        lo: Option<&[String]>,
        hi: Option<&[String]>,
        may_skip: bool,
        save: &(dyn Fn(i64, i64) -> Slice + Sync),
    ) -> Result<(i64, i64), String> {
        let full = self.options.lock_timeout;
        let mut mode = if may_skip {
            LockMode::Wait(full.min(FAST_LOCK_WAIT))
        } else {
            LockMode::Wait(full)
        };
        let mut attempt = 0;
        loop {
            let batch = Batch {
                version: self.version,
                index,
                lo,
                hi,
                mode,
                lock_timeout: full,
                save,
            };
            let error = match self.server.batch(t, keys, &batch) {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retryable() => e,
                Err(e) => return Err(e.message),
            };
            if may_skip && mode != LockMode::SkipLocked {
                mode = LockMode::SkipLocked;
                continue;
            }
            if attempt >= self.options.lock_retries {
                let blockers = self.server.blockers(S::target(t));
                let named = if blockers.is_empty() {
                    String::new()
                } else {
                    format!(" (held by {})", blockers.join(", "))
                };
                return Err(format!(
                    "gave up after {} attempts: rows of this batch stayed locked longer than the lock timeout ({}){named}: {}; the cursor is saved, run the backfill again when the long transaction is done, or raise lock_retries",
                    attempt + 1,
                    humantime::format_duration(full),
                    error.message
                ));
            }
            attempt += 1;
            std::thread::sleep(backoff(attempt, self.jitter.factor()));
        }
    }

    fn wait_for_replicas(&mut self) {
        while !self.stop.load(Ordering::SeqCst) {
            let Some(why) = self.replicas_behind() else {
                return;
            };
            let _ = self.events.send(Event::WaitingForReplicas(why));
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Why the backfill must wait for its replicas, if it must.
    fn replicas_behind(&mut self) -> Option<String> {
        let (lag, max) = (self.server.replica_lag(), self.options.max_replica_lag);
        if lag > max {
            return Some(self.server.replica_lag_note().unwrap_or_else(|| {
                format!(
                    "a replica is {:.1} s behind, max_replica_lag {}",
                    lag.as_secs_f64(),
                    humantime::format_duration(max)
                )
            }));
        }
        let (bytes, max) = (
            self.server.replica_lag_bytes(),
            self.options.max_replica_lag_bytes,
        );
        (bytes > max).then(|| {
            format!(
                "a standby has {:.1} MB of WAL to replay, max_replica_lag_bytes {:.1} MB",
                bytes as f64 / 1048576.0,
                max as f64 / 1048576.0
            )
        })
    }
}
