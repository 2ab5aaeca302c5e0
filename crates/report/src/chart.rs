//! The backtest chart: price with trade markers, equity and drawdown, sharing one time axis.

use std::ops::Range;
use std::sync::OnceLock;

use barter_core::{Day, Symbol, decimal_to_f64};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{PriceSeries, ReportInput};

/// DejaVu Sans (licence in `crates/report/assets/DejaVuSans-LICENSE.txt`): plotters' `ab_glyph`
/// feature measures text with a registered font instead of asking the system.
static FONT_TTF: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The family charts ask for; the embedded font is registered under it, and browsers showing
/// the SVG use their own sans-serif font.
pub(super) const FONT: &str = "sans-serif";

/// The chart's size in pixels (the SVG scales: it has a `viewBox`).
const WIDTH: u32 = 1200;
/// The chart's height in pixels.
const HEIGHT: u32 = 860;
/// The width of the y-axis label area, the same in every panel so the panels line up.
const Y_LABEL_AREA: u32 = 90;
/// At most this many points per line; longer lines keep each bucket's minimum and maximum.
const MAX_POINTS: usize = 2_000;

/// Entry markers (▲).
pub(super) const ENTRY_COLOR: RGBColor = RGBColor(0x2C, 0xA0, 0x2C);
/// Exit markers (▼).
pub(super) const EXIT_COLOR: RGBColor = RGBColor(0xD6, 0x27, 0x28);
/// The equity line.
const EQUITY_COLOR: RGBColor = RGBColor(0x1F, 0x77, 0xB4);
/// The drawdown area.
const DRAWDOWN_COLOR: RGBColor = RGBColor(0xC0, 0x39, 0x2B);
/// Instrument lines, cycled; no green or red so the markers stand out.
const LINE_COLORS: [RGBColor; 8] = [
    RGBColor(0x1F, 0x77, 0xB4),
    RGBColor(0xFF, 0x7F, 0x0E),
    RGBColor(0x94, 0x67, 0xBD),
    RGBColor(0x8C, 0x56, 0x4B),
    RGBColor(0xE3, 0x77, 0xC2),
    RGBColor(0x7F, 0x7F, 0x7F),
    RGBColor(0xBC, 0xBD, 0x22),
    RGBColor(0x17, 0xBE, 0xCF),
];

/// A chart panel with days on x and values on y.
type DayChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedDate<Day>, RangedCoordf64>>;

/// Registers the embedded font with plotters once per process.
///
/// # Errors
/// When the embedded font cannot be parsed (a broken build).
pub(super) fn ensure_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FONT, FontStyle::Normal, FONT_TTF).is_ok());
    anyhow::ensure!(registered, "the embedded chart font could not be loaded");
    Ok(())
}

/// The backtest chart as SVG: three panels sharing the time axis (dates under the last).
///
/// 1. Price: one line per instrument in `input.prices` (when there are several: normalised to
///    100 at its first close, on a log scale so one high-flier does not flatten the rest), a green ▲ at the fill day and price of every entry (open trades'
///    included) and a red ▼ at every exit. A trade is marked on its instrument's line; when no
///    prices are given, markers are drawn at their raw fill prices.
/// 2. Equity.
/// 3. Drawdown in percent, as an area below zero.
///
/// Lines longer than about 2,000 points are downsampled keeping each bucket's extremes.
///
/// # Errors
/// When the embedded font cannot be loaded or plotters fails to lay out the chart.
pub fn chart_svg(input: &ReportInput<'_>) -> anyhow::Result<String> {
    ensure_font()?;
    let result = input.result;
    let normalised = input.prices.len() > 1;
    let lines: Vec<Line<'_>> = input
        .prices
        .iter()
        .map(|s| Line::new(s, normalised))
        .collect();
    let markers = Markers::new(input, &lines);
    let equity: Vec<(Day, f64)> = finite(result.equity.iter().map(|p| (p.day, p.equity)));
    let drawdown: Vec<(Day, f64)> =
        finite(result.equity.iter().map(|p| (p.day, p.drawdown * 100.0)));

    let all_days = equity
        .iter()
        .chain(lines.iter().flat_map(|l| l.points.iter()))
        .chain(markers.entries.iter().chain(&markers.exits))
        .map(|&(day, _)| day);
    let days = day_range(all_days);
    let price_values = lines
        .iter()
        .flat_map(|l| l.points.iter())
        .chain(markers.entries.iter().chain(&markers.exits))
        .map(|&(_, value)| value);
    let price_range = value_range(price_values);
    let equity_range = value_range(equity.iter().map(|&(_, value)| value));
    let deepest = drawdown.iter().map(|&(_, v)| v).fold(0.0_f64, f64::min);
    let drawdown_range = if deepest < 0.0 {
        deepest * 1.08..-deepest * 0.04
    } else {
        -1.0..0.05
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(&input.title, (FONT, 24))?;
        let height = i32::try_from(root.dim_in_pixel().1)?;
        let (price_area, rest) = root.split_vertically(height * 46 / 100);
        let (equity_area, drawdown_area) = rest.split_vertically(height * 25 / 100);

        let price_desc = if normalised {
            "Price (first close = 100, log scale)"
        } else {
            "Price"
        };
        let mut chart = panel(
            &price_area,
            &days,
            price_range,
            price_desc,
            false,
            normalised,
        )?;
        draw_prices(&mut chart, &lines, &markers)?;

        let mut chart = panel(&equity_area, &days, equity_range, "Equity", false, false)?;
        chart.draw_series(LineSeries::new(
            downsample(&equity, MAX_POINTS),
            EQUITY_COLOR.stroke_width(2),
        ))?;

        let mut chart = panel(
            &drawdown_area,
            &days,
            drawdown_range,
            "Drawdown %",
            true,
            false,
        )?;
        chart.draw_series(
            AreaSeries::new(
                downsample(&drawdown, MAX_POINTS),
                0.0,
                DRAWDOWN_COLOR.mix(0.3),
            )
            .border_style(DRAWDOWN_COLOR.stroke_width(1)),
        )?;
        root.present()?;
    }
    Ok(svg)
}

/// One instrument's line on the price panel.
struct Line<'a> {
    symbol: &'a Symbol,
    /// Multiplies a raw price into the panel's scale (`100 / first close` when normalised).
    scale: Option<f64>,
    /// Whether the panel plots log10 of the scaled price (normalised lines).
    log: bool,
    points: Vec<(Day, f64)>,
}

impl<'a> Line<'a> {
    fn new(series: &'a PriceSeries, normalised: bool) -> Self {
        let raw = finite(
            series
                .days
                .iter()
                .copied()
                .zip(series.close.iter().copied()),
        );
        let scale = if normalised {
            raw.iter()
                .map(|&(_, close)| close)
                .find(|&close| close > 0.0)
                .map(|first| 100.0 / first)
        } else {
            Some(1.0)
        };
        let mut line = Self {
            symbol: &series.symbol,
            scale,
            log: normalised,
            points: Vec::new(),
        };
        line.points = finite(
            raw.iter()
                .filter_map(|&(day, close)| Some((day, line.place(close)?))),
        );
        line
    }

    /// Where a raw price of this instrument sits on the panel's y axis.
    fn place(&self, price: f64) -> Option<f64> {
        let scaled = price * self.scale?;
        Some(if self.log { scaled.log10() } else { scaled })
    }
}

/// The trade markers, in the price panel's scale.
struct Markers {
    entries: Vec<(Day, f64)>,
    exits: Vec<(Day, f64)>,
}

impl Markers {
    fn new(input: &ReportInput<'_>, lines: &[Line<'_>]) -> Self {
        // A trade goes on its instrument's line; with no lines at all, at its raw price.
        let place = |symbol: &Symbol, price: rust_decimal::Decimal| {
            let price = decimal_to_f64(price);
            if lines.is_empty() {
                Some(price)
            } else {
                lines.iter().find(|l| l.symbol == symbol)?.place(price)
            }
        };
        let mut entries = Vec::new();
        let mut exits = Vec::new();
        for trade in &input.result.trades {
            if let (Some(entry), Some(exit)) = (
                place(&trade.symbol, trade.entry_price.value()),
                place(&trade.symbol, trade.exit_price.value()),
            ) {
                entries.push((trade.entry_day, entry));
                exits.push((trade.exit_day, exit));
            }
        }
        for open in &input.result.open_trades {
            if let Some(entry) = place(&open.symbol, open.entry_price.value()) {
                entries.push((open.entry_day, entry));
            }
        }
        Self {
            entries: finite(entries),
            exits: finite(exits),
        }
    }
}

/// Builds one panel: its axes, grid, y description, and dates only when `dates` is set.
fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    days: &Range<Day>,
    values: Range<f64>,
    y_desc: &str,
    dates: bool,
    log: bool,
) -> anyhow::Result<DayChart<'a, 'b>> {
    let decimals = label_decimals((values.end - values.start) / 6.0);
    // On a log panel the axis holds log10 values; its labels show the prices they stand for.
    let label = |value: &f64| {
        if log {
            let price = 10f64.powf(*value);
            format!("{price:.0$}", label_decimals(price / 10.0))
        } else {
            format!("{value:.decimals$}")
        }
    };
    let mut chart = ChartBuilder::on(area)
        .margin_left(10)
        .margin_right(44)
        .margin_top(10)
        .margin_bottom(if dates { 4 } else { 6 })
        .x_label_area_size(if dates { 44 } else { 0 })
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(days.clone(), values)?;
    chart
        .configure_mesh()
        .x_labels(10)
        .y_labels(6)
        .x_label_formatter(&|day| day.format("%Y-%m-%d").to_string())
        .y_label_formatter(&label)
        .y_desc(y_desc)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .bold_line_style(BLACK.mix(0.1))
        .light_line_style(TRANSPARENT)
        .draw()?;
    Ok(chart)
}

/// The price panel's lines, markers and legend.
fn draw_prices<'a, 'b: 'a>(
    chart: &mut DayChart<'a, 'b>,
    lines: &[Line<'_>],
    markers: &Markers,
) -> anyhow::Result<()> {
    for (line, color) in lines.iter().zip(LINE_COLORS.iter().cycle()) {
        let style = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(downsample(&line.points, MAX_POINTS), style))?
            .label(line.symbol.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    if !markers.entries.is_empty() {
        chart
            .draw_series(markers.entries.iter().map(|&point| {
                EmptyElement::at(point) + Polygon::new(up_triangle(0, 0), ENTRY_COLOR.filled())
            }))?
            .label("entry")
            .legend(|(x, y)| Polygon::new(up_triangle(x + 9, y), ENTRY_COLOR.filled()));
    }
    if !markers.exits.is_empty() {
        chart
            .draw_series(markers.exits.iter().map(|&point| {
                EmptyElement::at(point) + Polygon::new(down_triangle(0, 0), EXIT_COLOR.filled())
            }))?
            .label("exit")
            .legend(|(x, y)| Polygon::new(down_triangle(x + 9, y), EXIT_COLOR.filled()));
    }
    if lines.is_empty() && markers.entries.is_empty() && markers.exits.is_empty() {
        let area = chart.plotting_area();
        let (width, height) = area.dim_in_pixel();
        let style = (FONT, 16)
            .into_font()
            .color(&BLACK.mix(0.5))
            .pos(Pos::new(HPos::Center, VPos::Center));
        let center = (i32::try_from(width / 2)?, i32::try_from(height / 2)?);
        area.strip_coord_spec()
            .draw_text("no price data", &style, center)?;
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        .draw()?;
    Ok(())
}

/// A ▲ of about 12 pixels centred on `(x, y)`.
fn up_triangle(x: i32, y: i32) -> Vec<(i32, i32)> {
    vec![(x, y - 6), (x - 6, y + 5), (x + 6, y + 5)]
}

/// A ▼ of about 12 pixels centred on `(x, y)`.
fn down_triangle(x: i32, y: i32) -> Vec<(i32, i32)> {
    vec![(x, y + 6), (x - 6, y - 5), (x + 6, y - 5)]
}

/// The points whose value is finite (a NaN would break the value range and the SVG).
fn finite(points: impl IntoIterator<Item = (Day, f64)>) -> Vec<(Day, f64)> {
    points.into_iter().filter(|(_, v)| v.is_finite()).collect()
}

/// The days from the first to the last, widened by a day on each side when they are the same
/// day (plotters needs a non-empty range).
fn day_range(days: impl Iterator<Item = Day>) -> Range<Day> {
    let (first, last) = days.fold((Day::MAX, Day::MIN), |(lo, hi), day| {
        (lo.min(day), hi.max(day))
    });
    if first > last {
        // Nothing to draw: any one-day-wide range will do.
        return Day::default()..Day::default() + chrono::Days::new(1);
    }
    if first == last {
        return first - chrono::Days::new(1)..last + chrono::Days::new(1);
    }
    first..last
}

/// The range of the finite values with 5 % headroom; a flat series gets ±1 % of its value (±1
/// around zero), no values at all 0..1.
pub(super) fn value_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return 0.0..1.0;
    }
    let span = hi - lo;
    if span <= hi.abs().max(lo.abs()) * 1e-9 {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.01 };
        return lo - pad..hi + pad;
    }
    lo - span * 0.05..hi + span * 0.05
}

/// How many decimals axis labels need when ticks are about `step` apart.
pub(super) fn label_decimals(step: f64) -> usize {
    if !step.is_finite() || step <= 0.0 || step >= 1.0 {
        return 0;
    }
    // A step of 0.05 needs 2 decimals, 0.5 needs 1.
    let decimals = (-step.log10()).ceil();
    if decimals >= 8.0 {
        8
    } else {
        decimals as usize
    }
}

/// At most about `max_points` points of a line: when longer, its index range is cut into
/// `max_points / 2` buckets and each keeps its lowest and highest point in their order, so
/// spikes and drawdowns stay visible; the first and last points are always kept.
fn downsample(points: &[(Day, f64)], max_points: usize) -> Vec<(Day, f64)> {
    let buckets = (max_points / 2).max(1);
    if points.len() <= max_points.max(2) {
        return points.to_vec();
    }
    let n = points.len();
    let mut out = Vec::with_capacity(2 * buckets + 2);
    out.push(points[0]);
    let mut last_kept = 0;
    for bucket in 0..buckets {
        let start = bucket * n / buckets;
        let end = (bucket + 1) * n / buckets;
        let (mut low, mut high) = (start, start);
        for i in start..end {
            if points[i].1 < points[low].1 {
                low = i;
            }
            if points[i].1 > points[high].1 {
                high = i;
            }
        }
        let (first, second) = if low <= high {
            (low, high)
        } else {
            (high, low)
        };
        for i in [first, second] {
            if i > last_kept {
                out.push(points[i]);
                last_kept = i;
            }
        }
    }
    if last_kept != n - 1 {
        out.push(points[n - 1]);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use barter_core::simulator::EquityPoint;

    use super::super::fixtures::{jan, sample_prices, sample_result, symbol};
    use super::*;

    fn input<'a>(
        result: &'a barter_core::simulator::BacktestResult,
        prices: &'a [PriceSeries],
    ) -> ReportInput<'a> {
        ReportInput {
            title: "SMA <cross> & more".to_owned(),
            settings: Vec::new(),
            result,
            prices,
            tables: Vec::new(),
        }
    }

    /// `<polygon` elements filled with `color` (markers and their one legend entry).
    fn polygons(svg: &str, color: RGBColor) -> usize {
        let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
        svg.lines()
            .filter(|l| l.starts_with("<polygon") && l.contains(&fill))
            .count()
    }

    #[test]
    fn chart_has_a_line_per_instrument_and_a_marker_per_fill() {
        let result = sample_result();
        let prices = sample_prices();

        let svg = chart_svg(&input(&result, &prices)).expect("chart");

        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        // Two instruments + their legend samples, equity, drawdown border.
        assert!(svg.matches("<polyline").count() >= 2 * 2 + 2);
        // One closed and one open trade: two entries, one exit, plus one legend sample each.
        assert_eq!(polygons(&svg, ENTRY_COLOR), 2 + 1);
        assert_eq!(polygons(&svg, EXIT_COLOR), 1 + 1);
        assert!(svg.contains("SMA &lt;cross&gt; &amp; more"));
        assert!(svg.contains("Price (first close = 100, log scale)"));
        assert!(svg.contains("Drawdown %"));
        assert!(svg.contains("2024-01-0"), "dates on the time axis");
    }

    #[test]
    fn chart_without_trades_has_no_markers() {
        let mut result = sample_result();
        result.trades.clear();
        result.open_trades.clear();
        let prices = sample_prices();

        let svg = chart_svg(&input(&result, &prices)).expect("chart");

        assert!(svg.starts_with("<svg"));
        assert_eq!(polygons(&svg, ENTRY_COLOR), 0);
        assert_eq!(polygons(&svg, EXIT_COLOR), 0);
    }

    #[test]
    fn chart_of_a_single_flat_day_renders() {
        let mut result = sample_result();
        result.trades.clear();
        result.open_trades.clear();
        result.equity.truncate(1);
        let prices = vec![PriceSeries {
            symbol: symbol("BTC"),
            days: vec![jan(1)],
            close: vec![100.0],
        }];

        let svg = chart_svg(&input(&result, &prices)).expect("chart");

        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("Price"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn chart_without_prices_draws_markers_at_fill_prices() {
        let result = sample_result();

        let svg = chart_svg(&input(&result, &[])).expect("chart");

        assert_eq!(polygons(&svg, ENTRY_COLOR), 2 + 1);
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn chart_of_flat_equity_and_no_data_renders() {
        let mut result = sample_result();
        for point in &mut result.equity {
            point.equity = 10_000.0;
            point.drawdown = 0.0;
        }
        result.trades.clear();
        result.open_trades.clear();

        let svg = chart_svg(&input(&result, &[])).expect("chart");

        assert!(svg.contains("no price data"));
        assert!(!svg.contains("NaN"));
        result.equity.clear();
        assert!(chart_svg(&input(&result, &[])).is_ok());
    }

    #[test]
    fn downsampling_keeps_extremes_and_ends() {
        let points: Vec<(Day, f64)> = (0..10_000_u64)
            .map(|i| {
                let value = if i == 4_321 { -50.0 } else { (i % 7) as f64 };
                (jan(1) + chrono::Days::new(i), value)
            })
            .collect();

        let kept = downsample(&points, 2_000);

        assert!(kept.len() <= 2_002, "{} points", kept.len());
        assert_eq!(kept.first(), points.first());
        assert_eq!(kept.last(), points.last());
        assert!(kept.contains(&points[4_321]));
        assert!(
            kept.windows(2).all(|w| w[0].0 < w[1].0),
            "days stay in order"
        );
        assert_eq!(downsample(&points[..10], 2_000), points[..10].to_vec());
    }

    #[test]
    fn value_range_pads_flat_and_empty_series() {
        assert_eq!(value_range([5.0, 5.0].into_iter()), 4.95..5.05);
        assert_eq!(value_range([0.0].into_iter()), -1.0..1.0);
        assert_eq!(value_range(std::iter::empty()), 0.0..1.0);
        assert_eq!(value_range([0.0, 10.0, f64::NAN].into_iter()), -0.5..10.5);
    }

    #[test]
    fn a_ten_year_chart_renders_quickly() {
        let mut result = sample_result();
        let start = jan(1);
        let mut peak = f64::MIN;
        result.equity = (0..3_650_u64)
            .map(|i| {
                let equity = 10_000.0 + 1_000.0 * ((i as f64) / 50.0).sin() + i as f64;
                peak = peak.max(equity);
                EquityPoint {
                    day: start + chrono::Days::new(i),
                    equity,
                    cash: 5_000.0,
                    drawdown: equity / peak - 1.0,
                }
            })
            .collect();
        let prices: Vec<PriceSeries> = ["BTC", "ETH", "SOL"]
            .iter()
            .map(|s| PriceSeries {
                symbol: symbol(s),
                days: result.equity.iter().map(|p| p.day).collect(),
                close: result.equity.iter().map(|p| p.equity / 100.0).collect(),
            })
            .collect();

        let started = Instant::now();
        let svg = chart_svg(&input(&result, &prices)).expect("chart");
        let elapsed = started.elapsed();

        assert!(svg.starts_with("<svg"));
        // Generous: debug builds are slower; release renders this in a few milliseconds.
        assert!(elapsed.as_millis() < 2_000, "took {elapsed:?}");
        eprintln!("3,650-day chart with 3 instruments: {elapsed:?}");
    }
}
