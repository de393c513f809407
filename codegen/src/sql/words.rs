//! A statement's words as the server reads them: its unquoted keywords and identifiers, upper
//! case, without string literals, quoted identifiers or comments; punctuation as itself
//! (`(`, `,`). For rules that look for syntax the `Change` does not record (a clause a server
//! version introduced), without reading sqlparser's types.

use sqlparser::tokenizer::{Token, Tokenizer};

use crate::dialect::Dialect;

/// The words of `text`; empty when it cannot be tokenised (the checker reports that itself).
pub fn words(text: &str, dialect: &dyn Dialect) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(dialect.parser(), text).tokenize() else {
        return Vec::new();
    };
    tokens
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            Token::LParen => Some("(".into()),
            Token::RParen => Some(")".into()),
            Token::Comma => Some(",".into()),
            _ => None,
        })
        .collect()
}

/// `phrase` (space-separated words) occurs in `words`.
pub fn has_phrase(words: &[String], phrase: &str) -> bool {
    let wanted: Vec<&str> = phrase.split_whitespace().collect();
    !wanted.is_empty()
        && words
            .windows(wanted.len())
            .any(|w| w.iter().zip(&wanted).all(|(a, b)| a == b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::DialectKind;

    #[test]
    fn strings_comments_and_quoted_names_are_not_words() {
        let w = words(
            "CREATE TRIGGER t BEFORE INSERT ON \"execute function\" -- EXECUTE FUNCTION\n FOR EACH ROW EXECUTE PROCEDURE f('EXECUTE FUNCTION')",
            DialectKind::Postgres.dialect(),
        );
        assert!(!has_phrase(&w, "EXECUTE FUNCTION"), "{w:?}");
        assert!(has_phrase(&w, "EXECUTE PROCEDURE"), "{w:?}");
    }
}
