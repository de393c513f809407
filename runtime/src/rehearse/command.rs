//! `migrate rehearse`: reads the project, opens the place (throwaway server or DATABASE_URL's),
//! creates the rehearsal's databases, rehearses and reports. Exit codes: 0 passed, 1 the
//! rehearsal failed a deploy gate (see [`super::report::RehearsalReport::failures`]), 2 could
//! not run.

use std::process::ExitCode;

use concertina_codegen::Config;

use super::{place, report, RehearseOptions};
use crate::cli::args::{default_dir, Format, RehearseArgs};

fn could_not(format: Format, message: String) -> ExitCode {
    match format {
        Format::Json => println!("{}", serde_json::json!({ "error": message })),
        Format::Human => eprintln!("error: {message}"),
    }
    ExitCode::from(2)
}

pub fn run(args: RehearseArgs) -> ExitCode {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    let config = match Config::load(&dir) {
        Ok(c) => c,
        Err(e) => return could_not(args.format, e.to_string()),
    };
    if !(args.scale > 0.0 && args.scale <= 1.0) {
        return could_not(
            args.format,
            format!(
                "--scale {}: give a fraction above 0 and at most 1, e.g. 0.1",
                args.scale
            ),
        );
    }
    for url in [&args.database_url, &args.stats_from].into_iter().flatten() {
        if let Some(reason) = crate::url::malformed(url) {
            return could_not(args.format, reason);
        }
    }
    let options = RehearseOptions {
        dir: dir.clone(),
        from: args.from.clone(),
        stats_from: args.stats_from.clone(),
        rows: args.rows.iter().cloned().collect(),
        default_rows: args.default_rows,
        scale: args.scale,
        rate: args.rate.unwrap_or(0.0),
        clients: args.clients.max(1),
        baseline: args.baseline,
        pace: None,
        latency_budget: None,
        trace: !args.no_trace,
        rollback: !args.no_rollback,
        throwaway: place::Throwaway::Configured,
        long_reader: None,
    };
    let human = args.format == Format::Human;
    let mut say = |s: &str| {
        if human {
            eprintln!("rehearse: {s}");
        }
    };
    let url = args
        .database_url
        .as_deref()
        .filter(|u| !u.trim().is_empty());
    match run_on(&options, &config, url, &mut say) {
        Ok(r) => {
            if let Some(path) = &args.report {
                if let Err(e) = std::fs::write(path, super::html::html(&r)) {
                    return could_not(
                        args.format,
                        format!("writing the report to {}: {e}", path.display()),
                    );
                }
                say(&format!("report written to {}", path.display()));
            }
            match args.format {
                Format::Human => print!("{}", report::human(&r)),
                Format::Json => println!("{}", report::json(&r)),
            }
            if r.failures().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => could_not(args.format, e.to_string()),
    }
}

/// Opens the place and the databases, and rehearses.
pub fn run_on(
    options: &RehearseOptions,
    config: &Config,
    url: Option<&str>,
    say: &mut dyn FnMut(&str),
) -> Result<report::RehearsalReport, super::RehearseError> {
    let dialect = config.dialect;
    let place = place::open(dialect, config.server_version, options.throwaway, url, say)?;
    let db = place.database(dialect, "concertina_rehearse")?;
    let mut server = place::server(dialect, &db.url)?;
    let mut twin = if options.trace {
        Some(
            crate::trace::scratch::open(dialect, Some(&place.admin), &mut |s| say(s))
                .map_err(|e| super::RehearseError::Setup(format!("the tracer's twin: {e}")))?,
        )
    } else {
        None
    };
    let rollback = if options.rollback {
        Some(place.database(dialect, "concertina_rollback")?)
    } else {
        None
    };
    let mut r = super::rehearse(
        options,
        server.as_mut(),
        &db.url,
        twin.as_mut().map(|t| t.tracer.as_mut()),
        rollback.as_ref().map(|d| d.url.as_str()),
        say,
    )?;
    r.place = place.description.clone();
    Ok(r)
}
