//! A parameter sweep as the simulator page shows it: every combination run with
//! [`Prepared::sweep`] (as `barter backtest` does for `sweep.csv` and `heatmap.svg`), a heatmap
//! for two parameters and a ranking of the best combinations, each linking to its backtest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use barter_core::simulator::Statistics;
use serde_json::{Value, json};

use super::form::SimForm;
use super::results::{infinity_text, stat_text};
use barter_service::backtest::sweep::SHOWN_STATISTICS;
use barter_service::backtest::{Prepared, SweepPlan, SweepRow, describe_point};

/// How many of the best combinations the ranking lists.
pub(crate) const TOP: usize = 20;

/// A sweep's outcome, ready for the template.
pub(crate) struct SweepView {
    /// The swept parameters.
    pub names: Vec<String>,
    /// Combinations run.
    pub combinations: usize,
    /// Combinations the constraints ruled out.
    pub skipped: usize,
    /// The statistic it ranks by, and its label.
    pub rank_by: String,
    pub rank_label: String,
    /// Whether a higher value of it is better.
    pub higher_is_better: bool,
    /// The two-parameter heatmap.
    pub heatmap: Option<Heatmap>,
    /// The columns of the ranking's statistics (labels).
    pub columns: Vec<String>,
    /// The best combinations, best first.
    pub ranked: Vec<RankedRow>,
    /// The best combination and its value, for the saved summary.
    pub best: Option<(String, Option<f64>)>,
}

/// A heatmap of the rank-by statistic over two parameters.
pub(crate) struct Heatmap {
    /// The parameter down the rows.
    pub row_name: String,
    /// The parameter across the columns.
    pub column_name: String,
    /// The column headers (values of `column_name`).
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<HeatRow>,
}

/// One heatmap row: a value of the row parameter and its cells.
pub(crate) struct HeatRow {
    pub label: String,
    pub cells: Vec<HeatCell>,
}

/// One heatmap cell; `link` is `None` where the constraints ruled the combination out.
pub(crate) struct HeatCell {
    pub link: Option<String>,
    pub text: String,
    pub raw: String,
    pub style: String,
    pub title: String,
}

/// One of the best combinations.
pub(crate) struct RankedRow {
    pub rank: usize,
    pub point: String,
    pub link: String,
    pub rank_value: String,
    pub rank_raw: String,
    pub values: Vec<String>,
}

/// What a finished sweep leaves for its page: the ranking and, for two parameters, every
/// point's rank-by value. The page's view (with its links) is built from it per request, so a
/// kept sweep holds numbers, not markup.
pub(crate) struct SweepData {
    /// The swept parameters.
    names: Vec<String>,
    /// Combinations run.
    combinations: usize,
    /// Combinations the constraints ruled out.
    skipped: usize,
    /// The statistic it ranks by.
    rank_by: String,
    /// Every point and its rank-by value (two parameters only: the heatmap's cells).
    cells: Vec<(Vec<f64>, Option<f64>)>,
    /// The best combinations, best first, exact.
    rows: Vec<SweepRow>,
}

/// Runs every combination of `plan`, adding one to `done` as each finishes (the progress a
/// background sweep's page shows). A cancelled sweep (`prepared.cancel`) stops between points
/// and its data is incomplete: the caller must not show it as a result.
pub(crate) fn run(prepared: &Prepared, plan: &SweepPlan, done: &AtomicUsize) -> SweepData {
    let grid = &plan.grid;
    let two = grid.names.len() == 2;
    let cells = Mutex::new(Vec::<(Vec<f64>, Option<f64>)>::new());
    let screen = prepared.screen(&prepared.settings, &plan.rank_by, false);
    let rows = prepared.sweep(
        grid,
        &prepared.settings,
        screen.as_ref(),
        (&plan.rank_by, TOP),
        |values, stats| {
            if two {
                cells
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((values.to_vec(), stats.value(&plan.rank_by)));
            }
            // Once cancelled, the remaining points are skipped, not run: they do not count.
            if !prepared.cancel.load(Ordering::Relaxed) {
                done.fetch_add(1, Ordering::Relaxed);
            }
        },
    );
    SweepData {
        names: grid.names.clone(),
        combinations: grid.points.len(),
        skipped: grid.skipped,
        rank_by: plan.rank_by.clone(),
        cells: cells.into_inner().unwrap_or_else(PoisonError::into_inner),
        rows,
    }
}

/// The page's view of a finished sweep of `form`.
pub(crate) fn view(form: &SimForm, data: &SweepData) -> SweepView {
    let SweepData {
        names,
        rank_by,
        cells,
        rows,
        ..
    } = data;
    let link = |point: &[f64]| format!("/simulator?{}", form.combination(names, point).query());
    // The CLI's statistics, besides the one it ranks by.
    let shown: Vec<&str> = SHOWN_STATISTICS
        .iter()
        .copied()
        .filter(|k| k != rank_by)
        .collect();
    let ranked = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let value = |key: &str| row.stats.as_ref().and_then(|s| s.value(key));
            RankedRow {
                rank: i + 1,
                point: describe_point(names, &row.values),
                link: link(&row.values),
                rank_value: stat_text(rank_by, value(rank_by), ""),
                rank_raw: raw(value(rank_by)),
                values: shown.iter().map(|k| stat_text(k, value(k), "")).collect(),
            }
        })
        .collect();
    let best = rows.first().map(|row| {
        (
            describe_point(names, &row.values),
            row.stats.as_ref().and_then(|s| s.value(rank_by)),
        )
    });
    SweepView {
        names: names.clone(),
        combinations: data.combinations,
        skipped: data.skipped,
        rank_by: rank_by.clone(),
        rank_label: Statistics::label(rank_by).unwrap_or(rank_by).to_owned(),
        higher_is_better: Statistics::higher_is_better(rank_by),
        heatmap: (names.len() == 2).then(|| heatmap(names, rank_by, cells, &link)),
        columns: shown
            .iter()
            .map(|k| Statistics::label(k).unwrap_or(k).to_owned())
            .collect(),
        ranked,
        best,
    }
}

/// A value as `serde_json` writes it (`null` when missing or not finite).
fn raw(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or_else(|| "null".to_owned(), |v| json!(v).to_string())
}

/// The heatmap of `cells` (point, value): rows are the first parameter's values, columns the
/// second's; cells the constraints skipped stay empty.
fn heatmap(
    names: &[String],
    rank_by: &str,
    cells: &[(Vec<f64>, Option<f64>)],
    link: &dyn Fn(&[f64]) -> String,
) -> Heatmap {
    let axis = |i: usize| {
        let mut values: Vec<f64> = cells.iter().map(|(p, _)| p[i]).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        values
    };
    let (ys, xs) = (axis(0), axis(1));
    let mut grid: Vec<Option<Option<f64>>> = vec![None; ys.len() * xs.len()];
    for (point, value) in cells {
        let y = ys.partition_point(|v| *v < point[0]);
        let x = xs.partition_point(|v| *v < point[1]);
        grid[y * xs.len() + x] = Some(*value);
    }
    let mut sorted: Vec<f64> = grid
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    sorted.sort_by(f64::total_cmp);
    let better_high = Statistics::higher_is_better(rank_by);
    let label = Statistics::label(rank_by).unwrap_or(rank_by);
    let rows = ys
        .iter()
        .enumerate()
        .map(|(y, yv)| HeatRow {
            label: format!("{yv}"),
            cells: xs
                .iter()
                .enumerate()
                .map(|(x, xv)| {
                    let point = [*yv, *xv];
                    match grid[y * xs.len() + x] {
                        None => HeatCell {
                            link: None,
                            text: String::new(),
                            raw: String::new(),
                            style: String::new(),
                            title: format!(
                                "{}: ruled out by the constraints",
                                describe_point(names, &point)
                            ),
                        },
                        Some(value) => HeatCell {
                            link: Some(link(&point)),
                            text: value.map_or_else(|| "n/a".to_owned(), |v| cell_text(rank_by, v)),
                            raw: raw(value),
                            style: colour(value, &sorted, better_high),
                            title: format!(
                                "{}: {label} {}; open this backtest",
                                describe_point(names, &point),
                                stat_text(rank_by, value, "")
                            ),
                        },
                    }
                })
                .collect(),
        })
        .collect();
    Heatmap {
        row_name: names[0].clone(),
        column_name: names[1].clone(),
        columns: xs.iter().map(|v| format!("{v}")).collect(),
        rows,
    }
}

/// A cell's short text for statistic `key`: counts as integers, else two decimals;
/// infinities as ∞.
fn cell_text(key: &str, value: f64) -> String {
    infinity_text(value).map_or_else(|| barter_report::statistic_text(key, value), str::to_owned)
}

/// The cell's background by the value's rank among all `sorted` values (so a few outliers do
/// not wash out the rest): from light red (worst) through light yellow to light green (best),
/// light enough for dark text everywhere.
fn colour(value: Option<f64>, sorted: &[f64], better_high: bool) -> String {
    let Some(v) = value.filter(|v| !v.is_nan()) else {
        return String::new();
    };
    // Ties share their mean rank.
    let below = sorted.partition_point(|x| *x < v);
    let up_to = sorted.partition_point(|x| *x <= v);
    let rank = (below + up_to.saturating_sub(1)) as f64 / 2.0;
    let mut t = if sorted.len() > 1 {
        rank / (sorted.len() - 1) as f64
    } else {
        0.5
    };
    if !better_high {
        t = 1.0 - t;
    }
    const WORST: [f64; 3] = [244.0, 199.0, 195.0];
    const MIDDLE: [f64; 3] = [255.0, 242.0, 204.0];
    const BEST: [f64; 3] = [183.0, 225.0, 205.0];
    let (from, to, s) = if t < 0.5 {
        (WORST, MIDDLE, t * 2.0)
    } else {
        (MIDDLE, BEST, (t - 0.5) * 2.0)
    };
    let channel = |i: usize| (from[i] + (to[i] - from[i]) * s).round() as u8;
    format!(
        "background-color: #{:02x}{:02x}{:02x}",
        channel(0),
        channel(1),
        channel(2)
    )
}

/// The headline of a saved sweep.
pub(crate) fn summary(view: &SweepView) -> Value {
    json!({
        "kind": "sweep",
        "combinations": view.combinations,
        "rank_by": view.rank_by,
        "best": view.best.as_ref().map(|(point, value)| json!({ "point": point, "value": value })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_follow_the_rank_from_worst_to_best_either_way() {
        let sorted = [0.0, 1.0, 2.0, 1000.0, 1000.0];
        let shade = |v: f64, high: bool| colour(Some(v), &sorted, high);
        assert_eq!(shade(0.0, true), "background-color: #f4c7c3");
        assert_eq!(shade(2.0, true), "background-color: #fff2cc", "the median");
        assert_eq!(
            shade(1000.0, true),
            "background-color: #c9e5cd",
            "tied best"
        );
        assert_eq!(shade(0.0, false), "background-color: #b7e1cd");
        assert_eq!(colour(Some(5.0), &[5.0], true), "background-color: #fff2cc");
        assert_eq!(colour(None, &sorted, true), "");
    }

    #[test]
    fn the_heatmap_puts_each_value_in_its_cell_and_leaves_skipped_ones_empty() {
        let names = vec!["fast".to_owned(), "slow".to_owned()];
        let cells = vec![
            (vec![5.0, 20.0], Some(1.5)),
            (vec![5.0, 30.0], Some(-2.0)),
            (vec![10.0, 30.0], None),
        ];
        let map = heatmap(&names, "return_pct", &cells, &|p| {
            format!("{}-{}", p[0], p[1])
        });
        assert_eq!(map.columns, ["20", "30"]);
        assert_eq!(map.rows.len(), 2);
        assert_eq!(map.rows[0].label, "5");
        assert_eq!(map.rows[0].cells[0].text, "1.50");
        assert_eq!(map.rows[0].cells[0].raw, "1.5");
        assert_eq!(map.rows[0].cells[1].link.as_deref(), Some("5-30"));
        assert!(map.rows[1].cells[0].link.is_none(), "ruled out");
        assert_eq!(map.rows[1].cells[1].text, "n/a");
    }
}
