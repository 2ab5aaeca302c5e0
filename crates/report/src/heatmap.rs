//! The parameter-sweep heatmap: one metric over a grid of two parameters.

use anyhow::ensure;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{FONT, ensure_font, label_decimals, value_range};

/// The heatmap's size in pixels.
const WIDTH: u32 = 1000;
/// The heatmap's height in pixels.
const HEIGHT: u32 = 720;
/// The width of the colour-scale legend on the right.
const LEGEND_WIDTH: u32 = 130;
/// The colour scale's steps.
const LEGEND_STEPS: usize = 64;
/// At most this many labels per axis.
const MAX_AXIS_LABELS: usize = 20;
/// The stroke width of the best cell's outline.
pub(super) const BEST_OUTLINE_WIDTH: u32 = 3;
/// Viridis at 0, ¼, ½, ¾ and 1: perceptually uniform and readable in grey.
const VIRIDIS: [(u8, u8, u8); 5] = [
    (0x44, 0x01, 0x54),
    (0x3B, 0x52, 0x8B),
    (0x21, 0x91, 0x8C),
    (0x5E, 0xC9, 0x62),
    (0xFD, 0xE7, 0x25),
];

/// A parameter-sweep heatmap as SVG: `xs` across, `ys` up, each cell coloured by its value on a
/// viridis scale (legend on the right, titled `metric`), with the value written in the cell when
/// cells are large enough. `values` is row-major, one row per `ys` entry (`ys.len()` rows of
/// `xs.len()` values); `None` and non-finite values are left blank (e.g. invalid combinations
/// such as a fast period above the slow one). The best cell, the highest value (first one on
/// ties), is outlined and named under the title.
///
/// # Errors
/// When an axis is empty, `values` does not have `xs.len() × ys.len()` entries, or plotters
/// fails to lay out the chart.
pub fn heatmap_svg(
    title: &str,
    x_name: &str,
    xs: &[f64],
    y_name: &str,
    ys: &[f64],
    values: &[Option<f64>],
    metric: &str,
) -> anyhow::Result<String> {
    ensure!(
        !xs.is_empty() && !ys.is_empty(),
        "a heatmap needs at least one value on each axis"
    );
    ensure!(
        values.len() == xs.len() * ys.len(),
        "a heatmap of {} × {} parameters needs {} values, got {}",
        xs.len(),
        ys.len(),
        xs.len() * ys.len(),
        values.len()
    );
    ensure_font()?;
    let grid = Grid::new(xs.len(), values);
    let subtitle = match grid.best {
        Some((i, v)) => format!(
            "{metric}: best {} at {x_name} = {}, {y_name} = {} (outlined)",
            number_text(v, grid.decimals),
            parameter_text(xs[i % grid.columns]),
            parameter_text(ys[i / grid.columns]),
        ),
        None => format!("{metric}: no valid combination"),
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(title, (FONT, 22))?;
        let root = root.titled(&subtitle, (FONT, 15))?;
        let (grid_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
        draw_cells(&grid_area, &grid, (x_name, xs), (y_name, ys))?;
        draw_scale(&legend_area, &grid, metric)?;
        root.present()?;
    }
    Ok(svg)
}

/// The heatmap's values and what is derived from them.
struct Grid<'a> {
    /// Cells per row (`xs.len()`).
    columns: usize,
    /// Row-major values.
    values: &'a [Option<f64>],
    /// The lowest and highest finite value (`lo > hi` when there is none).
    lo: f64,
    hi: f64,
    /// The best cell's index and value: the highest value, the first on ties.
    best: Option<(usize, f64)>,
    /// Decimals for the values in cells and on the scale.
    decimals: usize,
}

impl<'a> Grid<'a> {
    fn new(columns: usize, values: &'a [Option<f64>]) -> Self {
        let finite = || {
            values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.filter(|v| v.is_finite()).map(|v| (i, v)))
        };
        let (lo, hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(v), hi.max(v))
        });
        let best = finite().fold(None, |best: Option<(usize, f64)>, (i, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        });
        // Enough decimals to tell values a hundredth of the range apart; of the value itself when
        // they are all the same.
        let resolution = if hi > lo {
            hi - lo
        } else if hi.is_finite() && hi != 0.0 {
            hi.abs()
        } else {
            1.0
        };
        Self {
            columns,
            values,
            lo,
            hi,
            best,
            decimals: label_decimals(resolution / 100.0).min(4),
        }
    }

    /// The cell's value when it is valid (present and finite).
    fn value(&self, index: usize) -> Option<f64> {
        self.values[index].filter(|v| v.is_finite())
    }

    /// Where `value` falls between the lowest and the highest value, 0..=1.
    fn position(&self, value: f64) -> f64 {
        if self.hi > self.lo {
            (value - self.lo) / (self.hi - self.lo)
        } else {
            0.5
        }
    }

    /// The cell's lower-left and upper-right corners in grid coordinates.
    fn corners(&self, index: usize) -> [(f64, f64); 2] {
        let (x, y) = ((index % self.columns) as f64, (index / self.columns) as f64);
        [(x, y), (x + 1.0, y + 1.0)]
    }
}

/// The grid: axes labelled with the parameter values, coloured cells, their values when they
/// fit, a faint outline on every cell (so blank ones still read as cells) and the best outlined.
fn draw_cells(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    grid: &Grid<'_>,
    (x_name, xs): (&str, &[f64]),
    (y_name, ys): (&str, &[f64]),
) -> anyhow::Result<()> {
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(Cells(xs.len()), Cells(ys.len()))?;
    let label = |axis: &[f64], at: f64| {
        axis.get(at.floor() as usize)
            .map(|&v| parameter_text(v))
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(MAX_AXIS_LABELS)
        .y_labels(MAX_AXIS_LABELS)
        .x_desc(x_name)
        .y_desc(y_name)
        .x_label_formatter(&|v| label(xs, *v))
        .y_label_formatter(&|v| label(ys, *v))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()?;

    let cells = 0..grid.values.len();
    chart.draw_series(cells.clone().filter_map(|i| {
        let colour = viridis(grid.position(grid.value(i)?));
        Some(Rectangle::new(grid.corners(i), colour.filled()))
    }))?;
    chart.draw_series(
        cells
            .clone()
            .map(|i| Rectangle::new(grid.corners(i), BLACK.mix(0.12))),
    )?;

    let (width, height) = chart.plotting_area().dim_in_pixel();
    let cell_width = width as usize / xs.len();
    let cell_height = height as usize / ys.len();
    if cell_width >= 44 && cell_height >= 18 {
        let centre = Pos::new(HPos::Center, VPos::Center);
        chart.draw_series(cells.filter_map(|i| {
            let v = grid.value(i)?;
            let ink = if grid.position(v) < 0.6 { WHITE } else { BLACK };
            let [(x, y), _] = grid.corners(i);
            let style = (FONT, 12).into_font().color(&ink).pos(centre);
            let text = number_text(v, grid.decimals);
            Some(Text::new(text, (x + 0.5, y + 0.5), style))
        }))?;
    }
    if let Some((i, _)) = grid.best {
        let [(x0, y0), (x1, y1)] = grid.corners(i);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)],
            BLACK.stroke_width(BEST_OUTLINE_WIDTH),
        )))?;
    }
    Ok(())
}

/// The colour scale: the values bottom to top in [`LEGEND_STEPS`] bands, titled `metric`.
fn draw_scale(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    grid: &Grid<'_>,
    metric: &str,
) -> anyhow::Result<()> {
    let scale = value_range([grid.lo, grid.hi].into_iter());
    let mut legend = ChartBuilder::on(area)
        .margin_top(12)
        .margin_bottom(62)
        .margin_right(8)
        .set_label_area_size(LabelAreaPosition::Right, 70)
        .build_cartesian_2d(0.0..1.0, scale.clone())?;
    legend
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .y_label_formatter(&|v| number_text(*v, grid.decimals))
        .y_desc(metric)
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()?;
    // One value (or none): its colour is the scale's middle, so the bands span the whole axis.
    let (bottom, top) = if grid.hi > grid.lo {
        (grid.lo, grid.hi)
    } else {
        (scale.start, scale.end)
    };
    let band = (top - bottom) / LEGEND_STEPS as f64;
    legend.draw_series((0..LEGEND_STEPS).map(|k| {
        let from = bottom + band * k as f64;
        let colour = viridis((k as f64 + 0.5) / LEGEND_STEPS as f64);
        Rectangle::new([(0.0, from), (1.0, from + band)], colour.filled())
    }))?;
    Ok(())
}

/// The viridis colour at `t` in 0..=1 (clamped), interpolated between its five stops.
fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let scaled = t * (VIRIDIS.len() - 1) as f64;
    let index = (scaled.floor() as usize).min(VIRIDIS.len() - 2);
    let fraction = scaled - index as f64;
    let (a, b) = (VIRIDIS[index], VIRIDIS[index + 1]);
    let mix = |from: u8, to: u8| {
        let value = f64::from(from) + (f64::from(to) - f64::from(from)) * fraction;
        value.round().clamp(0.0, 255.0) as u8
    };
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A grid axis of `n` cells: values `0.0..n`, cell `i` spanning `i..i + 1`, labels at the cell
/// centres (every k-th when there are more cells than labels asked for).
struct Cells(usize);

impl Ranged for Cells {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = value / self.0 as f64;
        limit.0 + (f64::from(limit.1 - limit.0) * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            return Vec::new();
        }
        let step = self.0.div_ceil(hint.max_num_points().max(1)).max(1);
        (0..self.0).step_by(step).map(|i| i as f64 + 0.5).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.0 as f64
    }
}

/// A metric value with `decimals` decimals, without the sign of a value that rounds to zero.
fn number_text(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
        _ => text,
    }
}

/// A parameter value as people write it: `20`, not `20.0`; `0.5` stays `0.5`.
fn parameter_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `<rect` elements with a colour fill (cells, legend bands and the white background).
    fn filled_rects(svg: &str) -> usize {
        svg.lines()
            .filter(|l| l.starts_with("<rect") && !l.contains("fill=\"none\""))
            .count()
    }

    #[test]
    fn heatmap_leaves_invalid_cells_blank_and_outlines_the_best() {
        let xs = [5.0, 10.0, 20.0];
        let ys = [0.5, 1.0];
        let full: Vec<Option<f64>> = (0..6).map(|i| Some(f64::from(i))).collect();
        let mut holes = full.clone();
        holes[1] = None;
        holes[4] = Some(f64::NAN);

        let svg_full = heatmap_svg("Sweep", "fast", &xs, "k", &ys, &full, "Sharpe").expect("svg");
        let svg = heatmap_svg("Sweep <1>", "fast", &xs, "k", &ys, &holes, "Sharpe").expect("svg");

        assert!(svg.starts_with("<svg"));
        assert_eq!(filled_rects(&svg_full) - filled_rects(&svg), 2);
        let outline = format!("stroke-width=\"{BEST_OUTLINE_WIDTH}\"");
        assert_eq!(svg.matches(&outline).count(), 1);
        assert!(svg.contains("Sweep &lt;1&gt;"));
        // The best is 5 at fast = 20, k = 1 (row 1, column 2).
        assert!(svg.contains("best 5.00 at fast = 20, k = 1"), "{svg}");
        assert!(
            svg.contains(">\n0.5\n</text>"),
            "y labels are parameter values"
        );
    }

    #[test]
    fn heatmap_of_only_invalid_cells_renders_without_outline() {
        let svg = heatmap_svg("Sweep", "a", &[1.0], "b", &[2.0], &[None], "Return %").expect("svg");

        assert!(svg.contains("no valid combination"));
        assert!(!svg.contains(&format!("stroke-width=\"{BEST_OUTLINE_WIDTH}\"")));
    }

    #[test]
    fn heatmap_of_one_value_outlines_it() {
        let svg =
            heatmap_svg("One", "a", &[1.0], "b", &[2.0], &[Some(0.25)], "Sharpe").expect("svg");

        assert!(svg.contains("best 0.250 at a = 1, b = 2"), "{svg}");
        assert_eq!(
            svg.matches(&format!("stroke-width=\"{BEST_OUTLINE_WIDTH}\""))
                .count(),
            1
        );
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn heatmap_rejects_a_grid_of_the_wrong_size() {
        assert!(heatmap_svg("S", "a", &[1.0, 2.0], "b", &[1.0], &[Some(1.0)], "m").is_err());
        assert!(heatmap_svg("S", "a", &[], "b", &[1.0], &[], "m").is_err());
    }

    #[test]
    fn numbers_that_round_to_zero_have_no_sign() {
        assert_eq!(number_text(-0.001, 2), "0.00");
        assert_eq!(number_text(-0.5, 1), "-0.5");
        assert_eq!(number_text(3.0, 0), "3");
        assert_eq!(parameter_text(20.0), "20");
        assert_eq!(parameter_text(0.25), "0.25");
    }

    #[test]
    fn viridis_runs_from_purple_to_yellow() {
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xFD, 0xE7, 0x25));
        assert_eq!(viridis(0.5), RGBColor(0x21, 0x91, 0x8C));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }
}
