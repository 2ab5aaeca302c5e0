"""The benchmark's input files: the W1/W3 slice of the BTC sample and the generated W2 series.

Both are written once under `bench/.data/` (git-ignored) in the sample data's CSV format (header
`date,open,high,low,close,volume`, `YYYY-MM-DD` days, plain decimals, LF, trailing newline), so that
every engine, Barter included, reads the very same text.

* `w1_btc_last2000.csv`: the header and the last 2,000 rows of `data/sample/btc-usd-daily.csv`,
  copied as text (no float round-trip), 2020-07-16 .. 2026-01-05.
* `w2_1m.csv`: 1,000,000 generated daily bars, see `write_w2`.
* `w6_500x2500.csv`: 500 generated instruments x 2,500 daily bars in one long file, header
  `symbol,date,open,high,low,close,volume`, sorted by symbol then day, see `write_w6`.
"""

import datetime
import hashlib
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "bench" / ".data"
BTC_SAMPLE = ROOT / "data" / "sample" / "btc-usd-daily.csv"
HEADER = "date,open,high,low,close,volume"

W1_ROWS = 2_000
W1_PATH = DATA_DIR / "w1_btc_last2000.csv"

W2_ROWS = 1_000_000
W2_PATH = DATA_DIR / "w2_1m.csv"
W2_SEED = 20_261_124
W2_START = datetime.date(1970, 1, 1)
W2_ANCHOR = 1_000.0   # the price the walk is pulled towards
W2_SIGMA = 0.01       # daily log-return volatility, about SPY's (BTC's is ~3.5 %)
W2_THETA = 0.0001     # pull towards the anchor per bar (half-life ~6,900 bars)
W2_GAP_SIGMA = 0.002  # open vs previous close
W2_WICK_SIGMA = 0.01  # high above max(open, close), low below min(open, close)
W2_DESCRIPTION = (
    f"numpy.random.default_rng({W2_SEED}); z, u, v, w, q = five standard_normal({W2_ROWS}) draws "
    f"in that order; x[0] = 0, x[t] = (1 - {W2_THETA}) * x[t-1] + {W2_SIGMA} * z[t]; "
    f"close[t] = {W2_ANCHOR:g} * exp(x[t]); open[0] = {W2_ANCHOR:g}, "
    f"open[t] = close[t-1] * exp({W2_GAP_SIGMA} * u[t]) (the unrounded close); "
    f"high = max(open, close) * exp(|{W2_WICK_SIGMA} * v|), low = min(open, close) * exp(-|{W2_WICK_SIGMA} * w|); "
    "prices rounded to 4 decimals, then high = max(high, open, close) and low = min(low, open, close) "
    "so the rounded candle stays consistent; volume = 1000 * exp(0.5 * q) rounded to 6 decimals; "
    f"days consecutive from {W2_START.isoformat()}"
)

W6_INSTRUMENTS = 500
W6_ROWS = 2_500
W6_PATH = DATA_DIR / "w6_500x2500.csv"
W6_HEADER = "symbol," + HEADER
W6_SEED = 20_261_207
W6_START = datetime.date(2000, 1, 1)
W6_THETA = 0.002        # pull towards each instrument's anchor per bar (half-life ~350 bars)
W6_GAP_SIGMA = 0.002    # open vs previous close
W6_WICK_SIGMA = 0.01    # high above max(open, close), low below min(open, close)
W6_DESCRIPTION = (
    f"numpy.random.default_rng({W6_SEED}); per instrument j (symbols S000 .. S{W6_INSTRUMENTS - 1:03d}) "
    f"anchor[j] = exp(uniform(log 20, log 500)) and sigma[j] = uniform(0.01, 0.03) "
    f"({W6_INSTRUMENTS} draws each, in that order), then z, u, v, w, q = five standard_normal(({W6_ROWS}, "
    f"{W6_INSTRUMENTS})) draws in that order; x[0] = 0, x[t] = (1 - {W6_THETA}) * x[t-1] + sigma * z[t]; "
    "close[t] = anchor * exp(x[t]); open[0] = anchor, "
    f"open[t] = close[t-1] * exp({W6_GAP_SIGMA} * u[t]); "
    f"high = max(open, close) * exp(|{W6_WICK_SIGMA} * v|), low = min(open, close) * exp(-|{W6_WICK_SIGMA} * w|); "
    "prices rounded to 4 decimals, then high/low widened to hold the rounded open and close; "
    "volume = 1000 * exp(0.5 * q) rounded to 6 decimals; "
    f"days consecutive from {W6_START.isoformat()} (every instrument has every day)"
)


def ensure_w1():
    """Write the W1/W3 slice if it is missing (cheap, so it is always checked against the sample)."""
    lines = BTC_SAMPLE.read_text().splitlines()
    assert lines[0] == HEADER, lines[0]
    text = "\n".join([HEADER] + lines[-W1_ROWS:]) + "\n"
    if not W1_PATH.exists() or W1_PATH.read_text() != text:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        W1_PATH.write_text(text)
    return W1_PATH


def ensure_w2():
    if not W2_PATH.exists():
        write_w2(W2_PATH)
    return W2_PATH


def candles(x, draws, anchor, gap_sigma, wick_sigma):
    """W2's and W6's candles from a log-price walk `x` (days first; one column per instrument for
    W6) and the draws u, v, w, q: open, high, low and close rounded to 4 decimals (high and low
    widened to hold the rounded open and close) and volumes to 6."""
    u, v, w, q = draws
    close = anchor * np.exp(x)
    open_ = np.empty(x.shape)
    open_[0] = anchor
    open_[1:] = close[:-1] * np.exp(gap_sigma * u[1:])
    high = np.maximum(open_, close) * np.exp(np.abs(wick_sigma * v))
    low = np.minimum(open_, close) * np.exp(-np.abs(wick_sigma * w))
    open_, high, low, close = (np.round(a, 4) for a in (open_, high, low, close))
    high = np.maximum.reduce([high, open_, close])
    low = np.minimum.reduce([low, open_, close])
    volume = np.round(1_000.0 * np.exp(0.5 * q), 6)
    assert low.min() > 0
    return open_, high, low, close, volume


def write_w2(path):
    """A geometric random walk, with a weak pull towards a fixed price.

    A pure geometric random walk with a daily-like volatility wanders by about e^(±0.01 * 1000) =
    e^(±10) over a million bars, which is no longer a price. Pulling the log price towards log(1000)
    (an Ornstein-Uhlenbeck process in log price, stationary standard deviation
    0.01 / sqrt(2 * 0.0001) = 0.71) keeps it within 88 .. 6,835 for this seed, while any stretch of
    a few hundred bars still looks like a plain random walk to a 10/20 SMA crossover.

    The volatility and the pull were picked (from four combinations tried, with this one seed) so
    that the 10/20 strategy's equity stays in a sane range: all-in trades compound, and with
    sigma 0.02 / theta 0.001 the 27,600 trades took 10,000 down to 0.02, where a 1e-8-unit
    position is a visible fraction of the equity and the engines' sizing rounding starts to show.
    Here the equity stays within ~2,400 .. 1.9 million and ends near 69,000.

    Four decimals rather than the sample's usual two: with two, an exact decimal tie between SMA10
    and SMA20 happens every few ten thousand bars, and at a tie the engines' cross rules legitimately
    differ (see the semantics note), which would blur the agreement check for no benefit.
    """
    rng = np.random.default_rng(W2_SEED)
    z, u, v, w, q = (rng.standard_normal(W2_ROWS) for _ in range(5))
    # The recursion is sequential; a plain loop over a list is ~0.3 s here and obviously right.
    x = [0.0] * W2_ROWS
    keep = 1.0 - W2_THETA
    for t in range(1, W2_ROWS):
        x[t] = keep * x[t - 1] + W2_SIGMA * z[t]
    open_, high, low, close, volume = candles(
        np.array(x), (u, v, w, q), W2_ANCHOR, W2_GAP_SIGMA, W2_WICK_SIGMA)

    days = np.datetime_as_string(
        np.datetime64(W2_START.isoformat(), "D") + np.arange(W2_ROWS), unit="D")
    # '%.4f' of an already rounded double prints the intended decimal; strip trailing zeros so the
    # numbers look like the samples' ("1000.5", not "1000.5000").
    def fmt(a, decimals):
        return [f"{x:.{decimals}f}".rstrip("0").rstrip(".") for x in a.tolist()]

    columns = [days.tolist(), fmt(open_, 4), fmt(high, 4), fmt(low, 4), fmt(close, 4), fmt(volume, 6)]
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="\n") as f:
        f.write(HEADER + "\n")
        f.writelines(",".join(row) + "\n" for row in zip(*columns))
    tmp.replace(path)


def ensure_w6():
    if not W6_PATH.exists():
        write_w6(W6_PATH)
    return W6_PATH


def write_w6(path):
    """W2's recipe for 500 instruments at once, over 2,500 days, each with its own price level
    and volatility (daily 1 % .. 3 %: index-like to crypto-like).

    The pull towards the anchor (stationary standard deviation of the log price
    sigma / sqrt(2 * 0.002), 0.16 .. 0.47) keeps every price within a few times its anchor, so no
    instrument drifts down to where 4-decimal rounding is a visible fraction of its price. Over
    2,500 bars the walk is still a random walk to a 10/20 SMA crossover."""
    n, rows = W6_INSTRUMENTS, W6_ROWS
    rng = np.random.default_rng(W6_SEED)
    anchor = np.exp(rng.uniform(np.log(20.0), np.log(500.0), n))
    sigma = rng.uniform(0.01, 0.03, n)
    z, u, v, w, q = (rng.standard_normal((rows, n)) for _ in range(5))
    x = np.zeros((rows, n))
    keep = 1.0 - W6_THETA
    for t in range(1, rows):
        x[t] = keep * x[t - 1] + sigma * z[t]
    open_, high, low, close, volume = candles(x, (u, v, w, q), anchor, W6_GAP_SIGMA, W6_WICK_SIGMA)

    days = np.datetime_as_string(
        np.datetime64(W6_START.isoformat(), "D") + np.arange(rows), unit="D").tolist()

    def fmt(a, decimals):
        return [f"{x:.{decimals}f}".rstrip("0").rstrip(".") for x in a.tolist()]

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="\n") as f:
        f.write(W6_HEADER + "\n")
        for j in range(n):
            symbol = [f"S{j:03d}"] * rows
            columns = [symbol, days, fmt(open_[:, j], 4), fmt(high[:, j], 4), fmt(low[:, j], 4),
                       fmt(close[:, j], 4), fmt(volume[:, j], 6)]
            f.writelines(",".join(row) + "\n" for row in zip(*columns))
    tmp.replace(path)


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


if __name__ == "__main__":
    for p in (ensure_w1(), ensure_w2(), ensure_w6()):
        print(f"{p.relative_to(ROOT)}: sha256 {sha256(p)}")
