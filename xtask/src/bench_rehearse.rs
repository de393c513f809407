//! `cargo xtask bench rehearse-scale [--rows N] [--scale F] [--clients N]`: how well a
//! rehearsal at a fraction of the size predicts the full-size phases. The example migrations
//! are rehearsed twice on the same server in the same run, at full size (`--rows` users and a
//! quarter as many orders) and at `--scale`; each phase's extrapolated duration (measured at
//! scale, divided by the scale) is set beside its measured full-size duration.

use std::time::Duration;

use anyhow::{anyhow, Result};

use crate::bench_db::server;

fn flag(args: &[String], name: &str, default: f64) -> Result<f64> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("{name} takes a number")),
        None => Ok(default),
    }
}

pub fn scale(args: &[String]) -> Result<()> {
    let rows = flag(args, "--rows", 1_000_000.0)? as u64;
    let scale = flag(args, "--scale", 0.1)?;
    let clients = flag(args, "--clients", 2.0)? as usize;
    if !(scale > 0.0 && scale < 1.0) {
        return Err(anyhow!("--scale {scale}: give a fraction between 0 and 1"));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let config = concertina_codegen::Config::load(&dir).map_err(|e| anyhow!("{e}"))?;
    let (_server, admin) = server()?;
    let run = |scale: f64| -> Result<concertina_runtime::rehearse::report::RehearsalReport> {
        let mut options =
            concertina_runtime::demo::options(&dir, rows, clients).map_err(|e| anyhow!(e))?;
        options.scale = scale;
        options.baseline = Duration::from_secs(2);
        // The trace tells which steps grow with the rows; no rollback rehearsal.
        options.rollback = false;
        concertina_runtime::rehearse::command::run_on(&options, &config, Some(&admin), &mut |m| {
            eprintln!("bench: {m}")
        })
        .map_err(|e| anyhow!("{e}"))
    };
    let full = run(1.0)?;
    let small = run(scale)?;
    println!(
        "bench rehearse-scale: {rows} users and {} orders at full size, {scale} of it scaled; {clients} app clients",
        rows / 4
    );
    println!(
        "{:<40} {:>9} {:>9} {:>13} {:>8}",
        "phase", "full s", "scaled s", "predicted s", "error"
    );
    let (mut sum_full, mut sum_pred) = (0.0, 0.0);
    let (mut long_full, mut long_pred) = (0.0, 0.0);
    for p in full.phases.iter().skip(1) {
        let Some(s) = small.phases.iter().find(|s| s.label == p.label) else {
            continue;
        };
        let measured = p.duration.as_secs_f64();
        let predicted = s.extrapolated.unwrap_or(s.duration).as_secs_f64();
        sum_full += measured;
        sum_pred += predicted;
        if measured >= 1.0 {
            long_full += measured;
            long_pred += predicted;
        }
        println!(
            "{:<40} {:>9.2} {:>9.2} {:>13.2} {:>+7.0}%",
            p.label,
            measured,
            s.duration.as_secs_f64(),
            predicted,
            (predicted - measured) / measured.max(1e-3) * 100.0
        );
    }
    println!(
        "  all phases: {sum_full:.1} s measured at full size, {sum_pred:.1} s predicted from {scale}: {:+.0}%",
        (sum_pred - sum_full) / sum_full.max(1e-3) * 100.0
    );
    println!(
        "  phases of 1 s or more at full size: {long_full:.1} s measured, {long_pred:.1} s predicted: {:+.0}%",
        (long_pred - long_full) / long_full.max(1e-3) * 100.0
    );
    Ok(())
}
