//! Drift: the ledger's open positions of a venue account against what the venue says the
//! account holds, asset by asset. Every trading job reports it in its run; `barter reconcile`,
//! `barter accounts`, `GET /api/accounts` and the dashboard show it (`crate::reconcile`).
//!
//! Drift (manual trades, dust left by rounding, fees paid in another asset, deposits and
//! withdrawals, a sell that executed only in part) is reported, never "fixed" by trading: a
//! position the venue no longer holds is flagged, not closed.

use std::collections::BTreeMap;

use barter_core::{Money, Symbol};
use barter_execution::{VenueAsset, VenueHoldings};
use rust_decimal::Decimal;
use serde::Serialize;

use super::TradingAccount;

/// One asset whose ledger and venue quantities differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The asset at the venue (`BTC`, `AAPL`).
    pub asset: String,
    /// The instruments whose open positions hold it, if any.
    pub symbols: Vec<Symbol>,
    /// What the ledger's open positions hold.
    pub ledger: Decimal,
    /// What the venue holds (free + locked).
    pub venue: Decimal,
    /// `venue − ledger`.
    pub difference: Decimal,
    /// What it may mean and what to do.
    pub note: String,
}

/// One account's state and drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountReport {
    /// The account's name (`paper` for the paper account).
    pub name: String,
    /// `paper`, `binance` or `alpaca`.
    pub venue: String,
    /// Whether it trades real money.
    pub live: bool,
    /// Whether the venue lets it trade now (paper: always).
    pub can_trade: bool,
    /// Cash: the paper account's, or the venue's quote balances.
    pub cash: Vec<VenueAsset>,
    /// Every asset the venue holds (empty for paper).
    pub holdings: Vec<VenueAsset>,
    /// The account's open positions in the ledger.
    pub open_positions: usize,
    /// Where the ledger and the venue disagree (empty: reconciled).
    pub drift: Vec<Drift>,
    /// Why the venue could not be read, if it could not.
    pub error: Option<String>,
}

/// One venue account's report: its holdings read from the venue and compared with
/// `positions` (the ledger's open positions of the account: instrument and quantity).
pub async fn venue_report(
    account: &TradingAccount,
    positions: &[(Symbol, Decimal)],
) -> AccountReport {
    match account.venue.holdings().await {
        Ok(holdings) => compare(account, holdings, positions).await,
        Err(error) => AccountReport {
            error: Some(error.to_string()),
            ..empty_report(account, positions.len())
        },
    }
}

/// The report of `account` with nothing read yet.
fn empty_report(account: &TradingAccount, open_positions: usize) -> AccountReport {
    AccountReport {
        name: account.name.clone(),
        venue: account.venue.name().to_owned(),
        live: account.venue.is_live(),
        can_trade: false,
        cash: Vec::new(),
        holdings: Vec::new(),
        open_positions,
        drift: Vec::new(),
        error: None,
    }
}

/// `holdings` (read from `account`'s venue) compared with `positions`, asset by asset.
pub async fn compare(
    account: &TradingAccount,
    holdings: VenueHoldings,
    positions: &[(Symbol, Decimal)],
) -> AccountReport {
    let venue = account.venue.as_ref();
    let mut report = empty_report(account, positions.len());
    report.can_trade = holdings.can_trade;
    // What the ledger holds, by the venue's asset name.
    let mut ledger: BTreeMap<String, (Decimal, Vec<Symbol>)> = BTreeMap::new();
    let mut quotes: Vec<String> = Vec::new();
    for (symbol, quantity) in positions {
        match venue.instrument_assets(symbol).await {
            Ok(assets) => {
                let entry = ledger.entry(assets.base).or_default();
                entry.0 += quantity;
                if !entry.1.contains(symbol) {
                    entry.1.push(symbol.clone());
                }
                if !quotes.contains(&assets.quote) {
                    quotes.push(assets.quote);
                }
            }
            Err(error) => {
                report.error = Some(format!("{symbol}: {error}"));
            }
        }
    }
    for asset in &holdings.assets {
        if quotes.contains(&asset.asset) || ["USD", "USDT", "USDC"].contains(&asset.asset.as_str())
        {
            report.cash.push(asset.clone());
        }
    }
    for (asset, (held, symbols)) in &ledger {
        let at_venue = holdings.total(asset);
        let difference = at_venue - held;
        if difference.is_zero() {
            continue;
        }
        let note = if at_venue.is_zero() {
            "the venue holds none of it: the position is flagged, not closed; check the \
             venue's order history (sold by hand? withdrawn?)"
                .to_owned()
        } else if difference < Decimal::ZERO {
            "the venue holds less than the ledger: part was sold or withdrawn outside Barter, \
             or a fee was taken in this asset"
                .to_owned()
        } else {
            "the venue holds more than the ledger: dust from rounding, a deposit, a manual buy, \
             or the unsold rest of a partly filled sell"
                .to_owned()
        };
        report.drift.push(Drift {
            asset: asset.clone(),
            symbols: symbols.clone(),
            ledger: *held,
            venue: at_venue,
            difference,
            note,
        });
    }
    for asset in &holdings.assets {
        let total = asset.free + asset.locked;
        if ledger.contains_key(&asset.asset) || report.cash.contains(asset) || total.is_zero() {
            continue;
        }
        report.drift.push(Drift {
            asset: asset.asset.clone(),
            symbols: Vec::new(),
            ledger: Decimal::ZERO,
            venue: total,
            difference: total,
            note: "held at the venue but by no open position: bought outside Barter, a fee \
                   asset (BNB), or dust"
                .to_owned(),
        });
    }
    report.holdings = holdings.assets;
    report
}

/// The cash of a report as one line (`USDT 4015.87 (+1212.5 locked)`), for the CLI.
pub fn cash_line(report: &AccountReport) -> String {
    if report.cash.is_empty() {
        return "-".to_owned();
    }
    report
        .cash
        .iter()
        .map(|c| {
            let money = Money(c.free);
            if c.locked.is_zero() {
                format!("{} {money}", c.asset)
            } else {
                format!("{} {money} (+{} locked)", c.asset, c.locked)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
