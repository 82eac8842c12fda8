/**
 * A bare bulk loader: the same lines the ingestor writes (the simulator's events through the
 * typed encoder), pre-encoded, in gzip batches of 5,000 lines, 2 requests in flight, into
 * InfluxDB's /write. What the database itself takes, for the ingestor to be compared with.
 * Usage: argv = write URL, points. Prints {"points","seconds"} as JSON.
 */
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { HaSimulator } from '../../src/sim/server.js';
import { createTypedEncoder, type HaState } from '../../workers/typed-schema.js';

const [writeUrl, pointsArg] = process.argv.slice(2) as [string, string];
const points = Number(pointsArg);
const sim = new HaSimulator({ token: 'x', entities: 300, seed: 99, record: false });
const encoder = createTypedEncoder();
const bodies: Buffer[] = [];
for (let i = 0; i < points; i += 5000) {
  let text = '';
  for (const e of sim.generate(Math.min(5000, points - i))) text += encoder.encodeState((JSON.parse(e) as { data: { new_state: HaState } }).data.new_state);
  bodies.push(gzipSync(text, { level: 1 }));
}
const started = performance.now();
let next = 0;
async function lane(): Promise<void> {
  while (next < bodies.length) {
    const body = bodies[next++] as Buffer;
    const res = await request(writeUrl, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body });
    await res.body.dump();
    if (res.statusCode >= 300) throw new Error(`bulk write answered ${res.statusCode}`);
  }
}
await Promise.all([lane(), lane()]);
process.stdout.write(`${JSON.stringify({ points, seconds: (performance.now() - started) / 1000 })}\n`);
