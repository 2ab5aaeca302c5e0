//! The rule lexer: source text to tokens with byte spans, reporting every bad character.

use super::error::{RuleError, Span};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A number; `percent` when written with `%` (the value is already divided by 100).
    Number {
        value: f64,
        percent: bool,
    },
    /// A name: a series, function, exit value, output or instrument.
    Ident(String),
    /// `$name`: a strategy parameter (the name without `$`).
    Param(String),
    /// `"BRK-B"`: an instrument symbol that is not a plain identifier.
    Quoted(String),
    And,
    Or,
    Not,
    Plus,
    Minus,
    Star,
    Slash,
    Lt,
    Le,
    Gt,
    Ge,
    EqEq,
    Ne,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    /// The end of the source (an empty span there).
    Eof,
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

/// Splits `source` into tokens ending with [`TokenKind::Eof`], or returns every lexical error.
pub(crate) fn lex(source: &str) -> Result<Vec<Token>, Vec<RuleError>> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let single = |kind: TokenKind| Token {
            kind,
            span: Span::new(start, start + 1),
        };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'0'..=b'9' => {
                i = number_end(bytes, i);
                if let Some(end) = exponent_end(bytes, i) {
                    i = end;
                    errors.push(exponent_error(source, Span::new(start, end)));
                    continue;
                }
                if i < bytes.len() && is_ident_byte(bytes[i]) {
                    while i < bytes.len() && is_ident_byte(bytes[i]) {
                        i += 1;
                    }
                    errors.push(
                        RuleError::new(
                            Span::new(start, i),
                            format!("invalid number `{}`", &source[start..i]),
                        )
                        .with_help("numbers are written like `14`, `1.5` or `5%`"),
                    );
                    continue;
                }
                let text = &source[start..i];
                if text.len() > MAX_NUMBER_LEN {
                    errors.push(
                        RuleError::new(
                            Span::new(start, i),
                            format!(
                                "the number `{}…` is too long: at most {MAX_NUMBER_LEN} digits",
                                &text[..12]
                            ),
                        )
                        .with_help("prices, periods and percents need far fewer digits"),
                    );
                    continue;
                }
                let mut value: f64 = text.parse().unwrap_or(f64::NAN);
                if !value.is_finite() {
                    // Unreachable with the length cap (f64 holds 308 digits), kept as a guard so
                    // no infinity or NaN ever reaches the checker.
                    errors.push(RuleError::new(
                        Span::new(start, i),
                        format!("the number `{text}` is too large"),
                    ));
                    continue;
                }
                let percent = bytes.get(i) == Some(&b'%');
                if percent {
                    value /= 100.0;
                    i += 1;
                }
                tokens.push(Token {
                    kind: TokenKind::Number { value, percent },
                    span: Span::new(start, i),
                });
            }
            b'$' => {
                i += 1;
                let name_start = i;
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                if i == name_start {
                    errors.push(
                        RuleError::new(
                            Span::new(start, start + 1),
                            "expected a parameter name after `$`",
                        )
                        .with_help("parameters are written like `$fast`"),
                    );
                } else {
                    tokens.push(Token {
                        kind: TokenKind::Param(source[name_start..i].to_owned()),
                        span: Span::new(start, i),
                    });
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n') {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'"') {
                    tokens.push(Token {
                        kind: TokenKind::Quoted(source[start + 1..i].to_owned()),
                        span: Span::new(start, i + 1),
                    });
                    i += 1;
                } else {
                    errors.push(
                        RuleError::new(Span::new(start, i), "unterminated quoted symbol")
                            .with_help("close it on the same line, as in `\"BRK-B\".close`"),
                    );
                }
            }
            c if is_ident_byte(c) => {
                while i < bytes.len() && is_ident_byte(bytes[i]) {
                    i += 1;
                }
                let kind = match &source[start..i] {
                    "and" => TokenKind::And,
                    "or" => TokenKind::Or,
                    "not" => TokenKind::Not,
                    word => TokenKind::Ident(word.to_owned()),
                };
                tokens.push(Token {
                    kind,
                    span: Span::new(start, i),
                });
            }
            _ => {
                let next = bytes.get(i + 1).copied();
                let two = |kind: TokenKind| Token {
                    kind,
                    span: Span::new(start, start + 2),
                };
                let (token, len) = match (c, next) {
                    (b'<', Some(b'=')) => (Some(two(TokenKind::Le)), 2),
                    (b'>', Some(b'=')) => (Some(two(TokenKind::Ge)), 2),
                    (b'=', Some(b'=')) => (Some(two(TokenKind::EqEq)), 2),
                    (b'!', Some(b'=')) => (Some(two(TokenKind::Ne)), 2),
                    (b'<', _) => (Some(single(TokenKind::Lt)), 1),
                    (b'>', _) => (Some(single(TokenKind::Gt)), 1),
                    (b'+', _) => (Some(single(TokenKind::Plus)), 1),
                    (b'-', _) => (Some(single(TokenKind::Minus)), 1),
                    (b'*', _) => (Some(single(TokenKind::Star)), 1),
                    (b'/', _) => (Some(single(TokenKind::Slash)), 1),
                    (b'(', _) => (Some(single(TokenKind::LParen)), 1),
                    (b')', _) => (Some(single(TokenKind::RParen)), 1),
                    (b'[', _) => (Some(single(TokenKind::LBracket)), 1),
                    (b']', _) => (Some(single(TokenKind::RBracket)), 1),
                    (b',', _) => (Some(single(TokenKind::Comma)), 1),
                    (b'.', _) => (Some(single(TokenKind::Dot)), 1),
                    _ => (None, 0),
                };
                if let Some(token) = token {
                    tokens.push(token);
                    i += len;
                } else {
                    let (error, len) = bad_character(source, start);
                    errors.push(error);
                    i += len;
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(source.len(), source.len()),
    });
    Ok(tokens)
}

/// The longest number literal accepted, in digits and dot: far beyond any price, period or
/// percent, and short enough that every accepted literal is a finite `f64`.
pub const MAX_NUMBER_LEN: usize = 40;

/// The end of an exponent such as `e12`, `E-5` or `e+3` right after a number ending at `i`, if
/// one is there (the rule language has none; this is only to explain that).
fn exponent_end(bytes: &[u8], i: usize) -> Option<usize> {
    if !matches!(bytes.get(i), Some(b'e' | b'E')) {
        return None;
    }
    let mut j = i + 1;
    if matches!(bytes.get(j), Some(b'+' | b'-')) {
        j += 1;
    }
    if !bytes.get(j).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    while j < bytes.len() && is_ident_byte(bytes[j]) {
        j += 1;
    }
    Some(j)
}

/// The error for a number written with an exponent, with the number written out when that is
/// short enough to be useful.
fn exponent_error(source: &str, span: Span) -> RuleError {
    let text = &source[span.start..span.end];
    let error = RuleError::new(
        span,
        format!("exponents are not supported in numbers: `{text}`"),
    );
    let written_out = text
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v != 0.0 && (1e-9..1e15).contains(&v.abs()))
        .map(|v| v.to_string());
    match written_out {
        Some(out) => error.with_help(format!("write the number out: `{out}`")),
        None => error.with_help("write the number out in digits, as in `1000000` or `0.0001`"),
    }
}

/// The end of the number starting at `i`: digits, then `.digits` if a digit follows the dot.
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The error for a character that starts no token, with a hint for look-alikes from other
/// languages, and its length in bytes.
fn bad_character(source: &str, start: usize) -> (RuleError, usize) {
    let rest = &source[start..];
    let c = rest.chars().next().unwrap_or(' ');
    let (text, help) = if rest.starts_with("&&") {
        ("&&", Some("write `and`"))
    } else if rest.starts_with("||") {
        ("||", Some("write `or`"))
    } else {
        let help = match c {
            '=' => Some("compare with `==`"),
            '!' => Some("write `not`, or `!=` for \"not equal\""),
            '&' => Some("write `and`"),
            '|' => Some("write `or`"),
            '%' => Some("`%` only follows a number, as in `5%`"),
            '\'' => Some("quote a symbol with double quotes, as in `\"BRK-B\".close`"),
            _ => None,
        };
        (&rest[..c.len_utf8()], help)
    };
    let mut error = RuleError::new(
        Span::new(start, start + text.len()),
        format!("unexpected `{text}`"),
    );
    if let Some(help) = help {
        error = error.with_help(help);
    }
    (error, text.len())
}

#[cfg(test)]
mod tests {
    use super::TokenKind::*;
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        lex(source)
            .expect("lexes")
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn num(value: f64, percent: bool) -> TokenKind {
        Number { value, percent }
    }

    #[test]
    fn tokens_cover_every_kind_of_input() {
        let cases: Vec<(&str, Vec<TokenKind>)> = vec![
            ("close", vec![Ident("close".into()), Eof]),
            (
                "12 1.5 5%",
                vec![num(12.0, false), num(1.5, false), num(0.05, true), Eof],
            ),
            ("$fast", vec![Param("fast".into()), Eof]),
            (
                "\"BRK-B\".close",
                vec![Quoted("BRK-B".into()), Dot, Ident("close".into()), Eof],
            ),
            ("and or not", vec![And, Or, Not, Eof]),
            ("< <= > >= == !=", vec![Lt, Le, Gt, Ge, EqEq, Ne, Eof]),
            ("+-*/", vec![Plus, Minus, Star, Slash, Eof]),
            (
                "([,].)",
                vec![LParen, LBracket, Comma, RBracket, Dot, RParen, Eof],
            ),
            (
                "BTC.close[1]",
                vec![
                    Ident("BTC".into()),
                    Dot,
                    Ident("close".into()),
                    LBracket,
                    num(1.0, false),
                    RBracket,
                    Eof,
                ],
            ),
            (
                "close # a comment\n> 1",
                vec![Ident("close".into()), Gt, num(1.0, false), Eof],
            ),
            ("", vec![Eof]),
        ];
        for (source, expected) in cases {
            assert_eq!(kinds(source), expected, "{source:?}");
        }
    }

    #[test]
    fn spans_are_byte_ranges_of_the_source() {
        let tokens = lex("sma(close, 20) > 5%").expect("lexes");
        let spans: Vec<(usize, usize)> =
            tokens.iter().map(|t| (t.span.start, t.span.end)).collect();
        assert_eq!(
            spans,
            vec![
                (0, 3),
                (3, 4),
                (4, 9),
                (9, 10),
                (11, 13),
                (13, 14),
                (15, 16),
                (17, 19),
                (19, 19)
            ]
        );
    }

    #[test]
    fn every_bad_character_is_reported_with_a_hint() {
        let errors = lex("close = 1 && open ! 2 @ x").expect_err("bad characters");
        let found: Vec<(&str, usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.message.as_str(), e.span.start, e.help.as_deref()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("unexpected `=`", 6, Some("compare with `==`")),
                ("unexpected `&&`", 10, Some("write `and`")),
                (
                    "unexpected `!`",
                    18,
                    Some("write `not`, or `!=` for \"not equal\"")
                ),
                ("unexpected `@`", 22, None),
            ]
        );
    }

    #[test]
    fn malformed_numbers_parameters_and_quotes_are_errors() {
        let cases = [
            ("14d", "invalid number `14d`"),
            ("1e12", "exponents are not supported in numbers: `1e12`"),
            (
                "close > 1.5E-3",
                "exponents are not supported in numbers: `1.5E-3`",
            ),
            ("2e+3", "exponents are not supported in numbers: `2e+3`"),
            (
                "1234567890123456789012345678901234567890123",
                "the number `123456789012…` is too long: at most 40 digits",
            ),
            ("$ fast", "expected a parameter name after `$`"),
            ("\"BRK-B.close", "unterminated quoted symbol"),
            ("close % 2", "unexpected `%`"),
        ];
        for (source, message) in cases {
            let errors = lex(source).expect_err(source);
            assert_eq!(errors[0].message, message, "{source}");
        }
    }

    #[test]
    fn exponents_are_explained_with_the_number_written_out() {
        let errors = lex("close > 1e12").expect_err("exponent");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].span, Span::new(8, 12));
        assert_eq!(
            errors[0].help.as_deref(),
            Some("write the number out: `1000000000000`")
        );
        let errors = lex("1e300").expect_err("exponent");
        assert_eq!(
            errors[0].help.as_deref(),
            Some("write the number out in digits, as in `1000000` or `0.0001`")
        );
        // `1e` without digits stays an invalid number, `1 e5` a number and a name.
        let errors = lex("1e").expect_err("bad number");
        assert_eq!(errors[0].message, "invalid number `1e`");
        assert!(lex("1 e5").is_ok());
        // Every accepted literal is finite.
        let longest = "9".repeat(MAX_NUMBER_LEN);
        assert!(matches!(
            lex(&longest).expect("lexes")[0].kind,
            Number { value, .. } if value.is_finite()
        ));
    }
}
