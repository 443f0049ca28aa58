// PutRecords load client for bench/server/kinesis_vs_kinesalite.sh: the AWS SDK for JavaScript v3
// with N requests in flight, each a batch of 500 records of ~1.2 KB (US Accidents events as the
// reference simulator made them), for a fixed time. Prints one JSON line with the throughput.
//
//   node load.mjs --endpoint http://127.0.0.1:8080 [--stream bench] [--shards 4]
//                 [--seconds 15] [--in-flight 4] [--batch 500] [--csv FILE]
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const { values: opt } = parseArgs({
  options: {
    endpoint: { type: 'string' }, stream: { type: 'string', default: 'bench' },
    shards: { type: 'string', default: '4' }, seconds: { type: 'string', default: '15' },
    'in-flight': { type: 'string', default: '4' }, batch: { type: 'string', default: '500' },
    csv: { type: 'string' }, warmup: { type: 'string', default: '2' },
  },
});
if (!opt.endpoint) throw new Error('--endpoint is required');
const inFlight = Number(opt['in-flight']);
const batchSize = Number(opt.batch);

// Records: CSV rows turned into 4-space-indented JSON with every field a string (~1.2 KB).
function makeRecords() {
  let rows = [];
  if (opt.csv) {
    const lines = readFileSync(opt.csv, 'utf8').split('\n').filter((l) => l.length > 0);
    const header = lines[0].split(',');
    rows = lines.slice(1, 1 + batchSize * 4).map((line) => {
      const cells = line.split(',');
      return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
    });
  }
  while (rows.length < batchSize * 4) {
    const i = rows.length;
    rows.push({ ID: `A-${i}`, Severity: String(1 + (i % 4)), Description: 'x'.repeat(900) });
  }
  return rows.map((row, i) => {
    row.Txn_Timestamp = new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString().replace('Z', '');
    return { Data: Buffer.from(JSON.stringify(row, null, 4)), PartitionKey: String(row.Severity) };
  });
}

const client = new KinesisClient({
  endpoint: opt.endpoint, region: 'us-east-1', maxAttempts: 1,
  credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
  // HTTP/1.1 keep-alive for both servers (kinesalite speaks no HTTP/2).
  requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: inFlight }) }),
});

async function ensureStream() {
  try {
    await client.send(new DescribeStreamSummaryCommand({ StreamName: opt.stream }));
  } catch {
    await client.send(new CreateStreamCommand({ StreamName: opt.stream, ShardCount: Number(opt.shards) }));
  }
  for (let i = 0; i < 100; i++) {
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: opt.stream }));
    if (s.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('stream did not become ACTIVE');
}

const records = makeRecords();
const bytesPerRecord = records.reduce((n, r) => n + r.Data.length, 0) / records.length;
await ensureStream();

let measuring = false;
let stop = false;
let done = 0;
let failed = 0;
let batchNo = 0;
const latencies = [];
async function worker() {
  while (!stop) {
    const start = (batchNo++ % 4) * batchSize;
    const t0 = performance.now();
    const r = await client.send(new PutRecordsCommand({
      StreamName: opt.stream, Records: records.slice(start, start + batchSize),
    }));
    if (measuring) {
      latencies.push(performance.now() - t0);
      done += batchSize - r.FailedRecordCount;
      failed += r.FailedRecordCount;
    }
  }
}
const workers = Array.from({ length: inFlight }, worker);
await new Promise((r) => setTimeout(r, Number(opt.warmup) * 1000));
measuring = true;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, Number(opt.seconds) * 1000));
measuring = false;
const seconds = (performance.now() - t0) / 1000;
stop = true;
await Promise.all(workers);
client.destroy();
latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : 0;
console.log(JSON.stringify({
  endpoint: opt.endpoint, records: done, failed, seconds: Number(seconds.toFixed(2)),
  records_per_second: Math.round(done / seconds), record_bytes: Math.round(bytesPerRecord),
  mb_per_second: Number((done * bytesPerRecord / seconds / 1e6).toFixed(1)),
  batch_ms_p50: Number(pct(0.5).toFixed(1)), batch_ms_p99: Number(pct(0.99).toFixed(1)),
}));
