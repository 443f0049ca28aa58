// The live feed: one EventSource on /api/stream (Server-Sent Events). The browser reconnects by
// itself and sends Last-Event-ID, so the server replays what was missed; `reset` (too much
// missed) and a reconnection after an error make the panels reload from the query APIs.

import type { Accident, AlertItem } from "./api";

export interface MetricsFrame {
  metric: string;
  dimensions: string[];
  rows: (string | number)[][]; // [time_s, value, dim...]
  truncated: boolean;
}

export interface FeedHandlers {
  metrics(frame: MetricsFrame): void;
  accidents(events: Accident[]): void;
  alert(alert: AlertItem): void;
  reload(): void;
}

export function connectFeed(h: FeedHandlers): EventSource {
  const es = new EventSource("/api/stream?topics=metrics,accidents,alerts");
  let events = 0;
  let hadError = false;
  const status = (s: string) => {
    document.body.dataset.sse = s;
    const el = document.getElementById("sse-status");
    if (el) {
      el.textContent = s === "open" ? "live" : s === "connecting" ? "reconnecting…" : "offline";
      el.className = `sse sse-${s}`;
    }
  };
  const count = () => { document.body.dataset.sseEvents = String(++events); };
  status("connecting");
  es.addEventListener("open", () => {
    status("open");
    if (hadError) h.reload(); // Last-Event-ID covers short gaps; a reload is cheap and certain
    hadError = false;
  });
  es.addEventListener("error", () => {
    hadError = true;
    status(es.readyState === EventSource.CLOSED ? "closed" : "connecting");
  });
  es.addEventListener("metrics", (e) => { count(); h.metrics(JSON.parse((e as MessageEvent).data)); });
  es.addEventListener("accidents", (e) => {
    count();
    h.accidents(JSON.parse((e as MessageEvent).data).events);
  });
  es.addEventListener("alert", (e) => { count(); h.alert(JSON.parse((e as MessageEvent).data)); });
  es.addEventListener("reset", () => h.reload());
  return es;
}
