//! Alpaca's JSON as it travels, and the pure translations to and from Barter's order types:
//! status mapping, crypto symbol forms, order sizing and the fill derived from an order.
//!
//! Nothing here does I/O, so every rule is unit tested against the documented fixtures. Alpaca
//! adds fields over time, so every struct ignores unknown fields and most fields are optional.

use barter_core::execution::Side;
use barter_core::order::{
    Order, OrderAmount, OrderFill, OrderRefusal, OrderState, SymbolRules, VenueReport,
    format_quantity,
};
use barter_core::{Money, Price, Quantity, Symbol};
use chrono::{DateTime, FixedOffset};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Most decimals Alpaca accepts in `qty` and `notional`.
pub const MAX_QTY_DECIMALS: u32 = 9;

/// Decimals of a `notional` sent: whole cents, which every asset accepts.
const NOTIONAL_DECIMALS: u32 = 2;

/// Decimals a derived fill's price and an estimated fee are kept to (Alpaca's own precision).
const DERIVED_DECIMALS: u32 = 9;

/// Longest Alpaca order id accepted: ids are 36-character UUIDs, and a derived trade id
/// (`<id>:<filled_qty>`) must stay within the core's 128 characters.
const MAX_ORDER_ID_CHARS: usize = 64;

/// The quote currencies a crypto pair's legacy form (`BTCUSD`) can end in, longest first so
/// `USDT` is not read as `USD` + `T`.
const CRYPTO_QUOTES: [&str; 4] = ["USDT", "USDC", "USD", "BTC"];

/// `GET /v2/account`, the fields Barter uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireAccount {
    pub status: String,
    #[serde(default)]
    pub crypto_status: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    pub cash: Decimal,
    pub buying_power: Decimal,
    #[serde(default)]
    pub non_marginable_buying_power: Option<Decimal>,
    #[serde(default)]
    pub trading_blocked: bool,
    #[serde(default)]
    pub account_blocked: bool,
    #[serde(default)]
    pub trade_suspended_by_user: bool,
}

/// `GET /v2/assets/{symbol}`, the fields Barter uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireAsset {
    pub class: String,
    pub symbol: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tradable: bool,
    #[serde(default)]
    pub fractionable: bool,
    #[serde(default)]
    pub min_order_size: Option<Decimal>,
    #[serde(default)]
    pub min_trade_increment: Option<Decimal>,
    #[serde(default)]
    pub price_increment: Option<Decimal>,
}

/// One position of `GET /v2/positions`, the fields Barter uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WirePosition {
    /// `AAPL`, or a crypto pair's legacy form (`BTCUSD`).
    pub symbol: String,
    /// The quantity held.
    pub qty: Decimal,
    /// The quantity not reserved by open orders; absent means all of it.
    #[serde(default)]
    pub qty_available: Option<Decimal>,
    /// `long` or `short`.
    #[serde(default)]
    pub side: Option<String>,
}

/// `GET /v2/clock`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireClock {
    pub timestamp: DateTime<FixedOffset>,
    pub is_open: bool,
    pub next_open: DateTime<FixedOffset>,
    pub next_close: DateTime<FixedOffset>,
}

/// The Order object (POST answer and lookups), the fields Barter uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WireOrder {
    pub id: String,
    #[serde(default)]
    pub client_order_id: Option<String>,
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(default)]
    pub asset_class: Option<String>,
    #[serde(default)]
    pub side: Option<String>,
    pub status: String,
    #[serde(default)]
    pub filled_qty: Option<Decimal>,
    #[serde(default)]
    pub filled_avg_price: Option<Decimal>,
    #[serde(default)]
    pub replaced_by: Option<String>,
}

/// An error body: `{"code": 40310000, "message": "..."}`; 401 and some 5xx carry only a
/// message.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    #[serde(default)]
    pub message: Option<String>,
}

impl WireError {
    /// Reads an error body; anything unreadable is an error without code or message.
    pub fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_default()
    }

    /// The code as text (`40310000`), when it is a number or a short string.
    pub fn code(&self) -> Option<String> {
        match &self.code {
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::String(s)) if s.len() <= 20 => Some(s.clone()),
            _ => None,
        }
    }
}

/// The body of `POST /v2/orders` for a market order; exactly one of `qty` and `notional`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRequest {
    /// `AAPL` or `BTC/USD`.
    pub symbol: String,
    /// Units, as a plain decimal string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qty: Option<String>,
    /// Dollars, as a plain decimal string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notional: Option<String>,
    /// `buy` or `sell`.
    pub side: &'static str,
    /// Always `market`.
    #[serde(rename = "type")]
    pub order_type: &'static str,
    /// `day` for stocks, `gtc` for crypto.
    pub time_in_force: &'static str,
    /// Barter's client order id: Alpaca's idempotency key.
    pub client_order_id: String,
}

/// What kind of instrument an Alpaca asset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetClass {
    /// A US stock or ETF (`us_equity`): `day` orders, queued while the market is closed.
    UsEquity,
    /// A crypto pair (`crypto`): `gtc` orders, trading around the clock.
    Crypto,
    /// Anything else (`us_option`, `ipo`): Barter does not trade it.
    Other,
}

impl AssetClass {
    /// Reads Alpaca's `class` / `asset_class` value.
    pub fn parse(text: &str) -> Self {
        match text {
            "us_equity" => Self::UsEquity,
            "crypto" => Self::Crypto,
            _ => Self::Other,
        }
    }
}

/// The crypto pair in the form orders and assets use (`BTC/USD`) for the legacy form positions
/// use (`BTCUSD`); a symbol that already has a slash or ends in no known quote is unchanged.
pub fn order_symbol(position_symbol: &str) -> String {
    if position_symbol.contains('/') {
        return position_symbol.to_owned();
    }
    CRYPTO_QUOTES
        .iter()
        .find_map(|quote| {
            position_symbol
                .strip_suffix(quote)
                .filter(|base| !base.is_empty())
                .map(|base| format!("{base}/{quote}"))
        })
        .unwrap_or_else(|| position_symbol.to_owned())
}

/// The legacy form positions (and URL paths) use (`BTCUSD`) for an order's pair (`BTC/USD`).
pub fn position_symbol(order_symbol: &str) -> String {
    order_symbol.replace('/', "")
}

/// The base and quote asset of a crypto pair (`BTC/USD` → `BTC`, `USD`), in either form.
pub fn pair_assets(symbol: &str) -> Option<(String, String)> {
    let pair = order_symbol(symbol);
    let (base, quote) = pair.split_once('/')?;
    (!base.is_empty() && !quote.is_empty()).then(|| (base.to_owned(), quote.to_owned()))
}

/// An order's state for an Alpaca status, given how much is filled.
///
/// Only `filled`, `canceled`, `expired`, `rejected` (and `replaced`, which Barter never asks
/// for, so a person did it: booked as canceled with what was filled) are final. Every other
/// status, known or new, keeps the order open, so it is looked up again rather than closed on a
/// guess; `calculated` and `done_for_day` included, which the notes say to re-read later.
pub fn map_status(status: &str, filled: Decimal) -> OrderState {
    let open = if filled > Decimal::ZERO {
        OrderState::PartiallyFilled
    } else {
        OrderState::Accepted
    };
    match status {
        "filled" => OrderState::Filled,
        "canceled" | "replaced" => OrderState::Canceled,
        "expired" => OrderState::Expired,
        "rejected" => OrderState::Rejected,
        "partially_filled" => OrderState::PartiallyFilled,
        // new, accepted, pending_new, accepted_for_bidding, stopped, held, pending_cancel,
        // pending_replace, done_for_day, calculated, suspended and any future status.
        _ => open,
    }
}

/// The rules an Alpaca asset imposes on a market order's quantity, under `symbol`.
///
/// Crypto: the published `min_trade_increment` step and `min_order_size`. Fractionable stocks:
/// nine decimals (Alpaca's limit) and the $1 notional minimum. Other stocks: whole shares.
pub(crate) fn asset_rules(symbol: Symbol, asset: &WireAsset) -> SymbolRules {
    let mut rules = SymbolRules::new(symbol);
    match AssetClass::parse(&asset.class) {
        AssetClass::Crypto => {
            rules.step_size = Quantity(asset.min_trade_increment.unwrap_or_default());
            rules.min_quantity = Quantity(asset.min_order_size.unwrap_or_default());
            rules.tick_size = Price(asset.price_increment.unwrap_or_default());
        }
        _ if asset.fractionable => {
            rules.step_size = Quantity(Decimal::new(1, MAX_QTY_DECIMALS));
            rules.min_notional = Money(Decimal::ONE);
        }
        _ => {
            rules.step_size = Quantity(Decimal::ONE);
            rules.whole_units = true;
        }
    }
    rules
}

/// Builds the market order for `order` on an asset of `class` under `rules`, sized at
/// `reference` (the decision's close) where a price is needed.
///
/// - a quantity is rounded down to the asset's step and checked against its minimums;
/// - a quote amount is sent as `notional` (whole cents) where Alpaca allows it (crypto and
///   fractionable stocks, market orders), else as the whole shares it buys at `reference`;
/// - `time_in_force` is `day` for stocks (queued for the next open when the market is closed)
///   and `gtc` for crypto (Alpaca rejects `day`).
///
/// # Errors
/// [`OrderRefusal`] when the order does not fit the rules; it is recorded, never sent.
pub(crate) fn order_request(
    order: &Order,
    symbol: &str,
    class: AssetClass,
    rules: &SymbolRules,
    reference: Price,
) -> Result<OrderRequest, OrderRefusal> {
    let side = order.side();
    let notional_allowed = class == AssetClass::Crypto || !rules.whole_units;
    let (qty, notional) = match order.amount() {
        OrderAmount::Quantity(quantity) => {
            let rounded = rules.prepare_market(side, quantity, reference)?;
            let step = rules.market_step()?;
            (Some(format_quantity(rounded, step)), None)
        }
        OrderAmount::Quote(amount) if notional_allowed => {
            let cents = amount
                .0
                .round_dp_with_strategy(NOTIONAL_DECIMALS, RoundingStrategy::ToZero);
            // The minimums are checked on the quantity the amount buys at the reference.
            let units = cents.checked_div(reference.0).unwrap_or_default();
            if units <= Decimal::ZERO || reference.0 <= Decimal::ZERO {
                return Err(OrderRefusal::BadReferencePrice {
                    symbol: rules.symbol.clone(),
                    price: reference,
                });
            }
            rules.prepare_market(side, Quantity(units), reference)?;
            (None, Some(cents.normalize().to_string()))
        }
        OrderAmount::Quote(amount) => {
            if reference.0 <= Decimal::ZERO {
                return Err(OrderRefusal::BadReferencePrice {
                    symbol: rules.symbol.clone(),
                    price: reference,
                });
            }
            let units = amount.0.checked_div(reference.0).unwrap_or_default();
            let rounded = rules.prepare_market(side, Quantity(units), reference)?;
            let step = rules.market_step()?;
            (Some(format_quantity(rounded, step)), None)
        }
    };
    Ok(OrderRequest {
        symbol: symbol.to_owned(),
        qty,
        notional,
        side: match side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        },
        order_type: "market",
        time_in_force: match class {
            AssetClass::Crypto => "gtc",
            _ => "day",
        },
        client_order_id: order.client_order_id().as_str().to_owned(),
    })
}

/// Why an Alpaca order object cannot be turned into a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReportProblem {
    /// The order id is empty or too long.
    BadId,
    /// The answer is about another client order id.
    OtherOrder(String),
    /// A filled quantity or price is negative.
    Negative,
}

/// The report for an Alpaca order object, given what `order` already holds.
///
/// The Trading API lists no individual fills, only the cumulative `filled_qty` and
/// `filled_avg_price`. Barter books the growth since the fills it already knows as one fill,
/// whose trade id is the Alpaca order id and the cumulative quantity (`<id>:<filled_qty>`):
/// the same answer read twice gives the same fill (recorded once), a later, larger fill gives a
/// new one, and its price makes the fills' average equal Alpaca's `filled_avg_price`.
///
/// Crypto fees are not on the order either; Alpaca takes them from the asset received (the
/// base on a buy, the quote on a sell). The fee is estimated at `crypto_fee_rate` (the taker
/// rate of the lowest tier unless configured), so the position is booked net, as Alpaca holds
/// it; reconciliation against `/v2/positions` reports any difference.
pub(crate) fn order_report(
    wire: &WireOrder,
    order: &Order,
    crypto_fee_rate: Decimal,
) -> Result<VenueReport, ReportProblem> {
    if wire.id.is_empty() || wire.id.chars().count() > MAX_ORDER_ID_CHARS {
        return Err(ReportProblem::BadId);
    }
    if let Some(id) = &wire.client_order_id
        && id != order.client_order_id().as_str()
    {
        return Err(ReportProblem::OtherOrder(id.chars().take(40).collect()));
    }
    let filled = wire.filled_qty.unwrap_or_default();
    if filled < Decimal::ZERO || wire.filled_avg_price.is_some_and(|p| p < Decimal::ZERO) {
        return Err(ReportProblem::Negative);
    }
    let state = map_status(&wire.status, filled);
    let fills = new_fill(wire, order, crypto_fee_rate).into_iter().collect();
    let reason = match wire.status.as_str() {
        "canceled" | "expired" | "rejected" => Some(format!("alpaca status {}", wire.status)),
        "replaced" => Some(format!(
            "replaced at alpaca by order {} (not by Barter); check it by hand",
            wire.replaced_by
                .as_deref()
                .unwrap_or("?")
                .chars()
                .take(40)
                .collect::<String>()
        )),
        "suspended" => Some("alpaca suspended the order (not eligible for trading)".to_owned()),
        _ => None,
    };
    Ok(VenueReport {
        state,
        venue_order_id: Some(wire.id.clone()),
        executed_quantity: Quantity(filled.normalize()),
        fills,
        reason,
    })
}

/// The fill covering what `wire` says is filled beyond `order`'s known fills, if anything.
fn new_fill(wire: &WireOrder, order: &Order, crypto_fee_rate: Decimal) -> Option<OrderFill> {
    let filled = wire.filled_qty?;
    let average = wire.filled_avg_price.filter(|p| *p > Decimal::ZERO)?;
    let prior = order.filled_quantity().0;
    let delta = filled.checked_sub(prior)?;
    if delta <= Decimal::ZERO {
        return None;
    }
    let price = if prior.is_zero() {
        average
    } else {
        // What the new units cost so that all fills average to Alpaca's average price.
        let spent = order.quote_spent().ok()?.0;
        filled
            .checked_mul(average)
            .and_then(|total| total.checked_sub(spent))
            .and_then(|rest| rest.checked_div(delta))
            .map(|p| {
                p.round_dp_with_strategy(DERIVED_DECIMALS, RoundingStrategy::MidpointNearestEven)
            })
            .filter(|p| *p > Decimal::ZERO)
            .unwrap_or(average)
    };
    let (fee, fee_asset) = match (
        wire.asset_class.as_deref().map(AssetClass::parse),
        wire.symbol.as_deref().and_then(pair_assets),
    ) {
        (Some(AssetClass::Crypto), Some((base, quote))) => {
            let fee = match wire.side.as_deref() {
                Some("sell") => delta.checked_mul(price)?.checked_mul(crypto_fee_rate)?,
                _ => delta.checked_mul(crypto_fee_rate)?,
            };
            let asset = if wire.side.as_deref() == Some("sell") {
                quote
            } else {
                base
            };
            (
                fee.round_dp_with_strategy(DERIVED_DECIMALS, RoundingStrategy::ToZero)
                    .normalize(),
                asset,
            )
        }
        // US equities are commission-free (regulatory fees on sells come as FEE activities).
        _ => (Decimal::ZERO, String::new()),
    };
    Some(OrderFill {
        trade_id: format!("{}:{}", wire.id, filled.normalize()),
        price: Price(price.normalize()),
        quantity: Quantity(delta.normalize()),
        fee,
        fee_asset,
    })
}

#[cfg(test)]
mod tests {
    use barter_core::Day;
    use barter_core::order::{DecisionRef, OrderEvent};
    use rust_decimal_macros::dec;

    use super::*;

    const FILLED: &str = include_str!("../../../fakes/fixtures/alpaca/order_filled.json");
    const ACCEPTED: &str =
        include_str!("../../../fakes/fixtures/alpaca/order_market_buy_accepted.json");
    const PARTIAL: &str =
        include_str!("../../../fakes/fixtures/alpaca/order_partially_filled.json");
    const CRYPTO: &str =
        include_str!("../../../fakes/fixtures/alpaca/order_crypto_market_buy_filled.json");
    const AAPL: &str = include_str!("../../../fakes/fixtures/alpaca/asset_AAPL.json");
    const BTC: &str = include_str!("../../../fakes/fixtures/alpaca/asset_BTCUSD.json");

    fn order(symbol: &str, amount: OrderAmount, side: Side) -> Order {
        let mut order = Order::planned(
            "main",
            DecisionRef {
                strategy: "s".into(),
                symbol: Symbol::parse(symbol).expect("symbol"),
                day: "2026-12-06".parse::<Day>().expect("day"),
                side,
            },
            amount,
        )
        .expect("order");
        order.apply(OrderEvent::Sent).expect("sent");
        order
    }

    fn wire(text: &str, client_order_id: &Order) -> WireOrder {
        let mut wire: WireOrder = serde_json::from_str(text).expect("fixture");
        wire.client_order_id = Some(client_order_id.client_order_id().to_string());
        wire
    }

    fn qty(q: Decimal) -> OrderAmount {
        OrderAmount::Quantity(Quantity(q))
    }

    #[test]
    fn every_documented_status_maps_to_a_state() {
        let zero = Decimal::ZERO;
        for open in [
            "new",
            "accepted",
            "pending_new",
            "accepted_for_bidding",
            "stopped",
            "held",
            "pending_cancel",
            "pending_replace",
            "done_for_day",
            "calculated",
            "suspended",
            "some_future_status",
        ] {
            assert_eq!(map_status(open, zero), OrderState::Accepted, "{open}");
            assert_eq!(
                map_status(open, dec!(1)),
                OrderState::PartiallyFilled,
                "{open}"
            );
        }
        assert_eq!(
            map_status("partially_filled", dec!(7)),
            OrderState::PartiallyFilled
        );
        assert_eq!(map_status("filled", dec!(10)), OrderState::Filled);
        assert_eq!(map_status("canceled", dec!(3)), OrderState::Canceled);
        assert_eq!(map_status("replaced", zero), OrderState::Canceled);
        assert_eq!(map_status("expired", zero), OrderState::Expired);
        assert_eq!(map_status("rejected", zero), OrderState::Rejected);
    }

    #[test]
    fn crypto_symbols_map_between_order_and_position_forms() {
        assert_eq!(order_symbol("BTCUSD"), "BTC/USD");
        assert_eq!(order_symbol("ETHUSDT"), "ETH/USDT");
        assert_eq!(order_symbol("ETHBTC"), "ETH/BTC");
        assert_eq!(order_symbol("BTC/USD"), "BTC/USD");
        assert_eq!(order_symbol("AAPL"), "AAPL");
        assert_eq!(order_symbol("USD"), "USD");
        assert_eq!(position_symbol("BTC/USD"), "BTCUSD");
        assert_eq!(position_symbol("AAPL"), "AAPL");
        assert_eq!(
            pair_assets("BTCUSD"),
            Some(("BTC".to_owned(), "USD".to_owned()))
        );
        assert_eq!(pair_assets("AAPL"), None);
    }

    #[test]
    fn crypto_quantities_round_down_to_the_increment_and_respect_the_minimum() {
        let asset: WireAsset = serde_json::from_str(BTC).expect("asset");
        let rules = asset_rules(Symbol::parse("BTCUSD").expect("symbol"), &asset);
        let price = Price(dec!(98000));
        let request = order_request(
            &order("BTC", qty(dec!(0.010599)), Side::Buy),
            "BTC/USD",
            AssetClass::Crypto,
            &rules,
            price,
        )
        .expect("fits");
        assert_eq!(request.qty.as_deref(), Some("0.0105"));
        assert_eq!(request.time_in_force, "gtc");
        assert_eq!(request.symbol, "BTC/USD");
        assert_eq!(request.notional, None);
        let refused = order_request(
            &order("BTC", qty(dec!(0.00009)), Side::Buy),
            "BTC/USD",
            AssetClass::Crypto,
            &rules,
            price,
        );
        assert!(
            matches!(refused, Err(OrderRefusal::BelowStep { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn stock_quantities_are_fractional_to_nine_decimals_or_whole() {
        let asset: WireAsset = serde_json::from_str(AAPL).expect("asset");
        let rules = asset_rules(Symbol::parse("AAPL").expect("symbol"), &asset);
        let price = Price(dec!(230));
        let request = order_request(
            &order("AAPL", qty(dec!(1.1234567891234)), Side::Sell),
            "AAPL",
            AssetClass::UsEquity,
            &rules,
            price,
        )
        .expect("fits");
        assert_eq!(request.qty.as_deref(), Some("1.123456789"));
        assert_eq!(request.time_in_force, "day");
        assert_eq!(request.side, "sell");

        let mut whole = asset.clone();
        whole.fractionable = false;
        let rules = asset_rules(Symbol::parse("AAPL").expect("symbol"), &whole);
        let request = order_request(
            &order("AAPL", qty(dec!(10.7)), Side::Buy),
            "AAPL",
            AssetClass::UsEquity,
            &rules,
            price,
        )
        .expect("fits");
        assert_eq!(request.qty.as_deref(), Some("10"));
        // A quote amount on a whole-share stock buys the whole shares it affords.
        let request = order_request(
            &order("AAPL", OrderAmount::Quote(Money(dec!(500))), Side::Buy),
            "AAPL",
            AssetClass::UsEquity,
            &rules,
            price,
        )
        .expect("fits");
        assert_eq!(
            (request.qty.as_deref(), request.notional),
            (Some("2"), None)
        );
    }

    #[test]
    fn a_quote_amount_is_sent_as_notional_in_whole_cents_where_allowed() {
        let asset: WireAsset = serde_json::from_str(AAPL).expect("asset");
        let rules = asset_rules(Symbol::parse("AAPL").expect("symbol"), &asset);
        let request = order_request(
            &order("AAPL", OrderAmount::Quote(Money(dec!(500.129))), Side::Buy),
            "AAPL",
            AssetClass::UsEquity,
            &rules,
            Price(dec!(230)),
        )
        .expect("fits");
        assert_eq!(request.notional.as_deref(), Some("500.12"));
        assert_eq!(request.qty, None);
        let json = serde_json::to_string(&request).expect("json");
        assert!(!json.contains("qty"), "{json}");
        assert!(json.contains(r#""type":"market""#), "{json}");
        // Below Alpaca's $1 notional minimum: refused before sending.
        let refused = order_request(
            &order("AAPL", OrderAmount::Quote(Money(dec!(0.5))), Side::Buy),
            "AAPL",
            AssetClass::UsEquity,
            &rules,
            Price(dec!(230)),
        );
        assert!(
            matches!(refused, Err(OrderRefusal::BelowMinNotional { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn an_accepted_order_reports_nothing_filled() {
        let order = order("AAPL", qty(dec!(10)), Side::Buy);
        let report = order_report(&wire(ACCEPTED, &order), &order, dec!(0.0025)).expect("report");
        assert_eq!(report.state, OrderState::Accepted);
        assert_eq!(report.executed_quantity, Quantity(Decimal::ZERO));
        assert!(report.fills.is_empty());
        assert_eq!(
            report.venue_order_id.as_deref(),
            Some("3f8c1e2a-5b7d-4c19-9a64-0d2e7b18c3f5")
        );
    }

    #[test]
    fn a_partial_then_full_fill_books_two_fills_averaging_to_alpacas_price() {
        let mut order = order("AAPL", qty(dec!(25)), Side::Buy);
        let partial = order_report(&wire(PARTIAL, &order), &order, dec!(0.0025)).expect("partial");
        assert_eq!(partial.state, OrderState::PartiallyFilled);
        assert_eq!(partial.fills.len(), 1);
        assert_eq!(partial.fills[0].quantity, Quantity(dec!(7)));
        assert_eq!(partial.fills[0].price, Price(dec!(231.94)));
        assert_eq!(partial.fills[0].fee, Decimal::ZERO);
        order
            .apply(OrderEvent::Report(partial.clone()))
            .expect("apply");
        // The same answer again adds nothing.
        let again = order_report(&wire(PARTIAL, &order), &order, dec!(0.0025)).expect("again");
        assert!(again.fills.is_empty());

        let mut done = wire(PARTIAL, &order);
        done.status = "filled".into();
        done.filled_qty = Some(dec!(25));
        done.filled_avg_price = Some(dec!(231.90));
        let report = order_report(&done, &order, dec!(0.0025)).expect("filled");
        assert_eq!(report.fills.len(), 1);
        assert_eq!(report.fills[0].quantity, Quantity(dec!(18)));
        assert_ne!(report.fills[0].trade_id, partial.fills[0].trade_id);
        order.apply(OrderEvent::Report(report)).expect("apply");
        assert_eq!(order.state(), OrderState::Filled);
        assert!(order.fills_complete());
        let average = order.average_price().expect("average").expect("some");
        assert!(
            (average.0 - dec!(231.90)).abs() < dec!(0.000001),
            "{average:?}"
        );
    }

    #[test]
    fn a_crypto_buy_books_the_fee_in_the_coin_received() {
        let mut order = order("BTC", qty(dec!(0.0105)), Side::Buy);
        let report = order_report(&wire(CRYPTO, &order), &order, dec!(0.0025)).expect("report");
        assert_eq!(report.state, OrderState::Filled);
        assert_eq!(report.fills[0].fee, dec!(0.00002625));
        assert_eq!(report.fills[0].fee_asset, "BTC");
        order.apply(OrderEvent::Report(report)).expect("apply");
        // As in positions.json: the position holds 0.01047375 BTC.
        assert_eq!(
            order.net_quantity("BTC").expect("net"),
            Quantity(dec!(0.01047375))
        );

        let mut sell = self::order("BTC", qty(dec!(0.01)), Side::Sell);
        let mut answer = wire(CRYPTO, &sell);
        answer.side = Some("sell".into());
        answer.filled_qty = Some(dec!(0.01));
        answer.filled_avg_price = Some(dec!(100000));
        let report = order_report(&answer, &sell, dec!(0.0025)).expect("report");
        assert_eq!(
            (report.fills[0].fee, report.fills[0].fee_asset.as_str()),
            (dec!(2.5), "USD")
        );
        sell.apply(OrderEvent::Report(report)).expect("apply");
        assert_eq!(sell.net_quote("USD").expect("net"), Money(dec!(997.5)));
    }

    #[test]
    fn an_answer_about_another_order_is_not_booked() {
        let order = order("AAPL", qty(dec!(10)), Side::Buy);
        let mut other = wire(FILLED, &order);
        other.client_order_id = Some("someone-else".into());
        assert_eq!(
            order_report(&other, &order, dec!(0.0025)),
            Err(ReportProblem::OtherOrder("someone-else".into()))
        );
        let mut negative = wire(FILLED, &order);
        negative.filled_qty = Some(dec!(-1));
        assert_eq!(
            order_report(&negative, &order, dec!(0.0025)),
            Err(ReportProblem::Negative)
        );
    }

    #[test]
    fn error_bodies_give_their_code_and_message() {
        let error = WireError::parse(include_str!(
            "../../../fakes/fixtures/alpaca/error_403_insufficient_buying_power.json"
        ));
        assert_eq!(error.code().as_deref(), Some("40310000"));
        assert_eq!(error.message.as_deref(), Some("insufficient buying power"));
        let bare = WireError::parse("<html>502</html>");
        assert_eq!((bare.code(), bare.message), (None, None));
    }
}
