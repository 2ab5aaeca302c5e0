// The overview lists the seeded open positions with the right unrealized P&L: computed here
// from the API's position fields with exact decimals, the way barter_core's
// Position::unrealized_pnl defines it (market value at the mark − cost − entry fee), and
// formatted the way the dashboard writes money.
import assert from "node:assert/strict";
import { api, browserTest, env, positions } from "../helpers/harness.mjs";
import { Decimal, signedMoney } from "../helpers/decimal.mjs";

/** Unrealized P&L of an open position at its mark: quantity × mark − quantity × entry − entry fee. */
function unrealizedPnl(position) {
  const quantity = Decimal.parse(position.quantity);
  const value = quantity.mul(Decimal.parse(position.mark));
  const cost = quantity.mul(Decimal.parse(position.entry_price));
  return value.sub(cost).sub(Decimal.parse(position.entry_fee));
}

browserTest("the overview lists the open positions with their unrealized P&L", async ({ page }) => {
  const open = await positions("open");
  const closed = await positions("closed");
  assert.ok(open.length >= 1, "the seeded database has no open position");
  assert.ok(closed.length >= 1, "the seeded database has no closed position");
  const quotes = new Map((await api("GET", "/api/instruments")).map((i) => [i.symbol, i.quote_currency]));

  await page.goto(`${env.url}/`);
  const rows = page.locator("#open-positions tbody tr[data-position-id]");
  assert.equal(await rows.count(), open.length, "rows in #open-positions vs open positions in the API");
  for (const position of open) {
    assert.ok(position.mark, `position ${position.id} has no mark to value it at`);
    assert.ok(quotes.get(position.symbol), `no quote currency for ${position.symbol}`);
    const expected = signedMoney(unrealizedPnl(position), quotes.get(position.symbol));
    const row = page.locator(`#open-positions tr[data-position-id="${position.id}"]`);
    assert.equal(await row.count(), 1, `no row for open position ${position.id}`);
    const cell = row.locator("td.pnl");
    assert.equal((await cell.innerText()).trim(), expected, `P&L of position ${position.id} (${position.symbol})`);
    const sign = expected.startsWith("+") ? "gain" : expected.startsWith("-") ? "loss" : "flat";
    assert.ok(await cell.evaluate((td, cls) => td.classList.contains(cls), sign), `P&L cell of ${position.id} is not .${sign}`);
    assert.equal((await row.locator("td").first().innerText()).trim(), position.symbol);
  }
  for (const position of closed) {
    assert.equal(
      await page.locator(`#open-positions tr[data-position-id="${position.id}"]`).count(),
      0,
      `closed position ${position.id} is listed as open`,
    );
  }
});
