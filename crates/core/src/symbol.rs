//! The instrument symbol (`BTC`, `SPY`, `BRK-B`): parsed once, valid everywhere after.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The longest symbol we accept; long enough for exchange tickers, short enough for tables.
pub const MAX_SYMBOL_LEN: usize = 20;

/// The characters a symbol may hold besides ASCII letters and digits (never its first).
pub const SYMBOL_PUNCTUATION: [char; 3] = ['-', '_', '.'];

/// What [`Symbol::parse_exact`] accepts, as a regular expression (for the API's description;
/// a test holds it to [`MAX_SYMBOL_LEN`] and [`SYMBOL_PUNCTUATION`]). A symbol starts with a
/// letter or digit, so `.` and `..` can never be one (they would be path segments in a URL).
pub const SYMBOL_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$";

/// A unique, upper-case instrument symbol such as `BTC`. Shared, not copied: every candle,
/// fill and trade holds one, and a clone costs a reference count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(Arc<str>);

/// A symbol as [`Symbol`]'s `Deserialize` reads it (the lenient [`Symbol::parse`]: white space
/// around it is trimmed, the characters Rust's `trim` removes, spelled out because a pattern's
/// `\s` differs between languages), for the API's description of the types it takes as they
/// are.
pub const LENIENT_SYMBOL_PATTERN: &str = concat!(
    "^[\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*",
    "[A-Za-z0-9][A-Za-z0-9_.-]{0,19}",
    "[\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$"
);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Symbol {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(LENIENT_SYMBOL_PATTERN))
            .examples(["BTC"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Symbol {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("SymbolInConfig")
    }
}

/// Why a text is not a valid symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    /// The text was empty.
    #[error("symbol is empty: use letters and digits such as `BTC`")]
    Empty,
    /// The text was longer than [`MAX_SYMBOL_LEN`].
    #[error("symbol `{0}` is longer than {MAX_SYMBOL_LEN} characters")]
    TooLong(String),
    /// The text held a character other than A–Z, 0–9, `-`, `_` or `.`.
    #[error("symbol `{0}` may only contain letters, digits, `-`, `_` and `.`")]
    BadCharacter(String),
    /// The text started with `-`, `_` or `.`.
    #[error("symbol `{0}` must start with a letter or a digit")]
    BadStart(String),
}

impl Symbol {
    /// Parses a symbol, upper-casing it (`btc` and `BTC` are the same instrument).
    ///
    /// # Errors
    /// [`SymbolError`] when the text is empty, too long, or has other characters.
    pub fn parse(text: &str) -> Result<Self, SymbolError> {
        Self::parse_exact(text.trim())
    }

    /// Parses a symbol exactly as given (surrounding spaces are refused like any other
    /// character outside [`SYMBOL_PATTERN`]), upper-casing it: what the API accepts, so that
    /// its description's pattern is the whole rule.
    ///
    /// # Errors
    /// As [`Symbol::parse`].
    pub fn parse_exact(text: &str) -> Result<Self, SymbolError> {
        if text.is_empty() {
            return Err(SymbolError::Empty);
        }
        if text.chars().count() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong(shown(text)));
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SYMBOL_PUNCTUATION.contains(&c))
        {
            return Err(SymbolError::BadCharacter(shown(text)));
        }
        if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(SymbolError::BadStart(shown(text)));
        }
        Ok(Self(text.to_ascii_uppercase().into()))
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `text` as an error shows it: whole up to a little past the longest symbol, else its start and
/// its length, so a hostile megabyte is never echoed back.
fn shown(text: &str) -> String {
    const SHOWN: usize = MAX_SYMBOL_LEN + 12;
    let chars = text.chars().count();
    if chars <= SHOWN {
        return text.to_owned();
    }
    let start: String = text.chars().take(SHOWN).collect();
    format!("{start}… ({chars} characters)")
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = SymbolError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Symbol> for String {
    fn from(value: Symbol) -> Self {
        value.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_upper_cased_and_trimmed() {
        assert_eq!(
            Symbol::parse(" btc ").map(String::from),
            Ok("BTC".to_owned())
        );
        assert_eq!(
            Symbol::parse("brk-b").map(String::from),
            Ok("BRK-B".to_owned())
        );
    }

    #[test]
    fn a_huge_bad_symbol_is_not_echoed_whole() {
        let huge = "A".repeat(1_000_000);
        let message = Symbol::parse(&huge).expect_err("too long").to_string();
        assert!(message.len() < 120, "{message}");
        assert!(message.contains("1000000 characters"), "{message}");
        let bad = format!("{}<", "B".repeat(50_000));
        let message = Symbol::parse(&bad).expect_err("bad").to_string();
        assert!(message.len() < 160, "{message}");
    }

    #[test]
    fn bad_symbols_are_refused_with_the_reason() {
        let long = "A".repeat(21);
        let cases = [
            ("", SymbolError::Empty),
            ("BTC USD", SymbolError::BadCharacter("BTC USD".into())),
            (long.as_str(), SymbolError::TooLong(long.clone())),
        ];
        for (text, expected) in cases {
            assert_eq!(Symbol::parse(text), Err(expected), "input {text:?}");
        }
        for start in [".", "..", "-BTC", "_X"] {
            assert_eq!(
                Symbol::parse(start),
                Err(SymbolError::BadStart(start.into())),
                "input {start:?}"
            );
        }
        // The exact form keeps the spaces the lenient one trims, and refuses them.
        assert!(Symbol::parse_exact(" BTC").is_err());
        assert!(Symbol::parse_exact("btc").is_ok());
    }

    #[test]
    fn the_lenient_pattern_trims_exactly_what_parse_trims() {
        // Every character Rust's `trim` removes, as the pattern's class lists them.
        let trimmed: Vec<char> = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        let mut class = String::new();
        let mut i = 0;
        while i < trimmed.len() {
            let mut j = i;
            while j + 1 < trimmed.len() && u32::from(trimmed[j + 1]) == u32::from(trimmed[j]) + 1 {
                j += 1;
            }
            let code = |c: char| match c {
                '\t' => "\\t".to_owned(),
                '\n' => "\\n".to_owned(),
                '\r' => "\\r".to_owned(),
                ' ' => " ".to_owned(),
                c if u32::from(c) < 0x100 => format!("\\x{:02X}", u32::from(c)),
                c => format!("\\u{:04X}", u32::from(c)),
            };
            // A run of three or more is a range; shorter runs are listed.
            if j >= i + 2 {
                class.push_str(&format!("{}-{}", code(trimmed[i]), code(trimmed[j])));
            } else {
                for &c in &trimmed[i..=j] {
                    class.push_str(&code(c));
                }
            }
            i = j + 1;
        }
        assert_eq!(
            LENIENT_SYMBOL_PATTERN,
            format!("^[{class}]*[A-Za-z0-9][A-Za-z0-9_.-]{{0,19}}[{class}]*$")
        );
        for &c in &trimmed {
            assert!(Symbol::parse(&format!("{c}BTC{c}")).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn the_published_pattern_is_the_rule_the_parser_applies() {
        let punctuation: String = SYMBOL_PUNCTUATION.iter().collect();
        let expected = format!(
            "^[A-Za-z0-9][A-Za-z0-9{}]{{0,{}}}$",
            // In the class, `-` must come last to be a literal.
            punctuation.replace('-', "") + "-",
            MAX_SYMBOL_LEN - 1
        );
        assert_eq!(SYMBOL_PATTERN, expected);
        // Every ASCII character in each position, against the pattern read by hand.
        for c in (0u8..128).map(char::from) {
            let alnum = c.is_ascii_alphanumeric();
            let inner = alnum || SYMBOL_PUNCTUATION.contains(&c);
            assert_eq!(Symbol::parse_exact(&c.to_string()).is_ok(), alnum, "{c:?}");
            assert_eq!(
                Symbol::parse_exact(&format!("A{c}")).is_ok(),
                inner,
                "{c:?}"
            );
        }
        assert!(Symbol::parse_exact(&"A".repeat(MAX_SYMBOL_LEN)).is_ok());
        assert!(Symbol::parse_exact(&"A".repeat(MAX_SYMBOL_LEN + 1)).is_err());
    }
}
