//! Helpers shared by the indicator unit tests: tolerant comparisons and a deterministic
//! noisy series.

/// Asserts equal `None`s and values within 1e-12 relative (absolute below 1).
pub(crate) fn approx(actual: &[Option<f64>], expected: &[Option<f64>]) {
    close_to(actual, expected, 1e-12);
}

/// Asserts equal `None`s and values within `tolerance` relative (absolute below 1).
pub(crate) fn close_to(actual: &[Option<f64>], expected: &[Option<f64>], tolerance: f64) {
    assert_eq!(actual.len(), expected.len(), "lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        match (a, e) {
            (Some(a), Some(e)) => assert!(
                (a - e).abs() <= tolerance * e.abs().max(1.0),
                "index {i}: {a} vs {e}"
            ),
            (None, None) => {}
            _ => panic!("index {i}: {a:?} vs {e:?}"),
        }
    }
}

/// `len` values wandering around `level` by up to `amplitude` per step (a fixed LCG, so every
/// run sees the same numbers).
pub(crate) fn noisy(len: usize, level: f64, amplitude: f64) -> Vec<f64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut value = level;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64; // in [0, 1)
            value += (unit * 2.0 - 1.0) * amplitude;
            value
        })
        .collect()
}
