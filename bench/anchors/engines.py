"""What the two anchors share: the scenario's constants, the W3 grid, reading the data, timing.

The scenario is the one of `bench/backtesting_reference.py` and the semantics note: long-only SMA
fast/slow crossover on the close, buy with all the cash on a cross up, close on a cross down, every
fill at the next bar's open, cash 10,000, spread 0, fractional sizes (backtesting.py: whole multiples
of 1e-8; vectorbt: unrounded, see `vectorbt_engine.py`).

Each engine (`backtesting_engine.BacktestingPy`, `vectorbt_engine.Vectorbt`) has `prepare(df)`
(untimed: the data in the shape the engine wants), `single(prepared, fast, slow, commission)` (W1,
W2) and `sweep(prepared, commission)` (W3). Those two are one timed call each: they get the data
already in memory (CSV loading is never timed) and return `(outcome, phases)`, where `phases`
splits their wall time into named parts where the engine's API allows it.
"""

import importlib
import time

import pandas as pd

CASH = 10_000
FRACTIONAL_UNIT = 1e-8  # FractionalBacktest's default (1 / 100e6)
W3_FAST = range(5, 51)
W3_SLOW = range(20, 201, 5)
# W6: the crossover over 500 instruments with shared cash; each entry spends a fixed amount, fee
# included, and at most `max_open_positions` positions are open at once (see anchors.py).
W6 = {"fast": 10, "slow": 20, "cash": 1_000_000, "amount": 10_000, "max_open_positions": 50}

# Imported on demand, so that a vectorbt worker process never imports backtesting (and bokeh),
# nor a backtesting.py one vectorbt (and numba).
ENGINES = {
    "backtesting": ("backtesting_engine", "BacktestingPy"),
    "vectorbt": ("vectorbt_engine", "Vectorbt"),
}


def engine(key):
    module, cls = ENGINES[key]
    return getattr(importlib.import_module(module), cls)()


def w3_grid():
    """The W3 combinations in the order both anchors enumerate them: fast outer, slow inner, which
    is also the order that breaks ties in the ranking (the first maximum wins)."""
    grid = [(f, s) for f in W3_FAST for s in W3_SLOW if f < s]
    assert len(grid) == 1_590, len(grid)
    return grid


def read_csv(path, datetime_index):
    """Read a sample-format CSV into Open/High/Low/Close/Volume columns.

    pandas' default float parser gives the same doubles as Python's correctly rounded `float` on
    every number of both benchmark files (checked once, all 6M values of W2), so the anchors see
    exactly the numbers Barter parses.

    W2's days run to the year 4707, past pandas' Timestamp range (2262), so W2 gets a RangeIndex:
    bar numbers, with vectorbt told `freq='1D'` and backtesting.py falling back to "simple periods"."""
    df = pd.read_csv(path, usecols=["date", "open", "high", "low", "close", "volume"])
    if datetime_index:
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("date"), format="%Y-%m-%d"), name="date")
    else:
        df = df.drop(columns="date")
    df.columns = [c.capitalize() for c in df.columns]
    return df


def read_w6(path):
    """The long W6 file as Open and Close frames: days x instruments, columns in symbol order
    (the order Barter decides a day's entries in)."""
    df = pd.read_csv(path, usecols=["symbol", "date", "open", "close"])
    df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d")
    open_ = df.pivot(index="date", columns="symbol", values="open").sort_index(axis=1)
    close = df.pivot(index="date", columns="symbol", values="close").sort_index(axis=1)
    assert not open_.isna().any().any() and not close.isna().any().any(), "W6 has gaps"
    return open_, close


class Clock:
    """Splits one timed call into consecutive phases; the phases add up to the total."""

    def __init__(self):
        self.phases = {}
        self._last = time.perf_counter()

    def lap(self, name):
        now = time.perf_counter()
        self.phases[name] = now - self._last
        self._last = now
