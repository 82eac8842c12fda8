/**
 * The baseline: a bare single-thread pipeline, what one would write in an afternoon. WebSocket
 * receive → JSON.parse → naive line protocol → gzip → POST, on one thread; no reliability, no
 * worker, no enrichment, escaping only of spaces and commas. It batches like the ingestor's
 * defaults (5,000 lines or 1 s, gzip level 1, at most 2 requests in flight; further batches wait
 * in memory), so that into a real database the two are compared on the same requests.
 * Usage (forked by the harness): argv = HA WebSocket URL, token, write URL. Tells the harness
 * `{type: 'count', lines}` over IPC each time the database acknowledged a batch.
 */
import { gzipSync } from 'node:zlib';
import WebSocket from 'ws';

/** The ingestor's defaults (BATCH_MAX_LINES, FLUSH_INTERVAL_MS, GZIP_LEVEL, its write concurrency). */
const BATCH_LINES = 5000;
const FLUSH_MS = 1000;
const GZIP_LEVEL = 1;
const IN_FLIGHT = 2;

const [url, token, writeUrl] = process.argv.slice(2) as [string, string, string];
const ws = new WebSocket(url, { perMessageDeflate: false });
let id = 1;
let pending: string[] = [];
let timer: NodeJS.Timeout | undefined;
const waiting: { body: Buffer; lines: number }[] = [];
let inFlight = 0;
let acknowledged = 0;

const esc = (s: string) => s.replace(/[ ,=]/g, '\\$&');
function flush(): void {
  clearTimeout(timer);
  timer = undefined;
  if (pending.length === 0) return;
  waiting.push({ body: gzipSync(pending.join(''), { level: GZIP_LEVEL }), lines: pending.length });
  pending = [];
  send();
}

function send(): void {
  while (inFlight < IN_FLIGHT && waiting.length > 0) {
    const { body, lines } = waiting.shift() as { body: Buffer; lines: number };
    inFlight++;
    void fetch(writeUrl, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body })
      .then(async (r) => {
        await r.arrayBuffer();
        if (r.status < 300) acknowledged += lines;
        else process.stderr.write(`bare pipeline: write answered ${r.status}\n`);
      })
      .catch((err: Error) => process.stderr.write(`bare pipeline: write failed: ${err.message}\n`))
      .finally(() => {
        inFlight--;
        process.send?.({ type: 'count', lines: acknowledged });
        send();
      });
  }
}

function onEvent(ev: { data?: { entity_id?: string; new_state?: { state: string; last_updated: string } | null } }): void {
  const s = ev.data?.new_state;
  const entity = ev.data?.entity_id;
  if (!s || !entity) return;
  const n = Number(s.state);
  const field = s.state !== '' && Number.isFinite(n) ? `value=${n}` : `state="${s.state.replace(/["\\]/g, '\\$&')}"`;
  const ns = `${Date.parse(s.last_updated)}000000`;
  pending.push(`${esc(entity.split('.')[0] as string)},entity_id=${esc(entity)} ${field} ${ns}\n`);
  if (pending.length >= BATCH_LINES) flush();
  else timer ??= setTimeout(flush, FLUSH_MS);
}

ws.on('message', (data: Buffer) => {
  const parsed = JSON.parse(data.toString()) as unknown;
  for (const msg of (Array.isArray(parsed) ? parsed : [parsed]) as { type: string; event?: unknown }[]) {
    if (msg.type === 'auth_required') ws.send(JSON.stringify({ type: 'auth', access_token: token }));
    else if (msg.type === 'auth_ok') {
      ws.send(JSON.stringify({ id: id++, type: 'supported_features', features: { coalesce_messages: 1 } }));
      ws.send(JSON.stringify({ id: id++, type: 'subscribe_events', event_type: 'state_changed' }));
    } else if (msg.type === 'event') onEvent(msg.event as Parameters<typeof onEvent>[0]);
  }
});
process.on('SIGTERM', () => process.exit(0));
