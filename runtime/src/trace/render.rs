//! `migrate trace`'s output: per statement the checker's verdict and the plan's lock beside
//! what the server did, then every disagreement as a `trace-disagrees` finding; or JSON.

use std::fmt::Write;

use super::compare::RULE;
use super::{ClaimedLock, Observation, RelKind, StepTrace, TraceReport};

fn first_line(sql: &str) -> String {
    let line = sql.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = line.trim();
    if line.chars().count() > 72 || sql.trim().lines().count() > 1 {
        let cut: String = line.chars().take(72).collect();
        format!("{cut} …")
    } else {
        line.to_string()
    }
}

fn claimed_text(claimed: &[ClaimedLock]) -> String {
    if claimed.is_empty() {
        return "no lock".into();
    }
    claimed
        .iter()
        .map(|c| format!("{} on {}", c.mode, c.relation))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the server did, on one line.
pub fn observed_text(o: &Observation) -> String {
    let mut parts: Vec<String> = o
        .strongest_app_locks()
        .iter()
        // An index's lock follows its table's; shown only where it stops the app itself.
        .filter(|l| l.kind != RelKind::Index || l.blocks.blocks_app())
        .map(|l| format!("{} on {}", l.mode, l.relation))
        .collect();
    if parts.is_empty() {
        parts.push("no lock on an existing relation".into());
    }
    let list = |names: &[concertina_codegen::change::QualName]| {
        names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !o.rewritten.is_empty() {
        parts.push(format!("rewrote {}", list(&o.rewritten)));
    }
    if !o.scanned.is_empty() {
        parts.push(format!("scanned {}", list(&o.scanned)));
    }
    if !o.rebuilt_indexes.is_empty() {
        parts.push(format!("rebuilt index {}", list(&o.rebuilt_indexes)));
    }
    if !o.invalid_indexes.is_empty() {
        parts.push(format!("left INVALID {}", list(&o.invalid_indexes)));
    }
    parts.extend(o.notes.iter().cloned());
    if let Some(e) = &o.error {
        parts.push(format!("FAILED: {}", e.message));
    }
    parts.push(format!("{} ms", o.elapsed.as_millis()));
    parts.join(" · ")
}

/// The terminal report.
pub fn human(report: &TraceReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "traced on {} · checker at server_version {}\n",
        report.server, report.checked_at
    );
    for step in &report.steps {
        let verdict = if step.verdicts.is_empty() {
            "ok".to_string()
        } else {
            step.verdicts
                .iter()
                .map(|v| {
                    let allowed = if v.suppressed { " (allowed)" } else { "" };
                    format!("{}[{}]{allowed}", v.severity.as_str(), v.rule)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "{}:{}  {}",
            step.file,
            step.line,
            first_line(&step.sql)
        );
        let _ = writeln!(
            out,
            "    checker  {verdict} · plan: {}",
            claimed_text(&step.claimed)
        );
        let _ = writeln!(out, "    server   {}", observed_text(&step.observed));
    }
    let findings: Vec<&StepTrace> = report
        .steps
        .iter()
        .filter(|s| !s.disagreements.is_empty())
        .collect();
    if !findings.is_empty() {
        out.push('\n');
    }
    for step in findings {
        for d in &step.disagreements {
            let _ = writeln!(
                out,
                "error[{RULE}]: {}:{}: {}",
                step.file, step.line, d.message
            );
        }
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(out, "\nstopped: {why}");
    }
    let _ = writeln!(
        out,
        "\n{} steps traced, {} disagreement{}",
        report.steps.len(),
        report.disagreements(),
        if report.disagreements() == 1 { "" } else { "s" }
    );
    out
}

/// The report as JSON.
pub fn json(report: &TraceReport) -> serde_json::Value {
    let names = |list: &[concertina_codegen::change::QualName]| {
        list.iter().map(|n| n.to_string()).collect::<Vec<_>>()
    };
    serde_json::json!({
        "server": report.server,
        "checked_at": report.checked_at,
        "stopped": report.stopped,
        "disagreements": report.disagreements(),
        "steps": report.steps.iter().map(|s| serde_json::json!({
            "file": s.file,
            "line": s.line,
            "version": s.version,
            "phase": s.phase.as_str(),
            "sql": s.sql,
            "checker": s.verdicts.iter().map(|v| serde_json::json!({
                "rule": v.rule,
                "severity": v.severity.as_str(),
                "claims": v.hazard.map(|h| h.as_str()),
                "suppressed": v.suppressed,
            })).collect::<Vec<_>>(),
            "plan_locks": s.claimed.iter().map(|c| serde_json::json!({
                "relation": c.relation.to_string(), "mode": c.mode, "blocks": c.blocks.as_str(),
            })).collect::<Vec<_>>(),
            "observed": {
                "locks": s.observed.locks.iter().map(|l| serde_json::json!({
                    "relation": l.relation.to_string(),
                    "mode": l.mode,
                    "blocks": l.blocks.as_str(),
                    "existing": l.app,
                })).collect::<Vec<_>>(),
                "rewritten": names(&s.observed.rewritten),
                "scanned": names(&s.observed.scanned),
                "rebuilt_indexes": names(&s.observed.rebuilt_indexes),
                "invalid_indexes": names(&s.observed.invalid_indexes),
                "notes": s.observed.notes,
                "elapsed_ms": s.observed.elapsed.as_millis() as u64,
                "error": s.observed.error.as_ref().map(|e| serde_json::json!({
                    "code": e.code, "message": e.message,
                })),
            },
            "disagreements": s.disagreements.iter().map(|d| serde_json::json!({
                "rule": RULE,
                "checker_missed": d.checker_missed,
                "message": d.message,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
