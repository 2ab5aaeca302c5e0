//! Volatility indicators: standard deviation, average true range and Bollinger bands
//! (TA-Lib `STDDEV`, `ATR`, `BBANDS` with an SMA middle band).

use super::{IndicatorError, Values, check_multiplier, check_period, finite, per_finite_run, runs};

/// Population standard deviation of the last `period` values times `deviations`
/// (TA-Lib `STDDEV`, lookback `period - 1`); exactly 0 on a constant window.
pub fn stddev(x: &[f64], period: usize, deviations: f64) -> Result<Values, IndicatorError> {
    check_period("stddev", "period", period, 2)?;
    check_multiplier("stddev", "deviations", deviations)?;
    Ok(per_finite_run(x, |x, out| {
        for (i, _, sd) in mean_and_stddev(x, period) {
            out[i] = finite(sd * deviations);
        }
    }))
}

/// Average true range with Wilder smoothing (TA-Lib `ATR`, lookback `period`).
///
/// The true range needs the previous close, so it starts at index 1; the first ATR (index
/// `period`) is the plain average of the first `period` true ranges, then Wilder smoothing
/// `atr = atr * (period - 1) / period + tr / period`. All three series must have the same length; a
/// row with any non-finite value splits the series like a NaN does elsewhere.
pub fn atr(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
) -> Result<Values, IndicatorError> {
    check_period("atr", "period", period, 1)?;
    for (name, series) in [("low", low), ("close", close)] {
        if series.len() != high.len() {
            return Err(IndicatorError::LengthMismatch {
                function: "atr",
                reference: "high",
                expected: high.len(),
                name,
                actual: series.len(),
            });
        }
    }
    let mut out = vec![None; high.len()];
    let ok = |i: usize| high[i].is_finite() && low[i].is_finite() && close[i].is_finite();
    for run in runs(high.len(), ok) {
        let r = run.clone();
        atr_run(
            &high[r.clone()],
            &low[r.clone()],
            &close[r],
            period,
            &mut out[run],
        );
    }
    Ok(out)
}

/// Bollinger bands, each aligned index-for-index with the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Bands {
    /// `middle + deviations * stddev`.
    pub upper: Values,
    /// The simple moving average.
    pub middle: Values,
    /// `middle - deviations * stddev`.
    pub lower: Values,
}

/// Bollinger bands around an SMA, `deviations` population standard deviations wide on each side
/// (TA-Lib `BBANDS` with `matype = SMA` and `nbdevup = nbdevdn = deviations`, lookback
/// `period - 1`).
pub fn bollinger(x: &[f64], period: usize, deviations: f64) -> Result<Bands, IndicatorError> {
    check_period("bollinger", "period", period, 2)?;
    check_multiplier("bollinger", "deviations", deviations)?;
    let mut bands = Bands {
        upper: vec![None; x.len()],
        middle: vec![None; x.len()],
        lower: vec![None; x.len()],
    };
    for run in runs(x.len(), |i| x[i].is_finite()) {
        for (i, middle, sd) in mean_and_stddev(&x[run.clone()], period) {
            let width = sd * deviations;
            let i = run.start + i;
            bands.upper[i] = finite(middle + width);
            bands.middle[i] = finite(middle);
            bands.lower[i] = finite(middle - width);
        }
    }
    Ok(bands)
}

/// `(index, mean, population stddev)` of every full window (`period >= 2`), computed the way
/// TA-Lib 0.6+ does it in `TA_VAR` and in `BBANDS` with an SMA:
///
/// - the mean is the running plain sum divided by `period`, bit for bit TA-Lib's `SMA`;
/// - the variance is `mean(d²) - mean(d)²` over running sums of `d = x - shift`, where `shift`
///   starts as the first value and is reset to the current window's mean ("re-centring", with
///   both sums recomputed from scratch) whenever cancellation looms: the variance is below 1e-6
///   of the mean square, a value leaving the window dwarfs the remaining squares by 1e6, or
///   `32 * period` rows have passed since the last re-centring;
/// - a re-centred variance below 1e-12 of the mean square counts as 0.
fn mean_and_stddev(x: &[f64], period: usize) -> Vec<(usize, f64, f64)> {
    if x.len() < period {
        return Vec::new();
    }
    let n = period as f64;
    let inv = 1.0 / n;
    let start = period - 1;
    let recentre_every = period.saturating_mul(32);
    let mut shift = x[0];
    let (mut total, mut sum, mut sum_sq) = (0.0, 0.0, 0.0);
    for &v in &x[..start] {
        total += v;
        let d = v - shift;
        sum += d;
        sum_sq += d * d;
    }
    let mut countdown = recentre_every;
    let mut out = Vec::with_capacity(x.len() - start);
    for i in start..x.len() {
        let v = x[i];
        total += v;
        let d = v - shift;
        sum += d;
        sum_sq += d * d;
        let mean_d = inv * sum;
        let mut variance = inv * sum_sq - mean_d * mean_d;
        let mean = total / n;
        let first = i - start;
        let old = x[first];
        total -= old;
        let old_d = old - shift;
        sum_sq -= old_d * old_d;
        let recentre = inv * sum_sq * 1e-6 > variance || old_d * old_d > sum_sq * 1e6 || {
            countdown -= 1;
            countdown == 0
        };
        if recentre {
            let window = &x[first..=i];
            let mut window_total = 0.0;
            for &w in window {
                window_total += w;
            }
            shift = window_total * inv;
            (sum, sum_sq) = (0.0, 0.0);
            for &w in window {
                let d = w - shift;
                sum += d;
                sum_sq += d * d;
            }
            let mean_d = inv * sum;
            let mean_sq = inv * sum_sq;
            variance = mean_sq - mean_d * mean_d;
            if mean_sq * 1e-12 > variance {
                variance = 0.0;
            }
            let old_d = old - shift;
            sum -= old_d;
            sum_sq -= old_d * old_d;
            countdown = recentre_every;
        } else {
            sum -= old_d;
        }
        let sd = if variance == 0.0 {
            0.0
        } else {
            variance.sqrt()
        };
        out.push((i, mean, sd));
    }
    out
}

/// TA-Lib's `TA_ATR` over one all-finite run.
fn atr_run(high: &[f64], low: &[f64], close: &[f64], period: usize, out: &mut [Option<f64>]) {
    if high.len() <= period {
        return;
    }
    let true_range = |i: usize| {
        let mut greatest = high[i] - low[i];
        let to_high = (close[i - 1] - high[i]).abs();
        if to_high > greatest {
            greatest = to_high;
        }
        let to_low = (close[i - 1] - low[i]).abs();
        if to_low > greatest {
            greatest = to_low;
        }
        greatest
    };
    let n = period as f64;
    // TA-Lib 0.6+ weights: `atr = atr * ((n - 1) / n) + tr * (1 - (n - 1) / n)`, the first
    // product fused with the sum (one rounding, as its FMA build computes it).
    let keep = (period - 1) as f64 / n;
    let take = 1.0 - keep;
    let mut total = 0.0;
    for i in 1..=period {
        total += true_range(i);
    }
    let mut prev = total / n;
    out[period] = finite(prev);
    for (i, o) in out.iter_mut().enumerate().skip(period + 1) {
        prev = prev.mul_add(keep, true_range(i) * take);
        *o = finite(prev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::test_support::{approx, close_to, noisy};

    #[test]
    fn stddev_is_the_population_deviation_times_the_multiplier() {
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let out = stddev(&x, 8, 1.0).expect("valid");
        approx(&out, &[None, None, None, None, None, None, None, Some(2.0)]);
        let out = stddev(&x, 2, 3.0).expect("valid");
        approx(
            &out,
            &[
                None,
                Some(3.0),
                Some(0.0),
                Some(0.0),
                Some(1.5),
                Some(0.0),
                Some(3.0),
                Some(3.0),
            ],
        );
        assert_eq!(stddev(&x, 9, 1.0).expect("valid"), vec![None; 8]);
        approx(&stddev(&x, 2, 0.0).expect("valid")[1..], &[Some(0.0); 7]);
    }

    #[test]
    fn stddev_and_bands_of_a_constant_series_are_flat() {
        let x = [4285.08; 40];
        let sd = stddev(&x, 20, 2.0).expect("valid");
        assert!(sd[19..].iter().all(|v| *v == Some(0.0)), "{sd:?}");
        let b = bollinger(&x, 20, 2.0).expect("valid");
        // The running sum rounds: TA-Lib's BBANDS (and SMA) give this very value too.
        for series in [&b.upper, &b.middle, &b.lower] {
            assert!(series[..19].iter().all(Option::is_none));
            assert!(
                series[19..].iter().all(|v| *v == Some(4285.080000000001)),
                "{series:?}"
            );
        }
    }

    #[test]
    fn bollinger_bands_are_the_sma_plus_and_minus_the_scaled_stddev() {
        let x = [1.0, 3.0, 2.0, 6.0, f64::NAN, 1.0, 1.0, 5.0];
        let b = bollinger(&x, 2, 2.0).expect("valid");
        approx(
            &b.middle,
            &[
                None,
                Some(2.0),
                Some(2.5),
                Some(4.0),
                None,
                None,
                Some(1.0),
                Some(3.0),
            ],
        );
        approx(
            &b.upper,
            &[
                None,
                Some(4.0),
                Some(3.5),
                Some(8.0),
                None,
                None,
                Some(1.0),
                Some(7.0),
            ],
        );
        approx(
            &b.lower,
            &[
                None,
                Some(0.0),
                Some(1.5),
                Some(0.0),
                None,
                None,
                Some(1.0),
                Some(-1.0),
            ],
        );
    }

    #[test]
    fn atr_matches_hand_computed_wilder_values() {
        let high = [10.0, 12.0, 11.0, 15.0, 14.0];
        let low = [9.0, 10.0, 8.0, 12.0, 13.0];
        let close = [9.5, 11.0, 9.0, 14.0, 13.5];
        // True ranges from index 1: 2.5 (12 - 9.5), 3 (11 - 8), 6 (15 - 9), 1 (14 - 13).
        let tr = [2.5, 3.0, 6.0, 1.0];
        approx(
            &atr(&high, &low, &close, 1).expect("valid"),
            &[None, Some(2.5), Some(3.0), Some(6.0), Some(1.0)],
        );
        let a2 = (tr[0] + tr[1]) / 2.0;
        let a3 = (a2 + tr[2]) / 2.0;
        let a4 = (a3 + tr[3]) / 2.0;
        approx(
            &atr(&high, &low, &close, 2).expect("valid"),
            &[None, None, Some(a2), Some(a3), Some(a4)],
        );
        assert_eq!(atr(&high, &low, &close, 5).expect("valid"), vec![None; 5]);
    }

    #[test]
    fn atr_of_constant_bars_is_their_range() {
        let out = atr(&[11.0; 20], &[9.0; 20], &[10.0; 20], 14).expect("valid");
        assert!(out[..14].iter().all(Option::is_none));
        assert!(out[14..].iter().all(|v| *v == Some(2.0)), "{out:?}");
    }

    #[test]
    fn atr_restarts_after_a_row_with_a_non_finite_value() {
        let high = [2.0, 3.0, 3.0, 4.0, 5.0];
        let low = [1.0, 2.0, 2.0, 3.0, 4.0];
        let close = [1.5, 2.5, f64::NAN, 3.5, 4.5];
        approx(
            &atr(&high, &low, &close, 1).expect("valid"),
            &[None, Some(1.5), None, None, Some(1.5)],
        );
    }

    #[test]
    fn atr_rejects_series_of_different_lengths() {
        let err = atr(&[1.0; 3], &[1.0; 3], &[1.0; 2], 2).expect_err("lengths differ");
        assert_eq!(
            err,
            IndicatorError::LengthMismatch {
                function: "atr",
                reference: "high",
                expected: 3,
                name: "close",
                actual: 2
            }
        );
    }

    /// Two-pass population standard deviation of every full window.
    fn two_pass_stddev(x: &[f64], period: usize) -> Vec<Option<f64>> {
        let mut out = vec![None; x.len()];
        for i in period - 1..x.len() {
            let w = &x[i + 1 - period..=i];
            let mean = w.iter().sum::<f64>() / period as f64;
            let var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / period as f64;
            out[i] = Some(var.sqrt());
        }
        out
    }

    #[test]
    fn stddev_stays_accurate_far_from_zero_and_across_re_centring() {
        // A level of 1e6 with unit noise: `mean(x²) - mean(x)²` on raw values would lose about
        // five digits here; the shifted sums (re-centred every 32 * period rows) do not.
        let x = noisy(3000, 1e6, 1.0);
        for period in [2, 20, 60] {
            close_to(
                &stddev(&x, period, 1.0).expect("valid"),
                &two_pass_stddev(&x, period),
                1e-9,
            );
        }
    }

    #[test]
    fn stddev_recovers_after_a_huge_value_leaves_the_window() {
        let mut x = vec![1e9; 25];
        x.extend(noisy(100, 1.0, 0.01));
        let out = stddev(&x, 20, 1.0).expect("valid");
        let expected = two_pass_stddev(&x, 20);
        close_to(&out[45..], &expected[45..], 1e-9);
        assert_eq!(out[19..25], [Some(0.0); 6]);
    }

    #[test]
    fn bollinger_is_the_sma_plus_and_minus_the_scaled_stddev_on_a_long_series() {
        let x = noisy(1500, 30_000.0, 500.0);
        let b = bollinger(&x, 20, 2.0).expect("valid");
        let mid = crate::indicators::sma(&x, 20).expect("valid");
        let sd = stddev(&x, 20, 2.0).expect("valid");
        assert_eq!(
            b.middle, mid,
            "the middle band is TA-Lib's SMA, bit for bit"
        );
        for i in 0..x.len() {
            assert_eq!(
                b.upper[i],
                mid[i].zip(sd[i]).map(|(m, s)| m + s),
                "index {i}"
            );
            assert_eq!(
                b.lower[i],
                mid[i].zip(sd[i]).map(|(m, s)| m - s),
                "index {i}"
            );
        }
    }

    #[test]
    fn atr_on_a_long_noisy_series_agrees_with_the_textbook_definition() {
        let close = noisy(2000, 20_000.0, 300.0);
        let high: Vec<f64> = close
            .iter()
            .zip(noisy(2000, 0.0, 1.0))
            .map(|(c, r)| c + 50.0 + r.abs() * 10.0)
            .collect();
        let low: Vec<f64> = close
            .iter()
            .zip(noisy(2000, 0.0, 1.0))
            .map(|(c, r)| c - 40.0 - r.abs() * 10.0)
            .collect();
        for period in [1, 2, 14] {
            let n = period as f64;
            let tr = |j: usize| {
                (high[j] - low[j])
                    .max((high[j] - close[j - 1]).abs())
                    .max((low[j] - close[j - 1]).abs())
            };
            let mut expected = vec![None; close.len()];
            let mut prev: Option<f64> = None;
            for (i, e) in expected.iter_mut().enumerate().skip(period) {
                let next = match prev {
                    None => (1..=period).map(tr).sum::<f64>() / n,
                    Some(p) => (p * (n - 1.0) + tr(i)) / n,
                };
                prev = Some(next);
                *e = prev;
            }
            close_to(
                &atr(&high, &low, &close, period).expect("valid"),
                &expected,
                1e-10,
            );
        }
    }
}
