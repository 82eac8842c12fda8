/**
 * The counting sink, a process of its own: an HTTP server that takes InfluxDB writes (v1 /write,
 * v2 /api/v2/write), gunzips every body, checks and counts every line, and measures each point's
 * latency (receipt time − the point's own timestamp, which is HA's last_updated). It answers 204
 * like InfluxDB. Reports to the harness over IPC.
 */
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

let lines = 0;
let bad = 0;
/** Points the ingestor derives (presence, weather, its own health), not HA events: not in `lines`. */
let derived = 0;
const DERIVED = /^(home_presence|weather_observation|ha_ingestor)[ ,]/;
let firstAt = 0;
let lastAt = 0;
/** ms from the point's timestamp to receipt, one entry per point (subsampled past 2 M). */
let latencies: number[] = [];
const marks: { at: number; lines: number }[] = [];

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    const raw = Buffer.concat(chunks);
    const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
    const text = body.toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = text.slice(start, nl);
      start = nl + 1;
      // measurement[,tags] fields timestamp: two unescaped spaces at least, a numeric timestamp.
      const sp = line.lastIndexOf(' ');
      const ts = line.slice(sp + 1);
      if (sp <= 0 || !/^\d{19}$/.test(ts) || line.indexOf(' ') === sp) {
        bad++;
        continue;
      }
      if (DERIVED.test(line)) {
        derived++;
        continue;
      }
      lines++;
      if (latencies.length < 2_000_000) latencies.push(now - Number(ts.slice(0, 13)));
    }
    if (firstAt === 0) firstAt = now;
    lastAt = now;
    marks.push({ at: now, lines });
    res.writeHead(204).end();
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.send?.({ type: 'ready', port });
});

const tick = setInterval(() => process.send?.({ type: 'count', lines, bad }), 50);

process.on('SIGTERM', () => process.exit(0));
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'reset') {
    lines = 0;
    bad = 0;
    derived = 0;
    firstAt = 0;
    lastAt = 0;
    latencies = [];
    marks.length = 0;
  } else if (msg.type === 'report') {
    process.send?.({ type: 'report', lines, bad, derived, firstAt, lastAt, latencies, marks });
  } else if (msg.type === 'stop') {
    clearInterval(tick);
    server.close(() => process.exit(0));
  }
});
