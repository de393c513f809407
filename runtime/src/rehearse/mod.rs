//! `migrate rehearse`: the project's pending migrations on production-like data, under an app
//! workload derived from the generated row types, on a throwaway server or a database of its
//! own — never the production database. Reports per phase what the app felt, what the tracer
//! saw and whether each `down` restores the schema.
//!
//! Backend-neutral: what differs between servers (how data is loaded, how the app connects,
//! how a lock wait is seen) lives in each backend's [`RehearsalServer`].

pub mod command;
pub mod data;
pub mod html;
pub mod place;
pub mod report;
mod rollback;
pub mod stats;
pub mod values;
pub mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concertina_codegen::change::QualName;
use concertina_codegen::check::Report;
use concertina_codegen::typegen::access::{app_version, touched_tables, AppOf};
use concertina_codegen::Phase;

use crate::engine::DbError;
use crate::migrator::Migrator;
use data::{Keys, Promised, TableGen};
use report::{PhaseReport, RehearsalReport, TableLoad};
use workload::{App, AppConn, Deployed, Flavour};

/// What a backend does for a rehearsal, on the rehearsal's database.
pub trait RehearsalServer {
    /// How the app's SQL is spelt on this server.
    fn flavour(&self) -> Arc<dyn Flavour>;
    /// The server's version as it reports it.
    fn server_version(&mut self) -> Result<String, DbError>;
    /// Loads `gen.rows` generated rows (`COPY` / multi-row inserts); `progress` hears the rows
    /// sent so far. Returns the rows the server took.
    fn load(
        &mut self,
        gen: &TableGen,
        keys: &Keys,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, DbError>;
    /// Up to `limit` rows of `columns` of `table`, as text.
    fn sample(
        &mut self,
        table: &QualName,
        columns: &[String],
        limit: usize,
    ) -> Result<Vec<Vec<String>>, DbError>;
    /// Fresh planner statistics for `table`.
    fn analyze(&mut self, table: &QualName) -> Result<(), DbError>;
    /// A connection of the app, known to the lock monitor as one.
    fn app_conn(&self) -> Result<Box<dyn AppConn>, DbError>;
    /// A monitor: how long the app's longest current lock wait has lasted.
    fn lock_monitor(&self) -> Result<Box<dyn LockMonitor>, DbError>;
}

pub trait LockMonitor: Send {
    fn longest_app_wait(&mut self) -> Duration;
}

#[derive(Debug, Clone)]
pub struct RehearseOptions {
    pub dir: PathBuf,
    /// The first pending migration (a version or directory name); `None`: the last one.
    pub from: Option<String>,
    /// `--stats-from URL`: the production database whose statistics the rows follow (read
    /// only, statistics only).
    pub stats_from: Option<String>,
    /// `--rows TABLE=N`: rows per table at full size.
    pub rows: BTreeMap<String, u64>,
    /// Rows of a table nothing else sizes.
    pub default_rows: u64,
    /// The fraction of the full size to load (1.0: full size).
    pub scale: f64,
    /// App transactions per second over all clients (0: as fast as they go).
    pub rate: f64,
    pub clients: usize,
    /// The no-migration baseline before the first phase.
    pub baseline: Duration,
    /// `(batch_target, batch_pause)` instead of concertina.toml's.
    pub pace: Option<(Duration, Duration)>,
    /// `app_latency_budget` instead of concertina.toml's.
    pub latency_budget: Option<crate::engine::pace::LatencyBudget>,
    /// Trace every pending phase's statements on a twin database.
    pub trace: bool,
    /// Rehearse each pending migration's `down`.
    pub rollback: bool,
    /// Without a server URL: the throwaway server to start.
    pub throwaway: place::Throwaway,
    /// Another session holds a read transaction on every touched table for this long from the
    /// first phase on (`bench app-impact --reader-s`).
    pub long_reader: Option<Duration>,
}

impl Default for RehearseOptions {
    fn default() -> Self {
        RehearseOptions {
            dir: PathBuf::from("migrations"),
            from: None,
            stats_from: None,
            rows: BTreeMap::new(),
            default_rows: 100_000,
            scale: 1.0,
            rate: 0.0,
            clients: 4,
            baseline: Duration::from_secs(3),
            pace: None,
            latency_budget: None,
            trace: true,
            rollback: true,
            throwaway: place::Throwaway::Configured,
            long_reader: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RehearseError {
    #[error("{0}")]
    Project(String),
    #[error("{0}")]
    Setup(String),
    #[error("{context}: {error}")]
    Db { context: String, error: DbError },
}

fn db(context: impl Into<String>) -> impl FnOnce(DbError) -> RehearseError {
    let context = context.into();
    move |error| RehearseError::Db { context, error }
}

/// Index of the first pending migration of `report`.
pub fn first_pending(report: &Report, from: Option<&str>) -> Result<usize, RehearseError> {
    let Some(last) = report.migrations.len().checked_sub(1) else {
        return Err(RehearseError::Project(
            "the migrations directory holds no migration to rehearse".into(),
        ));
    };
    match from {
        None => Ok(last),
        Some(v) => report
            .migrations
            .iter()
            .position(|m| m.version == v || m.dir_name == v)
            .ok_or_else(|| {
                RehearseError::Project(format!(
                    "--from {v}: no such migration (the versions run from {} to {})",
                    report.migrations[0].version, report.migrations[last].version
                ))
            }),
    }
}

/// The rehearsal on the database at `url` (created for it, empty): replays the migrations
/// before the first pending one, loads the data, runs the app and the pending phases.
/// `twin` and `rollback_url` are empty databases of the same server for the tracer and the
/// rollback rehearsal.
pub fn rehearse(
    options: &RehearseOptions,
    server: &mut dyn RehearsalServer,
    url: &str,
    twin: Option<&mut (dyn crate::trace::Tracer + '_)>,
    rollback_url: Option<&str>,
    say: &mut dyn FnMut(&str),
) -> Result<RehearsalReport, RehearseError> {
    let mut m =
        Migrator::open(&options.dir, url).map_err(|e| RehearseError::Project(e.to_string()))?;
    if let Some((target, pause)) = options.pace {
        m.project.config.runtime.batch_target = target;
        m.project.config.runtime.batch_pause = pause;
    }
    if options.latency_budget.is_some() {
        m.project.config.runtime.app_latency_budget = options.latency_budget;
    }
    let report = m.report.clone();
    let config = m.project.config.clone();
    let first = first_pending(&report, options.from.as_deref())?;
    let pending: Vec<usize> = (first..report.migrations.len()).collect();
    let mut out = RehearsalReport {
        server: server
            .server_version()
            .map_err(db("reading the server's version"))?,
        dir: options.dir.display().to_string(),
        pending: pending
            .iter()
            .map(|i| report.migrations[*i].dir_name.clone())
            .collect(),
        scale: options.scale,
        rate: options.rate,
        clients: options.clients,
        lock_timeout: config.runtime.lock_timeout,
        ..Default::default()
    };
    m.lock(None, |_| {})
        .map_err(|e| RehearseError::Setup(e.to_string()))?;
    if let Some(prev) = first.checked_sub(1) {
        let version = report.migrations[prev].version.clone();
        say(&format!(
            "replaying the {} migrations before {} (all phases)",
            first, report.migrations[first].dir_name
        ));
        m.apply_quietly(&Phase::FORWARD, Some(&version))
            .map_err(|e| RehearseError::Setup(format!("replaying up to {version}: {e}")))?;
    }

    // The tables the pending migrations touch, as they are before them, and their parents.
    let before = report.migrations[first].window.before.clone();
    let mut touched: BTreeSet<QualName> = BTreeSet::new();
    for i in &pending {
        touched.extend(touched_tables(&report, *i));
    }
    let later: Vec<&concertina_codegen::model::Schema> = pending
        .iter()
        .flat_map(|i| {
            let w = &report.migrations[*i].window;
            [&*w.expanded, &*w.after]
        })
        .collect();
    let promised = Promised::from_later(&before, &later);
    let existing: BTreeSet<QualName> = touched
        .iter()
        .filter(|q| before.table(q).is_some())
        .cloned()
        .collect();
    let to_load = data::with_parents(&before, &existing, &promised);
    let order = data::load_order(&before, &to_load, &promised);

    let stats = match &options.stats_from {
        Some(url) => {
            say(&format!(
                "reading the statistics of {} tables from {} (read only; no row is read)",
                order.len(),
                crate::url::redact(url)
            ));
            stats::read(config.dialect, url, &order).map_err(db(format!(
                "reading statistics from {}",
                crate::url::redact(url)
            )))?
        }
        None => BTreeMap::new(),
    };
    let mut plans = Vec::new();
    for q in &order {
        let Some(table) = before.table(q) else {
            continue;
        };
        let st = stats.get(q);
        let given = options
            .rows
            .get(&q.to_string())
            .or_else(|| options.rows.get(&q.name));
        let (full, source) = match (given, st.and_then(|s| s.rows)) {
            (Some(n), _) => (*n, "--rows"),
            (None, Some(n)) => (n, "statistics"),
            (None, None) => (options.default_rows, "default"),
        };
        let rows = ((full as f64) * options.scale).round() as u64;
        let empty = BTreeMap::new();
        let columns = st.map_or(&empty, |s| &s.columns);
        let plan = data::plan_table(&before, table, rows, source, &promised, columns)
            .map_err(|e| RehearseError::Setup(e.to_string()))?;
        plans.push(plan);
    }
    let mut wanted_keys: BTreeSet<(QualName, String)> = BTreeSet::new();
    for p in &plans {
        for c in &p.columns {
            if let data::Gen::Ref { parent, column } = &c.gen {
                wanted_keys.insert((parent.clone(), column.clone()));
            }
        }
    }
    let mut keys = Keys::new();
    for p in &plans {
        say(&format!("loading {} rows into {}", p.rows, p.table));
        let started = Instant::now();
        let mut last = Instant::now();
        let name = p.table.to_string();
        let loaded = server
            .load(p, &keys, &mut |n| {
                if last.elapsed() > Duration::from_secs(2) {
                    last = Instant::now();
                    eprintln!("    {name}: {n} rows");
                }
            })
            .map_err(db(format!("loading the generated rows into {}", p.table)))?;
        server
            .analyze(&p.table)
            .map_err(db(format!("analyzing {}", p.table)))?;
        out.loads.push(TableLoad {
            table: p.table.to_string(),
            rows: loaded,
            seconds: started.elapsed().as_secs_f64(),
            source: p.source.clone(),
        });
        for (t, col) in wanted_keys.iter().filter(|(t, _)| *t == p.table) {
            let sample = server
                .sample(t, std::slice::from_ref(col), 100_000)
                .map_err(db(format!("reading the keys of {t}")))?;
            keys.insert(
                (t.clone(), col.clone()),
                sample
                    .into_iter()
                    .filter_map(|r| r.into_iter().next())
                    .collect(),
            );
        }
    }

    // The app works on the touched tables: its keys to read and update by.
    let tables: Vec<QualName> = touched.iter().cloned().collect();
    let old = app_version(&report, &config, first, AppOf::Old);
    let mut rows = BTreeMap::new();
    for t in &old.tables {
        if existing.contains(&t.table) {
            let sample = server
                .sample(&t.table, &t.key, 100_000)
                .map_err(db(format!("reading the keys of {}", t.table)))?;
            rows.insert(t.table.clone(), sample);
        }
    }

    // The tracer's verdicts on the pending phases, from a twin database of the same server.
    let mut disagreements: BTreeMap<(String, Phase), Vec<String>> = BTreeMap::new();
    // The steps the tracer saw read or rewrite a table's rows: their time grows with the rows.
    let mut row_work: Option<BTreeSet<(String, usize)>> = None;
    if let Some(tracer) = twin {
        say("tracing every phase on a twin database");
        match crate::trace::trace(&report, &config, tracer, &mut |_| {}) {
            Ok(traced) => {
                let mut rows = BTreeSet::new();
                for s in traced.steps {
                    let o = &s.observed;
                    if !(o.scanned.is_empty()
                        && o.rewritten.is_empty()
                        && o.rebuilt_indexes.is_empty())
                    {
                        rows.insert((s.file.clone(), s.line));
                    }
                    for d in s.disagreements {
                        disagreements
                            .entry((s.version.clone(), s.phase))
                            .or_default()
                            .push(format!("{}:{}: {}", s.file, s.line, d.message));
                    }
                }
                row_work = Some(rows);
            }
            Err(e) => say(&format!("the tracer could not run: {e}")),
        }
    }

    let flavour = server.flavour();
    let app = Arc::new(App::new(
        Deployed::new(old, &tables, &promised),
        rows,
        Arc::new(keys),
        options.rate,
        options.clients,
    ));
    let mut handles = Vec::new();
    for client in 0..options.clients.max(1) {
        let mut conn = server.app_conn().map_err(db("connecting the app"))?;
        let (a, f) = (app.clone(), flavour.clone());
        handles.push(std::thread::spawn(move || {
            a.client(client as u64, conn.as_mut(), f.as_ref())
        }));
    }
    let monitor = {
        let mut mon = server
            .lock_monitor()
            .map_err(db("connecting the lock monitor"))?;
        let a = app.clone();
        std::thread::spawn(move || {
            while !a.stop.load(std::sync::atomic::Ordering::SeqCst) {
                a.recorder.lock_wait(mon.longest_app_wait());
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    say(&format!(
        "app: {} clients{}; baseline for {:.0?}",
        options.clients.max(1),
        if options.rate > 0.0 {
            format!(" at {} transactions/s", options.rate)
        } else {
            String::new()
        },
        options.baseline
    ));
    let mut stretches: Vec<PhaseReport> = vec![PhaseReport {
        label: "no migration (baseline)".into(),
        app: app_name(&app),
        ..Default::default()
    }];
    let since = |t: Instant| {
        t.saturating_duration_since(app.recorder.started)
            .as_secs_f64()
    };
    let t = Instant::now();
    stretches[0].start = since(t);
    std::thread::sleep(options.baseline);
    stretches[0].duration = t.elapsed();

    // A long reader: another session holds a read transaction on every touched table from
    // the first phase on (a report, a backup, a forgotten psql), as real servers have.
    let reader = match options.long_reader {
        Some(hold) if !existing.is_empty() => {
            let mut conn = server
                .app_conn()
                .map_err(db("connecting the long reader"))?;
            say(&format!(
                "a reader holds a transaction on {} table(s) for {hold:.0?}",
                existing.len()
            ));
            conn.exec("START TRANSACTION")
                .map_err(db("opening the long reader's transaction"))?;
            for table in &existing {
                conn.exec(&format!("SELECT 1 FROM {} LIMIT 1", flavour.table(table)))
                    .map_err(db("reading in the long reader's transaction"))?;
            }
            Some(std::thread::spawn(move || {
                std::thread::sleep(hold);
                let _ = conn.exec("COMMIT");
            }))
        }
        _ => None,
    };

    let deploy = |which: AppOf, i: usize, say: &mut dyn FnMut(&str)| {
        let v = app_version(&report, &config, i, which);
        say(&format!("deploy: the app of {}", v.name));
        app.deploy(Deployed::new(v, &tables, &promised));
        // Let the previous version's transactions in flight finish.
        std::thread::sleep(Duration::from_millis(200));
    };
    'steps: for step in steps(&report, &pending) {
        let (i, phase) = match step {
            Step::Deploy(which, i) => {
                deploy(which, i, say);
                continue;
            }
            Step::Apply(i, phase) => (i, phase),
        };
        let mig = &report.migrations[i];
        let idx = stretches.len();
        app.recorder.begin_stretch(idx);
        let started = Instant::now();
        stretches.push(PhaseReport {
            label: format!("{} {}", mig.dir_name, phase.as_str()),
            version: mig.version.clone(),
            phase: phase.as_str().to_string(),
            app: app_name(&app),
            start: since(started),
            disagreements: disagreements
                .remove(&(mig.version.clone(), phase))
                .unwrap_or_default(),
            ..Default::default()
        });
        say(&format!("applying {} {}", mig.dir_name, phase.as_str()));
        let mut last = Instant::now();
        // Each step's time, to tell the part that grows with the rows from the part that does not.
        let mut steps: Vec<(String, usize, Duration)> = Vec::new();
        let result = m.apply(
            &[phase],
            Some(&mig.version),
            |plan, _, r| steps.push((plan.file.clone(), r.line, r.elapsed)),
            |_, _| {},
            |p| {
                if last.elapsed() > Duration::from_secs(2) {
                    last = Instant::now();
                    match p.pace.as_str() {
                        "" => eprintln!("    backfill {}: {} rows", p.table, p.rows_done),
                        pace => eprintln!(
                            "    backfill {}: {} rows; pace: {pace}",
                            p.table, p.rows_done
                        ),
                    }
                }
            },
        );
        let s = &mut stretches[idx];
        s.duration = started.elapsed();
        if options.scale < 1.0 {
            s.extrapolated = Some(match (&row_work, phase) {
                // A backfill visits every row; without a trace, every step is taken to.
                (_, Phase::Backfill) | (None, _) => extrapolate(s.duration, options.scale),
                (Some(rows), _) => {
                    let growing: Duration = steps
                        .iter()
                        .filter(|(f, l, _)| rows.contains(&(f.clone(), *l)))
                        .map(|(_, _, d)| *d)
                        .sum();
                    s.duration.saturating_sub(growing) + extrapolate(growing, options.scale)
                }
            });
        }
        if let Err(e) = result {
            s.error = Some(e.to_string());
            out.stopped = Some(format!("{} {} failed", mig.dir_name, phase.as_str()));
            break 'steps;
        }
    }
    if let Some(r) = reader {
        let _ = r.join();
    }
    app.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for h in handles {
        let _ = h.join();
    }
    let _ = monitor.join();
    for (i, s) in stretches.iter_mut().enumerate() {
        s.load = app.recorder.stretch(i);
    }
    out.phases = stretches;
    out.timeline = app.recorder.timeline();
    drop(m);

    if let Some(url) = rollback_url {
        say("rehearsing each pending migration's down on a database of its own");
        out.rollbacks = rollback::rehearse_downs(&options.dir, url, first, &report)?;
    }
    Ok(out)
}

/// One step of a deploy: a phase to apply, or the app version to deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Apply(usize, Phase),
    Deploy(AppOf, usize),
}

/// The deploy of the pending migrations, as a team would run it: each migration's expand
/// under the old app; then the transition app (a migration with a backfill or contract) or
/// the new app; the backfill; the new app; the contract once no old app runs.
pub fn steps(report: &Report, pending: &[usize]) -> Vec<Step> {
    let mut out = Vec::new();
    for &i in pending {
        let m = &report.migrations[i];
        let has = |p: Phase| m.phase(p).is_some();
        let windowed = has(Phase::Backfill) || has(Phase::Contract);
        if has(Phase::Expand) {
            out.push(Step::Apply(i, Phase::Expand));
        }
        if !windowed {
            out.push(Step::Deploy(AppOf::New, i));
            continue;
        }
        out.push(Step::Deploy(AppOf::Transition, i));
        if has(Phase::Backfill) {
            out.push(Step::Apply(i, Phase::Backfill));
        }
        out.push(Step::Deploy(AppOf::New, i));
        if has(Phase::Contract) {
            out.push(Step::Apply(i, Phase::Contract));
        }
    }
    out
}

fn app_name(app: &App) -> String {
    app.deployed
        .read()
        .map(|d| d.app.name.clone())
        .unwrap_or_default()
}

/// A duration at full size from one at `scale`, for work linear in the rows: a backfill
/// visits each row once; an index build, a validation, a scan or a rewrite reads each row
/// once (sorting is n log n, within the noise at these sizes). A phase's other steps
/// (catalog changes, whose time does not depend on the rows) are carried over as measured.
pub fn extrapolate(measured: Duration, scale: f64) -> Duration {
    measured.div_f64(scale.clamp(1e-6, 1.0))
}
