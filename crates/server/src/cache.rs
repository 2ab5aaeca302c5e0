//! Short-lived cache of the heavy read answers (positions, candles): their JSON, and its gzip,
//! kept for `[server] read_cache_ms`.
//!
//! Barter's data changes when a job runs or an instrument is added or removed, a few times a
//! day, while dashboards and scripts may read it many times a second. An answer is computed
//! once per key and period; concurrent requests for a key being computed wait for it rather
//! than computing it again. Writes through this server (jobs, instrument changes) clear the
//! cache at once; a write by another process sharing the database shows after at most the
//! cache period.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;

/// One cached answer: when it was made, its JSON and the same gzipped.
#[derive(Clone)]
struct Answer {
    made: Instant,
    json: Bytes,
    gzip: Bytes,
}

/// The cache; `period` zero turns it off.
pub(super) struct ReadCache {
    period: Duration,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Answer>>>>>,
}

impl ReadCache {
    /// A cache keeping answers for `period`.
    pub(super) fn new(period: Duration) -> Self {
        Self {
            period,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets every answer (after a write through this server).
    pub(super) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The answer for `key`: cached if fresh, else `compute`d (once, however many wait), as
    /// gzip when the request accepts it.
    pub(super) async fn answer<F, Fut, E>(
        &self,
        key: String,
        request: &HeaderMap,
        compute: F,
    ) -> Result<Response, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<u8>, E>>,
    {
        let gzip_ok = accepts_gzip(request);
        if self.period.is_zero() {
            return Ok(respond(&make(compute().await?), gzip_ok));
        }
        let slot = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(answer) = slot.as_ref().filter(|a| a.made.elapsed() < self.period) {
            return Ok(respond(answer, gzip_ok));
        }
        let answer = make(compute().await?);
        let response = respond(&answer, gzip_ok);
        *slot = Some(answer);
        Ok(response)
    }
}

fn make(json: Vec<u8>) -> Answer {
    let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 8), Compression::fast());
    // Writing to a Vec cannot fail; an empty gzip would only cost the client a plain answer.
    let gzip = encoder
        .write_all(&json)
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    Answer {
        made: Instant::now(),
        json: Bytes::from(json),
        gzip: Bytes::from(gzip),
    }
}

fn respond(answer: &Answer, gzip_ok: bool) -> Response {
    let json = HeaderValue::from_static("application/json");
    if gzip_ok && !answer.gzip.is_empty() {
        (
            [
                (header::CONTENT_TYPE, json),
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                (header::VARY, HeaderValue::from_static("accept-encoding")),
            ],
            answer.gzip.clone(),
        )
            .into_response()
    } else {
        (
            [
                (header::CONTENT_TYPE, json),
                (header::VARY, HeaderValue::from_static("accept-encoding")),
            ],
            answer.json.clone(),
        )
            .into_response()
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use flate2::read::GzDecoder;

    use super::*;

    #[test]
    fn gzip_is_used_only_when_accepted() {
        let mut headers = HeaderMap::new();
        assert!(!accepts_gzip(&headers));
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.8"),
        );
        assert!(accepts_gzip(&headers));
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        assert!(!accepts_gzip(&headers));
    }

    #[tokio::test]
    async fn an_answer_is_computed_once_per_period_and_after_a_clear() {
        let cache = ReadCache::new(Duration::from_secs(60));
        let computed = AtomicUsize::new(0);
        let compute = || async {
            computed.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(br#"{"a":1}"#.to_vec())
        };
        let mut gzip = HeaderMap::new();
        gzip.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let plain = cache.answer("k".into(), &HeaderMap::new(), compute).await;
        let zipped = cache.answer("k".into(), &gzip, compute).await;
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        let body = |r: Response| async move {
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .expect("body")
        };
        assert_eq!(&body(plain.expect("plain")).await[..], br#"{"a":1}"#);
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut GzDecoder::new(&body(zipped.expect("gzip")).await[..]),
            &mut unzipped,
        )
        .expect("gunzip");
        assert_eq!(unzipped, r#"{"a":1}"#);
        cache.clear();
        let _ = cache.answer("k".into(), &HeaderMap::new(), compute).await;
        assert_eq!(computed.load(Ordering::SeqCst), 2, "a clear forgets");
        let off = ReadCache::new(Duration::ZERO);
        let _ = off.answer("k".into(), &HeaderMap::new(), compute).await;
        let _ = off.answer("k".into(), &HeaderMap::new(), compute).await;
        assert_eq!(computed.load(Ordering::SeqCst), 4, "period zero: no cache");
    }
}
