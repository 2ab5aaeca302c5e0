// Barter dashboard: the simulator form. Plain JavaScript, no build step.
// - Checks the entry and exit rules as you type (POST /api/strategies/check, debounced) and
//   shows each problem under its rule: the rule's line, a caret under the span, the message.
// - "Start from a configured strategy" fills the form from the strategies embedded in the page.
// - "Copy" puts the configuration snippet on the clipboard (or selects it to copy by hand).
"use strict";

(() => {
  const DEBOUNCE_MS = 300;
  /** Names a sweep sets that are exit settings, not rule parameters. */
  const LIMIT_PARAMS = ["stop_loss", "take_profit", "trailing_stop", "max_holding_days"];
  const $ = (id) => document.getElementById(id);

  /** `name=value` entries, one per line or separated by commas (as the server reads them). */
  function parseParams(text) {
    const params = {};
    for (const entry of text.split(/[\n,]/)) {
      const at = entry.indexOf("=");
      if (at < 0) continue;
      const name = entry.slice(0, at).trim().replace(/^\$/, "");
      const value = Number(entry.slice(at + 1).trim());
      if (/^[A-Za-z0-9_]+$/.test(name) && entry.slice(at + 1).trim() !== "" && Number.isFinite(value)) {
        params[name] = value;
      }
    }
    return params;
  }

  /** The first value of each swept rule parameter (`fast=5..50:5`, `slow=20,50`). */
  function sweptValues(text) {
    const values = {};
    for (const line of text.split("\n")) {
      const at = line.indexOf("=");
      if (at < 0) continue;
      const name = line.slice(0, at).trim().replace(/^\$/, "");
      const spec = line.slice(at + 1);
      const first = Number((spec.includes("..") ? spec.split("..")[0] : spec.split(",")[0]).trim().replace(/%$/, ""));
      if (name && !LIMIT_PARAMS.includes(name) && Number.isFinite(first)) values[name] = first;
    }
    return values;
  }

  /** The parameters a rule is checked with: the given ones, and a value for each swept one. */
  function currentParams() {
    const params = parseParams($("params")?.value ?? "");
    const swept = sweptValues($("sweep")?.value ?? "");
    for (const [name, value] of Object.entries(swept)) {
      if (!(name in params)) params[name] = value;
    }
    return params;
  }

  /** A problem as the page shows it: the rule's line, a caret line under the span, the message. */
  function caretBlock(source, problem) {
    const first = String(problem.message ?? "").split("\n")[0].replace(/^error: /, "");
    const message = problem.help ? `${first}\nhelp: ${problem.help}` : first;
    if (!problem.line || !problem.column) return String(problem.message ?? "");
    const text = (source.split("\n")[problem.line - 1] ?? "").replace(/\r$/, "");
    const pad = Array.from(text).slice(0, problem.column - 1).map((c) => (c === "\t" ? "\t" : " ")).join("");
    let width = 1;
    if (Number.isInteger(problem.start) && Number.isInteger(problem.end)) {
      // The API's span is in bytes of the UTF-8 text; the caret counts characters.
      const bytes = new TextEncoder().encode(source);
      const newline = bytes.indexOf(10, problem.start);
      const end = newline >= 0 && newline < problem.end ? newline : problem.end;
      const span = new TextDecoder().decode(bytes.slice(problem.start, Math.max(end, problem.start)));
      width = Math.max(1, Array.from(span).length);
    }
    return `${text}\n${pad}${"^".repeat(width)}\n${message}`;
  }

  /** Shows `problems` of the rule in `field` under it, or clears the box when there are none. */
  function show(field, source, problems) {
    const box = $(`${field}-error`);
    if (!box) return;
    if (!problems.length) {
      box.textContent = "";
      box.hidden = true;
      $(field)?.removeAttribute("aria-invalid");
      return;
    }
    box.textContent = problems.map((p) => caretBlock(source, p)).join("\n\n");
    box.hidden = false;
    $(field)?.setAttribute("aria-invalid", "true");
  }

  const latest = { entry: 0, exit: 0 };

  /** Checks the rule in `field` (`entry` or `exit`) with the API and shows what it found. */
  async function check(field) {
    const input = $(field);
    if (!input) return;
    const rule = input.value;
    const ticket = ++latest[field];
    if (rule.trim() === "") {
      show(field, rule, []);
      return;
    }
    try {
      const { body } = await Barter.api("POST", "/api/strategies/check", {
        rule, kind: field, params: currentParams(),
      });
      if (ticket !== latest[field]) return; // a newer check is on its way
      show(field, rule, body?.problems ?? []);
    } catch (error) {
      if (ticket !== latest[field]) return;
      Barter.notice(`The ${field} rule could not be checked: ${error.message}`, "error");
    }
  }

  function debounced(fn) {
    let timer;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, DEBOUNCE_MS);
    };
  }

  /** A percentage setting of barter.toml (`"8%"`, `"0.08"` or 0.08) as the form's percent. */
  function percent(value) {
    if (value === null || value === undefined || value === "") return "";
    const text = String(value).trim();
    if (text.endsWith("%")) return text.slice(0, -1).trim();
    const number = Number(text);
    return Number.isFinite(number) ? String(Number((number * 100).toPrecision(12))) : text;
  }

  /** Fills the form with the configured strategy `name`. */
  function startFrom(name) {
    const strategy = (Barter.data("strategies-data") ?? []).find((s) => s.name === name);
    if (!strategy) return;
    const set = (id, value) => { const el = $(id); if (el) el.value = value ?? ""; };
    set("name", strategy.name);
    set("entry", strategy.entry);
    set("exit", strategy.exit);
    set("params", Object.entries(strategy.params ?? {}).map(([k, v]) => `${k}=${v}`).join("\n"));
    set("stop-loss", percent(strategy.stop_loss));
    set("take-profit", percent(strategy.take_profit));
    set("trailing-stop", percent(strategy.trailing_stop));
    set("max-holding-days", strategy.max_holding_days);
    set("size", strategy.size === null || strategy.size === undefined ? "" : String(strategy.size));
    set("sweep", "");
    set("constraints", "");
    const only = Array.isArray(strategy.instruments) ? strategy.instruments : null;
    document.querySelectorAll('input[name="instruments"]').forEach((box) => {
      box.checked = only !== null && only.includes(box.value);
    });
    check("entry");
    check("exit");
    Barter.notice(`The form now holds the strategy “${strategy.name}”. Run it, or change it first.`);
  }

  /** Copies the element named by the button's data-copy, or selects it to copy by hand. */
  async function copy(button) {
    const source = $(button.dataset.copy);
    const status = $("copy-status");
    if (!source) return;
    const say = (text) => { if (status) status.textContent = text; };
    try {
      if (!navigator.clipboard?.writeText) throw new Error("no clipboard");
      await navigator.clipboard.writeText(source.textContent);
      say("Copied to the clipboard.");
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say("Selected: press Ctrl+C (⌘C) to copy.");
    }
  }

  /** Follows a background sweep (#sweep-job): its progress bar every second, then the
   *  finished page. Without JavaScript the page refreshes itself instead. */
  async function followSweep(section) {
    const bar = $("sweep-progress");
    const status = $("sweep-status");
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      let progress;
      try {
        const response = await fetch(section.dataset.progress, {
          headers: { accept: "application/json" },
          credentials: "same-origin",
        });
        // Signed out (a redirect to the sign-in page) or forgotten: the page itself says so.
        if (!response.ok || response.redirected) break;
        progress = await response.json();
      } catch (_) {
        continue;
      }
      if (progress.status !== "queued" && progress.status !== "running") break;
      if (progress.status === "running" && bar && status) {
        bar.value = progress.done;
        bar.max = progress.total;
        const percent = progress.total ? Math.floor((progress.done * 100) / progress.total) : 100;
        bar.textContent = `${percent}%`;
        status.textContent = `Running: ${progress.done} of ${progress.total} combinations (${percent}%)…`;
      }
    }
    window.location.reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const sweep = $("sweep-job");
    if (sweep && ["queued", "running"].includes(sweep.dataset.status)) followSweep(sweep);
    for (const field of ["entry", "exit"]) {
      const later = debounced(() => check(field));
      $(field)?.addEventListener("input", later);
    }
    // Parameters change what `$name` resolves to.
    for (const id of ["params", "sweep"]) {
      const later = debounced(() => { check("entry"); check("exit"); });
      $(id)?.addEventListener("input", later);
    }
    $("start-from")?.addEventListener("change", (event) => startFrom(event.target.value));
    document.querySelectorAll("button[data-copy]").forEach((button) => {
      button.addEventListener("click", () => copy(button));
    });
    $("simulator-form")?.addEventListener("submit", () => {
      const status = $("run-status");
      if (status) status.textContent = "Running the backtest… (a sweep opens its own page with a progress bar)";
      $("run")?.setAttribute("aria-busy", "true");
    });
  });
})();
