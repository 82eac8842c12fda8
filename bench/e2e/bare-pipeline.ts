/**
 * The baseline: a bare single-thread pipeline, what one would write in an afternoon. WebSocket
 * receive → JSON.parse → naive line protocol → gzip → POST, on one thread; no reliability, no
 * worker, no enrichment, escaping only of spaces and commas. Usage (forked by the harness):
 * argv = HA WebSocket URL, token, write URL.
 */
import { gzipSync } from 'node:zlib';
import WebSocket from 'ws';

const [url, token, writeUrl] = process.argv.slice(2) as [string, string, string];
const ws = new WebSocket(url, { perMessageDeflate: false });
let id = 1;
let pending: string[] = [];
let timer: NodeJS.Timeout | undefined;

const esc = (s: string) => s.replace(/[ ,=]/g, '\\$&');
function flush(): void {
  clearTimeout(timer);
  timer = undefined;
  if (pending.length === 0) return;
  const body = gzipSync(pending.join(''), { level: 1 });
  pending = [];
  void fetch(writeUrl, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body }).then((r) => r.arrayBuffer());
}

function onEvent(ev: { data?: { entity_id?: string; new_state?: { state: string; last_updated: string } | null } }): void {
  const s = ev.data?.new_state;
  const entity = ev.data?.entity_id;
  if (!s || !entity) return;
  const n = Number(s.state);
  const field = s.state !== '' && Number.isFinite(n) ? `value=${n}` : `state="${s.state.replace(/["\\]/g, '\\$&')}"`;
  const ns = `${Date.parse(s.last_updated)}000000`;
  pending.push(`${esc(entity.split('.')[0] as string)},entity_id=${esc(entity)} ${field} ${ns}\n`);
  if (pending.length >= 5000) flush();
  else timer ??= setTimeout(flush, 1000);
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
