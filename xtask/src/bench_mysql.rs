//! `bench backfill --dialect mariadb|mysql`: the keyset engine over N rows against one plain
//! `UPDATE` of all rows, on the server of DATABASE_URL (a `mysql://` URL) or
//! CONCERTINA_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/). A database of its own is
//! created and dropped.

use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use concertina_codegen::dialect::DialectKind;
use concertina_runtime::backend::Backend;
use concertina_runtime::mysql::MySql;
use concertina_runtime::testdb_mysql::MySqlTestDb;
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

use crate::bench_input::{flag, time_engine};

fn exec(conn: &mut MysqlConnection, sql: &str) -> Result<()> {
    conn.batch_execute(sql).with_context(|| sql.to_string())
}

/// `rows` rows in `t`: MariaDB's sequence engine, else doubling inserts (MySQL).
fn load(conn: &mut MysqlConnection, t: &str, rows: u64) -> Result<()> {
    exec(conn, &format!(
        "CREATE TABLE {t} (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL, full_name varchar(100) NULL) ENGINE=InnoDB"
    ))?;
    if exec(
        conn,
        &format!("INSERT INTO {t} (name) SELECT CONCAT('user ', seq) FROM seq_1_to_{rows}"),
    )
    .is_ok()
    {
        return Ok(());
    }
    exec(conn, &format!("INSERT INTO {t} (name) VALUES ('user 1')"))?;
    let mut have = 1u64;
    while have < rows {
        let take = have.min(rows - have);
        exec(conn, &format!(
            "INSERT INTO {t} (name) SELECT CONCAT('user ', id + {have}) FROM {t} ORDER BY id LIMIT {take}"
        ))?;
        have += take;
    }
    Ok(())
}

pub fn backfill(args: &[String]) -> Result<()> {
    let workers = flag(args, "--workers", 1)?.max(1);
    let rows = flag(args, "--rows", 5_000_000)? as u64;
    let batch = flag(args, "--batch", 10_000)? as u64;
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        std::env::set_var("CONCERTINA_TEST_MYSQL_URL", url);
    }
    let db = MySqlTestDb::new("bench").map_err(|e| anyhow!("{e}"))?;
    let mut conn = db.conn().map_err(|e| anyhow!("{e}"))?;
    eprintln!("bench: loading 2 tables of {rows} rows");
    for t in ["plain", "engine"] {
        load(&mut conn, t, rows)?;
        exec(&mut conn, &format!("ANALYZE TABLE {t}"))?;
    }

    eprintln!("bench: one plain UPDATE of every row");
    let t = Instant::now();
    let n = diesel::sql_query("UPDATE plain SET full_name = name WHERE full_name IS NULL")
        .execute(&mut conn)?;
    let plain = t.elapsed();
    if n as u64 != rows {
        bail!("the plain UPDATE changed {n} rows, expected {rows}");
    }

    eprintln!("bench: concertina's keyset engine, batch {batch}, {workers} worker(s), no pause");
    let mut my = MySql::connect(&db.url, true).map_err(|e| anyhow!("{e}"))?;
    my.ensure_state_table().map_err(|e| anyhow!("{e}"))?;
    let mut first =
        concertina_runtime::mysql::backfill::MyBatch::first(&my).map_err(|e| anyhow!(e))?;
    let engine = time_engine(&mut first, DialectKind::MariaDb, batch, workers, rows)?;
    println!("bench backfill (mariadb/mysql): {rows} rows, batch {batch}, {workers} worker(s)");
    println!(
        "  plain UPDATE (baseline):   {:>8.2} s",
        plain.as_secs_f64()
    );
    println!(
        "  concertina keyset engine, {workers} worker(s):  {:>8.2} s   {:.2}x the plain UPDATE (target <= 1.5x)",
        engine.as_secs_f64(),
        engine.as_secs_f64() / plain.as_secs_f64()
    );
    Ok(())
}
