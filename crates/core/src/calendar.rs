//! Trading calendars: which days an instrument is expected to have a candle for.

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
    /// Monday to Friday (exchange-traded instruments; holidays still show up as gaps).
    Weekdays,
}

impl Calendar {
    /// The name used in config, CLI, database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Continuous => "continuous",
            Self::Weekdays => "weekdays",
        }
    }

    /// Whether a candle is expected on `day`.
    pub fn trades_on(self, day: Day) -> bool {
        match self {
            Self::Continuous => true,
            Self::Weekdays => !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
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
#[error("unknown calendar `{0}`: expected `continuous` (trades every day) or `weekdays`")]
pub struct UnknownCalendar(pub String);

impl FromStr for Calendar {
    type Err = UnknownCalendar;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "continuous" => Ok(Self::Continuous),
            "weekdays" => Ok(Self::Weekdays),
            _ => Err(UnknownCalendar(s.to_owned())),
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
            for cal in [Calendar::Continuous, Calendar::Weekdays] {
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
