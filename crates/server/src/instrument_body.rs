//! The body of `POST /api/instruments`: one shape per data source, told apart by `source`, so
//! that the OpenAPI document says which fields each source needs (a CSV file needs `path`,
//! CoinGecko and Binance a `source_id`, the sample one of its series) and the server takes
//! exactly the bodies the document allows. Each field's rule is its type's (see
//! [`crate::params`] and this module's types), in the document and in the server alike.

use std::borrow::Cow;

use barter_core::instrument::{QUOTE_PATTERN, is_quote_currency};
use barter_core::{Calendar, SourceKind};
use barter_service::instruments::{DEFAULT_QUOTE, NewInstrument, sample_ids};
use serde::de::DeserializeOwned;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use utoipa::openapi::schema::{Discriminator, OneOfBuilder};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::params::{SymbolParam, Text, checked_text, schema_name, text_schema};

/// The longest `source_id` or CSV `path` taken.
const MAX_ID_CHARS: usize = 200;

/// A data source's id for an instrument: CoinGecko `bitcoin`, Binance `BTCUSDT`, Alpaca `BRK.B`.
const SOURCE_ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$";

/// A CSV path: no control characters (Unicode's: `\x00`–`\x1F` and `\x7F`–`\x9F`), no space at
/// either end (`[^\s…]` at the ends).
const PATH_PATTERN: &str = "^[^\\s\\x00-\\x1F\\x7F-\\x9F](?:[^\\x00-\\x1F\\x7F-\\x9F]{0,198}[^\\s\\x00-\\x1F\\x7F-\\x9F])?$";

/// A `source_id` ([`SOURCE_ID_PATTERN`]).
#[derive(Debug, Clone)]
pub(crate) struct SourceId(String);

impl<'de> Deserialize<'de> for SourceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_text(deserializer, |text| {
            let valid = text.starts_with(|c: char| c.is_ascii_alphanumeric())
                && text.chars().count() <= MAX_ID_CHARS
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            valid.then_some(()).ok_or_else(|| {
                format!(
                    "must be a letter or digit, then up to {} letters, digits, `.`, `_` or `-`",
                    MAX_ID_CHARS - 1
                )
            })
        })
        .map(Self)
    }
}

impl PartialSchema for SourceId {
    fn schema() -> RefOr<Schema> {
        text_schema()
            .pattern(Some(SOURCE_ID_PATTERN))
            .max_length(Some(MAX_ID_CHARS))
            .examples([json!("bitcoin")])
            .into()
    }
}

schema_name!(SourceId, "SourceId");

/// A CSV file's path ([`PATH_PATTERN`]), relative to the server's CSV data folder or inside it.
#[derive(Debug, Clone)]
pub(crate) struct CsvPath(String);

impl<'de> Deserialize<'de> for CsvPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_text(deserializer, |text| {
            let valid = !text.is_empty()
                && text.chars().count() <= MAX_ID_CHARS
                && !text.chars().any(char::is_control)
                && text.trim() == text;
            valid.then_some(()).ok_or_else(|| {
                format!(
                    "must be 1 to {MAX_ID_CHARS} characters, without control characters or \
                     spaces at either end"
                )
            })
        })
        .map(Self)
    }
}

impl PartialSchema for CsvPath {
    fn schema() -> RefOr<Schema> {
        text_schema()
            .pattern(Some(PATH_PATTERN))
            .max_length(Some(MAX_ID_CHARS))
            .examples([json!("btc-usd-daily.csv")])
            .into()
    }
}

schema_name!(CsvPath, "CsvPath");

/// A quote currency ([`QUOTE_PATTERN`]).
#[derive(Debug, Clone)]
pub(crate) struct Quote(String);

impl<'de> Deserialize<'de> for Quote {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_text(deserializer, |text| {
            is_quote_currency(text)
                .then_some(())
                .ok_or_else(|| "must be 2 to 10 letters or digits".to_owned())
        })
        .map(Self)
    }
}

impl PartialSchema for Quote {
    fn schema() -> RefOr<Schema> {
        text_schema()
            .pattern(Some(QUOTE_PATTERN))
            .default(Some(json!(DEFAULT_QUOTE)))
            .into()
    }
}

schema_name!(Quote, "QuoteCurrency");

/// One of the bundled sample's series, by its id (case-insensitive).
#[derive(Debug, Clone)]
pub(crate) struct SampleId(String);

/// The sample's ids as a case-insensitive pattern: `^(?:[Bb][Tt][Cc]|…)$`.
fn sample_pattern() -> String {
    let ids: Vec<String> = sample_ids()
        .map(|id| {
            id.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^(?:{})$", ids.join("|"))
}

impl<'de> Deserialize<'de> for SampleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        checked_text(deserializer, |text| {
            if sample_ids().any(|id| id.eq_ignore_ascii_case(text)) {
                return Ok(());
            }
            let ids: Vec<&str> = sample_ids().collect();
            Err(format!(
                "is not a series of the bundled sample: one of {}",
                ids.join(", ")
            ))
        })
        .map(Self)
    }
}

impl PartialSchema for SampleId {
    fn schema() -> RefOr<Schema> {
        text_schema()
            .pattern(Some(sample_pattern()))
            .examples([json!("BTC")])
            .into()
    }
}

schema_name!(SampleId, "SampleId");

/// Declares a one-value enum for `source`: the tag of one body shape. Its schema is written
/// here rather than derived, as the derive does not see a `rename` given through a macro.
macro_rules! source_tag {
    ($name:ident, $variant:ident, $value:literal) => {
        #[doc = concat!("`source`: `", $value, "`.")]
        #[derive(Debug, Clone, Copy, Deserialize)]
        pub(crate) enum $name {
            #[doc = concat!("`", $value, "`")]
            #[serde(rename = $value)]
            $variant,
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                text_schema().enum_values(Some([$value])).into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

source_tag!(SampleTag, Sample, "sample");
source_tag!(CoinGeckoTag, CoinGecko, "coingecko");
source_tag!(BinanceTag, Binance, "binance");
source_tag!(AlpacaTag, Alpaca, "alpaca");
source_tag!(CsvTag, Csv, "csv");

/// Declares one body shape: the fields every source shares, and `$extra`.
macro_rules! instrument_shape {
    ($(#[$doc:meta])* $name:ident, $tag:ty, { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $name {
            /// The unique symbol, e.g. `BTC` (stored upper-case).
            symbol: SymbolParam,
            /// Where the candles come from.
            #[allow(dead_code, reason = "checked by serde and described by the schema: it selects the shape")]
            source: $tag,
            $($extra)*
            /// A human-readable name (default: the symbol, or the sample's name).
            #[serde(default)]
            name: Option<Text<100>>,
            /// The currency prices are quoted in (default `USD`).
            #[serde(default)]
            quote: Option<Quote>,
            /// Which days it trades on (default: the source's: the sample's own, `xnys` for
            /// Alpaca, `continuous` otherwise).
            #[serde(default)]
            #[schema(value_type = Option<crate::schema::Calendar>)]
            calendar: Option<Calendar>,
        }
    };
}

instrument_shape!(
    /// An instrument from the bundled offline sample.
    SampleInstrument, SampleTag, {
        /// The sample's series (default: the symbol, which must then be one).
        #[serde(default)]
        source_id: Option<SampleId>,
    }
);
instrument_shape!(
    /// An instrument from CoinGecko's API.
    CoinGeckoInstrument, CoinGeckoTag, {
        /// CoinGecko's coin id, e.g. `bitcoin`.
        source_id: SourceId,
    }
);
instrument_shape!(
    /// An instrument from Binance's spot klines.
    BinanceInstrument, BinanceTag, {
        /// Binance's symbol, e.g. `BTCUSDT`.
        source_id: SourceId,
    }
);
instrument_shape!(
    /// A US stock or ETF from Alpaca's daily bars.
    AlpacaInstrument, AlpacaTag, {
        /// Alpaca's ticker (default: the symbol).
        #[serde(default)]
        source_id: Option<SourceId>,
    }
);
instrument_shape!(
    /// An instrument read from a CSV file in the server's CSV data folder.
    CsvInstrument, CsvTag, {
        /// The file, inside the server's CSV data folder (`[sources.csv] root`).
        path: CsvPath,
    }
);

/// The body of `POST /api/instruments`: one of the shapes, by `source`.
#[derive(Debug, Clone)]
pub(crate) struct NewInstrumentBody(pub(crate) NewInstrument);

/// The shapes, by the value of `source` that selects them.
const SHAPES: [(&str, &str); 5] = [
    ("sample", "SampleInstrument"),
    ("coingecko", "CoinGeckoInstrument"),
    ("binance", "BinanceInstrument"),
    ("alpaca", "AlpacaInstrument"),
    ("csv", "CsvInstrument"),
];

impl<'de> Deserialize<'de> for NewInstrumentBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read whole (the body is bounded by the server's limit), then as the shape `source`
        // names: its errors then name the field at fault, not "no variant matched".
        let value = Value::deserialize(deserializer)?;
        let source = value
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or_default();
        fn read<'de, T: DeserializeOwned, D: Deserializer<'de>>(
            value: Value,
        ) -> Result<T, D::Error> {
            crate::error::from_json_value(value).map_err(D::Error::custom)
        }
        let new = match source {
            "sample" => {
                let b: SampleInstrument = read::<_, D>(value)?;
                let id = b.source_id.map(|id| id.0);
                common(
                    b.symbol,
                    SourceKind::Sample,
                    id,
                    b.name,
                    b.quote,
                    b.calendar,
                )
            }
            "coingecko" => {
                let b: CoinGeckoInstrument = read::<_, D>(value)?;
                let id = Some(b.source_id.0);
                common(
                    b.symbol,
                    SourceKind::CoinGecko,
                    id,
                    b.name,
                    b.quote,
                    b.calendar,
                )
            }
            "binance" => {
                let b: BinanceInstrument = read::<_, D>(value)?;
                let id = Some(b.source_id.0);
                common(
                    b.symbol,
                    SourceKind::Binance,
                    id,
                    b.name,
                    b.quote,
                    b.calendar,
                )
            }
            "alpaca" => {
                let b: AlpacaInstrument = read::<_, D>(value)?;
                let id = b.source_id.map(|id| id.0);
                common(
                    b.symbol,
                    SourceKind::Alpaca,
                    id,
                    b.name,
                    b.quote,
                    b.calendar,
                )
            }
            "csv" => {
                let b: CsvInstrument = read::<_, D>(value)?;
                NewInstrument {
                    path: Some(b.path.0.into()),
                    ..common(b.symbol, SourceKind::Csv, None, b.name, b.quote, b.calendar)
                }
            }
            _ => {
                let sources: Vec<&str> = SHAPES.iter().map(|(source, _)| *source).collect();
                return Err(D::Error::custom(format!(
                    "`source` must be one of {}",
                    sources.join(", ")
                )));
            }
        };
        Ok(Self(new))
    }
}

/// The service's request from the fields the shapes share.
fn common(
    symbol: SymbolParam,
    source: SourceKind,
    source_id: Option<String>,
    name: Option<Text<100>>,
    quote: Option<Quote>,
    calendar: Option<Calendar>,
) -> NewInstrument {
    NewInstrument {
        symbol: symbol.0,
        source,
        source_id,
        path: None,
        name: name.map(|n| n.0),
        quote: quote.map_or_else(|| DEFAULT_QUOTE.to_owned(), |q| q.0),
        calendar,
    }
}

impl PartialSchema for NewInstrumentBody {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "One shape per data source, chosen by `source`; unknown fields are refused.",
        ));
        let mut discriminator = Discriminator::new("source");
        for (value, shape) in SHAPES {
            one_of = one_of.item(Ref::from_schema_name(shape));
            discriminator
                .mapping
                .insert(value.to_owned(), format!("#/components/schemas/{shape}"));
        }
        one_of.discriminator(Some(discriminator)).into()
    }
}

impl ToSchema for NewInstrumentBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NewInstrument")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: Value) -> Result<NewInstrument, String> {
        serde_json::from_value::<NewInstrumentBody>(body)
            .map(|b| b.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn each_source_takes_its_own_fields_and_names_what_is_wrong() {
        let csv = read(json!({"symbol": "btc", "source": "csv", "path": "btc.csv"})).expect("csv");
        assert_eq!(csv.symbol.as_str(), "BTC");
        assert_eq!(csv.path.as_deref(), Some(std::path::Path::new("btc.csv")));
        let error = read(json!({"symbol": "BTC", "source": "csv"})).expect_err("no path");
        assert!(error.contains("`path`"), "{error}");
        assert!(!error.contains("--"), "an API error speaks JSON: {error}");
        let error =
            read(json!({"symbol": "BTC", "source": "coingecko"})).expect_err("no source_id");
        assert!(error.contains("`source_id`"), "{error}");
        let error = read(
            json!({"symbol": "BTC", "source": "binance", "source_id": "BTCUSDT",
            "path": "x.csv"}),
        )
        .expect_err("path is for csv only");
        assert!(error.contains("`path`"), "{error}");
        assert!(read(json!({"symbol": "BTC", "source": "sample"})).is_ok());
        assert!(read(json!({"symbol": "X", "source": "sample", "source_id": "eth"})).is_ok());
        let error = read(json!({"symbol": "X", "source": "sample", "source_id": "NOPE"}))
            .expect_err("not a sample series");
        assert!(error.contains("BTC, ETH"), "{error}");
        for bad in [
            json!({}),
            json!({"source": "ftp"}),
            json!({"source": 1}),
            json!([]),
        ] {
            assert!(read(bad.clone()).is_err(), "{bad}");
        }
        let error = read(json!({"symbol": "BTC", "source": "alpaca", "quote": "U"}))
            .expect_err("short quote");
        assert!(error.contains("2 to 10"), "{error}");
    }

    #[test]
    fn the_patterns_say_what_the_types_take() {
        let path = |text: &str| serde_json::from_value::<CsvPath>(json!(text)).is_ok();
        assert!(path("data/my file.csv") && path("a"));
        for refused in [
            "", " a.csv", "a.csv ", "a\nb", "a\u{7f}", "\u{a0}a", "a\u{85}b",
        ] {
            assert!(!path(refused), "{refused:?}");
        }
        let id = |text: &str| serde_json::from_value::<SourceId>(json!(text)).is_ok();
        assert!(id("bitcoin") && id("BRK.B") && id("usd-coin"));
        for refused in ["", "-x", " x", "a b", "a/b", &"a".repeat(201)] {
            assert!(!id(refused), "{refused:?}");
        }
        let pattern = sample_pattern();
        assert!(
            pattern.starts_with("^(?:[Bb][Tt][Cc]|[Ee][Tt][Hh]|"),
            "{pattern}"
        );
    }
}
