// US map: states (shaded by accident count over the chosen range) and county borders from the
// bundled us-atlas TopoJSON, projected with d3-geo (Albers USA, no tiles, no network); recent
// accidents as points coloured by severity. Hover shows details; a click (or Enter) on a state
// filters every panel to it, a second click clears the filter.

import { geoAlbersUsa, geoPath } from "d3-geo";
import { feature, mesh } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import atlas from "us-atlas/counties-10m.json";
import type { Accident } from "./api";
import { STATES } from "./states";

const W = 975;
const H = 610;
const SVG = "http://www.w3.org/2000/svg";
const MAX_POINTS = 1500;

export const SEVERITY_COLORS: Record<string, string> = {
  "1": "#3fb950", "2": "#d4b106", "3": "#f0883e", "4": "#f85149",
};

export class MapPanel {
  private svg: SVGSVGElement;
  private pointsLayer: SVGGElement;
  private statePaths = new Map<string, SVGPathElement>();
  private counts = new Map<string, number>();
  private points: Accident[] = [];
  private projection = geoAlbersUsa().scale(1300).translate([487.5, 305]);
  private selected: string | null = null;

  constructor(private root: HTMLElement, private tooltip: HTMLElement,
              private onSelect: (state: string | null) => void) {
    const topo = atlas as unknown as Topology;
    const objects = topo.objects as Record<string, GeometryCollection>;
    const path = geoPath(this.projection);
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    this.svg.setAttribute("role", "group");
    this.svg.setAttribute("aria-label", "Map of US states; choose a state to filter");
    const states = document.createElementNS(SVG, "g");
    states.setAttribute("class", "states");
    const fc = feature(topo, objects.states) as unknown as GeoJSON.FeatureCollection;
    for (const f of fc.features) {
      const fips = String(f.id).padStart(2, "0");
      const info = STATES[fips];
      if (!info) continue;
      const d = path(f);
      if (!d) continue; // not in the Albers USA projection (territories)
      const p = document.createElementNS(SVG, "path");
      p.setAttribute("d", d);
      p.setAttribute("class", "state");
      p.setAttribute("tabindex", "0");
      p.setAttribute("role", "button");
      p.setAttribute("aria-label", info[1]);
      p.dataset.state = info[0];
      p.dataset.name = info[1];
      p.dataset.count = "0";
      p.addEventListener("click", () => this.select(info[0]));
      p.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); this.select(info[0]); }
      });
      p.addEventListener("mousemove", (e) => this.tip(e, `<b>${info[1]}</b><br>${this.counts.get(info[0]) ?? 0} accidents`));
      p.addEventListener("mouseleave", () => this.hideTip());
      p.addEventListener("focus", () => p.classList.add("focus"));
      p.addEventListener("blur", () => p.classList.remove("focus"));
      states.append(p);
      this.statePaths.set(info[0], p);
    }
    const counties = document.createElementNS(SVG, "path");
    counties.setAttribute("class", "counties");
    counties.setAttribute("d", path(mesh(topo, objects.counties,
      (a, b) => a !== b && ((Number(a.id) / 1000) | 0) === ((Number(b.id) / 1000) | 0))) ?? "");
    const borders = document.createElementNS(SVG, "path");
    borders.setAttribute("class", "borders");
    borders.setAttribute("d", path(mesh(topo, objects.states, (a, b) => a !== b)) ?? "");
    this.pointsLayer = document.createElementNS(SVG, "g");
    this.pointsLayer.setAttribute("class", "points");
    this.svg.append(states, counties, borders, this.pointsLayer);
    root.append(this.svg);
    root.dataset.states = String(this.statePaths.size);
  }

  private tip(e: MouseEvent, html: string) {
    this.tooltip.innerHTML = html;
    this.tooltip.hidden = false;
    const r = this.root.getBoundingClientRect();
    this.tooltip.style.left = `${e.clientX - r.left + 12}px`;
    this.tooltip.style.top = `${e.clientY - r.top + 12}px`;
  }
  private hideTip() { this.tooltip.hidden = true; }

  private select(code: string) {
    this.onSelect(this.selected === code ? null : code);
  }

  setSelected(code: string | null) {
    this.selected = code;
    for (const [c, p] of this.statePaths) p.classList.toggle("selected", c === code);
    this.root.dataset.selected = code ?? "";
    this.drawPoints();
  }

  setCounts(counts: Map<string, number>) {
    this.counts = counts;
    this.shade();
  }

  addCount(state: string, n: number) {
    this.counts.set(state, (this.counts.get(state) ?? 0) + n);
  }

  shade() {
    let max = 0;
    for (const v of this.counts.values()) max = Math.max(max, v);
    for (const [code, p] of this.statePaths) {
      const v = this.counts.get(code) ?? 0;
      p.dataset.count = String(v);
      p.style.setProperty("--shade", max > 0 ? (0.08 + 0.72 * Math.sqrt(v / max)).toFixed(3) : "0");
    }
  }

  setPoints(points: Accident[]) {
    this.points = points.slice(0, MAX_POINTS);
    this.drawPoints();
  }

  /** New accidents, oldest first (as the feed sends them): drawn on top, the oldest dropped. */
  addPoints(points: Accident[]) {
    this.points = [...points.slice().reverse(), ...this.points].slice(0, MAX_POINTS);
    const frag = document.createDocumentFragment();
    for (const a of points) {
      const c = this.circle(a);
      if (c) frag.append(c);
    }
    this.pointsLayer.append(frag);
    while (this.pointsLayer.childElementCount > MAX_POINTS) this.pointsLayer.firstChild!.remove();
    this.root.dataset.points = String(this.pointsLayer.childElementCount);
  }

  private drawPoints() {
    const frag = document.createDocumentFragment();
    // Oldest drawn first so the newest are on top.
    for (let i = this.points.length - 1; i >= 0; --i) {
      const c = this.circle(this.points[i]);
      if (c) frag.append(c);
    }
    this.pointsLayer.replaceChildren(frag);
    this.root.dataset.points = String(this.pointsLayer.childElementCount);
  }

  private circle(a: Accident): SVGCircleElement | null {
      if (this.selected && a.state !== this.selected) return null;
      if (a.lat === undefined || a.lng === undefined) return null;
      const xy = this.projection([a.lng, a.lat]);
      if (!xy) return null;
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("cx", xy[0].toFixed(1));
      c.setAttribute("cy", xy[1].toFixed(1));
      c.setAttribute("r", a.severity === "4" ? "4" : "2.6");
      c.setAttribute("class", `point sev${a.severity}`);
      c.setAttribute("fill", SEVERITY_COLORS[a.severity] ?? "#888");
      c.dataset.severity = a.severity;
      c.dataset.id = a.id;
      c.addEventListener("mousemove", (e) => this.tip(e,
        `<b>${esc(a.id)}</b> · Severity ${esc(a.severity)}<br>${esc(a.city)}, ${esc(a.county)} County, ${esc(a.state)}<br>${esc(a.time)}`));
      c.addEventListener("mouseleave", () => this.hideTip());
      return c;
  }
}

export function esc(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
