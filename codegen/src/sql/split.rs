//! Splitting a phase file into statements with sqlparser's tokenizer, so `;` inside strings,
//! dollar quotes, comments, `DO` blocks and function bodies never splits a statement.
//! `BEGIN ATOMIC … END` bodies are tracked by depth; MySQL's client-side `DELIMITER` command
//! switches to a custom terminator, and statements so written are kept whole.

use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::dialect::Dialect;
use crate::source::SourceFile;

/// A `--` comment found between statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapComment {
    pub line: usize,
    /// Byte offset of the comment in the file.
    pub offset: usize,
    /// The text after `--`, untrimmed.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct RawStatement {
    /// Byte range in the file, without the terminator.
    pub start: usize,
    pub end: usize,
    /// Tokens of the statement (comments and whitespace included, terminator excluded).
    pub tokens: Vec<TokenWithSpan>,
    /// Comments between the previous statement and this one.
    pub leading_comments: Vec<GapComment>,
    /// Why the statement cannot be parsed before even trying (tokenizer error, `DELIMITER`).
    pub unparsable: Option<String>,
    /// The tokenizer failed in this statement: it runs from the last terminator before the
    /// failing token to the end of the region.
    pub lexical_error: Option<LexicalError>,
}

/// A token the tokenizer could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexicalError {
    /// Byte offset in the file where the failing token starts.
    pub offset: usize,
    /// The tokenizer's message.
    pub message: String,
    /// A string, quoted identifier, dollar quote or block comment that is never closed: the
    /// server would read the rest of the file (and whatever SQL the runtime sends after it)
    /// as part of that token.
    pub unterminated: bool,
}

/// sqlparser's messages for a token that runs to the end of the text: "Unterminated string
/// literal", "Unterminated dollar-quoted string", "Unterminated dollar-quoted, expected $",
/// "Unexpected EOF while in a multi-line comment", "Expected close delimiter '\"' before
/// EOF." (a quoted identifier). Tested per kind, so an upgrade that rewords them is caught.
fn is_unterminated(message: &str) -> bool {
    message.contains("Unterminated") || message.contains("EOF")
}

#[derive(Debug, Clone, Default)]
pub struct SplitFile {
    pub statements: Vec<RawStatement>,
    /// Comments after the last statement.
    pub trailing_comments: Vec<GapComment>,
}

/// Splits a file. Never fails: what cannot be tokenised becomes an unparsable statement.
pub fn split(file: &SourceFile, dialect: &dyn Dialect) -> SplitFile {
    let text = file.text.as_str();
    if dialect.has_delimiter_command() {
        if let Some(split) = split_with_delimiters(file, dialect) {
            return split;
        }
    }
    let mut out = SplitFile::default();
    split_region(file, dialect, 0, text.len(), &mut out);
    out
}

fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

fn word_upper(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

/// Splits `text[from..to]` (a region with `;` as terminator) and appends to `out`.
fn split_region(
    file: &SourceFile,
    dialect: &dyn Dialect,
    from: usize,
    to: usize,
    out: &mut SplitFile,
) {
    let region = &file.text[from..to];
    let (region_line, region_col) = file.line_col(from);
    let relocate = |tokens: &mut Vec<TokenWithSpan>| {
        for t in tokens.iter_mut() {
            for loc in [&mut t.span.start, &mut t.span.end] {
                if loc.line == 1 {
                    loc.column += region_col as u64 - 1;
                }
                loc.line += region_line as u64 - 1;
            }
        }
    };
    let offset_of = |t: &TokenWithSpan, end: bool| {
        let loc = if end { t.span.end } else { t.span.start };
        file.offset_of(loc.line as usize, loc.column as usize)
    };
    // On an error the buffer keeps every token before the failing one, so the failing token
    // starts where the last good one ends. (The error's own location is no help: for an
    // unterminated dollar quote or block comment it is the end of the text.)
    let mut tokens: Vec<TokenWithSpan> = Vec::new();
    let result =
        Tokenizer::new(dialect.parser(), region).tokenize_with_location_into_buf(&mut tokens);
    relocate(&mut tokens);
    let failure = match result {
        Ok(()) => None,
        Err(e) => {
            let token_start = tokens
                .last()
                .map_or(from, |t| offset_of(t, true))
                .clamp(from, to);
            // Keep what precedes the failing token's statement: cut back to the last
            // terminator, so a half statement is not parsed on its own; the rest becomes one
            // unparsable statement.
            let cut = tokens
                .iter()
                .rposition(|t| t.token == Token::SemiColon)
                .map_or(0, |i| i + 1);
            let cut_offset = tokens.get(cut).map_or(token_start, |t| offset_of(t, false));
            tokens.truncate(cut);
            let message = e.message.clone();
            Some((
                cut_offset,
                LexicalError {
                    offset: token_start,
                    unterminated: is_unterminated(&message),
                    message,
                },
            ))
        }
    };

    let mut current: Vec<TokenWithSpan> = Vec::new();
    let mut comments: Vec<GapComment> = Vec::new();
    let mut started = false;
    let mut atomic_depth = 0usize;
    let mut prev_word: Option<String> = None;
    let flush =
        |current: &mut Vec<TokenWithSpan>, comments: &mut Vec<GapComment>, out: &mut SplitFile| {
            let Some(first) = current.iter().position(|t| !is_trivia(&t.token)) else {
                current.clear();
                return;
            };
            let last = current
                .iter()
                .rposition(|t| !is_trivia(&t.token))
                .unwrap_or(first);
            let start = offset_of(&current[first], false);
            let end = offset_of(&current[last], true);
            out.statements.push(RawStatement {
                start,
                end: end.max(start),
                tokens: std::mem::take(current),
                leading_comments: std::mem::take(comments),
                unparsable: None,
                lexical_error: None,
            });
        };
    for token in tokens {
        if !started {
            match &token.token {
                Token::Whitespace(Whitespace::SingleLineComment { comment, prefix })
                    if prefix == "--" =>
                {
                    let offset = offset_of(&token, false);
                    comments.push(GapComment {
                        line: token.span.start.line as usize,
                        offset,
                        text: comment.clone(),
                    });
                    continue;
                }
                Token::Whitespace(_) => continue,
                Token::SemiColon => continue,
                Token::EOF => continue,
                _ => started = true,
            }
        }
        match &token.token {
            Token::SemiColon if atomic_depth == 0 => {
                flush(&mut current, &mut comments, out);
                started = false;
                prev_word = None;
                continue;
            }
            Token::EOF => continue,
            t => {
                if let Some(w) = word_upper(t) {
                    match (prev_word.as_deref(), w.as_str()) {
                        (Some("BEGIN"), "ATOMIC") => atomic_depth += 1,
                        (_, "CASE") if atomic_depth > 0 => atomic_depth += 1,
                        (_, "END") if atomic_depth > 0 => atomic_depth -= 1,
                        _ => {}
                    }
                    prev_word = Some(w);
                }
            }
        }
        current.push(token);
    }
    flush(&mut current, &mut comments, out);
    out.trailing_comments.append(&mut comments);
    if let Some((cut_offset, error)) = failure {
        let start = skip_space(&file.text, cut_offset, to);
        if start < to {
            let (line, column) = file.line_col(error.offset);
            out.statements.push(RawStatement {
                start,
                end: trim_end(&file.text, start, to),
                tokens: Vec::new(),
                leading_comments: Vec::new(),
                unparsable: Some(format!("{} at line {line}, column {column}", error.message)),
                lexical_error: Some(error),
            });
        }
    }
}

fn skip_space(text: &str, mut at: usize, to: usize) -> usize {
    while at < to && text.as_bytes()[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

fn trim_end(text: &str, from: usize, mut to: usize) -> usize {
    while to > from
        && (text.as_bytes()[to - 1].is_ascii_whitespace() || text.as_bytes()[to - 1] == b';')
    {
        to -= 1;
    }
    to
}

/// MySQL client `DELIMITER x` lines: regions with `;` are split normally, statements
/// terminated by a custom delimiter are kept whole and unparsed. `None` when there is none.
fn split_with_delimiters(file: &SourceFile, dialect: &dyn Dialect) -> Option<SplitFile> {
    let text = file.text.as_str();
    let mut directives = Vec::new(); // (line start, line end incl. newline, delimiter)
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let mut words = trimmed.splitn(2, char::is_whitespace);
        if words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("delimiter"))
        {
            if let Some(delim) = words.next().map(str::trim).filter(|d| !d.is_empty()) {
                directives.push((pos, pos + line.len(), delim.to_string()));
            }
        }
        pos += line.len();
    }
    if directives.is_empty() {
        return None;
    }
    let mut out = SplitFile::default();
    let mut region_start = 0;
    let mut delimiter = ";".to_string();
    let regions = directives
        .iter()
        .map(|(s, e, d)| (*s, *e, Some(d.clone())))
        .chain(std::iter::once((text.len(), text.len(), None)));
    for (line_start, line_end, next) in regions {
        if delimiter == ";" {
            split_region(file, dialect, region_start, line_start, &mut out);
        } else {
            let region = &text[region_start..line_start];
            let mut at = 0;
            for piece in region.split(delimiter.as_str()) {
                let start = skip_space(text, region_start + at, region_start + at + piece.len());
                let end = trim_end(text, start, region_start + at + piece.len());
                at += piece.len() + delimiter.len();
                if start < end {
                    out.statements.push(RawStatement {
                        start,
                        end,
                        tokens: Vec::new(),
                        leading_comments: Vec::new(),
                        unparsable: Some(format!(
                            "written under `DELIMITER {delimiter}`: kept whole, not parsed"
                        )),
                        lexical_error: None,
                    });
                }
            }
        }
        region_start = line_end;
        if let Some(d) = next {
            delimiter = d;
        }
    }
    Some(out)
}
