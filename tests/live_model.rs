//! The model is only trusted where PostgreSQL agrees: replay migrations statement by statement
//! on a fresh database and compare the live catalog with the model after each phase (tables,
//! columns with type and nullability, indexes with validity, constraints with validity).
//! Server: `CONCERTINA_TEST_PG_URL` (an admin database URL), default
//! `postgres://postgres@127.0.0.1:5432/postgres`; each test creates and drops its own database.

use std::path::Path;

use concertina_codegen::{Phase, Project};
use concertina_runtime::catalog::{diff, model_facts};
use concertina_runtime::postgres::catalog::live_facts;
use concertina_runtime::postgres::Postgres;
use concertina_runtime::testdb::TestDb;
use diesel::prelude::*;

/// Runs every forward phase of every migration and compares after each phase.
fn replay_and_compare(dir: &Path, tag: &str) {
    let project = Project::load(dir).expect("migrations load");
    let report = project.check();
    let db = TestDb::new(tag).unwrap_or_else(|e| panic!("{e}"));
    let mut pg = Postgres::connect(&db.url).expect("connect");
    let mut compared = 0;
    for m in &report.migrations {
        for phase in Phase::FORWARD {
            let Some(p) = m.phase(phase) else { continue };
            for stmt in &p.parsed.statements {
                let sql = stmt.text(&p.source);
                // One statement per call, through the extended protocol: CONCURRENTLY works.
                diesel::sql_query(sql)
                    .execute(pg.connection())
                    .unwrap_or_else(|e| panic!("{}:{}: {sql}: {e}", p.source.rel_path, stmt.line));
            }
            let model = match phase {
                Phase::Contract => &m.window.after,
                _ if m.phase(Phase::Contract).is_none() && phase == Phase::Expand => {
                    &m.window.after
                }
                _ => &m.window.expanded,
            };
            let live = live_facts(&mut pg).expect("read the catalog");
            let d = diff(&live, &model_facts(model));
            assert!(
                d.is_empty(),
                "after {}/{}: the model disagrees with PostgreSQL:\n{d}",
                m.dir_name,
                phase.as_str()
            );
            compared += 1;
        }
    }
    assert!(
        compared >= report.migrations.len(),
        "every migration was compared"
    );
}

#[test]
fn example_migrations_model_matches_postgres() {
    replay_and_compare(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"),
        "examples",
    );
}

#[test]
fn tricky_model_paths_match_postgres() {
    replay_and_compare(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model_paths"),
        "model_paths",
    );
}
