/**
 * A bare bulk loader: pre-encoded line protocol, gzip batches of 5,000 lines, 2 requests in
 * flight, into InfluxDB's /write. What the database itself can take, for the ingestor to be
 * compared with. Usage: argv = write URL, points. Prints {"points","seconds"} as JSON.
 */
import { gzipSync } from 'node:zlib';
import { request } from 'undici';

const [writeUrl, pointsArg] = process.argv.slice(2) as [string, string];
const points = Number(pointsArg);
const base = Date.now() * 1_000_000 - points * 1000;
const bodies: Buffer[] = [];
for (let i = 0; i < points; i += 5000) {
  let text = '';
  for (let j = i; j < Math.min(points, i + 5000); j++) {
    text += `sensor,device_class=temperature,entity_id=sensor.bulk_${j % 300},unit=°C value=${(j % 1000) / 10},friendly_name_str="Bulk ${j % 300}" ${base + j * 1000}\n`;
  }
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
