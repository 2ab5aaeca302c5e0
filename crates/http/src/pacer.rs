//! The request budget one venue or data provider allows: a steady rate of request starts, plus a
//! "not before" instant set when the server says to stop for a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::SettingsError;

/// Paces request starts under one budget, shared by every caller (and every client) holding it.
///
/// Each start reserves the next free slot (one minimum interval after the previous start) under
/// a short lock and then sleeps outside it, so concurrent callers share the budget without
/// serialising their I/O. After a 429 or 418 with `Retry-After`, [`Pacer::hold_for`] moves the
/// first free slot past the wait for everyone: Binance bans an IP that keeps sending after a 429,
/// so the other callers must stop too, not only the one that was refused.
#[derive(Debug)]
pub struct Pacer {
    slots: Mutex<Slots>,
}

/// The pacers shared by host (see [`Pacer::shared`]); an entry lives as long as a client holds
/// its pacer.
static SHARED: OnceLock<Mutex<HashMap<String, Weak<Pacer>>>> = OnceLock::new();

/// The lock-protected part of a [`Pacer`].
#[derive(Debug, Default)]
struct Slots {
    /// The gap between two request starts.
    min_interval: Duration,
    /// The earliest start the next request may take under the steady rate.
    next_start: Option<Instant>,
    /// No request starts before this (the server asked us to wait).
    not_before: Option<Instant>,
}

impl Pacer {
    /// A pacer allowing `requests_per_minute` request starts per minute.
    ///
    /// # Errors
    /// [`SettingsError`] when `requests_per_minute` is 0.
    pub fn new(requests_per_minute: u32) -> Result<Self, SettingsError> {
        if requests_per_minute == 0 {
            return Err(SettingsError::new("requests_per_minute must be at least 1"));
        }
        Ok(Self {
            slots: Mutex::new(Slots {
                min_interval: interval(requests_per_minute),
                ..Slots::default()
            }),
        })
    }

    /// The pacer of every client in this process that talks to the host (and port) of `url`:
    /// one budget and one 429/418 pause per host, so a venue's data source and its broker
    /// (Binance klines and orders on `api.binance.com`) never add up past the venue's limit.
    /// When the host already has a pacer, it is returned, slowed to `requests_per_minute` if
    /// that is the stricter rate.
    ///
    /// # Errors
    /// [`SettingsError`] when `requests_per_minute` is 0.
    pub fn shared(
        url: &reqwest::Url,
        requests_per_minute: u32,
    ) -> Result<Arc<Self>, SettingsError> {
        let fresh = Self::new(requests_per_minute)?;
        let key = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or_default().to_ascii_lowercase(),
            url.port_or_known_default().unwrap_or_default()
        );
        let mut shared = SHARED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shared.retain(|_, pacer| pacer.strong_count() > 0);
        if let Some(pacer) = shared.get(&key).and_then(Weak::upgrade) {
            let mut slots = pacer.lock();
            slots.min_interval = slots.min_interval.max(interval(requests_per_minute));
            drop(slots);
            return Ok(pacer);
        }
        let pacer = Arc::new(fresh);
        shared.insert(key, Arc::downgrade(&pacer));
        Ok(pacer)
    }

    /// The gap between two request starts.
    pub fn min_interval(&self) -> Duration {
        self.lock().min_interval
    }

    /// Waits for this request's start slot; refuses at once, with the remaining wait, when the
    /// server's "not before" lies more than `max_wait` ahead (nobody should sleep through a ban).
    ///
    /// # Errors
    /// The remaining wait, when it exceeds `max_wait`; no slot is taken then.
    pub async fn wait_turn(&self, max_wait: Duration) -> Result<(), Duration> {
        let start = {
            let mut slots = self.lock();
            let now = Instant::now();
            if let Some(held) = slots.not_before
                && now.checked_add(max_wait).is_some_and(|limit| held > limit)
            {
                return Err(held - now);
            }
            let start = [slots.next_start, slots.not_before]
                .into_iter()
                .flatten()
                .fold(now, Instant::max);
            slots.next_start = Some(start + slots.min_interval);
            start
        };
        tokio::time::sleep_until(start).await;
        Ok(())
    }

    /// Holds every request not yet started until `wait` from now has passed (never shortens an
    /// earlier, longer hold).
    pub fn hold_for(&self, wait: Duration) {
        let now = Instant::now();
        // A wait too long to represent (a hostile Retry-After) is held as "a year": long enough
        // that every request is refused at once, without overflowing the clock.
        let until = now
            .checked_add(wait)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        let mut slots = self.lock();
        slots.not_before = Some(slots.not_before.map_or(until, |held| held.max(until)));
    }

    /// How long requests are still held back by the server's last `Retry-After`, if at all.
    pub fn held_for(&self) -> Option<Duration> {
        let now = Instant::now();
        self.lock()
            .not_before
            .filter(|held| *held > now)
            .map(|held| held - now)
    }

    /// The slots; a panic while holding the lock cannot leave them inconsistent (each update is
    /// one assignment), so a poisoned lock is used as is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The gap between two starts at `requests_per_minute` (at least 1).
fn interval(requests_per_minute: u32) -> Duration {
    Duration::from_secs_f64(60.0 / f64::from(requests_per_minute.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_shares_one_pacer_at_the_stricter_rate() {
        let url = |text: &str| reqwest::Url::parse(text).expect("url");
        let klines = Pacer::shared(&url("https://api.binance.com"), 600).expect("rate");
        let orders =
            Pacer::shared(&url("https://API.binance.com/api/v3/order"), 540).expect("rate");
        assert!(Arc::ptr_eq(&klines, &orders));
        assert_eq!(klines.min_interval(), interval(540));
        let other = Pacer::shared(&url("https://api.binance.com:8443"), 600).expect("rate");
        assert!(
            !Arc::ptr_eq(&klines, &other),
            "another port is another budget"
        );
        let data = Pacer::shared(&url("https://data-api.binance.vision"), 600).expect("rate");
        assert!(!Arc::ptr_eq(&klines, &data));
    }

    #[tokio::test]
    async fn starts_are_spaced_by_the_minimum_interval() {
        let pacer = Pacer::new(600).expect("valid rate");
        let begin = Instant::now();
        for _ in 0..3 {
            pacer.wait_turn(Duration::MAX).await.expect("no hold");
        }
        assert!(begin.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_hold_delays_the_next_start_and_a_long_one_refuses_it() {
        let pacer = Pacer::new(60_000).expect("valid rate");
        pacer.hold_for(Duration::from_millis(300));
        assert!(pacer.held_for().is_some());
        let begin = Instant::now();
        pacer
            .wait_turn(Duration::from_secs(5))
            .await
            .expect("short hold");
        assert!(begin.elapsed() >= Duration::from_millis(300));
        assert_eq!(pacer.held_for(), None);

        pacer.hold_for(Duration::from_secs(600));
        pacer.hold_for(Duration::from_secs(1));
        let refused = pacer.wait_turn(Duration::from_secs(5)).await;
        assert!(refused.is_err_and(|left| left > Duration::from_secs(590)));
    }

    #[test]
    fn a_rate_of_zero_is_refused() {
        assert!(Pacer::new(0).is_err());
    }
}
