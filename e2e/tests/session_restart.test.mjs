// Sessions live in the database: a signed-in browser stays signed in when `barter serve` is
// stopped and started again on the same database (and port), its CSRF token still works, and
// "Sign out everywhere" then signs out every browser, also one signed in at another server on
// the same database.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { browser, browserTest, env } from "../helpers/harness.mjs";

const pathOf = (page) => new URL(page.url()).pathname;

/**
 * Starts `barter serve` on `bind` over the seeded directory's database; resolves to
 * `{ url, stop }` once it announces its address. `stop()` sends SIGTERM and waits for the exit.
 */
async function serve(bind) {
  const child = spawn(env.bin, ["serve", "--bind", bind], {
    cwd: env.dir,
    env: {
      ...process.env,
      BARTER_CONFIG: path.join(env.dir, "barter.toml"),
      BARTER_API_TOKEN: env.token,
      BARTER_LOG: "warn",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const lines = createInterface({ input: child.stdout });
  const announced = new Promise((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`barter serve --bind ${bind} exited (${code}) before listening`)));
  });
  announced.catch(() => {}); // a failure is reported through the race below
  // Keep reading so the server never blocks on a full pipe.
  lines.on("line", () => {});
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`barter serve --bind ${bind} did not announce its address in 60 s`)), 60_000).unref(),
  );
  try {
    const line = await Promise.race([announced, timeout]);
    const match = /^barter serve listening on (http:\/\/\S+)$/.exec(line.trim());
    assert.ok(match, `unexpected first line from barter serve: ${line}`);
    return { url: match[1], stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Signs `page` in at the server `url` through the sign-in form and opens `target`. */
async function signInAt(page, url, target) {
  await page.goto(`${url}/login?next=${encodeURIComponent(target)}`);
  await page.fill("#token", env.token);
  await Promise.all([page.waitForURL(`${url}${target}`), page.click('form button[type="submit"]')]);
}

/** Whether the page's CSRF token is accepted by a state-changing API call of its session. */
async function csrfAccepted(page) {
  return page.evaluate(async () => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch("/api/strategies/check", {
      method: "POST",
      headers: { "x-csrf-token": csrf, "content-type": "application/json" },
      body: JSON.stringify({ rule: "close > 0", kind: "entry" }),
    });
    return response.status;
  });
}

browserTest(
  "a signed-in browser stays signed in across a server restart until it signs out everywhere",
  { signIn: false, timeout: 150_000 },
  async ({ page }) => {
    let server = await serve("127.0.0.1:0");
    const other = await (await browser()).newContext();
    try {
      const url = server.url;
      const bind = url.replace(/^http:\/\//, "");
      await signInAt(page, url, "/positions");
      assert.equal(await page.locator("h1").innerText(), "Positions");
      const cookie = (await page.context().cookies(url)).find((c) => c.name === "barter_session");
      assert.ok(cookie, "no session cookie after signing in");

      // Stop the server and start a new process on the same database and port.
      await server.stop();
      server = await serve(bind);
      assert.equal(server.url, url, "the new server listens where the old one did");

      await page.reload();
      assert.equal(pathOf(page), "/positions", "the restart signed the browser out");
      assert.equal(await page.locator("h1").innerText(), "Positions");
      assert.equal(await csrfAccepted(page), 200, "the CSRF token no longer works after the restart");
      const after = (await page.context().cookies(url)).find((c) => c.name === "barter_session");
      assert.equal(after?.value, cookie.value, "the browser was given a new session");

      // Another browser signed in at the harness's server, on the same database.
      const otherPage = await other.newPage();
      await signInAt(otherPage, env.url, "/");
      assert.equal(await otherPage.locator("h1").innerText(), "Overview");

      // Sign out everywhere from the restarted server's page.
      await Promise.all([
        page.waitForURL(/\/login/),
        page.getByRole("button", { name: "Sign out everywhere" }).click(),
      ]);
      assert.equal(pathOf(page), "/login");
      assert.match(await page.locator("#login-message").innerText(), /every other browser/i);
      await page.goto(`${url}/positions`);
      assert.equal(pathOf(page), "/login", "this browser is still signed in");
      // The old cookie is dead on the server, not only deleted in this browser.
      await page.context().addCookies([{ ...cookie }]);
      await page.goto(`${url}/positions`);
      assert.equal(pathOf(page), "/login", "the ended session still opens pages");

      await otherPage.reload();
      assert.equal(pathOf(otherPage), "/login", "the browser on the other server is still signed in");
    } finally {
      await other.close();
      await server.stop();
    }
  },
);
