//! Memoised indicator series, shared by every rule and strategy evaluated over the same data.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::sync::{Arc, PoisonError, RwLock};

use crate::indicators::{IndicatorError, NanValues};

/// Indicator series computed once per (instrument, series, function, parameters) and reused.
///
/// **Key**: the call with everything resolved, e.g. `sma(ETH.close, 20)`, `atr(ETH, 14)` or
/// `macd(ETH.close, 12, 26, 9)` (all outputs of a multi-output function are stored together).
/// Parameters appear as their values, so `sma(close, $fast)` with `fast = 20` shares the entry
/// of `sma(close, 20)`, and `close` in an ETH rule shares it with `ETH.close` in a BTC rule.
///
/// **Reuse across days**: indicators are causal (the value on day *i* uses only days up to *i*),
/// so a series computed over a longer history answers every earlier decision day exactly as a
/// computation on the shorter history would. An entry is reused when it covers at least the
/// requested days and its input agrees at the first and the last requested day; otherwise it is
/// recomputed for the requested history. A backtest can therefore call
/// [`super::Rule::precompute`] once on the whole history and then evaluate day by day cheaply.
///
/// **Reset**: the cache assumes each instrument's history only ever grows at the end. When the
/// underlying candles change (a re-sync, a corrected candle, a different data set under the same
/// symbol), call [`IndicatorCache::clear`] or use a new cache. The input check above is a guard
/// against mistakes, not a substitute for that.
///
/// **Sharing across threads**: a cache made with [`IndicatorCache::sharing`] also looks in, and
/// adds to, a [`SharedIndicators`] store, so the threads of a sweep compute each series once
/// between them; each keeps its own map of what it has looked up, so most lookups take no lock.
#[derive(Debug, Default)]
pub struct IndicatorCache {
    entries: HashMap<String, Arc<Entry>>,
    computations: usize,
    shared: Option<SharedIndicators>,
    /// The input of the entry computed last, lent to the next entry computed from the same
    /// numbers: the indicators of one instrument mostly read the same series (two moving
    /// averages of the close), which is then kept once, not once per indicator.
    last_input: Option<Arc<[f64]>>,
}

/// Indicator series shared by the caches of several threads (e.g. the points of a sweep): each
/// computed once for all of them.
#[derive(Debug, Clone, Default)]
pub struct SharedIndicators(Arc<RwLock<HashMap<String, Arc<Entry>>>>);

impl SharedIndicators {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many series it holds.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug)]
struct Entry {
    /// The input series the outputs were computed from (for `atr`: the close); shared with
    /// other entries computed from the same numbers.
    input: Arc<[f64]>,
    /// Every output, aligned with `input`, NaN where not ready (see [`NanValues`]); shared, so
    /// whole-history evaluation reads them without copying.
    outputs: Vec<Arc<NanValues>>,
}

impl Entry {
    /// Whether this entry answers for `input` (a prefix of the entry's own input).
    fn covers(&self, input: &[f64]) -> bool {
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
        match (input.first(), input.last()) {
            (Some(&first), Some(&last)) => {
                self.input.len() >= input.len()
                    && same(self.input[0], first)
                    && same(self.input[input.len() - 1], last)
            }
            _ => true,
        }
    }
}

impl IndicatorCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache backed by `shared`: what another cache of the same store has computed is
    /// not computed again.
    pub fn sharing(shared: &SharedIndicators) -> Self {
        Self {
            shared: Some(shared.clone()),
            ..Self::default()
        }
    }

    /// An empty cache backed by the same shared store as this one, if any: for a worker thread
    /// whose series are handed back with [`IndicatorCache::absorb`].
    pub fn fork(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            ..Self::default()
        }
    }

    /// Takes in what `other` (a [`fork`](IndicatorCache::fork) of this cache, over the same
    /// data) has computed, as if this cache had computed it.
    pub fn absorb(&mut self, other: IndicatorCache) {
        self.computations += other.computations;
        self.entries.extend(other.entries);
    }

    /// How many times an indicator has been computed (cache misses) since creation or `clear`.
    pub fn computations(&self) -> usize {
        self.computations
    }

    /// How many indicator series are stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets everything; required when the underlying data changes.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.computations = 0;
        self.last_input = None;
    }

    /// The outputs stored under `key` for `input`, computing them first if needed.
    pub(crate) fn get_or_compute(
        &mut self,
        key: String,
        input: &[f64],
        compute: impl FnOnce() -> Result<Vec<NanValues>, IndicatorError>,
    ) -> Result<&[Arc<NanValues>], IndicatorError> {
        let last_input = &mut self.last_input;
        let fresh = || -> Result<Arc<Entry>, IndicatorError> {
            let outputs: Vec<Arc<NanValues>> = compute()?.into_iter().map(Arc::new).collect();
            // Comparing with the last input (in cache) is cheaper than copying into fresh memory.
            let input = match last_input {
                Some(last) if same_numbers(last, input) => Arc::clone(last),
                _ => Arc::clone(last_input.insert(Arc::from(input))),
            };
            Ok(Arc::new(Entry { input, outputs }))
        };
        let entry = match self.entries.entry(key) {
            MapEntry::Occupied(mut slot) => {
                if !slot.get().covers(input) {
                    slot.insert(fresh()?);
                    self.computations += 1;
                }
                slot.into_mut()
            }
            MapEntry::Vacant(slot) => {
                let known = self.shared.as_ref().and_then(|shared| {
                    let store = shared.0.read().unwrap_or_else(PoisonError::into_inner);
                    store.get(slot.key()).filter(|e| e.covers(input)).cloned()
                });
                let entry = match known {
                    Some(entry) => entry,
                    None => {
                        let entry = fresh()?;
                        self.computations += 1;
                        if let Some(shared) = &self.shared {
                            // Two threads may compute the same series at once; the first stays.
                            let mut store =
                                shared.0.write().unwrap_or_else(PoisonError::into_inner);
                            store
                                .entry(slot.key().clone())
                                .or_insert_with(|| Arc::clone(&entry));
                        }
                        entry
                    }
                };
                slot.insert(entry)
            }
        };
        Ok(&entry.outputs)
    }
}

/// Whether `a` and `b` hold the same numbers, bit for bit (NaN equals NaN). No early exit, so
/// the compiler compares several at once: equal series (the case worth checking for) are read
/// to the end anyway.
fn same_numbers(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(true, |same, (a, b)| same & (a.to_bits() == b.to_bits()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ones(input: &[f64]) -> Result<Vec<NanValues>, IndicatorError> {
        Ok(vec![input.to_vec()])
    }

    #[test]
    fn a_shorter_prefix_of_the_same_data_is_served_from_the_cache() {
        let data = [1.0, 2.0, 3.0, 4.0];
        let mut cache = IndicatorCache::new();
        cache
            .get_or_compute("k".into(), &data, || ones(&data))
            .expect("computes");
        cache
            .get_or_compute("k".into(), &data[..2], || ones(&data[..2]))
            .expect("reuses");
        assert_eq!(cache.computations(), 1);
    }

    #[test]
    fn caches_sharing_a_store_compute_each_series_once() {
        let data = [1.0, 2.0, 3.0];
        let shared = SharedIndicators::new();
        let mut first = IndicatorCache::sharing(&shared);
        let mut second = IndicatorCache::sharing(&shared);
        first
            .get_or_compute("k".into(), &data, || ones(&data))
            .expect("computes");
        let outputs = second
            .get_or_compute("k".into(), &data, || panic!("computed twice"))
            .expect("shared");
        assert_eq!(outputs[0].as_slice(), &[1.0, 2.0, 3.0]);
        assert_eq!((first.computations(), second.computations()), (1, 0));
        assert_eq!(shared.len(), 1);
        // Other data under the same key is computed, never served from the store.
        let other = [9.0, 2.0, 3.0];
        let mut third = IndicatorCache::sharing(&shared);
        third
            .get_or_compute("k".into(), &other, || ones(&other))
            .expect("computes");
        assert_eq!(third.computations(), 1);
    }

    #[test]
    fn indicators_of_the_same_numbers_keep_them_once() {
        let data = [1.0, f64::NAN, 3.0];
        let other = [1.0, f64::NAN, 4.0];
        let mut cache = IndicatorCache::new();
        for key in ["a", "b"] {
            cache
                .get_or_compute(key.into(), &data, || ones(&data))
                .expect("computes");
        }
        cache
            .get_or_compute("c".into(), &other, || ones(&other))
            .expect("computes");
        let input = |key: &str| Arc::clone(&cache.entries[key].input);
        assert!(Arc::ptr_eq(&input("a"), &input("b")));
        assert_eq!(
            input("c").last().map(|v| v.to_bits()),
            Some(4.0f64.to_bits())
        );
        assert!(same_numbers(&data, &[1.0, f64::NAN, 3.0]));
        assert!(!same_numbers(&data, &data[..2]) && !same_numbers(&[0.0], &[-0.0]));
    }

    #[test]
    fn longer_or_different_data_is_recomputed() {
        let mut cache = IndicatorCache::new();
        let short = [1.0, 2.0];
        let long = [1.0, 2.0, 3.0];
        let other = [9.0, 2.0];
        cache
            .get_or_compute("k".into(), &short, || ones(&short))
            .expect("computes");
        cache
            .get_or_compute("k".into(), &long, || ones(&long))
            .expect("longer");
        cache
            .get_or_compute("k".into(), &other, || ones(&other))
            .expect("different");
        assert_eq!(cache.computations(), 3);
        cache.clear();
        assert!(cache.is_empty());
        assert!(cache.last_input.is_none());
        assert_eq!(cache.computations(), 0);
    }
}
