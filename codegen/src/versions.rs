//! Which `server_version`s exist and which the rules know, per dialect.
//!
//! The rules compare `server_version` against the releases whose behaviour they record
//! (`at_least(12, 0)`, `at_least(8, 0, 29)`, …), so any number "works" — and a typo such as
//! `"99"` or `"1"` silently picks the newest or the oldest behaviour of every rule. Hence three
//! answers:
//!
//! - **known**: the range the rules were written and measured for;
//! - **unknown** (a warning, `unknown-server-version`): a real release outside that range, or a
//!   future one that may plausibly exist; rules apply what they know of the nearest version;
//! - **impossible** (a configuration error naming the key and the fix): a major version no
//!   server of that dialect ever had nor will have soon.
//!
//! The bounds, by major version (minor and patch levels are not checked: they are release
//! numbers the rules only compare):
//!
//! | dialect | known | unknown (warning) | impossible (error) |
//! |---|---|---|---|
//! | PostgreSQL | 10–18 | 6–9 (PostgreSQL 6.0 was the first release under that name, 9.6 the last two-part major), 19–30 (future releases, one a year) | 0–5, over 30 |
//! | MySQL | 5.7, 8.x, 9.x | 3.x–5.6, 6.x (a withdrawn alpha), 10–15 (future) | 0–2 (3.x was the first public release), 7 (a MySQL Cluster/NDB version, whose server reports 5.x or 8.x), over 15 |
//! | MariaDB | 10.x, 11.x | 5.x (5.1 was the first release), 12–25 (12.x exists; MariaDB now ships a major a year) | 0–4, 6–9 (MariaDB went from 5.5 to 10.0; 8.0 is a MySQL version), over 25 |

use crate::dialect::DialectKind;
use std::fmt;

/// A server version such as `14`, `12.3` or `8.0.29`. Missing parts are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ServerVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        ServerVersion {
            major,
            minor,
            patch,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        if parts.next().is_some() {
            return None;
        }
        Some(ServerVersion::new(major, minor, patch))
    }

    /// True when this version is at least `major.minor`.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

/// What concertina knows of a server version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSupport {
    /// The rules were written for it.
    Known,
    /// A real or plausible release the rules were not written for: why, for a warning.
    Unknown(String),
    /// No server of the dialect ever had it: why and how to fix, for an error.
    Impossible(String),
}

/// The range the rules know, as people write it (`10–18`), for messages.
pub fn known_range(dialect: DialectKind) -> &'static str {
    match dialect {
        DialectKind::Postgres => "PostgreSQL 10 to 18",
        DialectKind::MySql => "MySQL 5.7, 8.x and 9.x",
        DialectKind::MariaDb => "MariaDB 10.x and 11.x",
    }
}

pub fn support(dialect: DialectKind, v: ServerVersion) -> VersionSupport {
    let major = v.major;
    let known = known_range(dialect);
    match dialect {
        DialectKind::Postgres => match major {
            10..=18 => VersionSupport::Known,
            6..=9 => VersionSupport::Unknown(format!(
                "PostgreSQL {v} is older than the rules know ({known}): they apply what they know of PostgreSQL 10 and may miss or misjudge locks specific to {v}"
            )),
            19..=30 => VersionSupport::Unknown(format!(
                "PostgreSQL {major} is newer than the rules know ({known}): they apply what they know of PostgreSQL 18"
            )),
            _ => VersionSupport::Impossible(format!(
                "there is no PostgreSQL {major} (releases run from 6.0 to 18 today, one major a year); write the major version of the oldest server you run, e.g. \"14\""
            )),
        },
        DialectKind::MySql => match (major, v.minor) {
            (5, 7..) | (8 | 9, _) => VersionSupport::Known,
            (3..=5, _) | (6, _) => VersionSupport::Unknown(format!(
                "MySQL {v} is older than the rules know ({known}): they apply what they know of MySQL 5.7 and may miss or misjudge locks specific to {v}"
            )),
            (10..=15, _) => VersionSupport::Unknown(format!(
                "MySQL {major} is newer than the rules know ({known}): they apply what they know of MySQL 9; if the server is MariaDB {v}, set dialect = \"mariadb\""
            )),
            (7, _) => VersionSupport::Impossible(
                "there is no MySQL server 7 (7.x numbers MySQL Cluster/NDB releases, whose server reports 5.x or 8.x): write the version `SELECT VERSION()` prints, e.g. \"8.0.35\"".to_string()
            ),
            _ => VersionSupport::Impossible(format!(
                "there is no MySQL {major} (releases run from 3.x to 9.x today); write the version `SELECT VERSION()` prints on the oldest server you run, e.g. \"8.0.35\", or set dialect = \"mariadb\" for MariaDB"
            )),
        },
        DialectKind::MariaDb => match major {
            10 | 11 => VersionSupport::Known,
            5 => VersionSupport::Unknown(format!(
                "MariaDB {v} is older than the rules know ({known}): they apply what they know of MariaDB 10.0 and may miss or misjudge locks specific to {v}"
            )),
            12..=25 => VersionSupport::Unknown(format!(
                "MariaDB {major} is newer than the rules know ({known}): they apply what they know of MariaDB 11"
            )),
            6..=9 => VersionSupport::Impossible(format!(
                "there is no MariaDB {major} (MariaDB went from 5.5 to 10.0; {major}.x is a MySQL version): write the MariaDB version `SELECT VERSION()` prints, e.g. \"10.11\", or set dialect = \"mysql\" for MySQL"
            )),
            _ => VersionSupport::Impossible(format!(
                "there is no MariaDB {major} (releases run from 5.1 to 12.x today); write the version `SELECT VERSION()` prints on the oldest server you run, e.g. \"10.11\""
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(dialect: DialectKind, text: &str) -> VersionSupport {
        support(dialect, ServerVersion::parse(text).expect("a version"))
    }

    fn kind(s: &VersionSupport) -> &'static str {
        match s {
            VersionSupport::Known => "known",
            VersionSupport::Unknown(_) => "unknown",
            VersionSupport::Impossible(_) => "impossible",
        }
    }

    #[test]
    fn postgres_bounds() {
        use DialectKind::Postgres as P;
        for (v, want) in [
            ("0", "impossible"),
            ("5", "impossible"),
            ("6", "unknown"),
            ("9", "unknown"),
            ("9.6", "unknown"),
            ("10", "known"),
            ("12.4", "known"),
            ("18", "known"),
            ("19", "unknown"),
            ("30", "unknown"),
            ("31", "impossible"),
            ("99", "impossible"),
        ] {
            assert_eq!(kind(&of(P, v)), want, "postgres {v}");
        }
    }

    #[test]
    fn mysql_bounds() {
        use DialectKind::MySql as M;
        for (v, want) in [
            ("2", "impossible"),
            ("5.6", "unknown"),
            ("5.7", "known"),
            ("6.0", "unknown"),
            ("7.4", "impossible"),
            ("8.0.29", "known"),
            ("9.1", "known"),
            ("10.11", "unknown"),
            ("16", "impossible"),
        ] {
            assert_eq!(kind(&of(M, v)), want, "mysql {v}");
        }
        let VersionSupport::Unknown(why) = of(M, "10.11") else {
            unreachable!("checked above")
        };
        assert!(why.contains("dialect = \"mariadb\""), "{why}");
    }

    #[test]
    fn mariadb_bounds() {
        use DialectKind::MariaDb as M;
        for (v, want) in [
            ("4", "impossible"),
            ("5.5", "unknown"),
            ("8.0", "impossible"),
            ("10.3", "known"),
            ("11.4", "known"),
            ("12.1", "unknown"),
            ("25", "unknown"),
            ("26", "impossible"),
            ("99", "impossible"),
        ] {
            assert_eq!(kind(&of(M, v)), want, "mariadb {v}");
        }
        let VersionSupport::Impossible(why) = of(M, "8.0") else {
            unreachable!("checked above")
        };
        assert!(why.contains("dialect = \"mysql\""), "{why}");
    }
}
