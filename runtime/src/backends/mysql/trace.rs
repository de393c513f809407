//! The lock tracer on MySQL/MariaDB. DDL commits by itself, so there is no transaction to look
//! into: each step runs as the runtime runs it (an `ALTER TABLE`/`CREATE INDEX` with the
//! `ALGORITHM`/`LOCK` clause it appends, INSTANT falling back to INPLACE with `LOCK=NONE`) and
//! is observed from outside:
//!
//! - which online algorithms the server accepts for an `ALTER TABLE` of an existing table,
//!   tried first on an empty copy (`CREATE TABLE … LIKE`), into `notes`; the mode the statement
//!   really ran with becomes the exact lock on its table (INSTANT blocks nothing once its
//!   metadata lock is granted, INPLACE with `LOCK=NONE` only other DDL, `LOCK=SHARED` writes,
//!   a copy or `LOCK=EXCLUSIVE` reads and writes);
//! - a rebuild: a new InnoDB table id (`INNODB_SYS_TABLES` on MariaDB, `INNODB_TABLES` on
//!   MySQL 8); an index built over the rows: a new index id of the same table (a scan);
//! - metadata locks, sampled from a second session while the statement runs, where the server
//!   shows them (MariaDB's `METADATA_LOCK_INFO` plugin, `performance_schema.metadata_locks`).
//!
//! Measured on MariaDB 10.11.19: `ADD COLUMN` runs INSTANT with the same table id; `FORCE`
//! and `MODIFY … NOT NULL` run INPLACE with a new table id; a column type change is refused
//! INPLACE (errno 1846) and accepted only as a copy, which the runtime never runs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use concertina_codegen::change::{AlterOp, Change, QualName};
use concertina_codegen::dialect::DialectKind;
use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::apply::{accepts_clause, is_refusal, online_clauses, with_clause, Online};
use super::{db_error, quote_ident, quoted_table, Version};
use crate::engine::DbError;
use crate::plan::{LockContext, Step, StepKind};
use crate::trace::{
    Blocks, ClaimedLock, Observation, ObservedLock, RelKind, TraceError, Tracer, Unit,
};

/// Where the server shows metadata locks, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MdlSource {
    MetadataLockInfo,
    PerformanceSchema,
}

#[derive(QueryableByName)]
struct Text1 {
    #[diesel(sql_type = Text)]
    v: String,
}

#[derive(QueryableByName)]
struct IdName {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Mdl {
    #[diesel(sql_type = Text)]
    mode: String,
    #[diesel(sql_type = Text)]
    db: String,
    #[diesel(sql_type = Text)]
    name: String,
}

fn setup(what: &str) -> impl Fn(diesel::result::Error) -> TraceError + '_ {
    move |e| TraceError::Setup(format!("{what}: {}", super::describe_error(&e)))
}

/// An online DDL mode as an exact lock: its name, rank among the tracer's modes, and class.
fn online_mode(mode: &str, blocks: Blocks) -> (String, u8, Blocks) {
    (mode.to_string(), 3 + blocks as u8 * 2, blocks)
}

/// The mode a statement names with its own `ALGORITHM`/`LOCK` clauses, if it names one.
fn named_mode(change: &Change) -> Option<(String, u8, Blocks)> {
    let Change::AlterTable { ops, .. } = change else {
        return None;
    };
    let named = |f: fn(&AlterOp) -> Option<&String>| {
        ops.iter()
            .filter_map(f)
            .map(|s| s.to_ascii_uppercase())
            .find(|s| s != "DEFAULT")
    };
    let algorithm = named(|op| match op {
        AlterOp::Algorithm(a) => Some(a),
        _ => None,
    });
    let lock = named(|op| match op {
        AlterOp::Lock(l) => Some(l),
        _ => None,
    });
    let blocks = match (lock.as_deref(), algorithm.as_deref()) {
        (Some("EXCLUSIVE"), _) | (_, Some("COPY")) => Blocks::ReadsAndWrites,
        (Some("SHARED"), _) => Blocks::Writes,
        (Some("NONE"), _) | (_, Some("INPLACE" | "NOCOPY")) => Blocks::OtherDdl,
        (_, Some("INSTANT")) => Blocks::Nothing,
        _ => return None,
    };
    let text = [
        algorithm.map(|a| format!("ALGORITHM={a}")),
        lock.map(|l| format!("LOCK={l}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    Some(online_mode(&text, blocks))
}

fn clause_mode(online: Online) -> (String, u8, Blocks) {
    match online {
        Online::Instant => online_mode("ALGORITHM=INSTANT", Blocks::Nothing),
        Online::InplaceNoLock => online_mode("ALGORITHM=INPLACE, LOCK=NONE", Blocks::OtherDdl),
    }
}

/// A sampled metadata lock's class. `EXCLUSIVE` is what an online ALTER takes briefly to
/// start and to commit; a statement without an online mode (`DROP`, `RENAME`, `TRUNCATE`)
/// holds it throughout.
fn mdl_class(mode: &str) -> (u8, Blocks) {
    match mode {
        "SHARED_UPGRADABLE" => (3, Blocks::OtherDdl),
        "SHARED_NO_WRITE" => (5, Blocks::Writes),
        "SHARED_NO_READ_WRITE" => (7, Blocks::ReadsAndWrites),
        "EXCLUSIVE" => (8, Blocks::ReadsAndWrites),
        "SHARED_WRITE" => (2, Blocks::Nothing),
        _ => (1, Blocks::Nothing),
    }
}

/// The statement with its table replaced by `copy`: `ALTER [ONLINE] [IGNORE] TABLE name …`.
/// `None` when the text is not in that shape.
fn retarget(sql: &str, copy: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let skip_space = |mut i: usize| loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if sql[i..].starts_with("--") || sql[i..].starts_with('#') {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
        } else if sql[i..].starts_with("/*") {
            i = sql[i..].find("*/").map_or(bytes.len(), |n| i + n + 2);
        } else {
            return i;
        }
    };
    let word = |i: usize| {
        let end = sql[i..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(sql.len(), |n| i + n);
        (sql[i..end].to_ascii_uppercase(), end)
    };
    i = skip_space(i);
    let (w, end) = word(i);
    if w != "ALTER" {
        return None;
    }
    i = skip_space(end);
    loop {
        let (w, end) = word(i);
        match w.as_str() {
            "ONLINE" | "IGNORE" => i = skip_space(end),
            "TABLE" => {
                i = skip_space(end);
                break;
            }
            _ => return None,
        }
    }
    if word(i).0 == "IF" {
        let (_, end) = word(skip_space(word(i).1));
        i = skip_space(end);
    }
    let start = i;
    // One or two identifiers, bare or backquoted, joined by a dot.
    for part in 0..2 {
        if part == 1 {
            if bytes.get(i) != Some(&b'.') {
                break;
            }
            i += 1;
        }
        if bytes.get(i) == Some(&b'`') {
            i += 1;
            loop {
                match bytes.get(i) {
                    Some(b'`') if bytes.get(i + 1) == Some(&b'`') => i += 2,
                    Some(b'`') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                    None => return None,
                }
            }
        } else {
            let end = sql[i..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .map_or(sql.len(), |n| i + n);
            if end == i {
                return None;
            }
            i = end;
        }
    }
    Some(format!(
        "{}{}{}",
        &sql[..start],
        quote_ident(copy),
        &sql[i..]
    ))
}

/// InnoDB's table id per table, and its `(index id, table id)` pairs.
type InnodbIds = (BTreeMap<QualName, i64>, BTreeSet<(i64, i64)>);

/// What one run of a statement showed.
struct Run {
    result: Result<(), DbError>,
    elapsed: Duration,
    /// (mode, table) sampled while it ran.
    mdl: Vec<(String, QualName)>,
}

pub struct MyTracer {
    /// Runs the migration's statements. `None` only while a statement runs on its thread.
    tracee: Option<MysqlConnection>,
    /// Watches the tracee, reads the catalog, tries the online algorithms on copies.
    observer: MysqlConnection,
    database: String,
    mariadb: bool,
    version: Version,
    version_text: String,
    mdl: Option<MdlSource>,
    /// The tables that existed when the current phase file started.
    app: BTreeSet<QualName>,
    copies: u32,
}

impl MyTracer {
    pub fn connect(url: &str) -> Result<MyTracer, TraceError> {
        let driver_url = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                format!("mysql://{rest}")
            }
            _ => url.to_string(),
        };
        let connect = || {
            MysqlConnection::establish(&driver_url).map_err(|e| {
                TraceError::Setup(crate::error::RuntimeError::connect(url, e).to_string())
            })
        };
        let mut observer = connect()?;
        // The copies must not wait a year (the default) behind the traced session's own
        // `LOCK TABLES`: the probe gives up instead (errno 1205).
        observer
            .batch_execute("SET SESSION lock_wait_timeout = 5")
            .map_err(setup("setting the observer's lock_wait_timeout"))?;
        let tracee = connect()?;
        let one = |conn: &mut MysqlConnection, sql: &str| {
            diesel::sql_query(sql)
                .get_result::<Text1>(conn)
                .map(|t| t.v)
                .map_err(setup("reading the server"))
        };
        let version_text = one(&mut observer, "SELECT CAST(VERSION() AS CHAR) AS v")?;
        let database = one(
            &mut observer,
            "SELECT CAST(COALESCE(DATABASE(), '') AS CHAR) AS v",
        )?;
        let mdl = Self::mdl_source(&mut observer);
        Ok(MyTracer {
            tracee: Some(tracee),
            observer,
            database,
            mariadb: version_text.to_ascii_lowercase().contains("mariadb"),
            version: Version::parse(&version_text).unwrap_or(Version(0, 0, 0)),
            version_text,
            mdl,
            app: BTreeSet::new(),
            copies: 0,
        })
    }

    /// MariaDB's plugin (installed once if the server has it and we may), else MySQL's
    /// `performance_schema` (on by default in MySQL 8, off in MariaDB).
    fn mdl_source(conn: &mut MysqlConnection) -> Option<MdlSource> {
        let works = |conn: &mut MysqlConnection, sql: &str| conn.batch_execute(sql).is_ok();
        let info = "SELECT 1 FROM information_schema.METADATA_LOCK_INFO LIMIT 0";
        if works(conn, info)
            || (works(conn, "INSTALL SONAME 'metadata_lock_info'") && works(conn, info))
        {
            return Some(MdlSource::MetadataLockInfo);
        }
        let ps = diesel::sql_query(
            "SELECT CAST(@@performance_schema AS CHAR) AS v FROM performance_schema.metadata_locks LIMIT 0 UNION ALL SELECT CAST(@@performance_schema AS CHAR)",
        )
        .get_result::<Text1>(conn);
        match ps {
            Ok(t) if t.v == "1" => Some(MdlSource::PerformanceSchema),
            _ => None,
        }
    }

    fn dialect(&self) -> DialectKind {
        if self.mariadb {
            DialectKind::MariaDb
        } else {
            DialectKind::MySql
        }
    }

    /// A table as the checker names it: unqualified in the scratch database.
    fn qual(&self, db: &str, name: &str) -> QualName {
        if db == self.database {
            QualName::new("", name)
        } else {
            QualName::new(db, name)
        }
    }

    fn is_app(&self, name: &QualName) -> bool {
        self.app.contains(name) || self.app.contains(&self.qual(&name.schema, &name.name))
    }

    /// InnoDB's `(table id, name)` and `(index id, table id)` of the scratch database.
    fn innodb_ids(&mut self) -> Result<InnodbIds, TraceError> {
        let (tables, indexes) = if self.mariadb {
            ("INNODB_SYS_TABLES", "INNODB_SYS_INDEXES")
        } else {
            ("INNODB_TABLES", "INNODB_INDEXES")
        };
        let prefix = format!("{}/", self.database);
        let rows: Vec<IdName> = diesel::sql_query(format!(
            "SELECT CAST(TABLE_ID AS SIGNED) AS id, CAST(NAME AS CHAR) AS name \
             FROM information_schema.{tables} WHERE LEFT(NAME, CHAR_LENGTH(?)) = ?"
        ))
        .bind::<Text, _>(&prefix)
        .bind::<Text, _>(&prefix)
        .load(&mut self.observer)
        .map_err(setup("reading InnoDB's table ids"))?;
        let mut ids = BTreeMap::new();
        for row in &rows {
            let name = &row.name[prefix.len()..];
            // `#sql-…` tables of a running ALTER, `#P#` partitions.
            if !name.contains('#') {
                ids.insert(QualName::new("", name), row.id);
            }
        }
        let table_ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
        let mut index_ids = BTreeSet::new();
        if !table_ids.is_empty() {
            let found: Vec<IdName> = diesel::sql_query(format!(
                "SELECT CAST(INDEX_ID AS SIGNED) AS id, CAST(TABLE_ID AS CHAR) AS name \
                 FROM information_schema.{indexes} WHERE TABLE_ID IN ({})",
                table_ids.join(", ")
            ))
            .load(&mut self.observer)
            .map_err(setup("reading InnoDB's index ids"))?;
            index_ids = found
                .into_iter()
                .map(|r| (r.id, r.name.parse().unwrap_or(0)))
                .collect();
        }
        Ok((ids, index_ids))
    }

    /// Runs `sql` on the tracee while the observer samples its metadata locks.
    fn run_watched(&mut self, sql: &str) -> Result<Run, TraceError> {
        let mut tracee = self
            .tracee
            .take()
            .ok_or_else(|| TraceError::Setup("the traced session was lost".into()))?;
        let id: i64 = diesel::sql_query("SELECT CAST(CONNECTION_ID() AS CHAR) AS v")
            .get_result::<Text1>(&mut tracee)
            .map_err(setup("reading the traced session's id"))?
            .v
            .parse()
            .unwrap_or(0);
        let watch = match self.mdl {
            Some(MdlSource::MetadataLockInfo) => Some(format!(
                "SELECT CAST(LOCK_MODE AS CHAR) AS mode, CAST(TABLE_SCHEMA AS CHAR) AS db, \
                 CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.METADATA_LOCK_INFO \
                 WHERE THREAD_ID = {id} AND TABLE_NAME <> ''"
            )),
            Some(MdlSource::PerformanceSchema) => Some(format!(
                "SELECT CAST(m.LOCK_TYPE AS CHAR) AS mode, CAST(m.OBJECT_SCHEMA AS CHAR) AS db, \
                 CAST(m.OBJECT_NAME AS CHAR) AS name FROM performance_schema.metadata_locks m \
                 JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID \
                 WHERE t.PROCESSLIST_ID = {id} AND m.OBJECT_TYPE = 'TABLE' \
                 AND m.LOCK_STATUS = 'GRANTED'"
            )),
            None => None,
        };
        // Locks the session held before (its own `LOCK TABLES`) are not the statement's.
        let held_before = match &watch {
            Some(watch) => self.sample(watch),
            None => Vec::new(),
        };
        let owned = sql.to_string();
        let started = Instant::now();
        let running = std::thread::spawn(move || {
            let result = tracee
                .batch_execute(&owned)
                .map_err(|e| db_error(&mut tracee, &e));
            if result.is_err() {
                // A transaction left open by a failed multi-statement body.
                let _ = tracee.batch_execute("ROLLBACK");
            }
            (tracee, result, started.elapsed())
        });
        let mut mdl: Vec<(String, QualName)> = Vec::new();
        loop {
            let finished = running.is_finished();
            if let Some(watch) = &watch {
                for seen in self.sample(watch) {
                    if !mdl.contains(&seen) && !held_before.contains(&seen) {
                        mdl.push(seen);
                    }
                }
            }
            if finished {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let (tracee, result, elapsed) = running
            .join()
            .map_err(|_| TraceError::Setup("the traced statement's thread panicked".into()))?;
        self.tracee = Some(tracee);
        Ok(Run {
            result,
            elapsed,
            mdl,
        })
    }

    /// The metadata locks `watch` shows, as `(mode, table)`.
    fn sample(&mut self, watch: &str) -> Vec<(String, QualName)> {
        let rows: Vec<Mdl> = diesel::sql_query(watch)
            .load(&mut self.observer)
            .unwrap_or_default();
        rows.into_iter()
            .filter(|r| !r.name.starts_with("#sql"))
            .map(|r| {
                let mode = r.mode.trim_start_matches("MDL_").to_string();
                (mode, self.qual(&r.db, &r.name))
            })
            .collect()
    }

    /// Tries the online algorithms on an empty copy of `table`: what the server accepts.
    fn try_algorithms(&mut self, sql: &str, table: &QualName) -> Vec<String> {
        self.copies += 1;
        let copy = format!("concertina_probe_{}", self.copies);
        // `CREATE FULLTEXT INDEX` is read as an ALTER too, but has no table to retarget
        // here: the statement itself shows what the server accepts.
        let Some(on_copy) = retarget(sql, &copy) else {
            return Vec::new();
        };
        let mut tries = vec![
            ("INSTANT", "ALGORITHM=INSTANT"),
            ("INPLACE LOCK=NONE", "ALGORITHM=INPLACE, LOCK=NONE"),
        ];
        if self.mariadb {
            tries.push(("NOCOPY", "ALGORITHM=NOCOPY"));
        }
        let mut notes = Vec::new();
        let copy_q = quote_ident(&copy);
        for (label, clause) in tries {
            // A fresh copy each time: an accepted ALTER changed the last one.
            let made = self.observer.batch_execute(&format!(
                "DROP TABLE IF EXISTS {copy_q}; CREATE TABLE {copy_q} LIKE {}",
                quoted_table(table)
            ));
            if let Err(e) = made {
                let e = db_error(&mut self.observer, &e);
                notes.push(format!(
                    "online algorithms not tried: no copy of the table (errno {})",
                    e.code
                ));
                break;
            }
            let attempt = format!("{}\n, {clause}", on_copy.trim_end().trim_end_matches(';'));
            match self.observer.batch_execute(&attempt) {
                Ok(()) => notes.push(format!("accepts {label}")),
                Err(e) => {
                    let e = db_error(&mut self.observer, &e);
                    let what = if is_refusal(&e, self.mariadb) {
                        "refuses"
                    } else {
                        "cannot try"
                    };
                    notes.push(format!("{what} {label} (errno {})", e.code));
                }
            }
        }
        let _ = self
            .observer
            .batch_execute(&format!("DROP TABLE IF EXISTS {copy_q}"));
        notes
    }

    fn trace_unit(&mut self, unit: &Unit) -> Result<Observation, TraceError> {
        let mut observation = Observation::default();
        let (ids_before, indexes_before) = self.innodb_ids()?;
        let single =
            (!unit.transactional && unit.statements.len() == 1).then(|| unit.statements[0].clone());
        let change = single
            .as_deref()
            .and_then(|sql| crate::plan::statement_change(sql, self.dialect()));
        // The table an online mode applies to, and the modes the runtime would try.
        let online_table = match (&single, &change) {
            (Some(sql), Some(Change::AlterTable { table, .. })) if accepts_clause(sql) => {
                Some(table.clone())
            }
            (Some(sql), Some(Change::CreateIndex(ci))) if accepts_clause(sql) => {
                Some(ci.table.clone())
            }
            _ => None,
        };
        let clauses = match (&online_table, &change) {
            (Some(_), Some(c)) => online_clauses(c, self.version, self.mariadb),
            _ => Vec::new(),
        };
        if let (Some(sql), Some(Change::AlterTable { table, .. })) = (&single, &change) {
            if ids_before.contains_key(&self.qual(&table.schema, &table.name))
                || !table.schema.is_empty()
            {
                observation.notes = self.try_algorithms(sql, table);
            }
        }
        let mut ran_with = None;
        let mut mdl = Vec::new();
        let mut error = None;
        if let (Some(sql), Some(c)) = (&single, &change) {
            for online in &clauses {
                let run = self.run_watched(&with_clause(sql, c, *online))?;
                observation.elapsed += run.elapsed;
                mdl.extend(run.mdl);
                match run.result {
                    Ok(()) => {
                        ran_with = Some(clause_mode(*online));
                        error = None;
                        break;
                    }
                    Err(e) if is_refusal(&e, self.mariadb) => error = Some(e),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
        if clauses.is_empty() {
            let body = if unit.transactional {
                format!(
                    "START TRANSACTION;\n{};\nCOMMIT",
                    unit.statements.join(";\n")
                )
            } else {
                unit.statements.join(";\n")
            };
            let run = self.run_watched(&body)?;
            observation.elapsed += run.elapsed;
            mdl.extend(run.mdl);
            error = run.result.err();
            if error.is_none() {
                ran_with = change.as_ref().and_then(named_mode);
            }
        }
        if self.mdl.is_none() {
            observation
                .notes
                .push("metadata locks not observed: the server shows them neither in METADATA_LOCK_INFO nor in performance_schema.metadata_locks".into());
        }
        if let Some(e) = error {
            observation.error = Some(e);
            return Ok(observation);
        }
        if let (Some(table), Some((mode, rank, blocks))) = (&online_table, ran_with) {
            observation.locks.push(ObservedLock {
                relation: table.clone(),
                kind: RelKind::Table,
                mode,
                rank,
                blocks,
                app: self.is_app(table),
                exact: true,
            });
        }
        // An ALTER or index build takes EXCLUSIVE only briefly, to start and to commit: that
        // is the metadata lock the plan says must be granted, shown rather than held against
        // its mode. So is EXCLUSIVE beside SHARED_UPGRADABLE (an online rebuild such as
        // `OPTIMIZE TABLE`); EXCLUSIVE alone (`DROP`, `RENAME`, `TRUNCATE`) is held throughout.
        let ddl_tables: Vec<QualName> = unit
            .statements
            .iter()
            .filter(|sql| accepts_clause(sql))
            .filter_map(
                |sql| match crate::plan::statement_change(sql, self.dialect()) {
                    Some(Change::AlterTable { table, .. }) => Some(table),
                    Some(Change::CreateIndex(ci)) => Some(ci.table),
                    _ => None,
                },
            )
            .collect();
        let upgradable: Vec<QualName> = mdl
            .iter()
            .filter(|(mode, _)| mode == "SHARED_UPGRADABLE")
            .map(|(_, t)| t.clone())
            .collect();
        let mut brief = Vec::new();
        for (mode, table) in mdl {
            let online = ddl_tables.contains(&table)
                && (ran_with_online(&observation, &table) || mode == "EXCLUSIVE");
            if online || (mode == "EXCLUSIVE" && upgradable.contains(&table)) {
                if !brief.contains(&mode) {
                    brief.push(mode);
                }
                continue;
            }
            let (rank, blocks) = mdl_class(&mode);
            let lock = ObservedLock {
                app: self.is_app(&table),
                relation: table,
                kind: RelKind::Table,
                mode: format!("metadata lock {mode}"),
                rank,
                blocks,
                exact: false,
            };
            if !observation.locks.contains(&lock) {
                observation.locks.push(lock);
            }
        }
        if !brief.is_empty() {
            observation
                .notes
                .push(format!("metadata locks sampled: {}", brief.join(", ")));
        }
        let (ids_after, indexes_after) = self.innodb_ids()?;
        for (name, id) in &ids_before {
            if !self.is_app(name) {
                continue;
            }
            match ids_after.get(name) {
                Some(new) if new != id => observation.rewritten.push(name.clone()),
                Some(_) => {
                    // A new index of the same table was built from every row.
                    let built = indexes_after
                        .iter()
                        .any(|(ix, t)| t == id && !indexes_before.contains(&(*ix, *t)));
                    if built {
                        observation.scanned.push(name.clone());
                    }
                }
                None => {}
            }
        }
        Ok(observation)
    }
}

/// The unit's exact lock on `table` came from the online mode it ran with.
fn ran_with_online(observation: &Observation, table: &QualName) -> bool {
    observation
        .locks
        .iter()
        .any(|l| l.exact && &l.relation == table)
}

/// The plan's claim in the tracer's classes: the mode `step_locks` shows.
fn claimed_blocks(change: &Change, step: &Step, v: Version, mariadb: bool) -> Blocks {
    if matches!(step.kind, StepKind::Backfill { .. }) {
        return Blocks::Nothing;
    }
    let clauses = if accepts_clause(&step.sql) {
        online_clauses(change, v, mariadb)
    } else {
        Vec::new()
    };
    match clauses.first() {
        Some(Online::Instant) => Blocks::Nothing,
        Some(Online::InplaceNoLock) => Blocks::OtherDdl,
        None => match change {
            Change::AlterTable { .. } => named_mode(change).map_or(Blocks::OtherDdl, |m| m.2),
            Change::Update { .. } | Change::Delete { .. } | Change::Insert { .. } => {
                Blocks::Nothing
            }
            _ => Blocks::ReadsAndWrites,
        },
    }
}

impl Tracer for MyTracer {
    fn server_version(&mut self) -> Result<String, TraceError> {
        let number = self
            .version_text
            .split('-')
            .next()
            .unwrap_or_default()
            .to_string();
        Ok(if self.mariadb {
            format!("MariaDB {number}")
        } else {
            format!("MySQL {number}")
        })
    }

    fn units(&self, step: &Step) -> Vec<Unit> {
        match &step.kind {
            StepKind::Transaction { statements, .. } => vec![Unit {
                statements: statements.clone(),
                transactional: true,
            }],
            // DDL commits by itself; a backfill is traced as one statement, as on PostgreSQL.
            _ => vec![Unit {
                statements: vec![step.sql.clone()],
                transactional: false,
            }],
        }
    }

    fn claimed_locks(&self, step: &Step, change: &Change, _ctx: &LockContext) -> Vec<ClaimedLock> {
        let blocks = claimed_blocks(change, step, self.version, self.mariadb);
        super::apply::step_locks(change, step, self.version, self.mariadb)
            .into_iter()
            .map(|info| ClaimedLock {
                relation: info.table,
                mode: info.mode,
                blocks,
            })
            .collect()
    }

    fn begin_phase(&mut self) -> Result<(), TraceError> {
        let rows: Vec<Text1> = diesel::sql_query(
            "SELECT CAST(TABLE_NAME AS CHAR) AS v FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE()",
        )
        .load(&mut self.observer)
        .map_err(setup("listing the tables"))?;
        self.app = rows.into_iter().map(|r| QualName::new("", r.v)).collect();
        Ok(())
    }

    fn trace(&mut self, unit: &Unit, _probe: &[QualName]) -> Result<Observation, TraceError> {
        self.trace_unit(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_takes_the_tables_place_in_the_statement() {
        assert_eq!(
            retarget("ALTER TABLE users ADD COLUMN c int", "cp").as_deref(),
            Some("ALTER TABLE `cp` ADD COLUMN c int")
        );
        assert_eq!(
            retarget("-- why\nalter online table `we``ird`.`t` FORCE", "cp").as_deref(),
            Some("-- why\nalter online table `cp` FORCE")
        );
        assert_eq!(
            retarget("ALTER TABLE IF EXISTS app.users FORCE", "cp").as_deref(),
            Some("ALTER TABLE IF EXISTS `cp` FORCE")
        );
        assert_eq!(retarget("CREATE INDEX i ON t (c)", "cp"), None);
    }

    #[test]
    fn a_named_mode_is_classed_by_its_lock_then_its_algorithm() {
        let change =
            |sql| crate::plan::statement_change(sql, DialectKind::MariaDb).expect("parses");
        let blocks = |sql| named_mode(&change(sql)).map(|m| m.2);
        assert_eq!(
            blocks("ALTER TABLE t ADD COLUMN c int, ALGORITHM=COPY"),
            Some(Blocks::ReadsAndWrites)
        );
        assert_eq!(
            blocks("ALTER TABLE t ADD COLUMN c int, ALGORITHM=INPLACE, LOCK=SHARED"),
            Some(Blocks::Writes)
        );
        assert_eq!(
            blocks("ALTER TABLE t ADD COLUMN c int, ALGORITHM=INSTANT"),
            Some(Blocks::Nothing)
        );
        assert_eq!(blocks("ALTER TABLE t ADD COLUMN c int"), None);
    }
}
