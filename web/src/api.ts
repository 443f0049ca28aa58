// The server's JSON APIs (docs/dashboard.md, docs/realtime.md) and their shapes.

export interface QuerySeries { labels: Record<string, string>; total: number; points: [number, number][] }
export interface QueryResult { name: string; from: number; to: number; step: number; series: QuerySeries[] }

export interface Accident {
  id: string; severity: string; state: string; county: string; city: string; time: string;
  lat?: number; lng?: number; arrival_ms: number;
}

export interface Delivery { state: string; attempts: number; last_error?: string }
export interface AlertItem {
  id: string; rule: string; dedup_key: string; severity: string; title: string; body: string;
  created_ms: number; created: string; row: Record<string, string>; channels: string[];
  deliveries?: Record<string, Delivery>;
}

export interface StreamInfo {
  name: string; shards: number; records: number; records_per_second: number;
  internal?: boolean; dead_letter?: boolean; last_arrival_ms?: number;
}
export interface JobInfo {
  name: string; state?: string; records_in?: number; records_out?: number;
  records_per_second?: number; lag_records?: number; last_checkpoint_age_seconds?: number;
  error?: string;
}
export interface Pipeline {
  jobs?: JobInfo[]; streams?: StreamInfo[]; dead_letters?: { stream: string; records: number }[];
  lake?: { tables?: number; commits?: number; last_commit?: string };
}

export type SqlColumn = string | { name: string; type?: string };
export interface SqlResult {
  columns?: SqlColumn[]; rows?: unknown[][]; error?: string; truncated?: boolean; elapsed_ms?: number;
}

export class HttpError extends Error {
  constructor(public status: number, message: string) { super(message); }
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const r = await fetch(url, { signal, headers: { Accept: "application/json" } });
  const text = await r.text();
  if (!r.ok) {
    let message = text;
    try { message = JSON.parse(text).error ?? text; } catch { /* not JSON */ }
    throw new HttpError(r.status, `${url}: ${r.status} ${message}`);
  }
  return JSON.parse(text) as T;
}

export function metricsQuery(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  return `/api/metrics/query?${q}`;
}
