"""Time Barter against two anchors, backtesting.py and vectorbt, on the same workloads (W1-W3, W6).

Run it through `bench/anchors/run.sh` (which makes the venv and the data); directly:

    bench/.venv-anchors/bin/python bench/anchors/anchors.py [--quick] [--engines ...] [--workloads ...]

Every engine runs the same scenario (`engines.py`): long-only SMA fast/slow crossover on the close,
buy with all the cash on a cross up, close on a cross down, fills at the next bar's open, cash
10,000, fractional sizes.

* W1: one backtest, SMA 10/20, commission 0, on the last 2,000 days of the BTC sample
  (`bench/.data/w1_btc_last2000.csv`). Timed: indicators, backtest and the statistics.
* W2: the same on 1,000,000 generated daily bars (`bench/.data/w2_1m.csv`, see `data.py`).
  Timed: indicators, backtest and statistics (backtesting.py cannot skip them; vectorbt's are
  reported with and without `pf.stats()`, from the same runs).
* W3: all 1,590 (fast, slow) with fast in 5..=50, slow in 20..=200 step 5, fast < slow, commission
  0.1 %, on the W1 series, ranked by final equity (ties: the first in (fast, slow) order).
* W6: a portfolio: SMA 10/20 over 500 generated instruments x 2,500 days
  (`bench/.data/w6_500x2500.csv`) in one account with shared cash 1,000,000, each entry spending
  10,000 fee included, at most 50 positions open at once, commission 0.1 %, entries of a day in
  symbol order. Barter and vectorbt only (backtesting.py backtests one instrument at a time).
  Timed: indicators, backtest and statistics.

CSV loading is never timed. Each (engine, workload) runs in its own fresh Python process (so one
workload's JIT-compiled code or memory never helps or hurts another). In that process the first call
is timed on its own ("first"); the reported median is over the runs after it, except for
backtesting.py on W2/W3, where a run takes seconds to minutes and the first run counts too (pure
Python: no JIT to warm). vectorbt's "cold" is a separate process with an empty numba cache, i.e.
the first call including the JIT compilation of every kernel it touches; its "first" then finds
numba's on-disk cache filled, as a user's second session would.

Barter is timed by its own bench binary (`cargo bench -p barter-core --bench anchors`, see
`barter_command`); if that fails (e.g. it does not exist yet) Barter is skipped with a message.

Output: a Markdown report on stdout and in `bench/anchors/last_run.md`, and everything (every run's
time, the W3 grids) as JSON in `bench/.data/anchors.json`.
"""

import argparse
import datetime
import fcntl
import gc
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import data

ROOT = data.ROOT
HERE = pathlib.Path(__file__).resolve().parent
REPORT_PATH = HERE / "last_run.md"
JSON_PATH = data.DATA_DIR / "anchors.json"
LOG_DIR = data.DATA_DIR / "logs"
RESULT_TAG = "ANCHORS-RESULT "

WORKLOADS = {
    "w1": {"data": data.W1_PATH, "datetime_index": True, "fast": 10, "slow": 20, "commission": 0.0},
    "w2": {"data": data.W2_PATH, "datetime_index": False, "fast": 10, "slow": 20, "commission": 0.0},
    "w3": {"data": data.W1_PATH, "datetime_index": True, "fast": None, "slow": None, "commission": 0.001},
    "w6": {"data": data.W6_PATH, "datetime_index": True, "fast": 10, "slow": 20, "commission": 0.001},
}
# Engines that cannot run a workload, and why (reported, not run).
NOT_APPLICABLE = {("backtesting", "w6"): "backtesting.py backtests one instrument at a time: no "
                                         "shared cash across instruments"}
ENGINE_ORDER = ("barter", "vectorbt", "backtesting")
ENGINE_LABELS = {"barter": "Barter", "vectorbt": "vectorbt", "backtesting": "backtesting.py"}
# Timed runs after the first call. backtesting.py: W2 ~12 s and W3 ~40 s a run here, and its
# first run counts (see the module docs).
DEFAULT_RUNS = {"w1": 21, "w2": 7, "w3": 7, "w6": 7}
DEFAULT_BT_RUNS = {"w1": 21, "w2": 5, "w3": 3, "w6": 1}
QUICK_RUNS = {"w1": 3, "w2": 1, "w3": 1, "w6": 1}
# Barter's targets, as multiples of vectorbt's median (W1 and W6 include the statistics).
TARGETS = {"w1": 10, "w2": 20, "w3": 50, "w6": 20}
AGREE_REL = 1e-6


# ---------------------------------------------------------------------------------------------
# Worker: one engine, one workload, in a process of its own.


def worker(engine_key, workload, runs, first_counts):
    import engines

    spec = WORKLOADS[workload]
    engine = engines.engine(engine_key)
    if workload == "w6":
        prepared = engines.read_w6(spec["data"])
    else:
        prepared = engine.prepare(engines.read_csv(spec["data"], spec["datetime_index"]))

    def call():
        if workload == "w6":
            return engine.portfolio(prepared, spec["commission"])
        if workload == "w3":
            return engine.sweep(prepared, spec["commission"])
        return engine.single(prepared, spec["fast"], spec["slow"], spec["commission"])

    times, cpu, phases, outcomes = [], [], [], []
    for _ in range(1 + runs):
        gc.collect()  # not timed: start every run with the same garbage-free heap
        cpu_start = cpu_seconds()
        start = time.perf_counter()
        outcome, phase = call()
        times.append(time.perf_counter() - start)
        cpu.append(cpu_seconds() - cpu_start)
        if workload == "w6":
            engine.after_run(outcome)  # untimed checks of the run
        phases.append(phase)
        outcomes.append(outcome)
    # Every run must compute the same thing; otherwise the timings are not of one workload.
    for o in outcomes[1:]:
        assert o == outcomes[0], ("runs disagree", o, outcomes[0])
    timed = times if first_counts else times[1:]
    timed_cpu = cpu if first_counts else cpu[1:]
    timed_phases = phases if first_counts else phases[1:]
    result = {
        "engine": engine_key,
        "workload": workload,
        "version": engine.version,
        "first_s": times[0],
        "first_counts": first_counts,
        "runs_s": timed,
        "median_s": statistics.median(timed) if timed else None,
        "cpu_s": timed_cpu,
        "median_cpu_s": statistics.median(timed_cpu) if timed_cpu else None,
        "phases_s": {k: [p[k] for p in timed_phases] for k in (timed_phases[0] if timed_phases else {})},
        "first_phases_s": phases[0],
        **outcomes[0],
    }
    if engine_key == "vectorbt":
        result["kernel_engine"] = engine.kernel_engine
    print(RESULT_TAG + json.dumps(result), flush=True)


def cpu_seconds():
    """CPU time of this process and of its finished children (backtesting.py's optimize pool is
    joined before optimize returns, so its workers count). On a shared machine a median CPU time
    well below the median wall time means the run waited for a core."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_worker(engine_key, workload, runs, first_counts, env_extra, log_name):
    """Run one worker process and return its result (or raise with the log's tail)."""
    env = dict(os.environ)
    # backtesting.py wraps its bar loop in a tqdm progress bar when tqdm is installed (vectorbt
    # pulls it in); off, as in a backtesting.py-only install.
    env["TQDM_DISABLE"] = "1"
    env.update(env_extra)
    cmd = [sys.executable, str(HERE / "anchors.py"), "--worker", engine_key, workload,
           "--worker-runs", str(runs)] + (["--worker-first-counts"] if first_counts else [])
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{log_name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=HERE)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = log_path.read_text().splitlines()[-15:]
    raise RuntimeError(f"{log_name} failed (exit {proc.returncode}), see {log_path}:\n" + "\n".join(tail))


def run_anchor(engine_key, workload, runs, bt_runs):
    if engine_key == "backtesting":
        n = bt_runs[workload]
        first_counts = workload in ("w2", "w3")
        return run_worker(engine_key, workload, n - 1 if first_counts else n, first_counts, {},
                          f"backtesting-{workload}")
    # vectorbt: a throw-away numba cache per workload, filled by the cold process.
    with tempfile.TemporaryDirectory(prefix="anchors-numba-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = run_worker(engine_key, workload, 0, False, env, f"vectorbt-{workload}-cold")
        result = run_worker(engine_key, workload, runs[workload], False, env, f"vectorbt-{workload}")
    result["cold_s"] = cold["first_s"]
    result["cold_phases_s"] = cold["first_phases_s"]
    return result


# ---------------------------------------------------------------------------------------------
# Barter


BARTER_BUILD = ["cargo", "bench", "-p", "barter-core", "--bench", "anchors", "--no-run"]


def barter_command(workload, runs):
    """The contract with Barter's bench (see the report's "Barter's bench" section)."""
    spec = WORKLOADS[workload]
    cmd = ["cargo", "bench", "-p", "barter-core", "--bench", "anchors", "--",
           "--workload", workload, "--data", str(spec["data"]), "--runs", str(runs),
           "--fee-bps", f"{spec['commission'] * 10_000:g}"]
    if spec["fast"] is not None:
        cmd += ["--fast", str(spec["fast"]), "--slow", str(spec["slow"])]
    if workload == "w6":
        import engines
        w6 = engines.W6
        cmd += ["--cash", str(w6["cash"]), "--amount", str(w6["amount"]),
                "--max-open", str(w6["max_open_positions"])]
    return cmd


def build_barter(timeout_s):
    """Build the bench once, untimed, so no workload's time includes compilation. Returns None when
    it is ready, else the reason to skip Barter."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / "barter-build.log"
    try:
        with open(log_path, "w") as log:
            proc = subprocess.run(BARTER_BUILD, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout_s)
    except FileNotFoundError:
        return "cargo not found"
    except subprocess.TimeoutExpired:
        return f"`{' '.join(BARTER_BUILD)}` took over {timeout_s} s"
    if proc.returncode != 0:
        tail = [l for l in log_path.read_text().splitlines() if l.strip()][-3:]
        return (f"`{' '.join(BARTER_BUILD)}` failed (exit {proc.returncode}; {log_path.relative_to(ROOT)}):\n"
                + "\n".join("    " + l for l in tail))
    return None


def run_barter(workload, runs, timeout_s):
    cmd = barter_command(workload, runs)
    log_path = LOG_DIR / f"barter-{workload}.log"
    try:
        with open(log_path, "w") as log:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
                                  timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`{' '.join(cmd)}` took over {timeout_s} s")
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}), see {log_path}")
    result = None
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                candidate = json.loads(line)
            except json.JSONDecodeError:
                continue
            if candidate.get("engine") == "barter" and candidate.get("workload") == workload:
                result = candidate
    if result is None:
        raise RuntimeError(f"`{' '.join(cmd)}` printed no JSON line with engine \"barter\" and "
                           f"workload \"{workload}\" on stdout")
    missing = [k for k in ("runs_s", "median_s", "final_equity", "trades", "best") if k not in result]
    if missing:
        raise RuntimeError(f"Barter's {workload} JSON lacks {missing}: {result}")
    if not result["runs_s"]:
        raise RuntimeError(f"Barter's {workload} JSON has no runs: {result}")
    # One definition of the median for every engine (for an even count of runs, the mean of the
    # two middle ones); Barter's own figure is kept next to it.
    result["reported_median_s"] = result["median_s"]
    result["median_s"] = statistics.median(result["runs_s"])
    result["command"] = " ".join(cmd)
    return result


# ---------------------------------------------------------------------------------------------
# Report


def rel_diff(a, b):
    if a is None or b is None:
        return None
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def fmt_s(x):
    if x is None:
        return "–"
    return f"{x:.3g}" if x < 1 else f"{x:.4g}" if x < 1000 else f"{x:.0f}"


def fmt_equity(x):
    return "–" if x is None else f"{x:,.6f}"


def fmt_trades(r):
    t = f"{r['trades']}"
    if r.get("open_trades"):
        t += f" (+{r['open_trades']} open)"
    return t


def fmt_best(r):
    b = r.get("best")
    return f"{b['fast']}/{b['slow']}" if b else "–"


def fmt_runs(runs):
    return ", ".join(f"{w.upper()} {n}" for w, n in runs.items())


def vectorbt_no_stats(r):
    """W1/W2 vectorbt runs without the pf.stats() phase: signals + simulation."""
    p = r["phases_s"]
    if "stats" not in p:
        return None
    return statistics.median([a + b for a, b in zip(p["signals"], p["portfolio"])])


def results_table(results, workloads):
    lines = ["| workload | engine | median s | runs | CPU s | first s | cold s | final equity | closed trades | best fast/slow | × Barter |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for w in workloads:
        barter = results[w].get("barter")
        for key in ENGINE_ORDER:
            r = results[w].get(key)
            if r is None:
                if (key, w) in NOT_APPLICABLE:
                    lines.append(f"| {w.upper()} | {ENGINE_LABELS[key]} | n/a: {NOT_APPLICABLE[(key, w)]} "
                                 "| | | | | | | | |")
                continue
            ratio = (f"{r['median_s'] / barter['median_s']:.1f}" if barter and key != "barter" else
                     "1" if key == "barter" else "–")
            lines.append(
                f"| {w.upper()} | {ENGINE_LABELS[key]} | {fmt_s(r['median_s'])} | {len(r['runs_s'])} | "
                f"{fmt_s(r.get('median_cpu_s'))} | {fmt_s(r.get('first_s'))} | {fmt_s(r.get('cold_s'))} | {fmt_equity(r['final_equity'])} | "
                f"{fmt_trades(r)} | {fmt_best(r)} | {ratio} |")
            if key == "vectorbt" and w != "w3":
                no_stats = vectorbt_no_stats(r)
                ratio = f"{no_stats / barter['median_s']:.1f}" if barter else "–"
                lines.append(f"| {w.upper()} | vectorbt, without pf.stats() | {fmt_s(no_stats)} | "
                             f"{len(r['runs_s'])} | | | | | | | {ratio} |")
    return lines


def targets_section(results, workloads):
    lines = ["## Barter's targets", "",
             "From vectorbt's medians in this run (W1, W2 and W6 with statistics; a CPU time well "
             "below the wall time above means the machine was busy and the limit is lenient):", "",
             "| workload | vectorbt median s | target | Barter must take at most | Barter median s | met |",
             "|---|---:|---|---:|---:|---|"]
    for w in workloads:
        v = results[w].get("vectorbt")
        if v is None:
            continue
        b = results[w].get("barter")
        limit = v["median_s"] / TARGETS[w]
        met = "–" if b is None else ("yes" if b["median_s"] <= limit else "**no**")
        lines.append(f"| {w.upper()} | {fmt_s(v['median_s'])} | ≥ {TARGETS[w]}× faster | {fmt_s(limit)} | "
                     f"{fmt_s(b['median_s']) if b else '–'} | {met} |")
    return lines


def agreement_section(results, workloads):
    lines = ["## Agreement", "",
             f"Relative difference of the final equity against backtesting.py (the reference: its "
             f"sizing, whole multiples of 1e-8 units, is Barter's `Fractional(8)`); 'agree' means "
             f"≤ {AGREE_REL:g} and the same number of closed trades. Trades are closed round trips; a "
             f"position still open after the last bar is counted apart (backtesting.py's `# Trades` "
             f"leaves it out, vectorbt's `Total Trades` counts it, its `Total Closed Trades` does not).",
             ""]
    for w in workloads:
        if w == "w6":
            lines += w6_agreement(results[w])
            continue
        ref = results[w].get("backtesting")
        others = [k for k in ENGINE_ORDER if k != "backtesting" and k in results[w]]
        if ref is None:
            continue
        for key in others:
            r = results[w][key]
            d = rel_diff(r["final_equity"], ref["final_equity"])
            same_trades = r["trades"] == ref["trades"] and r.get("open_trades", ref["open_trades"]) == ref["open_trades"]
            same_best = r.get("best") == ref.get("best")
            verdict = "agree" if d is not None and d <= AGREE_REL and same_trades and same_best else "**differ**"
            lines.append(f"- {w.upper()} {ENGINE_LABELS[key]} vs backtesting.py: final equity rel. diff "
                         f"{d:.2e}, closed trades {fmt_trades(r)} vs {fmt_trades(ref)}"
                         + (f", best {fmt_best(r)} vs {fmt_best(ref)}" if w == "w3" else "")
                         + f": {verdict}." + explain(r, ref, WORKLOADS[w]["commission"]))
        if w == "w3" and "vectorbt" in results[w]:
            lines += [""] + grid_comparison(results[w]["vectorbt"], ref)
    lines += ["", "Expected differences:", "",
              "- vectorbt buys `cash / (open * (1 + fee))` units unrounded, backtesting.py floors it "
              "to a multiple of 1e-8 (vectorbt's `size_granularity=1e-8` is broken, see vectorbt_engine.py), "
              "so vectorbt keeps up to 1e-8 × open more invested per trade: relative differences "
              "around 1e-9 that compound over trades.",
              "- Cross rule at an exact SMA tie: backtesting.py's `crossover` is strict on both bars "
              "(a tie blocks the cross), vectorbt's `crossed_above` remembers \"was below\" across "
              "equal bars; and vectorbt's rolling mean (cumulative-sum difference) rounds "
              "differently from pandas' (compensated running sum), which can make or break a tie. "
              "Smallest |SMA10 − SMA20| / SMA20 in this data (pandas): "
              + ", ".join(f"{w.upper()} {g:.1e}" for w, g in sma_gaps().items())
              + " (rounding noise is ~1e-15 for W1 and ~1e-11 for vectorbt's cumulative sums over "
              "W2's million bars), so W1 and W2 cannot differ this way; in W3 a few cells may "
              "(listed above).",
              "- W6 has exact decimal ties between SMA10 and SMA20 (500 × 2,500 bars at 4 decimals): "
              + ", ".join(f"{n} {kind}" for kind, n in w6_ties().items())
              + " (see `w6_ties`: a \"touch\", or a \"through\" tie that vectorbt's rolling-mean "
              "rounding breaks, moves one decision by a bar in one engine; with the cap binding "
              "that can also change which later entries fit under it)." if "w6" in workloads else "",
              "- backtesting.py leaves out of optimize's ranking any cell with no closed trade."]
    return lines


def w6_agreement(results):
    """W6 has no backtesting.py run: Barter against vectorbt, final equity and trades."""
    b, v = results.get("barter"), results.get("vectorbt")
    if b is None or v is None:
        return []
    d = rel_diff(b["final_equity"], v["final_equity"])
    same = b["trades"] == v["trades"] and b.get("open_trades") == v.get("open_trades")
    verdict = "agree" if d <= AGREE_REL and same else "**differ**"
    return [f"- W6 Barter vs vectorbt (no backtesting.py run): final equity rel. diff {d:.2e}, "
            f"closed trades {fmt_trades(b)} vs {fmt_trades(v)}: {verdict}. vectorbt held at most "
            f"{v.get('max_held')} positions at once (the cap is {engines_w6()['max_open_positions']}); "
            f"every vectorbt buy was the full amount (checked after each run), so cash never ran "
            f"short and the call order within a bar cannot matter. Barter's Fractional(8) sizing "
            f"floors each entry to 1e-8 units, vectorbt's is unrounded."]


def engines_w6():
    import engines
    return engines.W6


def sma_gaps():
    """The closest SMA10/SMA20 approach of W1's and W2's data: how far their decisions are from a
    tie, where the engines' cross rules and SMA roundings could legitimately disagree."""
    import engines
    gaps = {}
    for w in ("w1", "w2"):
        if not WORKLOADS[w]["data"].exists():
            continue
        close = engines.read_csv(WORKLOADS[w]["data"], False)["Close"]
        fast, slow = close.rolling(10).mean(), close.rolling(20).mean()
        gaps[w] = float(((fast - slow).abs() / slow).min())
    return gaps


def w6_ties():
    """W6's exact SMA10/SMA20 ties (|gap| / SMA20 below 1e-12, i.e. equal as decimals up to the
    float rounding of the means), by what the series does around them: "through" (the sign
    before the tie differs from the one after: Barter crosses on the bar after the tie, because
    its `crosses_above` asks `<=` the bar before; vectorbt too, because it remembers the side it
    was on, unless its cumulative-sum means round the tie to the far side, and then it crosses
    on the tie's bar, a bar earlier), "touch" (the same sign on both sides: Barter sees a new
    cross on the bar after, vectorbt does not) and "edge" (a tie on the first or last bar with
    both means, where no decision follows from it)."""
    import engines
    import numpy as np
    close = engines.read_w6(data.W6_PATH)[1]
    diff = (close.rolling(10).mean() - close.rolling(20).mean()).to_numpy()
    slow = close.rolling(20).mean().to_numpy()
    tie = np.abs(diff) < 1e-12 * slow
    counts = {"through": 0, "touch": 0, "edge": 0}
    for row, col in zip(*np.nonzero(tie)):
        column = diff[:, col]
        before = [v for v in column[:row][::-1] if not np.isnan(v) and abs(v) >= 1e-12 * slow[row, col]][:1]
        after = [v for v in column[row + 1:] if abs(v) >= 1e-12 * slow[row, col]][:1]
        if not before or not after:
            counts["edge"] += 1
        else:
            counts["through" if (before[0] > 0) != (after[0] > 0) else "touch"] += 1
    return counts


def explain(r, ref, commission):
    """Name the one definition difference seen so far: an engine that values (or closes) the
    position still open at the end net of its exit commission, and counts it as a trade. With
    all-in sizing the position is the whole equity up to dust, so that costs equity * commission."""
    if not (commission and ref["open_trades"] and r.get("open_trades", 0) == 0):
        return ""
    liquidated = ref["final_equity"] * (1 - commission)
    if rel_diff(r["final_equity"], liquidated) <= AGREE_REL and r["trades"] == ref["trades"] + ref["open_trades"]:
        return (f" The difference is the exit commission on the position backtesting.py still holds "
                f"at the end (its equity × (1 − {commission:g}) = {liquidated:,.6f}, rel. diff "
                f"{rel_diff(r['final_equity'], liquidated):.1e}), and that position is counted as a "
                f"closed trade: {ENGINE_LABELS[r['engine']]} values the open position as if sold at "
                f"the end, backtesting.py (finalize_trades=False) marks it at the last close.")
    return ""


def grid_comparison(vbt, bt):
    v = {(f, s): e for f, s, e in vbt["grid"]}
    b = {(f, s): e for f, s, e in bt["grid"]}
    assert len(v) == len(b) == 1_590, (len(v), len(b))
    differ = sorted(((rel_diff(v[k], b[k]), k) for k in b if b[k] is not None and rel_diff(v[k], b[k]) > AGREE_REL),
                    reverse=True)
    nan = [k for k in b if b[k] is None]
    worst = max((rel_diff(v[k], b[k]) for k in b if b[k] is not None), default=0.0)
    lines = [f"W3 grids, cell by cell (vectorbt vs backtesting.py, {len(b)} cells each): "
             f"{len(b) - len(nan) - len(differ)} agree within {AGREE_REL:g} (largest difference among "
             f"all cells {worst:.2e}), {len(differ)} differ, {len(nan)} have no closed trade in "
             f"backtesting.py."]
    for d, (f, s) in differ[:10]:
        lines.append(f"  - fast {f}, slow {s}: vectorbt {v[(f, s)]:.6f}, backtesting.py {b[(f, s)]:.6f} "
                     f"(rel. diff {d:.2e})")
    return lines


def environment():
    def cpu_model():
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor()

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = None
    return {
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "commit": commit,
        "packages": package_versions(),
    }


def package_versions():
    from importlib.metadata import version, PackageNotFoundError
    out = {}
    for name in ("backtesting", "vectorbt", "numba", "llvmlite", "numpy", "pandas", "bokeh", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def render(env, results, workloads, skipped, runs, bt_runs):
    p = env["packages"]
    lines = [
        "# Barter vs backtesting.py and vectorbt",
        "",
        f"{env['started_at']}, commit {env['commit']}; {env['cpu']}, {env['cpus']} cores, load average "
        f"{' / '.join(f'{x:.2f}' for x in env['loadavg_start'])} at the start and "
        f"{' / '.join(f'{x:.2f}' for x in env['loadavg_end'])} at the end (1 / 5 / 15 min; the machine "
        f"is shared, hence medians). Python {env['python']}, backtesting {p['backtesting']}, vectorbt "
        f"{p['vectorbt']} (numba {p['numba']}), numpy {p['numpy']}, pandas {p['pandas']}.",
        "",
    ]
    lines += results_table(results, workloads)
    lines += [
        "",
        "Columns: **median s** over **runs** timed runs (wall clock); **CPU s**: median CPU "
        "time of the same runs (user + system, including backtesting.py's optimize workers; well "
        "below the wall time means the run waited for a core on this shared machine); **first s**: the first call in "
        "its process (for backtesting.py on W2/W3 it is one of the runs); **cold s**: vectorbt's first "
        "call with an empty numba cache (JIT compilation included); **× Barter**: the engine's median "
        "over Barter's. Final equity and trades are of the best cell for W3.",
        "",
        "What each timed region contains (CSV loading never):",
        "",
        "- backtesting.py W1/W2: `FractionalBacktest(...)` (it copies the data and scales prices by "
        "1e-8) and `.run()`: both SMAs (pandas rolling mean), the bar loop, and all statistics. W2 "
        "has a RangeIndex (its days run past pandas' year 2262), so backtesting.py's annualized "
        "statistics are NaN there and it skips their daily resampling.",
        "- backtesting.py W3: one `Backtest.optimize(fast=range(5, 51), slow=range(20, 201, 5), "
        "constraint=fast < slow, maximize='Equity Final [$]', return_heatmap=True)`: 1,590 "
        "backtests with full statistics each, spread by optimize itself over a multiprocessing "
        "pool of one process per core (2 here), then the best cell re-run.",
        "- vectorbt W1/W2: `vbt.MA.run` ×2, `ma_crossed_above` / `ma_crossed_below`, "
        "`.vbt.signals.fshift(1)`, `Portfolio.from_signals(close, entries, exits, price=open, "
        "size=np.inf, fees, init_cash=10_000, freq='1D')` and `pf.stats()` (the row \"without "
        "pf.stats()\" is the same runs' time before stats). vectorbt kernels: numba (vectorbt-rust "
        "not installed).",
        "- vectorbt W3: the same calls with 1,590 columns at once (one window per column; the MA "
        "indicator computes each distinct window once), then `pf.final_value()` and `idxmax()`. "
        "Single-threaded.",
        "- vectorbt W6: `vbt.MA.run` ×2 over the 2,500 × 500 close frame, the crossovers and "
        "their shift, one `Portfolio.from_signals(close, signal_func_nb=..., price=open, "
        "size=10_000 / 1.001, size_type='value', fees=0.001, init_cash=1_000_000, "
        "cash_sharing=True, group_by=True, freq='1D')` whose numba `signal_func_nb` passes an "
        "entry only while fewer than 50 positions are open (vectorbt has no cap of its own), and "
        "`pf.stats()` of the group. The checks that every buy was the full amount are not timed.",
        "- Barter W6: one `backtest_with` over the 500 instruments (one `RuleStrategy`, "
        "`Sizing::Amount(10,000)`, `max_open_positions: Some(50)`), statistics included.",
        "- Barter: what its bench (`crates/core/benches/anchors.rs`) times around each run; its "
        "doc says: building the strategy, the indicators, the backtest and all statistics (W1, "
        "W2), or the whole 1,590-point sweep on all cores ranked by final equity (W3); never "
        "reading the CSV. Its first call is timed on its own (**first s**) and the median is of "
        "the runs after it, as for the other engines.",
        "",
        f"Timed runs requested: vectorbt and Barter {fmt_runs(runs)}; backtesting.py {fmt_runs(bt_runs)}.",
        "",
    ]
    if skipped:
        lines += ["**Barter skipped:** " + skipped, ""]
    lines += targets_section(results, workloads) + [""]
    lines += agreement_section(results, workloads) + [""]
    lines += [
        "## Data",
        "",
        f"- W1, W3: `{data.W1_PATH.relative_to(ROOT)}`, the last {data.W1_ROWS:,} rows of "
        f"`{data.BTC_SAMPLE.relative_to(ROOT)}`, sha256 `{env['data']['w1_sha256']}`.",
        f"- W2: `{data.W2_PATH.relative_to(ROOT)}`, {data.W2_ROWS:,} bars, sha256 "
        f"`{env['data'].get('w2_sha256')}`: {data.W2_DESCRIPTION}.",
        f"- W6: `{data.W6_PATH.relative_to(ROOT)}`, {data.W6_INSTRUMENTS} instruments × "
        f"{data.W6_ROWS:,} bars in one file (`{data.W6_HEADER}`), sha256 "
        f"`{env['data'].get('w6_sha256')}`: {data.W6_DESCRIPTION}.",
        "",
        "## Barter's bench",
        "",
        "Commands run (from the repository root; the bench is built first with "
        f"`{' '.join(BARTER_BUILD)}`, untimed):",
        "",
    ]
    lines += [f"    {' '.join(barter_command(w, runs[w]))}" for w in workloads]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def parse_runs(text, default):
    runs = dict(default)
    for item in filter(None, (text or "").split(",")):
        key, _, n = item.partition("=")
        if key not in runs or not n.isdigit() or int(n) < 1:
            raise SystemExit(f"bad run count {item!r}: expected e.g. w1=21,w2=7")
        runs[key] = int(n)
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="w1,w2,w3,w6")
    ap.add_argument("--engines", default=",".join(ENGINE_ORDER))
    ap.add_argument("--runs", help=f"timed runs for vectorbt and Barter, e.g. w1=21,w2=7 (default {DEFAULT_RUNS})")
    ap.add_argument("--bt-runs", help=f"timed runs for backtesting.py (default {DEFAULT_BT_RUNS})")
    ap.add_argument("--quick", action="store_true", help=f"few runs everywhere ({QUICK_RUNS}): a smoke test")
    ap.add_argument("--barter-build-timeout", type=int, default=3600)
    ap.add_argument("--barter-timeout", type=int, default=1800)
    ap.add_argument("--worker", nargs=2, metavar=("ENGINE", "WORKLOAD"), help=argparse.SUPPRESS)
    ap.add_argument("--worker-runs", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--worker-first-counts", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        worker(args.worker[0], args.worker[1], args.worker_runs, args.worker_first_counts)
        return

    workloads = [w for w in args.workloads.split(",") if w]
    engines_wanted = [e for e in args.engines.split(",") if e]
    for w in workloads:
        assert w in WORKLOADS, w
    for e in engines_wanted:
        assert e in ENGINE_ORDER, e
    runs = parse_runs(args.runs, QUICK_RUNS if args.quick else DEFAULT_RUNS)
    bt_runs = parse_runs(args.bt_runs, QUICK_RUNS if args.quick else DEFAULT_BT_RUNS)

    # Two runs at once on two cores would time each other; the second one stops here.
    data.DATA_DIR.mkdir(parents=True, exist_ok=True)
    lock = open(data.DATA_DIR / "anchors.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another anchors.py run holds {lock.name}; wait for it to finish")

    data.ensure_w1()
    if "w2" in workloads:
        data.ensure_w2()
    if "w6" in workloads:
        data.ensure_w6()
    env = environment()
    env["data"] = {"w1_sha256": data.sha256(data.W1_PATH)}
    if data.W2_PATH.exists():
        env["data"]["w2_sha256"] = data.sha256(data.W2_PATH)
    if data.W6_PATH.exists():
        env["data"]["w6_sha256"] = data.sha256(data.W6_PATH)

    skipped = None
    if "barter" in engines_wanted:
        print(f"building Barter's bench: {' '.join(BARTER_BUILD)}", file=sys.stderr, flush=True)
        skipped = build_barter(args.barter_build_timeout)
    else:
        skipped = "not requested (--engines)."
    if skipped and "barter" in engines_wanted:
        print(f"Barter skipped: {skipped}", file=sys.stderr, flush=True)

    results = {w: {} for w in workloads}
    for w in workloads:
        for key in ENGINE_ORDER:
            if key not in engines_wanted or (key == "barter" and skipped) or (key, w) in NOT_APPLICABLE:
                continue
            print(f"{w}: {ENGINE_LABELS[key]} ...", file=sys.stderr, flush=True)
            try:
                if key == "barter":
                    results[w][key] = run_barter(w, runs[w], args.barter_timeout)
                else:
                    results[w][key] = run_anchor(key, w, runs, bt_runs)
            except RuntimeError as err:
                if key != "barter":
                    raise
                print(f"Barter {w} skipped: {err}", file=sys.stderr, flush=True)
                skipped = (skipped + "; " if skipped else "") + f"{w}: {err}"
                continue
            r = results[w][key]
            print(f"{w}: {ENGINE_LABELS[key]} median {fmt_s(r['median_s'])} s over {len(r['runs_s'])} runs",
                  file=sys.stderr, flush=True)

    env["loadavg_end"] = os.getloadavg()
    report = render(env, results, workloads, skipped, runs, bt_runs)
    print(report)
    REPORT_PATH.write_text(report)
    JSON_PATH.parent.mkdir(parents=True, exist_ok=True)
    JSON_PATH.write_text(json.dumps({"environment": env, "runs": runs, "bt_runs": bt_runs,
                                     "barter_skipped": skipped, "results": results}, indent=1) + "\n")
    print(f"wrote {REPORT_PATH.relative_to(ROOT)} and {JSON_PATH.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
