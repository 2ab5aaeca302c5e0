// The simulator: a run from the form shows the same statistics as `barter backtest --json` with
// the same inputs, and an invalid rule shows its error with the caret under the exact column
// the API's rule check reports.
import assert from "node:assert/strict";
import { api, browserTest, cli, env, tradedInstrument } from "../helpers/harness.mjs";

const ENTRY = "close > sma(close, 20)";
const EXIT = "close < sma(close, 20)";
const FROM = "2025-01-01";
const TO = "2025-12-31";
const CASH = "10000";
const FEE_BPS = "10";

const TRAILING_STOP = "5"; // the form's percentage fields take a number of percent

/** The form's other inputs and the CLI flag each maps to (sent only when filled in), and whether
 * the form's number is a percentage the CLI writes with "%". */
const OPTIONAL = [
  ["#slippage-bps", "--slippage-bps", false],
  ["#fill", "--fill", false],
  ["#size", "--size", false],
  ["#stop-loss", "--stop-loss", true],
  ["#take-profit", "--take-profit", true],
  ["#trailing-stop", "--trailing-stop", true],
  ["#max-holding-days", "--max-holding-days", false],
];

/** The form's checkboxes and the CLI flag each maps to (sent when checked). */
const SWITCHES = [
  ["#whole-units", "--whole-units"],
  ["#close-at-end", "--close-at-end"],
];

const isNullish = (v) => v === null || v === undefined || ["", "null", "nan", "n/a"].includes(String(v).trim().toLowerCase());

/** A `data-value`: the statistic as JSON text (`12.5`, `"2025-01-01"`, `null`), else plain text. */
function parseShown(text) {
  if (text === null || text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Whether the page's `data-value` equals the CLI's statistic (numbers to 1e-9 relative). */
function sameStatistic(shownText, cliValue) {
  const pageValue = parseShown(shownText);
  if (isNullish(cliValue) || (typeof cliValue === "number" && Number.isNaN(cliValue))) return isNullish(pageValue);
  if (typeof cliValue === "number") {
    const value = Number(pageValue);
    if (!Number.isFinite(value) && !Number.isFinite(cliValue)) return String(value) === String(cliValue);
    const scale = Math.max(Math.abs(value), Math.abs(cliValue));
    return Math.abs(value - cliValue) <= 1e-9 * scale;
  }
  return String(pageValue) === String(cliValue);
}

browserTest("a simulator run from the form shows the CLI's statistics", { timeout: 120_000 }, async ({ page }) => {
  const { symbol } = await tradedInstrument();
  await page.goto(`${env.url}/simulator`);
  await page.fill("#entry", ENTRY);
  await page.fill("#exit", EXIT);
  const symbols = new Set((await api("GET", "/api/instruments")).map((i) => i.symbol));
  const boxes = page.locator('input[type="checkbox"]');
  let picked = 0;
  for (let i = 0; i < (await boxes.count()); i += 1) {
    const box = boxes.nth(i);
    const value = await box.getAttribute("value");
    const label = await box.evaluate((input) => input.labels?.[0]?.textContent?.trim().split(/\s/)[0] ?? "");
    const shows = symbols.has(value) ? value : symbols.has(label) ? label : null;
    if (shows === null) continue;
    if (shows === symbol) {
      picked += 1;
      await box.check();
    } else {
      await box.uncheck();
    }
  }
  assert.equal(picked, 1, `no single instrument checkbox for ${symbol}`);
  await page.fill("#from", FROM);
  await page.fill("#to", TO);
  await page.fill("#cash", CASH);
  await page.fill("#fee-bps", FEE_BPS);

  const args = ["backtest", "--json", "--entry", ENTRY, "--exit", EXIT, "--instrument", symbol];
  args.push("--from", FROM, "--to", TO, "--cash", CASH, "--fee-bps", FEE_BPS);
  await page.fill("#trailing-stop", TRAILING_STOP);
  for (const [selector, flag, percent] of OPTIONAL) {
    const field = page.locator(selector);
    if ((await field.count()) !== 1) continue;
    const value = (await field.inputValue()).trim();
    if (value !== "") args.push(flag, percent && !value.endsWith("%") ? `${value}%` : value);
  }
  for (const [selector, flag] of SWITCHES) {
    const box = page.locator(selector);
    if ((await box.count()) === 1 && (await box.isChecked())) args.push(flag);
  }
  assert.ok(args.includes(`${TRAILING_STOP}%`), "the form has no #trailing-stop field");

  await page.click("#run");
  const rows = page.locator("#statistics tr[data-stat]");
  await rows.first().waitFor({ state: "visible", timeout: 60_000 });

  const expected = JSON.parse(await cli(...args)).stats;
  const keys = Object.keys(expected);
  assert.ok(keys.length > 10, `the CLI printed too few statistics: ${keys.join(", ")}`);
  const shown = Object.fromEntries(
    await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.stat, tr.dataset.value ?? null])),
  );
  const wrong = [];
  for (const key of keys) {
    if (!(key in shown)) wrong.push(`${key}: not shown (CLI ${expected[key]})`);
    else if (!sameStatistic(shown[key], expected[key])) wrong.push(`${key}: page ${shown[key]}, CLI ${expected[key]}`);
  }
  assert.deepEqual(wrong, [], `statistics differ from \`barter ${args.join(" ")}\``);
  assert.ok(expected.trades > 0, "the compared run made no trades; pick a period with trades");
});

/** The 1-based column of the caret in `text` relative to the line that shows `rule`. */
function caretColumn(text, rule) {
  const lines = text.split("\n");
  const ruleLine = lines.findIndex((line) => line.includes(rule));
  if (ruleLine < 0) return { error: `the rule is not shown in: ${JSON.stringify(text)}` };
  const caretLine = lines.slice(ruleLine + 1).find((line) => line.includes("^"));
  if (caretLine === undefined) return { error: `no caret line under the rule in: ${JSON.stringify(text)}` };
  return { column: caretLine.indexOf("^") - lines[ruleLine].indexOf(rule) + 1 };
}

for (const rule of ["close > sma(close, )", "close > smaa(close, 3)"]) {
  browserTest(`an invalid entry rule shows its error at the column the API reports: ${rule}`, async ({ page }) => {
    const check = await api("POST", "/api/strategies/check", { rule, kind: "entry" });
    assert.equal(check.ok, false, `the API accepts ${rule}`);
    const problem = check.problems[0];

    await page.goto(`${env.url}/simulator`);
    const entry = page.locator("#entry");
    await entry.fill("");
    await entry.pressSequentially(rule, { delay: 10 });
    const error = page.locator("#entry-error");
    await error.waitFor({ state: "visible" });
    await page.waitForFunction(
      (expected) => document.querySelector("#entry-error")?.textContent.includes(expected),
      rule,
    );
    const text = await error.innerText();
    const { column, error: why } = caretColumn(text, rule);
    assert.equal(why, undefined, why);
    assert.equal(column, problem.column, `caret column in #entry-error:\n${text}`);
    const headline = problem.message.split("\n")[0].replace(/^error:\s*/, "");
    assert.ok(text.includes(headline), `#entry-error does not say "${headline}":\n${text}`);

    // Fixing the rule clears the error.
    await entry.fill(ENTRY);
    await error.waitFor({ state: "hidden" });
  });
}
