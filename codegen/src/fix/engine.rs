//! The fix loop: check, apply every fixable finding's edits to the phase files' text, check
//! again, until nothing fixable is left (bounded). Works on the texts in memory; writing is
//! [`FixOutcome::write`]'s, so the default run only prints the diff.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::apply::FileEdits;
use super::{diff, Edit, PlannedFix};
use crate::check::{self, Report};
use crate::diag::Diagnostic;
use crate::layout::{Layout, Migration, Phase, PhaseFile};
use crate::rules;
use crate::source::SourceFile;
use crate::Project;

/// A fix can make another finding fixable (a statement rewritten twice, by two rules): a few
/// rounds are plenty; a loop that never settles stops here.
const MAX_ROUNDS: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct FixOptions {
    /// Only this migration (a version or directory name).
    pub migration: Option<String>,
    /// Migrations a database has applied or started: version → what says so. Never touched.
    pub applied: BTreeMap<String, String>,
    /// `--fill` and `--new-column`: what recipes that need a decision are told.
    pub decisions: super::Decisions,
}

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("no migration `{name}` in {}; pass a version or a directory name `migrate status` lists", dir.display())]
    UnknownMigration { name: String, dir: PathBuf },
    #[error("{dir_name} {why}: `migrate fix` never rewrites an applied migration (what ran would no longer be what the file says); write the fix as a new migration{hint}")]
    Applied {
        dir_name: String,
        why: String,
        hint: &'static str,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One phase file's text before and after (`None`: the file does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub rel_path: String,
    pub path: PathBuf,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A finding the rewrite took care of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedFinding {
    pub rule: &'static str,
    pub file: String,
    pub line: usize,
}

/// A finding left after the rewrite, with why `migrate fix` did not rewrite it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfixed {
    pub diagnostic: Diagnostic,
    pub why: String,
}

#[derive(Debug, Clone)]
pub struct FixOutcome {
    /// Changed files, in migration and phase order.
    pub changes: Vec<FileChange>,
    pub fixed: Vec<FixedFinding>,
    /// What the check still reports on the rewritten migrations.
    pub unfixed: Vec<Unfixed>,
    pub rounds: usize,
}

impl FixOutcome {
    /// Every change as a unified diff; empty when nothing changes.
    pub fn diff(&self) -> String {
        self.changes
            .iter()
            .map(|c| diff::unified(&c.rel_path, c.before.as_deref(), c.after.as_deref()))
            .collect()
    }

    /// Errors the rewrite left (warnings do not fail `check` either).
    pub fn errors_left(&self) -> usize {
        self.unfixed
            .iter()
            .filter(|u| u.diagnostic.is_error())
            .count()
    }

    /// Writes every change: each file through a temporary file and a rename, so a reader (or
    /// a crash) sees the old text or the new, never half of it.
    pub fn write(&self) -> Result<(), FixError> {
        for c in &self.changes {
            let fail = |source| FixError::Write {
                path: c.path.clone(),
                source,
            };
            match &c.after {
                Some(text) => {
                    let name = c
                        .path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                    let tmp = c.path.with_file_name(format!(".{name}.concertina-fix"));
                    std::fs::write(&tmp, text).map_err(fail)?;
                    if let Err(e) = std::fs::rename(&tmp, &c.path) {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(fail(e));
                    }
                }
                None => std::fs::remove_file(&c.path).map_err(fail)?,
            }
        }
        Ok(())
    }
}

/// Rewrites the project's migrations (or the one `options.migration` names) into their
/// findings' recipes, in memory. Stops with [`FixError::Applied`] rather than touch a migration
/// at or below the baseline or one `options.applied` lists.
pub fn fix_project(project: &Project, options: &FixOptions) -> Result<FixOutcome, FixError> {
    let mut set = project.set.clone();
    let baseline = project.config.baseline.as_deref();
    let baseline_position = baseline.and_then(|b| set.position(b));
    let protected = |position: usize, m: &Migration| -> Option<String> {
        if baseline_position.is_some_and(|b| position <= b) {
            return Some(format!(
                "is at or below the baseline `{}` of concertina.toml, so it counts as applied",
                baseline.unwrap_or_default()
            ));
        }
        options.applied.get(&m.version).cloned()
    };
    let scope = match &options.migration {
        None => None,
        Some(name) => Some(
            set.position(name)
                .ok_or_else(|| FixError::UnknownMigration {
                    name: name.clone(),
                    dir: set.dir.clone(),
                })?,
        ),
    };
    if let Some(position) = scope {
        let m = &set.migrations[position];
        if let Some(why) = protected(position, m) {
            return Err(FixError::Applied {
                dir_name: m.dir_name.clone(),
                why,
                hint: "",
            });
        }
    }

    let mut originals: BTreeMap<(usize, Phase), FileChange> = BTreeMap::new();
    let mut fixed = Vec::new();
    let mut rounds = 0;
    let mut config = project.config.clone();
    config.fix_decisions = options.decisions.clone();
    let mut report = check::check(&set, &config);
    while rounds < MAX_ROUNDS {
        let owner = owners(&set.migrations);
        let mut edits: BTreeMap<(usize, Phase), FileEdits> = BTreeMap::new();
        for planned in &report.fixes {
            let Ok(fix) = &planned.outcome else {
                continue;
            };
            let Some(&position) = owner.get(planned.file.as_str()) else {
                continue;
            };
            if scope.is_some_and(|s| s != position) {
                continue;
            }
            let m = &set.migrations[position];
            if let Some(why) = protected(position, m) {
                return Err(FixError::Applied {
                    dir_name: m.dir_name.clone(),
                    why,
                    hint: "; to fix only the pending ones, name each with --migration VERSION",
                });
            }
            if take(&mut edits, m, position, planned, &fix.edits) {
                fixed.push(FixedFinding {
                    rule: planned.rule,
                    file: planned.file.clone(),
                    line: planned.line,
                });
            }
        }
        if edits.values().all(FileEdits::is_empty) {
            break;
        }
        for ((position, phase), file_edits) in edits {
            let m = &mut set.migrations[position];
            let current = m.phase(phase).map(|p| p.source.text.clone());
            let (rel_path, path) = phase_path(&set.dir, m, phase);
            originals.entry((position, phase)).or_insert(FileChange {
                rel_path: rel_path.clone(),
                path: path.clone(),
                before: current.clone(),
                after: None,
            });
            let after = file_edits
                .apply(current.as_deref(), phase)
                .filter(|t| !t.trim().is_empty());
            m.phases.retain(|p| p.phase != phase);
            if let Some(text) = after {
                m.phases.push(PhaseFile {
                    phase,
                    source: SourceFile::new(rel_path, path, text),
                });
                m.phases.sort_by_key(|p| p.phase);
            }
        }
        rounds += 1;
        report = check::check(&set, &config);
    }

    let changes = originals
        .into_iter()
        .filter_map(|((position, phase), mut change)| {
            change.after = set.migrations[position]
                .phase(phase)
                .map(|p| p.source.text.clone());
            (change.after != change.before).then_some(change)
        })
        .collect();
    let owner = owners(&set.migrations);
    let unfixed = report
        .diagnostics
        .iter()
        .filter(|d| match (scope, owner.get(d.file.as_str())) {
            (Some(s), Some(&p)) => s == p,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .map(|d| Unfixed {
            diagnostic: d.clone(),
            why: why_unfixed(d, &report),
        })
        .collect();
    Ok(FixOutcome {
        changes,
        fixed,
        unfixed,
        rounds,
    })
}

/// Takes all of one fix's edits into this round's, or none of them (when one overlaps an
/// edit already taken: it waits for the next round).
fn take(
    edits: &mut BTreeMap<(usize, Phase), FileEdits>,
    m: &Migration,
    position: usize,
    planned: &PlannedFix,
    fix: &[Edit],
) -> bool {
    let Some(own_text) = m.phase(planned.phase).map(|p| p.source.text.as_str()) else {
        return false;
    };
    let mut spans = Vec::new();
    for edit in fix {
        let (phase, text, edit) = match edit {
            Edit::Append { phase, .. } => {
                // A phase the layout has no file for: nothing to append to.
                if m.layout == Layout::Diesel && !matches!(phase, Phase::Expand | Phase::Down) {
                    return false;
                }
                continue;
            }
            Edit::ReplaceIn {
                phase,
                start,
                end,
                text,
            } => {
                let Some(other) = m.phase(*phase).map(|p| p.source.text.as_str()) else {
                    return false;
                };
                let replace = Edit::Replace {
                    start: *start,
                    end: *end,
                    text: text.clone(),
                };
                (*phase, other, replace)
            }
            own => (planned.phase, own_text, own.clone()),
        };
        match FileEdits::span(text, &edit) {
            Some(span) => spans.push((phase, span)),
            None => return false,
        }
    }
    let overlaps = spans.iter().any(|(phase, (s, e, _))| {
        edits
            .get(&(position, *phase))
            .is_some_and(|file| file.overlaps(*s, *e))
    });
    if overlaps {
        return false;
    }
    for (phase, span) in spans {
        edits.entry((position, phase)).or_default().spans.push(span);
    }
    for edit in fix {
        if let Edit::Append { phase, text } = edit {
            edits
                .entry((position, *phase))
                .or_default()
                .appended
                .push(text.clone());
        }
    }
    true
}

/// Each phase file's migration, by the path diagnostics name it with.
fn owners(migrations: &[Migration]) -> BTreeMap<String, usize> {
    migrations
        .iter()
        .enumerate()
        .flat_map(|(i, m)| m.phases.iter().map(move |p| (p.source.rel_path.clone(), i)))
        .collect()
}

/// Where a phase file of `m` is (or goes): relative to the migrations directory, and on disk.
fn phase_path(dir: &std::path::Path, m: &Migration, phase: Phase) -> (String, PathBuf) {
    if let Some(p) = m.phase(phase) {
        return (p.source.rel_path.clone(), p.source.path.clone());
    }
    let file = match (m.layout, phase) {
        (Layout::Diesel, Phase::Expand) => "up.sql",
        _ => phase.file_name(),
    };
    (
        format!("{}/{file}", m.dir_name),
        dir.join(&m.dir_name).join(file),
    )
}

fn why_unfixed(d: &Diagnostic, report: &Report) -> String {
    if d.fixable {
        return format!("still fixable after {MAX_ROUNDS} rounds: the rewrite does not settle (a bug: please report it)");
    }
    let planned = report
        .fixes
        .iter()
        .find(|f| f.rule == d.rule && f.file == d.file && f.line == d.line && f.column == d.column);
    if let Some(PlannedFix {
        outcome: Err(no), ..
    }) = planned
    {
        return no.why.clone();
    }
    match rules::all_rules().into_iter().find(|r| r.id == d.rule) {
        Some(r) if r.fix.is_some() => "its recipe cannot be written mechanically here".to_string(),
        Some(_) => {
            "`migrate fix` has no mechanical rewrite for this rule: apply the recipe by hand"
                .to_string()
        }
        None => {
            "reported by the checker itself, not a statement rule: nothing to rewrite".to_string()
        }
    }
}
