/**
 * The HA simulator for the import bench, a process of its own: `historyDays` of recorded history
 * for `entities` entities, one change each every `intervalS` seconds (src/sim/recorded.ts: made
 * per window asked for, not stored). Arguments: entities days intervalS. Reports its port and,
 * when asked, its own CPU (what answering the history cost on the HA side of this machine).
 */
import { HaSimulator } from '../../src/sim/server.js';

const [entities, days, intervalS] = process.argv.slice(2).map(Number) as [number, number, number];
const sim = new HaSimulator({ token: 'bench-token', entities, seed: 99, record: false, historyDays: days, historyIntervalS: intervalS });
await sim.start();
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'stop') void sim.stop().then(() => process.exit(0));
});
process.on('SIGTERM', () => process.exit(0));
// Recorded: the seeded days, and each entity's state at the simulator's start (a row too).
process.send?.({ type: 'ready', port: sim.port, rows: (sim.seeded?.rows ?? 0) + entities });
