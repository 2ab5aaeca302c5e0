// Phone width and keyboard: at 390×844 no page scrolls sideways, the navigation and the page's
// heading are visible, and the first Tab from the top reaches "Skip to content".
import assert from "node:assert/strict";
import { browserTest, env, tradedInstrument } from "../helpers/harness.mjs";

const PHONE = { width: 390, height: 844 };

const PAGES = ["/", "/instruments", "/instruments/{traded}", "/positions", "/history", "/orders", "/notifications", "/strategies", "/simulator"];

/** Up to three elements (outside the scrolling table wrappers) that reach past `limit` px. */
function widest(limit) {
  return [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > limit + 1 && !e.closest(".table-wrap"))
    .slice(0, 3)
    .map((e) => {
      const classes = typeof e.className === "string" && e.className ? `.${e.className.trim().split(/\s+/).join(".")}` : "";
      return `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ""}${classes}`;
    });
}

for (const template of PAGES) {
  browserTest(`${template} holds its layout at 390 px and starts with the skip link`, { viewport: PHONE }, async ({ page }) => {
    const path = template.includes("{traded}")
      ? template.replace("{traded}", encodeURIComponent((await tradedInstrument()).symbol))
      : template;
    const response = await page.goto(`${env.url}${path}`);
    assert.ok(response.ok(), `${path} answered ${response.status()}`);
    // Charts size themselves after load: measure once they are drawn.
    await page.waitForFunction(() =>
      [...document.querySelectorAll("[data-chart]")].every(
        (c) => c.dataset.drawn === "true" || c.classList.contains("chart-empty"),
      ),
    );
    const problems = [];
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > PHONE.width) {
      const culprits = await page.evaluate(widest, PHONE.width);
      problems.push(`the page is ${width} px wide, more than ${PHONE.width}: ${culprits.join(", ")}`);
    }
    const links = page.locator('nav[aria-label="Main"] a');
    const count = await links.count();
    if (count < 6) problems.push(`${count} navigation links, not 6`);
    for (let i = 0; i < count; i += 1) {
      if (!(await links.nth(i).isVisible())) problems.push(`nav link "${await links.nth(i).innerText()}" is hidden`);
    }
    if (!(await page.locator("h1").first().isVisible())) problems.push("the h1 is not visible");

    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press("Tab");
    const first = await page.evaluate(() => {
      const r = document.activeElement?.getBoundingClientRect();
      return {
        text: document.activeElement?.textContent?.trim(),
        href: document.activeElement?.getAttribute("href"),
        shown: Boolean(r && r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0),
      };
    });
    if (first.text !== "Skip to content" || first.href !== "#main") {
      problems.push(`the first Tab reaches ${JSON.stringify(first)}, not the skip link`);
    } else if (!first.shown) {
      problems.push("the focused skip link is not visible");
    }
    assert.deepEqual(problems, [], `${path} at ${PHONE.width} px`);
  });
}
