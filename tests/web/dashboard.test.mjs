// The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core)
// against `roadpulse run` with the default pipeline's real-time jobs: generated accidents go through the Kinesis
// API into the raw stream, the pipeline's jobs turn them into `metrics` and `alerts` (routed to
// two departments, a local webhook), the page loads them and keeps up over Server-Sent Events.
// Assertions read DOM data attributes, not pixels. Screenshots (desktop and narrow) and the
// page's figures (weight, time to first data, CPU) are written to $WEB_ARTIFACTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const BIN = process.env.ROADPULSE_BIN;
const ARTIFACTS = process.env.WEB_ARTIFACTS ?? join(tmpdir(), "roadpulse-web-artifacts");
const CHROMIUM = process.env.CHROMIUM ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
const STREAM = "us-accidents-data-stream-1";

// The default pipeline's real-time part (sql/pipeline.sql steps 3 and 5, without its window
// rule, so this test does not depend on windowed aggregation).
const PIPELINE = `
CREATE TABLE raw_accidents (
  ID STRING, Severity BIGINT, Start_Lat DOUBLE, Start_Lng DOUBLE, State STRING, County STRING,
  City STRING, Txn_Timestamp TIMESTAMP(3)
) WITH ('connector' = 'kinesis', 'stream' = '${STREAM}', 'scan.stream.initpos' = 'TRIM_HORIZON',
        'format' = 'json', 'json.ignore-parse-errors' = 'true');
CREATE TABLE accident_metrics (Txn_Timestamp TIMESTAMP(3), Severity BIGINT, State STRING,
  County STRING, City STRING)
WITH ('connector' = 'metrics', 'metric.name' = 'accidents', 'metric.time-column' = 'Txn_Timestamp',
      'metric.dimensions' = 'Severity,State,County,City');
CREATE TABLE severe_accident_alerts (ID STRING, Severity BIGINT, State STRING, County STRING,
  City STRING)
WITH ('connector' = 'alerts', 'alert.rule' = 'severe_accident',
      'alert.title' = 'Severity {Severity} accident in {City}, {County} County, {State}',
      'alert.dedup-key' = '{ID}');
EXECUTE STATEMENT SET BEGIN
INSERT INTO accident_metrics SELECT Txn_Timestamp, Severity, State, County, City FROM raw_accidents;
INSERT INTO severe_accident_alerts SELECT ID, Severity, State, County, City FROM raw_accidents
WHERE Severity >= 4;
END;
`;

function freePort() {
  return new Promise((resolve) => {
    const s = netServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

let tmp, server, port, browser, hookServer, hookCalls = 0;
const consoleErrors = [];

function waitRunning(proc) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    let stderr = "";
    proc.stderr.on("data", (d) => { stderr += d; });
    lines.on("line", (line) => { if (line.startsWith("roadpulse running: http://")) resolve(); });
    proc.on("exit", (code) => reject(new Error(`roadpulse run exited ${code}: ${stderr}`)));
  });
}

function simulate(args) {
  const out = spawnSync(BIN, ["simulate", ...args, "--to", `kinesis://127.0.0.1:${port}/${STREAM}`,
    "--no-progress", "--dead-letter", join(tmp, "dlq.jsonl")], { encoding: "utf8", timeout: 120_000 });
  assert.equal(out.status, 0, out.stderr);
}

// A complete generated event (every column the pipeline reads), with our own fields on top.
function makeEvent(fields) {
  const out = spawnSync(BIN, ["simulate", "--rows", "1", "--seed", "99", "--to", "-", "--no-progress"],
    { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  return { ...JSON.parse(out.stdout.trim()), ...fields, Txn_Timestamp: new Date().toISOString().replace("Z", "") };
}

async function putRecord(event) {
  const r = await fetch(`http://127.0.0.1:${port}/`, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.PutRecord" },
    body: JSON.stringify({ StreamName: STREAM, PartitionKey: String(event.Severity),
      Data: Buffer.from(JSON.stringify(event)).toString("base64") }),
  });
  assert.equal(r.status, 200, await r.text());
}

async function waitFor(page, fn, arg, timeout = 15_000) {
  return page.waitForFunction(fn, arg, { timeout, polling: 100 });
}

async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
}

before(async () => {
  assert.ok(BIN, "ROADPULSE_BIN must be set (ctest does)");
  assert.ok(CHROMIUM, "chromium is not installed: run scripts/setup (Debian package chromium)");
  tmp = mkdtempSync(join(tmpdir(), "rp-web-"));
  hookServer = createServer((req, res) => { hookCalls++; req.resume(); req.on("end", () => res.end()); });
  await new Promise((r) => hookServer.listen(0, "127.0.0.1", r));
  const hook = `http://127.0.0.1:${hookServer.address().port}`;
  port = await freePort();
  // Department routing: California's DOT gets its state, operations everything else.
  writeFileSync(join(tmp, "roadpulse.toml"), `
data_dir = "${join(tmp, "data")}"
[server]
listen = "127.0.0.1:${port}"
[pipeline]
name = "web"
checkpoint_interval = "1s"
[[alerts.channels]]
name = "ca-dot"
type = "webhook"
url = "${hook}/ca"
[[alerts.channels]]
name = "ops"
type = "webhook"
url = "${hook}/ops"
[[alerts.routes]]
channels = ["ca-dot"]
match = { State = "CA" }
[[alerts.routes]]
channels = ["ops"]
default = true
`);
  writeFileSync(join(tmp, "pipeline.sql"), PIPELINE);
  server = spawn(BIN, ["run", "--config", join(tmp, "roadpulse.toml"), "--pipeline", join(tmp, "pipeline.sql")],
    { stdio: ["ignore", "pipe", "pipe"] });
  await waitRunning(server);
  simulate(["--rows", "400", "--seed", "11", "--max"]);
  // The jobs have the events when the metric totals reach them.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await (await fetch(`http://127.0.0.1:${port}/api/metrics/query?name=accidents`)).json().catch(() => ({}));
    if ((r.series?.[0]?.total ?? 0) >= 400) break;
    assert.ok(Date.now() < deadline, `metrics did not reach 400 events: ${JSON.stringify(r).slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"] });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill("SIGINT");
    await new Promise((r) => server.once("exit", r));
  }
  hookServer?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function openPage(viewport = { width: 1440, height: 960 }) {
  const page = await browser.newPage({ viewport });
  page.on("console", (m) => {
    // Optional routes another command or module serves (/api/pipeline: `roadpulse run`;
    // /api/query: the lake) answer 404 here; the page handles that, Chromium still logs it.
    const optional = /\/api\/(pipeline|query)$/.test(new URL(m.location().url || "http://x/").pathname);
    if (m.type() === "error" && !(optional && m.text().includes("404"))) {
      consoleErrors.push(`${m.text()} (${m.location().url})`);
    }
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(`http://127.0.0.1:${port}/`);
  return page;
}

test("dashboard: series, map, alerts, health, live updates, state filter", async (t) => {
  const page = await openPage();
  try {
    // Series: at least 5 counties with data points, from the initial query.
    await waitFor(page, () => Number(document.getElementById("series-chart").dataset.series) >= 5);
    const labels = await page.$$eval("#series-legend li", (els) => els.map((e) => [e.dataset.label, Number(e.dataset.total)]));
    assert.ok(labels.filter(([l, n]) => l !== "other" && n > 0).length >= 5, JSON.stringify(labels));
    assert.ok(Number(await page.getAttribute("#series-chart", "data-points")) > 5);
    const firstData = Number(await waitFor(page, () => document.body.dataset.firstData).then((h) => h.jsonValue()));

    // Map: every state outline is drawn, recent accidents are points, states are shaded.
    assert.ok(Number(await page.getAttribute("#map", "data-states")) >= 50);
    await waitFor(page, () => Number(document.getElementById("map").dataset.points) > 50);
    const shaded = await page.$$eval("path.state", (els) => els.filter((e) => Number(e.dataset.count) > 0).length);
    assert.ok(shaded >= 5, `states with a count: ${shaded}`);

    // Health: ingest seen on the raw stream.
    await waitFor(page, () => Number(document.getElementById("health-body").dataset.ingest) > 0);
    assert.ok(await page.$(`#health-body tr[data-stream="${STREAM}"]`));

    // Live: the feed is open; new events update the series without a reload.
    await waitFor(page, () => document.body.dataset.sse === "open");
    const before = await page.$$eval("#series-legend li", (els) => els.reduce((n, e) => n + Number(e.dataset.total), 0));
    const navigations = [];
    page.on("framenavigated", (f) => navigations.push(f.url()));
    simulate(["--rows", "60", "--seed", "12", "--max"]);
    await waitFor(page, (b) => [...document.querySelectorAll("#series-legend li")]
      .reduce((n, e) => n + Number(e.dataset.total), 0) >= b + 60, before);
    await waitFor(page, () => Number(document.body.dataset.sseEvents) > 0);
    assert.deepEqual(navigations, [], "no reload");

    // A Severity-4 event appears in the alert feed within 2 s of its ingest.
    const id = `WEB-S4-${Date.now()}`;
    const event = makeEvent({ ID: id, Severity: 4, Start_Lat: 34.05, Start_Lng: -118.24,
      State: "CA", County: "Los Angeles", City: "Los Angeles" });
    const sent = Date.now();
    await putRecord(event);
    await waitFor(page, (i) => {
      const li = document.querySelector(`li.alert[data-key="${i}"]`);
      return li && li.dataset.severity === "4" && li.dataset.rule === "severe_accident"
        && li.querySelector(".title").textContent === "Severity 4 accident in Los Angeles, Los Angeles County, CA"
        && li.querySelector(".place").textContent === "Los Angeles, Los Angeles County, CA";
    }, id, 5000);
    const alertMs = Date.now() - sent;
    assert.ok(alertMs <= 2000, `alert shown after ${alertMs} ms`);
    assert.ok(await page.$eval("#alerts", (e) => e.classList.contains("flash")), "Severity 4 cue");
    // Delivery state comes from /api/alerts: routed to the CA department and delivered.
    await waitFor(page, (i) => [...document.querySelectorAll(`li.alert[data-key="${i}"] .route.delivered`)]
      .some((e) => e.textContent === "ca-dot: delivered"), id, 15_000);
    assert.ok(hookCalls > 0, "the webhook received deliveries");
    // ...and the point is on the map.
    await waitFor(page, () => document.querySelectorAll("circle.point.sev4").length > 0);

    await screenshot(page, "dashboard-desktop.png");

    // CPU at the default refresh while events flow, page weight, first data.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    const task = async () => (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "TaskDuration").value;
    const feeder = spawn(BIN, ["simulate", "--rows", "150", "--seed", "13", "--rate", "30", "--no-progress",
      "--dead-letter", join(tmp, "dlq2.jsonl"), "--to", `kinesis://127.0.0.1:${port}/${STREAM}`], { stdio: "ignore" });
    const t0 = await task();
    await page.waitForTimeout(5000);
    const cpu = (await task() - t0) / 5;
    await new Promise((r) => feeder.once("exit", r));
    const weight = await page.evaluate(() => performance.getEntriesByType("resource")
      .concat(performance.getEntriesByType("navigation"))
      .reduce((n, e) => n + (e.transferSize || 0), 0));
    mkdirSync(ARTIFACTS, { recursive: true });
    const figures = { page_weight_kb: Math.round(weight / 1024), time_to_first_data_ms: firstData,
      cpu_fraction_at_default_refresh: Number(cpu.toFixed(3)), alert_shown_ms: alertMs };
    writeFileSync(join(ARTIFACTS, "figures.json"), JSON.stringify(figures, null, 2));
    t.diagnostic(JSON.stringify(figures));

    // Click a state: every panel filters to it.
    await page.click('path.state[data-state="CA"]');
    await waitFor(page, () => document.body.dataset.state === "CA" && document.getElementById("map").dataset.selected === "CA");
    await waitFor(page, () => document.getElementById("series-chart").dataset.loaded === "true"
      && document.getElementById("series-title").textContent.includes("California"));
    const states = await page.$$eval("circle.point", (els) => els.length);
    const alertStates = await page.$$eval("li.alert", (els) => els.map((e) => e.querySelector(".place")?.textContent ?? ""));
    assert.ok(alertStates.every((p) => p.endsWith("CA")), JSON.stringify(alertStates));
    const pointIds = await page.$$eval("circle.point", (els) => els.map((e) => e.dataset.id));
    const caIds = await (await fetch(`http://127.0.0.1:${port}/api/events/recent?state=CA&limit=5000`)).json();
    const ca = new Set(caIds.events.map((e) => e.id));
    assert.ok(states > 0 && pointIds.every((i) => ca.has(i)), "only California's points");
    const query = await (await fetch(`http://127.0.0.1:${port}/api/metrics/query?name=accidents&where=State%3DCA&group_by=County`)).json();
    const caCounties = new Set(query.series.map((s) => s.labels.County));
    await waitFor(page, () => document.querySelectorAll("#series-legend li").length > 0);
    const legend = await page.$$eval("#series-legend li", (els) => els.map((e) => e.dataset.label));
    assert.ok(legend.every((l) => l === "other" || caCounties.has(l)), `${legend} vs ${[...caCounties]}`);
    // Keyboard: Escape clears the filter.
    await page.keyboard.press("Escape");
    await waitFor(page, () => document.body.dataset.state === "");

    assert.deepEqual(consoleErrors, []);
  } catch (e) {
    await screenshot(page, "failure-desktop.png").catch(() => {});
    throw e;
  } finally {
    await page.close();
  }
});

test("dashboard: narrow viewport and light theme", async () => {
  const page = await openPage({ width: 390, height: 844 });
  try {
    await waitFor(page, () => Number(document.getElementById("series-chart").dataset.series) >= 5);
    const initial = await page.getAttribute("html", "data-theme");
    await page.click("#theme");
    const other = initial === "dark" ? "light" : "dark";
    assert.equal(await page.getAttribute("html", "data-theme"), other);
    assert.equal(await page.evaluate(() => localStorage.getItem("roadpulse.theme")), other);
    if (other !== "light") await page.click("#theme");
    // One column: the panels stack.
    const xs = await page.$$eval("main > section", (els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
    assert.equal(new Set(xs).size, 1, `panel left edges ${xs}`);
    await screenshot(page, "dashboard-narrow-light.png");
    assert.deepEqual(consoleErrors, []);
  } finally {
    await page.close();
  }
});

// The SQL console against `roadpulse serve` on a data dir whose lake holds a table a bounded
// job wrote (Parquet, in the catalog as curated.us_accidents).
test("dashboard: SQL console over the lake (POST /api/query)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "rp-web-sql-"));
  const gen = spawnSync(BIN, ["simulate", "--rows", "300", "--seed", "17", "--to", "-", "--no-progress"],
    { encoding: "utf8", maxBuffer: 64 << 20 });
  assert.equal(gen.status, 0, gen.stderr);
  const events = gen.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const severe = events.filter((e) => Number(e.Severity) === 3).map((e) => e.ID).sort();
  assert.ok(severe.length > 3);
  writeFileSync(join(dir, "events.json"), gen.stdout);
  const data = join(dir, "data");
  writeFileSync(join(dir, "lake.sql"), `
CREATE TABLE src (ID STRING, Severity BIGINT, State STRING, County STRING, City STRING)
WITH ('connector' = 'filesystem', 'path' = '${join(dir, "events.json")}', 'format' = 'json');
CREATE TABLE curated (ID STRING, Severity BIGINT, State STRING, County STRING, City STRING)
WITH ('connector' = 'filesystem', 'path' = '${data}/lake/curated/us_accidents',
      'format' = 'parquet', 'lake.table' = 'curated.us_accidents');
INSERT INTO curated SELECT * FROM src;
`);
  const job = spawnSync(BIN, ["sql", "-f", join(dir, "lake.sql"), "--data-dir", data], { encoding: "utf8" });
  assert.equal(job.status, 0, job.stderr);
  const sqlPort = await freePort();
  const serve = spawn(BIN, ["serve", "--data-dir", data, "--listen", `127.0.0.1:${sqlPort}`, "--durability", "none"],
    { stdio: ["ignore", "pipe", "pipe"] });
  let page;
  try {
    await new Promise((resolve, reject) => {
      createInterface({ input: serve.stdout }).on("line", (l) => { if (l.startsWith("listening on")) resolve(); });
      serve.on("exit", (c) => reject(new Error(`serve exited ${c}`)));
    });
    const probe = await fetch(`http://127.0.0.1:${sqlPort}/api/query`, { method: "POST",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql: "SELECT ID FROM us_accidents" }) });
    if (probe.status === 404) {
      t.skip("POST /api/query is not served by this build");
      return;
    }
    page = await browser.newPage({ viewport: { width: 1440, height: 960 }, acceptDownloads: true });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error" && !/\/api\/pipeline$/.test(m.location().url)) errors.push(m.text()); });
    await page.goto(`http://127.0.0.1:${sqlPort}/`);
    const sql = "SELECT ID, Severity, State FROM us_accidents WHERE Severity = 3";
    await page.fill("#sql-editor", sql);
    await page.press("#sql-editor", "Control+Enter");
    await waitFor(page, () => ["done", "error"].includes(document.getElementById("sql-result").dataset.state));
    assert.equal(await page.getAttribute("#sql-result", "data-state"), "done", await page.textContent("#sql-result"));
    assert.equal(Number(await page.getAttribute("#sql-result table", "data-rows")), severe.length);
    const headers = await page.$$eval("#sql-result th", (els) => els.map((e) => e.textContent));
    assert.deepEqual(headers, ["ID", "Severity", "State"]);
    const ids = await page.$$eval("#sql-result tbody tr td:first-child", (els) => els.map((e) => e.textContent).sort());
    assert.deepEqual(ids, severe);
    // CSV download of the same rows.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#sql-csv")]);
    const csv = readFileSync(await download.path(), "utf8").trim().split("\r\n");
    assert.equal(csv[0], "ID,Severity,State");
    assert.equal(csv.length, severe.length + 1);
    // History survives a reload (localStorage).
    await page.reload();
    const history = await page.$$eval("#sql-history option", (els) => els.map((e) => e.value));
    assert.ok(history.includes(sql), "query history kept");
    // A bad query shows the engine's error, not a table.
    await page.fill("#sql-editor", "SELECT nope FROM us_accidents");
    await page.click("#sql-run");
    await waitFor(page, () => document.getElementById("sql-result").dataset.state === "error");
    assert.match(await page.textContent("#sql-result pre.error"), /nope/);
    await screenshot(page, "dashboard-sql.png");
    assert.deepEqual(errors.filter((e) => !e.includes("400")), []);
  } finally {
    await page?.close();
    serve.kill("SIGINT");
    await new Promise((r) => serve.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
});
