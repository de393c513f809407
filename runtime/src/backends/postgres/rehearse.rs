//! The rehearsal on PostgreSQL: rows loaded with `COPY … FROM STDIN`, app connections over
//! libpq (errors keep their SQLSTATE) named `concertina-rehearsal-app`, so the lock monitor
//! finds them in `pg_stat_activity`.

use std::sync::Arc;
use std::time::Duration;

use concertina_codegen::change::QualName;

use super::quote_ident;
use super::raw::RawPg;
use crate::engine::DbError;
use crate::rehearse::data::{Keys, TableGen};
use crate::rehearse::workload::{AppConn, Flavour};
use crate::rehearse::{LockMonitor, RehearsalServer};

const APP_NAME: &str = "concertina-rehearsal-app";

pub struct PgFlavour;

impl Flavour for PgFlavour {
    fn quote_ident(&self, name: &str) -> String {
        quote_ident(name)
    }

    fn table(&self, name: &QualName) -> String {
        if name.schema.is_empty() || name.schema == "public" {
            quote_ident(&name.name)
        } else {
            format!("{}.{}", quote_ident(&name.schema), quote_ident(&name.name))
        }
    }

    fn literal(&self, value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }
}

pub struct PgRehearsal {
    conn: RawPg,
    url: String,
}

impl PgRehearsal {
    pub fn connect(url: &str) -> Result<PgRehearsal, DbError> {
        Ok(PgRehearsal {
            conn: RawPg::connect(url)?,
            url: url.to_string(),
        })
    }
}

/// A value in COPY's text format: backslash, tab, newline and carriage return escaped.
fn copy_text(out: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

struct PgApp(RawPg);

impl AppConn for PgApp {
    fn exec(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.execute(sql).map(|_| ())
    }
}

struct PgMonitor(RawPg);

impl LockMonitor for PgMonitor {
    fn longest_app_wait(&mut self) -> Duration {
        self.0
            .value(&format!(
                "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0)::float8
                 FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{APP_NAME}'
                   AND wait_event_type = 'Lock'"
            ))
            .ok()
            .flatten()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.max(0.0)))
    }
}

impl RehearsalServer for PgRehearsal {
    fn flavour(&self) -> Arc<dyn Flavour> {
        Arc::new(PgFlavour)
    }

    fn server_version(&mut self) -> Result<String, DbError> {
        let v = self.conn.value("SHOW server_version")?.unwrap_or_default();
        Ok(format!("PostgreSQL {v}"))
    }

    fn load(
        &mut self,
        gen: &TableGen,
        keys: &Keys,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, DbError> {
        if gen.columns.is_empty() {
            // Every column has a default: rows of defaults.
            let sql = format!(
                "INSERT INTO {} SELECT FROM generate_series(1, {})",
                PgFlavour.table(&gen.table),
                gen.rows
            );
            return self.conn.execute(&sql);
        }
        let cols: Vec<String> = gen.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let sql = format!(
            "COPY {} ({}) FROM STDIN",
            PgFlavour.table(&gen.table),
            cols.join(", ")
        );
        let mut i = 0u64;
        self.conn.copy_in(&sql, || {
            if i >= gen.rows {
                return None;
            }
            let mut chunk = Vec::with_capacity(256 * 1024);
            while i < gen.rows && chunk.len() < 256 * 1024 {
                for (n, v) in gen.row(i, keys).iter().enumerate() {
                    if n > 0 {
                        chunk.push(b'\t');
                    }
                    match v {
                        Some(v) => copy_text(&mut chunk, v),
                        None => chunk.extend_from_slice(b"\\N"),
                    }
                }
                chunk.push(b'\n');
                i += 1;
            }
            progress(i);
            Some(chunk)
        })
    }

    fn sample(
        &mut self,
        table: &QualName,
        columns: &[String],
        limit: usize,
    ) -> Result<Vec<Vec<String>>, DbError> {
        let cols: Vec<String> = columns
            .iter()
            .map(|c| format!("{}::text", quote_ident(c)))
            .collect();
        let (rows, _) = self.conn.run(&format!(
            "SELECT {} FROM {} LIMIT {limit}",
            cols.join(", "),
            PgFlavour.table(table)
        ))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().collect::<Option<Vec<String>>>())
            .collect())
    }

    fn analyze(&mut self, table: &QualName) -> Result<(), DbError> {
        self.conn
            .execute(&format!("VACUUM ANALYZE {}", PgFlavour.table(table)))
            .map(|_| ())
    }

    fn app_conn(&self) -> Result<Box<dyn AppConn>, DbError> {
        let mut conn = RawPg::connect(&self.url)?;
        conn.execute(&format!("SET application_name = '{APP_NAME}'"))?;
        Ok(Box::new(PgApp(conn)))
    }

    fn lock_monitor(&self) -> Result<Box<dyn LockMonitor>, DbError> {
        Ok(Box::new(PgMonitor(RawPg::connect(&self.url)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes() {
        let mut out = Vec::new();
        copy_text(&mut out, "a\tb\\c\nd");
        assert_eq!(out, b"a\\tb\\\\c\\nd");
    }
}
