// Errors from the API are shown as readable messages, never as raw JSON: adding an instrument
// with an invalid quote currency from the instruments page says what is wrong and adds nothing.
import assert from "node:assert/strict";
import { api, browserTest, env } from "../helpers/harness.mjs";

browserTest("an API error on the instruments page is shown as a readable message", async ({ page }) => {
  const before = (await api("GET", "/api/instruments")).map((i) => i.symbol);
  // A bundled sample the seed did not register, so only the quote currency is wrong.
  const symbol = ["XRP", "ADA", "DOGE", "LTC", "BNB"].find((s) => !before.includes(s));
  assert.ok(symbol, "every sample instrument is registered already");

  await page.goto(`${env.url}/instruments`);
  await page.getByLabel(/symbol/i).first().fill(symbol);
  const source = page.getByLabel(/source/i).first();
  if ((await source.evaluate((e) => e.tagName)) === "SELECT") await source.selectOption("sample");
  else await source.fill("sample");
  await page.getByLabel(/quote/i).first().fill("us dollars");
  await page.locator("form").filter({ has: page.getByLabel(/quote/i) }).locator('button[type="submit"], input[type="submit"]').first().click();

  const message = page.getByText(/quote currency/i).first();
  await message.waitFor({ state: "visible" });
  assert.match(await message.innerText(), /us dollars|2–10 letters/i);
  const body = await page.locator("body").innerText();
  assert.ok(!body.includes('{"error"'), "the page shows raw JSON");
  assert.ok(!/"code"\s*:/.test(body), "the page shows raw JSON");
  const after = (await api("GET", "/api/instruments")).map((i) => i.symbol);
  assert.deepEqual(after, before, "an instrument was added despite the error");
});
