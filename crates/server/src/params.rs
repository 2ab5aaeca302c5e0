//! The API's constrained request values: symbols, days, bounded counts and bounded texts. Each
//! type's `Deserialize` enforces its rule and its schema states the same rule in the OpenAPI
//! document, from the same constants, so the two cannot drift apart: what a client generated
//! from the document sends is what the server takes, and what it refuses the server refuses.

use std::borrow::Cow;

use barter_core::symbol::{MAX_SYMBOL_LEN, SYMBOL_PATTERN};
use barter_core::{Day, Symbol};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// A string schema: what every text parameter's schema starts from.
pub(crate) fn text_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// Reads a text, kept only when `check` finds nothing wrong with it (its message is the error).
pub(crate) fn checked_text<'de, D: Deserializer<'de>>(
    deserializer: D,
    check: impl FnOnce(&str) -> Result<(), String>,
) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    check(&text).map_err(D::Error::custom)?;
    Ok(text)
}

/// Names a parameter type's schema among the document's components.
macro_rules! schema_name {
    ($ty:ty, $name:literal) => {
        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($name)
            }
        }
    };
}
pub(crate) use schema_name;

/// An instrument symbol exactly as sent (no surrounding spaces): [`SYMBOL_PATTERN`], upper-cased
/// once read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SymbolParam(pub(crate) Symbol);

impl<'de> Deserialize<'de> for SymbolParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Symbol::parse_exact(&text)
            .map(Self)
            .map_err(D::Error::custom)
    }
}

impl PartialSchema for SymbolParam {
    fn schema() -> RefOr<Schema> {
        text_schema()
            .description(Some(
                "An instrument symbol: a letter or digit, then letters, digits, `-`, `_` or `.`; \
                 case-insensitive (stored upper-case).",
            ))
            .min_length(Some(1))
            .max_length(Some(MAX_SYMBOL_LEN))
            .pattern(Some(SYMBOL_PATTERN))
            .examples([json!("BTC")])
            .into()
    }
}

schema_name!(SymbolParam, "Symbol");

/// A day, exactly `YYYY-MM-DD` (RFC 3339's full date: `2025-1-5`, spaces around it or an empty
/// value are refused, not read leniently as the CLI does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayParam(pub(crate) Day);

impl<'de> Deserialize<'de> for DayParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            let shown: String = text.chars().take(40).collect();
            return Err(D::Error::custom(format!(
                "`{shown}` is not a day: write it as YYYY-MM-DD, e.g. 2025-01-31"
            )));
        }
        barter_core::calendar::parse_day(&text)
            .map(Self)
            .map_err(D::Error::custom)
    }
}

impl PartialSchema for DayParam {
    fn schema() -> RefOr<Schema> {
        text_schema()
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .examples([json!("2025-01-31")])
            .into()
    }
}

schema_name!(DayParam, "Day");

/// A whole number from `MIN` to `MAX` (a page size, how many of the best to return).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounded<const MIN: u32, const MAX: u32>(pub(crate) u32);

impl<const MIN: u32, const MAX: u32> Bounded<MIN, MAX> {
    /// The number as a `usize`.
    pub(crate) fn get(self) -> usize {
        self.0 as usize
    }
}

impl<'de, const MIN: u32, const MAX: u32> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        match u32::try_from(value) {
            Ok(value) if (MIN..=MAX).contains(&value) => Ok(Self(value)),
            _ => Err(D::Error::custom(format!(
                "must be from {MIN} to {MAX}, got {value}"
            ))),
        }
    }
}

impl<const MIN: u32, const MAX: u32> PartialSchema for Bounded<MIN, MAX> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(MIN))
            .maximum(Some(MAX))
            .into()
    }
}

impl<const MIN: u32, const MAX: u32> ToSchema for Bounded<MIN, MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Count{MIN}To{MAX}"))
    }
}

/// A text of at most `MAX` characters (a filter, a reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<const MAX: usize>(pub(crate) String);

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_text(deserializer, |text| {
            let chars = text.chars().count();
            if chars > MAX {
                return Err(format!("may have at most {MAX} characters, got {chars}"));
            }
            Ok(())
        })
        .map(Self)
    }
}

impl<const MAX: usize> PartialSchema for Text<MAX> {
    fn schema() -> RefOr<Schema> {
        text_schema().max_length(Some(MAX)).into()
    }
}

impl<const MAX: usize> ToSchema for Text<MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("TextUpTo{MAX}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of<T: PartialSchema>() -> serde_json::Value {
        serde_json::to_value(T::schema()).expect("schema")
    }

    #[test]
    fn a_symbol_is_taken_exactly_as_its_schema_says() {
        let read = |text: &str| serde_json::from_value::<SymbolParam>(json!(text));
        assert_eq!(read("btc").expect("symbol").0.as_str(), "BTC");
        for refused in ["", " BTC", ".", "..", "-A", "A/B", "ÄBC", &"A".repeat(21)] {
            assert!(read(refused).is_err(), "{refused:?}");
        }
        let schema = schema_of::<SymbolParam>();
        assert_eq!(schema["pattern"], SYMBOL_PATTERN);
        assert_eq!(schema["maxLength"], MAX_SYMBOL_LEN);
    }

    #[test]
    fn a_bound_refuses_what_its_schema_leaves_out() {
        let read = |value: serde_json::Value| serde_json::from_value::<Bounded<1, 1000>>(value);
        assert_eq!(read(json!(1)).expect("1").0, 1);
        assert_eq!(read(json!(1000)).expect("1000").0, 1000);
        for refused in [
            json!(0),
            json!(1001),
            json!(-1),
            json!(4_294_967_296_u64),
            json!("x"),
        ] {
            let error = read(refused.clone()).expect_err("refused");
            assert!(!error.to_string().is_empty(), "{refused}");
        }
        let schema = schema_of::<Bounded<1, 1000>>();
        assert_eq!(
            (schema["minimum"].clone(), schema["maximum"].clone()),
            (json!(1), json!(1000))
        );
        assert!(serde_json::from_value::<Text<3>>(json!("abcd")).is_err());
        assert_eq!(schema_of::<Text<3>>()["maxLength"], 3);
    }

    #[test]
    fn a_day_is_a_full_date_and_never_empty() {
        let read = |text: &str| serde_json::from_value::<DayParam>(json!(text));
        assert!(read("2024-02-29").is_ok());
        for refused in [
            "",
            "2024-02-30",
            "24-01-01",
            "2024-1-1",
            " 2024-01-01",
            "2024-01-01 ",
        ] {
            assert!(read(refused).is_err(), "{refused:?}");
        }
        assert_eq!(schema_of::<DayParam>()["format"], "date");
    }
}
