//! Bounds on the free text the store keeps: run errors, run reports, history and decision
//! details.
//!
//! Messages come from outside (a source's error, a CSV line, a rule's explanation) and can be
//! arbitrarily long: one 200 MB CSV line without a newline once became a 200 MB error stored
//! three times. Every write of such text goes through this module, so no caller can store more
//! than these bounds, whatever it passes:
//!
//! - each string is cut to [`MAX_MESSAGE_CHARS`] characters (on a character boundary) with a
//!   `… (N more characters)` marker;
//! - a run keeps at most [`MAX_RUN_ERRORS`] errors, then one `… and N more errors` line;
//! - inside a JSON report or detail, a list of strings keeps at most [`MAX_LIST_STRINGS`] of
//!   them, then `… and N more`; when the whole value is still longer than [`MAX_JSON_CHARS`],
//!   it is cut again with [`TIGHT_MESSAGE_CHARS`] and [`TIGHT_LIST_STRINGS`].
//!
//! Only strings and lists of strings are shortened, never objects or numbers, so a bounded value
//! keeps its shape (a run report still reads back as a `RunReport`). Every registered secret
//! (see [`crate::secrets`]) is replaced before anything is cut, so nothing stored holds one.

use std::borrow::Cow;

use serde_json::Value;

/// Characters kept of one stored message (an error line, a string in a report or detail).
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// Errors kept per run; the ones left out are counted in a last `… and N more errors` line.
pub const MAX_RUN_ERRORS: usize = 100;
/// Strings kept per list of strings inside a report or detail (e.g. a sync's conflicts).
pub const MAX_LIST_STRINGS: usize = 100;
/// Characters a serialized report or detail should stay under; a longer one is cut again with
/// the tight limits below.
pub const MAX_JSON_CHARS: usize = 1024 * 1024;
/// Characters kept per string in the second, tighter cut of an oversized report or detail.
pub const TIGHT_MESSAGE_CHARS: usize = 200;
/// Strings kept per list of strings in the second, tighter cut.
pub const TIGHT_LIST_STRINGS: usize = 10;

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters, with a marker saying how many were left out.
pub fn bound_message(text: &str) -> Cow<'_, str> {
    // Secrets go first, so a cut can never keep half of one.
    match crate::secrets::redact(text) {
        Cow::Borrowed(text) => cut(text, MAX_MESSAGE_CHARS),
        Cow::Owned(clean) => Cow::Owned(cut(&clean, MAX_MESSAGE_CHARS).into_owned()),
    }
}

/// `text` cut to `max` characters (on a character boundary) followed by
/// `… (N more characters)`, or `text` itself when it is short enough.
fn cut(text: &str, max: usize) -> Cow<'_, str> {
    // Cheap test first: a string of at most `max` bytes has at most `max` characters.
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => {
            let more = text[end..].chars().count();
            Cow::Owned(format!("{}… ({more} more characters)", &text[..end]))
        }
    }
}

/// A run's errors, each cut to [`MAX_MESSAGE_CHARS`], at most [`MAX_RUN_ERRORS`] of them followed
/// by `… and N more errors` when some were left out.
pub fn bound_errors(errors: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = errors
        .iter()
        .take(MAX_RUN_ERRORS)
        .map(|e| bound_message(e).into_owned())
        .collect();
    if errors.len() > MAX_RUN_ERRORS {
        kept.push(format!(
            "… and {} more errors",
            errors.len() - MAX_RUN_ERRORS
        ));
    }
    kept
}

/// `value` with every string cut to [`MAX_MESSAGE_CHARS`] and every list of strings to
/// [`MAX_LIST_STRINGS`]; when it still serializes to more than [`MAX_JSON_CHARS`], cut with the
/// tight limits instead. Objects, numbers and lists of non-strings keep their shape.
pub fn bound_json(value: &Value) -> Value {
    bound(value, true)
}

/// [`bound_json`] taking the value, which is returned as is (not copied) when nothing needs
/// cutting: the common case, on the ledger's hot path.
pub fn bound_json_owned(value: Value) -> Value {
    if fits(&value, MAX_MESSAGE_CHARS, MAX_LIST_STRINGS) && json_len(&value) <= MAX_JSON_CHARS {
        return value;
    }
    bound_json(&value)
}

/// As [`bound_json`] but never shortening lists, for a value read back as a type whose lists of
/// strings may not take the `… and N more` line (e.g. a list of days).
pub fn bound_json_strings(value: &Value) -> Value {
    bound(value, false)
}

/// [`bound_json`], lists of strings capped only when `cap_lists`.
fn bound(value: &Value, cap_lists: bool) -> Value {
    let list = |max: usize| if cap_lists { max } else { usize::MAX };
    let bounded = shorten(value, MAX_MESSAGE_CHARS, list(MAX_LIST_STRINGS));
    if json_len(&bounded) <= MAX_JSON_CHARS {
        return bounded;
    }
    shorten(value, TIGHT_MESSAGE_CHARS, list(TIGHT_LIST_STRINGS))
}

/// [`bound_json`] of `value`, serialized: the text the store writes.
pub fn bound_json_text(value: &Value) -> String {
    bound_json(value).to_string()
}

/// Whether `value` holds nothing [`bound_json`] would shorten (so it need not be copied).
fn fits(value: &Value, max_chars: usize, max_list: usize) -> bool {
    match value {
        Value::String(s) => s.len() <= max_chars && !crate::secrets::contains_secret(s),
        Value::Array(items) => {
            !(items.len() > max_list && items.iter().all(Value::is_string))
                && items.iter().all(|v| fits(v, max_chars, max_list))
        }
        Value::Object(map) => map.values().all(|v| fits(v, max_chars, max_list)),
        _ => true,
    }
}

/// `value` with strings cut to `max_chars` and lists of strings to `max_list`, recursively.
fn shorten(value: &Value, max_chars: usize, max_list: usize) -> Value {
    if fits(value, max_chars, max_list) {
        return value.clone();
    }
    match value {
        Value::String(s) => Value::String(cut(&crate::secrets::redact(s), max_chars).into_owned()),
        Value::Array(items) if items.len() > max_list && items.iter().all(Value::is_string) => {
            let mut kept: Vec<Value> = items
                .iter()
                .take(max_list)
                .map(|v| shorten(v, max_chars, max_list))
                .collect();
            kept.push(Value::String(format!(
                "… and {} more",
                items.len() - max_list
            )));
            Value::Array(kept)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| shorten(v, max_chars, max_list))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), shorten(v, max_chars, max_list)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The serialized length of `value`, counted without building the text.
fn json_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` to an infallible writer cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn short_messages_are_kept_and_long_ones_cut_on_a_char_boundary() {
        assert!(matches!(bound_message("short"), Cow::Borrowed("short")));
        let long = "é".repeat(MAX_MESSAGE_CHARS + 5);
        let cut = bound_message(&long);
        assert!(cut.starts_with(&"é".repeat(MAX_MESSAGE_CHARS)));
        assert!(
            cut.ends_with("é… (5 more characters)"),
            "{}",
            &cut[cut.len() - 40..]
        );
        // Exactly at the limit, in characters though not in bytes: kept whole.
        let exact = "é".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(bound_message(&exact), exact);
    }

    #[test]
    fn errors_are_capped_with_a_count_of_the_rest() {
        let errors: Vec<String> = (0..250).map(|i| format!("e{i}")).collect();
        let kept = bound_errors(&errors);
        assert_eq!(kept.len(), MAX_RUN_ERRORS + 1);
        assert_eq!(kept[0], "e0");
        assert_eq!(kept[MAX_RUN_ERRORS], "… and 150 more errors");
        assert_eq!(bound_errors(&errors[..3]), errors[..3].to_vec());
    }

    #[test]
    fn json_strings_and_string_lists_are_bounded_and_shapes_kept() {
        let value = json!({
            "error": "x".repeat(10_000),
            "conflicts": (0..500).map(|i| format!("c{i}")).collect::<Vec<_>>(),
            "numbers": (0..500).collect::<Vec<_>>(),
            "nested": [{"why": "y".repeat(3_000)}],
            "n": 1.5,
        });
        let bounded = bound_json(&value);
        assert!(
            bounded["error"]
                .as_str()
                .expect("shape kept")
                .ends_with("(8000 more characters)")
        );
        let conflicts = bounded["conflicts"].as_array().expect("shape kept");
        assert_eq!(conflicts.len(), MAX_LIST_STRINGS + 1);
        assert_eq!(conflicts[MAX_LIST_STRINGS], "… and 400 more");
        assert_eq!(bounded["numbers"], value["numbers"]);
        assert_eq!(bounded["n"], value["n"]);
        assert!(
            bounded["nested"][0]["why"]
                .as_str()
                .expect("shape kept")
                .len()
                < 2_100
        );
        // Nothing to cut: the same value.
        let small = json!({"a": ["b"], "c": 1});
        assert_eq!(bound_json(&small), small);
    }

    #[test]
    fn an_oversized_value_is_cut_again_with_tight_limits() {
        let items: Vec<Value> = (0..1_000)
            .map(|i| json!({"i": i, "error": "z".repeat(5_000)}))
            .collect();
        let bounded = bound_json(&Value::Array(items));
        let text = bounded.to_string();
        assert!(
            text.len() < 1_000 * (TIGHT_MESSAGE_CHARS + 100),
            "{}",
            text.len()
        );
        assert_eq!(bounded.as_array().expect("shape kept").len(), 1_000);
    }
}
