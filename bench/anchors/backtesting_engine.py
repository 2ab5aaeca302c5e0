"""backtesting.py (`FractionalBacktest`, 1e-8 units), as in `bench/backtesting_reference.py`."""

import warnings

import backtesting
import pandas as pd
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover

from engines import CASH, FRACTIONAL_UNIT, W3_FAST, W3_SLOW, Clock


def SMA(values, n):
    """backtesting.test.SMA: pandas' rolling mean."""
    return pd.Series(values).rolling(n).mean()


class SmaCross(Strategy):
    fast = 10
    slow = 20
    # The series' own closes. FractionalBacktest hands the strategy closes multiplied by 1e-8, and
    # an SMA of those rounds differently, which can turn a near-tie into an exact one (see the
    # fixtures' README). The SMAs use the unscaled closes, like the reference script, so
    # backtesting.py decides on the same numbers as the other engines. A class attribute of a
    # module-level class because optimize() pickles the strategy class by name for its worker
    # processes, which are forked and so inherit the attribute.
    signal_close = None

    def init(self):
        self.sma_fast = self.I(SMA, self.signal_close, self.fast, name="SMA(fast)")
        self.sma_slow = self.I(SMA, self.signal_close, self.slow, name="SMA(slow)")

    def next(self):
        if crossover(self.sma_fast, self.sma_slow):
            self.buy()
        elif crossover(self.sma_slow, self.sma_fast):
            self.position.close()


class BacktestingPy:
    version = backtesting.__version__

    def prepare(self, df):
        SmaCross.signal_close = df["Close"].to_numpy(copy=True)
        return df

    @staticmethod
    def _backtest(data, commission):
        return FractionalBacktest(data, SmaCross, fractional_unit=FRACTIONAL_UNIT, cash=CASH,
                                  commission=commission, exclusive_orders=True, trade_on_close=False)

    def single(self, data, fast, slow, commission):
        """One backtest. Timed: FractionalBacktest's constructor (it copies the data and scales the
        prices by 1e-8), the SMAs, the bar loop, and the statistics (run() always computes them)."""
        clock = Clock()
        with warnings.catch_warnings():
            # "Data index is not datetime" (W2) and similar notices, not errors.
            warnings.simplefilter("ignore")
            stats = self._backtest(data, commission).run(fast=fast, slow=slow)
        clock.lap("backtest_and_stats")
        return self._outcome(stats), clock.phases

    def sweep(self, data, commission):
        """W3. Timed: the whole Backtest.optimize call, i.e. 1,590 backtests (each with its full
        statistics, which optimize computes to read `maximize` from), run by its own process pool
        (multiprocessing, one worker per core: 2 here), plus the final re-run of the best cell."""
        clock = Clock()
        with warnings.catch_warnings():
            # "Searching for best of 1590 configurations."
            warnings.simplefilter("ignore")
            stats, heatmap = self._backtest(data, commission).optimize(
                fast=W3_FAST, slow=W3_SLOW, constraint=lambda p: p.fast < p.slow,
                maximize="Equity Final [$]", return_heatmap=True)
        clock.lap("optimize")
        outcome = self._outcome(stats)
        strategy = stats["_strategy"]
        outcome["best"] = {"fast": int(strategy.fast), "slow": int(strategy.slow)}
        # Cells with no closed trade are left out of optimize's ranking (NaN in the heatmap).
        outcome["grid"] = [[int(f), int(s), None if pd.isna(e) else float(e)]
                           for (f, s), e in heatmap.items()]
        return outcome, clock.phases

    @staticmethod
    def _outcome(stats):
        return {
            "final_equity": float(stats["Equity Final [$]"]),
            "trades": int(stats["# Trades"]),  # closed trades only (finalize_trades=False)
            "open_trades": len(stats["_strategy"].trades),
        }
