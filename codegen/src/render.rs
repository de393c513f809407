//! Printing diagnostics: rustc-style text (annotate-snippets) for people, JSON for tools.

use std::collections::HashMap;

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::check::Report;
use crate::diag::{Diagnostic, Severity};
use crate::source::SourceFile;

/// The part of a file a diagnostic shows: the line holding its position, numbered as in the
/// file, and the annotated span within that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt<'a> {
    pub text: &'a str,
    /// The 1-based number of `text`'s line in the file.
    pub line: usize,
    /// Byte range within `text`.
    pub span: std::ops::Range<usize>,
}

/// The excerpt of `source` a diagnostic at `line:column` shows: only its line, so rendering a
/// diagnostic costs the length of one line, not of the file (the renderer walks all the text
/// it is given, even the lines it folds away: with the whole file, 8,000 findings in one file
/// took 11 s). The caret runs from the column to the end of the line, trailing space excluded.
pub fn excerpt(source: &SourceFile, line: usize, column: usize) -> Excerpt<'_> {
    let text = source.text.as_str();
    let start = source.offset_of(line, column);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let shown = text[line_start..line_end].trim_end_matches('\r');
    let end = text[start..line_end].trim_end().len() + start;
    let span = if end > start {
        start - line_start..end - line_start
    } else {
        start - line_start..start - line_start
    };
    Excerpt {
        text: shown,
        line: source.line_col(start).0,
        span,
    }
}

/// Renders one diagnostic like rustc: `error[rule]: message`, `--> file:line:col`, the line
/// with a caret, `= help: recipe`. `source` is the file's text when it was read.
pub fn render_diagnostic(d: &Diagnostic, source: Option<&SourceFile>, color: bool) -> String {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(d.message.as_str()).id(d.rule.as_str());
    let mut group = match source {
        Some(src) if d.line >= 1 && !src.text.is_empty() => {
            let ex = excerpt(src, d.line, d.column);
            title.element(
                Snippet::source(ex.text)
                    .line_start(ex.line)
                    .path(d.file.as_str())
                    .fold(true)
                    .annotation(AnnotationKind::Primary.span(ex.span)),
            )
        }
        _ => title.element(annotate_snippets::Origin::path(d.file.as_str())),
    };
    if !d.help.is_empty() {
        group = group.element(Level::HELP.message(d.help.as_str()));
    }
    if let Some(note) = d.fix_note() {
        group = group.element(Level::NOTE.message(note));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
    .decor_style(DecorStyle::Ascii);
    let groups: [Group; 1] = [group];
    renderer.render(&groups)
}

/// The whole report as text, ending with a one-line summary. Linear in the number of
/// diagnostics: each renders one line of its file, found through an index built once.
pub fn human(report: &Report, color: bool) -> String {
    let sources: HashMap<&str, &SourceFile> = report
        .migrations
        .iter()
        .flat_map(|m| &m.phases)
        .map(|p| &p.source)
        .chain(report.config_source.as_ref())
        .map(|s| (s.rel_path.as_str(), s))
        .rev() // the first of equal paths wins, as in `Report::source`
        .collect();
    let mut out = String::new();
    for d in &report.diagnostics {
        out.push_str(&render_diagnostic(
            d,
            sources.get(d.file.as_str()).copied(),
            color,
        ));
        out.push_str("\n\n");
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

pub fn summary(report: &Report) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let checked = report.migrations.iter().filter(|m| !m.baselined).count();
    let baselined = report.migrations.len() - checked;
    format!(
        "checked {}{} ({}): {}, {}",
        plural(checked, "migration"),
        if baselined > 0 {
            format!(", replayed {baselined} up to the baseline")
        } else {
            String::new()
        },
        plural(report.statements, "statement"),
        plural(report.errors(), "error"),
        plural(report.warnings(), "warning"),
    )
}

#[derive(Serialize)]
struct JsonReport<'a> {
    diagnostics: &'a [Diagnostic],
}

/// `{"diagnostics":[{"rule":…,"severity":…,"file":…,"line":…,"column":…,"message":…,"help":…}]}`
pub fn json(diagnostics: &[Diagnostic]) -> String {
    serde_json::to_string(&JsonReport { diagnostics })
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise diagnostics: {e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Phase;
    use crate::rules::testing::Case;

    /// The renderer as it was before excerpts: the whole file handed to annotate-snippets.
    fn render_with_whole_file(d: &Diagnostic, src: &SourceFile) -> String {
        let start = src.offset_of(d.line, d.column);
        let line_end = src.text[start..]
            .find('\n')
            .map_or(src.text.len(), |i| start + i);
        let end = src.text[start..line_end].trim_end().len() + start;
        let title = Level::ERROR
            .primary_title(d.message.as_str())
            .id(d.rule.as_str());
        let mut group = title
            .element(
                Snippet::source(src.text.as_str())
                    .line_start(1)
                    .path(d.file.as_str())
                    .fold(true)
                    .annotation(AnnotationKind::Primary.span(start..end.max(start))),
            )
            .element(Level::HELP.message(d.help.as_str()));
        if let Some(note) = d.fix_note() {
            group = group.element(Level::NOTE.message(note));
        }
        Renderer::plain()
            .decor_style(DecorStyle::Ascii)
            .render(&[group])
    }

    #[test]
    fn an_excerpt_is_the_diagnostics_line() {
        let src = SourceFile::new(
            "f.sql",
            "f.sql".into(),
            "SELECT 1;\r\n  SELECT 2;  \nx".into(),
        );
        let ex = excerpt(&src, 2, 3);
        assert_eq!((ex.text, ex.line, ex.span), ("  SELECT 2;  ", 2, 2..11));
        let ex = excerpt(&src, 1, 1);
        assert_eq!((ex.text, ex.line, ex.span), ("SELECT 1;", 1, 0..9));
        // Past the end: the last line, an empty span at its end; never a panic.
        let ex = excerpt(&src, 9, 9);
        assert_eq!((ex.text, ex.line, ex.span), ("x", 3, 1..1));
    }

    /// Rendering 10,000 findings of one file hands the renderer each finding's line, not the
    /// file: the work is linear in the findings (measured by the bytes given to the renderer,
    /// not by a clock), and the text is what rendering the whole file printed.
    #[test]
    fn ten_thousand_findings_in_one_file_render_in_linear_work_and_unchanged() {
        const N: usize = 10_000;
        let expand: String = (0..N)
            .map(|i| format!("CREATE INDEX users_email_{i} ON users (email);\n"))
            .collect();
        let report = Case::pg(
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);",
            &[(Phase::Expand, expand.as_str())],
        )
        .report();
        assert_eq!(report.diagnostics.len(), N);
        let src = report
            .source("0002_change/expand.sql")
            .expect("the expand file");
        let work: usize = report
            .diagnostics
            .iter()
            .map(|d| excerpt(src, d.line, d.column).text.len())
            .sum();
        // Each finding's excerpt is its own line: together, the file once (without the line
        // breaks). Rendering the whole file per finding was N times the file.
        assert_eq!(work, expand.len() - N);
        for i in [0, N / 2, N - 1] {
            let d = &report.diagnostics[i];
            assert_eq!(
                render_diagnostic(d, Some(src), false),
                render_with_whole_file(d, src),
                "finding {i}"
            );
        }
        let text = human(&report, false);
        assert_eq!(text.matches("error[index-not-concurrent]").count(), N);
        assert!(text.contains(&format!(
            "{N} | CREATE INDEX users_email_{} ON users",
            N - 1
        )));
    }
}
