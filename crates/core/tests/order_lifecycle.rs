//! Property tests for live orders: client order ids, the order lifecycle, and venue rules.
//!
//! - a client order id is a pure function of its five inputs, always valid on every venue, and
//!   changes when any one input changes (unicode and very long names included);
//! - no sequence of events takes a final state anywhere else, an order never moves back
//!   (except to planned when the venue is confirmed not to have it), a refused event leaves the
//!   order exactly as it was, fills only grow, and every reachable order stores and loads back;
//! - applying the same venue report twice is the same as applying it once;
//! - the booked quantity is the fills less the fees taken in the bought asset, whatever other
//!   assets charged fees;
//! - quantities fitted to a venue's rules are rounded down to every step, never above what was
//!   asked, and refusals carry the numbers they are about.

use barter_core::order::{
    ClientOrderId, DERIVED_ID_LEN, DecisionRef, MAX_CLIENT_ORDER_ID_LEN, Order, OrderAmount,
    OrderEvent, OrderFill, OrderRefusal, OrderState, SymbolRules, VenueReport, format_quantity,
};
use barter_core::{Day, Money, Price, Quantity, Side, Symbol};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

/// Short ASCII names, arbitrary unicode, and names thousands of characters long.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_-]{0,12}",
        any::<String>(),
        prop::collection::vec(any::<char>(), 300..3000).prop_map(String::from_iter),
    ]
}

fn symbol() -> impl Strategy<Value = Symbol> {
    "[A-Z0-9][A-Z0-9._-]{0,19}".prop_map(|s| Symbol::parse(&s).expect("generated symbol"))
}

/// Any day chrono can hold, including years without four digits.
fn day() -> impl Strategy<Value = Day> {
    prop_oneof![(700_000i32..800_000), (-95_000_000i32..95_000_000),]
        .prop_map(|n| Day::from_num_days_from_ce_opt(n).expect("day in range"))
}

type Decision = (String, String, Symbol, Day, Side);

fn decision_tuple() -> impl Strategy<Value = Decision> {
    (name(), name(), symbol(), day(), side())
}

fn derive(t: &Decision) -> ClientOrderId {
    ClientOrderId::derive(&t.0, &t.1, &t.2, t.3, t.4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ids_are_deterministic_and_valid_on_every_venue(t in decision_tuple()) {
        let id = derive(&t);
        prop_assert_eq!(&id, &derive(&t));
        let text = id.as_str();
        prop_assert_eq!(text.len(), DERIVED_ID_LEN);
        prop_assert!(text.len() <= MAX_CLIENT_ORDER_ID_LEN, "Binance allows 36");
        prop_assert!(text.len() <= 128, "Alpaca allows 128");
        prop_assert!(
            text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{text}"
        );
        prop_assert_eq!(ClientOrderId::parse(text), Ok(id.clone()));
        let prefix = match t.4 {
            Side::Buy => 'b',
            Side::Sell => 's',
        };
        prop_assert_eq!(text.chars().nth(10), Some(prefix));
    }

    #[test]
    fn ids_change_when_any_one_input_changes(base in decision_tuple(), other in decision_tuple()) {
        let id = derive(&base);
        for field in 0..5 {
            let mut t = base.clone();
            match field {
                0 => t.0 = other.0.clone(),
                1 => t.1 = other.1.clone(),
                2 => t.2 = other.2.clone(),
                3 => t.3 = other.3,
                _ => t.4 = other.4,
            }
            if t != base {
                prop_assert_ne!(derive(&t), id.clone(), "field {} changed", field);
            }
        }
        // Moving a character from one name to the next is a change too.
        if let Some(last) = base.0.chars().last() {
            let mut t = base.clone();
            t.0.pop();
            t.1.insert(0, last);
            prop_assert_ne!(derive(&t), id.clone());
        }
    }

    #[test]
    fn parse_never_accepts_what_a_venue_would_refuse(text in any::<String>()) {
        let valid = !text.is_empty()
            && text.chars().count() <= 36
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        prop_assert_eq!(ClientOrderId::parse(&text).is_ok(), valid, "{:?}", text);
    }
}

fn thousandths(n: i64) -> Decimal {
    Decimal::new(n, 3)
}

fn fill() -> impl Strategy<Value = OrderFill> {
    (
        0..6u8,
        prop_oneof![Just(100i64), Just(101)],
        1i64..5,
        0i64..3,
        prop_oneof![Just("BTC"), Just("USDT"), Just("BNB")],
    )
        .prop_map(|(id, price, qty, fee, asset)| OrderFill {
            trade_id: format!("t{id}"),
            price: Price(Decimal::from(price)),
            quantity: Quantity(thousandths(qty)),
            fee: Decimal::new(fee, 6),
            fee_asset: asset.to_owned(),
        })
}

fn report() -> impl Strategy<Value = VenueReport> {
    (
        prop::sample::select(OrderState::ALL.to_vec()),
        prop::option::of(prop_oneof![Just("A".to_owned()), Just("B".to_owned())]),
        0i64..20,
        prop::collection::vec(fill(), 0..4),
        prop::option::of("[a-zA-Z ]{0,20}"),
    )
        .prop_map(
            |(state, venue_order_id, executed, fills, reason)| VenueReport {
                state,
                venue_order_id,
                executed_quantity: Quantity(thousandths(executed)),
                fills,
                reason,
            },
        )
}

fn event() -> impl Strategy<Value = OrderEvent> {
    prop_oneof![
        3 => Just(OrderEvent::Sent),
        2 => Just(OrderEvent::OutcomeUnknown),
        2 => Just(OrderEvent::LookupNotFound),
        1 => prop::option::of(prop_oneof![Just("A".to_owned()), Just("B".to_owned())])
            .prop_map(|venue_order_id| OrderEvent::Acknowledged { venue_order_id }),
        1 => "[a-z ]{0,10}".prop_map(|reason| OrderEvent::Abandoned { reason }),
        6 => report().prop_map(OrderEvent::Report),
    ]
}

/// How far an order has come; only a confirmed "not found" (back to planned) lowers it.
fn progress(state: OrderState) -> u8 {
    match state {
        OrderState::Planned => 0,
        OrderState::Submitted | OrderState::Unknown => 1,
        OrderState::Accepted => 2,
        OrderState::PartiallyFilled => 3,
        _ => 4,
    }
}

fn planned(side: Side) -> Order {
    Order::planned(
        "main",
        DecisionRef {
            strategy: "trend".into(),
            symbol: Symbol::parse("BTC").expect("symbol"),
            day: "2026-12-07".parse().expect("day"),
            side,
        },
        OrderAmount::Quantity(Quantity(Decimal::new(1, 2))),
    )
    .expect("planned")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn no_event_sequence_takes_a_final_state_elsewhere(
        side in side(),
        events in prop::collection::vec(event(), 0..40),
    ) {
        let mut order = planned(side);
        let id = order.client_order_id().clone();
        for event in events {
            let before = order.clone();
            let not_found = event == OrderEvent::LookupNotFound;
            let result = order.apply(event);
            if result.is_err() {
                prop_assert_eq!(&order, &before, "a refused event changed the order");
            }
            if !not_found {
                prop_assert!(
                    progress(order.state()) >= progress(before.state()),
                    "{} went back to {}", before.state(), order.state()
                );
            }
            if before.state().is_terminal() {
                prop_assert_eq!(order.state(), before.state());
                prop_assert_eq!(order.executed_quantity(), before.executed_quantity());
            }
            // Fills only grow: the old ones stay, in place, unchanged.
            prop_assert!(order.fills().starts_with(before.fills()));
            prop_assert!(order.executed_quantity() >= before.executed_quantity());
            prop_assert!(order.filled_quantity() <= order.executed_quantity());
            prop_assert!(!(order.state().is_open() && order.state().is_terminal()));
            prop_assert_eq!(order.client_order_id(), &id);
            // Whatever `apply` reaches stores and loads back.
            let loaded = Order::try_from(order.record().clone());
            prop_assert_eq!(loaded.as_ref(), Ok(&order));
        }
    }

    #[test]
    fn the_same_report_twice_is_the_same_as_once(
        side in side(),
        prefix in prop::collection::vec(event(), 0..12),
        report in report(),
    ) {
        let mut order = planned(side);
        order.apply(OrderEvent::Sent).expect("sent");
        for event in prefix {
            let _ = order.apply(event);
        }
        let mut once = order.clone();
        let first = once.apply(OrderEvent::Report(report.clone()));
        let mut twice = once.clone();
        let second = twice.apply(OrderEvent::Report(report));
        if first.is_ok() {
            prop_assert_eq!(second, Ok(()));
            prop_assert_eq!(twice, once);
        } else {
            prop_assert_eq!(&once, &order);
        }
    }

    #[test]
    fn a_buy_books_its_fills_less_the_fees_in_the_bought_asset(
        fills in prop::collection::vec(fill(), 1..6),
    ) {
        // Unique trade ids, so every generated fill is one trade.
        let fills: Vec<OrderFill> = fills
            .into_iter()
            .enumerate()
            .map(|(i, f)| OrderFill { trade_id: format!("u{i}"), ..f })
            .collect();
        let gross: Decimal = fills.iter().map(|f| f.quantity.0).sum();
        let base_fees: Decimal =
            fills.iter().filter(|f| f.fee_asset == "BTC").map(|f| f.fee).sum();
        let quote_fees: Decimal =
            fills.iter().filter(|f| f.fee_asset == "USDT").map(|f| f.fee).sum();
        let value: Decimal = fills.iter().map(|f| f.quantity.0 * f.price.0).sum();
        for side in [Side::Buy, Side::Sell] {
            let mut order = planned(side);
            order.apply(OrderEvent::Sent).expect("sent");
            order
                .apply(OrderEvent::Report(VenueReport {
                    state: OrderState::Filled,
                    venue_order_id: None,
                    executed_quantity: Quantity(gross),
                    fills: fills.clone(),
                    reason: None,
                }))
                .expect("filled");
            let (quantity, cash) = match side {
                Side::Buy => (gross - base_fees, value + quote_fees),
                Side::Sell => (gross + base_fees, value - quote_fees),
            };
            prop_assert_eq!(order.net_quantity("BTC"), Ok(Quantity(quantity)));
            prop_assert_eq!(order.net_quote("USDT"), Ok(Money(cash)));
            prop_assert_eq!(order.filled_quantity(), Quantity(gross));
        }
    }
}

/// A step from a realistic set, zero meaning "none".
fn step() -> impl Strategy<Value = Decimal> {
    prop::sample::select(vec![
        Decimal::ZERO,
        Decimal::ONE,
        Decimal::new(1, 1),
        Decimal::new(1, 5),
        Decimal::new(1000, 8),
        Decimal::new(3, 4),
        Decimal::new(25, 2),
        Decimal::new(10, 0),
    ])
}

fn quantity() -> impl Strategy<Value = Decimal> {
    (1i64..1_000_000_000_000, 0u32..13).prop_map(|(m, scale)| Decimal::new(m, scale))
}

fn rules() -> impl Strategy<Value = SymbolRules> {
    (
        step(),
        step(),
        any::<bool>(),
        prop::option::of(quantity()),
        prop::option::of(quantity()),
        prop::option::of(quantity()),
    )
        .prop_map(|(lot, market, whole, min, max, min_notional)| SymbolRules {
            step_size: Quantity(lot),
            market_step_size: Quantity(market),
            whole_units: whole,
            min_quantity: Quantity(min.unwrap_or_default()),
            max_quantity: Quantity(max.unwrap_or_default()),
            min_notional: Money(min_notional.unwrap_or_default()),
            ..SymbolRules::new(Symbol::parse("BTC").expect("symbol"))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn fitted_quantities_round_down_to_every_step_and_never_exceed_the_input(
        rules in rules(),
        side in side(),
        asked in quantity(),
        price in quantity(),
    ) {
        let steps: Vec<Decimal> = [
            rules.step_size.0,
            rules.market_step_size.0,
            if rules.whole_units { Decimal::ONE } else { Decimal::ZERO },
        ]
        .into_iter()
        .filter(|s| !s.is_zero())
        .collect();
        let step = rules.market_step().expect("valid rules").0;
        let refusal = match rules.prepare_market(side, Quantity(asked), Price(price)) {
            Ok(q) => {
                let q = q.0;
                prop_assert!(q > Decimal::ZERO && q <= asked, "{} from {}", q, asked);
                for s in &steps {
                    prop_assert!((q % s).is_zero(), "{} is not a multiple of {}", q, s);
                }
                // The largest such quantity: one more step would pass what was asked.
                if step.is_zero() {
                    prop_assert_eq!(q, asked);
                } else {
                    prop_assert!(q + step > asked);
                }
                prop_assert!(q >= rules.min_quantity.0);
                if !rules.max_quantity.0.is_zero() {
                    prop_assert!(q <= rules.max_quantity.0);
                }
                prop_assert!(q * price >= rules.min_notional.0);
                let text = format_quantity(Quantity(q), Quantity(step));
                prop_assert!(!text.contains(['e', 'E']), "{}", text);
                prop_assert_eq!(text.parse::<Decimal>().expect("decimal"), q);
                return Ok(());
            }
            Err(refusal) => refusal,
        };
        let text = refusal.to_string();
        let numbers = match &refusal {
            OrderRefusal::BelowStep { requested, step: s, .. } => {
                prop_assert!(requested.0 < s.0);
                prop_assert_eq!(s.0, step);
                vec![requested.to_string(), s.to_string()]
            }
            OrderRefusal::BelowMinQuantity { quantity, min, .. } => {
                prop_assert!(quantity.0 < min.0 && quantity.0 <= asked);
                vec![quantity.to_string(), min.to_string()]
            }
            OrderRefusal::AboveMaxQuantity { quantity, max, .. } => {
                prop_assert!(quantity.0 > max.0 && quantity.0 <= asked);
                vec![quantity.to_string(), max.to_string()]
            }
            OrderRefusal::BelowMinNotional { quantity, price: p, notional, min, .. } => {
                prop_assert_eq!(notional.0, quantity.0 * p.0);
                prop_assert!(notional.0 < min.0);
                vec![quantity.to_string(), notional.to_string(), min.to_string()]
            }
            other => return Err(TestCaseError::fail(format!("unexpected refusal: {other}"))),
        };
        for number in numbers {
            prop_assert!(text.contains(&number), "{} missing from {}", number, text);
        }
    }

    #[test]
    fn formatted_quantities_have_no_exponent_and_at_most_the_steps_decimals(
        q in quantity(),
        s in step(),
    ) {
        let text = format_quantity(Quantity(q), Quantity(s));
        prop_assert!(!text.contains(['e', 'E']));
        let value: Decimal = text.parse().expect("decimal");
        prop_assert!(value <= q);
        if !s.is_zero() {
            prop_assert!(value.scale() <= s.normalize().scale());
            prop_assert!(q - value < Decimal::new(1, s.normalize().scale()));
        } else {
            prop_assert_eq!(value, q);
        }
    }
}
