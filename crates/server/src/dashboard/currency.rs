//! Which currency a page writes an amount in: an instrument's prices and P&L in its quote
//! currency, the account's (and a backtest's over several instruments) in their common one.

use std::collections::BTreeMap;

use barter_core::Symbol;
use barter_store::{Store, StoreError};

/// Written where the currency is not known: a removed instrument, or instruments quoted in
/// different currencies.
pub(crate) const UNKNOWN: &str = "(quote)";

/// The quote currency of every registered instrument.
#[derive(Debug, Clone, Default)]
pub(crate) struct Currencies(BTreeMap<Symbol, String>);

impl Currencies {
    /// The registered instruments' quote currencies.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) async fn of_store(store: &Store) -> Result<Self, StoreError> {
        Ok(Self(
            store
                .instruments()
                .await?
                .into_iter()
                .map(|i| (i.symbol, i.quote_currency))
                .collect(),
        ))
    }

    /// The quote currency of `symbol`'s prices ([`UNKNOWN`] for an unregistered one).
    pub(crate) fn of(&self, symbol: &Symbol) -> &str {
        self.0.get(symbol).map_or(UNKNOWN, String::as_str)
    }

    /// The one currency of `symbols`, or [`UNKNOWN`] when they are quoted in several.
    pub(crate) fn common<'a>(&self, symbols: impl IntoIterator<Item = &'a Symbol>) -> String {
        let mut found: Vec<&str> = symbols.into_iter().map(|s| self.of(s)).collect();
        found.sort_unstable();
        found.dedup();
        match found.as_slice() {
            [one] => (*one).to_owned(),
            _ => UNKNOWN.to_owned(),
        }
    }

    /// The paper account's currency: the common one of every registered instrument.
    pub(crate) fn account(&self) -> String {
        self.common(self.0.keys())
    }

    /// The registered symbols, sorted.
    pub(crate) fn symbols(&self) -> impl Iterator<Item = &Symbol> {
        self.0.keys()
    }

    /// Whether no instrument is registered.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currencies(pairs: &[(&str, &str)]) -> Currencies {
        Currencies(
            pairs
                .iter()
                .map(|(s, c)| (Symbol::parse(s).expect("symbol"), (*c).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn one_currency_is_common_several_are_not() {
        let sym = |s: &str| Symbol::parse(s).expect("symbol");
        let usd = currencies(&[("BTC", "USD"), ("ETH", "USD")]);
        assert_eq!(usd.account(), "USD");
        assert_eq!(usd.of(&sym("BTC")), "USD");
        assert_eq!(usd.of(&sym("GONE")), UNKNOWN);
        let mixed = currencies(&[("BTC", "USD"), ("SAP", "EUR")]);
        assert_eq!(mixed.account(), UNKNOWN);
        assert_eq!(mixed.common([&sym("SAP")]), "EUR");
        assert_eq!(Currencies::default().account(), UNKNOWN);
    }
}
