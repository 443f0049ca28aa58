// SQL console (the reference's notebook role): runs a query over the lake through
// POST /api/query {"sql"} -> {"columns","rows"} | {"error"}, shows a table, downloads CSV, and
// keeps the last 50 queries in localStorage. Ctrl+Enter (Cmd+Enter) runs.

import type { SqlColumn, SqlResult } from "./api";
import { esc } from "./map";

const HISTORY_KEY = "roadpulse.sql.history";
const MAX_ROWS_SHOWN = 1000;
const ROW_LIMIT = 100_000; // asked of the server; it says "truncated" beyond

const columnName = (c: SqlColumn) => (typeof c === "string" ? c : c.name);
const columnType = (c: SqlColumn) => (typeof c === "string" ? "" : c.type ?? "");

export function csvOf(columns: SqlColumn[], rows: unknown[][]): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map(columnName), ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

export class SqlConsole {
  private last: SqlResult | null = null;

  constructor(private editor: HTMLTextAreaElement, private runButton: HTMLButtonElement,
              private csvButton: HTMLButtonElement, private out: HTMLElement,
              private historyEl: HTMLSelectElement) {
    runButton.addEventListener("click", () => void this.run());
    editor.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); void this.run(); }
    });
    csvButton.addEventListener("click", () => this.download());
    historyEl.addEventListener("change", () => {
      if (historyEl.value) editor.value = historyEl.value;
      historyEl.selectedIndex = 0;
      editor.focus();
    });
    this.renderHistory();
  }

  private history(): string[] {
    try { return JSON.parse(localStorage.getItem(HISTORY_KEY) ?? "[]"); } catch { return []; }
  }

  private remember(sql: string) {
    const h = [sql, ...this.history().filter((q) => q !== sql)].slice(0, 50);
    localStorage.setItem(HISTORY_KEY, JSON.stringify(h));
    this.renderHistory();
  }

  private renderHistory() {
    const opts = this.history().map((q) => {
      const o = document.createElement("option");
      o.value = q;
      o.textContent = q.replace(/\s+/g, " ").slice(0, 80);
      return o;
    });
    const head = document.createElement("option");
    head.value = "";
    head.textContent = opts.length ? `History (${opts.length})` : "History (empty)";
    this.historyEl.replaceChildren(head, ...opts);
  }

  async run(): Promise<void> {
    const sql = this.editor.value.trim();
    if (!sql) return;
    this.remember(sql);
    this.out.dataset.state = "running";
    this.out.innerHTML = '<p class="muted">Running…</p>';
    this.csvButton.disabled = true;
    const started = performance.now();
    let result: SqlResult;
    try {
      const r = await fetch("/api/query", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql, limit: ROW_LIMIT }),
      });
      if (r.status === 404) {
        result = { error: "This server has no lake query API (POST /api/query): run the query with `roadpulse query`." };
      } else {
        const text = await r.text();
        try { result = JSON.parse(text); } catch { result = { error: `${r.status}: ${text}` }; }
        if (!r.ok && !result.error) result.error = `${r.status} ${r.statusText}`;
      }
    } catch (e) {
      result = { error: String((e as Error).message) };
    }
    const ms = performance.now() - started;
    this.last = result;
    if (result.error) {
      this.out.dataset.state = "error";
      this.out.innerHTML = `<pre class="error" role="alert">${esc(result.error)}</pre>`;
      return;
    }
    const columns = result.columns ?? [];
    const rows = result.rows ?? [];
    this.out.dataset.state = "done";
    const shown = rows.slice(0, MAX_ROWS_SHOWN);
    const cellText = (v: unknown) => (typeof v === "object" ? JSON.stringify(v) : String(v));
    this.out.innerHTML = `<p class="muted small">${rows.length} row${rows.length === 1 ? "" : "s"}${result.truncated ? " (truncated by the server's row limit)" : ""} in ${ms.toFixed(0)} ms${rows.length > shown.length ? `, first ${shown.length} shown` : ""}</p>
      <div class="table-wrap"><table class="grid result" data-rows="${rows.length}" data-columns="${columns.length}">
      <thead><tr>${columns.map((c) => `<th scope="col" title="${esc(columnType(c))}">${esc(columnName(c))}</th>`).join("")}</tr></thead>
      <tbody>${shown.map((r) => `<tr>${r.map((v) => `<td>${v === null || v === undefined ? '<span class="null">NULL</span>' : esc(cellText(v))}</td>`).join("")}</tr>`).join("")}</tbody></table></div>`;
    this.csvButton.disabled = false;
  }

  private download() {
    if (!this.last?.columns) return;
    const blob = new Blob([csvOf(this.last.columns, this.last.rows ?? [])], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "roadpulse-query.csv";
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
}
