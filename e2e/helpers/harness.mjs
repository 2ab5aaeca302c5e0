// What every end-to-end test shares: the server under test (from the environment the cargo
// runner sets), one headless Chromium per test file, a fresh signed-in browser context per test,
// a screenshot of the page when a test fails, and calls to the JSON API and the CLI.
//
// Environment (set by crates/cli/tests/dashboard_e2e.rs):
//   BARTER_URL    the running `barter serve`, e.g. http://127.0.0.1:40123
//   BARTER_TOKEN  its BARTER_API_TOKEN
//   BARTER_BIN    the `barter` binary, for comparing the pages with the CLI
//   BARTER_DIR    the seeded directory (barter.toml and the SQLite database) the CLI runs in
//   BARTER_CHROMIUM (optional) the Chromium binary, default /usr/bin/chromium

import { test, after } from "node:test";
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { promisify } from "node:util";
import { chromium } from "playwright-core";

const run = promisify(execFile);

/** Where failing tests leave their screenshots (git-ignored). */
export const SCREENSHOTS = fileURLToPath(new URL("../screenshots/", import.meta.url));

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set. These tests run against a seeded server: run them with ` +
        "`cargo test -p barter-cli --test dashboard_e2e` (which seeds a database, starts " +
        "`barter serve` and sets BARTER_URL, BARTER_TOKEN, BARTER_BIN and BARTER_DIR).",
    );
  }
  return value;
}

/** The server and seeded data under test. */
export const env = {
  get url() {
    return required("BARTER_URL").replace(/\/$/, "");
  },
  get token() {
    return required("BARTER_TOKEN");
  },
  get bin() {
    return required("BARTER_BIN");
  },
  get dir() {
    return required("BARTER_DIR");
  },
};

/** Chromium's flags here: no sandbox (root in CI), and nothing that reaches the closed network. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let launched;

/** The file's browser, launched on first use and closed when the file's tests are done. */
export function browser() {
  launched ??= chromium.launch({
    executablePath: process.env.BARTER_CHROMIUM || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  return launched;
}

after(async () => {
  if (launched) await (await launched).close();
});

/** A file name for a test's screenshot. */
function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 100);
}

/** Signs `page` in with `token` (default: the server's) through the sign-in form. */
export async function signIn(page, token = env.token) {
  await page.goto(`${env.url}/login`);
  await page.fill("#token", token);
  await Promise.all([page.waitForLoadState("load"), page.click('form button[type="submit"]')]);
}

/**
 * A test that runs `body({ page, context, t })` in a fresh browser context (signed in unless
 * `options.signIn === false`). When it fails, the page is saved as a full-page PNG in
 * e2e/screenshots/<test name>.png and the path is printed and added to the error. Uncaught
 * errors in the page's scripts fail the test too.
 */
export function browserTest(name, options, body) {
  if (typeof options === "function") [options, body] = [{}, options];
  test(name, { timeout: options.timeout ?? 90_000 }, async (t) => {
    const context = await (await browser()).newContext({
      viewport: options.viewport ?? { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const scriptErrors = [];
    page.on("pageerror", (error) => scriptErrors.push(`${page.url()}: ${error.message}`));
    try {
      if (options.signIn !== false) await signIn(page);
      await body({ page, context, t });
      if (scriptErrors.length) {
        throw new Error(`the page's scripts threw:\n  ${scriptErrors.join("\n  ")}`);
      }
    } catch (error) {
      const file = path.join(SCREENSHOTS, `${slug(name)}.png`);
      try {
        await mkdir(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: file, fullPage: true });
        console.log(`# screenshot of the failing page: ${file}`);
        t.diagnostic(`screenshot of the failing page: ${file}`);
        if (error instanceof Error) error.message += `\n  screenshot: ${file}\n  page: ${page.url()}`;
      } catch (shotError) {
        console.log(`# no screenshot could be saved: ${shotError.message}`);
      }
      throw error;
    } finally {
      await context.close();
    }
  });
}

/** Calls the JSON API with the bearer token; resolves to the parsed body, throws on a non-2xx. */
export async function api(method, apiPath, body) {
  const init = { method, headers: { authorization: `Bearer ${env.token}`, accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`${env.url}${apiPath}`, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${apiPath} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs the `barter` CLI in the seeded directory; resolves to its stdout. */
export async function cli(...args) {
  try {
    const { stdout } = await run(env.bin, args, {
      cwd: env.dir,
      env: { ...process.env, BARTER_LOG: "error" },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    throw new Error(`barter ${args.join(" ")} failed: ${error.stderr || error.message}`);
  }
}

/** Positions from the API (`status`: open, closed or all). */
export function positions(status = "all") {
  return api("GET", `/api/positions?status=${status}`);
}

/**
 * The instrument the chart tests look at: one with both open and closed positions (else the one
 * with the most), with its positions.
 */
export async function tradedInstrument() {
  const all = await positions("all");
  const bySymbol = new Map();
  for (const p of all) {
    if (!bySymbol.has(p.symbol)) bySymbol.set(p.symbol, []);
    bySymbol.get(p.symbol).push(p);
  }
  const score = (list) =>
    (list.some((p) => p.status === "open") && list.some((p) => p.status === "closed") ? 1000 : 0) + list.length;
  const ranked = [...bySymbol.entries()].sort((a, b) => score(b[1]) - score(a[1]) || (a[0] < b[0] ? -1 : 1));
  if (!ranked.length) throw new Error("the seeded database has no positions; the runner's seeding failed");
  const [symbol, list] = ranked[0];
  return { symbol, positions: list };
}
