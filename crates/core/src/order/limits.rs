//! The account's own limits on new positions, set in `barter.toml` (`[account]` for the paper
//! account).
//!
//! Limits refuse entries only. Exits are never refused: an exit lowers exposure and frees cash,
//! and refusing it would keep a position open against the strategy's exit rule or stop-loss,
//! which is the very risk the limits are there to bound. A venue can still refuse an exit (see
//! [`super::filters`]), but Barter's own settings never do.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// Per-account limits on entries; `None` means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountLimits {
    /// The largest value one entry order may have (in the quote currency).
    pub max_order_notional: Option<Money>,
    /// The largest total value of entry orders sent in one UTC day.
    pub max_daily_notional: Option<Money>,
    /// The most positions the account may hold open at once.
    pub max_open_positions: Option<u32>,
    /// The free balance an entry must leave untouched.
    pub min_free_balance: Option<Money>,
}

/// Why an entry order breaks one of the account's limits; recorded, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "refusal")]
pub enum LimitRefusal {
    /// The order is worth more than `max_order_notional`.
    #[error(
        "the order is worth {notional}, above account `{account}`'s max_order_notional \
         {limit}: lower the strategy's size or raise `max_order_notional` in \
         barter.toml"
    )]
    OrderNotional {
        /// The account.
        account: String,
        /// The order's value.
        notional: Money,
        /// The limit.
        limit: Money,
    },
    /// The order would take the day's entries past `max_daily_notional`.
    #[error(
        "account `{account}` already sent {already} of entries today and this order adds \
         {notional}, above its max_daily_notional {limit}: wait for the next day or raise \
         `max_daily_notional` in barter.toml"
    )]
    DailyNotional {
        /// The account.
        account: String,
        /// The value of the entries already sent today.
        already: Money,
        /// The order's value.
        notional: Money,
        /// The limit.
        limit: Money,
    },
    /// The account already holds `max_open_positions`.
    #[error(
        "account `{account}` already holds {open} open positions, its max_open_positions is \
         {limit}: wait for an exit or raise `max_open_positions` in \
         barter.toml"
    )]
    OpenPositions {
        /// The account.
        account: String,
        /// Positions open now.
        open: u32,
        /// The limit.
        limit: u32,
    },
    /// The order would leave less free balance than `min_free_balance`.
    #[error(
        "the order's {notional} would leave {left} of account `{account}`'s free {free}, \
         below its min_free_balance {min}: lower the strategy's size or lower \
         `min_free_balance` in barter.toml"
    )]
    FreeBalance {
        /// The account.
        account: String,
        /// The free balance now.
        free: Money,
        /// The order's value.
        notional: Money,
        /// What the order would leave.
        left: Money,
        /// The limit.
        min: Money,
    },
    /// The order's value is negative, which no order has.
    #[error("the order value {notional} for account `{account}` is negative: a sizing bug")]
    NegativeNotional {
        /// The account.
        account: String,
        /// The value given.
        notional: Money,
    },
}

impl AccountLimits {
    /// Checks an entry order worth `order_notional` for `account`, given the value of the
    /// entries `already_sent_today_notional` (entries only: exits never use the budget), the
    /// `open_positions` held and the `free_balance`. A value equal to a limit passes.
    ///
    /// Exits are not checked at all: see the module documentation.
    ///
    /// # Errors
    /// [`LimitRefusal`] naming the first limit broken, the numbers, and the setting to change.
    pub fn check_entry(
        &self,
        account: &str,
        order_notional: Money,
        already_sent_today_notional: Money,
        open_positions: u32,
        free_balance: Money,
    ) -> Result<(), LimitRefusal> {
        let account = account.to_owned();
        let notional = order_notional;
        if notional.0 < Decimal::ZERO {
            return Err(LimitRefusal::NegativeNotional { account, notional });
        }
        if let Some(limit) = self.max_order_notional
            && notional > limit
        {
            return Err(LimitRefusal::OrderNotional {
                account,
                notional,
                limit,
            });
        }
        if let Some(limit) = self.max_daily_notional {
            // A total beyond the decimal range is certainly beyond the limit.
            let over = already_sent_today_notional
                .0
                .checked_add(notional.0)
                .is_none_or(|total| total > limit.0);
            if over {
                return Err(LimitRefusal::DailyNotional {
                    account,
                    already: already_sent_today_notional,
                    notional,
                    limit,
                });
            }
        }
        if let Some(limit) = self.max_open_positions
            && open_positions >= limit
        {
            return Err(LimitRefusal::OpenPositions {
                account,
                open: open_positions,
                limit,
            });
        }
        if let Some(min) = self.min_free_balance {
            let left = free_balance.0.checked_sub(notional.0);
            if left.is_none_or(|left| left < min.0) {
                return Err(LimitRefusal::FreeBalance {
                    account,
                    free: free_balance,
                    notional,
                    left: Money(left.unwrap_or(Decimal::MIN)),
                    min,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn limits() -> AccountLimits {
        AccountLimits {
            max_order_notional: Some(Money(dec!(1000))),
            max_daily_notional: Some(Money(dec!(2500))),
            max_open_positions: Some(3),
            min_free_balance: Some(Money(dec!(200))),
        }
    }

    fn check(notional: Decimal, today: Decimal, open: u32, free: Decimal) -> Result<(), String> {
        limits()
            .check_entry("main", Money(notional), Money(today), open, Money(free))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn no_limits_refuse_nothing() {
        let none = AccountLimits::default();
        assert_eq!(
            none.check_entry(
                "main",
                Money(Decimal::MAX),
                Money(Decimal::MAX),
                u32::MAX,
                Money(dec!(0))
            ),
            Ok(())
        );
    }

    #[test]
    fn values_at_a_limit_pass_and_beyond_it_are_refused() {
        assert_eq!(check(dec!(1000), dec!(1500), 2, dec!(1200)), Ok(()));
        assert_eq!(
            check(dec!(1000.01), dec!(0), 0, dec!(5000)),
            Err(
                "the order is worth 1000.01, above account `main`'s max_order_notional 1000: \
                 lower the strategy's size or raise `max_order_notional` in \
                 barter.toml"
                    .into()
            )
        );
        let daily = check(dec!(600), dec!(2000), 0, dec!(5000)).expect_err("daily");
        for part in ["2000", "600", "2500", "max_daily_notional", "barter.toml"] {
            assert!(daily.contains(part), "{part} missing from {daily}");
        }
        let open = check(dec!(10), dec!(0), 3, dec!(5000)).expect_err("open");
        assert!(open.contains("holds 3 open positions"), "{open}");
        assert!(open.contains("max_open_positions is 3"), "{open}");
        let free = check(dec!(900), dec!(0), 0, dec!(1000)).expect_err("free");
        assert!(
            free.starts_with("the order's 900 would leave 100 of account `main`'s free 1000, below its min_free_balance 200"),
            "{free}"
        );
    }

    #[test]
    fn sums_beyond_the_decimal_range_are_refused_not_a_panic() {
        let limits = AccountLimits {
            max_daily_notional: Some(Money(Decimal::MAX)),
            min_free_balance: Some(Money(dec!(0))),
            ..AccountLimits::default()
        };
        assert!(matches!(
            limits.check_entry(
                "a",
                Money(Decimal::MAX),
                Money(Decimal::MAX),
                0,
                Money(Decimal::MAX)
            ),
            Err(LimitRefusal::DailyNotional { .. })
        ));
        let free_only = AccountLimits {
            min_free_balance: Some(Money(dec!(0))),
            ..AccountLimits::default()
        };
        assert!(matches!(
            free_only.check_entry(
                "a",
                Money(Decimal::MAX),
                Money(dec!(0)),
                0,
                Money(Decimal::MIN)
            ),
            Err(LimitRefusal::FreeBalance { .. })
        ));
        assert!(matches!(
            free_only.check_entry("a", Money(dec!(-1)), Money(dec!(0)), 0, Money(dec!(1))),
            Err(LimitRefusal::NegativeNotional { .. })
        ));
    }

    #[test]
    fn limits_read_numbers_or_strings_and_missing_fields_are_unset() {
        let limits: AccountLimits = serde_json::from_str(
            r#"{"max_order_notional": 500, "min_free_balance": "12.5", "max_open_positions": 2}"#,
        )
        .expect("json");
        assert_eq!(limits.max_order_notional, Some(Money(dec!(500))));
        assert_eq!(limits.max_open_positions, Some(2));
        assert_eq!(limits.min_free_balance, Some(Money(dec!(12.5))));
        assert_eq!(limits.max_daily_notional, None);
    }
}
