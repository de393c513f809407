//! Diagnostics: what every stage reports, in one shape, so the CLI and the derive print the same.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding, located in a migration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub rule: String,
    pub severity: Severity,
    /// Path relative to the migrations directory (`0002_add_email/expand.sql`).
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
    /// `migrate fix` rewrites the statement into the recipe (the rule's fix applies).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fixable: bool,
    /// What `migrate fix` needs to be told to rewrite it (`--fill users.phone=EXPR`): the
    /// recipe is mechanical once the user makes the decision the placeholder names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_with: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The note under the finding when `migrate fix` rewrites it, or would with a decision.
    pub fn fix_note(&self) -> Option<String> {
        if self.fixable {
            return Some(crate::fix::FIX_NOTE.to_string());
        }
        let flag = self.fix_with.as_deref()?;
        let choice = flag.rsplit('=').next().unwrap_or(flag);
        Some(format!(
            "`cargo xtask migrate fix {flag}` applies this recipe, with the {choice} you choose"
        ))
    }
}

/// Sorts diagnostics into reading order: by file order of the migrations, then position.
/// `file_rank` gives each file's position in replay order.
pub fn sort_diagnostics(diags: &mut [Diagnostic], file_rank: impl Fn(&str) -> usize) {
    diags.sort_by(|a, b| {
        (file_rank(&a.file), a.line, a.column, &a.rule).cmp(&(
            file_rank(&b.file),
            b.line,
            b.column,
            &b.rule,
        ))
    });
}
