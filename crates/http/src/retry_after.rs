//! Reading a server's `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The wait a `Retry-After` value asks for, measured from `now`: a number of seconds (decimals
/// tolerated) or an HTTP-date (a date already past is no wait). `None` for anything else.
pub fn parse_retry_after(text: &str, now: DateTime<Utc>) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).ok())?;
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 syntax with the zone `GMT`.
    let when = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

/// The `Retry-After` of an answer's headers as a wait from now, if sent and readable.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?, Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn seconds_are_read_as_a_delay() {
        assert_eq!(
            parse_retry_after("120", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now()),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn an_http_date_is_read_relative_to_now() {
        let later = parse_retry_after("Mon, 05 Jan 2026 12:01:30 GMT", now());
        assert_eq!(later, Some(Duration::from_secs(90)));
        let past = parse_retry_after("Mon, 05 Jan 2026 11:00:00 GMT", now());
        assert_eq!(past, Some(Duration::ZERO));
    }

    #[test]
    fn garbage_and_negative_values_are_ignored() {
        for text in ["-5", "soon", "NaN", "inf", "", "1e400"] {
            assert_eq!(parse_retry_after(text, now()), None, "{text}");
        }
    }
}
