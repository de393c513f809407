//! What a rehearsal found, as plain data: the tables it loaded, each phase with what the app
//! felt during it, a timeline of the app's latency and lock waits, the tracer's disagreements
//! and the rollback result. Rendered for the terminal ([`human`]), for machines ([`json`]) and
//! as one self-contained HTML page (`html`).

use std::time::Duration;

use serde_json::json;

/// One table's generated data.
#[derive(Debug, Clone, PartialEq)]
pub struct TableLoad {
    /// `schema.table` or `table` as the migrations name it.
    pub table: String,
    pub rows: u64,
    pub seconds: f64,
    /// Where the row count came from: `--rows`, `statistics`, `default`.
    pub source: String,
}

impl TableLoad {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-6)
    }
}

/// Per-stretch statistics, the app during one stretch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StretchStats {
    pub transactions: u64,
    pub failed: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub longest_lock_wait: Duration,
    /// The first failed app transaction's error, if any.
    pub first_error: Option<String>,
}

/// One stretch of the rehearsal: the baseline, or one phase of one migration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PhaseReport {
    /// `no migration (baseline)`, `0004_rename expand`, …
    pub label: String,
    /// The migration version (`0004`), empty for the baseline.
    pub version: String,
    /// `expand`, `backfill`, `contract`; empty for the baseline.
    pub phase: String,
    /// The app version running meanwhile (`S(0003)`, `transition E(0004)`, `S(0004)`).
    pub app: String,
    /// Seconds since the workload started, when the phase started.
    pub start: f64,
    pub duration: Duration,
    /// The duration at full size, when the rehearsal ran at a `--scale` below 1.
    pub extrapolated: Option<Duration>,
    /// The app's transactions during the stretch.
    pub load: StretchStats,
    /// The phase itself failed: the rehearsal stopped here.
    pub error: Option<String>,
    /// The tracer's disagreements on this phase's statements.
    pub disagreements: Vec<String>,
}

/// The app over one slice of time (a tenth of a second).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// Seconds since the workload started.
    pub t: f64,
    pub transactions: u32,
    /// The slowest app transaction that finished in the slice, in milliseconds.
    pub max_ms: f64,
    /// The longest an app query had been waiting for a lock, sampled in the slice.
    pub lock_wait_ms: f64,
    pub failed: u32,
}

/// One migration's `down` rehearsed after its expand (and backfill).
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback {
    pub version: String,
    /// The schema after `down` equals the schema before the expand.
    pub ok: bool,
    /// What differs, or why `down` failed.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RehearsalReport {
    /// The server as it reports its version, and where the rehearsal ran (no password).
    pub server: String,
    pub place: String,
    /// The migrations directory.
    pub dir: String,
    /// The first pending migration and the ones after it that were rehearsed.
    pub pending: Vec<String>,
    /// The fraction of the full size the data was generated at.
    pub scale: f64,
    /// The app's target rate in transactions per second (0: as fast as its clients go).
    pub rate: f64,
    pub clients: usize,
    pub lock_timeout: Duration,
    pub loads: Vec<TableLoad>,
    pub phases: Vec<PhaseReport>,
    pub timeline: Vec<Sample>,
    pub rollbacks: Vec<Rollback>,
    /// Why the rehearsal stopped early, if it did.
    pub stopped: Option<String>,
}

impl RehearsalReport {
    /// Every reason the rehearsal fails a deploy gate, in order; empty when it passes.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(why) = &self.stopped {
            out.push(format!("the rehearsal stopped: {why}"));
        }
        for p in &self.phases {
            if let Some(e) = &p.error {
                out.push(format!("{} failed: {e}", p.label));
            }
            if p.load.failed > 0 {
                out.push(format!(
                    "{}: {} app transactions failed (first: {})",
                    p.label,
                    p.load.failed,
                    p.load.first_error.as_deref().unwrap_or("?")
                ));
            }
            if p.load.longest_lock_wait > self.lock_timeout {
                out.push(format!(
                    "{}: an app query waited {} ms for a lock, longer than lock_timeout ({} ms)",
                    p.label,
                    p.load.longest_lock_wait.as_millis(),
                    self.lock_timeout.as_millis()
                ));
            }
            for d in &p.disagreements {
                out.push(format!("{}: the tracer disagrees: {d}", p.label));
            }
        }
        for r in &self.rollbacks {
            if !r.ok {
                out.push(format!(
                    "down of {} does not restore the schema: {}",
                    r.version,
                    r.problems.join("; ")
                ));
            }
        }
        out
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// The terminal report: data, the per-phase table, rollbacks and the verdict.
pub fn human(r: &RehearsalReport) -> String {
    let mut s = String::new();
    s.push_str(&format!("rehearsal on {} ({})\n", r.server, r.place));
    if !r.loads.is_empty() {
        s.push_str("data:\n");
        for l in &r.loads {
            s.push_str(&format!(
                "  {:<30} {:>10} rows  {:>6.1} s  {:>9.0} rows/s  ({})\n",
                l.table,
                l.rows,
                l.seconds,
                l.rows_per_second(),
                l.source
            ));
        }
    }
    let scaled = r.scale < 1.0;
    s.push_str(&format!(
        "{:<36} {:>8}{} {:>7} {:>9} {:>8} {:>8} {:>8} {:>7}\n",
        "phase",
        "time s",
        if scaled { "  full s" } else { "" },
        "app tx",
        "lock ms",
        "p50 ms",
        "p99 ms",
        "max ms",
        "failed"
    ));
    for p in &r.phases {
        let full = match (scaled, p.extrapolated) {
            (false, _) => String::new(),
            (true, Some(d)) => format!(" {:>7.1}", d.as_secs_f64()),
            (true, None) => format!(" {:>7}", ""),
        };
        s.push_str(&format!(
            "{:<36} {:>8.1}{full} {:>7} {:>9} {:>8} {:>8} {:>8} {:>7}\n",
            p.label,
            p.duration.as_secs_f64(),
            p.load.transactions,
            ms(p.load.longest_lock_wait),
            ms(p.load.p50),
            ms(p.load.p99),
            ms(p.load.max),
            p.load.failed
        ));
        if let Some(e) = &p.error {
            s.push_str(&format!("    the phase failed: {e}\n"));
        }
        if let Some(e) = &p.load.first_error {
            s.push_str(&format!("    first failed app transaction: {e}\n"));
        }
        for d in &p.disagreements {
            s.push_str(&format!("    trace-disagrees: {d}\n"));
        }
    }
    for rb in &r.rollbacks {
        if rb.ok {
            s.push_str(&format!(
                "down of {}: the schema is back to what it was before its expand\n",
                rb.version
            ));
        } else {
            s.push_str(&format!("down of {}: FAILED\n", rb.version));
            for p in &rb.problems {
                s.push_str(&format!("    {p}\n"));
            }
        }
    }
    let failures = r.failures();
    if failures.is_empty() {
        s.push_str("rehearsal passed: no failed app transaction, no lock wait over lock_timeout, no disagreement, every down restores its schema\n");
    } else {
        s.push_str(&format!("rehearsal FAILED ({}):\n", failures.len()));
        for f in failures {
            s.push_str(&format!("  - {f}\n"));
        }
    }
    s
}

/// The report for machines (`--format json`).
pub fn json(r: &RehearsalReport) -> serde_json::Value {
    let msf = |d: Duration| d.as_secs_f64() * 1e3;
    json!({
        "server": r.server,
        "place": r.place,
        "dir": r.dir,
        "pending": r.pending,
        "scale": r.scale,
        "rate": r.rate,
        "clients": r.clients,
        "lock_timeout_ms": r.lock_timeout.as_millis() as u64,
        "loads": r.loads.iter().map(|l| json!({
            "table": l.table, "rows": l.rows, "seconds": l.seconds,
            "rows_per_second": l.rows_per_second(), "source": l.source,
        })).collect::<Vec<_>>(),
        "phases": r.phases.iter().map(|p| json!({
            "label": p.label, "version": p.version, "phase": p.phase, "app": p.app,
            "start_s": p.start, "seconds": p.duration.as_secs_f64(),
            "extrapolated_seconds": p.extrapolated.map(|d| d.as_secs_f64()),
            "app_transactions": p.load.transactions, "failed": p.load.failed,
            "p50_ms": msf(p.load.p50), "p99_ms": msf(p.load.p99), "max_ms": msf(p.load.max),
            "longest_lock_wait_ms": msf(p.load.longest_lock_wait),
            "first_error": p.load.first_error, "error": p.error,
            "disagreements": p.disagreements,
        })).collect::<Vec<_>>(),
        "rollbacks": r.rollbacks.iter().map(|rb| json!({
            "version": rb.version, "ok": rb.ok, "problems": rb.problems,
        })).collect::<Vec<_>>(),
        "stopped": r.stopped,
        "failures": r.failures(),
        "passed": r.failures().is_empty(),
    })
}
