#!/usr/bin/env node
/**
 * Runs the HA simulator on its own: `npm run sim -- --port 8123 --rate 50`.
 * Point the ingestor at it with HA_URL=http://127.0.0.1:<port> and HA_TOKEN=<token>.
 */
import { parseArgs } from 'node:util';
import { HaSimulator } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8123' },
    host: { type: 'string', default: '127.0.0.1' },
    token: { type: 'string', default: 'sim-token' },
    rate: { type: 'string', default: '20' },
    count: { type: 'string', default: '0' },
    entities: { type: 'string', default: '300' },
    seed: { type: 'string', default: '1' },
    old: { type: 'boolean', default: false },
    'clock-offset-ms': { type: 'string', default: '0' },
    pregenerate: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`Usage: npm run sim -- [--port 8123] [--token sim-token] [--rate 20 (events/s, 0 = as fast as read)]
       [--count 0 (0 = forever)] [--entities 300] [--seed 1] [--old (HA without coalescing)]
       [--clock-offset-ms 0 (HA's clock minus ours)]
       [--pregenerate (serialize --count events before sending: benchmarks)]
`);
  process.exit(0);
}

const sim = new HaSimulator({
  port: Number(values.port),
  host: values.host,
  token: values.token as string,
  entities: Number(values.entities),
  seed: Number(values.seed),
  mode: values.old ? 'old' : 'modern',
  record: false,
  clockOffsetMs: Number(values['clock-offset-ms']),
});
await sim.start();
process.stdout.write(`HA simulator listening: HA_URL=http://${values.host}:${sim.port} HA_TOKEN=${values.token}\n`);

const rate = Number(values.rate) || undefined;
const count = Number(values.count);
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) process.exit(1);
  stopping = true;
  await sim.stop();
  process.stdout.write(`emitted ${sim.emittedCount} state changes\n`);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

await sim.waitForSubscribers(1, 24 * 3600_000);
for (let emitted = 0; count === 0 || emitted < count; ) {
  const chunk = count === 0 ? 1000 : values.pregenerate ? count : Math.min(1000, count - emitted);
  await sim.emit({ count: chunk, rate, pregenerate: values.pregenerate });
  emitted += chunk;
  if (sim.subscribedClients === 0) await sim.waitForSubscribers(1, 24 * 3600_000);
}
process.stdout.write(`emitted ${sim.emittedCount} state changes\n`);
