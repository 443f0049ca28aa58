// Pipeline health: jobs (throughput, lag, checkpoint age, errors) from /api/pipeline when the
// server has it (`roadpulse run`), streams (ingest rate) from /api/streams, dead letters and lake
// commits. Refreshed every 5 s. Red with the reason when something is wrong, amber on warnings.

import { getJson, HttpError, type Pipeline, type StreamInfo } from "./api";
import { esc } from "./map";

const DASH = "—";
const fmtNum = (v: number | undefined, digits = 0) =>
  v === undefined || v === null || Number.isNaN(v) ? DASH : v.toLocaleString(undefined, { maximumFractionDigits: digits });

export class HealthPanel {
  private pipelineMissing = false;

  constructor(private root: HTMLElement, private statusEl: HTMLElement) {
    setInterval(() => void this.load(), 5000);
  }

  async load(): Promise<void> {
    let pipeline: Pipeline = {};
    let streams: StreamInfo[] = [];
    let deadLetters: { stream: string; records: number }[] = [];
    const problems: string[] = [];
    const warnings: string[] = [];
    if (!this.pipelineMissing) {
      try {
        pipeline = await getJson<Pipeline>("/api/pipeline");
      } catch (e) {
        if (e instanceof HttpError && e.status === 404) this.pipelineMissing = true;
        else problems.push(`pipeline status unavailable: ${(e as Error).message}`);
      }
    }
    try {
      const s = await getJson<{ streams: StreamInfo[]; dead_letters: { stream: string; records: number }[] }>("/api/streams");
      streams = s.streams;
      deadLetters = s.dead_letters;
    } catch (e) {
      problems.push(`streams unavailable: ${(e as Error).message}`);
    }
    // Streams: /api/streams measures the rate between calls (fresher than a minute's average),
    // so its fields win; /api/pipeline may know streams it does not (e.g. Kafka-backed).
    if (pipeline.streams?.length) {
      const ours = new Map(streams.map((s) => [s.name, s]));
      const merged = pipeline.streams.map((s) => ({ ...s, ...ours.get(s.name) }));
      for (const s of streams) if (!merged.some((m) => m.name === s.name)) merged.push(s);
      streams = merged;
    }
    if (pipeline.dead_letters?.length) {
      // {"stream","records"} or a stream entry {"name","records",...}
      const theirs = pipeline.dead_letters.map((d) => ({
        stream: d.stream ?? (d as unknown as { name: string }).name, records: d.records }));
      const seen = new Set(theirs.map((d) => d.stream));
      deadLetters = [...theirs, ...deadLetters.filter((d) => !seen.has(d.stream))];
    }
    const jobs = pipeline.jobs ?? [];
    for (const j of jobs) {
      const st = (j.state ?? "").toLowerCase();
      if (j.error || st === "failed" || st === "error") problems.push(`job ${j.name} ${st || "failed"}${j.error ? `: ${j.error}` : ""}`);
      else if ((j.last_checkpoint_age_seconds ?? 0) > 300) warnings.push(`job ${j.name}: last checkpoint ${Math.round(j.last_checkpoint_age_seconds!)} s ago`);
    }
    for (const d of deadLetters) if (d.records > 0) warnings.push(`${d.records} dead letters in ${d.stream}`);
    const visible = streams.filter((s) => !s.internal || s.dead_letter);
    const ingest = visible.filter((s) => !s.dead_letter).reduce((n, s) => n + (s.records_per_second ?? 0), 0);
    const status = problems.length ? "error" : warnings.length ? "warn" : "ok";
    this.root.dataset.status = status;
    this.root.dataset.ingest = ingest.toFixed(3);
    this.statusEl.className = `health-status ${status}`;
    this.statusEl.textContent = status === "ok" ? "healthy" : [...problems, ...warnings].join("; ");
    this.statusEl.title = this.statusEl.textContent;

    const jobRows = jobs.length ? jobs.map((j) => `<tr data-job="${esc(j.name)}" class="${j.error ? "bad" : ""}">
        <td>${esc(j.name)}</td><td>${esc(j.state ?? DASH)}</td><td>${fmtNum(j.records_in)}</td>
        <td>${fmtNum(j.records_out)}</td><td>${fmtNum(j.records_per_second, 1)}</td>
        <td>${fmtNum(j.lag_records)}</td><td>${j.last_checkpoint_age_seconds === undefined ? DASH : `${fmtNum(j.last_checkpoint_age_seconds, 1)} s`}</td>
        <td class="err">${esc(j.error ?? "")}</td></tr>`).join("")
      : `<tr><td colspan="8" class="muted">${this.pipelineMissing ? "job status needs roadpulse run (—)" : DASH}</td></tr>`;
    const streamRows = visible.length ? visible.map((s) => `<tr data-stream="${esc(s.name)}" data-rate="${s.records_per_second ?? 0}" class="${s.dead_letter && s.records > 0 ? "warn" : ""}">
        <td>${esc(s.name)}</td><td>${fmtNum(s.shards)}</td><td>${fmtNum(s.records)}</td>
        <td>${fmtNum(s.records_per_second, 1)}</td></tr>`).join("")
      : `<tr><td colspan="4" class="muted">no streams yet</td></tr>`;
    const lake = pipeline.lake;
    this.root.innerHTML = `
      <div class="kpis">
        <div class="kpi"><span class="v" data-kpi="ingest">${fmtNum(ingest, 1)}</span><span class="k">records/s in</span></div>
        <div class="kpi"><span class="v">${fmtNum(jobs.length || undefined)}</span><span class="k">jobs</span></div>
        <div class="kpi"><span class="v">${fmtNum(deadLetters.reduce((n, d) => n + d.records, 0))}</span><span class="k">dead letters</span></div>
        <div class="kpi"><span class="v">${fmtNum(lake?.commits)}</span><span class="k">lake commits</span></div>
      </div>
      <table class="grid"><caption>Jobs</caption><thead><tr><th>job</th><th>state</th><th>in</th><th>out</th><th>rec/s</th><th>lag</th><th>checkpoint</th><th>error</th></tr></thead><tbody>${jobRows}</tbody></table>
      <table class="grid"><caption>Streams</caption><thead><tr><th>stream</th><th>shards</th><th>records</th><th>rec/s</th></tr></thead><tbody>${streamRows}</tbody></table>
      <p class="muted small">lake: ${fmtNum(lake?.tables)} tables, last commit ${esc(lake?.last_commit ?? DASH)}</p>`;
  }
}
