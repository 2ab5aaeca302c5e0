"""vectorbt (`Portfolio.from_signals`, numba kernels), used the way its documentation shows."""

import warnings

import numpy as np
import vectorbt as vbt
from numba import njit
from vectorbt._engine import resolve_engine
from vectorbt.portfolio import nb as pf_nb

from engines import CASH, W6, Clock, w3_grid


@njit(cache=True)
def capped_signal_func_nb(c, entries, exits, state, cap):
    """W6's entries and exits with a cap on open positions across the group, the way Barter's
    `max_open_positions` counts them: an entry passes while the positions open at the end of the
    previous bar, plus the entries already passed on this bar (lower columns, i.e. symbols that
    sort first), are fewer than `cap`; exits on this bar still count as open (Barter decides a
    day's entries before its exits). from_signals calls this once per column in column order
    for every row before it executes any of that row's orders (`simulate_from_signal_func_nb`),
    and with fixed-value sizing and cash that never runs short every signal returned here fills,
    so counting the signals counts the positions (checked after the run, untimed).

    state: [row being decided, positions open before it, entries passed on it, exits on it]."""
    if c.i != state[0]:
        state[1] += state[2] - state[3]
        state[0] = c.i
        state[2] = 0
        state[3] = 0
    is_entry = False
    is_exit = False
    if c.position_now > 0:
        if pf_nb.get_elem_nb(c, exits):
            is_exit = True
            state[3] += 1
    elif pf_nb.get_elem_nb(c, entries):
        if state[1] + state[2] < cap:
            is_entry = True
            state[2] += 1
    return is_entry, is_exit, False, False


class Vectorbt:
    version = vbt.__version__

    def __init__(self):
        # vectorbt >= 1.2 runs some kernels in Rust when the optional vectorbt-rust package is
        # installed (settings engine 'auto'); this benchmark measures the default install: numba.
        # (Tried once here with vectorbt-rust 1.2.0, same process, alternating: W1 the same, W2
        # 14 % faster, W3 70 % slower; not a faster anchor overall.)
        self.kernel_engine = resolve_engine()

    def prepare(self, df):
        return df["Open"], df["Close"]

    def _signals(self, close, fast, slow):
        """The crossovers on the close, shifted one bar later: vectorbt fills an order at `price`
        of the bar where the signal is, so a decision made at bar t's close must sit on bar t+1 to
        be filled at Open[t+1] (from_signals' docstring: "If you generated signals using close
        price, don't forget to shift your signals by one tick forward"). Passing price=open without
        the shift would fill at the open of the very bar whose close made the decision, i.e. look
        ahead. signals.fshift keeps the boolean dtype (fill False); a signal on the last bar falls
        off the end and is never filled, as in backtesting.py."""
        fast_ma = vbt.MA.run(close, fast, short_name="fast")
        slow_ma = vbt.MA.run(close, slow, short_name="slow")
        entries = fast_ma.ma_crossed_above(slow_ma).vbt.signals.fshift(1)
        exits = fast_ma.ma_crossed_below(slow_ma).vbt.signals.fshift(1)
        return entries, exits

    def _portfolio(self, open_, close, entries, exits, fees):
        # size=inf: as much as the cash buys after fees, cash / (open * (1 + fees)) units, not
        # rounded. FractionalBacktest floors that to a multiple of 1e-8, which leaves up to
        # 1e-8 * open of idle cash per trade (~1e-9 of the equity here). vectorbt's own rounding,
        # size_granularity=1e-8, cannot be used: its sell side floors the position again
        # (`size // 1e-8 * 1e-8`), which for a position that is already a multiple of 1e-8 often
        # gives one unit less because 1e-8 is not exact in binary; the 1e-8 left over is then too
        # small to sell (SizeZero) and keeps the position "open", so no later entry ever fills
        # (W1: 2 trades instead of 52). direction is long-only by default, a cross up while long is
        # ignored (accumulate=False), and `close` marks the position at every bar's close.
        return vbt.Portfolio.from_signals(
            close, entries, exits, price=open_, size=np.inf, fees=fees, init_cash=CASH, freq="1D")

    def single(self, data, fast, slow, commission):
        """One backtest. Timed: both MAs, both crossover arrays and their shift, from_signals (the
        simulation: orders, cash, positions), and pf.stats() (all default metrics, computed from
        the order records on demand). The phases let the report show the time without stats."""
        open_, close = data
        clock = Clock()
        entries, exits = self._signals(close, fast, slow)
        clock.lap("signals")
        pf = self._portfolio(open_, close, entries, exits, commission)
        clock.lap("portfolio")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pf.stats()
        clock.lap("stats")
        # One column: vectorbt returns scalars here.
        trades = pf.trades
        outcome = {
            "final_equity": float(pf.final_value()),
            "trades": int(trades.closed.count()),
            "open_trades": int(trades.open.count()),
        }
        return outcome, clock.phases

    def sweep(self, data, commission):
        """W3, vectorbt's idiomatic parameter sweep: one MA indicator per side with a window per
        column (the MA indicator computes each distinct window once and fans it out), crossovers
        over all 1,590 columns at once, one from_signals over all columns, then the final value of
        every column and its maximum. Timed: all of that. Not timed: the best column's trade count."""
        open_, close = data
        grid = w3_grid()
        clock = Clock()
        entries, exits = self._signals(close, [f for f, _ in grid], [s for _, s in grid])
        clock.lap("signals")
        pf = self._portfolio(open_, close, entries, exits, commission)
        clock.lap("portfolio")
        final = pf.final_value()
        best = final.idxmax()  # the first maximum in grid order
        clock.lap("rank")
        assert list(final.index) == grid, "columns are not in grid order"
        trades = pf.trades
        outcome = {
            "final_equity": float(final[best]),
            "trades": int(trades.closed.count()[best]),
            "open_trades": int(trades.open.count()[best]),
            "best": {"fast": int(best[0]), "slow": int(best[1])},
            "grid": [[int(f), int(s), float(e)] for (f, s), e in final.items()],
        }
        return outcome, clock.phases

    def portfolio(self, data, fees):
        """W6: one SMA crossover over every column of a (days x instruments) frame, one group with
        shared cash, a fixed cash amount per entry and a cap on open positions (the cap through
        from_signals' `signal_func_nb`, vectorbt's hook for signals that depend on the
        simulation's state; it has no cap of its own). Timed: both MAs over all columns, the
        crossovers and their shift, from_signals, pf.stats() of the group."""
        open_, close = data
        clock = Clock()
        fast_ma = vbt.MA.run(close, W6["fast"], short_name="fast")
        slow_ma = vbt.MA.run(close, W6["slow"], short_name="slow")
        entries = fast_ma.ma_crossed_above(slow_ma).vbt.signals.fshift(1).to_numpy()
        exits = fast_ma.ma_crossed_below(slow_ma).vbt.signals.fshift(1).to_numpy()
        clock.lap("signals")
        state = np.array([-1, 0, 0, 0], dtype=np.int64)
        # size_type='value' buys size / price units and adds the fee on top; Barter's
        # `Sizing::Amount` spends the amount fee included, hence amount / (1 + fee).
        pf = vbt.Portfolio.from_signals(
            close,
            signal_func_nb=capped_signal_func_nb,
            signal_args=(vbt.Rep("entries"), vbt.Rep("exits"), state, W6["max_open_positions"]),
            broadcast_named_args=dict(entries=entries, exits=exits),
            price=open_, size=W6["amount"] / (1 + fees), size_type="value", fees=fees,
            init_cash=W6["cash"], cash_sharing=True, group_by=True, freq="1D")
        clock.lap("portfolio")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pf.stats()
        clock.lap("stats")
        trades = pf.trades
        outcome = {
            "final_equity": float(pf.final_value()),
            "trades": int(trades.closed.count()),
            "open_trades": int(trades.open.count()),
        }
        self._last_pf = pf
        return outcome, clock.phases

    def after_run(self, outcome):
        """Untimed, after every W6 run: checks the conditions the cap's emulation relies on on the
        run's portfolio, then lets it go. Every buy is the full amount (cash never ran short, so
        no order was cut or refused) and at most `max_open_positions` positions are open at any
        close; adds the most positions held at once to the outcome."""
        pf, self._last_pf = self._last_pf, None
        orders = pf.orders.records_readable
        buys = orders[orders["Side"] == "Buy"]
        value = buys["Size"] * buys["Price"] + buys["Fees"]
        assert np.allclose(value, W6["amount"], rtol=1e-12, atol=0), "a buy was not the full amount"
        held = (pf.assets().to_numpy() > 0).sum(axis=1)
        assert held.max() <= W6["max_open_positions"], held.max()
        outcome["max_held"] = int(held.max())

