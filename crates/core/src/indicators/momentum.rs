//! Momentum indicators: RSI, rate of change and MACD (TA-Lib `RSI`, `ROC`, `MACD`).

use super::average::ema_core;
use super::{IndicatorError, Values, check_period, finite, per_finite_run, runs};

/// Relative strength index with Wilder smoothing (TA-Lib `RSI`, lookback `period`).
///
/// The first value averages the first `period` gains and losses; after that
/// `avg = (avg * (period - 1) + change) * (1 / period)`. Where the average gain and loss are
/// both 0, e.g. on a constant series, the value is 0, as in TA-Lib.
pub fn rsi(x: &[f64], period: usize) -> Result<Values, IndicatorError> {
    check_period("rsi", "period", period, 2)?;
    Ok(per_finite_run(x, |x, out| rsi_run(x, period, out)))
}

/// Rate of change in percent, `(x / x[-period] - 1) * 100` (TA-Lib `ROC`, lookback `period`);
/// 0 where `x[-period]` is exactly zero, as in TA-Lib.
pub fn roc(x: &[f64], period: usize) -> Result<Values, IndicatorError> {
    check_period("roc", "period", period, 1)?;
    Ok(per_finite_run(x, |x, out| {
        for i in period..x.len() {
            let base = x[i - period];
            out[i] = if base != 0.0 {
                finite((x[i] / base - 1.0) * 100.0)
            } else {
                Some(0.0)
            };
        }
    }))
}

/// The three MACD series, each aligned index-for-index with the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Macd {
    /// Fast EMA minus slow EMA.
    pub line: Values,
    /// EMA of `line` over the signal period.
    pub signal: Values,
    /// `line - signal`.
    pub histogram: Values,
}

/// Moving average convergence/divergence (TA-Lib `MACD`, lookback `slow - 1 + signal - 1` for
/// all three outputs).
///
/// Seeding as in TA-Lib: the slow EMA is seeded with the SMA of the first `slow` values; the fast
/// EMA with the SMA of the `fast` values ending at index `slow - 1` (so both start there); the
/// signal EMA with the SMA of the first `signal` MACD-line values. `fast` must be below `slow`.
pub fn macd(x: &[f64], fast: usize, slow: usize, signal: usize) -> Result<Macd, IndicatorError> {
    check_period("macd", "fast", fast, 2)?;
    check_period("macd", "slow", slow, 2)?;
    check_period("macd", "signal", signal, 1)?;
    if fast >= slow {
        return Err(IndicatorError::FastNotBelowSlow {
            function: "macd",
            fast,
            slow,
        });
    }
    let mut out = Macd {
        line: vec![None; x.len()],
        signal: vec![None; x.len()],
        histogram: vec![None; x.len()],
    };
    // Both EMAs start at `slow - 1`; the signal needs `signal - 1` more MACD values.
    let start = slow - 1;
    let lookback = start.saturating_add(signal - 1);
    for run in runs(x.len(), |i| x[i].is_finite()) {
        let x = &x[run.clone()];
        if x.len() <= lookback {
            continue;
        }
        let slow_ema = ema_core(x, slow, start);
        let fast_ema = ema_core(x, fast, start);
        let line: Vec<f64> = fast_ema.iter().zip(&slow_ema).map(|(f, s)| f - s).collect();
        let signal_ema = ema_core(&line, signal, signal - 1);
        for (j, sig) in signal_ema.into_iter().enumerate() {
            let i = run.start + lookback + j;
            let value = line[signal - 1 + j];
            out.line[i] = finite(value);
            out.signal[i] = finite(sig);
            out.histogram[i] = finite(value - sig);
        }
    }
    Ok(out)
}

/// TA-Lib's `TA_RSI` loop as of 0.6+: averages are scaled by the reciprocal `1 / period`
/// (not divided by `period`), and the value is 0 unless the averages add up to more than 0.
fn rsi_run(x: &[f64], period: usize, out: &mut [Option<f64>]) {
    if x.len() <= period {
        return;
    }
    let inv = 1.0 / period as f64;
    let keep = (period - 1) as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=period {
        let change = x[i] - x[i - 1];
        if change > 0.0 {
            gain += change;
        } else {
            loss -= change;
        }
    }
    gain *= inv;
    loss *= inv;
    out[period] = rsi_value(gain, loss);
    for i in period + 1..x.len() {
        let change = x[i] - x[i - 1];
        gain *= keep;
        loss *= keep;
        if change > 0.0 {
            gain += change;
        } else {
            loss -= change;
        }
        gain *= inv;
        loss *= inv;
        out[i] = rsi_value(gain, loss);
    }
}

fn rsi_value(gain: f64, loss: f64) -> Option<f64> {
    let total = gain + loss;
    if total > 0.0 {
        finite(100.0 * (gain / total))
    } else {
        Some(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::test_support::{approx, close_to, noisy};

    #[test]
    fn rsi_matches_hand_computed_wilder_values() {
        // Changes: +1, +1, -1, -2, +3. Period 2: first avg gain 1, loss 0 -> 100;
        // then gain 0.5, loss 0.5 -> 50; gain 0.25, loss 1.25 -> 16.67; gain 1.625, loss 0.625.
        let x = [1.0, 2.0, 3.0, 2.0, 0.0, 3.0];
        let expected = [
            None,
            None,
            Some(100.0),
            Some(50.0),
            Some(100.0 / 6.0),
            Some(100.0 * 1.625 / 2.25),
        ];
        approx(&rsi(&x, 2).expect("valid period"), &expected);
    }

    #[test]
    fn rsi_of_a_constant_series_is_zero_as_in_ta_lib() {
        let out = rsi(&[42.0; 20], 14).expect("valid period");
        assert!(out[..14].iter().all(Option::is_none));
        assert!(out[14..].iter().all(|v| *v == Some(0.0)), "{out:?}");
    }

    #[test]
    fn rsi_of_a_rising_series_is_100_and_of_a_falling_one_is_0() {
        let up: Vec<f64> = (0..10).map(f64::from).collect();
        let down: Vec<f64> = up.iter().rev().copied().collect();
        assert!(
            rsi(&up, 3).expect("valid")[3..]
                .iter()
                .all(|v| *v == Some(100.0))
        );
        assert!(
            rsi(&down, 3).expect("valid")[3..]
                .iter()
                .all(|v| *v == Some(0.0))
        );
    }

    #[test]
    fn rsi_needs_period_plus_one_values() {
        assert_eq!(rsi(&[1.0, 2.0, 3.0], 3).expect("valid"), vec![None; 3]);
        assert_eq!(
            rsi(&[1.0, 2.0, 3.0, 4.0], 3).expect("valid")[3],
            Some(100.0)
        );
    }

    #[test]
    fn roc_matches_hand_computed_values() {
        let x = [1.0, 2.0, 3.0, 0.0, 6.0];
        approx(
            &roc(&x, 1).expect("valid"),
            &[None, Some(100.0), Some(50.0), Some(-100.0), Some(0.0)],
        );
        approx(
            &roc(&x, 2).expect("valid"),
            &[None, None, Some(200.0), Some(-100.0), Some(100.0)],
        );
        assert_eq!(roc(&x, 5).expect("valid"), vec![None; 5]);
        assert!(
            roc(&[3.0; 5], 2).expect("valid")[2..]
                .iter()
                .all(|v| *v == Some(0.0))
        );
    }

    #[test]
    fn a_nan_restarts_rsi_and_roc_after_it() {
        let x = [1.0, 2.0, 3.0, f64::NAN, 5.0, 4.0, 6.0];
        approx(
            &rsi(&x, 2).expect("valid"),
            &[
                None,
                None,
                Some(100.0),
                None,
                None,
                None,
                Some(100.0 * 1.0 / 1.5),
            ],
        );
        approx(
            &roc(&x, 1).expect("valid"),
            &[
                None,
                Some(100.0),
                Some(50.0),
                None,
                None,
                Some(-20.0),
                Some(50.0),
            ],
        );
    }

    #[test]
    fn macd_warms_up_for_slow_minus_one_plus_signal_minus_one_rows() {
        let x: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.5 + 10.0).collect();
        let m = macd(&x, 12, 26, 9).expect("valid periods");
        for series in [&m.line, &m.signal, &m.histogram] {
            assert!(series[..33].iter().all(Option::is_none));
            assert!(series[33..].iter().all(Option::is_some));
        }
        // A straight line: both EMAs lag by (period - 1) / 2 steps once seeded on it.
        approx(&m.line[33..], &[Some(0.5 * (25.0 - 11.0) / 2.0); 7]);
        approx(&m.histogram[33..], &[Some(0.0); 7]);
    }

    #[test]
    fn macd_seeds_the_fast_ema_on_the_window_ending_where_the_slow_one_starts() {
        // fast 2, slow 3, signal 1: lookback 2. Slow seed = mean(x0..x2) = 2;
        // fast seed = mean(x1, x2) = 2.5 (not mean(x0, x1)).
        let x = [1.0, 2.0, 3.0, 5.0];
        let m = macd(&x, 2, 3, 1).expect("valid periods");
        // index 3: slow = (5 - 2) * 0.5 + 2 = 3.5; fast = (5 - 2.5) * 2/3 + 2.5 = 25/6.
        approx(&m.line, &[None, None, Some(0.5), Some(25.0 / 6.0 - 3.5)]);
        approx(&m.signal, &m.line);
        approx(&m.histogram, &[None, None, Some(0.0), Some(0.0)]);
    }

    #[test]
    fn macd_of_a_constant_series_is_zero_and_short_input_is_all_none() {
        let m = macd(&[5.0; 40], 12, 26, 9).expect("valid periods");
        assert!(
            m.line[33..]
                .iter()
                .chain(&m.signal[33..])
                .all(|v| *v == Some(0.0))
        );
        let m = macd(&[5.0; 33], 12, 26, 9).expect("valid periods");
        assert_eq!(m.line, vec![None; 33]);
        assert_eq!(
            macd(&[1.0; 3], 12, 12, 9),
            Err(IndicatorError::FastNotBelowSlow {
                function: "macd",
                fast: 12,
                slow: 12
            })
        );
    }

    #[test]
    fn rsi_on_a_long_noisy_series_agrees_with_the_textbook_definition() {
        let x = noisy(2000, 100.0, 2.0);
        for period in [2, 14, 30] {
            let n = period as f64;
            let mut expected = vec![None; x.len()];
            let (mut gain, mut loss) = (0.0, 0.0);
            for i in 1..x.len() {
                let change = x[i] - x[i - 1];
                let (up, down) = (change.max(0.0), (-change).max(0.0));
                if i <= period {
                    gain += up / n;
                    loss += down / n;
                } else {
                    gain = (gain * (n - 1.0) + up) / n;
                    loss = (loss * (n - 1.0) + down) / n;
                }
                if i >= period {
                    expected[i] = Some(100.0 * gain / (gain + loss));
                }
            }
            close_to(&rsi(&x, period).expect("valid"), &expected, 1e-10);
        }
    }

    #[test]
    fn rsi_of_minute_changes_is_not_mistaken_for_a_flat_series() {
        // TA-Lib 0.6+ only treats exactly-zero averages as flat (older versions used 1e-14).
        let x: Vec<f64> = (0..20).map(|i| 1.0 + f64::from(i) * f64::EPSILON).collect();
        assert!(
            rsi(&x, 14).expect("valid")[14..]
                .iter()
                .all(|v| *v == Some(100.0))
        );
    }
}
