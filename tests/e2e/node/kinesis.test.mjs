// The Kinesis API against the AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis): records made
// like the reference simulator (4-space-indented JSON, every field a string, PartitionKey =
// Severity) through PutRecord and PutRecords, every shard read back to the end and compared byte
// for byte, and the error types SDK users catch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, ListShardsCommand,
  PutRecordCommand, PutRecordsCommand, GetShardIteratorCommand, GetRecordsCommand,
  DescribeStreamCommand, ListStreamsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const bin = process.env.ROADPULSE_BIN ?? new URL('../../../build/release/roadpulse', import.meta.url).pathname;
let server;
let dataDir;
let kinesis;
let kinesisHttp1;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitHealthy(endpoint) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${endpoint}/healthz`);
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('roadpulse serve did not become healthy');
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'rp-node-kinesis-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dataDir, 'data')],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHealthy(endpoint);
  // The Kinesis client's default handler speaks HTTP/2 (cleartext, prior knowledge, on an
  // http:// endpoint): the client exactly as users create it. A second client uses Node's
  // HTTP/1.1 handler, as tools configure it for local endpoints such as kinesalite.
  kinesis = new KinesisClient({
    endpoint, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  });
  kinesisHttp1 = new KinesisClient({
    endpoint, region: 'us-east-1', maxAttempts: 1, requestHandler: new NodeHttpHandler(),
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  });
});

after(async () => {
  kinesis?.destroy();
  kinesisHttp1?.destroy();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    assert.equal(await exited, 0, 'serve exits 0 on SIGTERM');
  }
  rmSync(dataDir, { recursive: true, force: true });
});

// Events like the reference simulator's: csv.DictReader rows serialized with indent=4.
function referenceEvent(i) {
  const severity = String([2, 2, 3, 2, 4, 1, 2, 3][i % 8]);
  const row = {
    ID: `A-${1000 + i}`, Source: 'Source2', Severity: severity,
    Start_Time: `2016-02-08T05:${String(i % 60).padStart(2, '0')}:00`,
    Start_Lat: '39.865147', Start_Lng: '-84.058723', 'Distance(mi)': '0.01',
    Description: `Right lane blocked due to accident on I-70 Eastbound at Exit ${i} — café ñ`,
    City: 'Dayton', County: 'Montgomery', State: 'OH', Amenity: 'False',
    Txn_Timestamp: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0')}`,
  };
  return { data: Buffer.from(JSON.stringify(row, null, 4), 'utf8'), key: severity };
}

async function readShard(stream, shardId) {
  let it = (await kinesis.send(new GetShardIteratorCommand({
    StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON',
  }))).ShardIterator;
  const out = [];
  while (it) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 50 }));
    out.push(...page.Records);
    it = page.NextShardIterator;
    if (page.Records.length === 0 && page.MillisBehindLatest === 0) break;
  }
  return out;
}

test('PutRecord and PutRecords round trip, byte for byte, per shard in order', async () => {
  const stream = 'us-accidents-data-stream-1';
  await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 3 }));
  const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
  assert.equal(summary.StreamDescriptionSummary.OpenShardCount, 3);

  const sent = new Map();  // shardId -> [{seq, data, key}]
  const remember = (shardId, seq, e) => {
    if (!sent.has(shardId)) sent.set(shardId, []);
    sent.get(shardId).push({ seq, data: e.data, key: e.key });
  };
  for (let i = 0; i < 60; i++) {
    const e = referenceEvent(i);
    const r = await kinesis.send(new PutRecordCommand({ StreamName: stream, Data: e.data, PartitionKey: e.key }));
    assert.match(r.SequenceNumber, /^\d+$/);
    remember(r.ShardId, r.SequenceNumber, e);
  }
  for (let b = 0; b < 3; b++) {
    const events = Array.from({ length: 100 }, (_, j) => referenceEvent(60 + b * 100 + j));
    const r = await kinesis.send(new PutRecordsCommand({
      StreamName: stream, Records: events.map((e) => ({ Data: e.data, PartitionKey: e.key })),
    }));
    assert.equal(r.FailedRecordCount, 0);
    r.Records.forEach((res, j) => remember(res.ShardId, res.SequenceNumber, events[j]));
  }

  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards;
  assert.equal(shards.length, 3);
  let total = 0;
  for (const shard of shards) {
    const got = await readShard(stream, shard.ShardId);
    const want = sent.get(shard.ShardId) ?? [];
    assert.equal(got.length, want.length, `records in ${shard.ShardId}`);
    got.forEach((rec, j) => {
      assert.equal(rec.SequenceNumber, want[j].seq);
      assert.equal(rec.PartitionKey, want[j].key);
      assert.ok(Buffer.from(rec.Data).equals(want[j].data), `data of ${rec.SequenceNumber}`);
      assert.ok(rec.ApproximateArrivalTimestamp instanceof Date);
    });
    total += got.length;
  }
  assert.equal(total, 360);
});

test('the HTTP/1.1 handler reads what the HTTP/2 client wrote', async () => {
  await kinesisHttp1.send(new CreateStreamCommand({ StreamName: 'h1', ShardCount: 1 }));
  const e = referenceEvent(7);
  const put = await kinesis.send(new PutRecordCommand({ StreamName: 'h1', Data: e.data, PartitionKey: e.key }));
  const it = (await kinesisHttp1.send(new GetShardIteratorCommand({
    StreamName: 'h1', ShardId: put.ShardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER',
    StartingSequenceNumber: put.SequenceNumber,
  }))).ShardIterator;
  const page = await kinesisHttp1.send(new GetRecordsCommand({ ShardIterator: it }));
  assert.equal(page.Records.length, 1);
  assert.ok(Buffer.from(page.Records[0].Data).equals(e.data));
});

test('errors are the real Kinesis exception types', async () => {
  await assert.rejects(kinesis.send(new DescribeStreamCommand({ StreamName: 'missing' })),
    (e) => e.name === 'ResourceNotFoundException' && e.$metadata.httpStatusCode === 400);
  await kinesis.send(new CreateStreamCommand({ StreamName: 'small', ShardCount: 1 }));
  await assert.rejects(kinesis.send(new CreateStreamCommand({ StreamName: 'small', ShardCount: 1 })),
    (e) => e.name === 'ResourceInUseException');
  await assert.rejects(kinesis.send(new PutRecordCommand({
    StreamName: 'small', Data: Buffer.alloc(1024 * 1024 + 1), PartitionKey: 'k',
  })), (e) => e.name === 'ValidationException');
  await assert.rejects(kinesis.send(new GetRecordsCommand({ ShardIterator: 'Z2FyYmFnZQ==' })),
    (e) => e.name === 'InvalidArgumentException');
  await assert.rejects(kinesis.send(new PutRecordsCommand({
    StreamName: 'small', Records: Array.from({ length: 501 }, () => ({ Data: Buffer.from('x'), PartitionKey: 'k' })),
  })), (e) => e.name === 'ValidationException');
});

test('SigV4 over HTTP/2: signed requests pass, a wrong secret is refused', async () => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const signed = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir',
    join(dataDir, 'signed'), '--access-key', 'AKIDNODE:n0de-secret'],
  { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => signed.on('exit', (code) => resolve(code)));
  try {
    await waitHealthy(endpoint);
    const good = new KinesisClient({ endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: 'AKIDNODE', secretAccessKey: 'n0de-secret' } });
    const bad = new KinesisClient({ endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: 'AKIDNODE', secretAccessKey: 'wrong' } });
    await good.send(new CreateStreamCommand({ StreamName: 'signed', ShardCount: 1 }));
    assert.deepEqual((await good.send(new ListStreamsCommand({}))).StreamNames, ['signed']);
    await assert.rejects(bad.send(new ListStreamsCommand({})),
      (e) => e.name === 'InvalidSignatureException');
    good.destroy();
    bad.destroy();
  } finally {
    signed.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});
