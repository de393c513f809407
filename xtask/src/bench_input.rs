//! What the benchmarks take: their command-line values and the generated migration history
//! they check (shared by every bench module, which `bench` dispatches to).

use std::fmt::Write as _;
use std::path::Path;

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use concertina_codegen::change::Change;
use concertina_codegen::dialect::DialectKind;
use concertina_codegen::source::SourceFile;
use concertina_runtime::engine::backfill::{run_statement, BatchServer};
use concertina_runtime::engine::{BackfillOptions, Slices};

/// `--dialect postgres|mysql|mariadb` (default postgres).
pub fn dialect(args: &[String]) -> Result<&str> {
    match args.iter().position(|a| a == "--dialect") {
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some(d @ ("postgres" | "mysql" | "mariadb")) => Ok(d),
            _ => bail!("--dialect takes postgres, mysql or mariadb"),
        },
        None => Ok("postgres"),
    }
}

pub fn flag(args: &[String], name: &str, default: usize) -> Result<usize> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .with_context(|| format!("{name} needs a value"))?
            .parse()
            .with_context(|| format!("{name} takes a number")),
        None => Ok(default),
    }
}

/// Ten statements per migration over a growing set of tables: every phase, the common shapes.
pub fn generate(dir: &Path, migrations: usize) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("concertina.toml"),
        "dialect = \"postgres\"\nserver_version = \"14\"\n",
    )?;
    let mut statements = 0;
    for n in 1..=migrations {
        let mdir = dir.join(format!("{n:04}_step_{n}"));
        std::fs::create_dir_all(&mdir)?;
        let t = format!("t{}", (n - 1) / 3);
        let mut expand = String::new();
        let mut backfill = String::new();
        let mut contract = String::new();
        if n % 3 == 1 {
            writeln!(
                expand,
                "CREATE TABLE {t} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    name varchar(255) NOT NULL,\n    created_at timestamptz NOT NULL DEFAULT now()\n);"
            )?;
            writeln!(expand, "CREATE INDEX {t}_name_idx ON {t} (name);")?;
            writeln!(expand, "COMMENT ON TABLE {t} IS 'generated table {n}';")?;
            writeln!(expand, "ALTER TABLE {t} ADD COLUMN note text;")?;
            writeln!(
                expand,
                "ALTER TABLE {t} ADD COLUMN status varchar(20) DEFAULT 'new';"
            )?;
            writeln!(
                expand,
                "CREATE INDEX {t}_status_idx ON {t} (status) WHERE status IS NOT NULL;"
            )?;
            writeln!(
                expand,
                "ALTER TABLE {t} ADD CONSTRAINT {t}_name_len CHECK (char_length(name) < 500);"
            )?;
            writeln!(expand, "CREATE VIEW {t}_recent AS SELECT id, name FROM {t} WHERE created_at > now() - interval '1 day';")?;
            writeln!(expand, "ALTER TABLE {t} ALTER COLUMN note SET DEFAULT '';")?;
            writeln!(expand, "ALTER TABLE {t} ADD COLUMN score integer;")?;
            statements += 10;
        } else {
            let c = format!("c{n}");
            writeln!(expand, "-- expand: new nullable column and its index")?;
            writeln!(expand, "ALTER TABLE {t} ADD COLUMN {c} varchar(100);")?;
            writeln!(
                expand,
                "CREATE INDEX CONCURRENTLY {t}_{c}_idx ON {t} ({c});"
            )?;
            writeln!(
                expand,
                "ALTER TABLE {t} ADD CONSTRAINT {t}_{c}_check CHECK ({c} <> '') NOT VALID;"
            )?;
            writeln!(expand, "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT 'x';")?;
            writeln!(backfill, "UPDATE {t} SET {c} = name WHERE {c} IS NULL;")?;
            writeln!(backfill, "UPDATE {t} SET score = 0 WHERE score IS NULL;")?;
            writeln!(
                contract,
                "ALTER TABLE {t} VALIDATE CONSTRAINT {t}_{c}_check;"
            )?;
            writeln!(contract, "ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;")?;
            writeln!(contract, "DROP INDEX CONCURRENTLY IF EXISTS {t}_{c}_idx;")?;
            writeln!(contract, "COMMENT ON COLUMN {t}.{c} IS 'copied from name';")?;
            statements += 10;
        }
        std::fs::write(mdir.join("expand.sql"), expand)?;
        if !backfill.is_empty() {
            std::fs::write(mdir.join("backfill.sql"), backfill)?;
            std::fs::write(mdir.join("contract.sql"), contract)?;
        }
    }
    Ok(statements)
}

/// The statement `bench backfill` runs through the engine, read as the checker reads it.
pub fn backfill_change(dialect: DialectKind) -> Result<Change> {
    let file = SourceFile::new(
        "b.sql",
        "b.sql".into(),
        "UPDATE engine SET full_name = name WHERE full_name IS NULL;".into(),
    );
    concertina_codegen::sql::parse_file(&file, dialect.dialect())
        .statements
        .first()
        .map(|s| s.change.clone())
        .context("parse")
}

/// The engine's options for `bench backfill`: fixed batches, no pause, no replica wait.
pub fn backfill_options(batch: u64, workers: usize) -> BackfillOptions {
    BackfillOptions {
        batch_size: batch,
        batch_target: Duration::from_millis(500),
        batch_pause: Duration::ZERO,
        max_replica_lag: Duration::from_secs(3600),
        max_replica_lag_bytes: u64::MAX,
        lock_timeout: Duration::from_millis(500),
        lock_retries: 10,
        workers,
        latency_budget: None,
        replicas: Vec::new(),
    }
}

/// Times concertina's keyset engine over the bench's `engine` table of `rows` rows, starting on
/// `first` (the first worker's connection), and checks that it changed every row.
pub fn time_engine<B: BatchServer>(
    first: &mut B,
    dialect: DialectKind,
    batch: u64,
    workers: usize,
    rows: u64,
) -> Result<Duration> {
    let change = backfill_change(dialect)?;
    let options = backfill_options(batch, workers);
    let t = Instant::now();
    let done = run_statement(
        first,
        &options,
        "bench",
        0,
        &change,
        Slices::default(),
        0,
        &mut |_| {},
    )
    .map_err(|e| anyhow!(e))?;
    let elapsed = t.elapsed();
    if done != rows as i64 {
        bail!("the engine changed {done} rows, expected {rows}");
    }
    Ok(elapsed)
}
