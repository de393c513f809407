//! What a rule's fix needs of a statement's text: its tokens with their byte ranges (to insert
//! a keyword at the right place and keep every other byte), and identifiers quoted as the
//! dialect needs them.

use crate::change::QualName;
use crate::dialect::Dialect;
#[cfg(test)]
use crate::dialect::DialectKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An unquoted keyword or identifier.
    Word,
    /// `"name"` or `` `name` ``.
    Quoted,
    /// A string literal, a dollar-quoted body, a number.
    Literal,
    Punct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
    /// Parenthesis depth the token sits at (a `(` is at the depth outside it).
    pub depth: usize,
}

impl Token {
    /// An unquoted word equal to `keyword`, any case.
    pub fn is(&self, text: &str, keyword: &str) -> bool {
        self.kind == TokenKind::Word && text[self.start..self.end].eq_ignore_ascii_case(keyword)
    }
}

/// The tokens of `text`, comments and whitespace skipped. `None` when a quote, comment or
/// dollar quote is never closed (the checker reports that itself; a fix leaves it alone).
pub fn tokens(text: &str) -> Option<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                continue;
            }
            b'#' => {
                // MySQL's line comment; PostgreSQL has no `#` token a statement prefix uses.
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(bytes, i)?;
                continue;
            }
            b'\'' => {
                i = quoted_end(bytes, i, b'\'', false)?;
                TokenKind::Literal
            }
            b'"' | b'`' => {
                i = quoted_end(bytes, i, c, false)?;
                TokenKind::Quoted
            }
            b'$' => match dollar_tag(text, i) {
                Some(tag) => {
                    let body = i + tag.len();
                    i = text[body..].find(tag).map(|n| body + n + tag.len())?;
                    TokenKind::Literal
                }
                None => {
                    i += 1;
                    TokenKind::Punct
                }
            },
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                // E'…' takes backslash escapes.
                if (c == b'e' || c == b'E') && bytes.get(i + 1) == Some(&b'\'') {
                    i = quoted_end(bytes, i + 1, b'\'', true)?;
                    TokenKind::Literal
                } else {
                    while i < bytes.len()
                        && (bytes[i].is_ascii_alphanumeric()
                            || bytes[i] == b'_'
                            || bytes[i] == b'$'
                            || bytes[i] >= 0x80)
                    {
                        i += 1;
                    }
                    TokenKind::Word
                }
            }
            c if c.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                TokenKind::Literal
            }
            _ => {
                i += text[i..].chars().next().map_or(1, char::len_utf8);
                TokenKind::Punct
            }
        };
        if c == b')' {
            depth = depth.saturating_sub(1);
        }
        out.push(Token {
            kind,
            start,
            end: i,
            depth,
        });
        if c == b'(' {
            depth += 1;
        }
    }
    Some(out)
}

fn block_comment_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    let mut nesting = 0usize;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                nesting += 1;
                i += 2;
            }
            (b'*', b'/') => {
                nesting -= 1;
                i += 2;
                if nesting == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The end of a quoted token opened at `i`; a doubled quote is one quote character.
fn quoted_end(bytes: &[u8], i: usize, quote: u8, backslash: bool) -> Option<usize> {
    let mut j = i + 1;
    while j < bytes.len() {
        if backslash && bytes[j] == b'\\' {
            j += 2;
            continue;
        }
        if bytes[j] == quote {
            if bytes.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return Some(j + 1);
        }
        j += 1;
    }
    None
}

/// `$tag$` (or `$$`) at `i`.
fn dollar_tag(text: &str, i: usize) -> Option<&str> {
    let rest = &text[i + 1..];
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if rest.as_bytes().get(len) == Some(&b'$') && !rest.as_bytes().first()?.is_ascii_digit() {
        Some(&text[i..i + len + 2])
    } else {
        None
    }
}

/// Words that start a clause of a column definition, so end the clause before them.
pub const COLUMN_CLAUSES: &[&str] = &[
    "CONSTRAINT",
    "UNIQUE",
    "PRIMARY",
    "CHECK",
    "REFERENCES",
    "NOT",
    "NULL",
    "DEFAULT",
    "COLLATE",
    "GENERATED",
];

/// The statement's top-level `NOT NULL`: from the end of the token before it (so its leading
/// space goes too) to the end of `NULL`.
pub fn not_null_clause(text: &str, tokens: &[Token]) -> Option<(usize, usize)> {
    let not = tokens
        .windows(2)
        .position(|w| w[0].depth == 0 && w[0].is(text, "NOT") && w[1].is(text, "NULL"))?;
    let from = not
        .checked_sub(1)
        .map_or(tokens[not].start, |i| tokens[i].end);
    Some((from, tokens[not + 1].end))
}

/// The index of the first unquoted word `keyword` outside parentheses.
pub fn find_word(text: &str, tokens: &[Token], keyword: &str) -> Option<usize> {
    tokens
        .iter()
        .position(|t| t.depth == 0 && t.is(text, keyword))
}

/// An identifier as `dialect` needs it written: bare when the server reads it back unchanged
/// and it is no keyword, quoted otherwise.
pub fn ident(name: &str, dialect: &dyn Dialect) -> String {
    let simple = crate::types::is_plain_ident(name);
    // A word sqlparser knows as a keyword is quoted even where the server would not need it.
    let keyword = sqlparser::keywords::ALL_KEYWORDS
        .binary_search(&name.to_ascii_uppercase().as_str())
        .is_ok();
    if simple && !keyword {
        name.to_string()
    } else {
        dialect.quote_ident(name)
    }
}

/// A table's name as `dialect` needs it: schema-qualified unless in the default schema.
pub fn qualified(name: &QualName, dialect: &dyn Dialect) -> String {
    if name.schema.is_empty() || name.schema == dialect.default_schema() {
        return ident(&name.name, dialect);
    }
    format!(
        "{}.{}",
        ident(&name.schema, dialect),
        ident(&name.name, dialect)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_skip_comments_and_keep_quoted_text_whole() {
        let text = "CREATE /* INDEX */ INDEX \"in dex\" ON t -- x\n (lower('a)b'), $$)$$)";
        let toks = tokens(text).expect("closed");
        let words: Vec<&str> = toks.iter().map(|t| &text[t.start..t.end]).collect();
        assert_eq!(
            words,
            [
                "CREATE",
                "INDEX",
                "\"in dex\"",
                "ON",
                "t",
                "(",
                "lower",
                "(",
                "'a)b'",
                ")",
                ",",
                "$$)$$",
                ")"
            ]
        );
        assert_eq!(toks.last().map(|t| t.depth), Some(0));
        assert!(tokens("SELECT 'open").is_none());
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        let pg = DialectKind::Postgres.dialect();
        assert_eq!(ident("users_email_fkey", pg), "users_email_fkey");
        assert_eq!(ident("Users", pg), "\"Users\"");
        assert_eq!(ident("order", pg), "\"order\"");
        assert_eq!(ident("a\"b", pg), "\"a\"\"b\"");
        assert_eq!(qualified(&QualName::new("public", "users"), pg), "users");
        assert_eq!(
            qualified(&QualName::new("Billing", "users"), pg),
            "\"Billing\".users"
        );
        let my = DialectKind::MySql.dialect();
        assert_eq!(ident("select", my), "`select`");
    }
}
