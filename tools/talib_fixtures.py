"""Generate the TA-Lib reference fixtures for barter-core's indicator tests.

The fixtures are independent reference values: TA-Lib's own C implementation (through the
`TA-Lib` package on PyPI) run over the committed sample data. They are generated once and
committed; `crates/core/tests/indicators_talib.rs` compares `barter_core::indicators` with them
row by row, warm-up rows included.

Regenerate (from the repository root):

    pip install TA-Lib==0.8.2 numpy
    python3 tools/talib_fixtures.py

This reads `data/sample/{btc,spy}-usd-daily.csv` (header `date,open,high,low,close,volume`) and
writes `crates/core/tests/fixtures/talib/{btc,spy}.csv`: the columns `date,open,high,low,close`,
then one column per indicator output, named `<function>_<params>[_<output>]`. A cell is empty
where TA-Lib returns NaN (its warm-up); numbers are written with `repr`, which round-trips every
double exactly (at most 17 significant digits).

TA-Lib rejects period 1 for RSI (its minimum is 2), so only the period-2 RSI variant is written;
the Rust tests check that `rsi(x, 1)` is rejected instead.

The committed files were made with TA-Lib 0.8.2 (C library 0.8.1) on an x86-64 CPU with FMA.
TA-Lib picks fused multiply-add code for EMA, MACD, ATR and BBANDS at run time on such CPUs, and
barter-core mirrors that with `f64::mul_add`, so the Rust results are bit-identical to these
files. Regenerated on a CPU without FMA, a few cells may move in the last bit (far inside the
tests' 1e-9 tolerance).
"""

import csv
import pathlib

import numpy as np
import talib

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = {"btc": "btc-usd-daily.csv", "spy": "spy-usd-daily.csv"}
OUT_DIR = ROOT / "crates" / "core" / "tests" / "fixtures" / "talib"


def read_sample(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = {name: [row[name] for row in rows] for name in ("date", "open", "high", "low", "close")}
    numbers = {name: np.array([float(v) for v in columns[name]], dtype=np.float64) for name in ("open", "high", "low", "close")}
    return columns, numbers


def indicators(n):
    """Column name -> TA-Lib output, every array as long as the input."""
    c, h, lo = n["close"], n["high"], n["low"]
    out = {
        "sma_20": talib.SMA(c, 20),
        "ema_20": talib.EMA(c, 20),
        "wma_20": talib.WMA(c, 20),
        "rsi_14": talib.RSI(c, 14),
        "stddev_20_1": talib.STDDEV(c, 20, 1),
        "max_20": talib.MAX(c, 20),
        "min_20": talib.MIN(c, 20),
        "roc_10": talib.ROC(c, 10),
        "atr_14": talib.ATR(h, lo, c, 14),
        "sma_1": talib.SMA(c, 1),
        "sma_2": talib.SMA(c, 2),
        "ema_1": talib.EMA(c, 1),
        "ema_2": talib.EMA(c, 2),
        "rsi_2": talib.RSI(c, 2),
    }
    line, signal, hist = talib.MACD(c, 12, 26, 9)
    out.update({"macd_12_26_9_line": line, "macd_12_26_9_signal": signal, "macd_12_26_9_hist": hist})
    upper, middle, lower = talib.BBANDS(c, 20, 2, 2, talib.MA_Type.SMA)
    out.update({"bbands_20_2_upper": upper, "bbands_20_2_middle": middle, "bbands_20_2_lower": lower})
    return out


def cell(v):
    return "" if np.isnan(v) else repr(float(v))


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for key, file_name in SAMPLES.items():
        columns, numbers = read_sample(ROOT / "data" / "sample" / file_name)
        values = indicators(numbers)
        header = ["date", "open", "high", "low", "close", *values]
        target = OUT_DIR / f"{key}.csv"
        with open(target, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            for i, date in enumerate(columns["date"]):
                prices = [columns[name][i] for name in ("open", "high", "low", "close")]
                w.writerow([date, *prices, *(cell(series[i]) for series in values.values())])
        print(f"wrote {target.relative_to(ROOT)} ({len(columns['date'])} rows, {len(values)} outputs)")


if __name__ == "__main__":
    main()
