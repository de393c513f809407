//! Where the tracer runs: a database of its own, created for the trace and dropped after it,
//! on `DATABASE_URL`'s server, or on a throwaway server started for it. Never a database that
//! holds anything: the tracer runs every migration from the first.

use concertina_codegen::dialect::DialectKind;

use super::{TraceError, Tracer};

/// A tracer on its scratch database; dropping it drops the database (and stops the server).
pub struct Scratch {
    pub tracer: Box<dyn Tracer>,
    /// Where it runs, without a password.
    pub place: String,
    // Dropped after the tracer's connections, database before server.
    _guards: Vec<Box<dyn std::any::Any>>,
}

/// Opens a scratch database for `dialect` on `url`'s server, or on a throwaway server.
pub fn open(
    dialect: DialectKind,
    url: Option<&str>,
    on_step: &mut dyn FnMut(&str),
) -> Result<Scratch, TraceError> {
    match dialect {
        #[cfg(feature = "postgres")]
        DialectKind::Postgres => postgres(url, on_step),
        #[cfg(feature = "mysql")]
        DialectKind::MySql | DialectKind::MariaDb => mysql(url, on_step),
        #[allow(unreachable_patterns)]
        other => {
            let _ = (url, on_step);
            Err(TraceError::Setup(format!(
                "this build cannot trace {}: it needs the `{}` feature",
                other.as_str(),
                if other == DialectKind::Postgres {
                    "postgres"
                } else {
                    "mysql"
                }
            )))
        }
    }
}

#[cfg(feature = "postgres")]
fn postgres(url: Option<&str>, on_step: &mut dyn FnMut(&str)) -> Result<Scratch, TraceError> {
    use crate::postgres::testdb::TestDb;
    use crate::postgres::trace::PgTracer;
    let setup = |e: crate::error::RuntimeError| TraceError::Setup(e.to_string());
    let mut guards: Vec<Box<dyn std::any::Any>> = Vec::new();
    let admin = match url {
        Some(url) => url.to_string(),
        None => {
            let server = crate::demo::server::Server::start(|s| on_step(s))
                .map_err(|e| TraceError::Setup(e.to_string()))?;
            let admin = server.url("postgres");
            guards.push(Box::new(server));
            admin
        }
    };
    let db = TestDb::create_on(&admin, "concertina_trace").map_err(setup)?;
    let place = format!("{} (dropped after the trace)", crate::url::redact(&db.url));
    let tracer = PgTracer::connect(&db.url)?;
    // The database goes before the server that holds it.
    guards.insert(0, Box::new(db));
    Ok(Scratch {
        tracer: Box::new(tracer),
        place,
        _guards: guards,
    })
}

/// A database of its own on `url`'s server (its path is replaced), or on a throwaway MariaDB.
#[cfg(feature = "mysql")]
fn mysql(url: Option<&str>, on_step: &mut dyn FnMut(&str)) -> Result<Scratch, TraceError> {
    use crate::mysql::testdb::MySqlTestDb;
    use crate::mysql::trace::MyTracer;
    let mut guards: Vec<Box<dyn std::any::Any>> = Vec::new();
    let admin = match url {
        Some(url) => url.to_string(),
        None => {
            let server = crate::demo::mariadb_server::MariaDbServer::start(|s| on_step(s))
                .map_err(|e| TraceError::Setup(e.to_string()))?;
            let admin = server.url("mysql");
            guards.push(Box::new(server));
            admin
        }
    };
    let db = MySqlTestDb::create_on(&admin, "concertina_trace")
        .map_err(|e| TraceError::Setup(e.to_string()))?;
    let place = format!("{} (dropped after the trace)", crate::url::redact(&db.url));
    let tracer = MyTracer::connect(&db.url)?;
    guards.insert(0, Box::new(db));
    Ok(Scratch {
        tracer: Box::new(tracer),
        place,
        _guards: guards,
    })
}
