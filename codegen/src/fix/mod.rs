//! `migrate fix`: rewrites a migration into the recipes its findings print. A rule with a
//! mechanical recipe gives it beside its check (`Rule::fix`), as [`Edit`]s of the phase files;
//! the engine ([`engine`]) applies them to the files' text, checks again and repeats until
//! nothing fixable is left, and reports what has no mechanical fix and why. The derive and the
//! CLI share it: the checker asks each fixable finding's rule for its fix ([`PlannedFix`]), so
//! `migrate check` and the compile error say when `migrate fix` applies the recipe.

mod apply;
pub mod decisions;
mod diff;
mod engine;
pub mod new_column;
pub mod recipes;
pub mod split;
pub mod sqltext;

pub use decisions::{ColumnDecision, DecisionError, Decisions};
pub use engine::{
    fix_project, FileChange, FixError, FixOptions, FixOutcome, FixedFinding, Unfixed,
};

use crate::layout::Phase;

/// One change to a migration's phase files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Replace bytes `start..end` of the statement's own phase file (its span, or a part of
    /// it) with `text`; what lies outside the range stays byte for byte.
    Replace {
        start: usize,
        end: usize,
        text: String,
    },
    /// Remove the statement at `start..end` of its own phase file, with its terminator and,
    /// when the statement had its lines to itself, those lines.
    Remove { start: usize, end: usize },
    /// Append `text` (whole statements, each with its `;`) to another phase file of the same
    /// migration, creating the file with a short header when it is missing.
    Append { phase: Phase, text: String },
    /// Replace bytes `start..end` of another, existing phase file of the same migration (a
    /// down.sql statement that undoes the rewritten one).
    ReplaceIn {
        phase: Phase,
        start: usize,
        end: usize,
        text: String,
    },
}

/// A rule's rewrite of one statement into its recipe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fix {
    pub edits: Vec<Edit>,
}

impl Fix {
    pub fn replace(start: usize, end: usize, text: impl Into<String>) -> Self {
        Fix {
            edits: vec![Edit::Replace {
                start,
                end,
                text: text.into(),
            }],
        }
    }

    pub fn and(mut self, edit: Edit) -> Self {
        self.edits.push(edit);
        self
    }
}

/// Why a finding has no mechanical fix: the recipe needs a decision the rewrite cannot make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoFix {
    pub why: String,
    /// The `migrate fix` flag that makes the recipe mechanical (`--fill t.c=EXPR`).
    pub flag: Option<String>,
}

impl NoFix {
    pub fn because(why: impl Into<String>) -> Self {
        NoFix {
            why: why.into(),
            flag: None,
        }
    }

    /// The recipe needs a decision, which `flag` gives `migrate fix`.
    pub fn needs(flag: String, why: impl Into<String>) -> Self {
        NoFix {
            why: why.into(),
            flag: Some(flag),
        }
    }
}

/// What the checker found fixable (or not) on one statement: the rule's answer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFix {
    /// The phase file, relative to the migrations directory (as diagnostics name it).
    pub file: String,
    pub phase: Phase,
    pub line: usize,
    pub column: usize,
    pub rule: &'static str,
    pub outcome: Result<Fix, NoFix>,
}

/// The line `migrate check` and the derive add under a finding `migrate fix` rewrites.
pub const FIX_NOTE: &str = "`cargo xtask migrate fix` applies this recipe";
