//! The `xnys` calendar: the days the New York Stock Exchange is open (Nasdaq keeps the same
//! full-day closures), for US stocks and ETFs such as SPY.
//!
//! # Rules
//! A weekday is a trading day unless it is one of the closures below; Saturdays and Sundays never
//! are. Early closes (1 pm on some half days) are still trading days: a daily candle exists.
//!
//! | holiday | date | on a weekend |
//! | --- | --- | --- |
//! | New Year's Day | 1 January | Sunday: closed Monday 2 January. Saturday: **not** moved (31 December, the year's last session, stays open) |
//! | Martin Luther King Jr. Day | third Monday of January, from 1998 | |
//! | Washington's Birthday (Presidents' Day) | third Monday of February | |
//! | Good Friday | two days before Easter Sunday (Gregorian computus) | |
//! | Memorial Day | last Monday of May | |
//! | Juneteenth | 19 June, from 2022 | Saturday: the Friday before; Sunday: the Monday after |
//! | Independence Day | 4 July | as Juneteenth |
//! | Labor Day | first Monday of September | |
//! | Thanksgiving | fourth Thursday of November | |
//! | Christmas | 25 December | as Juneteenth |
//!
//! Special closures, none of which a rule can foresee ([`SPECIAL_CLOSURES`]): 27 April 1994
//! (Nixon's funeral), 11–14 September 2001 (the attacks), 11 June 2004 (Reagan), 2 January 2007
//! (Ford), 29–30 October 2012 (Hurricane Sandy), 5 December 2018 (George H. W. Bush) and 9
//! January 2025 (Carter). There was no other full-day closure from 1990 on.
//!
//! # The covered years: 1990 to 2035
//! Within [`FIRST_YEAR`]`..=`[`LAST_YEAR`] the calendar is the exchange's, special closures
//! included, checked against the days of the bundled SPY history (1999–2020) and an independent
//! list of closures for every year. Outside it the same holiday rules are applied and no special
//! closure is known: after 2035 that is the exchange's schedule as far as it can be foreseen (a
//! closure announced later, such as a national day of mourning, shows up as a gap); before 1990
//! it is an approximation (the exchange then kept other holidays, e.g. election days before
//! 1980, and closed for Hurricane Gloria in 1985).
//!
//! [`trades_on`] reads a table of the covered years built once (one bit a day, 2 KiB), so the
//! simulator can ask on every bar.

use std::sync::OnceLock;

use chrono::{Datelike, Days, Weekday};

use crate::Day;

/// The first year whose trading days are the exchange's own, special closures included.
pub const FIRST_YEAR: i32 = 1990;

/// The last year whose trading days are the exchange's own (see the module docs for later ones).
pub const LAST_YEAR: i32 = 2035;

/// The full-day closures of 1990–2035 that no holiday rule gives: (year, month, day, reason).
pub const SPECIAL_CLOSURES: [(i32, u32, u32, &str); 11] = [
    (1994, 4, 27, "national day of mourning for Richard Nixon"),
    (2001, 9, 11, "September 11 attacks"),
    (2001, 9, 12, "September 11 attacks"),
    (2001, 9, 13, "September 11 attacks"),
    (2001, 9, 14, "September 11 attacks"),
    (2004, 6, 11, "national day of mourning for Ronald Reagan"),
    (2007, 1, 2, "national day of mourning for Gerald Ford"),
    (2012, 10, 29, "Hurricane Sandy"),
    (2012, 10, 30, "Hurricane Sandy"),
    (
        2018,
        12,
        5,
        "national day of mourning for George H. W. Bush",
    ),
    (2025, 1, 9, "national day of mourning for Jimmy Carter"),
];

/// A weekday the exchange is closed, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closure {
    /// The day.
    pub day: Day,
    /// The holiday or event, e.g. `Good Friday`.
    pub reason: &'static str,
}

/// The weekday closures of `year` in date order: the holidays by the rules of the module docs,
/// and within 1990–2035 the special closures.
pub fn closures(year: i32) -> Vec<Closure> {
    let mut out = Vec::with_capacity(12);
    let mut add = |day: Option<Day>, reason: &'static str| {
        if let Some(day) = day.filter(|d| !is_weekend(*d)) {
            out.push(Closure { day, reason });
        }
    };
    let date = |month, day| Day::from_ymd_opt(year, month, day);
    let nth = |month, weekday, n| Day::from_weekday_of_month_opt(year, month, weekday, n);
    // A Saturday New Year's Day is not moved to the Friday before: that is 31 December.
    add(
        date(1, 1).map(|d| match d.weekday() {
            Weekday::Sun => d + Days::new(1),
            _ => d,
        }),
        "New Year's Day",
    );
    if year >= 1998 {
        add(nth(1, Weekday::Mon, 3), "Martin Luther King Jr. Day");
    }
    add(nth(2, Weekday::Mon, 3), "Washington's Birthday");
    add(
        easter(year).and_then(|e| e.checked_sub_days(Days::new(2))),
        "Good Friday",
    );
    add(
        nth(5, Weekday::Mon, 5).or_else(|| nth(5, Weekday::Mon, 4)),
        "Memorial Day",
    );
    if year >= 2022 {
        add(date(6, 19).map(nearest_weekday), "Juneteenth");
    }
    add(date(7, 4).map(nearest_weekday), "Independence Day");
    add(nth(9, Weekday::Mon, 1), "Labor Day");
    add(nth(11, Weekday::Thu, 4), "Thanksgiving Day");
    add(date(12, 25).map(nearest_weekday), "Christmas Day");
    for (y, month, day, reason) in &SPECIAL_CLOSURES {
        if *y == year {
            add(Day::from_ymd_opt(*y, *month, *day), reason);
        }
    }
    out.sort_by_key(|c| c.day);
    out.dedup_by_key(|c| c.day);
    out
}

/// Whether the exchange is open on `day`.
pub fn trades_on(day: Day) -> bool {
    let table = table();
    match usize::try_from(day.num_days_from_ce() - table.first) {
        Ok(i) if i < table.days => table.bits[i / 64] & (1 << (i % 64)) != 0,
        _ => by_rules(day),
    }
}

/// How many weekday closures lie in `first..=last`.
pub(crate) fn closures_between(first: Day, last: Day) -> u64 {
    (first.year()..=last.year())
        .map(|year| {
            closures(year)
                .iter()
                .filter(|c| (first..=last).contains(&c.day))
                .count() as u64
        })
        .sum()
}

/// Whether `day` trades, from the rules rather than the table.
fn by_rules(day: Day) -> bool {
    !is_weekend(day) && !closures(day.year()).iter().any(|c| c.day == day)
}

fn is_weekend(day: Day) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// A fixed-date holiday on a Saturday is kept the Friday before, on a Sunday the Monday after.
fn nearest_weekday(day: Day) -> Day {
    match day.weekday() {
        Weekday::Sat => day.pred_opt().unwrap_or(day),
        Weekday::Sun => day.succ_opt().unwrap_or(day),
        _ => day,
    }
}

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous Gregorian computus, also
/// known as the Meeus/Jones/Butcher algorithm).
pub fn easter(year: i32) -> Option<Day> {
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Day::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// One bit per day of the covered years, set on trading days.
struct Table {
    /// `num_days_from_ce` of 1 January [`FIRST_YEAR`].
    first: i32,
    /// How many days the table covers.
    days: usize,
    bits: Vec<u64>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let start = Day::from_ymd_opt(FIRST_YEAR, 1, 1).unwrap_or(Day::MIN);
        let end = Day::from_ymd_opt(LAST_YEAR, 12, 31).unwrap_or(start);
        let days = usize::try_from((end - start).num_days() + 1).unwrap_or(0);
        let mut bits = vec![0u64; days.div_ceil(64)];
        for (i, day) in start.iter_days().take(days).enumerate() {
            if !is_weekend(day) {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        let first = start.num_days_from_ce();
        for year in FIRST_YEAR..=LAST_YEAR {
            for closure in closures(year) {
                if let Ok(i) = usize::try_from(closure.day.num_days_from_ce() - first) {
                    bits[i / 64] &= !(1 << (i % 64));
                }
            }
        }
        Table { first, days, bits }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Day {
        text.parse().expect("valid date")
    }

    fn closed(year: i32) -> Vec<String> {
        closures(year).iter().map(|c| c.day.to_string()).collect()
    }

    /// The exchange's published holiday schedules, checked by hand.
    #[test]
    fn published_years_close_on_the_published_days() {
        assert_eq!(
            closed(2001),
            [
                "2001-01-01",
                "2001-01-15",
                "2001-02-19",
                "2001-04-13",
                "2001-05-28",
                "2001-07-04",
                "2001-09-03",
                "2001-09-11",
                "2001-09-12",
                "2001-09-13",
                "2001-09-14",
                "2001-11-22",
                "2001-12-25",
            ]
        );
        assert_eq!(
            closed(2012),
            [
                "2012-01-02",
                "2012-01-16",
                "2012-02-20",
                "2012-04-06",
                "2012-05-28",
                "2012-07-04",
                "2012-09-03",
                "2012-10-29",
                "2012-10-30",
                "2012-11-22",
                "2012-12-25",
            ]
        );
        // New Year's Day on a Saturday: not observed, 31 December 2021 was open. Juneteenth on
        // a Sunday: the Monday after. Christmas on a Sunday: Monday 26 December.
        assert_eq!(
            closed(2022),
            [
                "2022-01-17",
                "2022-02-21",
                "2022-04-15",
                "2022-05-30",
                "2022-06-20",
                "2022-07-04",
                "2022-09-05",
                "2022-11-24",
                "2022-12-26",
            ]
        );
        assert!(trades_on(d("2021-12-31")));
        assert_eq!(
            closed(2025),
            [
                "2025-01-01",
                "2025-01-09",
                "2025-01-20",
                "2025-02-17",
                "2025-04-18",
                "2025-05-26",
                "2025-06-19",
                "2025-07-04",
                "2025-09-01",
                "2025-11-27",
                "2025-12-25",
            ]
        );
        // Independence Day on a Saturday (2026), Juneteenth on a Saturday (2027): the Friday.
        assert!(closed(2026).contains(&"2026-07-03".to_owned()));
        assert!(closed(2027).contains(&"2027-06-18".to_owned()));
        assert_eq!(
            closed(2035),
            [
                "2035-01-01",
                "2035-01-15",
                "2035-02-19",
                "2035-03-23",
                "2035-05-28",
                "2035-06-19",
                "2035-07-04",
                "2035-09-03",
                "2035-11-22",
                "2035-12-25",
            ]
        );
        // Before 1998 there was no Martin Luther King Jr. Day closure.
        assert!(trades_on(d("1997-01-20")));
        assert!(!trades_on(d("1998-01-19")));
        assert!(!trades_on(d("1994-04-27")), "Nixon");
        assert!(!trades_on(d("2004-06-11")), "Reagan");
        assert!(!trades_on(d("2018-12-05")), "Bush");
    }

    #[test]
    fn easter_matches_known_dates() {
        for (year, day) in [
            (1990, "1990-04-15"),
            (2000, "2000-04-23"),
            (2008, "2008-03-23"),
            (2011, "2011-04-24"),
            (2019, "2019-04-21"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2035, "2035-03-25"),
            (2038, "2038-04-25"),
        ] {
            assert_eq!(easter(year), Some(d(day)), "{year}");
        }
    }

    /// The table and the rules agree on every covered day, and past the covered years the
    /// rules still close the regular holidays.
    #[test]
    fn the_table_is_the_rules() {
        let start = d("1989-12-01");
        for day in start.iter_days().take_while(|x| *x <= d("2036-01-31")) {
            assert_eq!(trades_on(day), by_rules(day), "{day}");
        }
        assert!(!trades_on(d("2040-11-22")), "Thanksgiving 2040");
        assert!(!trades_on(d("1985-12-25")), "Christmas 1985");
        assert!(trades_on(d("2040-11-21")));
    }

    #[test]
    fn every_closure_is_a_weekday_once() {
        for year in 1900..=2100 {
            let list = closures(year);
            assert!(list.iter().all(|c| !is_weekend(c.day)), "{year}");
            assert!(list.windows(2).all(|w| w[0].day < w[1].day), "{year}");
            assert!(list.iter().all(|c| c.day.year() == year), "{year}");
        }
    }

    /// Every weekday closure of 1990–2035 is the one an independent implementation lists.
    #[test]
    fn closures_match_an_independent_list() {
        let expected: Vec<&str> =
            include_str!("../../tests/fixtures/xnys/weekday-closures-1990-2035.txt")
                .lines()
                .collect();
        let ours: Vec<String> = (FIRST_YEAR..=LAST_YEAR).flat_map(closed).collect();
        assert_eq!(ours, expected);
    }

    /// The days of the bundled SPY history (real sessions, 1999-11-01 to 2020-08-28) are
    /// exactly the calendar's trading days over that range.
    #[test]
    fn the_trading_days_are_the_days_spy_traded() {
        let spy: Vec<Day> = include_str!("../../../../data/sample/spy-usd-daily.csv")
            .lines()
            .skip(1)
            .map(|line| d(line.split(',').next().expect("date column")))
            .collect();
        assert_eq!(spy.len(), 5241);
        let (first, last) = (spy[0], spy[spy.len() - 1]);
        let ours: Vec<Day> = first
            .iter_days()
            .take_while(|x| *x <= last)
            .filter(|x| trades_on(*x))
            .collect();
        assert_eq!(ours.len(), spy.len());
        assert_eq!(ours, spy);
        assert_eq!(
            crate::Calendar::Xnys.trading_days_between(first, last),
            5241
        );
        assert!(crate::Calendar::Xnys.gaps(&spy).is_empty());
        // The weekday calendar counted the holidays as missing days.
        assert_eq!(crate::Calendar::Weekdays.gaps(&spy).missing, 194);
    }
}
