// Sign-in: nothing is shown without the API token; the session cookie is HttpOnly and
// SameSite=Strict; state-changing calls need the CSRF token; sign-out ends the session.
import assert from "node:assert/strict";
import { browserTest, env, signIn } from "../helpers/harness.mjs";

const sessionCookie = async (context) =>
  (await context.cookies(env.url)).find((c) => c.name === "barter_session");

const pathOf = (page) => new URL(page.url()).pathname;

browserTest("a page without a session redirects to the sign-in page", { signIn: false }, async ({ page }) => {
  for (const target of ["/", "/positions", "/simulator"]) {
    await page.goto(`${env.url}${target}`);
    assert.equal(pathOf(page), "/login", `${target} was shown without signing in`);
    assert.equal(new URL(page.url()).searchParams.get("next"), target);
    await page.locator("#token").waitFor({ state: "visible" });
  }
});

browserTest("a wrong token shows the error and sets no cookie", { signIn: false }, async ({ page, context }) => {
  await signIn(page, `${env.token}-wrong`);
  assert.equal(pathOf(page), "/login");
  const message = page.locator("#login-message");
  await message.waitFor({ state: "visible" });
  assert.match(await message.innerText(), /not this server's API token/i);
  assert.equal(await sessionCookie(context), undefined, "a session cookie was set for a wrong token");
  await page.goto(`${env.url}/`);
  assert.equal(pathOf(page), "/login", "the overview was shown after a wrong token");
});

browserTest(
  "the right token lands on the overview with an HttpOnly SameSite=Strict session cookie",
  { signIn: false },
  async ({ page, context }) => {
    await page.goto(`${env.url}/`);
    assert.equal(pathOf(page), "/login");
    await page.fill("#token", env.token);
    await Promise.all([page.waitForURL(`${env.url}/`), page.click('form button[type="submit"]')]);
    assert.equal(await page.locator("h1").innerText(), "Overview");
    const cookie = await sessionCookie(context);
    assert.ok(cookie, "no barter_session cookie after signing in");
    assert.equal(cookie.httpOnly, true, "the session cookie is readable by scripts");
    assert.equal(cookie.sameSite, "Strict");
    assert.equal(cookie.path, "/");
    assert.match(cookie.value, /^[0-9a-f]{64}$/);
    const visible = await page.evaluate(() => document.cookie);
    assert.doesNotMatch(visible, /barter_session/, "document.cookie shows the session id");
  },
);

browserTest("a state-changing call without the CSRF header is refused", async ({ page }) => {
  assert.equal(pathOf(page), "/");
  const statuses = await page.evaluate(async () => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const without = await fetch("/api/sync_data", { method: "POST" });
    const wrong = await fetch("/api/sync_data", { method: "POST", headers: { "x-csrf-token": "0".repeat(64) } });
    // The same session with its token is accepted: the refusals above were for the token alone.
    const withToken = await fetch("/api/strategies/check", {
      method: "POST",
      headers: { "x-csrf-token": csrf, "content-type": "application/json" },
      body: JSON.stringify({ rule: "close > 0", kind: "entry" }),
    });
    return { without: without.status, wrong: wrong.status, withToken: withToken.status };
  });
  assert.equal(statuses.without, 403, "POST /api/sync_data without x-csrf-token was not refused");
  assert.equal(statuses.wrong, 403, "POST /api/sync_data with a wrong x-csrf-token was not refused");
  assert.equal(statuses.withToken, 200, "a call with the session's CSRF token was refused");
});

browserTest("sign-out ends the session", async ({ page, context }) => {
  assert.equal(pathOf(page), "/");
  const before = await sessionCookie(context);
  assert.ok(before, "not signed in");
  await Promise.all([
    page.waitForURL(/\/login/),
    page.getByRole("button", { name: "Sign out", exact: true }).click(),
  ]);
  assert.equal(pathOf(page), "/login");
  assert.equal(await sessionCookie(context), undefined, "the session cookie is still there");
  await page.goto(`${env.url}/`);
  assert.equal(pathOf(page), "/login", "the overview was shown after signing out");
  // The old session id is dead on the server too, not only forgotten by this browser.
  await context.addCookies([{ ...before }]);
  await page.goto(`${env.url}/`);
  assert.equal(pathOf(page), "/login", "the signed-out session still opens pages");
});
