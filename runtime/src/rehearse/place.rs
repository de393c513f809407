//! Where a rehearsal runs: databases of its own (the rehearsal's, the tracer's twin, the
//! rollback's), created on `DATABASE_URL`'s server or on a throwaway server of the configured
//! dialect and `server_version` (PostgreSQL: the version matrix's pinned build of that major),
//! and dropped at the end. Never a database that holds anything.

use std::any::Any;

use concertina_codegen::dialect::DialectKind;
use concertina_codegen::versions::ServerVersion;

use super::{RehearsalServer, RehearseError};

/// A server to create the rehearsal's databases on; dropping it stops a throwaway one.
pub struct Place {
    pub admin: String,
    /// Where, for the report (no password).
    pub description: String,
    _server: Option<Box<dyn Any>>,
}

/// A database of the rehearsal's; dropping it drops the database.
pub struct Database {
    pub url: String,
    _guard: Box<dyn Any>,
}

fn needs(dialect: DialectKind) -> RehearseError {
    RehearseError::Setup(format!(
        "this build cannot rehearse on {}: it needs concertina's `{}` feature",
        dialect.as_str(),
        if dialect == DialectKind::Postgres {
            "postgres"
        } else {
            "mysql"
        }
    ))
}

/// Which throwaway server, when there is no `url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throwaway {
    /// PostgreSQL of `server_version`'s major (the version matrix's build of it); MySQL and
    /// MariaDB: the machine's MariaDB.
    Configured,
    /// The machine's own server binaries (the demo: nothing to fetch).
    Machine,
}

/// `url`'s server, or a throwaway one.
pub fn open(
    dialect: DialectKind,
    version: ServerVersion,
    throwaway: Throwaway,
    url: Option<&str>,
    say: &mut dyn FnMut(&str),
) -> Result<Place, RehearseError> {
    if let Some(url) = url {
        return Ok(Place {
            admin: url.to_string(),
            description: format!(
                "databases of its own on {} (dropped at the end)",
                crate::url::redact(url)
            ),
            _server: None,
        });
    }
    let _ = (&version, &say, throwaway);
    match dialect {
        #[cfg(feature = "postgres")]
        DialectKind::Postgres => {
            use crate::demo::{pg_builds, server::Server};
            let setup = |e: String| RehearseError::Setup(e);
            if throwaway == Throwaway::Machine {
                let server = Server::start(|s| say(s)).map_err(|e| setup(e.to_string()))?;
                return Ok(Place {
                    admin: server.url("postgres"),
                    description: "a throwaway PostgreSQL of this machine".into(),
                    _server: Some(Box::new(server)),
                });
            }
            let fetched =
                pg_builds::install(version.major, &pg_builds::cache_dir(), &mut |s| say(s));
            let (server, note) = match fetched {
                Ok(bindir) => (
                    Server::start_from(bindir, None, |s| say(s))
                        .map_err(|e| setup(e.to_string()))?,
                    format!("a throwaway PostgreSQL {} (server_version)", version.major),
                ),
                Err(e) => {
                    say(&format!(
                        "no PostgreSQL {} build ({e}); rehearsing on this machine's PostgreSQL instead",
                        version.major
                    ));
                    (
                        Server::start(|s| say(s)).map_err(|e| setup(e.to_string()))?,
                        format!(
                            "a throwaway PostgreSQL of this machine (no build of server_version {} could be fetched)",
                            version.major
                        ),
                    )
                }
            };
            Ok(Place {
                admin: server.url("postgres"),
                description: note,
                _server: Some(Box::new(server)),
            })
        }
        #[cfg(feature = "mysql")]
        DialectKind::MySql | DialectKind::MariaDb => {
            let server = crate::demo::mariadb_server::MariaDbServer::start(|s| say(s))
                .map_err(|e| RehearseError::Setup(e.to_string()))?;
            Ok(Place {
                admin: server.url("mysql"),
                description: "a throwaway MariaDB of this machine".into(),
                _server: Some(Box::new(server)),
            })
        }
        #[allow(unreachable_patterns)]
        other => Err(needs(other)),
    }
}

impl Place {
    /// A new empty database on this server, named `<prefix>_<pid>_<time>`.
    pub fn database(&self, dialect: DialectKind, prefix: &str) -> Result<Database, RehearseError> {
        let setup = |e: crate::error::RuntimeError| RehearseError::Setup(e.to_string());
        match dialect {
            #[cfg(feature = "postgres")]
            DialectKind::Postgres => {
                let db = crate::postgres::testdb::TestDb::create_on(&self.admin, prefix)
                    .map_err(setup)?;
                Ok(Database {
                    url: db.url.clone(),
                    _guard: Box::new(db),
                })
            }
            #[cfg(feature = "mysql")]
            DialectKind::MySql | DialectKind::MariaDb => {
                let db = crate::mysql::testdb::MySqlTestDb::create_on(&self.admin, prefix)
                    .map_err(setup)?;
                Ok(Database {
                    url: db.url.clone(),
                    _guard: Box::new(db),
                })
            }
            #[allow(unreachable_patterns)]
            other => {
                let _ = (prefix, setup);
                Err(needs(other))
            }
        }
    }
}

/// The backend's part of the rehearsal on the database at `url`.
pub fn server(dialect: DialectKind, url: &str) -> Result<Box<dyn RehearsalServer>, RehearseError> {
    let db = |e: crate::engine::DbError| RehearseError::Db {
        context: format!("connecting to {}", crate::url::redact(url)),
        error: e,
    };
    match dialect {
        #[cfg(feature = "postgres")]
        DialectKind::Postgres => Ok(Box::new(
            crate::postgres::rehearse::PgRehearsal::connect(url).map_err(db)?,
        )),
        #[cfg(feature = "mysql")]
        DialectKind::MySql | DialectKind::MariaDb => Ok(Box::new(
            crate::mysql::rehearse::MyRehearsal::connect(url).map_err(db)?,
        )),
        #[allow(unreachable_patterns)]
        other => {
            let _ = db;
            Err(needs(other))
        }
    }
}
