//! Adopting a live diesel project, on PostgreSQL and MariaDB: a database first migrated by
//! diesel_migrations itself, then `migrate init`, `status`, `up` of a new migration, and
//! diesel's harness finding nothing pending; a migration diesel ran beside concertina is
//! adopted, never run twice; `down` takes it out of diesel's record too.

mod both;

use both::{apply, migrator, Dir, Server};
use concertina_codegen::Phase;
use concertina_runtime::state::Status;
use diesel::prelude::*;
use diesel_migrations::{FileBasedMigrations, MigrationHarness};

/// A diesel project's directory: two migrations with up.sql and down.sql, no concertina.toml.
fn diesel_dir(server: &Server, tag: &str) -> Dir {
    let dir = Dir::new(server, tag);
    std::fs::remove_file(dir.0.join("concertina.toml")).expect("no config yet");
    let id = server.pick(
        "id BIGSERIAL PRIMARY KEY",
        "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
    );
    dir.write(
        "2024-01-01-000000_create_users/up.sql",
        &format!("CREATE TABLE users ({id}, name VARCHAR(100) NOT NULL);\n"),
    )
    .write(
        "2024-01-01-000000_create_users/down.sql",
        "DROP TABLE users;\n",
    )
    .write(
        "2024-01-02-000000_add_email/up.sql",
        "ALTER TABLE users ADD COLUMN email VARCHAR(200);\n",
    )
    .write(
        "2024-01-02-000000_add_email/down.sql",
        "ALTER TABLE users DROP COLUMN email;\n",
    );
    dir
}

/// Runs diesel_migrations' own harness on the directory: what an app's start-up does.
fn diesel_run(server: &Server, dir: &Dir) -> Vec<String> {
    let source = FileBasedMigrations::from_path(&dir.0).expect("diesel reads the directory");
    let ran = match server {
        Server::Pg(db) => {
            let mut c = PgConnection::establish(&db.url).expect("connect");
            c.run_pending_migrations(source)
                .expect("diesel runs")
                .iter()
                .map(|v| v.to_string())
                .collect()
        }
        Server::My(db) => {
            let mut c = MysqlConnection::establish(&db.url).expect("connect");
            c.run_pending_migrations(source)
                .expect("diesel runs")
                .iter()
                .map(|v| v.to_string())
                .collect()
        }
    };
    ran
}

/// What diesel's harness would still run.
fn diesel_pending(server: &Server, dir: &Dir) -> usize {
    let source = FileBasedMigrations::from_path(&dir.0).expect("diesel reads the directory");
    match server {
        Server::Pg(db) => {
            let mut c = PgConnection::establish(&db.url).expect("connect");
            c.pending_migrations(source).expect("pending").len()
        }
        Server::My(db) => {
            let mut c = MysqlConnection::establish(&db.url).expect("connect");
            c.pending_migrations(source).expect("pending").len()
        }
    }
}

on_both!(
    a_diesel_database_is_adopted_and_both_records_stay_true,
    a_migration_diesel_ran_beside_concertina_is_adopted_not_rerun,
);

fn a_diesel_database_is_adopted_and_both_records_stay_true(server: Server) {
    let dir = diesel_dir(&server, "adopt");
    assert_eq!(diesel_run(&server, &dir).len(), 2);

    let report = concertina_runtime::init::init(&dir.0, Some(server.url())).expect("init");
    assert_eq!(
        report.baseline.as_deref(),
        Some("2024-01-02-000000"),
        "{report:#?}"
    );
    let expected_dialect = server.pick("postgres", "mariadb");
    assert_eq!(report.dialect.as_str(), expected_dialect, "{report:#?}");
    assert!(!report.server_version.is_empty());
    let text = std::fs::read_to_string(dir.0.join("concertina.toml")).expect("written");
    assert!(text.contains("baseline = \"2024-01-02-000000\""), "{text}");
    // A second init refuses to overwrite.
    assert!(concertina_runtime::init::init(&dir.0, Some(server.url())).is_err());

    // A new migration, then what `status` and `up` do.
    dir.write(
        "2024-01-03-000000_add_phone/up.sql",
        "ALTER TABLE users ADD COLUMN phone VARCHAR(20);\n",
    )
    .write(
        "2024-01-03-000000_add_phone/down.sql",
        "ALTER TABLE users DROP COLUMN phone;\n",
    );
    let mut m = migrator(&dir, &server);
    let by_diesel = m.diesel_applied().expect("diesel's record");
    assert_eq!(by_diesel, vec!["2024-01-01-000000", "2024-01-02-000000"]);
    m.adopt_baseline().expect("baseline");
    m.sync_diesel().expect("sync");
    assert_eq!(
        apply(&mut m, &[Phase::Expand, Phase::Backfill], None).expect("up"),
        1
    );
    let state = m.state().expect("state");
    let status = |v: &str| state.iter().find(|r| r.version == v).map(|r| r.status);
    assert_eq!(status("2024-01-01-000000"), Some(Status::Baselined));
    assert_eq!(status("2024-01-03-000000"), Some(Status::Done));
    assert_eq!(server.columns("users"), 4);
    // diesel's harness at the app's start-up finds nothing to run.
    assert_eq!(diesel_pending(&server, &dir), 0);
    assert!(diesel_run(&server, &dir).is_empty());

    // `down` undoes the new migration in both records: diesel would run it again.
    m.down(|_, _, _| {}).expect("down");
    assert_eq!(server.columns("users"), 3);
    assert_eq!(diesel_pending(&server, &dir), 1);
}

fn a_migration_diesel_ran_beside_concertina_is_adopted_not_rerun(server: Server) {
    let dir = diesel_dir(&server, "beside");
    diesel_run(&server, &dir);
    concertina_runtime::init::init(&dir.0, Some(server.url())).expect("init");
    // Someone runs `diesel migration run` for a new migration instead of concertina.
    dir.write(
        "2024-01-03-000000_add_phone/up.sql",
        "ALTER TABLE users ADD COLUMN phone VARCHAR(20);\n",
    );
    assert_eq!(diesel_run(&server, &dir), vec!["20240103000000"]);
    let mut m = migrator(&dir, &server);
    m.adopt_baseline().expect("baseline");
    let sync = m.sync_diesel().expect("sync");
    assert_eq!(sync.adopted, vec!["2024-01-03-000000"]);
    // Running it again would fail (the column exists): it is not run.
    assert_eq!(apply(&mut m, &both::ALL, None).expect("nothing to run"), 0);
    let state = m.state().expect("state");
    assert!(state
        .iter()
        .any(|r| r.version == "2024-01-03-000000" && r.status == Status::Baselined));
}
