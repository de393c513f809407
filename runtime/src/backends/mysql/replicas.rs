//! The replicas a MySQL/MariaDB backfill watches: the server's own replica status (when the
//! migrator is pointed at a replica, which is rare) and the replicas named in
//! `runtime.replicas`. The migrator connects to the primary, where `SHOW REPLICA STATUS` says
//! nothing of its replicas, so they are named, as gh-ost's throttle-control replicas are.
//!
//! A named replica that does not replay (`Seconds_Behind_Master` NULL: its SQL or IO thread
//! stopped), that is no replica at all, or that cannot be reached counts as infinitely behind:
//! the backfill waits and says why, rather than run on while nobody knows how far the replica
//! is.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};

use crate::error::RuntimeError;

#[derive(QueryableByName)]
struct Status {
    #[diesel(sql_type = Nullable<BigInt>, column_name = Seconds_Behind_Master)]
    seconds: Option<i64>,
}

/// MySQL 8.0.22+ names the column after the source under `SHOW REPLICA STATUS` (8.4 knows no
/// other spelling of the statement). MySQL 8 cannot be installed here: this path is untested.
#[derive(QueryableByName)]
struct SourceStatus {
    #[diesel(sql_type = Nullable<BigInt>, column_name = Seconds_Behind_Source)]
    seconds: Option<i64>,
}

/// What a server says of its own replication: `None` when it is no replica, else the worst
/// `Seconds_Behind_Master` (`Some(None)`: a channel that does not replay). `Err` when it
/// answers no spelling of the statement.
fn status(conn: &mut MysqlConnection) -> Result<Option<Option<i64>>, String> {
    // MariaDB 10.5+ and MySQL 8.0.22+ know SHOW REPLICA STATUS, older ones only the SLAVE
    // spelling; MariaDB names the column Seconds_Behind_Master under both.
    type Load = fn(&mut MysqlConnection, &str) -> QueryResult<Vec<Option<i64>>>;
    let tries: [(&str, Load); 3] = [
        ("SHOW REPLICA STATUS", |c, sql| {
            diesel::sql_query(sql)
                .load::<Status>(c)
                .map(|r| r.into_iter().map(|s| s.seconds).collect())
        }),
        ("SHOW REPLICA STATUS", |c, sql| {
            diesel::sql_query(sql)
                .load::<SourceStatus>(c)
                .map(|r| r.into_iter().map(|s| s.seconds).collect())
        }),
        ("SHOW SLAVE STATUS", |c, sql| {
            diesel::sql_query(sql)
                .load::<Status>(c)
                .map(|r| r.into_iter().map(|s| s.seconds).collect())
        }),
    ];
    let mut last = String::new();
    for (sql, load) in tries {
        match load(conn, sql) {
            Ok(rows) if rows.is_empty() => return Ok(None),
            Ok(rows) => {
                let stopped = rows.iter().any(Option::is_none);
                let worst = rows.iter().flatten().copied().max().unwrap_or(0);
                return Ok(Some((!stopped).then_some(worst)));
            }
            Err(e) => last = super::describe_error(&e),
        }
    }
    Err(last)
}

/// One named replica.
struct Named {
    /// `host:port`, for messages (never the password).
    name: String,
    url: String,
    conn: Option<MysqlConnection>,
}

/// The replicas one backfill connection watches.
pub struct Replicas {
    /// The server answers neither spelling of `SHOW REPLICA STATUS` (its own status is then
    /// not asked again).
    no_own_status: bool,
    named: Vec<Named>,
    /// What the last look found of the worst replica.
    pub note: Option<String>,
}

impl Replicas {
    /// `entries` as `runtime.replicas` holds them; `primary` is the migrator's URL, whose
    /// user and password a bare `host[:port]` entry uses.
    pub fn new(primary: &str, entries: &[String]) -> Replicas {
        Replicas {
            no_own_status: false,
            named: entries
                .iter()
                .map(|e| {
                    let (name, url) = replica_url(primary, e);
                    Named {
                        name,
                        url,
                        conn: None,
                    }
                })
                .collect(),
            note: None,
        }
    }

    /// The worst lag of the server itself (as a replica) and of every named replica.
    pub fn lag(&mut self, own: &mut MysqlConnection) -> Duration {
        self.note = None;
        let mut worst = Duration::ZERO;
        if !self.no_own_status {
            match status(own) {
                Ok(Some(Some(s))) => worst = Duration::from_secs(s.max(0) as u64),
                Ok(Some(None)) => {
                    self.note = Some("this server is a replica whose replication is stopped (Seconds_Behind_Master is NULL)".into());
                    return Duration::MAX;
                }
                Ok(None) => {}
                Err(_) => self.no_own_status = true,
            }
        }
        for r in &mut self.named {
            if r.conn.is_none() {
                // No database needed: SHOW REPLICA STATUS is the only question.
                let driver = match r.url.split_once("://") {
                    Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                        format!("mysql://{rest}")
                    }
                    _ => r.url.clone(),
                };
                match MysqlConnection::establish(&driver) {
                    Ok(c) => r.conn = Some(c),
                    Err(e) => {
                        let e = RuntimeError::connect(&r.url, e);
                        self.note = Some(format!(
                            "replica {} cannot be reached: {e}; the backfill waits until it can (fix runtime.replicas if the replica is gone)",
                            r.name
                        ));
                        return Duration::MAX;
                    }
                }
            }
            let Some(conn) = r.conn.as_mut() else {
                continue;
            };
            match status(conn) {
                Ok(Some(Some(s))) => {
                    let lag = Duration::from_secs(s.max(0) as u64);
                    if lag > worst {
                        worst = lag;
                        self.note = Some(format!("replica {} is {s} s behind", r.name));
                    }
                }
                Ok(Some(None)) => {
                    self.note = Some(format!(
                        "replica {}: replication is stopped (Seconds_Behind_Master is NULL); START REPLICA on it",
                        r.name
                    ));
                    return Duration::MAX;
                }
                Ok(None) => {
                    self.note = Some(format!(
                        "{} is no replica (SHOW REPLICA STATUS is empty); name the primary's replicas in runtime.replicas",
                        r.name
                    ));
                    return Duration::MAX;
                }
                Err(e) => {
                    // A lost connection: the next look connects again.
                    r.conn = None;
                    self.note = Some(format!("replica {}: {e}", r.name));
                    return Duration::MAX;
                }
            }
        }
        worst
    }
}

/// The URL of a `runtime.replicas` entry and its `host:port` for messages: a `mysql://` URL
/// as it is; a `host` or `host:port` with the user and password of `primary`.
fn replica_url(primary: &str, entry: &str) -> (String, String) {
    let authority = |url: &str| -> String {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let auth = rest.split(['/', '?']).next().unwrap_or(rest);
        auth.rsplit('@').next().unwrap_or(auth).to_string()
    };
    if entry.contains("://") {
        return (authority(entry), entry.to_string());
    }
    let (scheme, rest) = primary.split_once("://").unwrap_or(("mysql", primary));
    let auth = rest.split(['/', '?']).next().unwrap_or(rest);
    let userinfo = auth.rsplit_once('@').map(|(u, _)| u);
    let host = if entry.contains(':') {
        entry.to_string()
    } else {
        format!("{entry}:3306")
    };
    let url = match userinfo {
        Some(u) => format!("{scheme}://{u}@{host}/"),
        None => format!("{scheme}://{host}/"),
    };
    (host, url)
}

#[cfg(test)]
mod tests {
    use super::{replica_url, Replicas};
    use diesel::prelude::*;
    use std::time::Duration;

    /// On the test server (no replica itself): an unreachable named replica counts as
    /// infinitely behind, and the note names it without its password; no names, no lag.
    #[test]
    fn an_unreachable_replica_holds_the_backfill_and_says_so() {
        let admin = crate::mysql::testdb::admin_url();
        let mut own = MysqlConnection::establish(&admin).expect("the test server");
        let mut none = Replicas::new(&admin, &[]);
        assert_eq!(none.lag(&mut own), Duration::ZERO);
        assert_eq!(none.note, None);
        // Port 9 (discard): nothing listens there.
        let mut gone = Replicas::new(
            "mysql://root:s3cret@127.0.0.1:3306/",
            &["127.0.0.1:9".to_string()],
        );
        assert_eq!(gone.lag(&mut own), Duration::MAX);
        let note = gone.note.clone().unwrap_or_default();
        assert!(
            note.contains("replica 127.0.0.1:9 cannot be reached"),
            "{note}"
        );
        assert!(!note.contains("s3cret"), "{note}");
        // A server that is no replica, named as one.
        let mut not_one = Replicas::new(&admin, &["127.0.0.1:3306".to_string()]);
        assert_eq!(not_one.lag(&mut own), Duration::MAX);
        let note = not_one.note.clone().unwrap_or_default();
        assert!(note.contains("127.0.0.1:3306 is no replica"), "{note}");
    }

    #[test]
    fn a_bare_host_takes_the_primarys_credentials() {
        let primary = "mysql://app:s3cret@10.0.0.1:3306/shop?ssl_mode=required";
        assert_eq!(
            replica_url(primary, "10.0.0.2"),
            (
                "10.0.0.2:3306".into(),
                "mysql://app:s3cret@10.0.0.2:3306/".into()
            )
        );
        assert_eq!(
            replica_url(primary, "10.0.0.3:3307").1,
            "mysql://app:s3cret@10.0.0.3:3307/"
        );
        let (name, url) = replica_url(primary, "mysql://monitor:pw@10.0.0.4:3306/");
        assert_eq!(name, "10.0.0.4:3306");
        assert_eq!(url, "mysql://monitor:pw@10.0.0.4:3306/");
        assert_eq!(
            replica_url("mariadb://root@127.0.0.1:3306/db", "127.0.0.1:4000").1,
            "mariadb://root@127.0.0.1:4000/"
        );
    }
}
