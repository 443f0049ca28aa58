// What every panel shares: the options the header sets and the state filter the map sets.
// Panels subscribe; a change notifies them all.

export type GroupBy = "County" | "State" | "City" | "Severity";

export interface ViewState {
  metric: string;
  groupBy: GroupBy;
  top: number;
  rangeS: number;
  state: string | null; // postal code filter set by a click on the map
}

type Listener = (s: ViewState, changed: (keyof ViewState)[]) => void;

const listeners: Listener[] = [];

function fromUrl(): Partial<ViewState> {
  const q = new URLSearchParams(location.search);
  const out: Partial<ViewState> = {};
  const g = q.get("group_by");
  if (g === "County" || g === "State" || g === "City" || g === "Severity") out.groupBy = g;
  if (q.get("top")) out.top = Math.max(1, Math.min(50, Number(q.get("top")) || 10));
  if (q.get("range")) out.rangeS = Math.max(60, Math.min(86400, Number(q.get("range")) || 900));
  if (q.get("state")) out.state = q.get("state")!.toUpperCase();
  if (q.get("metric")) out.metric = q.get("metric")!;
  return out;
}

export const view: ViewState = {
  metric: "accidents", groupBy: "County", top: 10, rangeS: 900, state: null, ...fromUrl(),
};

export function onChange(l: Listener): void { listeners.push(l); }

export function update(patch: Partial<ViewState>): void {
  const changed = (Object.keys(patch) as (keyof ViewState)[]).filter((k) => view[k] !== patch[k]);
  if (!changed.length) return;
  Object.assign(view, patch);
  const q = new URLSearchParams(location.search);
  q.set("group_by", view.groupBy);
  q.set("top", String(view.top));
  q.set("range", String(view.rangeS));
  if (view.state) q.set("state", view.state); else q.delete("state");
  history.replaceState(null, "", `?${q}`);
  for (const l of listeners) l(view, changed);
}
