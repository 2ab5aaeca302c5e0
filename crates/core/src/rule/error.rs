//! Rule errors: a byte span, a message and an optional hint, rendered with a caret under the spot.

use std::fmt;

/// A byte range `start..end` in a rule's source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset just past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// One problem in a rule, found when the rule is parsed and checked (never while it runs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    /// Where in the source the problem is.
    pub span: Span,
    /// What is wrong, e.g. "unknown function `emaa`".
    pub message: String,
    /// How to fix it, shown after the caret, e.g. "did you mean `ema`?".
    pub help: Option<String>,
    /// The name (without `$`) when the problem is a parameter nothing declares, so a caller can
    /// say how to declare it in its own terms (a flag, a request field, a form field).
    pub unknown_parameter: Option<String>,
}

impl RuleError {
    /// An error without a hint.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
            help: None,
            unknown_parameter: None,
        }
    }

    /// The same error with a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The 1-based line and column (in characters) where the error starts in `source`.
    pub fn line_column(&self, source: &str) -> (usize, usize) {
        let (start, line_start, _) = self.line_bounds(source);
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        (line, column)
    }

    /// The caret line under the error's line of `source`: the line's text before the span as
    /// spaces (tabs kept, so it lines up), then `^` under the span's part on that line (one for
    /// an empty span), as [`RuleError::render`] draws it.
    pub fn underline(&self, source: &str) -> String {
        let (start, line_start, line_end) = self.line_bounds(source);
        let end = floor_boundary(source, self.span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let pad: String = source[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{pad}{}", "^".repeat(width))
    }

    /// Renders the error for people, naming the rule (e.g. "strategy `trend` entry"):
    ///
    /// ```text
    /// error: unknown function `emaa`
    ///  --> strategy `trend` entry, line 1, column 31
    ///   |
    /// 1 | crosses_above(sma(close, 20), emaa(close, 50))
    ///   |                               ^^^^ did you mean `ema`?
    /// ```
    ///
    /// Only the first line of a span that crosses lines is underlined; an empty span (the end of
    /// the rule) gets one caret.
    pub fn render(&self, source: &str, name: &str) -> String {
        let (_, line_start, line_end) = self.line_bounds(source);
        let (line, column) = self.line_column(source);
        let text = source[line_start..line_end].trim_end_matches('\r');
        let (text, underline) = window(text, &self.underline(source));
        let number = line.to_string();
        let gutter = " ".repeat(number.len());
        let mut out = format!(
            "error: {}\n{gutter}--> {name}, line {line}, column {column}\n{gutter} |\n{number} | {text}\n{gutter} | {underline}",
            self.message,
        );
        if let Some(help) = &self.help {
            out.push(' ');
            out.push_str(help);
        }
        out
    }

    /// The span's start in `source` and the bounds of its line (without the `\n`).
    fn line_bounds(&self, source: &str) -> (usize, usize, usize) {
        let start = floor_boundary(source, self.span.start);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        (start, line_start, line_end)
    }
}

/// The most characters of a rule's line [`RuleError::render`] shows, and how many of them come
/// before the error: a long line (a rule may be 10,000 characters) is shown as a window around
/// the caret, so a message stays short.
const SHOWN_CHARS: usize = 100;
const SHOWN_BEFORE: usize = 40;

/// `text` and its caret line `underline`, cut to a window of [`SHOWN_CHARS`] characters around
/// the caret (with `…` where text was left out); short lines are returned whole.
fn window(text: &str, underline: &str) -> (String, String) {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= SHOWN_CHARS {
        return (text.to_owned(), underline.to_owned());
    }
    let marks: Vec<char> = underline.chars().collect();
    let column = marks.iter().take_while(|c| **c != '^').count();
    let carets = marks.len() - column;
    let first = column.saturating_sub(SHOWN_BEFORE);
    let last = (first + SHOWN_CHARS).min(chars.len());
    let (before, after) = (
        if first > 0 { "…" } else { "" },
        if last < chars.len() { "…" } else { "" },
    );
    let shown: String = chars[first..last].iter().collect();
    let pad: String = marks[first..column].iter().collect();
    let carets = carets.min(last.saturating_sub(column)).max(1);
    (
        format!("{before}{shown}{after}"),
        format!(
            "{}{pad}{}",
            " ".repeat(before.chars().count()),
            "^".repeat(carets)
        ),
    )
}

/// Renders several errors of one rule, separated by blank lines (see [`RuleError::render`]).
pub fn render_errors(errors: &[RuleError], source: &str, name: &str) -> String {
    errors
        .iter()
        .map(|e| e.render(source, name))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A wrapper to print a list of names as "`a`, `b` or `c`".
pub(crate) struct OneOf<'a>(pub &'a [&'a str]);

impl fmt::Display for OneOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(if i + 1 == self.0.len() { " or " } else { ", " })?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}

/// The candidate closest to `name` (case-insensitive edit distance), if it is close enough to be
/// a plausible typo: at most one edit for short names, a third of the length for longer ones.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&name, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, with an adjacent swap counting as one edit (`clsoe` → `close`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The largest char boundary at or before `i` (spans always fall on boundaries; this is a guard).
fn floor_boundary(source: &str, i: usize) -> usize {
    let mut i = i.min(source.len());
    while !source.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_plausible_typos_only() {
        let names = ["sma", "ema", "wma", "rsi", "close", "crosses_above"];
        let cases = [
            ("emaa", Some("ema")),
            ("clsoe", Some("close")),
            ("CLOSE", Some("close")),
            ("crosses_abve", Some("crosses_above")),
            ("volume", None),
            ("x", None),
        ];
        for (name, expected) in cases {
            assert_eq!(suggest(name, names), expected, "{name}");
        }
    }

    #[test]
    fn line_and_column_count_characters_across_lines() {
        let source = "close > 1 and\n  é > 2";
        let at = source.find('>').expect("first");
        let second = source.rfind('>').expect("second");
        let cases = [(0, (1, 1)), (at, (1, 7)), (second, (2, 5))];
        for (start, expected) in cases {
            let e = RuleError::new(Span::new(start, start + 1), "x");
            assert_eq!(e.line_column(source), expected, "{start}");
        }
    }

    #[test]
    fn an_error_at_the_end_gets_a_single_caret() {
        let source = "close >";
        let e = RuleError::new(Span::new(7, 7), "unexpected end of rule");
        assert_eq!(
            e.render(source, "r"),
            "error: unexpected end of rule\n --> r, line 1, column 8\n  |\n1 | close >\n  |        ^"
        );
    }

    #[test]
    fn one_of_lists_names_with_or() {
        assert_eq!(OneOf(&["a"]).to_string(), "`a`");
        assert_eq!(OneOf(&["a", "b", "c"]).to_string(), "`a`, `b` or `c`");
    }

    #[test]
    fn a_long_line_is_shown_as_a_window_around_the_caret() {
        let source = format!("{} > 1 and zz > 1", "close".repeat(100));
        let at = source.find("zz").expect("zz");
        let error = RuleError::new(Span::new(at, at + 2), "unknown name `zz`");
        let rendered = error.render(&source, "rule");
        let lines: Vec<&str> = rendered.lines().collect();
        let text = lines[3].split_once(" | ").expect("text line").1;
        let marks = lines[4].split_once(" | ").expect("caret line").1;
        assert!(text.chars().count() <= SHOWN_CHARS + 2, "{text}");
        assert!(text.starts_with('…'), "{text}");
        let caret = marks.find('^').expect("caret");
        assert_eq!(
            &text[text
                .char_indices()
                .nth(marks[..caret].chars().count())
                .expect("c")
                .0..][..2],
            "zz"
        );
        assert_eq!(marks.trim().len(), 2);
        assert!(
            rendered.contains(&format!("column {}", at + 1)),
            "{rendered}"
        );
    }
}
