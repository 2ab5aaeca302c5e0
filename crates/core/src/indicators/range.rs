//! Rolling extremes: highest and lowest value over a window (TA-Lib `MAX`, `MIN`).

use std::collections::VecDeque;

use super::{IndicatorError, Values, check_period, per_finite_run};

/// Highest value of the last `period` values (TA-Lib `MAX`, lookback `period - 1`).
pub fn highest(x: &[f64], period: usize) -> Result<Values, IndicatorError> {
    check_period("highest", "period", period, 2)?;
    Ok(per_finite_run(x, |x, out| {
        extreme(x, period, out, |new, old| new >= old)
    }))
}

/// Lowest value of the last `period` values (TA-Lib `MIN`, lookback `period - 1`).
pub fn lowest(x: &[f64], period: usize) -> Result<Values, IndicatorError> {
    check_period("lowest", "period", period, 2)?;
    Ok(per_finite_run(x, |x, out| {
        extreme(x, period, out, |new, old| new <= old)
    }))
}

/// Sliding-window extreme in O(n) with a monotonic deque of indices: `dominates(new, old)` says
/// that `old` can never again be the answer once `new` has arrived.
fn extreme(
    x: &[f64],
    period: usize,
    out: &mut [Option<f64>],
    dominates: impl Fn(f64, f64) -> bool,
) {
    // Sized by the data, never by the period: `highest(close, 4294967295)` must not reserve
    // 34 GB for a window that can hold at most `x.len()` indices.
    let mut window: VecDeque<usize> = VecDeque::with_capacity(period.min(x.len()));
    for (i, &v) in x.iter().enumerate() {
        while window.back().is_some_and(|&j| dominates(v, x[j])) {
            window.pop_back();
        }
        window.push_back(i);
        if window
            .front()
            .is_some_and(|&j| j.saturating_add(period) <= i)
        {
            window.pop_front();
        }
        if i >= period - 1 {
            out[i] = window.front().map(|&j| x[j]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_and_lowest_match_a_brute_force_window() {
        let x = [
            3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0, 9.0, 7.0, 9.0,
        ];
        for period in 2..=x.len() + 1 {
            let hi = highest(&x, period).expect("valid");
            let lo = lowest(&x, period).expect("valid");
            for i in 0..x.len() {
                if i + 1 < period {
                    assert_eq!((hi[i], lo[i]), (None, None), "period {period} index {i}");
                } else {
                    let w = &x[i + 1 - period..=i];
                    let max = w.iter().copied().fold(f64::MIN, f64::max);
                    let min = w.iter().copied().fold(f64::MAX, f64::min);
                    assert_eq!(
                        (hi[i], lo[i]),
                        (Some(max), Some(min)),
                        "period {period} index {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn extremes_of_a_constant_series_are_that_constant() {
        let hi = highest(&[2.5; 10], 3).expect("valid");
        let lo = lowest(&[2.5; 10], 3).expect("valid");
        assert_eq!(hi, [vec![None; 2], vec![Some(2.5); 8]].concat());
        assert_eq!(lo, hi);
    }

    #[test]
    fn a_nan_is_never_the_extreme_and_restarts_the_window() {
        let x = [1.0, 5.0, f64::NAN, 2.0, 3.0, 1.0];
        assert_eq!(
            highest(&x, 2).expect("valid"),
            vec![None, Some(5.0), None, None, Some(3.0), Some(3.0)]
        );
        assert_eq!(
            lowest(&x, 2).expect("valid"),
            vec![None, Some(1.0), None, None, Some(2.0), Some(1.0)]
        );
        assert_eq!(highest(&[], 2).expect("valid"), Vec::<Option<f64>>::new());
    }
}
