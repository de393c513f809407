//! Edits applied to a phase file's text: everything outside the edited ranges stays byte for
//! byte.

use super::Edit;
use crate::layout::Phase;

/// The edits of one round for one file: replacements and removals of its own statements,
/// text appended from other files' fixes.
#[derive(Debug, Default)]
pub(super) struct FileEdits {
    pub spans: Vec<(usize, usize, String)>,
    pub appended: Vec<String>,
}

impl FileEdits {
    /// The range an edit of this file's statements replaces, and with what; `None` for an
    /// append or a range that is not the file's.
    pub fn span(text: &str, edit: &Edit) -> Option<(usize, usize, String)> {
        let (start, end, new) = match edit {
            Edit::Replace { start, end, text } => (*start, *end, text.clone()),
            Edit::Remove { start, end } => {
                let (s, e) = removal(text, *start, *end);
                (s, e, String::new())
            }
            Edit::Append { .. } | Edit::ReplaceIn { .. } => return None,
        };
        let fits = start <= end
            && end <= text.len()
            && text.is_char_boundary(start)
            && text.is_char_boundary(end);
        fits.then_some((start, end, new))
    }

    /// Overlaps an edit already taken this round (the later one waits for the next round,
    /// against the rewritten text).
    pub fn overlaps(&self, start: usize, end: usize) -> bool {
        self.spans
            .iter()
            .any(|(s, e, _)| start < *e && *s < end || start == *s)
    }

    #[cfg(test)]
    fn take(&mut self, text: &str, edit: &Edit) -> bool {
        match Self::span(text, edit) {
            Some((s, e, new)) if !self.overlaps(s, e) => {
                self.spans.push((s, e, new));
                true
            }
            _ => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.appended.is_empty()
    }

    /// The file's new text; `None` for a file that did not exist and gets nothing.
    pub fn apply(mut self, text: Option<&str>, phase: Phase) -> Option<String> {
        let mut out = match text {
            Some(t) => t.to_string(),
            None if self.appended.is_empty() => return None,
            None => format!(
                "-- {}: written by `cargo xtask migrate fix`\n",
                phase.as_str()
            ),
        };
        self.spans.sort_by_key(|(s, _, _)| std::cmp::Reverse(*s));
        for (start, end, new) in &self.spans {
            out.replace_range(*start..*end, new);
        }
        for statements in &self.appended {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(statements);
            if !statements.ends_with('\n') {
                out.push('\n');
            }
        }
        Some(out)
    }
}

/// The range a removed statement takes with it: its `;`, and its whole line(s) when nothing
/// else shares them (so no blank line is left where it was).
fn removal(text: &str, start: usize, end: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut e = end.min(bytes.len());
    while e < bytes.len() && matches!(bytes[e], b' ' | b'\t') {
        e += 1;
    }
    if e < bytes.len() && bytes[e] == b';' {
        e += 1;
    }
    let after_terminator = e;
    while e < bytes.len() && matches!(bytes[e], b' ' | b'\t' | b'\r') {
        e += 1;
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let alone_before = text[line_start..start].trim().is_empty();
    if e < bytes.len() && bytes[e] == b'\n' && alone_before {
        (line_start, e + 1)
    } else if e == bytes.len() && alone_before {
        (line_start, e)
    } else {
        (start, after_terminator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_statement_takes_its_line_and_nothing_else() {
        let text = "-- keep\nSELECT 1;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;\n\nSELECT 2;\n";
        let start = text.find("ALTER").expect("in text");
        let end = text.find("NULL;").expect("in text") + 4;
        let mut edits = FileEdits::default();
        assert!(edits.take(text, &Edit::Remove { start, end }));
        assert_eq!(
            edits.apply(Some(text), Phase::Expand).as_deref(),
            Some("-- keep\nSELECT 1;\n\nSELECT 2;\n")
        );
        let shared = "SELECT 1; SELECT 2;\n";
        let mut edits = FileEdits::default();
        assert!(edits.take(shared, &Edit::Remove { start: 10, end: 18 }));
        assert_eq!(
            edits.apply(Some(shared), Phase::Expand).as_deref(),
            Some("SELECT 1; \n")
        );
    }

    #[test]
    fn overlapping_edits_wait_and_appends_end_the_file() {
        let text = "CREATE INDEX i ON t (a);";
        let mut edits = FileEdits::default();
        let first = Edit::Replace {
            start: 6,
            end: 12,
            text: " INDEX CONCURRENTLY".into(),
        };
        assert!(edits.take(text, &first));
        assert!(!edits.take(text, &first));
        edits.appended.push("SELECT 1;".into());
        assert_eq!(
            edits.apply(Some(text), Phase::Expand).as_deref(),
            Some("CREATE INDEX CONCURRENTLY i ON t (a);\nSELECT 1;\n")
        );
        let mut new = FileEdits::default();
        new.appended.push("SELECT 1;\n".into());
        assert_eq!(
            new.apply(None, Phase::Contract).as_deref(),
            Some("-- contract: written by `cargo xtask migrate fix`\nSELECT 1;\n")
        );
    }
}
