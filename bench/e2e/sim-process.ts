/**
 * The HA simulator for benchmarks, a process of its own. Pre-generates every event (so its own
 * cost is not measured), then sends them coalesced, either at a fixed rate or as fast as the
 * receiver takes them: in that mode it keeps at most `window` events beyond what the sink has
 * counted (credits from the harness), so the ingestor is measured, not its overflow to disk.
 */
import { HaSimulator } from '../../src/sim/server.js';

interface Start {
  type: 'start';
  events: number;
  rate: number | null;
  window: number;
}

const sim = new HaSimulator({ token: 'bench-token', entities: 300, seed: 99, record: false, maxMessagesPerFrame: 500 });
await sim.start();
let credit = 0;
let creditWaiter: (() => void) | null = null;

process.on('message', (msg: Start | { type: 'credit'; received: number } | { type: 'stop' }) => {
  if (msg.type === 'credit') {
    credit = msg.received;
    creditWaiter?.();
  } else if (msg.type === 'start') {
    void run(msg);
  } else if (msg.type === 'stop') {
    void sim.stop().then(() => process.exit(0));
  }
});
process.on('SIGTERM', () => process.exit(0));
process.send?.({ type: 'ready', port: sim.port });

async function run(msg: Start): Promise<void> {
  await sim.waitForSubscribers(1, 60_000);
  process.send?.({ type: 'subscribed' });
  // As fast as possible: pre-generated. At a fixed rate: generated as sent, so that each event's
  // timestamp is its sending time and the sink measures true latency.
  const events = msg.rate === null ? sim.generate(msg.events) : null;
  const startedAt = Date.now();
  let sent = 0;
  const chunk = 500;
  const sendChunk = (n: number): void => {
    sim.sendPrepared(events === null ? sim.generate(n) : events.slice(sent, sent + n));
    sent += n;
  };
  if (msg.rate === null) {
    while (sent < msg.events) {
      while (sent - credit > msg.window) await new Promise<void>((r) => (creditWaiter = r));
      sendChunk(Math.min(chunk, msg.events - sent));
      // Like HA, never let 4096 messages queue for a client: it would be disconnected.
      if (sim.pendingMessages > 2048) await sim.waitForDrain(1024);
      else await new Promise((r) => setImmediate(r));
    }
  } else {
    const t0 = performance.now();
    while (sent < msg.events) {
      await new Promise((r) => setTimeout(r, 5));
      const due = Math.min(msg.events, Math.floor(((performance.now() - t0) / 1000) * msg.rate));
      while (sent < due) sendChunk(Math.min(chunk, due - sent));
    }
  }
  process.send?.({ type: 'sent', sent, startedAt, endedAt: Date.now() });
}
