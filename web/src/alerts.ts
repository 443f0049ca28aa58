// Alert feed: newest first, with rule, location, severity, routed channels and delivery state.
// Loaded from /api/alerts, extended by the feed's `alert` events; delivery states are refreshed
// from /api/alerts shortly after new alerts and every 10 s. A Severity 4 alert flashes the panel
// and plays a short tone unless muted (the choice is kept in localStorage).

import { getJson, type AlertItem } from "./api";
import { esc } from "./map";
import { view } from "./state";

const KEEP = 300;

export class AlertsPanel {
  private alerts = new Map<string, AlertItem>();
  private muted = localStorage.getItem("roadpulse.muted") === "1";
  private audio: AudioContext | null = null;
  private refreshTimer: number | undefined;

  constructor(private list: HTMLElement, private panel: HTMLElement, private muteButton: HTMLButtonElement) {
    this.renderMute();
    muteButton.addEventListener("click", () => {
      this.muted = !this.muted;
      localStorage.setItem("roadpulse.muted", this.muted ? "1" : "0");
      this.renderMute();
    });
    setInterval(() => void this.load(), 10_000);
  }

  private renderMute() {
    this.muteButton.textContent = this.muted ? "Sound: muted" : "Sound: on";
    this.muteButton.setAttribute("aria-pressed", String(this.muted));
    this.panel.dataset.muted = String(this.muted);
  }

  async load(): Promise<void> {
    try {
      const since = Date.now() - 7 * 86400_000;
      const answer = await getJson<{ alerts: AlertItem[] }>(`/api/alerts?since=${since}`);
      for (const a of answer.alerts.slice(-KEEP)) this.alerts.set(a.id, a);
      this.render();
    } catch (e) {
      this.list.dataset.error = String((e as Error).message);
    }
  }

  add(a: AlertItem): void {
    const fresh = !this.alerts.has(a.id);
    this.alerts.set(a.id, { ...this.alerts.get(a.id), ...a });
    if (this.alerts.size > KEEP) {
      const oldest = [...this.alerts.values()].sort((x, y) => x.created_ms - y.created_ms)[0];
      this.alerts.delete(oldest.id);
    }
    this.render();
    if (fresh && a.severity === "4" && (!view.state || a.row?.State === view.state)) this.cue();
    clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.load(), 2000); // delivery states
  }

  private cue() {
    this.panel.classList.remove("flash");
    void this.panel.offsetWidth; // restart the animation
    this.panel.classList.add("flash");
    if (this.muted) return;
    try {
      this.audio ??= new AudioContext();
      const osc = this.audio.createOscillator();
      const gain = this.audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, this.audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, this.audio.currentTime + 0.4);
      osc.connect(gain).connect(this.audio.destination);
      osc.start();
      osc.stop(this.audio.currentTime + 0.4);
    } catch { /* no audio device or not allowed before a user gesture: the flash remains */ }
  }

  render(): void {
    const items = [...this.alerts.values()]
      .filter((a) => !view.state || (a.row?.State ?? a.row?.state) === view.state)
      .sort((a, b) => b.created_ms - a.created_ms);
    this.list.replaceChildren(...items.map((a) => {
      const li = document.createElement("li");
      li.className = `alert sev${esc(a.severity)}`;
      li.dataset.alertId = a.id;
      li.dataset.key = a.dedup_key;
      li.dataset.severity = a.severity;
      li.dataset.rule = a.rule;
      li.tabIndex = 0;
      const r = a.row ?? {};
      const place = [r.City, r.County && `${r.County} County`, r.State].filter(Boolean).join(", ");
      const deliveries = a.deliveries ?? {};
      const routes = (a.channels ?? []).map((c) => {
        const d = deliveries[c];
        const state = d?.state ?? "pending";
        const title = d?.last_error ? ` title="${esc(d.last_error)}"` : "";
        return `<span class="route ${esc(state)}"${title}>${esc(c)}: ${esc(state)}</span>`;
      }).join(" ") || '<span class="route none">no route</span>';
      li.innerHTML = `<div class="head"><span class="badge sev${esc(a.severity)}">S${esc(a.severity)}</span>
        <span class="title">${esc(a.title)}</span>
        <time datetime="${esc(a.created)}">${new Date(a.created_ms).toLocaleTimeString()}</time></div>
        <div class="meta"><span class="rule">${esc(a.rule)}</span> · <span class="place">${esc(place)}</span></div>
        <div class="routes">${routes}</div>`;
      return li;
    }));
    this.list.dataset.count = String(items.length);
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = view.state ? `No alerts in ${view.state}.` : "No alerts yet.";
      this.list.append(li);
    }
  }
}
