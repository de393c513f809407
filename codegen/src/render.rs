//! Printing diagnostics: rustc-style text (annotate-snippets) for people, JSON for tools.

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::check::Report;
use crate::diag::{Diagnostic, Severity};
use crate::source::SourceFile;

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
            let start = src.offset_of(d.line, d.column);
            let line_end = src.text[start..]
                .find('\n')
                .map_or(src.text.len(), |i| start + i);
            let end = src.text[start..line_end].trim_end().len() + start;
            let span = if end > start {
                start..end
            } else {
                start..start
            };
            title.element(
                Snippet::source(src.text.as_str())
                    .line_start(1)
                    .path(d.file.as_str())
                    .fold(true)
                    .annotation(AnnotationKind::Primary.span(span)),
            )
        }
        _ => title.element(annotate_snippets::Origin::path(d.file.as_str())),
    };
    if !d.help.is_empty() {
        group = group.element(Level::HELP.message(d.help.as_str()));
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

/// The whole report as text, ending with a one-line summary.
pub fn human(report: &Report, color: bool) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        out.push_str(&render_diagnostic(d, report.source(&d.file), color));
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
