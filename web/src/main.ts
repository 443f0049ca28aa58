// The roadpulse dashboard: wires the panels to the shared view state and the live feed.
import "uplot/dist/uPlot.min.css";
import "./style.css";

import { AlertsPanel } from "./alerts";
import { getJson, metricsQuery, type Accident, type QueryResult } from "./api";
import { connectFeed } from "./feed";
import { HealthPanel } from "./health";
import { MapPanel } from "./map";
import { SeriesPanel } from "./series";
import { SqlConsole } from "./sql";
import { onChange, update, view, type GroupBy } from "./state";
import { STATE_NAME } from "./states";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

// ---- theme ---------------------------------------------------------------------------------
const storedTheme = localStorage.getItem("roadpulse.theme");
const theme = storedTheme ?? (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark");
document.documentElement.dataset.theme = theme;
$("theme").addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem("roadpulse.theme", next);
  void series.load(); // axis colours
});

// ---- panels ---------------------------------------------------------------------------------
const series = new SeriesPanel($("series-chart"), $("series-legend"), $("series-status"));
const map = new MapPanel($("map"), $("map-tooltip"), (state) => update({ state }));
const alerts = new AlertsPanel($("alert-list"), $("alerts"), $<HTMLButtonElement>("mute"));
const health = new HealthPanel($("health-body"), $("health-status"));
new SqlConsole($<HTMLTextAreaElement>("sql-editor"), $<HTMLButtonElement>("sql-run"),
  $<HTMLButtonElement>("sql-csv"), $("sql-result"), $<HTMLSelectElement>("sql-history"));

// ---- controls -------------------------------------------------------------------------------
const groupSel = $<HTMLSelectElement>("group-by");
const topSel = $<HTMLSelectElement>("top");
const rangeSel = $<HTMLSelectElement>("range");
const stateSel = $<HTMLSelectElement>("state-filter");
for (const [code, name] of Object.entries(STATE_NAME).sort((a, b) => a[1].localeCompare(b[1]))) {
  const o = document.createElement("option");
  o.value = code;
  o.textContent = name;
  stateSel.append(o);
}
function syncControls() {
  groupSel.value = view.groupBy;
  topSel.value = String(view.top);
  rangeSel.value = String(view.rangeS);
  stateSel.value = view.state ?? "";
  $("series-title").textContent = `Accidents per ${view.groupBy.toLowerCase()}${view.state ? ` in ${STATE_NAME[view.state] ?? view.state}` : ""}`;
  document.body.dataset.state = view.state ?? "";
}
groupSel.addEventListener("change", () => update({ groupBy: groupSel.value as GroupBy }));
topSel.addEventListener("change", () => update({ top: Number(topSel.value) }));
rangeSel.addEventListener("change", () => update({ rangeS: Number(rangeSel.value) }));
stateSel.addEventListener("change", () => update({ state: stateSel.value || null }));
$("pause").addEventListener("click", (e) => {
  const paused = series.togglePause();
  (e.target as HTMLButtonElement).setAttribute("aria-pressed", String(paused));
  (e.target as HTMLButtonElement).textContent = paused ? "Resume" : "Pause";
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && view.state && !(e.target instanceof HTMLTextAreaElement)) update({ state: null });
});

// ---- data -----------------------------------------------------------------------------------
async function loadStateCounts() {
  const { from, to } = series.window();
  if (!to) return;
  try {
    const answer = await getJson<QueryResult>(metricsQuery({
      name: view.metric, from, to, step: to - from, group_by: "State",
    }));
    map.setCounts(new Map(answer.series.map((s) => [s.labels.State, s.total])));
  } catch { /* the metric may not exist yet */ }
}

async function loadPoints() {
  try {
    const answer = await getJson<{ events: Accident[] }>("/api/events/recent?limit=1000");
    map.setPoints(answer.events);
  } catch { /* no raw stream yet */ }
}

async function reloadAll() {
  await series.load();
  await loadStateCounts();
  await Promise.all([loadPoints(), alerts.load(), health.load()]);
}

onChange(async (_v, changed) => {
  syncControls();
  if (changed.includes("state")) {
    map.setSelected(view.state);
    alerts.render();
  }
  if (changed.some((k) => k === "groupBy" || k === "top" || k === "rangeS" || k === "state")) {
    await series.load();
    if (!changed.every((k) => k === "groupBy" || k === "top")) await loadStateCounts();
  }
});

connectFeed({
  metrics(frame) {
    series.applyFrame(frame);
    if (frame.metric !== view.metric) return;
    const si = frame.dimensions.indexOf("State");
    if (si < 0) return;
    const { from } = series.window();
    for (const row of frame.rows) if (Number(row[0]) >= from) map.addCount(String(row[2 + si]), Number(row[1]));
    map.shade();
  },
  accidents(events) { map.addPoints(events); },
  alert(a) { alerts.add(a); },
  reload() { void reloadAll(); },
});

syncControls();
map.setSelected(view.state);
const started = performance.now();
void reloadAll().then(() => {
  document.body.dataset.firstData = (performance.now() - started).toFixed(0);
});
