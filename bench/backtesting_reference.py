"""Generate the backtesting.py reference fixtures for barter-core's simulator cross-check.

The fixtures are independent reference results: backtesting.py (kernc/backtesting.py on PyPI) run
over the committed sample data with the SMA 10/20 crossover, long-only scenario described in
`shared/reference/backtesting-py-semantics.md` (which was verified bit-for-bit against backtesting.py
0.6.6). They are generated once and committed; the simulator cross-check (to be written) compares
barter-core's simulator with them trade by trade and statistic by statistic.

Regenerate (from the repository root):

    python3 -m venv /tmp/bt && /tmp/bt/bin/pip install backtesting==0.6.6 pandas==3.1.1 numpy==2.4.6 && /tmp/bt/bin/python bench/backtesting_reference.py

(Python 3.11.7; pip also pulls in bokeh, which backtesting.py imports but this script never uses.)

Scenario, per series and run:

    Backtest(data, SmaCross, cash=10_000, commission=c, exclusive_orders=True, trade_on_close=False)
    SmaCross.next: crossover(SMA10, SMA20) -> self.buy()  (default size: all available cash)
                   crossover(SMA20, SMA10) -> self.position.close()

with SMA(x, n) = pd.Series(x).rolling(n).mean() (as `backtesting.test.SMA`), orders filled at the
next bar's open, spread 0, margin 1, finalize_trades=False (a trade still open on the last bar is
marked at the last close in the equity curve but is not one of the closed trades in the stats).
Each series runs with commission c = 0 and c = 0.002, and with two sizings:

* `Backtest` (whole units: floor(cash / (open * (1 + c))) shares; an order that buys 0 units is
  cancelled by the broker with a warning), and
* `backtesting.lib.FractionalBacktest` with its default fractional_unit = 1e-8 (quantities are whole
  multiples of 1e-8 units, i.e. barter-core's `QuantityRounding::Fractional(8)`).

The SMAs are always computed on the series' own (unscaled) closes. FractionalBacktest runs the
engine on prices multiplied by 1e-8, and an SMA of those scaled closes rounds differently: on SPY
2001-12-13 (bar 531) SMA10 and SMA20 are exactly equal in decimal (114.91), pandas' rolling mean of
the real closes puts SMA20 one ulp above (a cross-down), and of the scaled closes makes them equal
(no cross), which would give the fractional runs different trades from the whole-unit runs. With
the unscaled closes every run of a series takes the same decisions (the script asserts it).

This reads `data/sample/{btc,spy}-usd-daily.csv` (header `date,open,high,low,close,volume`; numbers
parsed with Python's `float`, which rounds every decimal string correctly) and writes
`crates/core/tests/fixtures/backtesting/<series>_sma10_20_c<commission>[_fractional].json`, e.g.
`btc_sma10_20_c0.002_fractional.json`. Every JSON file holds:

* `scenario`: series, data file, first/last day, bar count, parameters, commission, cash, sizing;
* `signals`: every bar on which a crossover fired (0-based bar index, day, direction, whether a
  position was open), as seen by backtesting.py's own `crossover`;
* `cancelled_orders`: bars at which the broker cancelled a buy (it could not buy one unit);
* `trades`: every closed trade, fields as in backtesting.py's trades table (`return_fraction` is its
  `ReturnPct`, a fraction: 0.05 = 5 %; `commission` is both legs together);
* `open_trade`: the trade still open after the last bar, or null;
* `equity_curve`: `[day, equity]` for every bar (the warm-up bars are backfilled with the cash);
* `stats`: every number-valued key of backtesting.py's stats, under its own name. Timestamps are
  written as `YYYY-MM-DD`, timedeltas as a number of days; NaN as null and +/-infinity as the strings
  "Infinity" / "-Infinity", so that the files are strict JSON.

Floats are written with `json.dumps` of Python floats (shortest repr, which round-trips every double
exactly), so the files are byte-for-byte deterministic for the pinned versions.
"""

import csv
import json
import math
import pathlib
import re
import warnings

import backtesting
import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import FractionalBacktest, crossover

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = {"btc": "btc-usd-daily.csv", "spy": "spy-usd-daily.csv"}
OUT_DIR = ROOT / "crates" / "core" / "tests" / "fixtures" / "backtesting"
CASH = 10_000
COMMISSIONS = (0.0, 0.002)
FAST, SLOW = 10, 20
FRACTIONAL_UNIT = 1 / 100e6  # FractionalBacktest's default
VERSIONS = {"backtesting": "0.6.6", "pandas": "3.1.1", "numpy": "2.4.6"}


def SMA(values, n):
    """backtesting.test.SMA: pandas' rolling mean."""
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    fast = FAST
    slow = SLOW
    # The series' own closes, unscaled (set per series by `strategy_for`). The SMAs are computed
    # on these rather than on `self.data.Close`, which FractionalBacktest has multiplied by
    # 1e-8: that scaling changes the SMAs' last bits, and on SPY it turns a true tie into an
    # exact float tie (see the fixtures' README). Without scaling the two are the same array.
    signal_close = None

    def init(self):
        self.sma_fast = self.I(SMA, self.signal_close, self.fast, name=f"SMA({self.fast})")
        self.sma_slow = self.I(SMA, self.signal_close, self.slow, name=f"SMA({self.slow})")
        self.signals = []

    def next(self):
        bar = len(self.data) - 1
        if crossover(self.sma_fast, self.sma_slow):
            self.signals.append((bar, "cross_up", bool(self.position)))
            self.buy()
        elif crossover(self.sma_slow, self.sma_fast):
            self.signals.append((bar, "cross_down", bool(self.position)))
            self.position.close()


def strategy_for(data):
    return type("SmaCross", (SmaCross,), {"signal_close": data["Close"].to_numpy(copy=True)})


def read_sample(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    index = pd.DatetimeIndex([pd.Timestamp(r["date"]) for r in rows], name="date")
    columns = {
        name.capitalize(): np.array([float(r[name]) for r in rows], dtype=np.float64)
        for name in ("open", "high", "low", "close", "volume")
    }
    data = pd.DataFrame(columns, index=index)
    assert data.index.is_monotonic_increasing and data.index.is_unique, path
    return data


def day(ts):
    ts = pd.Timestamp(ts)
    assert ts == ts.normalize(), ts
    return ts.date().isoformat()


def days(td):
    return float(pd.Timedelta(td) / pd.Timedelta(days=1))


def number(v):
    """A JSON-safe Python number: floats stay exact, NaN -> None, infinities -> strings."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def stat_value(v):
    if isinstance(v, pd.Timestamp):
        return day(v)
    if isinstance(v, pd.Timedelta):
        return days(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return number(v)
    return None  # not a number: left out


def run(data, commission, fractional):
    strategy = strategy_for(data)
    kwargs = dict(cash=CASH, commission=commission, exclusive_orders=True, trade_on_close=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if fractional:
            bt = FractionalBacktest(data, strategy, fractional_unit=FRACTIONAL_UNIT, **kwargs)
        else:
            bt = Backtest(data, strategy, **kwargs)
        stats = bt.run()
    cancelled = []
    for w in caught:
        m = re.match(r"time=(\d+): Broker canceled", str(w.message))
        if m:
            cancelled.append(int(m.group(1)))
    return stats, cancelled


def fixture(key, file_name, data, commission, fractional):
    stats, cancelled = run(data, commission, fractional)
    strategy = stats["_strategy"]
    dates = data.index
    scale = FRACTIONAL_UNIT if fractional else 1.0

    trades = []
    for t in stats["_trades"].itertuples():
        trades.append({
            "entry_bar": int(t.EntryBar),
            "entry_day": day(t.EntryTime),
            "exit_bar": int(t.ExitBar),
            "exit_day": day(t.ExitTime),
            "size": number(t.Size),
            "entry_price": number(t.EntryPrice),
            "exit_price": number(t.ExitPrice),
            "pnl": number(t.PnL),
            "commission": number(t.Commission),
            "return_fraction": number(t.ReturnPct),
            "duration_days": days(t.Duration),
        })

    open_trades = list(strategy.trades)
    assert len(open_trades) <= 1
    open_trade = None
    if open_trades:
        t = open_trades[0]
        open_trade = {
            "entry_bar": int(t.entry_bar),
            "entry_day": day(t.entry_time),
            "size": number(t.size * scale if fractional else t.size),
            "entry_price": number(t.entry_price / scale),
            "mark_price": number(data["Close"].iloc[-1]),
            # size * (last close - entry price); the entry commission was already paid from cash.
            "unrealized_pnl": number(t.pl),
        }

    equity = stats["_equity_curve"]["Equity"]
    assert len(equity) == len(data)
    equity_curve = [[day(d), number(e)] for d, e in zip(dates, equity)]
    assert equity_curve[-1][1] == number(stats["Equity Final [$]"])

    signals = [
        {"bar": bar, "day": day(dates[bar]), "direction": direction, "position_open": was_open}
        for bar, direction, was_open in strategy.signals
    ]

    statistics = {}
    for k, v in stats.items():
        if k.startswith("_"):
            continue
        value = stat_value(v)
        if value is not None or isinstance(v, (float, np.floating)):
            statistics[k] = value

    check(data, commission, trades, open_trade, signals, cancelled, statistics)

    scenario = {
        "series": key,
        "data_file": f"data/sample/{file_name}",
        "first_day": day(dates[0]),
        "last_day": day(dates[-1]),
        "bars": len(data),
        "strategy": "SMA crossover, long only: crossover(fast, slow) -> buy with all available cash; "
                    "crossover(slow, fast) -> close",
        "fast": FAST,
        "slow": SLOW,
        "sma": "pandas rolling mean of the unscaled Close",
        "cash": CASH,
        "commission": commission,
        "sizing": "fractional" if fractional else "whole_units",
        "fractional_unit": FRACTIONAL_UNIT if fractional else None,
        "engine": "FractionalBacktest" if fractional else "Backtest",
        "fill": "next_open",
        "exclusive_orders": True,
        "trade_on_close": False,
        "finalize_trades": False,
        "spread": 0,
        "margin": 1,
        "first_indicator_bar": SLOW - 1,
        "first_decision_bar": SLOW,
        # backtesting.py's annualization rule (_stats.compute_stats): 365 periods a year when
        # weekends make up more than 60 % of their share of a week's days, else 252.
        "annual_periods": 365 if dates.day_of_week.to_series().between(5, 6).mean() > 2 / 7 * .6 else 252,
        "versions": VERSIONS,
    }
    return {
        "scenario": scenario,
        "signals": signals,
        "cancelled_orders": [{"bar": b, "day": day(dates[b])} for b in cancelled],
        "trades": trades,
        "open_trade": open_trade,
        "stats": statistics,
        "equity_curve": equity_curve,
    }


def close_to(a, b, rel):
    return abs(a - b) <= rel * max(abs(a), abs(b))


def check(data, commission, trades, open_trade, signals, cancelled, statistics):
    """Consistency checks on what backtesting.py reported (they fail loudly, never fix)."""
    opens = data["Open"].to_numpy()
    last = len(data) - 1
    assert statistics["# Trades"] == len(trades)
    for a, b in zip(trades, trades[1:]):
        assert a["exit_bar"] <= b["entry_bar"]
    # Every fill is at the open of the bar after its signal (FractionalBacktest's prices are
    # scaled by 1e-8 and back, so they may be off the CSV open by an ulp).
    for t in trades + ([open_trade] if open_trade else []):
        assert close_to(t["entry_price"], opens[t["entry_bar"]], 1e-15)
        if "exit_bar" in t:
            assert close_to(t["exit_price"], opens[t["exit_bar"]], 1e-15)
    entries = sorted([t["entry_bar"] for t in trades] + ([open_trade["entry_bar"]] if open_trade else []))
    ups = [s["bar"] + 1 for s in signals if s["direction"] == "cross_up" and s["bar"] < last]
    assert entries == sorted(set(ups) - set(cancelled)), (entries, ups, cancelled)
    # The ledger adds up: cash plus every closed trade's P&L, less the open trade's entry
    # commission, plus its unrealized P&L, is the final equity.
    equity = CASH + math.fsum(t["pnl"] for t in trades)
    if open_trade:
        equity += open_trade["unrealized_pnl"] - abs(open_trade["size"]) * open_trade["entry_price"] * commission
    assert close_to(equity, statistics["Equity Final [$]"], 1e-9), (equity, statistics["Equity Final [$]"])


def render(document):
    """Strict JSON, laid out for readable diffs: a section's keys one per line, a list's elements
    (a trade, an equity point) one per line."""
    sections = []
    for key, value in document.items():
        if isinstance(value, dict):
            body = ",\n".join(f"    {json.dumps(k)}: {compact(v)}" for k, v in value.items())
            text = "{\n" + body + "\n  }"
        elif isinstance(value, list) and value:
            text = "[\n" + ",\n".join(f"    {compact(v)}" for v in value) + "\n  ]"
        else:
            text = compact(value)
        sections.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(sections) + "\n}"


def compact(value):
    return json.dumps(value, allow_nan=False, separators=(", ", ": "))


def main():
    assert backtesting.__version__ == VERSIONS["backtesting"], backtesting.__version__
    assert pd.__version__ == VERSIONS["pandas"], pd.__version__
    assert np.__version__ == VERSIONS["numpy"], np.__version__
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for key, file_name in SAMPLES.items():
        data = read_sample(ROOT / "data" / "sample" / file_name)
        signals = None
        for fractional in (False, True):
            for commission in COMMISSIONS:
                out = fixture(key, file_name, data, commission, fractional)
                # The decisions depend on the closes only: the same in every run of a series.
                run_signals = [(s["bar"], s["direction"]) for s in out["signals"]]
                assert signals is None or run_signals == signals, key
                signals = run_signals
                suffix = "_fractional" if fractional else ""
                target = OUT_DIR / f"{key}_sma{FAST}_{SLOW}_c{commission:g}{suffix}.json"
                target.write_text(render(out) + "\n")
                s = out["stats"]
                print(f"wrote {target.relative_to(ROOT)}: {s['# Trades']} closed trades, "
                      f"open trade: {'yes' if out['open_trade'] else 'no'}, "
                      f"{len(out['cancelled_orders'])} cancelled orders, "
                      f"{sum(1 for x in out['signals'] if x['direction'] == 'cross_up' and x['position_open'])} "
                      f"cross-ups while long, "
                      f"Equity Final {s['Equity Final [$]']!r}")


if __name__ == "__main__":
    main()
