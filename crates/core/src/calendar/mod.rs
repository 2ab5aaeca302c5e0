//! Trading calendars: which days an instrument is expected to have a candle for.
//!
//! `continuous` (every day: crypto), `weekdays` (Monday to Friday, no holidays) and `xnys` (the
//! New York Stock Exchange's trading days, holidays and special closures included: see [`xnys`]
//! for its rules and covered years). Gap reports, staleness, holding days and the simulator's
//! annualisation all read an instrument's calendar.

pub mod xnys;

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Weekday};
use serde::{Deserialize, Serialize};

use crate::Day;

/// How many missing days a gap report lists by date; the rest are only counted.
pub const GAP_EXAMPLES: usize = 10;

/// Which days an instrument trades on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Calendar {
    /// Every day of the year (crypto).
    #[default]
    Continuous,
    /// Monday to Friday (holidays still show up as gaps).
    Weekdays,
    /// The New York Stock Exchange's trading days (NYSE and Nasdaq stocks and ETFs), see [`xnys`].
    Xnys,
}

impl Calendar {
    /// The name used in config, CLI, database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Continuous => "continuous",
            Self::Weekdays => "weekdays",
            Self::Xnys => "xnys",
        }
    }

    /// Whether a candle is expected on `day`.
    pub fn trades_on(self, day: Day) -> bool {
        match self {
            Self::Continuous => true,
            Self::Weekdays => !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
            Self::Xnys => xnys::trades_on(day),
        }
    }

    /// How many trading days lie in `first..=last`.
    pub fn trading_days_between(self, first: Day, last: Day) -> u64 {
        if last < first {
            return 0;
        }
        let span = (last - first).num_days() as u64 + 1;
        match self {
            Self::Continuous => span,
            Self::Weekdays => {
                let full_weeks = span / 7;
                let rest = first
                    .iter_days()
                    .take((span % 7) as usize)
                    .filter(|d| self.trades_on(*d))
                    .count() as u64;
                full_weeks * 5 + rest
            }
            // Every closure is a weekday, so it is one weekday fewer.
            Self::Xnys => {
                Self::Weekdays.trading_days_between(first, last)
                    - xnys::closures_between(first, last)
            }
        }
    }

    /// The trading days missing from `stored` (ascending, unique) between its first and last day.
    pub fn gaps(self, stored: &[Day]) -> Gaps {
        let mut gaps = Gaps::default();
        for pair in stored.windows(2) {
            let mut day = pair[0].succ_opt();
            while let Some(d) = day.filter(|d| *d < pair[1]) {
                if self.trades_on(d) {
                    gaps.push(d);
                }
                day = d.succ_opt();
            }
        }
        gaps
    }
}

impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calendar name Barter does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown calendar `{0}`: expected `continuous` (trades every day), `weekdays` (Monday to \
     Friday) or `xnys` (New York Stock Exchange trading days)"
)]
pub struct UnknownCalendar(pub String);

impl FromStr for Calendar {
    type Err = UnknownCalendar;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "continuous" => Ok(Self::Continuous),
            "weekdays" => Ok(Self::Weekdays),
            "xnys" => Ok(Self::Xnys),
            // Quoted back in the error, so bounded.
            _ => Err(UnknownCalendar(s.chars().take(40).collect())),
        }
    }
}

/// Missing trading days inside a stored range: the count, and the first few by date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gaps {
    /// How many trading days are missing.
    pub missing: u64,
    /// The first [`GAP_EXAMPLES`] missing days.
    pub examples: Vec<Day>,
}

impl Gaps {
    fn push(&mut self, day: Day) {
        self.missing += 1;
        if self.examples.len() < GAP_EXAMPLES {
            self.examples.push(day);
        }
    }

    /// Whether no day is missing.
    pub fn is_empty(&self) -> bool {
        self.missing == 0
    }
}

/// Parses a day written `YYYY-MM-DD`, telling a date that does not exist (`2025-02-30`) apart
/// from text that is not written that way, so each gets a message that says what to fix.
///
/// # Errors
/// The reason, quoting at most the first 40 characters of `text`.
pub fn parse_day(text: &str) -> Result<Day, String> {
    let shown: String = text.chars().take(40).collect();
    let shown = if shown.len() < text.len() {
        format!("{shown}…")
    } else {
        shown
    };
    let parts: Vec<&str> = text.trim().split('-').collect();
    let numbers = match parts.as_slice() {
        [y, m, d]
            if y.len() == 4
                && (1..=2).contains(&m.len())
                && (1..=2).contains(&d.len())
                && [y, m, d]
                    .iter()
                    .all(|p| p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            y.parse::<i32>()
                .ok()
                .zip(m.parse::<u32>().ok())
                .zip(d.parse::<u32>().ok())
        }
        _ => None,
    };
    let Some(((year, month), day)) = numbers else {
        return Err(format!(
            "`{shown}` is not a day: write it as YYYY-MM-DD, e.g. 2025-01-31"
        ));
    };
    if !(1..=12).contains(&month) {
        return Err(format!("`{shown}` is not a day: there is no month {month}"));
    }
    Day::from_ymd_opt(year, month, day).ok_or_else(|| {
        let days_in_month = (28..=31)
            .rev()
            .find(|d| Day::from_ymd_opt(year, month, *d).is_some())
            .unwrap_or(28);
        format!("`{shown}` is not a day: {year}-{month:02} has {days_in_month} days")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Day {
        text.parse().expect("valid date")
    }

    #[test]
    fn trading_day_counts_match_a_day_by_day_walk() {
        let first = d("2024-01-01");
        for len in 0..40 {
            let last = first + chrono::Days::new(len);
            for cal in [Calendar::Continuous, Calendar::Weekdays, Calendar::Xnys] {
                let walked = first
                    .iter_days()
                    .take_while(|x| *x <= last)
                    .filter(|x| cal.trades_on(*x))
                    .count();
                assert_eq!(
                    cal.trading_days_between(first, last),
                    walked as u64,
                    "{cal} {len}"
                );
            }
        }
    }

    /// Long spans across year ends, holidays and special closures count as a walk does.
    #[test]
    fn xnys_counts_match_a_walk_across_years() {
        let starts = [
            "1989-12-29",
            "1994-04-25",
            "2001-09-10",
            "2011-12-30",
            "2034-12-20",
        ];
        for start in starts {
            let first = d(start);
            for len in [0, 1, 3, 6, 7, 13, 40, 365, 366, 800, 3000] {
                let last = first + chrono::Days::new(len);
                let walked = first
                    .iter_days()
                    .take_while(|x| *x <= last)
                    .filter(|x| Calendar::Xnys.trades_on(*x))
                    .count() as u64;
                assert_eq!(
                    Calendar::Xnys.trading_days_between(first, last),
                    walked,
                    "{start} + {len}"
                );
            }
        }
        assert_eq!(
            Calendar::Xnys.trading_days_between(d("2025-01-02"), d("2025-01-01")),
            0
        );
    }

    proptest::proptest! {
        /// On every calendar, the count is the walk's and the gaps of a history are exactly
        /// the trading days taken out of it.
        #[test]
        fn counts_and_gaps_agree_with_trades_on(
            start in 0u64..(60 * 366),
            len in 0u64..1500,
            dropped in proptest::collection::vec(0usize..1500, 0..20),
        ) {
            let first = d("1980-01-01") + chrono::Days::new(start);
            let last = first + chrono::Days::new(len);
            for cal in [Calendar::Continuous, Calendar::Weekdays, Calendar::Xnys] {
                let days: Vec<Day> = first
                    .iter_days()
                    .take_while(|x| *x <= last)
                    .filter(|x| cal.trades_on(*x))
                    .collect();
                proptest::prop_assert_eq!(
                    cal.trading_days_between(first, last),
                    days.len() as u64
                );
                // Never the first or last day: gaps lie inside the stored range.
                let mut missing: Vec<Day> = dropped
                    .iter()
                    .filter(|i| **i > 0 && **i + 1 < days.len())
                    .map(|i| days[*i])
                    .collect();
                missing.sort();
                missing.dedup();
                let stored: Vec<Day> =
                    days.iter().copied().filter(|x| !missing.contains(x)).collect();
                let gaps = cal.gaps(&stored);
                proptest::prop_assert_eq!(gaps.missing, missing.len() as u64);
                let shown = missing.len().min(GAP_EXAMPLES);
                proptest::prop_assert_eq!(&gaps.examples[..], &missing[..shown]);
            }
        }
    }

    #[test]
    fn calendar_names_round_trip() {
        for cal in [Calendar::Continuous, Calendar::Weekdays, Calendar::Xnys] {
            assert_eq!(cal.as_str().parse::<Calendar>(), Ok(cal));
            assert_eq!(
                serde_json::to_value(cal).expect("json"),
                serde_json::json!(cal.as_str())
            );
        }
        assert_eq!(" XNYS ".parse::<Calendar>(), Ok(Calendar::Xnys));
        let error = "x".repeat(10_000).parse::<Calendar>().expect_err("unknown");
        assert!(error.to_string().len() < 250, "{error}");
        assert!(error.to_string().contains("`xnys`"), "{error}");
    }

    /// A holiday is not a gap on `xnys`: Good Friday 2024 (29 March) between Thursday and
    /// Monday, and the 2001 closures after 10 September.
    #[test]
    fn holidays_are_not_gaps_for_xnys() {
        let stored = [d("2024-03-28"), d("2024-04-01")];
        assert!(Calendar::Xnys.gaps(&stored).is_empty());
        assert_eq!(Calendar::Weekdays.gaps(&stored).examples, [d("2024-03-29")]);
        let stored = [d("2001-09-10"), d("2001-09-17"), d("2001-09-19")];
        assert_eq!(Calendar::Xnys.gaps(&stored).examples, [d("2001-09-18")]);
    }

    #[test]
    fn weekends_are_not_gaps_for_a_weekday_calendar() {
        // Friday 2024-01-05 then Monday 2024-01-08.
        let stored = [d("2024-01-05"), d("2024-01-08")];
        assert!(Calendar::Weekdays.gaps(&stored).is_empty());
        assert_eq!(Calendar::Continuous.gaps(&stored).missing, 2);
    }

    #[test]
    fn gaps_list_the_missing_days_in_order() {
        let stored = [d("2024-01-01"), d("2024-01-04"), d("2024-01-05")];
        let gaps = Calendar::Continuous.gaps(&stored);
        assert_eq!(gaps.missing, 2);
        assert_eq!(gaps.examples, vec![d("2024-01-02"), d("2024-01-03")]);
    }

    #[test]
    fn days_that_do_not_exist_are_told_apart_from_bad_text() {
        assert_eq!(
            parse_day("2024-02-29"),
            Ok(Day::from_ymd_opt(2024, 2, 29).expect("leap"))
        );
        let feb = parse_day("2025-02-30").expect_err("30 February");
        assert!(feb.contains("2025-02 has 28 days"), "{feb}");
        let month = parse_day("2025-13-01").expect_err("month 13");
        assert!(month.contains("no month 13"), "{month}");
        for text in ["2025/01/01", "01-02-2025", "tomorrow", "", "2025-1-1x"] {
            let error = parse_day(text).expect_err(text);
            assert!(error.contains("YYYY-MM-DD"), "{text}: {error}");
        }
        let long = parse_day(&"9".repeat(10_000)).expect_err("long");
        assert!(long.len() < 200, "{long}");
    }
}
