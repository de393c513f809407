//! `migrate init`: writes `concertina.toml` for an existing migrations directory (a diesel
//! project's, typically) and changes nothing else: not the migrations, not the database.
//! What it decides, and why, is returned so the command can print it.
//!
//! - `dialect`: from the URL's scheme (and the server's own version string, which says
//!   MariaDB), else from the SQL (`AUTO_INCREMENT`, backticks, `ENGINE=` against `SERIAL`,
//!   `$$`, `::`, `TIMESTAMPTZ`…), else PostgreSQL.
//! - `server_version`: read from the server; without a URL the oldest version the rules treat
//!   as common (a guess, said so).
//! - `baseline`: the last migration, in directory order, that diesel_migrations recorded in
//!   `__diesel_schema_migrations`: everything up to it is history that is replayed, never
//!   checked or run. Without a URL (or without diesel's table) there is none.

use std::path::{Path, PathBuf};

use concertina_codegen::dialect::DialectKind;
use concertina_codegen::layout::{self, Layout};

use crate::error::RuntimeError;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already exists; edit it (or delete it to run `migrate init` again)", .0.display())]
    Exists(PathBuf),
    #[error(transparent)]
    Load(#[from] concertina_codegen::LoadError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

/// What `init` decided.
#[derive(Debug, Clone)]
pub struct InitReport {
    pub path: PathBuf,
    pub dialect: DialectKind,
    pub server_version: String,
    pub baseline: Option<String>,
    /// One line per decision: what and why.
    pub reasons: Vec<String>,
    pub text: String,
}

/// The server kind a URL's scheme names (MariaDB is told apart by its version string later).
fn dialect_of_url(url: &str) -> Option<DialectKind> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Some(DialectKind::Postgres)
    } else if lower.starts_with("mariadb://") {
        Some(DialectKind::MariaDb)
    } else if lower.starts_with("mysql://") {
        Some(DialectKind::MySql)
    } else {
        None
    }
}

/// The dialect the SQL is written in, by markers only one side uses; `None` when it says
/// nothing either way.
fn dialect_of_sql(texts: &[String]) -> Option<(DialectKind, usize, usize)> {
    let (mut my, mut pg) = (0, 0);
    for text in texts {
        let upper = text.to_ascii_uppercase();
        my += [
            "AUTO_INCREMENT",
            "ENGINE=",
            "ENGINE =",
            "`",
            "UNSIGNED",
            "TINYINT",
        ]
        .iter()
        .map(|m| upper.matches(m).count())
        .sum::<usize>();
        pg += [
            "SERIAL",
            "$$",
            "::",
            "TIMESTAMPTZ",
            "JSONB",
            "CREATE EXTENSION",
            "GENERATED ALWAYS AS IDENTITY",
            "DIESEL_MANAGE_UPDATED_AT",
        ]
        .iter()
        .map(|m| upper.matches(m).count())
        .sum::<usize>();
    }
    match my.cmp(&pg) {
        std::cmp::Ordering::Greater => Some((DialectKind::MySql, my, pg)),
        std::cmp::Ordering::Less => Some((DialectKind::Postgres, my, pg)),
        std::cmp::Ordering::Equal => None,
    }
}

/// `major.minor` of a server's version string (`15.4 (Debian …)`, `10.11.6-MariaDB-…`).
fn major_minor(version: &str) -> String {
    let numeric: String = version
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    numeric
        .split('.')
        .filter(|p| !p.is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

pub fn init(dir: &Path, url: Option<&str>) -> Result<InitReport, InitError> {
    let path = dir.join("concertina.toml");
    if path.exists() {
        return Err(InitError::Exists(path));
    }
    let set = layout::discover(dir)?;
    let mut reasons = Vec::new();
    let texts: Vec<String> = set
        .migrations
        .iter()
        .flat_map(|m| m.phases.iter().map(|p| p.source.text.clone()))
        .collect();

    let url = url.map(str::trim).filter(|u| !u.is_empty());
    let mut dialect = match url.and_then(dialect_of_url) {
        Some(d) => {
            reasons.push(format!("dialect: {} (the URL's scheme)", d.as_str()));
            d
        }
        None => match dialect_of_sql(&texts) {
            Some((d, my, pg)) => {
                reasons.push(format!(
                    "dialect: {} (the SQL: {my} MySQL marker(s) against {pg} PostgreSQL marker(s))",
                    d.as_str()
                ));
                d
            }
            None => {
                reasons.push(
                    "dialect: postgres (nothing in the URL or the SQL says otherwise)".into(),
                );
                DialectKind::Postgres
            }
        },
    };

    let mut server_version = None;
    let mut baseline = None;
    if let Some(url) = url {
        let mut db = crate::backend::connect(dialect, url)?;
        let reported = db.server_version()?;
        if dialect == DialectKind::MySql && reported.to_ascii_lowercase().contains("mariadb") {
            dialect = DialectKind::MariaDb;
            reasons.push(format!("dialect: mariadb (the server says `{reported}`)"));
        }
        let version = major_minor(&reported);
        reasons.push(format!(
            "server_version: {version} (the server says `{reported}`; set it to the oldest server you run)"
        ));
        server_version = Some(version);
        match db.diesel_versions()? {
            Some(recorded) => {
                let applied: Vec<&layout::Migration> = set
                    .migrations
                    .iter()
                    .filter(|m| recorded.contains(&m.diesel_version()))
                    .collect();
                if let Some(last) = applied.last() {
                    reasons.push(format!(
                        "baseline: {} (the last of the {} migration(s) __diesel_schema_migrations records as run: replayed into the model, never checked or run)",
                        last.version,
                        applied.len()
                    ));
                    baseline = Some(last.version.clone());
                }
                let known: Vec<String> = set.migrations.iter().map(|m| m.diesel_version()).collect();
                let strangers = recorded.iter().filter(|v| !known.contains(v)).count();
                if strangers > 0 {
                    reasons.push(format!(
                        "note: __diesel_schema_migrations records {strangers} version(s) with no directory here"
                    ));
                }
            }
            None => reasons.push(
                "baseline: none (the database has no __diesel_schema_migrations: nothing ran here through diesel)".into(),
            ),
        }
    } else {
        reasons.push(
            "baseline: none (no --database-url: pass one to take the last applied migration as baseline)".into(),
        );
    }
    let server_version = server_version.unwrap_or_else(|| {
        let guess = match dialect {
            DialectKind::Postgres => "13",
            DialectKind::MySql => "8.0",
            DialectKind::MariaDb => "10.6",
        };
        reasons.push(format!(
            "server_version: {guess} (a guess without --database-url: set it to the oldest server you run)"
        ));
        guess.to_string()
    });
    if set.migrations.iter().any(|m| m.layout == Layout::Diesel) {
        reasons.push("diesel layout: up.sql runs as expand, down.sql as down; every migration concertina applies is also recorded in __diesel_schema_migrations".into());
    }

    let mut text = format!(
        "# Written by `migrate init`; see the README's \"Adopting an existing project\".\ndialect = \"{}\"\nserver_version = \"{server_version}\"\n",
        dialect.as_str()
    );
    if let Some(b) = &baseline {
        text.push_str(&format!(
            "# Migrations up to here ran before concertina: replayed, never checked or run.\nbaseline = \"{b}\"\n"
        ));
    }
    std::fs::write(&path, &text).map_err(|e| InitError::Write {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    // What was written must load: if not, take it back rather than leave a broken file.
    if let Err(e) = concertina_codegen::Config::load(dir) {
        let _ = std::fs::remove_file(&path);
        return Err(e.into());
    }
    Ok(InitReport {
        path,
        dialect,
        server_version,
        baseline,
        reasons,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_dialects_are_read() {
        assert_eq!(major_minor("15.4 (Debian 15.4-1)"), "15.4");
        assert_eq!(major_minor("10.11.6-MariaDB-0+deb12u1"), "10.11");
        assert_eq!(major_minor("16"), "16");
        let my =
            vec!["CREATE TABLE `a` (id int AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB;".to_string()];
        assert_eq!(dialect_of_sql(&my).map(|d| d.0), Some(DialectKind::MySql));
        let pg = vec!["CREATE TABLE a (id SERIAL PRIMARY KEY, t TIMESTAMPTZ);".to_string()];
        assert_eq!(
            dialect_of_sql(&pg).map(|d| d.0),
            Some(DialectKind::Postgres)
        );
        assert_eq!(dialect_of_sql(&["SELECT 1;".to_string()]), None);
        assert_eq!(dialect_of_url("mariadb://x/y"), Some(DialectKind::MariaDb));
        assert_eq!(
            dialect_of_url("postgresql://x/y"),
            Some(DialectKind::Postgres)
        );
    }
}
