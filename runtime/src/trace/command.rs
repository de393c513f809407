//! `migrate trace`: loads and checks the project (at `--server-version` if given), opens a
//! scratch database and traces every migration on it. Exit codes: 0 no disagreement, 1 a
//! disagreement or a failed step, 2 could not run (project, version, server).

use std::process::ExitCode;

use concertina_codegen::versions::{self, ServerVersion, VersionSupport};
use concertina_codegen::Project;

use crate::cli::args::{default_dir, Format, TraceArgs};

fn could_not(format: Format, message: String) -> ExitCode {
    match format {
        Format::Json => println!("{}", serde_json::json!({ "error": message })),
        Format::Human => eprintln!("error: {message}"),
    }
    ExitCode::from(2)
}

pub fn run(args: TraceArgs) -> ExitCode {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    let mut project = match Project::load(&dir) {
        Ok(p) => p,
        Err(e) => return could_not(args.format, e.to_string()),
    };
    if let Some(text) = &args.server_version {
        let Some(v) = ServerVersion::parse(text) else {
            return could_not(
                args.format,
                format!("--server-version {text} is not a version: write it like 14 or 10.11"),
            );
        };
        if let VersionSupport::Impossible(why) = versions::support(project.config.dialect, v) {
            return could_not(args.format, format!("--server-version {text}: {why}"));
        }
        project.config.server_version = v;
    }
    let report = project.check();
    if let Some(wanted) = &args.migration {
        if !report
            .migrations
            .iter()
            .any(|m| &m.version == wanted || &m.dir_name == wanted)
        {
            return could_not(
                args.format,
                format!(
                    "--migration {wanted}: no such migration in {}",
                    dir.display()
                ),
            );
        }
    }
    let url = args
        .database_url
        .as_deref()
        .filter(|u| !u.trim().is_empty());
    let human = args.format == Format::Human;
    let mut say = |s: &str| {
        if human {
            eprintln!("{s}");
        }
    };
    let mut scratch = match super::scratch::open(project.config.dialect, url, &mut say) {
        Ok(s) => s,
        Err(e) => return could_not(args.format, format!("no scratch database to trace on: {e}")),
    };
    if human {
        eprintln!("tracing on {}", scratch.place);
    }
    let mut traced = 0usize;
    let result = super::trace(
        &report,
        &project.config,
        scratch.tracer.as_mut(),
        &mut |_| {
            traced += 1;
        },
    );
    let mut trace = match result {
        Ok(t) => t,
        Err(e) => {
            return could_not(
                args.format,
                format!("tracing stopped after {traced} steps: {e}"),
            )
        }
    };
    if let Some(wanted) = &args.migration {
        let keep: Vec<&str> = report
            .migrations
            .iter()
            .filter(|m| &m.version == wanted || &m.dir_name == wanted)
            .map(|m| m.version.as_str())
            .collect();
        trace.steps.retain(|s| keep.contains(&s.version.as_str()));
    }
    match args.format {
        Format::Human => print!("{}", super::render::human(&trace)),
        Format::Json => println!("{}", super::render::json(&trace)),
    }
    if trace.disagreements() > 0 || trace.stopped.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
