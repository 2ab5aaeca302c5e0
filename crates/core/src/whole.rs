//! Whole numbers as JSON may write them: `5` and `5.0` alike. A JSON Schema `integer` is any
//! number with no fractional part, so a client (or a generated one) may send `5.0` for a count;
//! serde's integer types refuse it. Fields that take a count from JSON read it through
//! [`deserialize`], which takes both and refuses `5.5`, negatives and values out of range.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Takes an integer, or a float with no fractional part, into a `u64`.
struct WholeVisitor;

impl serde::de::Visitor<'_> for WholeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a whole number of at least 0")
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value)
            .map_err(|_| E::custom(format!("must be a whole number of at least 0, got {value}")))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<u64, E> {
        // 2^64 is exactly representable, so every float below it converts without rounding.
        if value.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&value) {
            Ok(value as u64)
        } else {
            Err(E::custom(format!(
                "must be a whole number of at least 0, got {value}"
            )))
        }
    }
}

/// Reads a whole number into `T`: an integer, or a float with no fractional part.
///
/// # Errors
/// A fraction, a negative number, or one too large for `T`, named with its value.
pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let value = deserializer.deserialize_any(WholeVisitor)?;
    T::try_from(value).map_err(|_| D::Error::custom(format!("{value} is too large")))
}

/// [`deserialize`] for an optional field (`null` or missing is `None`).
///
/// # Errors
/// As [`deserialize`].
pub fn deserialize_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(Deserialize)]
    struct Whole<T: TryFrom<u64>>(#[serde(deserialize_with = "deserialize")] T);
    Ok(Option::<Whole<T>>::deserialize(deserializer)?.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    struct Count {
        #[serde(default, deserialize_with = "super::deserialize_option")]
        n: Option<u32>,
    }

    #[test]
    fn integers_and_whole_floats_are_taken_fractions_and_negatives_are_not() {
        let read = |v: serde_json::Value| serde_json::from_value::<Count>(json!({ "n": v }));
        assert_eq!(read(json!(5)).expect("5").n, Some(5));
        assert_eq!(read(json!(860.0)).expect("860.0").n, Some(860));
        assert_eq!(read(json!(null)).expect("null").n, None);
        assert_eq!(
            serde_json::from_value::<Count>(json!({}))
                .expect("missing")
                .n,
            None
        );
        assert_eq!(
            read(json!(4_294_967_295_u64)).expect("max").n,
            Some(u32::MAX)
        );
        for refused in [
            json!(5.5),
            json!(-1),
            json!(-1.0),
            json!(4_294_967_296_u64),
            json!(1e300),
            json!("5"),
        ] {
            assert!(read(refused.clone()).is_err(), "{refused}");
        }
    }
}
