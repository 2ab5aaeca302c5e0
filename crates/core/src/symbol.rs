//! The instrument symbol (`BTC`, `SPY`, `BRK-B`): parsed once, valid everywhere after.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The longest symbol we accept; long enough for exchange tickers, short enough for tables.
pub const MAX_SYMBOL_LEN: usize = 20;

/// A unique, upper-case instrument symbol such as `BTC`. Shared, not copied: every candle,
/// fill and trade holds one, and a clone costs a reference count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(Arc<str>);

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
}

impl Symbol {
    /// Parses a symbol, upper-casing it (`btc` and `BTC` are the same instrument).
    ///
    /// # Errors
    /// [`SymbolError`] when the text is empty, too long, or has other characters.
    pub fn parse(text: &str) -> Result<Self, SymbolError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SymbolError::Empty);
        }
        if text.chars().count() > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong(shown(text)));
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(SymbolError::BadCharacter(shown(text)));
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
    }
}
