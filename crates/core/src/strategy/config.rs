//! Strategies as written in `barter.toml` (`[[strategies]]`), checked into [`RuleStrategy`]s.
//!
//! ```toml
//! [[strategies]]
//! name = "golden-cross"
//! instruments = ["BTC", "ETH"]          # or "all"
//! entry = "crosses_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < 70"
//! exit = "crosses_below(sma(close, $fast), sma(close, $slow))"   # optional
//! stop_loss = "8%"                      # also take_profit, trailing_stop; or a fraction 0.08
//! max_holding_days = 60
//! size = "10%"                          # of equity; "1000" quote amount; "all" cash; "0.5 units"
//! max_open_positions = 5
//! enabled = true
//! params = { fast = 20, slow = 50 }     # defaults of $fast and $slow
//! ```
//! Every problem in every strategy is reported at once (see [`StrategyConfig::build`]).

use std::collections::BTreeSet;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{ExitLimits, RuleStrategy};
use crate::candle::decimal_from_f64;
use crate::execution::Sizing;
use crate::money::{Money, Quantity};
use crate::rule::{Params, Rule, RuleKind, render_errors};
use crate::symbol::Symbol;

/// Which instruments a strategy trades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum InstrumentSelection {
    /// `"all"`: every active instrument.
    All(AllMarker),
    /// A list of symbols.
    Only(Vec<Symbol>),
}

/// The word `all` in `instruments = "all"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AllMarker {
    /// Every active instrument.
    All,
}

impl Default for InstrumentSelection {
    fn default() -> Self {
        Self::All(AllMarker::All)
    }
}

impl InstrumentSelection {
    /// Whether `symbol` is selected.
    pub fn includes(&self, symbol: &Symbol) -> bool {
        match self {
            Self::All(_) => true,
            Self::Only(list) => list.contains(symbol),
        }
    }
}

/// A number or a text such as `"8%"` in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum NumberText {
    /// A TOML number.
    Number(f64),
    /// A TOML string.
    Text(String),
}

/// How much each entry buys: `"10%"` of equity, `"1000"` of quote currency, `"all"` cash, or
/// `"0.5 units"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SizeSpec {
    /// A fraction of equity.
    EquityFraction(Decimal),
    /// An amount of quote currency, fee included.
    Amount(Decimal),
    /// All available cash.
    AllCash,
    /// A fixed quantity.
    Units(Decimal),
}

/// The largest quote amount or quantity a size may name (10^15): far beyond any account, and
/// far enough below the decimal range (about 7.9 × 10^28) that the cost of such an order at any
/// real price, its fee and the account's sums stay computable.
pub const MAX_SIZE: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

impl SizeSpec {
    /// The order size for the fill model.
    pub fn sizing(self) -> Sizing {
        match self {
            Self::EquityFraction(f) => Sizing::EquityFraction(f),
            Self::Amount(a) => Sizing::Amount(Money(a)),
            Self::AllCash => Sizing::AllCash,
            Self::Units(q) => Sizing::Quantity(Quantity(q)),
        }
    }

    /// Parses `"10%"`, `"1000"`, `"all"` or `"0.5 units"`.
    ///
    /// # Errors
    /// What is wrong, in words.
    pub fn parse(value: &NumberText) -> Result<Self, String> {
        let text = match value {
            NumberText::Number(n) => return positive(*n).map(Self::Amount),
            NumberText::Text(t) => t.trim().to_ascii_lowercase(),
        };
        let not_a_size = || {
            format!(
                "`{text}` is not a size: write \"10%\" (of equity), \"1000\" (quote currency), \"all\" (cash) or \"0.5 units\""
            )
        };
        if text == "all" {
            return Ok(Self::AllCash);
        }
        let (number, kind) = if let Some(pct) = text.strip_suffix('%') {
            (pct, "%")
        } else if let Some(units) = text
            .strip_suffix("units")
            .or_else(|| text.strip_suffix("unit"))
        {
            (units, " units")
        } else {
            (text.as_str(), "")
        };
        let number = number.trim();
        if number.contains(['e', 'E']) && number.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!(
                "`{text}` is not a size: exponents are not supported, write the number out (at most {MAX_SIZE}{kind})"
            ));
        }
        let Some(d) = Decimal::from_str(number)
            .ok()
            .filter(|d| *d > Decimal::ZERO)
        else {
            // All digits but no decimal: longer than the decimal range, so too large.
            let digits = number.chars().filter(char::is_ascii_digit).count();
            if digits > 0 && number.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return Err(too_large(&text, kind));
            }
            return Err(not_a_size());
        };
        match kind {
            "%" if d <= Decimal::ONE_HUNDRED => Ok(Self::EquityFraction(d / Decimal::ONE_HUNDRED)),
            "%" => Err(format!(
                "`{text}` is not a size: a share of equity is at most 100%"
            )),
            _ if d > MAX_SIZE => Err(too_large(&text, kind)),
            " units" => Ok(Self::Units(d)),
            _ => Ok(Self::Amount(d)),
        }
    }
}

fn too_large(text: &str, kind: &str) -> String {
    let kind = if kind == "%" { "" } else { kind };
    format!("`{text}` is too large a size: at most {MAX_SIZE}{kind}")
}

fn positive(n: f64) -> Result<Decimal, String> {
    // 1e15 is MAX_SIZE; past it (up to inf) the number is refused as too large, not as "not
    // positive" when it has no decimal form.
    if n > 1e15 {
        return Err(format!("{n} is too large a size: at most {MAX_SIZE}"));
    }
    decimal_from_f64(n)
        .filter(|d| *d > Decimal::ZERO)
        .ok_or_else(|| format!("{n} must be a positive number"))
}

/// Parses a percentage: `"8%"` or a fraction `0.08` (0 < x < 1).
fn fraction(value: &NumberText) -> Result<Decimal, String> {
    let parsed = match value {
        NumberText::Number(n) => decimal_from_f64(*n),
        NumberText::Text(t) => match t.trim().strip_suffix('%') {
            Some(pct) => Decimal::from_str(pct.trim())
                .ok()
                .map(|d| d / Decimal::ONE_HUNDRED),
            None => Decimal::from_str(t.trim()).ok(),
        },
    };
    parsed
        .filter(|d| *d > Decimal::ZERO && *d < Decimal::ONE)
        .ok_or_else(|| {
            format!(
                "{} is not a percentage between 0% and 100%: write \"8%\" or 0.08",
                describe(value)
            )
        })
}

fn describe(value: &NumberText) -> String {
    match value {
        NumberText::Number(n) => n.to_string(),
        NumberText::Text(t) => format!("`{t}`"),
    }
}

/// One `[[strategies]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Unique name.
    pub name: String,
    /// `"all"` or a list of symbols.
    #[serde(default)]
    pub instruments: InstrumentSelection,
    /// The entry rule.
    pub entry: String,
    /// The exit rule, optional.
    #[serde(default)]
    pub exit: Option<String>,
    /// Stop-loss below the entry price.
    #[serde(default)]
    pub stop_loss: Option<NumberText>,
    /// Take-profit above the entry price.
    #[serde(default)]
    pub take_profit: Option<NumberText>,
    /// Trailing stop below the highest close since entry.
    #[serde(default)]
    pub trailing_stop: Option<NumberText>,
    /// Close after this many days held.
    #[serde(default, deserialize_with = "crate::whole::deserialize_option")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 4294967295_u64))]
    pub max_holding_days: Option<u32>,
    /// Size of each entry (default `"10%"` of equity).
    #[serde(default)]
    pub size: Option<NumberText>,
    /// At most this many open positions for the strategy (default: no limit).
    #[serde(default, deserialize_with = "crate::whole::deserialize_option")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 4294967295_u64))]
    pub max_open_positions: Option<u32>,
    /// Disabled strategies are checked but not traded.
    #[serde(default = "enabled_by_default")]
    #[cfg_attr(feature = "openapi", schema(default = true))]
    pub enabled: bool,
    /// Defaults of the rule parameters (`$fast`).
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub params: Params,
    /// The named account (`[accounts.NAME]`) its orders go to; paper when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// One problem in one strategy's config: which strategy, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strategy `{strategy}`, {field}: {message}")]
pub struct ConfigProblem {
    /// The strategy's name.
    pub strategy: String,
    /// The field (`entry`, `exit`, `stop_loss`, ...).
    pub field: &'static str,
    /// What is wrong; rule errors are rendered with line, column and caret.
    pub message: String,
}

impl StrategyConfig {
    /// The size of each entry.
    ///
    /// # Errors
    /// When `size` is not a valid size.
    pub fn size_spec(&self) -> Result<SizeSpec, String> {
        match &self.size {
            None => Ok(SizeSpec::EquityFraction(Decimal::new(1, 1))),
            Some(value) => SizeSpec::parse(value),
        }
    }

    /// Checks everything and builds the strategy; `known` are the registered instruments (rules
    /// may only name those).
    ///
    /// # Errors
    /// Every problem found, each naming this strategy and the field.
    pub fn build(&self, known: &[Symbol]) -> Result<RuleStrategy, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, message: String| {
            problems.push(ConfigProblem {
                strategy: self.name.clone(),
                field,
                message,
            })
        };
        if self.name.trim().is_empty() {
            problem("name", "is empty".into());
        }
        let rule = |field: &'static str, source: &str, kind: RuleKind| {
            let label = format!("strategy `{}` {field}", self.name);
            Rule::check(source, kind, &self.params, known)
                .map_err(|errors| render_errors(&errors, source, &label))
        };
        let entry = rule("entry", &self.entry, RuleKind::Entry)
            .map_err(|m| problem("entry", m))
            .ok();
        let exit = match &self.exit {
            Some(source) => rule("exit", source, RuleKind::Exit)
                .map_err(|m| problem("exit", m))
                .ok()
                .map(Some),
            None => Some(None),
        };
        let mut limit = |field: &'static str, value: &Option<NumberText>| match value {
            Some(v) => fraction(v).map_err(|m| problem(field, m)).ok(),
            None => None,
        };
        let limits = ExitLimits {
            stop_loss: limit("stop_loss", &self.stop_loss),
            take_profit: limit("take_profit", &self.take_profit),
            trailing_stop: limit("trailing_stop", &self.trailing_stop),
            max_holding_days: self.max_holding_days,
        };
        if self.max_holding_days == Some(0) {
            problem("max_holding_days", "must be at least 1".into());
        }
        if self.max_open_positions == Some(0) {
            problem(
                "max_open_positions",
                "must be at least 1 (disable the strategy with enabled = false)".into(),
            );
        }
        if let Err(m) = self.size_spec() {
            problem("size", m);
        }
        if let InstrumentSelection::Only(list) = &self.instruments {
            for symbol in list.iter().filter(|s| !known.contains(s)) {
                problem(
                    "instruments",
                    format!("{symbol} is not a registered instrument"),
                );
            }
        }
        match (entry, exit, problems.is_empty()) {
            (Some(entry), Some(exit), true) => Ok(RuleStrategy::new(
                self.name.clone(),
                self.instruments.clone(),
                entry,
                exit,
                limits,
            )),
            _ => Err(problems),
        }
    }
}

/// Builds every strategy, reporting every problem of every strategy (and duplicate names).
///
/// # Errors
/// All problems found, in config order.
pub fn build_all(
    configs: &[StrategyConfig],
    known: &[Symbol],
) -> Result<Vec<RuleStrategy>, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut built = Vec::new();
    let mut names = BTreeSet::new();
    for config in configs {
        if !names.insert(config.name.as_str()) {
            problems.push(ConfigProblem {
                strategy: config.name.clone(),
                field: "name",
                message: "is used by another strategy; names must be unique".into(),
            });
        }
        match config.build(known) {
            Ok(strategy) => built.push(strategy),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        Ok(built)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn config() -> StrategyConfig {
        StrategyConfig {
            name: "cross".into(),
            instruments: InstrumentSelection::Only(vec![Symbol::parse("BTC").expect("s")]),
            entry: "crosses_above(sma(close, $fast), sma(close, $slow))".into(),
            exit: Some("close < sma(close, $slow)".into()),
            stop_loss: Some(NumberText::Text("8%".into())),
            take_profit: Some(NumberText::Number(0.2)),
            trailing_stop: None,
            max_holding_days: Some(30),
            size: Some(NumberText::Text("25%".into())),
            max_open_positions: Some(3),
            enabled: true,
            params: Params::from([("fast".into(), 10.0), ("slow".into(), 30.0)]),
            account: None,
        }
    }

    fn known() -> Vec<Symbol> {
        vec![
            Symbol::parse("BTC").expect("s"),
            Symbol::parse("ETH").expect("s"),
        ]
    }

    #[test]
    fn a_valid_config_builds_with_its_limits() {
        let strategy = config().build(&known()).expect("valid");
        assert_eq!(strategy.limits.stop_loss, Some(dec!(0.08)));
        assert_eq!(strategy.limits.take_profit, Some(dec!(0.2)));
        assert_eq!(
            config().size_spec(),
            Ok(SizeSpec::EquityFraction(dec!(0.25)))
        );
    }

    #[test]
    fn every_problem_of_a_strategy_is_reported_at_once() {
        let mut bad = config();
        bad.entry = "crosses_above(sma(close, $fast), emaa(close, 5))".into();
        bad.exit = Some("close <".into());
        bad.stop_loss = Some(NumberText::Text("120%".into()));
        bad.size = Some(NumberText::Text("lots".into()));
        bad.instruments = InstrumentSelection::Only(vec![Symbol::parse("DOGE").expect("s")]);
        let problems = bad.build(&known()).expect_err("invalid");
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            ["entry", "exit", "stop_loss", "size", "instruments"]
        );
        assert!(
            problems[0].message.contains("did you mean `ema`?"),
            "{}",
            problems[0].message
        );
        assert!(
            problems[0]
                .to_string()
                .starts_with("strategy `cross`, entry: ")
        );
    }

    #[test]
    fn sizes_parse_in_every_documented_form() {
        let cases = [
            (
                NumberText::Text("10%".into()),
                Ok(SizeSpec::EquityFraction(dec!(0.1))),
            ),
            (
                NumberText::Text("1000".into()),
                Ok(SizeSpec::Amount(dec!(1000))),
            ),
            (NumberText::Number(250.0), Ok(SizeSpec::Amount(dec!(250)))),
            (NumberText::Text("all".into()), Ok(SizeSpec::AllCash)),
            (
                NumberText::Text("0.5 units".into()),
                Ok(SizeSpec::Units(dec!(0.5))),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(SizeSpec::parse(&input), expected, "{input:?}");
        }
        assert!(SizeSpec::parse(&NumberText::Text("0%".into())).is_err());
    }

    #[test]
    fn duplicate_names_are_reported() {
        let problems = build_all(&[config(), config()], &known()).expect_err("duplicate");
        assert_eq!(problems[0].field, "name");
    }

    #[test]
    fn huge_sizes_are_refused_with_a_clear_message() {
        assert_eq!(MAX_SIZE, Decimal::from(1_000_000_000_000_000_i64));
        let text = |t: &str| NumberText::Text(t.to_owned());
        let cases = [
            (
                text("1e25 units"),
                "`1e25 units` is not a size: exponents are not supported, write the number out (at most 1000000000000000 units)",
            ),
            (
                text("1e30%"),
                "`1e30%` is not a size: exponents are not supported, write the number out (at most 1000000000000000%)",
            ),
            (
                text("79228162514264337593543950335 units"),
                "`79228162514264337593543950335 units` is too large a size: at most 1000000000000000 units",
            ),
            (
                text("792281625142643375935439503350000"),
                "`792281625142643375935439503350000` is too large a size: at most 1000000000000000",
            ),
            (
                text("79228162514264337593543950334"),
                "`79228162514264337593543950334` is too large a size: at most 1000000000000000",
            ),
            (
                text("1000000000000000.5 units"),
                "`1000000000000000.5 units` is too large a size: at most 1000000000000000 units",
            ),
            (
                text("1000%"),
                "`1000%` is not a size: a share of equity is at most 100%",
            ),
            (
                NumberText::Number(1e25),
                "10000000000000000000000000 is too large a size: at most 1000000000000000",
            ),
            (
                NumberText::Number(f64::INFINITY),
                "inf is too large a size: at most 1000000000000000",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                SizeSpec::parse(&input),
                Err(message.to_owned()),
                "{input:?}"
            );
        }
        assert_eq!(
            SizeSpec::parse(&text("1000000000000000 units")),
            Ok(SizeSpec::Units(MAX_SIZE))
        );
    }
}
