// Live time series: accidents per county (or severity/state/city) over the chosen range, top N
// with the rest folded into "other". Loaded from /api/metrics/query, then kept current by the
// feed's per-second samples. Hovering the chart (or the pause button) freezes the drawing; data
// keeps accumulating and shows on resume.

import uPlot from "uplot";
import { getJson, metricsQuery, type QueryResult } from "./api";
import type { MetricsFrame } from "./feed";
import { view } from "./state";

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b",
  "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8"];
const OTHER = "other";

// Bucket width per range: about 150-200 points per line.
export function stepFor(rangeS: number): number {
  if (rangeS <= 300) return 2;
  if (rangeS <= 900) return 5;
  if (rangeS <= 3600) return 20;
  if (rangeS <= 21600) return 120;
  return 480;
}

export class SeriesPanel {
  private chart: uPlot | null = null;
  private labels: string[] = [];
  private values = new Map<string, Float64Array>();
  private from = 0;
  private step = 5;
  private n = 0;
  private live = true; // the data's clock is the wall clock (else: replayed history)
  private paused = false;
  private hover = false;
  private dirty = false;
  private loading: AbortController | null = null;
  private shape = ""; // labels the chart was built with
  // Series the user hid from the chart ("other" starts hidden: it would flatten the top N).
  private hidden = new Set<string>([OTHER]);

  constructor(private root: HTMLElement, private legend: HTMLElement, private status: HTMLElement) {
    root.addEventListener("mouseenter", () => { this.hover = true; this.updatePaused(); });
    root.addEventListener("mouseleave", () => { this.hover = false; this.updatePaused(); });
    new ResizeObserver(() => this.resize()).observe(root);
    setInterval(() => this.clockTick(), 1000);
    setInterval(() => { if (this.dirty) this.render(); }, 1000);
    setInterval(() => void this.load(), 60_000); // re-rank the top N now and then
  }

  /** The time window shown: [from, to) in epoch seconds. */
  window(): { from: number; to: number } {
    return { from: this.from, to: this.from + this.n * this.step };
  }

  togglePause(): boolean {
    this.paused = !this.paused;
    this.updatePaused();
    return this.paused;
  }

  private updatePaused() {
    const p = this.paused || this.hover;
    this.root.dataset.paused = String(p);
    this.status.textContent = p ? "paused" : "";
    if (!p && this.dirty) this.render();
  }

  private where(): string | undefined {
    return view.state ? `State=${view.state}` : undefined;
  }

  async load(): Promise<void> {
    this.loading?.abort();
    const ctl = new AbortController();
    this.loading = ctl;
    try {
      // A fresh server has no such metric until a job writes it: say so instead of a 404.
      const list = await getJson<{ metrics: { name: string }[] }>("/api/metrics", ctl.signal);
      if (!list.metrics.some((m) => m.name === view.metric)) {
        this.n = 0;
        this.labels = [];
        this.values.clear();
        this.status.textContent = `waiting for data (no metric '${view.metric}' yet)`;
        this.root.dataset.loaded = "true";
        this.root.dataset.series = "0";
        return;
      }
      if (this.status.textContent?.startsWith("waiting")) this.status.textContent = "";
      // Where does the data end? Live pipelines are at the wall clock; a replay of old events
      // is at its own time, and "the last 15 minutes" means the last 15 minutes of the data.
      const extent = await getJson<QueryResult>(
        metricsQuery({ name: view.metric, where: this.where() }), ctl.signal);
      const wall = Date.now() / 1000;
      let end = wall;
      const last = extent.series[0]?.points.at(-1);
      if (last) {
        const dataEnd = last[0] + extent.step;
        this.live = Math.abs(wall - dataEnd) < 600 || dataEnd > wall;
        end = this.live ? Math.max(wall, dataEnd) : dataEnd;
      }
      this.step = stepFor(view.rangeS);
      this.n = Math.ceil(view.rangeS / this.step);
      const to = Math.floor(end / this.step) * this.step + this.step;
      this.from = to - this.n * this.step;
      const answer = await getJson<QueryResult>(metricsQuery({
        name: view.metric, from: this.from, to, step: this.step, where: this.where(),
        group_by: view.groupBy, top: view.top,
      }), ctl.signal);
      this.labels = [];
      this.values.clear();
      for (const s of answer.series) {
        const label = s.labels[view.groupBy] ?? OTHER;
        const arr = this.ensure(label);
        for (const [t, v] of s.points) {
          const i = Math.floor((t - this.from) / this.step);
          if (i >= 0 && i < this.n) arr[i] += v;
        }
      }
      this.root.dataset.loaded = "true";
      this.render();
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      this.status.textContent = String((e as Error).message);
      this.root.dataset.error = String((e as Error).message);
    }
  }

  private ensure(label: string): Float64Array {
    let arr = this.values.get(label);
    if (!arr) {
      arr = new Float64Array(this.n);
      this.values.set(label, arr);
      this.labels.push(label);
    }
    return arr;
  }

  // Moves the window so that it ends after time t (whole buckets).
  private advanceTo(t: number) {
    const to = this.from + this.n * this.step;
    if (t < to) return;
    const shift = Math.floor((t - to) / this.step) + 1;
    for (const arr of this.values.values()) {
      if (shift >= this.n) arr.fill(0);
      else { arr.copyWithin(0, shift); arr.fill(0, this.n - shift); }
    }
    this.from += shift * this.step;
    this.dirty = true;
  }

  private clockTick() {
    if (this.live && this.n) this.advanceTo(Date.now() / 1000);
  }

  applyFrame(frame: MetricsFrame): void {
    if (frame.metric !== view.metric) return;
    if (!this.n) { void this.load(); return; } // the metric's first samples
    if (frame.truncated) { void this.load(); return; }
    const gi = frame.dimensions.indexOf(view.groupBy);
    const si = frame.dimensions.indexOf("State");
    if (gi < 0) return;
    for (const row of frame.rows) {
      const t = Number(row[0]);
      if (view.state && si >= 0 && row[2 + si] !== view.state) continue;
      this.advanceTo(t);
      const i = Math.floor((t - this.from) / this.step);
      if (i < 0 || i >= this.n) continue;
      let label = String(row[2 + gi]);
      if (!this.values.has(label)) {
        const named = this.labels.filter((l) => l !== OTHER).length;
        if (named >= view.top) label = OTHER;
      }
      this.ensure(label)[i] += Number(row[1]);
      this.dirty = true;
    }
  }

  private displayName(label: string): string {
    return view.groupBy === "Severity" && label !== OTHER ? `Severity ${label}` : label;
  }

  render(): void {
    if (this.paused || this.hover) return;
    this.dirty = false;
    const totals = new Map(this.labels.map((l) => [l, this.values.get(l)!.reduce((a, b) => a + b, 0)]));
    // The chart keeps the order series appeared in (so it is rebuilt only when one appears or
    // is toggled); the legend lists them largest first, "other" last.
    const chartOrder = this.labels;
    const order = [...this.labels].sort((a, b) =>
      a === OTHER ? 1 : b === OTHER ? -1 : totals.get(b)! - totals.get(a)!);
    const xs = Array.from({ length: this.n }, (_, i) => this.from + i * this.step);
    const data: uPlot.AlignedData = [xs, ...chartOrder.map((l) => Array.from(this.values.get(l)!))];
    const shape = `${view.groupBy}|${this.step}|${chartOrder.join("\u001f")}|${[...this.hidden].join("\u001f")}`;
    const colorOf = new Map(chartOrder.map((l, i) => [l, l === OTHER ? "#8a8f98" : PALETTE[i % PALETTE.length]]));
    const color = (l: string) => colorOf.get(l)!;
    if (!this.chart || shape !== this.shape) {
      this.chart?.destroy();
      const rect = this.root.getBoundingClientRect();
      const css = getComputedStyle(document.documentElement);
      const axis = { stroke: css.getPropertyValue("--muted").trim() || "#888",
        grid: { stroke: css.getPropertyValue("--grid").trim() || "#8884", width: 1 },
        ticks: { stroke: css.getPropertyValue("--grid").trim() || "#8884" } };
      this.chart = new uPlot({
        width: Math.max(200, rect.width), height: Math.max(160, rect.height),
        legend: { show: false },
        cursor: { points: { size: 6 } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{ ...axis, space: 90 }, { ...axis, size: 44 }],
        series: [{}, ...chartOrder.map((l) => ({
          label: this.displayName(l), stroke: color(l), width: 1.5,
          points: { show: false }, show: !this.hidden.has(l),
        }))],
      }, data, this.root);
      this.shape = shape;
    } else {
      this.chart.setData(data);
    }
    this.legend.replaceChildren(...order.map((l) => {
      const li = document.createElement("li");
      li.dataset.label = l;
      li.dataset.total = String(totals.get(l));
      li.tabIndex = 0;
      li.setAttribute("role", "switch");
      li.setAttribute("aria-checked", String(!this.hidden.has(l)));
      li.classList.toggle("off", this.hidden.has(l));
      const toggle = () => {
        if (this.hidden.has(l)) this.hidden.delete(l); else this.hidden.add(l);
        this.render();
      };
      li.addEventListener("click", toggle);
      li.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = color(l);
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = this.displayName(l);
      const total = document.createElement("span");
      total.className = "total";
      total.textContent = String(totals.get(l));
      li.append(sw, name, total);
      return li;
    }));
    this.root.dataset.series = String(order.length);
    this.root.dataset.points = String(order.reduce((n, l) =>
      n + this.values.get(l)!.filter((v) => v > 0).length, 0));
    this.root.dataset.updated = String(Date.now());
  }

  private resize() {
    if (!this.chart) return;
    const rect = this.root.getBoundingClientRect();
    this.chart.setSize({ width: Math.max(200, rect.width), height: Math.max(160, rect.height) });
  }
}
