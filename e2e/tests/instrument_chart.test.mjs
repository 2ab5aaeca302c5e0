// An instrument page draws its candle chart (the canvas is not blank) with one marker per fill of
// the instrument's positions (two for a closed position, one for an open one), and hovering a
// marker's day shows its tooltip.
import assert from "node:assert/strict";
import { browserTest, env, tradedInstrument } from "../helpers/harness.mjs";
import { Decimal, grouped } from "../helpers/decimal.mjs";

/** Distinct colours in the largest canvas of `#candle-chart` (Lightweight Charts draws into several). */
function distinctColours() {
  const canvases = [...document.querySelectorAll("#candle-chart canvas")];
  if (!canvases.length) return { canvases: 0, colours: 0 };
  const largest = canvases.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
  if (!largest.width || !largest.height) return { canvases: canvases.length, colours: 0 };
  const { data } = largest.getContext("2d").getImageData(0, 0, largest.width, largest.height);
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4) {
    seen.add((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]);
  }
  return { canvases: canvases.length, colours: seen.size, width: largest.width, height: largest.height };
}

/** The ways a tooltip may write `price`: as stored, or grouped to 2–8 places. */
function priceTexts(price) {
  const value = Decimal.parse(price);
  const texts = new Set([price]);
  for (let places = 2; places <= 8; places += 1) {
    texts.add(grouped(value, places));
    texts.add(grouped(value, places).replaceAll(",", ""));
  }
  return [...texts];
}

browserTest("an instrument page draws its candle chart with trade markers and tooltips", async ({ page }) => {
  const { symbol, positions } = await tradedInstrument();
  const open = positions.filter((p) => p.status === "open");
  const closed = positions.filter((p) => p.status === "closed");
  const expected = 2 * closed.length + open.length;

  await page.goto(`${env.url}/instruments/${encodeURIComponent(symbol)}`);
  const chart = page.locator("#candle-chart");
  await chart.waitFor({ state: "visible" });
  await page.waitForFunction(() => document.querySelector("#candle-chart")?.dataset.drawn === "true");

  const markers = Number(await chart.getAttribute("data-markers"));
  assert.ok(markers >= 1, `#candle-chart data-markers is ${await chart.getAttribute("data-markers")}`);
  assert.equal(
    markers,
    expected,
    `${symbol} has ${closed.length} closed and ${open.length} open position(s): ${expected} markers expected`,
  );

  // Lightweight Charts paints on animation frames: give it a moment before calling it blank.
  let pixels;
  for (let tries = 0; tries < 50; tries += 1) {
    pixels = await page.evaluate(distinctColours);
    if (pixels.colours > 20) break;
    await page.waitForTimeout(100);
  }
  assert.ok(pixels.canvases >= 1, "no <canvas> in #candle-chart");
  assert.ok(pixels.colours > 20, `the chart's canvas looks blank: ${JSON.stringify(pixels)}`);

  // Hover the day the (first) open position was entered, else a closed one's entry.
  const target = open[0] ?? closed[0];
  const day = target.entry_day;
  // Years of candles leave well under a pixel per day: zoom to the weeks around the marker so
  // the crosshair can land on its day (as a person would, with the mouse wheel).
  await chart.evaluate((element, time) => {
    const scale = element.chart.timeScale();
    const centre = scale.timeToIndex(time, true);
    scale.setVisibleLogicalRange({ from: centre - 20, to: centre + 20 });
  }, day);
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  const x = await chart.evaluate((element, time) => element.chart.timeScale().timeToCoordinate(time), day);
  assert.ok(Number.isFinite(x), `the chart has no x coordinate for ${day}`);
  const box = await chart.boundingBox();
  await page.mouse.move(box.x + 5, box.y + box.height / 2);
  await page.mouse.move(box.x + x, box.y + box.height / 2, { steps: 4 });
  const tooltip = page.locator("#candle-chart .chart-tooltip");
  await tooltip.waitFor({ state: "visible" });
  const text = await tooltip.innerText();
  const mentionsPrice = priceTexts(target.entry_price).some((p) => text.includes(p));
  assert.ok(/opened/i.test(text) || mentionsPrice, `the tooltip on ${day} says: ${JSON.stringify(text)}`);

  // Away from every marker day the tooltip hides again.
  const days = new Set(positions.flatMap((p) => [p.entry_day, p.exit?.day].filter(Boolean)));
  const first = await chart.evaluate((element) => element.chart.timeScale().getVisibleRange()?.from);
  if (first && !days.has(first)) {
    const x0 = await chart.evaluate((element, time) => element.chart.timeScale().timeToCoordinate(time), first);
    assert.ok(Number.isFinite(x0), `the chart has no x coordinate for its first day ${first}`);
    await page.mouse.move(box.x + x0 + 1, box.y + box.height / 2, { steps: 4 });
    await tooltip.waitFor({ state: "hidden" });
  }
});
