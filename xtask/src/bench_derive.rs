//! `cargo xtask bench derive`: what `#[derive(Migration)]` adds to `cargo check` of an app
//! crate with 300 generated migrations (target: under 0.5 s). Variants of one crate, each
//! re-checked after an edit of its `lib.rs`, median of `--runs` (default 5). The baseline is
//! what an app without concertina has: a diesel schema of the current version written by hand
//! (here: the latest version's types, as source, in `schema.rs`). Then the derive's checks on
//! top of it, the derive's types in place of it (the default: the versions of the last two
//! migrations), and every version of the history (`--all`; slow).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// (label, lib.rs, whether the crate keeps the hand-written schema module)
const VARIANTS: [(&str, &str, bool); 4] = [
    (
        "diesel schema by hand, no derive (baseline)",
        "pub struct Db;\n",
        true,
    ),
    (
        "baseline + derive, checks only",
        "#[derive(concertina::Migration)]\n#[migration(dir = \"migrations\", types = false)]\npub struct Db;\n",
        true,
    ),
    (
        "derive with its types (default versions = 2)",
        "#[derive(concertina::Migration)]\n#[migration(dir = \"migrations\")]\npub struct Db;\n",
        false,
    ),
    (
        "derive with every version (versions = \"all\")",
        "#[derive(concertina::Migration)]\n#[migration(dir = \"migrations\", versions = \"all\")]\npub struct Db;\n",
        false,
    ),
];

pub fn run(args: &[String]) -> Result<()> {
    let runs = crate::bench_input::flag(args, "--runs", 5)?.max(1);
    let migrations = crate::bench_input::flag(args, "--migrations", 300)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().context("the repository root")?;
    let dir = root.join("target/bench-derive/app");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src"))?;
    let statements = crate::bench_input::generate(&dir.join("migrations"), migrations)?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"bench-derive-app\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nconcertina = {{ path = {root:?} }}\ndiesel = {{ version = \"2.3\", default-features = false, features = [\"postgres\", \"32-column-tables\"] }}\n\n\
             # Recommended in the README: the derive (a proc macro) built with optimisations.\n\
             [profile.dev.build-override]\nopt-level = 3\n\n[workspace]\n",
            root = root.display().to_string()
        ),
    )?;
    // Shares the repository's Cargo.lock so that dependencies resolve (and build) once.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    let target = root.join("target/bench-derive/target");
    println!(
        "bench derive: app crate with {migrations} migrations ({statements} statements), `cargo check` after an edit of lib.rs, median of {runs} runs"
    );
    let project = concertina_codegen::Project::load(&dir.join("migrations"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = project.check();
    let latest = concertina_codegen::typegen::generate(
        &report,
        &project.config,
        &concertina_codegen::typegen::Options {
            module: "db".into(),
            features: concertina_codegen::typegen::Features::ALL,
            versions: Some(1),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    std::fs::write(dir.join("src/schema.rs"), latest.to_string())?;
    let all = args.iter().any(|a| a == "--all");
    let mut baseline = None;
    for (label, source, with_schema) in VARIANTS {
        if label.contains("\"all\"") && !all {
            println!("  {label:<48} (skipped: pass --all; minutes)");
            continue;
        }
        let source = if with_schema {
            format!("{source}pub mod schema;\n")
        } else {
            source.to_string()
        };
        let check = |n: usize| -> Result<Duration> {
            std::fs::write(
                dir.join("src/lib.rs"),
                format!("{source}\npub const EDIT: usize = {n};\n"),
            )?;
            let start = Instant::now();
            let out = Command::new(env!("CARGO"))
                .args(["check", "--quiet", "--offline"])
                .current_dir(&dir)
                .env("CARGO_TARGET_DIR", &target)
                .output()
                .context("running cargo check")?;
            let took = start.elapsed();
            if !out.status.success() {
                bail!(
                    "cargo check failed for `{label}`:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(took)
        };
        check(0)?; // warm: dependencies and the variant's first build
        let mut times = Vec::new();
        for n in 1..=runs {
            times.push(check(n)?);
        }
        times.sort();
        let median = times[times.len() / 2];
        match baseline {
            None => {
                println!("  {label:<48} {:>8.2} s", median.as_secs_f64());
                baseline = Some(median);
            }
            Some(base) => {
                let added = median.as_secs_f64() - base.as_secs_f64();
                println!(
                    "  {label:<48} {:>8.2} s  ({added:+.2} s{})",
                    median.as_secs_f64(),
                    if label.contains("default versions") {
                        if added < 0.5 {
                            ", target < 0.5 s: ok"
                        } else {
                            ", target < 0.5 s: NOT met"
                        }
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(())
}
