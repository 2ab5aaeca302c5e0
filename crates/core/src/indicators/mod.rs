//! Technical indicators over daily series, matching TA-Lib conventions (f64 only here).
//!
//! Every function takes plain `f64` series (oldest first) and returns [`Values`]: one entry per
//! input index, `None` where the indicator is not ready. The numbers are those of TA-Lib 0.6+
//! (the C library behind the `TA-Lib` Python package, checked against 0.8.x), warm-up rows
//! included: `crates/core/tests/indicators_talib.rs` requires 1e-9 relative agreement with
//! committed TA-Lib fixtures, and on the sample data the results are in fact bit-identical.
//!
//! # Conventions (all TA-Lib's)
//! - **Warm-up**: an output is `None` until TA-Lib's lookback is reached: `period - 1` for
//!   [`sma`], [`ema`], [`wma`], [`stddev`], [`highest`], [`lowest`], [`bollinger`]; `period` for
//!   [`rsi`], [`roc`], [`atr`]; `slow - 1 + signal - 1` for all three [`macd`] outputs.
//! - **Seeding**: [`ema`] starts from the SMA of its first `period` values; [`rsi`] and [`atr`]
//!   start from plain averages of the first `period` changes / true ranges, then use Wilder
//!   smoothing (`avg = avg * (n - 1) / n + x / n`). Inside [`macd`] the fast EMA is seeded with
//!   the SMA of the `fast` values *ending where the slow EMA starts* (index `slow - 1`), not of
//!   the first `fast` values, and the signal EMA with the SMA of the first `signal` MACD values.
//! - **Arithmetic** mirrors TA-Lib's code step by step (running sums, the same operation order,
//!   RSI's `* (1 / n)` scaling, ATR's `(n - 1) / n` weights, the periodic re-summing in WMA and
//!   the shifted, re-centred variance in STDDEV/BBANDS). Where TA-Lib's build uses fused
//!   multiply-add (the EMA step, ATR smoothing) we use [`f64::mul_add`], which rounds the same
//!   way on every CPU.
//! - **Degenerate windows**: [`rsi`] is `0` when the average gain and loss are both 0, e.g. on a
//!   constant series; [`stddev`] is exactly `0` on a constant window; [`roc`] is `0` when the
//!   value `period` bars back is exactly zero.
//! - **Parameter ranges** are TA-Lib's: periods of at least 1 for [`sma`], [`ema`], [`wma`],
//!   [`roc`], [`atr`] and the MACD signal; at least 2 for [`rsi`], [`stddev`], [`highest`],
//!   [`lowest`], [`bollinger`] and the MACD fast/slow periods. Two deliberate differences: MACD
//!   rejects `fast >= slow` (TA-Lib silently swaps them), and deviation multipliers must be
//!   finite and non-negative (TA-Lib accepts any number).
//!
//! # Non-finite input (our choice; TA-Lib would propagate NaN to every later output)
//! A NaN or infinite input (for [`atr`]: in any of high/low/close) splits the series. The output
//! is `None` at that index, and the indicator starts over after it, warming up again on the next
//! finite run as if that run were a fresh series: no output ever depends on a non-finite input.
//! This generalises what the TA-Lib Python wrapper does with leading NaNs. Any computed value
//! that overflows to a non-finite number is reported as `None` too.

use std::ops::Range;

mod average;
mod momentum;
mod range;
#[cfg(test)]
mod test_support;
mod volatility;

pub use average::{ema, sma, wma};
pub(crate) use average::{ema_nan, sma_nan};
pub use momentum::{Macd, macd, roc, rsi};
pub use range::{highest, lowest};
pub use volatility::{Bands, atr, bollinger, stddev};

/// Why an indicator cannot be computed with these parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    /// A period parameter is below the smallest value the indicator accepts.
    #[error("{function}: `{name}` must be at least {min}, got {period}")]
    PeriodTooSmall {
        /// The indicator, e.g. `"rsi"`.
        function: &'static str,
        /// The parameter, e.g. `"period"` or `"slow"`.
        name: &'static str,
        /// The value given.
        period: usize,
        /// The smallest value accepted.
        min: usize,
    },
    /// A multiplier (standard deviations) is NaN, infinite or negative.
    #[error("{function}: `{name}` must be a finite number >= 0, got {value}")]
    BadMultiplier {
        /// The indicator, e.g. `"bollinger"`.
        function: &'static str,
        /// The parameter, e.g. `"deviations"`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// Input series that must line up index-for-index have different lengths.
    #[error("{function}: `{name}` has {actual} values but `{reference}` has {expected}")]
    LengthMismatch {
        /// The indicator, e.g. `"atr"`.
        function: &'static str,
        /// The series whose length is checked against the reference.
        reference: &'static str,
        /// The length of the reference series.
        expected: usize,
        /// The series that differs.
        name: &'static str,
        /// Its length.
        actual: usize,
    },
    /// The fast period of a two-speed indicator is not strictly below the slow one.
    #[error("{function}: `fast` ({fast}) must be below `slow` ({slow})")]
    FastNotBelowSlow {
        /// The indicator, e.g. `"macd"`.
        function: &'static str,
        /// The fast period given.
        fast: usize,
        /// The slow period given.
        slow: usize,
    },
}

/// Output aligned index-for-index with the input; `None` while warming up (TA-Lib's lookback) or where an input was NaN/inf.
pub type Values = Vec<Option<f64>>;

/// Output aligned index-for-index with the input as plain numbers: NaN where [`Values`] has
/// `None`, every other value finite. What the rule evaluators keep and read: a value is half
/// the size of an `Option<f64>`, and loops over plain numbers vectorize.
pub(crate) type NanValues = Vec<f64>;

/// `Some(v)` when `v` is finite.
pub(crate) fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// `v` when it is finite, else NaN (not ready): [`finite`] for [`NanValues`].
pub(crate) fn finite_or_nan(v: f64) -> f64 {
    if v.is_finite() { v } else { f64::NAN }
}

/// `values` as [`NanValues`].
pub(crate) fn nan_encoded(values: &[Option<f64>]) -> NanValues {
    values
        .iter()
        .map(|v| {
            debug_assert!(v.is_none_or(f64::is_finite), "indicator values are finite");
            v.unwrap_or(f64::NAN)
        })
        .collect()
}

/// `values` as [`Values`]: the inverse of [`nan_encoded`].
pub(crate) fn from_nan_encoded(values: &[f64]) -> Values {
    values.iter().map(|&v| finite(v)).collect()
}

/// Fails unless `period >= min`.
pub(crate) fn check_period(
    function: &'static str,
    name: &'static str,
    period: usize,
    min: usize,
) -> Result<(), IndicatorError> {
    if period < min {
        return Err(IndicatorError::PeriodTooSmall {
            function,
            name,
            period,
            min,
        });
    }
    Ok(())
}

/// Fails unless `value` is finite and not negative.
pub(crate) fn check_multiplier(
    function: &'static str,
    name: &'static str,
    value: f64,
) -> Result<(), IndicatorError> {
    if !value.is_finite() || value < 0.0 {
        return Err(IndicatorError::BadMultiplier {
            function,
            name,
            value,
        });
    }
    Ok(())
}

/// The maximal runs of consecutive indices in `0..len` where `ok` holds.
pub(crate) fn runs(len: usize, ok: impl Fn(usize) -> bool) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for i in 0..len {
        match (ok(i), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..len);
    }
    out
}

/// Applies `compute` to every run of finite values of `x`, each as if it were a whole series,
/// writing into an all-`None` output of the same length.
pub(crate) fn per_finite_run(
    x: &[f64],
    mut compute: impl FnMut(&[f64], &mut [Option<f64>]),
) -> Values {
    per_finite_run_appending(x, None, |x, out| {
        let start = out.len();
        out.resize(start + x.len(), None);
        compute(x, &mut out[start..]);
    })
}

/// [`per_finite_run`] for a `compute` that appends its run's outputs (exactly one per value
/// of the run) to the output instead of overwriting `None`s: each output is written once,
/// with no all-`None` pass first. A backtest over many instruments computes its indicators
/// on every instrument, so this pass and the zeroing are a visible share of its time.
/// `gap` is the output at a non-finite input: `None`, or NaN for [`NanValues`].
pub(crate) fn per_finite_run_appending<T: Copy>(
    x: &[f64],
    gap: T,
    mut compute: impl FnMut(&[f64], &mut Vec<T>),
) -> Vec<T> {
    let mut out = Vec::with_capacity(x.len());
    if all_finite(x) {
        // The usual case, market data without gaps: one run, no list of runs to build.
        compute(x, &mut out);
    } else {
        for run in runs(x.len(), |i| x[i].is_finite()) {
            out.resize(run.start, gap);
            compute(&x[run.clone()], &mut out);
            debug_assert_eq!(out.len(), run.end, "one output per value of the run");
        }
        out.resize(x.len(), gap);
    }
    debug_assert_eq!(out.len(), x.len(), "one output per value");
    out
}

/// Whether every value of `x` is finite. No early exit, so the compiler checks several values
/// at once: on a series without gaps (the usual case) every value is looked at anyway.
fn all_finite(x: &[f64]) -> bool {
    x.iter().fold(true, |ok, v| ok & v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_rejected_indices() {
        let x = [1.0, f64::NAN, 2.0, 3.0, f64::INFINITY, f64::NAN, 4.0];
        assert_eq!(runs(x.len(), |i| x[i].is_finite()), vec![0..1, 2..4, 6..7]);
        assert_eq!(runs(0, |_| true), Vec::<Range<usize>>::new());
        assert_eq!(runs(3, |_| false), Vec::<Range<usize>>::new());
    }

    #[test]
    fn appended_runs_line_up_with_the_input() {
        // Each run's outputs are its values doubled; gaps and the ends stay `None`.
        let double = |x: &[f64], out: &mut Values| out.extend(x.iter().map(|v| Some(v * 2.0)));
        let x = [f64::NAN, 1.0, f64::INFINITY, 2.0, 3.0, f64::NAN];
        let expected = vec![None, Some(2.0), None, Some(4.0), Some(6.0), None];
        assert_eq!(per_finite_run_appending(&x, None, double), expected);
        assert_eq!(
            per_finite_run_appending(&[1.0, 2.0], None, double),
            vec![Some(2.0), Some(4.0)]
        );
        assert_eq!(per_finite_run_appending(&[], None, double), Vec::new());
        assert_eq!(nan_encoded(&expected).len(), x.len());
        assert_eq!(from_nan_encoded(&nan_encoded(&expected)), expected);
        assert!(all_finite(&[1.0, -2.0]) && !all_finite(&[1.0, f64::NAN]));
    }

    #[test]
    fn errors_name_the_function_and_parameter() {
        let err = sma(&[1.0], 0).expect_err("period 0");
        assert_eq!(err.to_string(), "sma: `period` must be at least 1, got 0");
        let err = bollinger(&[1.0], 20, f64::NAN).expect_err("NaN multiplier");
        assert!(
            err.to_string().starts_with("bollinger: `deviations`"),
            "{err}"
        );
        let err = atr(&[1.0, 2.0], &[1.0], &[1.0, 2.0], 1).expect_err("lengths");
        assert_eq!(err.to_string(), "atr: `low` has 1 values but `high` has 2");
        let err = macd(&[1.0], 26, 12, 9).expect_err("fast above slow");
        assert_eq!(
            err.to_string(),
            "macd: `fast` (26) must be below `slow` (12)"
        );
    }

    #[test]
    fn every_period_parameter_rejects_zero_and_names_itself() {
        let x = [1.0; 40];
        let cases: Vec<(Result<(), IndicatorError>, &str, &str, usize)> = vec![
            (sma(&x, 0).map(drop), "sma", "period", 1),
            (ema(&x, 0).map(drop), "ema", "period", 1),
            (wma(&x, 0).map(drop), "wma", "period", 1),
            (rsi(&x, 1).map(drop), "rsi", "period", 2),
            (stddev(&x, 1, 1.0).map(drop), "stddev", "period", 2),
            (highest(&x, 1).map(drop), "highest", "period", 2),
            (lowest(&x, 1).map(drop), "lowest", "period", 2),
            (roc(&x, 0).map(drop), "roc", "period", 1),
            (atr(&x, &x, &x, 0).map(drop), "atr", "period", 1),
            (macd(&x, 1, 26, 9).map(drop), "macd", "fast", 2),
            (macd(&x, 12, 1, 9).map(drop), "macd", "slow", 2),
            (macd(&x, 12, 26, 0).map(drop), "macd", "signal", 1),
            (bollinger(&x, 1, 2.0).map(drop), "bollinger", "period", 2),
        ];
        for (result, function, name, min) in cases {
            let expected = IndicatorError::PeriodTooSmall {
                function,
                name,
                period: min - 1,
                min,
            };
            assert_eq!(result, Err(expected), "{function}.{name}");
        }
    }

    #[test]
    fn multipliers_must_be_finite_and_not_negative() {
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            assert!(matches!(
                stddev(&[1.0, 2.0], 2, bad),
                Err(IndicatorError::BadMultiplier {
                    function: "stddev",
                    ..
                })
            ));
            assert!(matches!(
                bollinger(&[1.0, 2.0], 2, bad),
                Err(IndicatorError::BadMultiplier {
                    function: "bollinger",
                    ..
                })
            ));
        }
        assert!(stddev(&[1.0, 2.0], 2, 0.0).is_ok());
    }

    #[test]
    fn a_period_longer_than_the_data_is_never_ready_and_allocates_by_the_data() {
        // `highest(close, 4294967295)` used to reserve a window of that many indices (34 GB).
        let x = [1.0, 2.0, 3.0, 2.0, 1.0];
        for period in [x.len() + 1, 4_294_967_295, usize::MAX] {
            let none = vec![None; x.len()];
            let outputs: Vec<Values> = vec![
                sma(&x, period).expect("sma"),
                ema(&x, period).expect("ema"),
                wma(&x, period).expect("wma"),
                rsi(&x, period).expect("rsi"),
                highest(&x, period).expect("highest"),
                lowest(&x, period).expect("lowest"),
                roc(&x, period).expect("roc"),
                stddev(&x, period, 1.0).expect("stddev"),
                atr(&x, &x, &x, period).expect("atr"),
                macd(&x, 2, period, period).expect("macd").signal,
                macd(&x, 2, 3, period).expect("macd").line,
                bollinger(&x, period, 2.0).expect("bollinger").upper,
            ];
            for (i, output) in outputs.iter().enumerate() {
                assert_eq!(output, &none, "indicator {i}, period {period}");
            }
        }
    }
}
