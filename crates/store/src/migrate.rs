//! The embedded migrations: one folder per backend, compiled in with `include_str!`.
//!
//! Each entry below is `(version, description, SQLite SQL, PostgreSQL SQL)`; both backends always
//! have the same versions. Add a migration by adding a file to both folders and a line here.
//! Never edit an applied migration: sqlx refuses to start when a checksum changes.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One schema change, in both dialects.
struct Step {
    version: i64,
    description: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Every migration, in version order.
const STEPS: &[Step] = &[
    Step {
        version: 1,
        description: "initial schema",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Step {
        version: 2,
        description: "trading ledger",
        sqlite: include_str!("../migrations/sqlite/0002_trading.sql"),
        postgres: include_str!("../migrations/postgres/0002_trading.sql"),
    },
    Step {
        version: 3,
        description: "decisions by day",
        sqlite: include_str!("../migrations/sqlite/0003_decisions_by_day.sql"),
        postgres: include_str!("../migrations/postgres/0003_decisions_by_day.sql"),
    },
    Step {
        version: 4,
        description: "saved backtests",
        sqlite: include_str!("../migrations/sqlite/0004_saved_backtests.sql"),
        postgres: include_str!("../migrations/postgres/0004_saved_backtests.sql"),
    },
    Step {
        version: 5,
        description: "run leases",
        sqlite: include_str!("../migrations/sqlite/0005_run_leases.sql"),
        postgres: include_str!("../migrations/postgres/0005_run_leases.sql"),
    },
    Step {
        version: 6,
        description: "sizing equity",
        sqlite: include_str!("../migrations/sqlite/0006_sizing_equity.sql"),
        postgres: include_str!("../migrations/postgres/0006_sizing_equity.sql"),
    },
    Step {
        version: 7,
        description: "orders",
        sqlite: include_str!("../migrations/sqlite/0007_orders.sql"),
        postgres: include_str!("../migrations/postgres/0007_orders.sql"),
    },
    Step {
        version: 8,
        description: "trading halt",
        sqlite: include_str!("../migrations/sqlite/0008_trading_halt.sql"),
        postgres: include_str!("../migrations/postgres/0008_trading_halt.sql"),
    },
    Step {
        version: 9,
        description: "venue positions",
        sqlite: include_str!("../migrations/sqlite/0009_venue_positions.sql"),
        postgres: include_str!("../migrations/postgres/0009_venue_positions.sql"),
    },
    Step {
        version: 10,
        description: "dashboard sessions",
        sqlite: include_str!("../migrations/sqlite/0010_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0010_sessions.sql"),
    },
    Step {
        version: 11,
        description: "notifications",
        sqlite: include_str!("../migrations/sqlite/0011_notifications.sql"),
        postgres: include_str!("../migrations/postgres/0011_notifications.sql"),
    },
];

/// Which dialect of the migrations to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `migrations/sqlite`.
    Sqlite,
    /// `migrations/postgres`.
    Postgres,
}

/// The sqlx migrator for `dialect`.
pub fn migrator(dialect: Dialect) -> Migrator {
    let migrations: Vec<Migration> = STEPS
        .iter()
        .map(|step| {
            let sql = match dialect {
                Dialect::Sqlite => step.sqlite,
                Dialect::Postgres => step.postgres,
            };
            Migration::new(
                step.version,
                Cow::Borrowed(step.description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// The `(version, description)` of every embedded migration.
pub fn known() -> impl Iterator<Item = (i64, &'static str)> {
    STEPS.iter().map(|s| (s.version, s.description))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_both_dialects_are_present() {
        let versions: Vec<i64> = known().map(|(v, _)| v).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
        for step in STEPS {
            assert!(step.sqlite.contains("CREATE "), "sqlite {}", step.version);
            assert!(
                step.postgres.contains("CREATE "),
                "postgres {}",
                step.version
            );
        }
    }

    #[test]
    fn sqlite_migrations_never_declare_decimal_affinity() {
        for step in STEPS {
            let code: String = step
                .sqlite
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            // Whole words only: a column such as `realized_pnl` is not a REAL declaration.
            let upper = code.to_ascii_uppercase();
            let words: Vec<&str> = upper
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            for banned in ["NUMERIC", "DECIMAL", "REAL", "FLOAT", "DOUBLE"] {
                assert!(
                    !words.contains(&banned),
                    "migration {} declares {banned}",
                    step.version
                );
            }
        }
    }
}
