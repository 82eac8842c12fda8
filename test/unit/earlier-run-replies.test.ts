/**
 * Review repro: a frame-overflow record of an earlier run keeps that run's `session` and command
 * ids. Sessions restart at 1 and ids follow the same sequence in every run, so the earlier run's
 * get_states answer (replayed first at start) settles THIS run's pending get_states: the resync
 * anchors on a snapshot from the earlier run.
 */
import { describe, expect, it } from 'vitest';
import { HaConnection, type StatesEncoded } from '../../src/ha/connection.js';
import { createMetrics } from '../../src/metrics.js';
import { decodeFrames, EARLIER_RUN_SESSION, encodeFrames } from '../../src/pipeline/overflow.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';
import { capturingLogger } from '../helpers/log.js';
import { startFakeHaWs } from '../helpers/fake-ha-ws.js';
import { until } from '../helpers/ports.js';

const st = (id: string, at: string) => ({ entity_id: id, state: '1', attributes: {}, last_changed: at, last_updated: at });

describe('an earlier run replayed from the frame overflow (review finding 2)', () => {
  it("its get_states answer does not settle this run's get_states", async () => {
    const NOW = '2024-05-01T12:00:00+00:00';
    const { wss, url } = await startFakeHaWs((ws, m) => {
      // HA takes 300 ms for get_states (a big home); everything else at once.
      const reply = () => ws.send(JSON.stringify({ id: m.id, type: 'result', success: true, result: m.type === 'get_states' ? [st('sensor.a', NOW)] : null }));
      if (m.type === 'get_states') setTimeout(reply, 300);
      else reply();
    });
    const encoder = createSchemaBatchEncoder({ schema: 'typed' });
    const { log } = capturingLogger();
    let snapshotSeen: StatesEncoded | null = null;
    let getStatesId = -1;
    const conn: HaConnection = new HaConnection({
      url,
      token: 't',
      eventTypes: ['state_changed'],
      log,
      metrics: createMetrics(),
      handlers: {
        frame: (f) => {
          const r = encoder.encode({ bytes: new Uint8Array(f), ends: Uint32Array.of(f.length), session: conn.session, stateResults: [...conn.stateResults] });
          conn.receive(r.session, r.control);
        },
        closed: () => {},
        subscribed: (_s, snapshot) => {
          snapshotSeen = snapshot;
        },
        rejected: () => {},
      },
    });
    const done = conn.run();
    await until(
      'get_states sent',
      () => {
        const e = conn.stateResults.find(([, k]) => k === 'snapshot');
        if (e) getStatesId = e[0];
        return e ? true : undefined;
      },
      5_000,
    );
    // The earlier run: session 1, the same id for its get_states; its answer waited in the frame
    // overflow on disk (record of an earlier run: key '' ) and is fed now, at start.
    const oldFrame = Buffer.from(JSON.stringify({ id: getStatesId, type: 'result', success: true, result: [st('sensor.a', '2024-04-30T08:00:00+00:00')] }));
    const record = encodeFrames({
      bytes: new Uint8Array(oldFrame),
      ends: Uint32Array.of(oldFrame.length),
      session: 1,
      stateResults: [[getStatesId, 'snapshot']],
    });
    const { job } = decodeFrames(record, 1);
    // FrameOverflow feeds a record of an earlier run with session EARLIER_RUN_SESSION.
    const r = encoder.encode({ ...job, session: EARLIER_RUN_SESSION }); // what the pool returns; ResultRouter then calls:
    conn.receive(r.session, r.control);
    await until('subscribed', () => (snapshotSeen ? true : undefined), 5_000);
    conn.stop();
    await done;
    wss.close();
    // The anchor must be this run's snapshot (12:00), not the earlier run's (a day before).
    expect((snapshotSeen as StatesEncoded | null)?.newest?.haMs).toBe(Date.parse('2024-05-01T12:00:00Z'));
  });
});
