//! Short, printable excerpts of untrusted text for error messages.
//!
//! Errors end up in run records, history pages and logs. A file or an HTTP answer can be anything
//! (a kernel file full of secrets, a 200 MB line, escape sequences that rewrite a terminal), so an
//! error never quotes input directly: it quotes [`excerpt`] of it, which is short and printable.

/// Most characters of input an [`excerpt`] keeps.
pub const EXCERPT_CHARS: usize = 80;

/// What a character that is not printable is shown as.
pub const PLACEHOLDER: char = '\u{FFFD}';

/// At most [`EXCERPT_CHARS`] characters of `text`, non-printable ones shown as [`PLACEHOLDER`],
/// with `…` appended when cut.
pub fn excerpt(text: &str) -> String {
    excerpt_max(text, EXCERPT_CHARS)
}

/// At most `max_chars` characters of `text`, non-printable ones shown as [`PLACEHOLDER`], with `…`
/// appended when cut.
pub fn excerpt_max(text: &str, max_chars: usize) -> String {
    // Only the kept prefix is visited, so a huge input costs no more than a short one.
    let mut chars = text.chars();
    let mut out: String = chars
        .by_ref()
        .take(max_chars)
        .map(|c| if is_printable(c) { c } else { PLACEHOLDER })
        .collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Cuts `text` to at most `max_bytes` bytes (on a character boundary), appending `…` when cut.
///
/// The last line of defence for texts assembled from several parts: whatever went in, the result
/// has a known size.
pub fn truncate_bytes(mut text: String, max_bytes: usize) -> String {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// Whether `c` is safe to show as is: not a control, line or format character (bidirectional
/// overrides and zero-width characters can disguise text), not private use, and no whitespace
/// other than the plain space.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{E000}'..='\u{F8FF}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFC}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
                | '\u{F0000}'..
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_printable_text_is_kept() {
        assert_eq!(excerpt("date,open,high"), "date,open,high");
        assert_eq!(excerpt("prix €"), "prix €");
    }

    #[test]
    fn control_and_format_characters_are_replaced() {
        assert_eq!(excerpt("a\0b\nc\u{1b}[2J\u{202E}d\te"), "a�b�c�[2J�d�e");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let text = "x".repeat(500);
        let cut = excerpt(&text);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            excerpt(&"y".repeat(EXCERPT_CHARS)),
            "y".repeat(EXCERPT_CHARS)
        );
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate_bytes("ééé".to_owned(), 3), "é…");
        assert_eq!(truncate_bytes("abc".to_owned(), 3), "abc");
    }
}
