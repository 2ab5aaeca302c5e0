//! How the dashboard writes numbers and times: money with its currency and sign, prices to
//! their precision, thousands separated, times in UTC and labelled so.

use barter_core::{Day, ExitReason};
use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

/// `value` rounded to `places` (half away from zero) with thousands separators: `12,345.60`.
pub(crate) fn number(value: Decimal, places: u32) -> String {
    let rounded = value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.*}", places as usize, rounded.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::with_capacity(text.len() + whole.len() / 3 + 1);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if !fraction.is_empty() {
        grouped.push('.');
        grouped.push_str(fraction);
    }
    if rounded.is_sign_negative() && !rounded.is_zero() {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// An amount of money: `12,345.60 USD`.
pub(crate) fn money(value: Decimal, currency: &str) -> String {
    format!("{} {currency}", number(value, 2))
}

/// A profit or loss, always signed: `+12.30 USD`, `-4.00 USD`, `0.00 USD`.
pub(crate) fn signed_money(value: Decimal, currency: &str) -> String {
    let text = money(value, currency);
    if text.starts_with('-') || number(value, 2) == "0.00" {
        text
    } else {
        format!("+{text}")
    }
}

/// A price to the precision it needs: at least 2 places, at most 8, trailing zeros dropped.
pub(crate) fn price(value: Decimal) -> String {
    let places = value.normalize().scale().clamp(2, 8);
    number(value, places)
}

/// A quantity as stored, trailing zeros dropped: `0.125`, `3`.
pub(crate) fn quantity(value: Decimal) -> String {
    let normal = value.normalize();
    number(normal, normal.scale())
}

/// A percentage with its sign: `+12.34 %`, `-3.10 %`.
pub(crate) fn signed_percent(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_owned();
    }
    let text = format!("{value:.2} %");
    if value > 0.0 && text != "0.00 %" {
        format!("+{text}")
    } else {
        text
    }
}

/// A moment in UTC, labelled: `2026-11-24 06:21 UTC`.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A day: `2026-11-24`.
pub(crate) fn day(day: Day) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The CSS class of a signed amount: `gain`, `loss` or `flat`.
pub(crate) fn sign_class(value: Decimal) -> &'static str {
    if value.is_sign_positive() && !value.is_zero() {
        "gain"
    } else if value.is_sign_negative() && !value.is_zero() {
        "loss"
    } else {
        "flat"
    }
}

/// A number a rule computed, readable: at most 6 decimals, trailing zeros dropped.
pub(crate) fn rule_value(value: f64) -> String {
    match barter_core::decimal_from_f64(value) {
        Some(d) if value.is_finite() => quantity(d.round_dp(6)),
        _ => value.to_string(),
    }
}

/// Why a position was closed, for people.
pub(crate) fn exit_reason(reason: ExitReason) -> &'static str {
    match reason {
        ExitReason::Signal => "exit rule",
        ExitReason::StopLoss => "stop-loss",
        ExitReason::TakeProfit => "take-profit",
        ExitReason::TrailingStop => "trailing stop",
        ExitReason::MaxHolding => "maximum holding days",
        ExitReason::EndOfBacktest => "end of backtest",
    }
}

/// A decimal as a float, for charts only (never for money arithmetic).
pub(crate) fn chart_number(value: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    value.to_f64().unwrap_or(f64::NAN)
}

/// JSON made safe to embed in a `<script type="application/json">` element: `<` is escaped so
/// no value can close the element.
pub(crate) fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_has_its_currency_sign_and_separators() {
        assert_eq!(money(dec!(1234567.891), "USD"), "1,234,567.89 USD");
        assert_eq!(money(dec!(0.005), "EUR"), "0.01 EUR");
        assert_eq!(money(dec!(-999.994), "USD"), "-999.99 USD");
        assert_eq!(signed_money(dec!(12.3), "USD"), "+12.30 USD");
        assert_eq!(signed_money(dec!(-4), "USD"), "-4.00 USD");
        assert_eq!(signed_money(dec!(-0.001), "USD"), "0.00 USD");
        assert_eq!(signed_money(dec!(0), "USD"), "0.00 USD");
        assert_eq!(number(dec!(100), 0), "100");
        assert_eq!(number(dec!(1000), 0), "1,000");
    }

    #[test]
    fn prices_and_quantities_keep_their_precision() {
        assert_eq!(price(dec!(43210.5)), "43,210.50");
        assert_eq!(price(dec!(0.000123456789)), "0.00012346");
        assert_eq!(price(dec!(2.000)), "2.00");
        assert_eq!(quantity(dec!(0.12500000)), "0.125");
        assert_eq!(quantity(dec!(3)), "3");
        assert_eq!(signed_percent(1.234), "+1.23 %");
        assert_eq!(signed_percent(-0.5), "-0.50 %");
        assert_eq!(signed_percent(f64::NAN), "n/a");
    }

    #[test]
    fn rule_values_drop_trailing_zeros_and_keep_six_decimals() {
        assert_eq!(rule_value(10.0), "10");
        assert_eq!(rule_value(63.25), "63.25");
        assert_eq!(rule_value(43_210.123_456_789), "43,210.123457");
        assert_eq!(rule_value(-0.5), "-0.5");
        assert_eq!(rule_value(f64::NAN), "NaN");
    }

    #[test]
    fn times_are_labelled_utc() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T06:21:09Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(time(at), "2026-11-24 06:21 UTC");
        assert_eq!(sign_class(dec!(-1)), "loss");
        assert_eq!(sign_class(dec!(0)), "flat");
        assert_eq!(sign_class(dec!(2)), "gain");
    }
}
