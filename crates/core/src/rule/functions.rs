//! The indicator functions a rule can call: their signatures, and how each maps onto
//! [`crate::indicators`] (the only place indicator math lives).

use crate::indicators::{self, IndicatorError, NanValues, Values, nan_encoded};

/// A price series of an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesField {
    /// First price of the day.
    Open,
    /// Highest price of the day.
    High,
    /// Lowest price of the day.
    Low,
    /// Last price of the day.
    Close,
    /// Volume traded during the day.
    Volume,
}

impl SeriesField {
    /// Every series, in the order of the names in rules.
    pub const ALL: [SeriesField; 5] =
        [Self::Open, Self::High, Self::Low, Self::Close, Self::Volume];

    /// The name used in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::High => "high",
            Self::Low => "low",
            Self::Close => "close",
            Self::Volume => "volume",
        }
    }

    /// The series called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// A set of price series, e.g. the ones a rule reads (so a job loads only those).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeriesSet(u8);

impl SeriesSet {
    /// No series.
    pub const NONE: SeriesSet = SeriesSet(0);
    /// All five series.
    pub const ALL: SeriesSet = SeriesSet(0b1_1111);

    /// A set of exactly `field`.
    pub const fn of(field: SeriesField) -> SeriesSet {
        SeriesSet(1 << field as u8)
    }

    /// This set plus `field`.
    #[must_use]
    pub const fn with(self, field: SeriesField) -> SeriesSet {
        SeriesSet(self.0 | Self::of(field).0)
    }

    /// Both sets together.
    #[must_use]
    pub const fn union(self, other: SeriesSet) -> SeriesSet {
        SeriesSet(self.0 | other.0)
    }

    /// Whether `field` is in the set.
    pub const fn contains(self, field: SeriesField) -> bool {
        self.0 & Self::of(field).0 != 0
    }

    /// Whether every series of `other` is in this set.
    pub const fn covers(self, other: SeriesSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// The series in the set, in [`SeriesField::ALL`] order.
    pub fn fields(self) -> impl Iterator<Item = SeriesField> {
        SeriesField::ALL
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
}

/// Which indicator a function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Sma,
    Ema,
    Wma,
    Rsi,
    Highest,
    Lowest,
    Roc,
    Stddev,
    Atr,
    Macd,
    Bollinger,
}

/// What a function's first argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// A price series: `close`, `BTC.volume`.
    Series,
    /// Optionally an instrument (`atr(BTC, 14)`); the function reads its high, low and close.
    Instrument,
}

/// What kind of number a parameter argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// A whole number of days, at least 1 (the indicator may ask for more).
    Period,
    /// A finite number of standard deviations, at least 0.
    Multiplier,
}

/// The signature of a function with an indicator behind it.
#[derive(Debug, PartialEq)]
pub(crate) struct FuncSpec {
    /// Which indicator.
    pub func: Func,
    /// The name in rules.
    pub name: &'static str,
    /// The first argument.
    pub input: Input,
    /// The number arguments after the input, named as [`crate::indicators`] names them.
    pub args: &'static [(&'static str, ArgKind)],
    /// The names of the outputs when there are several (picked with `.name`), else empty.
    pub outputs: &'static [&'static str],
    /// An example call, for hints.
    pub usage: &'static str,
}

const PERIOD: &[(&str, ArgKind)] = &[("period", ArgKind::Period)];

/// Every indicator function.
pub(crate) const FUNCTIONS: &[FuncSpec] = &[
    single(Func::Sma, "sma", "sma(close, 20)"),
    single(Func::Ema, "ema", "ema(close, 20)"),
    single(Func::Wma, "wma", "wma(close, 20)"),
    single(Func::Rsi, "rsi", "rsi(close, 14)"),
    single(Func::Highest, "highest", "highest(high, 20)"),
    single(Func::Lowest, "lowest", "lowest(low, 20)"),
    single(Func::Roc, "roc", "roc(close, 10)"),
    single(Func::Stddev, "stddev", "stddev(close, 20)"),
    FuncSpec {
        func: Func::Atr,
        name: "atr",
        input: Input::Instrument,
        args: PERIOD,
        outputs: &[],
        usage: "atr(14)` or `atr(BTC, 14)",
    },
    FuncSpec {
        func: Func::Macd,
        name: "macd",
        input: Input::Series,
        args: &[
            ("fast", ArgKind::Period),
            ("slow", ArgKind::Period),
            ("signal", ArgKind::Period),
        ],
        outputs: &["line", "signal", "histogram"],
        usage: "macd(close, 12, 26, 9).signal",
    },
    FuncSpec {
        func: Func::Bollinger,
        name: "bollinger",
        input: Input::Series,
        args: &[
            ("period", ArgKind::Period),
            ("deviations", ArgKind::Multiplier),
        ],
        outputs: &["upper", "middle", "lower"],
        usage: "bollinger(close, 20, 2).upper",
    },
];

const fn single(func: Func, name: &'static str, usage: &'static str) -> FuncSpec {
    FuncSpec {
        func,
        name,
        input: Input::Series,
        args: PERIOD,
        outputs: &[],
        usage,
    }
}

/// The two boolean functions that compare today with yesterday.
pub(crate) const CROSSES: [&str; 2] = ["crosses_above", "crosses_below"];

/// The function called `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static FuncSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Every function name, for suggestions.
pub(crate) fn all_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name).chain(CROSSES)
}

/// The price columns an indicator reads.
pub(crate) struct Inputs<'a> {
    /// The input series (for `atr`: the close).
    pub series: &'a [f64],
    /// High, low and close, for `atr`.
    pub high: &'a [f64],
    /// Low, for `atr`.
    pub low: &'a [f64],
}

impl FuncSpec {
    /// Runs the indicator; every output is aligned with the input, NaN where not ready (see
    /// [`NanValues`]). `args` are the resolved number arguments (periods already checked to be
    /// whole numbers).
    ///
    /// `roc` is returned as a fraction (0.05 for +5%), not TA-Lib's percent, so that it compares
    /// naturally with percent literals and `return_since_entry`.
    pub fn compute(
        &self,
        inputs: &Inputs<'_>,
        args: &[f64],
    ) -> Result<Vec<NanValues>, IndicatorError> {
        let x = inputs.series;
        let period = |i: usize| args.get(i).copied().unwrap_or(0.0) as usize;
        let nan = |values: Values| nan_encoded(&values);
        Ok(match self.func {
            // The moving averages write plain numbers themselves; the others are converted.
            Func::Sma => vec![indicators::sma_nan(x, period(0))?],
            Func::Ema => vec![indicators::ema_nan(x, period(0))?],
            Func::Wma => vec![nan(indicators::wma(x, period(0))?)],
            Func::Rsi => vec![nan(indicators::rsi(x, period(0))?)],
            Func::Highest => vec![nan(indicators::highest(x, period(0))?)],
            Func::Lowest => vec![nan(indicators::lowest(x, period(0))?)],
            Func::Roc => {
                let percent = indicators::roc(x, period(0))?;
                vec![
                    percent
                        .iter()
                        .map(|v| v.map_or(f64::NAN, |p| p / 100.0))
                        .collect(),
                ]
            }
            Func::Stddev => vec![nan(indicators::stddev(x, period(0), 1.0)?)],
            Func::Atr => vec![nan(indicators::atr(inputs.high, inputs.low, x, period(0))?)],
            Func::Macd => {
                let m = indicators::macd(x, period(0), period(1), period(2))?;
                vec![nan(m.line), nan(m.signal), nan(m.histogram)]
            }
            Func::Bollinger => {
                let deviations = args.get(1).copied().unwrap_or(f64::NAN);
                let b = indicators::bollinger(x, period(0), deviations)?;
                vec![nan(b.upper), nan(b.middle), nan(b.lower)]
            }
        })
    }

    /// How many days before the first value (TA-Lib's lookback, as documented in
    /// [`crate::indicators`]); a test checks this against the indicators themselves.
    pub fn warm_up(&self, args: &[f64]) -> usize {
        let period = |i: usize| args.get(i).copied().unwrap_or(0.0) as usize;
        match self.func {
            Func::Sma
            | Func::Ema
            | Func::Wma
            | Func::Stddev
            | Func::Highest
            | Func::Lowest
            | Func::Bollinger => period(0).saturating_sub(1),
            Func::Rsi | Func::Roc | Func::Atr => period(0),
            Func::Macd => period(1).saturating_add(period(2)).saturating_sub(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_matches_the_first_value_of_every_indicator() {
        let x: Vec<f64> = (0..80)
            .map(|i| 100.0 + (f64::from(i) * 0.7).sin() * 5.0)
            .collect();
        let high: Vec<f64> = x.iter().map(|v| v + 1.0).collect();
        let low: Vec<f64> = x.iter().map(|v| v - 1.0).collect();
        let inputs = Inputs {
            series: &x,
            high: &high,
            low: &low,
        };
        for spec in FUNCTIONS {
            let args: Vec<f64> = match spec.func {
                Func::Macd => vec![5.0, 12.0, 4.0],
                Func::Bollinger => vec![7.0, 2.0],
                _ => vec![7.0],
            };
            let outputs = spec.compute(&inputs, &args).expect(spec.name);
            for output in outputs {
                let first = output.iter().position(|v| !v.is_nan());
                assert_eq!(first, Some(spec.warm_up(&args)), "{}", spec.name);
            }
        }
    }

    #[test]
    fn roc_is_a_fraction() {
        let x = [100.0, 105.0];
        let inputs = Inputs {
            series: &x,
            high: &x,
            low: &x,
        };
        let out = lookup("roc")
            .expect("roc")
            .compute(&inputs, &[1.0])
            .expect("roc");
        let value = out[0][1];
        assert!((value - 0.05).abs() < 1e-12, "{value}");
    }
}
