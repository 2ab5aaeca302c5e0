//! The process's secrets, and their removal from every text Barter keeps or shows.
//!
//! The API token, source keys and database passwords live in the environment. A message can
//! still carry one by accident: an error quoting a file the secret was read from, a URL with a
//! password, a venue echoing a header. The binary registers each secret once at start-up, and
//! everything written to a run record, the history, a log line or an API answer goes through
//! [`redact`], which replaces every occurrence with the name of the secret.

use std::borrow::Cow;
use std::sync::{PoisonError, RwLock};

/// Shorter values are not treated as secrets: replacing every occurrence of a 3-letter word
/// would garble messages while protecting nothing (the API token must be 32 characters).
pub const MIN_SECRET_LEN: usize = 6;

/// The registered secrets: (value, name), longest value first so a secret containing another
/// is replaced whole.
static SECRETS: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// Registers `value` as a secret shown as `[redacted NAME]`; values shorter than
/// [`MIN_SECRET_LEN`] (after trimming) are ignored.
pub fn register(name: &str, value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_SECRET_LEN {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    if secrets.iter().any(|(v, _)| v == value) {
        return;
    }
    secrets.push((value.to_owned(), name.to_owned()));
    secrets.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
}

/// Whether the name of an environment variable says it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["TOKEN", "KEY", "SECRET", "PASSWORD", "PASSPHRASE"]
        .iter()
        .any(|word| upper.contains(word))
}

/// Registers every `BARTER_*` environment variable whose name says it is a secret (see
/// [`is_secret_name`]), and the password of any `BARTER_*` URL.
pub fn register_from_env() {
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        if !name.starts_with("BARTER_") {
            continue;
        }
        if is_secret_name(name) {
            register(name, value);
        }
        if let Some(password) = url_password(value) {
            register(&format!("{name} password"), password);
        }
    }
}

/// The password of a URL such as `postgres://user:secret@host/db`.
pub fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// Whether `text` contains a registered secret.
pub fn contains_secret(text: &str) -> bool {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    secrets.iter().any(|(v, _)| text.contains(v.as_str()))
}

/// `text` with every registered secret replaced by `[redacted NAME]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    if secrets.is_empty() || !secrets.iter().any(|(v, _)| text.contains(v.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_owned();
    for (value, name) in secrets.iter() {
        if out.contains(value.as_str()) {
            out = out.replace(value.as_str(), &format!("[redacted {name}]"));
        }
    }
    Cow::Owned(out)
}

/// [`redact`] applied to every string inside a JSON value (keys included).
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            if let Cow::Owned(clean) = redact(text) {
                *text = clean;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::Object(map) => {
            let dirty: Vec<String> = map
                .keys()
                .filter(|k| matches!(redact(k), Cow::Owned(_)))
                .cloned()
                .collect();
            for key in dirty {
                if let Some(v) = map.remove(&key) {
                    map.insert(redact(&key).into_owned(), v);
                }
            }
            map.values_mut().for_each(redact_json);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_replaced_everywhere() {
        register("TEST_SECRET_A", "s3cr3t-value-aaaa");
        register("TEST_SHORT", "abc");
        let text = "token=s3cr3t-value-aaaa; again s3cr3t-value-aaaa; abc stays";
        assert_eq!(
            redact(text),
            "token=[redacted TEST_SECRET_A]; again [redacted TEST_SECRET_A]; abc stays"
        );
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
        let mut json = serde_json::json!({
            "error": "found: X=s3cr3t-value-aaaa",
            "list": ["s3cr3t-value-aaaa"],
            "s3cr3t-value-aaaa": 1
        });
        redact_json(&mut json);
        assert!(!json.to_string().contains("s3cr3t-value-aaaa"), "{json}");
    }

    #[test]
    fn url_passwords_are_found() {
        assert_eq!(
            url_password("postgres://u:pw-123@h:5432/db"),
            Some("pw-123")
        );
        assert_eq!(url_password("postgres://u@h/db"), None);
        assert_eq!(url_password("sqlite://barter.db"), None);
        assert!(is_secret_name("BARTER_COINGECKO_API_KEY"));
        assert!(is_secret_name("BARTER_ALPACA_KEY_ID"));
        assert!(is_secret_name("BARTER_ALPACA_SECRET_KEY"));
        assert!(is_secret_name("BARTER_API_TOKEN"));
        assert!(!is_secret_name("BARTER_DATABASE_URL"));
    }
}
