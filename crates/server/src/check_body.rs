//! The body of `POST /api/strategies/check`: several strategies, one rule, or one strategy,
//! told apart by their fields (`strategies`, `rule`, else a strategy's own). Each shape's
//! schema is derived from the type the server reads it into (the strategy's from
//! `barter-core`'s own configuration type), so the document and the server agree; a body that
//! is none of them is refused naming the fields of the shape it came closest to.

use std::borrow::Cow;

use barter_core::rule::{Params, RuleKind};
use barter_core::strategy::StrategyConfig;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// Several strategies checked together (names must be unique among them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckStrategies {
    /// The strategy configurations, as in `barter.toml`'s `[[strategies]]`.
    pub(crate) strategies: Vec<StrategyConfig>,
}

/// Which rule a checked rule is.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CheckedKind {
    /// An entry rule.
    #[default]
    Entry,
    /// An exit rule (it may read the open position).
    Exit,
}

impl From<CheckedKind> for RuleKind {
    fn from(kind: CheckedKind) -> Self {
        match kind {
            CheckedKind::Entry => RuleKind::Entry,
            CheckedKind::Exit => RuleKind::Exit,
        }
    }
}

/// One rule, with the values of its `$parameters`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckRule {
    /// The rule, e.g. `crosses_above(sma(close, $fast), sma(close, 50))`.
    pub(crate) rule: String,
    /// Entry (default) or exit.
    #[serde(default)]
    pub(crate) kind: Option<CheckedKind>,
    /// Values of its `$parameters`.
    #[serde(default)]
    #[schema(value_type = Option<std::collections::BTreeMap<String, f64>>)]
    pub(crate) params: Option<Params>,
}

/// The body: one of the three shapes.
#[derive(Debug)]
pub(crate) enum CheckBody {
    /// `{"strategies": [...]}`.
    Many(CheckStrategies),
    /// `{"rule": "...", ...}`.
    Rule(CheckRule),
    /// One strategy configuration.
    One(Box<StrategyConfig>),
}

impl<'de> Deserialize<'de> for CheckBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read whole (bounded by the server's body limit), then as the shape its fields name,
        // so that an error names the field at fault.
        let value = Value::deserialize(deserializer)?;
        let Some(object) = value.as_object() else {
            return Err(D::Error::custom(
                "the body must be a JSON object: a strategy, {\"strategies\": [...]} or \
                 {\"rule\": \"...\"}",
            ));
        };
        let shape = |e: serde_path_to_error::Error<serde_json::Error>| D::Error::custom(e);
        if object.contains_key("strategies") {
            crate::error::from_json_value(value)
                .map(Self::Many)
                .map_err(shape)
        } else if object.contains_key("rule") {
            crate::error::from_json_value(value)
                .map(Self::Rule)
                .map_err(shape)
        } else {
            crate::error::from_json_value(value)
                .map(|one| Self::One(Box::new(one)))
                .map_err(shape)
        }
    }
}

impl PartialSchema for CheckBody {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "Several strategies (`strategies`), one rule (`rule`), or one strategy \
                 configuration; unknown fields are refused.",
            ))
            .item(Ref::from_schema_name("CheckStrategies"))
            .item(Ref::from_schema_name("CheckRule"))
            .item(Ref::from_schema_name("StrategyConfig"))
            .into()
    }
}

impl ToSchema for CheckBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("StrategyCheckRequest")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(body: Value) -> Result<CheckBody, String> {
        serde_json::from_value(body).map_err(|e| e.to_string())
    }

    #[test]
    fn each_shape_is_read_and_a_bad_body_names_its_field() {
        assert!(matches!(
            read(json!({"strategies": []})),
            Ok(CheckBody::Many(_))
        ));
        assert!(matches!(
            read(json!({"rule": "close > 1", "kind": "exit"})),
            Ok(CheckBody::Rule(_))
        ));
        assert!(matches!(
            read(json!({"name": "a", "entry": "close > 1"})),
            Ok(CheckBody::One(_))
        ));
        let error = read(json!({})).expect_err("empty");
        assert!(error.contains("`name`"), "{error}");
        let error = read(json!({"rule": "x", "kind": "both"})).expect_err("kind");
        assert!(error.contains("entry") && error.contains("exit"), "{error}");
        let error = read(json!({"rule": "x", "name": "a"})).expect_err("mixed");
        assert!(error.contains("`name`"), "{error}");
        assert!(read(json!([1])).is_err());
    }
}
