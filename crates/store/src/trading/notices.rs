//! The notifications the ledger's writes carry (see [`crate::notifications`]): built here from
//! what a write stores, and enqueued by it in the same transaction.

use barter_core::notify::{Notification, TradeFacts};
use barter_core::{Day, Fill, PositionId, Symbol};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{DecisionOutcome, NewDecision};

/// The facts of a trade of `position` with `fill`, the rule values and explanation read from
/// the decision's stored `detail`.
pub(super) fn trade_facts(
    position: PositionId,
    strategy: &str,
    symbol: &Symbol,
    day: Day,
    fill: &Fill,
    account: &str,
    detail: Option<&Value>,
) -> TradeFacts {
    let values = detail
        .and_then(|d| d.get("values"))
        .and_then(Value::as_object)
        .map(|values| {
            values
                .iter()
                .filter_map(|(name, value)| Some((name.clone(), value.as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    let explanation = detail
        .and_then(|d| d.get("explanation"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    TradeFacts {
        position: position.0,
        strategy: strategy.to_owned(),
        symbol: symbol.to_string(),
        day,
        quantity: fill.quantity.0.normalize().to_string(),
        price: fill.price.0.normalize().to_string(),
        fee: fill.fee.0.normalize().to_string(),
        account: account.to_owned(),
        values,
        explanation,
    }
}

/// The facts of a paper trade of `position` for decision `d` with `fill`.
pub(super) fn paper_facts(position: PositionId, d: &NewDecision, fill: &Fill) -> TradeFacts {
    trade_facts(
        position,
        &d.strategy,
        &d.symbol,
        d.day,
        fill,
        super::PAPER_ACCOUNT,
        Some(&d.detail),
    )
}

/// The notification a stored decision that trades nothing gives, if any: a refused entry
/// (limits, cash), an entry skipped by the kill switch, or a decision skipped on stale data.
pub(super) fn of_decision(d: &NewDecision, id: i64, at: DateTime<Utc>) -> Option<Notification> {
    let explanation = d
        .detail
        .get("explanation")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let skipped = d
        .detail
        .get("skipped")
        .and_then(|s| s.get("reason"))
        .and_then(Value::as_str);
    match (d.outcome, skipped) {
        (DecisionOutcome::Refused, _) | (DecisionOutcome::Skipped, Some("halted")) => Some(
            Notification::refusal(id, &d.strategy, d.symbol.as_str(), d.day, explanation, at),
        ),
        (DecisionOutcome::Skipped, Some("stale")) => {
            let expected = d
                .detail
                .get("skipped")
                .and_then(|s| s.get("expected"))
                .and_then(Value::as_str)
                .and_then(|text| text.parse::<Day>().ok())?;
            Some(Notification::stale(d.symbol.as_str(), d.day, expected, at))
        }
        _ => None,
    }
}
