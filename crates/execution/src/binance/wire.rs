//! Binance Spot's JSON answers and their mapping to Barter's venue-neutral types: order
//! statuses to [`OrderState`], `exchangeInfo` filters to [`SymbolRules`], fills to
//! [`OrderFill`]. No I/O here, so every mapping is unit-tested against the reference fixtures.
//!
//! Every decimal arrives as a JSON string and is parsed into [`Decimal`] (never `f64`); ids are
//! `i64`. Unknown fields are ignored: Binance adds conditional fields (`expiryReason`,
//! `preventedMatchId`, …) without notice.

use barter_core::order::{OrderFill, OrderState, SymbolRules, VenueReport};
use barter_core::{Money, Price, Quantity, Symbol};
use rust_decimal::Decimal;
use serde::Deserialize;

/// Binance's error body, `{"code": -2010, "msg": "…"}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ApiError {
    /// The negative error code.
    pub code: i64,
    /// The message (untrusted, unbounded: bound it before showing it).
    #[serde(default)]
    pub msg: String,
}

/// `GET /api/v3/time`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServerTime {
    /// The server's clock, epoch milliseconds.
    pub server_time: i64,
}

/// One fill of a FULL order answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireFill {
    pub price: Decimal,
    pub qty: Decimal,
    pub commission: Decimal,
    #[serde(default)]
    pub commission_asset: String,
    pub trade_id: i64,
}

/// An order as `POST /api/v3/order` (RESULT/FULL) and `GET /api/v3/order` describe it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireOrder {
    pub order_id: i64,
    #[serde(default)]
    pub client_order_id: String,
    #[serde(default)]
    pub orig_qty: Decimal,
    pub executed_qty: Decimal,
    pub status: String,
    #[serde(default)]
    pub expiry_reason: Option<String>,
    /// Only in FULL answers; a lookup lists none.
    #[serde(default)]
    pub fills: Vec<WireFill>,
}

/// One trade of `GET /api/v3/myTrades`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireTrade {
    pub id: i64,
    pub order_id: i64,
    pub price: Decimal,
    pub qty: Decimal,
    pub commission: Decimal,
    #[serde(default)]
    pub commission_asset: String,
}

/// `GET /api/v3/exchangeInfo?symbol=`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExchangeInfo {
    pub symbols: Vec<WireSymbol>,
}

/// One symbol of `exchangeInfo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireSymbol {
    pub symbol: String,
    pub status: String,
    pub base_asset: String,
    pub quote_asset: String,
    /// Decimals accepted in a quote amount.
    #[serde(default = "eight")]
    pub quote_asset_precision: u32,
    #[serde(default)]
    pub order_types: Vec<String>,
    #[serde(default)]
    pub quote_order_qty_market_allowed: bool,
    /// Absent on older answers: then assumed allowed, the symbol's status decides.
    #[serde(default = "yes")]
    pub is_spot_trading_allowed: bool,
    #[serde(default)]
    pub filters: Vec<serde_json::Value>,
}

fn yes() -> bool {
    true
}

/// Binance's usual precision, for answers that omit it.
fn eight() -> u32 {
    8
}

/// `GET /api/v3/account`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireAccount {
    pub can_trade: bool,
    #[serde(default)]
    pub balances: Vec<WireBalance>,
}

/// One asset of `account.balances`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireBalance {
    pub asset: String,
    pub free: Decimal,
    pub locked: Decimal,
}

/// Barter's state for a Binance order status, given the executed quantity (a status that
/// says "open" is partly filled once anything executed); `None` for a status Binance has not
/// documented, which the caller refuses to guess about.
pub(crate) fn map_status(status: &str, executed: Decimal) -> Option<OrderState> {
    let open = if executed > Decimal::ZERO {
        OrderState::PartiallyFilled
    } else {
        OrderState::Accepted
    };
    Some(match status {
        "NEW" | "PENDING_NEW" => open,
        "PARTIALLY_FILLED" => OrderState::PartiallyFilled,
        // Documented as "currently unused"; the order is still working until it is canceled.
        "PENDING_CANCEL" => open,
        "FILLED" => OrderState::Filled,
        "CANCELED" => OrderState::Canceled,
        "REJECTED" => OrderState::Rejected,
        // A market order that ran out of liquidity, or one ended by self-trade prevention:
        // both final, both keep what executed.
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderState::Expired,
        _ => return None,
    })
}

impl WireFill {
    /// The venue-neutral fill.
    pub(crate) fn to_fill(&self) -> OrderFill {
        OrderFill {
            trade_id: self.trade_id.to_string(),
            price: Price(self.price),
            quantity: Quantity(self.qty),
            fee: self.commission,
            fee_asset: self.commission_asset.clone(),
        }
    }
}

impl WireTrade {
    /// The venue-neutral fill.
    pub(crate) fn to_fill(&self) -> OrderFill {
        OrderFill {
            trade_id: self.id.to_string(),
            price: Price(self.price),
            quantity: Quantity(self.qty),
            fee: self.commission,
            fee_asset: self.commission_asset.clone(),
        }
    }
}

impl WireOrder {
    /// The report for this order: its mapped state, id, executed quantity, listed fills, and
    /// for an order that ended without filling whole, why.
    ///
    /// # Errors
    /// The status text when Binance sent one it has not documented.
    pub(crate) fn to_report(&self) -> Result<VenueReport, String> {
        let state = map_status(&self.status, self.executed_qty)
            .ok_or_else(|| barter_http::excerpt(&self.status))?;
        let reason = match self.status.as_str() {
            "EXPIRED" | "EXPIRED_IN_MATCH" | "CANCELED" | "REJECTED" => {
                let why = match (self.status.as_str(), self.expiry_reason.as_deref()) {
                    ("EXPIRED_IN_MATCH", _) => "self-trade prevention".to_owned(),
                    (_, Some(reason)) if !reason.is_empty() && reason != "NONE" => {
                        barter_http::excerpt(reason)
                    }
                    _ => "no reason given".to_owned(),
                };
                Some(format!(
                    "binance {}: {why}; executed {} of {}",
                    self.status.to_lowercase(),
                    self.executed_qty.normalize(),
                    self.orig_qty.normalize()
                ))
            }
            _ => None,
        };
        Ok(VenueReport {
            state,
            venue_order_id: Some(self.order_id.to_string()),
            executed_quantity: Quantity(self.executed_qty),
            fills: self.fills.iter().map(WireFill::to_fill).collect(),
            reason,
        })
    }
}

/// A decimal field of a filter object (Binance writes them as strings); absent means 0, which
/// every filter reads as "no constraint".
fn decimal_field(filter: &serde_json::Value, name: &str) -> Result<Decimal, String> {
    match filter.get(name) {
        None | Some(serde_json::Value::Null) => Ok(Decimal::ZERO),
        Some(serde_json::Value::String(text)) => text
            .trim()
            .parse::<Decimal>()
            .map_err(|_| format!("{name} `{}` is not a decimal", barter_http::excerpt(text))),
        Some(other) => Err(format!(
            "{name} is {}, not a decimal string",
            barter_http::excerpt(&other.to_string())
        )),
    }
}

/// A boolean field of a filter object; absent means `default`.
fn bool_field(filter: &serde_json::Value, name: &str, default: bool) -> bool {
    filter
        .get(name)
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(default)
}

/// The symbol's filters as [`SymbolRules`]: `LOT_SIZE`, `MARKET_LOT_SIZE` (a `0` step or
/// minimum is "no extra constraint", as live BTCUSDT publishes), `PRICE_FILTER`, and the
/// minimum/maximum value from `NOTIONAL` or, on symbols that still carry it, the older
/// `MIN_NOTIONAL` (`NOTIONAL` wins when both are present). Other filters do not concern a
/// market order and are ignored.
///
/// # Errors
/// Which filter field is unreadable.
pub(crate) fn map_filters(
    symbol: Symbol,
    filters: &[serde_json::Value],
) -> Result<SymbolRules, String> {
    let mut rules = SymbolRules::new(symbol);
    let mut saw_notional = false;
    for filter in filters {
        let kind = filter
            .get("filterType")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let field = |name: &str| {
            decimal_field(filter, name).map_err(|problem| format!("{kind}: {problem}"))
        };
        match kind {
            "LOT_SIZE" => {
                rules.step_size = Quantity(field("stepSize")?);
                rules.min_quantity = Quantity(field("minQty")?);
                rules.max_quantity = Quantity(field("maxQty")?);
            }
            "MARKET_LOT_SIZE" => {
                rules.market_step_size = Quantity(field("stepSize")?);
                rules.market_min_quantity = Quantity(field("minQty")?);
                rules.market_max_quantity = Quantity(field("maxQty")?);
            }
            "PRICE_FILTER" => rules.tick_size = Price(field("tickSize")?),
            "NOTIONAL" => {
                saw_notional = true;
                rules.min_notional = Money(field("minNotional")?);
                rules.min_notional_applies_to_market = bool_field(filter, "applyMinToMarket", true);
                rules.max_notional = Money(field("maxNotional")?);
                rules.max_notional_applies_to_market = bool_field(filter, "applyMaxToMarket", true);
            }
            "MIN_NOTIONAL" if !saw_notional => {
                rules.min_notional = Money(field("minNotional")?);
                rules.min_notional_applies_to_market = bool_field(filter, "applyToMarket", true);
            }
            _ => {}
        }
    }
    // Checks the numbers are usable (no negative field, steps with a common multiple).
    rules.market_step().map_err(|refusal| refusal.to_string())?;
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    const BTCUSDT: &str = include_str!("../../../fakes/fixtures/binance/exchangeInfo_BTCUSDT.json");
    const ETHBTC: &str =
        include_str!("../../../fakes/fixtures/binance/exchangeInfo_ETHBTC_legacy_filters.json");
    const FULL: &str = include_str!("../../../fakes/fixtures/binance/order_market_buy_full.json");
    const EXPIRED: &str =
        include_str!("../../../fakes/fixtures/binance/order_market_expired_partial.json");
    const QUERY: &str = include_str!("../../../fakes/fixtures/binance/order_query_filled.json");
    const TRADES: &str = include_str!("../../../fakes/fixtures/binance/myTrades.json");

    fn rules_of(json: &str, symbol: &str) -> SymbolRules {
        let info: ExchangeInfo = serde_json::from_str(json).expect("exchangeInfo parses");
        map_filters(
            Symbol::parse(symbol).expect("symbol"),
            &info.symbols[0].filters,
        )
        .expect("filters map")
    }

    #[test]
    fn btcusdt_filters_map_with_the_zero_market_step_falling_back_to_lot_size() {
        let rules = rules_of(BTCUSDT, "BTC");
        assert_eq!(rules.step_size, Quantity(dec!(0.00001)));
        assert_eq!(rules.min_quantity, Quantity(dec!(0.00001)));
        assert_eq!(rules.max_quantity, Quantity(dec!(9000)));
        assert_eq!(rules.market_step_size, Quantity(Decimal::ZERO));
        assert_eq!(rules.market_min_quantity, Quantity(Decimal::ZERO));
        assert_eq!(rules.market_max_quantity, Quantity(dec!(84.31950217)));
        assert_eq!(rules.tick_size, Price(dec!(0.01)));
        assert_eq!(rules.min_notional, Money(dec!(5)));
        assert!(rules.min_notional_applies_to_market);
        assert_eq!(rules.max_notional, Money(dec!(9000000)));
        assert!(!rules.max_notional_applies_to_market);
        assert_eq!(rules.market_step().expect("step"), Quantity(dec!(0.00001)));
    }

    #[test]
    fn legacy_min_notional_and_a_coarser_market_step_are_read() {
        let rules = rules_of(ETHBTC, "ETH");
        assert_eq!(rules.step_size, Quantity(dec!(0.0001)));
        assert_eq!(rules.market_step_size, Quantity(dec!(0.001)));
        assert_eq!(rules.market_min_quantity, Quantity(dec!(0.001)));
        assert_eq!(rules.min_notional, Money(dec!(0.0001)));
        assert!(rules.min_notional_applies_to_market);
        assert_eq!(rules.max_notional, Money(Decimal::ZERO));
        assert_eq!(rules.market_step().expect("step"), Quantity(dec!(0.001)));
    }

    #[test]
    fn notional_wins_over_min_notional_and_apply_flags_are_honoured() {
        let filters: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"filterType":"MIN_NOTIONAL","minNotional":"1","applyToMarket":false},
                {"filterType":"NOTIONAL","minNotional":"7","applyMinToMarket":false,"maxNotional":"0","applyMaxToMarket":true},
                {"filterType":"MIN_NOTIONAL","minNotional":"2","applyToMarket":true}]"#,
        )
        .expect("json");
        let rules = map_filters(Symbol::parse("X").expect("symbol"), &filters).expect("maps");
        assert_eq!(rules.min_notional, Money(dec!(7)));
        assert!(!rules.min_notional_applies_to_market);
        let legacy: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"filterType":"MIN_NOTIONAL","minNotional":"10","applyToMarket":false}]"#,
        )
        .expect("json");
        let rules = map_filters(Symbol::parse("X").expect("symbol"), &legacy).expect("maps");
        assert_eq!(rules.min_notional, Money(dec!(10)));
        assert!(!rules.min_notional_applies_to_market);
    }

    #[test]
    fn an_unreadable_or_negative_filter_is_refused_by_name() {
        let bad: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"filterType":"LOT_SIZE","stepSize":"1e-5x","minQty":"0","maxQty":"0"}]"#,
        )
        .expect("json");
        let error = map_filters(Symbol::parse("X").expect("symbol"), &bad).expect_err("bad");
        assert!(
            error.contains("LOT_SIZE") && error.contains("stepSize"),
            "{error}"
        );
        let negative: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"filterType":"LOT_SIZE","stepSize":"-1","minQty":"0","maxQty":"0"}]"#,
        )
        .expect("json");
        assert!(map_filters(Symbol::parse("X").expect("symbol"), &negative).is_err());
    }

    #[test]
    fn every_documented_status_maps_and_an_unknown_one_does_not() {
        let none = Decimal::ZERO;
        let some = dec!(0.1);
        assert_eq!(map_status("NEW", none), Some(OrderState::Accepted));
        assert_eq!(map_status("PENDING_NEW", none), Some(OrderState::Accepted));
        assert_eq!(
            map_status("PENDING_CANCEL", none),
            Some(OrderState::Accepted)
        );
        assert_eq!(
            map_status("PENDING_CANCEL", some),
            Some(OrderState::PartiallyFilled)
        );
        assert_eq!(
            map_status("PARTIALLY_FILLED", some),
            Some(OrderState::PartiallyFilled)
        );
        assert_eq!(map_status("FILLED", some), Some(OrderState::Filled));
        assert_eq!(map_status("CANCELED", none), Some(OrderState::Canceled));
        assert_eq!(map_status("REJECTED", none), Some(OrderState::Rejected));
        assert_eq!(map_status("EXPIRED", some), Some(OrderState::Expired));
        assert_eq!(
            map_status("EXPIRED_IN_MATCH", none),
            Some(OrderState::Expired)
        );
        assert_eq!(map_status("filled", some), None);
        assert_eq!(map_status("HALTED", none), None);
    }

    #[test]
    fn a_full_answer_maps_to_a_filled_report_with_every_fill() {
        let order: WireOrder = serde_json::from_str(FULL).expect("parses");
        let report = order.to_report().expect("maps");
        assert_eq!(report.state, OrderState::Filled);
        assert_eq!(report.venue_order_id.as_deref(), Some("52837461923"));
        assert_eq!(report.executed_quantity, Quantity(dec!(0.01)));
        assert_eq!(report.fills.len(), 2);
        assert_eq!(report.fills[0].trade_id, "5012345678");
        assert_eq!(report.fills[0].price, Price(dec!(98412.35)));
        assert_eq!(report.fills[0].quantity, Quantity(dec!(0.0064)));
        assert_eq!(report.fills[0].fee, dec!(0.00077136));
        assert_eq!(report.fills[0].fee_asset, "BNB");
        assert_eq!(report.reason, None);
    }

    #[test]
    fn an_expired_market_order_keeps_its_executed_part_and_says_why() {
        let order: WireOrder = serde_json::from_str(EXPIRED).expect("parses");
        let report = order.to_report().expect("maps");
        assert_eq!(report.state, OrderState::Expired);
        assert_eq!(report.executed_quantity, Quantity(dec!(0.003)));
        let filled: Decimal = report.fills.iter().map(|f| f.quantity.0).sum();
        assert_eq!(filled, dec!(0.003));
        let reason = report.reason.expect("a reason");
        assert!(
            reason.contains("INSUFFICIENT_LIQUIDITY") && reason.contains("0.003 of 0.005"),
            "{reason}"
        );
    }

    #[test]
    fn a_lookup_has_no_fills_and_my_trades_supplies_them() {
        let order: WireOrder = serde_json::from_str(QUERY).expect("parses");
        let report = order.to_report().expect("maps");
        assert_eq!(report.state, OrderState::Filled);
        assert!(report.fills.is_empty());
        assert_eq!(report.executed_quantity, Quantity(dec!(0.01)));
        let trades: Vec<WireTrade> = serde_json::from_str(TRADES).expect("parses");
        let fills: Vec<OrderFill> = trades.iter().map(WireTrade::to_fill).collect();
        let full: WireOrder = serde_json::from_str(FULL).expect("parses");
        let expected: Vec<OrderFill> = full.fills.iter().map(WireFill::to_fill).collect();
        assert_eq!(fills, expected, "myTrades and the FULL answer agree");
    }
}
