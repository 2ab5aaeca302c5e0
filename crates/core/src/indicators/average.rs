//! Moving averages: simple, exponential and weighted (TA-Lib `SMA`, `EMA`, `WMA`).

use super::{
    IndicatorError, NanValues, Values, check_period, finite, finite_or_nan, from_nan_encoded,
    per_finite_run, per_finite_run_appending,
};

/// Simple moving average of the last `period` values (TA-Lib `SMA`, lookback `period - 1`).
pub fn sma(x: &[f64], period: usize) -> Result<Values, IndicatorError> {
    Ok(from_nan_encoded(&sma_nan(x, period)?))
}

/// [`sma`] as [`NanValues`], written directly: the most used indicator, on every instrument
/// of a portfolio backtest, whose rule evaluators read plain numbers.
pub(crate) fn sma_nan(x: &[f64], period: usize) -> Result<NanValues, IndicatorError> {
    check_period("sma", "period", period, 1)?;
    Ok(per_finite_run_appending(x, f64::NAN, |x, out| {
        let warm_up = (period - 1).min(x.len());
        out.extend(std::iter::repeat_n(f64::NAN, warm_up));
        out.extend(sma_core(x, period).map(|(_, mean)| finite_or_nan(mean)));
    }))
}

/// Exponential moving average, `k = 2 / (period + 1)`, seeded with the SMA of the first `period`
/// values (TA-Lib `EMA`, lookback `period - 1`).
pub fn ema(x: &[f64], period: usize) -> Result<Values, IndicatorError> {
    Ok(from_nan_encoded(&ema_nan(x, period)?))
}

/// [`ema`] as [`NanValues`], written directly.
pub(crate) fn ema_nan(x: &[f64], period: usize) -> Result<NanValues, IndicatorError> {
    check_period("ema", "period", period, 1)?;
    Ok(per_finite_run_appending(x, f64::NAN, |x, out| {
        if x.len() < period {
            out.extend(std::iter::repeat_n(f64::NAN, x.len()));
            return;
        }
        out.extend(std::iter::repeat_n(f64::NAN, period - 1));
        out.extend(
            ema_core(x, period, period - 1)
                .into_iter()
                .map(finite_or_nan),
        );
    }))
}

/// Linearly weighted moving average, the newest value weighing `period` and the oldest 1
/// (TA-Lib `WMA`, lookback `period - 1`).
pub fn wma(x: &[f64], period: usize) -> Result<Values, IndicatorError> {
    check_period("wma", "period", period, 1)?;
    Ok(per_finite_run(x, |x, out| wma_run(x, period, out)))
}

/// `(index, mean)` of every full window, with TA-Lib's running sum: the first `period - 1`
/// values are summed once, then each step adds the newest and subtracts the oldest.
/// Empty when `x` is shorter than `period` (which must be at least 1).
pub(crate) fn sma_core(x: &[f64], period: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
    let n = period as f64;
    let start = period - 1;
    let mut total = 0.0;
    for &v in x.iter().take(start) {
        total += v;
    }
    (start..x.len()).map(move |i| {
        total += x[i];
        let mean = total / n;
        total -= x[i - start];
        (i, mean)
    })
}

/// TA-Lib's `TA_INT_EMA` with output starting at index `first` (which must satisfy
/// `period - 1 <= first < x.len()`): the seed is the plain average of the `period` values ending
/// at `first`, and then `prev = (v - prev) * k + prev` (fused multiply-add). Returns the values
/// for `first..x.len()`.
///
/// Plain EMA uses `first = period - 1`; MACD starts its fast EMA where the slow one starts.
pub(crate) fn ema_core(x: &[f64], period: usize, first: usize) -> Vec<f64> {
    let k = 2.0 / (period as f64 + 1.0);
    let mut total = 0.0;
    for &v in &x[first + 1 - period..=first] {
        total += v;
    }
    let mut prev = total / period as f64;
    let mut out = Vec::with_capacity(x.len() - first);
    out.push(prev);
    for &v in &x[first + 1..] {
        // One rounding for `(v - prev) * k + prev`, as TA-Lib's FMA build computes it.
        prev = (v - prev).mul_add(k, prev);
        out.push(prev);
    }
    out
}

/// TA-Lib's `TA_WMA` loop (0.6+): a running plain sum and a running weighted sum, both
/// recomputed from the window itself every `8 * period` outputs to stop rounding drift.
fn wma_run(x: &[f64], period: usize, out: &mut [Option<f64>]) {
    if x.len() < period {
        return;
    }
    if period == 1 {
        // TA-Lib copies the input; the running sums below would leave rounding residue.
        for (o, &v) in out.iter_mut().zip(x) {
            *o = Some(v);
        }
        return;
    }
    let n = period as f64;
    let divider = (n + 1.0) * n * 0.5;
    let start = period - 1;
    let recompute_every = period.saturating_mul(8);
    let (mut plain, mut weighted) = (0.0, 0.0);
    for (i, &v) in x.iter().take(start).enumerate() {
        plain += v;
        weighted += v * (i + 1) as f64;
    }
    let mut trailing = 0.0;
    let mut countdown = recompute_every;
    for i in start..x.len() {
        countdown -= 1;
        let total = if countdown == 0 {
            countdown = recompute_every;
            (plain, weighted) = (0.0, 0.0);
            for (j, &w) in x[i - start..=i].iter().enumerate() {
                plain += w;
                weighted += w * (j + 1) as f64;
            }
            weighted
        } else {
            let v = x[i];
            plain += v;
            plain -= trailing;
            weighted + v * n
        };
        // `plain` now sums the window; next step every weight drops by one.
        weighted = total - plain;
        trailing = x[i - start];
        out[i] = finite(total / divider);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::test_support::{approx, close_to, noisy};

    const X: [f64; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 4.0];

    #[test]
    fn averages_match_hand_computed_tables() {
        type F = fn(&[f64], usize) -> Result<Values, IndicatorError>;
        let cases: Vec<(&str, F, usize, Vec<Option<f64>>)> = vec![
            ("sma period 1 is the input", sma, 1, X.map(Some).to_vec()),
            ("ema period 1 is the input", ema, 1, X.map(Some).to_vec()),
            ("wma period 1 is the input", wma, 1, X.map(Some).to_vec()),
            (
                "sma 3",
                sma,
                3,
                vec![
                    None,
                    None,
                    Some(2.0),
                    Some(3.0),
                    Some(4.0),
                    Some(13.0 / 3.0),
                ],
            ),
            // seed = (1+2+3)/3 = 2, k = 0.5: 3, 4, 4
            (
                "ema 3",
                ema,
                3,
                vec![None, None, Some(2.0), Some(3.0), Some(4.0), Some(4.0)],
            ),
            // (1*1 + 2*2 + 3*3) / 6, ...
            (
                "wma 3",
                wma,
                3,
                vec![
                    None,
                    None,
                    Some(14.0 / 6.0),
                    Some(20.0 / 6.0),
                    Some(26.0 / 6.0),
                    Some(26.0 / 6.0),
                ],
            ),
            ("sma longer than input", sma, 7, vec![None; 6]),
            ("ema longer than input", ema, 7, vec![None; 6]),
            ("wma longer than input", wma, 7, vec![None; 6]),
            (
                "sma exactly the input length",
                sma,
                6,
                vec![None, None, None, None, None, Some(19.0 / 6.0)],
            ),
            (
                "ema exactly the input length",
                ema,
                6,
                vec![None, None, None, None, None, Some(19.0 / 6.0)],
            ),
        ];
        for (name, f, period, expected) in cases {
            let actual = f(&X, period).expect(name);
            approx(&actual, &expected);
        }
    }

    #[test]
    fn averages_of_a_constant_series_are_that_constant() {
        let x = [7.25; 30];
        for f in [sma, ema, wma] {
            let out = f(&x, 10).expect("valid period");
            assert!(out[..9].iter().all(Option::is_none));
            assert!(out[9..].iter().all(|v| *v == Some(7.25)), "{out:?}");
        }
    }

    #[test]
    fn empty_input_gives_empty_output() {
        for f in [sma, ema, wma] {
            assert_eq!(f(&[], 3).expect("valid period"), Vec::<Option<f64>>::new());
        }
    }

    #[test]
    fn a_nan_restarts_the_warm_up_after_it() {
        let x = [1.0, 2.0, 3.0, f64::NAN, 4.0, 5.0, 6.0, 7.0];
        let out = sma(&x, 2).expect("valid period");
        approx(
            &out,
            &[
                None,
                Some(1.5),
                Some(2.5),
                None,
                None,
                Some(4.5),
                Some(5.5),
                Some(6.5),
            ],
        );
        let out = ema(&x, 3).expect("valid period");
        approx(
            &out,
            &[
                None,
                None,
                Some(2.0),
                None,
                None,
                None,
                Some(5.0),
                Some(6.0),
            ],
        );
        let out = wma(&[f64::INFINITY, 1.0, 2.0], 2).expect("valid period");
        approx(&out, &[None, None, Some(5.0 / 3.0)]);
    }

    #[test]
    fn ema_core_can_seed_from_a_later_window() {
        // MACD's fast EMA: seed on the 2 values ending at index 3.
        let out = ema_core(&[100.0, 1.0, 2.0, 4.0, 8.0], 2, 3);
        approx(
            &out.into_iter().map(Some).collect::<Vec<_>>(),
            &[Some(3.0), Some(3.0 + 5.0 * 2.0 / 3.0)],
        );
    }

    #[test]
    fn long_noisy_series_agree_with_the_textbook_definitions() {
        let x = noisy(3000, 50_000.0, 800.0);
        for period in [2, 5, 20, 50] {
            let mut sma_ref = vec![None; x.len()];
            let mut wma_ref = vec![None; x.len()];
            let mut ema_ref = vec![None; x.len()];
            let k = 2.0 / (period as f64 + 1.0);
            for i in period - 1..x.len() {
                let w = &x[i + 1 - period..=i];
                sma_ref[i] = Some(w.iter().sum::<f64>() / period as f64);
                let weighted: f64 = w.iter().enumerate().map(|(j, v)| v * (j + 1) as f64).sum();
                wma_ref[i] = Some(weighted / (period * (period + 1) / 2) as f64);
                ema_ref[i] = match ema_ref[i - 1] {
                    Some(prev) => Some(prev + k * (x[i] - prev)),
                    None => sma_ref[i],
                };
            }
            // WMA re-sums its window every 8 * period outputs; the series spans many of those.
            close_to(&sma(&x, period).expect("valid"), &sma_ref, 1e-10);
            close_to(&wma(&x, period).expect("valid"), &wma_ref, 1e-10);
            close_to(&ema(&x, period).expect("valid"), &ema_ref, 1e-10);
        }
    }
}
