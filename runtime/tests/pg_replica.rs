//! A real streaming replica whose replay is paused (`pg_wal_replay_pause()`): the backfill
//! stops within a batch or two of `max_replica_lag_bytes` ("waiting for replicas"), because
//! the WAL it has yet to replay is current at every batch where the time lag is refreshed only
//! when the standby replies; it finishes once replay resumes. A throwaway primary and a
//! `pg_basebackup` standby of it, both stopped and removed at the end.

mod both;

use std::time::{Duration, Instant};

use both::Dir;
use concertina_codegen::Phase;
use concertina_runtime::demo::server::Server;
use concertina_runtime::migrator::Migrator;
use concertina_runtime::postgres::raw::RawPg;

const ROWS: i64 = 200_000;

#[test]
fn a_paused_replica_stops_the_backfill_within_a_few_batches() {
    let primary = Server::start(|s| eprintln!("primary: {s}")).expect("a throwaway primary");
    let standby = Server::standby_of(&primary, |s| eprintln!("standby: {s}")).expect("a standby");
    let url = primary.url("postgres");
    let dir = Dir::with_config(
        "replica",
        "dialect = \"postgres\"\nserver_version = \"15\"\n[runtime]\nbatch_size = 1000\nbatch_target = \"50ms\"\nbatch_pause = \"0ms\"\nmax_replica_lag_bytes = \"1MB\"\n",
    );
    dir.write(
        "0001_users/expand.sql",
        &format!(
            "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, nick text);\n-- concertina:allow(unbatched-data-change): test data\nINSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, {ROWS}) g;\n"
        ),
    );
    dir.write(
        "0002_nick/backfill.sql",
        "UPDATE users SET nick = name WHERE nick IS NULL;\n",
    );
    let mut m = Migrator::open(&dir.0, &url).expect("open");
    m.lock(None, |_| {}).expect("lock");
    m.apply(&[Phase::Expand], None, |_, _, _| {}, |_, _| {}, |_| {})
        .expect("the table");

    // The standby has replayed everything so far, then pauses.
    let mut primary_sql = RawPg::connect(&url).expect("primary");
    let mut standby_sql = RawPg::connect(&standby.url("postgres")).expect("standby");
    let caught_up = Instant::now();
    loop {
        let lag = primary_sql
            .value("SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), -1)::bigint::text FROM pg_stat_replication")
            .expect("lag");
        if lag.as_deref() == Some("0") {
            break;
        }
        assert!(
            caught_up.elapsed() < Duration::from_secs(60),
            "the standby never caught up ({lag:?})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    standby_sql
        .execute("SELECT pg_wal_replay_pause()")
        .expect("pause");
    drop(standby_sql);

    // Once the backfill waits: nothing moves for 2 s, the rows changed meanwhile are counted,
    // then replay resumes.
    let (standby_url, primary_url) = (standby.url("postgres"), url.clone());
    let (result, wait) = both::backfill_through_a_replica_wait(&mut m, move || {
        let mut p = RawPg::connect(&primary_url).expect("primary");
        let n = p
            .value("SELECT count(*)::text FROM users WHERE nick IS NOT NULL")
            .ok()
            .flatten()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(-1);
        let mut s = RawPg::connect(&standby_url).expect("standby");
        s.execute("SELECT pg_wal_replay_resume()").expect("resume");
        n
    });
    result.expect("the backfill finishes once replay resumes");
    let wait = wait.expect("the backfill finished without waiting for the paused replica");
    let rows_when_waiting = wait.rows_done;
    // 1 MB of WAL is a handful of 1,000-row batches; without the byte bound the time lag of a
    // paused standby that keeps replying grew too slowly to stop 290,063 of 400,000 rows.
    eprintln!("waiting for replicas after {rows_when_waiting} of {ROWS} rows");
    assert!(
        rows_when_waiting < ROWS / 4,
        "waited only after {rows_when_waiting} of {ROWS} rows"
    );
    // While replay was paused the backfill stayed put (a batch in flight at most).
    let changed = wait.changed_meanwhile;
    assert!(
        changed >= rows_when_waiting && changed <= rows_when_waiting + 2_000,
        "{changed} rows changed while paused, {rows_when_waiting} when the wait began"
    );
    let left = primary_sql
        .value("SELECT count(*)::text FROM users WHERE nick IS NULL")
        .expect("count");
    assert_eq!(left.as_deref(), Some("0"));
}
