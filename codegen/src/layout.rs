//! Finding migrations on disk: `<version>_<name>/{expand,backfill,contract,down}.sql`, or diesel's
//! `<YYYY-MM-DD-HHMMSS>_<name>/{up,down}.sql` read as expand + down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Severity};
use crate::error::LoadError;
use crate::source::SourceFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Expand,
    Backfill,
    Contract,
    /// Undoes expand; never part of the forward model.
    Down,
}

impl Phase {
    pub const FORWARD: [Phase; 3] = [Phase::Expand, Phase::Backfill, Phase::Contract];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Backfill => "backfill",
            Phase::Contract => "contract",
            Phase::Down => "down",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Phase::Expand => "expand.sql",
            Phase::Backfill => "backfill.sql",
            Phase::Contract => "contract.sql",
            Phase::Down => "down.sql",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Concertina,
    /// diesel's `up.sql` / `down.sql`, read as expand / down.
    Diesel,
}

#[derive(Debug, Clone)]
pub struct PhaseFile {
    pub phase: Phase,
    pub source: SourceFile,
}

#[derive(Debug, Clone)]
pub struct Migration {
    /// As written in the directory name (`0002`, `2024-01-31-120000`).
    pub version: String,
    /// Numeric ordering key of the version.
    pub order: u128,
    pub name: String,
    /// Directory name (`0002_add_email`).
    pub dir_name: String,
    pub layout: Layout,
    /// Present phase files, in phase order.
    pub phases: Vec<PhaseFile>,
}

impl Migration {
    pub fn phase(&self, phase: Phase) -> Option<&PhaseFile> {
        self.phases.iter().find(|p| p.phase == phase)
    }
}

/// The migrations of a directory, in version order, and what was odd about it.
#[derive(Debug, Clone)]
pub struct MigrationSet {
    pub dir: PathBuf,
    pub migrations: Vec<Migration>,
    /// Stray files and the like: located warnings, reported with the check's diagnostics.
    pub warnings: Vec<Diagnostic>,
}

/// Parses `0002` or `2024-01-31-120000` into an ordering key.
pub fn version_order(version: &str) -> Option<u128> {
    let is_diesel = version.len() == 17
        && version.char_indices().all(|(i, c)| {
            if [4, 7, 10].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    let digits: String = if is_diesel {
        version.chars().filter(char::is_ascii_digit).collect()
    } else if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) {
        version.to_string()
    } else {
        return None;
    };
    digits.parse().ok()
}

fn split_dir_name(name: &str) -> Option<(&str, &str)> {
    let (version, rest) = name.split_once('_')?;
    if rest.is_empty() {
        return None;
    }
    version_order(version)?;
    Some((version, rest))
}

fn read_text(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 {
        path: path.to_path_buf(),
    })
}

fn warning(rule: &str, file: String, message: String, help: &str) -> Diagnostic {
    Diagnostic {
        rule: rule.into(),
        severity: Severity::Warning,
        file,
        line: 1,
        column: 1,
        message,
        help: help.into(),
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let is_dir = path.is_dir();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(LoadError::BadMigrationName {
                name: entry.file_name().to_string_lossy().into_owned(),
                path,
            });
        };
        entries.push((name, path, is_dir));
    }
    entries.sort();
    Ok(entries)
}

/// Reads every migration under `dir`. Configuration is read separately ([`crate::Config`]).
pub fn discover(dir: &Path) -> Result<MigrationSet, LoadError> {
    if !dir.exists() {
        return Err(LoadError::MissingDir {
            path: dir.to_path_buf(),
        });
    }
    if !dir.is_dir() {
        return Err(LoadError::NotADir {
            path: dir.to_path_buf(),
        });
    }
    let mut warnings = Vec::new();
    let mut by_order: BTreeMap<u128, Migration> = BTreeMap::new();
    for (name, path, is_dir) in sorted_entries(dir)? {
        if name.starts_with('.') {
            continue;
        }
        if !is_dir {
            if name != crate::config::CONFIG_FILE
                && !name.to_ascii_lowercase().starts_with("readme")
            {
                warnings.push(warning(
                    "stray-file",
                    name.clone(),
                    format!("`{name}` is not a migration directory and is ignored"),
                    "move it out of the migrations directory, or put it inside a <version>_<name>/ directory as a phase file",
                ));
            }
            continue;
        }
        let Some((version, mig_name)) = split_dir_name(&name) else {
            return Err(LoadError::BadMigrationName { path, name });
        };
        let order = version_order(version).unwrap_or_default();
        let migration = read_migration(&path, &name, version, mig_name, order, &mut warnings)?;
        if let Some(other) = by_order.get(&order) {
            return Err(LoadError::DuplicateVersion {
                path,
                other: dir.join(&other.dir_name),
                version: version.to_string(),
            });
        }
        by_order.insert(order, migration);
    }
    Ok(MigrationSet {
        dir: dir.to_path_buf(),
        migrations: by_order.into_values().collect(),
        warnings,
    })
}

fn read_migration(
    path: &Path,
    dir_name: &str,
    version: &str,
    name: &str,
    order: u128,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Migration, LoadError> {
    let mut found: BTreeMap<Phase, SourceFile> = BTreeMap::new();
    let mut up: Option<SourceFile> = None;
    for (file, file_path, is_dir) in sorted_entries(path)? {
        let rel = format!("{dir_name}/{file}");
        let phase = match file.as_str() {
            "expand.sql" => Some(Phase::Expand),
            "backfill.sql" => Some(Phase::Backfill),
            "contract.sql" => Some(Phase::Contract),
            "down.sql" => Some(Phase::Down),
            "up.sql" => {
                up = Some(SourceFile::new(
                    rel.clone(),
                    file_path.clone(),
                    read_text(&file_path)?,
                ));
                continue;
            }
            "metadata.toml" => None,
            _ if file.starts_with('.') => None,
            _ => {
                warnings.push(warning(
                    "stray-file",
                    rel.clone(),
                    format!(
                        "`{file}` is not a phase file and is ignored{}",
                        if is_dir { " (a directory)" } else { "" }
                    ),
                    "phase files are expand.sql, backfill.sql, contract.sql and down.sql (diesel: up.sql, down.sql); rename or remove it",
                ));
                None
            }
        };
        if let Some(phase) = phase {
            let text = read_text(&file_path)?;
            found.insert(phase, SourceFile::new(rel, file_path, text));
        }
    }
    let layout = match up {
        Some(up_file) => {
            let concertina: Vec<&str> = [Phase::Expand, Phase::Backfill, Phase::Contract]
                .into_iter()
                .filter(|p| found.contains_key(p))
                .map(Phase::file_name)
                .collect();
            if !concertina.is_empty() {
                return Err(LoadError::MixedLayout {
                    path: path.to_path_buf(),
                    concertina: concertina.join(", "),
                    diesel: "up.sql".into(),
                });
            }
            found.insert(Phase::Expand, up_file);
            Layout::Diesel
        }
        None => Layout::Concertina,
    };
    if !found.keys().any(|p| *p != Phase::Down) {
        return Err(LoadError::EmptyMigration {
            path: path.to_path_buf(),
        });
    }
    Ok(Migration {
        version: version.to_string(),
        order,
        name: name.to_string(),
        dir_name: dir_name.to_string(),
        layout,
        phases: found
            .into_iter()
            .map(|(phase, source)| PhaseFile { phase, source })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_in_both_styles() {
        assert_eq!(version_order("0002"), Some(2));
        assert_eq!(version_order("2024-01-31-120000"), Some(20240131120000));
        assert_eq!(version_order("00x2"), None);
        assert_eq!(version_order("2024-01-31"), None);
        assert_eq!(version_order(""), None);
        assert_eq!(
            split_dir_name("0002_add_email"),
            Some(("0002", "add_email"))
        );
        assert_eq!(split_dir_name("0002-add_email"), None);
        assert_eq!(split_dir_name("0002_"), None);
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "concertina-layout-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_both_layouts_in_version_order() {
        let dir = temp_dir("layouts");
        write(&dir, "2024-01-02-000000_second/up.sql", "SELECT 2;");
        write(&dir, "2024-01-02-000000_second/down.sql", "SELECT -2;");
        write(
            &dir,
            "2024-01-02-000000_second/metadata.toml",
            "run_in_transaction = false",
        );
        write(&dir, "0001_first/expand.sql", "SELECT 1;");
        write(&dir, "0001_first/contract.sql", "SELECT 1;");
        write(&dir, "concertina.toml", "");
        let set = discover(&dir).unwrap();
        let names: Vec<&str> = set.migrations.iter().map(|m| m.dir_name.as_str()).collect();
        assert_eq!(names, ["0001_first", "2024-01-02-000000_second"]);
        let diesel = &set.migrations[1];
        assert_eq!(diesel.layout, Layout::Diesel);
        assert_eq!(
            diesel.phase(Phase::Expand).unwrap().source.rel_path,
            "2024-01-02-000000_second/up.sql"
        );
        assert!(diesel.phase(Phase::Down).is_some());
        assert!(set.warnings.is_empty(), "{:?}", set.warnings);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stray_files_are_warnings_naming_the_path() {
        let dir = temp_dir("stray");
        write(&dir, "0001_first/expand.sql", "SELECT 1;");
        write(&dir, "0001_first/expnad.sql", "SELECT 1;");
        write(&dir, "notes.txt", "x");
        write(&dir, "README.md", "docs are fine");
        let set = discover(&dir).unwrap();
        let files: Vec<&str> = set.warnings.iter().map(|w| w.file.as_str()).collect();
        assert_eq!(files, ["0001_first/expnad.sql", "notes.txt"]);
        assert!(set.warnings.iter().all(|w| w.rule == "stray-file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mixed_layout_is_refused() {
        let dir = temp_dir("mixed");
        write(&dir, "0001_first/expand.sql", "SELECT 1;");
        write(&dir, "0001_first/up.sql", "SELECT 1;");
        let err = discover(&dir).unwrap_err().to_string();
        assert!(
            err.contains("0001_first") && err.contains("up.sql"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
