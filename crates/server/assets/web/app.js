// Barter dashboard: what every page shares. Plain JavaScript, no build step.
// - Barter.api(): calls the JSON API with the session's CSRF token and turns API errors into
//   readable messages (never raw JSON).
// - Forms with data-confirm ask before submitting; buttons with data-job start a job and show
//   its progress; tables with class "sortable" sort by a clicked column header.
"use strict";

const Barter = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

  /** The readable message of a failed API answer. */
  async function problem(response) {
    let message = `The server answered ${response.status} ${response.statusText}.`;
    try {
      const body = await response.json();
      if (body?.error?.problems?.length) {
        message = body.error.problems.map((p) => p.message).join("\n");
      } else if (body?.error?.message) {
        message = body.error.message;
      }
    } catch (_) {
      // Not JSON: keep the status line.
    }
    if (response.status === 401) {
      message = "Your session has ended. Reload the page and sign in again.";
    }
    const error = new Error(message);
    error.status = response.status;
    return error;
  }

  /** Calls the API; resolves to the JSON answer (and its status), rejects with a readable Error. */
  async function api(method, path, body) {
    const headers = { "x-csrf-token": csrf(), accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (_) {
      throw new Error("The server could not be reached. Is `barter serve` still running?");
    }
    if (!response.ok) throw await problem(response);
    const json = response.status === 204 ? null : await response.json();
    return { status: response.status, body: json };
  }

  /** Shows `text` in the page's notice area (kind: "info" or "error"). */
  function notice(text, kind = "info") {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.className = kind === "error" ? "notice error" : "notice";
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.hidden = false;
  }

  /** The JSON embedded in the page under `id`, or null. */
  function data(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Starts `job` without waiting and follows its runs until they end. */
  async function startJob(button) {
    const job = button.dataset.job;
    const status = document.getElementById("job-status");
    const say = (text) => { if (status) status.textContent = text; };
    const buttons = document.querySelectorAll("button[data-job]");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const started = await api("POST", `/api/${job}?wait=false`);
      const first = started.body.run_id ?? started.body.runs?.[0]?.id;
      if (started.status === 202 && first != null) {
        // A full run records its three runs one after another; between two of them none is
        // running for a moment, so a full run is over after three runs or a quiet spell.
        let quiet = 0;
        for (;;) {
          const { body: runs } = await api("GET", "/api/runs?limit=10");
          const mine = runs.filter((r) => r.id >= first).reverse();
          const running = mine.filter((r) => r.status === "running");
          const counts = (r) => Object.entries(r.counts ?? {}).map(([k, v]) => `${v} ${k.replaceAll("_", " ")}`).join(", ");
          say(`${button.textContent.trim()}: ` +
            mine.map((r) => `${r.kind.replaceAll("_", " ")} ${r.status}${counts(r) ? ` (${counts(r)})` : ""}`).join("; ") + " …");
          quiet = running.length === 0 ? quiet + 1 : 0;
          if (mine.length && running.length === 0 && (job !== "run" || mine.length >= 3 || quiet >= 5)) break;
          await sleep(1000);
        }
      }
      say(`${button.textContent.trim()}: finished. Reloading…`);
      window.location.reload();
    } catch (error) {
      say("");
      notice(error.message, "error");
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  /** Sorts `table` by column `index`, numbers by their value, text alphabetically. */
  function sortTable(table, index, header) {
    const body = table.tBodies[0];
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach((th) => th.removeAttribute("aria-sort"));
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const key = (row) => {
      const cell = row.cells[index];
      const raw = cell?.dataset.sort ?? cell?.textContent.trim() ?? "";
      const number = Number(raw);
      return raw !== "" && !Number.isNaN(number) ? number : raw.toLowerCase();
    };
    const rows = Array.from(body.rows);
    rows.sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    rows.forEach((row) => body.appendChild(row));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    document.querySelectorAll("button[data-job]").forEach((button) => {
      button.addEventListener("click", () => startJob(button));
    });
    document.querySelectorAll("table.sortable th[data-sortable]").forEach((th) => {
      const table = th.closest("table");
      const index = Array.from(th.parentNode.children).indexOf(th);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", () => sortTable(table, index, th));
    });
  });

  return { api, notice, data, sleep };
})();
