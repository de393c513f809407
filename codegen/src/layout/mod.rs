//! Finding migrations on disk: `<version>_<name>/{expand,backfill,contract,down}.sql`, or diesel's
//! `<version>_<name>/{up,down}.sql` (+ `metadata.toml`) read as expand + down. Directory names
//! and versions are read as diesel_migrations reads them ([`version`]); files are read only
//! when regular and at most [`MAX_FILE_BYTES`] ([`files`]). Every problem of the directory is
//! reported at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Severity};
use crate::error::LoadError;
use crate::source::SourceFile;

mod files;
mod version;

pub use files::MAX_FILE_BYTES;
pub use version::{diesel_version, version_order, VersionOrder, MAX_VERSION_DIGITS};

use files::Kind;

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
    /// As written in the directory name (`0002`, `2024-01-31-120000`, `2020-12-7-190800`): the
    /// key of the runtime's state table.
    pub version: String,
    /// The number the version's digits make ([`version_order`]; `u128::MAX` past 38 digits).
    /// **Not** the order migrations run in when the directory holds diesel migrations (diesel
    /// compares versions as text): compare positions in [`MigrationSet::migrations`] instead,
    /// found with [`MigrationSet::position`].
    pub order: u128,
    pub name: String,
    /// Directory name (`0002_add_email`).
    pub dir_name: String,
    pub layout: Layout,
    /// diesel's `run_in_transaction`, from the directory's `metadata.toml` as diesel reads it:
    /// `true` without the file; the file's `run_in_transaction` when it has one; `false` for a
    /// file without the key (diesel's `#[serde(default)]`). diesel runs the whole `up.sql` in
    /// one transaction when `true`, outside any transaction when `false`.
    pub run_in_transaction: bool,
    /// Present phase files, in phase order.
    pub phases: Vec<PhaseFile>,
}

impl Migration {
    pub fn phase(&self, phase: Phase) -> Option<&PhaseFile> {
        self.phases.iter().find(|p| p.phase == phase)
    }

    /// The version diesel records for this migration: [`Migration::version`] without dashes.
    pub fn diesel_version(&self) -> String {
        diesel_version(&self.version)
    }
}

/// The migrations of a directory, in the order they run, and what was odd about it.
#[derive(Debug, Clone)]
pub struct MigrationSet {
    pub dir: PathBuf,
    /// In the order they run: [`MigrationSet::version_order`].
    pub migrations: Vec<Migration>,
    /// Stray files and the like: located warnings, reported with the check's diagnostics.
    pub warnings: Vec<Diagnostic>,
}

impl MigrationSet {
    /// diesel's order when any migration is a diesel one (`up.sql`): diesel applied those, in
    /// that order; else versions compared as numbers.
    pub fn version_order(&self) -> VersionOrder {
        order_of(&self.migrations)
    }

    /// The position in [`MigrationSet::migrations`] of the migration `version` names: its
    /// directory name, its version as written, or a version equal to it in this set's order
    /// (`3` for `0003` in a numeric set; `20240131120000` for `2024-01-31-120000`).
    pub fn position(&self, version: &str) -> Option<usize> {
        let wanted = version.trim();
        if let Some(i) = self
            .migrations
            .iter()
            .position(|m| m.dir_name == wanted || m.version == wanted)
        {
            return Some(i);
        }
        version::check_version(wanted).ok()?;
        let order = self.version_order();
        self.migrations
            .iter()
            .position(|m| order.compare(&m.version, wanted).is_eq())
    }
}

fn order_of(migrations: &[Migration]) -> VersionOrder {
    if migrations.iter().any(|m| m.layout == Layout::Diesel) {
        VersionOrder::Diesel
    } else {
        VersionOrder::Numeric
    }
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
        fixable: false,
        fix_with: None,
    }
}

fn stray_top(name: &str, what: &str) -> Diagnostic {
    warning(
        "stray-file",
        name.to_string(),
        format!("`{name}` is {what}, not a migration directory, and is ignored"),
        "move it out of the migrations directory, or put it inside a <version>_<name>/ directory as a phase file",
    )
}

/// Reads every migration under `dir`. Configuration is read separately ([`crate::Config`]),
/// but `concertina.toml` is refused here when it is no regular file or is too large to read.
///
/// Every problem is reported at once: one is returned as itself, several as
/// [`LoadError::Many`].
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
    let (entries, not_utf8) = files::entries(dir)?;
    let mut errors: Vec<LoadError> = not_utf8
        .into_iter()
        .map(|path| LoadError::BadMigrationName {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path,
            reason: "the name is not valid UTF-8".into(),
        })
        .collect();
    let mut warnings = Vec::new();
    let mut migrations = Vec::new();
    for entry in entries {
        let name = entry.name.as_str();
        let is_config = name == crate::config::CONFIG_FILE;
        let is_readme = name.to_ascii_lowercase().starts_with("readme");
        match entry.kind {
            Kind::BrokenLink => errors.push(LoadError::BrokenLink {
                path: entry.path.clone(),
                what: if is_config {
                    "file"
                } else {
                    "migration directory"
                },
            }),
            _ if is_config => {
                if let Err(e) = files::check_readable(&entry.path) {
                    errors.push(e);
                }
            }
            Kind::File if is_readme => {}
            Kind::File => warnings.push(stray_top(name, "a file")),
            Kind::Special(kind) => warnings.push(stray_top(name, &format!("a {kind}"))),
            Kind::Dir => match version::split_dir_name(name) {
                Err(reason) => errors.push(LoadError::BadMigrationName {
                    path: entry.path.clone(),
                    name: name.to_string(),
                    reason,
                }),
                Ok((version, mig_name)) => {
                    match read_migration(&entry.path, name, version, mig_name, &mut warnings) {
                        Ok(m) => migrations.push(m),
                        Err(e) => errors.extend(e),
                    }
                }
            },
        }
    }
    let order = order_of(&migrations);
    migrations.sort_by(|a, b| {
        order
            .compare(&a.version, &b.version)
            .then_with(|| a.dir_name.cmp(&b.dir_name))
    });
    for pair in migrations.windows(2) {
        if order.compare(&pair[0].version, &pair[1].version).is_eq() {
            errors.push(LoadError::DuplicateVersion {
                path: dir.join(&pair[1].dir_name),
                other: dir.join(&pair[0].dir_name),
                version: order.shown(&pair[1].version),
                diesel: order == VersionOrder::Diesel,
            });
        }
    }
    match errors.len() {
        0 => Ok(MigrationSet {
            dir: dir.to_path_buf(),
            migrations,
            warnings,
        }),
        1 => Err(errors.remove(0)),
        _ => Err(LoadError::Many {
            dir: dir.to_path_buf(),
            errors,
        }),
    }
}

/// diesel's `metadata.toml`: `#[serde(default)] run_in_transaction: bool`, other keys ignored.
#[derive(serde::Deserialize)]
struct DieselMetadata {
    #[serde(default)]
    run_in_transaction: bool,
}

fn read_metadata(path: &Path) -> Result<bool, LoadError> {
    let text = files::read_text(path)?;
    toml::from_str::<DieselMetadata>(&text)
        .map(|m| m.run_in_transaction)
        .map_err(|e| LoadError::BadMetadata {
            path: path.to_path_buf(),
            message: e.message().trim().to_string(),
        })
}

fn phase_of(file: &str) -> Option<Phase> {
    match file {
        "expand.sql" => Some(Phase::Expand),
        "backfill.sql" => Some(Phase::Backfill),
        "contract.sql" => Some(Phase::Contract),
        "down.sql" => Some(Phase::Down),
        _ => None,
    }
}

fn read_migration(
    path: &Path,
    dir_name: &str,
    version: &str,
    name: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Migration, Vec<LoadError>> {
    let (entries, not_utf8) = files::entries(path).map_err(|e| vec![e])?;
    let stray = |rel: String, what: &str| {
        warning(
            "stray-file",
            rel,
            format!("{what} is not a phase file and is ignored"),
            "phase files are expand.sql, backfill.sql, contract.sql and down.sql (diesel: up.sql, down.sql, metadata.toml); rename or remove it",
        )
    };
    for p in not_utf8 {
        let lossy = p.file_name().unwrap_or_default().to_string_lossy();
        warnings.push(stray(
            format!("{dir_name}/{lossy}"),
            "a file whose name is not UTF-8",
        ));
    }
    let mut errors = Vec::new();
    let mut found: BTreeMap<Phase, SourceFile> = BTreeMap::new();
    let mut present: BTreeSet<Phase> = BTreeSet::new();
    let mut up: Option<SourceFile> = None;
    let mut has_up = false;
    let mut run_in_transaction = true;
    for entry in entries {
        let file = entry.name.as_str();
        let rel = format!("{dir_name}/{file}");
        let phase = phase_of(file);
        if phase.is_none() && file != "up.sql" && file != "metadata.toml" {
            let what = match entry.kind {
                Kind::File => format!("`{file}`"),
                Kind::Dir => format!("`{file}` (a directory)"),
                Kind::Special(kind) => format!("`{file}` (a {kind})"),
                Kind::BrokenLink => format!("`{file}` (a symlink that leads nowhere)"),
            };
            warnings.push(stray(rel, &what));
            continue;
        }
        if file == "metadata.toml" {
            match read_metadata(&entry.path) {
                Ok(flag) => run_in_transaction = flag,
                Err(e) => errors.push(e),
            }
            continue;
        }
        if let Some(p) = phase {
            present.insert(p);
        } else {
            has_up = true;
        }
        let text = match files::read_text(&entry.path) {
            Ok(text) => text,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let source = SourceFile::new(rel, entry.path.clone(), text);
        match phase {
            Some(p) => {
                found.insert(p, source);
            }
            None => up = Some(source),
        }
    }
    let concertina: Vec<&str> = [Phase::Expand, Phase::Backfill, Phase::Contract]
        .into_iter()
        .filter(|p| present.contains(p))
        .map(Phase::file_name)
        .collect();
    if has_up && !concertina.is_empty() {
        errors.push(LoadError::MixedLayout {
            path: path.to_path_buf(),
            concertina: concertina.join(", "),
            diesel: "up.sql".into(),
        });
    } else if !has_up && concertina.is_empty() {
        errors.push(LoadError::EmptyMigration {
            path: path.to_path_buf(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let layout = match up {
        Some(up_file) => {
            found.insert(Phase::Expand, up_file);
            Layout::Diesel
        }
        None => Layout::Concertina,
    };
    Ok(Migration {
        version: version.to_string(),
        order: version_order(version).unwrap_or(u128::MAX),
        name: name.to_string(),
        dir_name: dir_name.to_string(),
        layout,
        run_in_transaction,
        phases: found
            .into_iter()
            .map(|(phase, source)| PhaseFile { phase, source })
            .collect(),
    })
}

#[cfg(test)]
mod tests;
