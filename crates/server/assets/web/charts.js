// Barter dashboard charts, drawn with the vendored Lightweight Charts (window.LightweightCharts).
// Every element with data-chart="candles" or data-chart="equity" is drawn from the JSON in the
// <script type="application/json"> element named by its data-source attribute:
//   candles: { candles: [{time, open, high, low, close, volume}],
//              overlays: [{name, points: [{time, value}], pane}],
//                (pane 0 or absent: on the candles, in price units; 1: a pane below, for
//                 oscillators such as rsi, in their own units)
//              markers: [{time, kind: "entry"|"exit", label, text}] }
//   equity:  { equity: [{time, value}], drawdown: [{time, value}] }  (drawdown in %, <= 0)
// Times are "YYYY-MM-DD" days (UTC). Hovering a day with markers shows their text. A candles
// chart with data-recent-bars="N" starts on its latest N days instead of the whole history.
"use strict";

(() => {
  const LC = window.LightweightCharts;
  const OVERLAY_COLOURS = ["#2962ff", "#ff6d00", "#8e24aa", "#00897b", "#c2185b", "#5d4037"];

  function baseChart(element) {
    return LC.createChart(element, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#1f2933", attributionLogo: true },
      grid: { vertLines: { color: "#eef1f4" }, horzLines: { color: "#eef1f4" } },
      rightPriceScale: { borderColor: "#d0d7de" },
      timeScale: { borderColor: "#d0d7de" },
      localization: { dateFormat: "yyyy-MM-dd" },
    });
  }

  function legend(element, items) {
    const list = document.createElement("ul");
    list.className = "chart-legend";
    for (const [name, colour] of items) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour;
      item.append(swatch, name);
      list.appendChild(item);
    }
    element.parentNode.insertBefore(list, element.nextSibling);
  }

  function tooltip(element) {
    const box = document.createElement("div");
    box.className = "chart-tooltip";
    box.setAttribute("role", "status");
    box.hidden = true;
    element.appendChild(box);
    return box;
  }

  // How much taller a candle chart grows when it has a lower pane, and that pane's share.
  const LOWER_PANE_PX = 140;
  const LOWER_PANE_SHARE = 0.3;

  function drawCandles(element, data) {
    const overlays = (data.overlays ?? []).map((o) => ({ ...o, pane: o.pane > 0 ? 1 : 0 }));
    const lower = overlays.some((o) => o.pane === 1);
    if (lower) element.style.height = `${element.clientHeight + LOWER_PANE_PX}px`;
    const chart = baseChart(element);
    const candles = chart.addSeries(LC.CandlestickSeries, {
      upColor: "#1a7f37", downColor: "#cf222e", borderVisible: false,
      wickUpColor: "#1a7f37", wickDownColor: "#cf222e",
    });
    candles.setData(data.candles.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
    // The candles keep the top three quarters; the volume bars the bottom fifth, below them.
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    const volume = chart.addSeries(LC.HistogramSeries, {
      priceScaleId: "volume", priceFormat: { type: "volume" }, color: "#b6c2cf", lastValueVisible: false,
      priceLineVisible: false,
    });
    volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    volume.setData(data.candles.map((c) => ({
      time: c.time, value: c.volume ?? 0, color: c.close >= c.open ? "#a7d8b4" : "#f2b8bc",
    })));
    const legendItems = [];
    overlays.forEach((overlay, i) => {
      const colour = OVERLAY_COLOURS[i % OVERLAY_COLOURS.length];
      const line = chart.addSeries(LC.LineSeries, {
        color: colour, lineWidth: 2, priceLineVisible: false, lastValueVisible: false, title: "",
      }, overlay.pane);
      line.setData(overlay.points);
      legendItems.push([overlay.pane ? `${overlay.name} (lower pane)` : overlay.name, colour]);
    });
    if (lower) {
      const panes = chart.panes();
      panes[0].setStretchFactor(1 - LOWER_PANE_SHARE);
      panes[1].setStretchFactor(LOWER_PANE_SHARE);
    }
    const markers = (data.markers ?? []).slice().sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    LC.createSeriesMarkers(candles, markers.map((m) => ({
      time: m.time,
      position: m.kind === "entry" ? "belowBar" : "aboveBar",
      shape: m.kind === "entry" ? "arrowUp" : "arrowDown",
      color: m.kind === "entry" ? "#1a7f37" : "#cf222e",
      text: m.label ?? "",
    })));
    if (legendItems.length) legend(element, legendItems);
    const box = tooltip(element);
    const byDay = new Map();
    for (const m of markers) {
      if (!byDay.has(m.time)) byDay.set(m.time, []);
      byDay.get(m.time).push(m.text);
    }
    chart.subscribeCrosshairMove((param) => {
      const texts = param.time !== undefined ? byDay.get(param.time) : undefined;
      if (!texts || !param.point) { box.hidden = true; return; }
      box.textContent = "";
      for (const text of texts) {
        const line = document.createElement("p");
        line.textContent = text;
        box.appendChild(line);
      }
      box.hidden = false;
      const left = Math.min(param.point.x + 12, element.clientWidth - box.offsetWidth - 4);
      box.style.left = `${Math.max(left, 4)}px`;
      box.style.top = "8px";
    });
    // Years of candles make each day thinner than a pixel: a chart with data-recent-bars starts
    // on that many of the latest days (scroll or zoom out for the rest), where a marker can be
    // hovered; others show the whole period.
    const bars = data.candles.length;
    const recent = Number(element.dataset.recentBars);
    if (recent > 0 && bars > recent) {
      chart.timeScale().setVisibleLogicalRange({ from: bars - recent, to: bars + 2 });
    } else {
      chart.timeScale().fitContent();
    }
    return chart;
  }

  function drawEquity(element, data) {
    const chart = baseChart(element);
    const equity = chart.addSeries(LC.AreaSeries, {
      lineColor: "#2962ff", topColor: "rgba(41, 98, 255, 0.25)", bottomColor: "rgba(41, 98, 255, 0.02)",
      lineWidth: 2, priceLineVisible: false,
    });
    equity.setData(data.equity);
    const items = [["Equity", "#2962ff"]];
    if (data.drawdown?.length) {
      const drawdown = chart.addSeries(LC.AreaSeries, {
        lineColor: "#cf222e", topColor: "rgba(207, 34, 46, 0.02)", bottomColor: "rgba(207, 34, 46, 0.3)",
        lineWidth: 1, priceLineVisible: false, invertFilledArea: true,
        priceFormat: { type: "custom", formatter: (v) => `${v.toFixed(2)} %` },
      }, 1);
      drawdown.setData(data.drawdown);
      items.push(["Drawdown (%)", "#cf222e"]);
    }
    legend(element, items);
    chart.timeScale().fitContent();
    return chart;
  }

  function draw(element) {
    const source = document.getElementById(element.dataset.source);
    if (!source || !LC) return;
    const data = JSON.parse(source.textContent);
    const empty = element.dataset.chart === "candles" ? !data.candles?.length : !data.equity?.length;
    if (empty) {
      element.classList.add("chart-empty");
      element.textContent = element.dataset.empty ?? "Nothing to chart yet.";
      return;
    }
    const chart = element.dataset.chart === "candles" ? drawCandles(element, data) : drawEquity(element, data);
    element.dataset.drawn = "true";
    element.chart = chart;
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-chart]").forEach(draw);
  });

  window.BarterCharts = { draw };
})();
