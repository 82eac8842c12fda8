/** RestartDedup's entry points: filter (what is written now), persist (what is saved), gap. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RestartDedup } from '../../src/pipeline/restart-dedup/index.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import type { EncodeJob } from '../../workers/encode/result.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';
import { event, state, t } from '../helpers/ha-frames.js';

const call = (at: number) => JSON.stringify({ type: 'event', event: { event_type: 'call_service', data: { service: 'x' }, time_fired: t(at) }, id: 3 });

function job(frames: string[], session = 1): EncodeJob {
  const parts = frames.map((f) => Buffer.from(f));
  const ends = new Uint32Array(parts.length);
  let offset = 0;
  parts.forEach((p, i) => {
    ends[i] = offset += p.length;
  });
  return { bytes: new Uint8Array(Buffer.concat(parts)), ends, session, stateResults: [], context: ',home_occupied=1' };
}

function setup() {
  const watermark = new Watermark();
  const dedup = new RestartDedup({
    log: pino({ level: 'silent' }),
    metrics: { reannouncementsSkipped: { inc: () => {} }, seenEntities: { collect: () => {} } },
    write: (_lp, _n, hold) => hold.release(),
    slots: 256,
  });
  const encoder = createSchemaBatchEncoder({ schema: 'typed' }, { dedup: true });
  const run = (frames: string[], session = 1) => {
    const r = encoder.encode(job(frames, session));
    const hold = watermark.hold();
    const out = dedup.filter(r, hold);
    hold.release();
    return { r, out, text: Buffer.from(out.lp).toString() };
  };
  return { dedup, run, watermark };
}

describe('RestartDedup.filter', () => {
  it('hands back the same bytes, not a copy, when nothing is left out', () => {
    const { run } = setup();
    const { r, out } = run([event('sensor.a', '1', 1, state('sensor.a', '0', 0)), call(2)]);
    expect(out.lp).toBe(r.lp);
    expect(out.lines).toBe(2);
  });

  it('leaves out only the re-announced lines: other lines and the enrichment context stay as they were', () => {
    const { run } = setup();
    run([event('sensor.a', '1', 1, state('sensor.a', '0', 0)), event('sensor.b', '1', 1, state('sensor.b', '0', 0))]);
    const { out, text } = run([call(3), event('sensor.a', '1', 4, null), call(5), event('sensor.b', '2', 6, null), event('sensor.a', '1', 7, null)], 2);
    expect(out.lines).toBe(3);
    expect(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0] + (l.includes('home_occupied=1') ? ' +context' : '')),
    ).toEqual(['ha_event,event_type=call_service', 'ha_event,event_type=call_service', 'sensor,entity_id=sensor.b +context']);
  });
});

describe('RestartDedup.persist', () => {
  it('the version moves only when the table changes; the bytes restore into a new instance', () => {
    const { dedup, run } = setup();
    const v0 = dedup.persist.version();
    run([event('sensor.a', '1', 1, state('sensor.a', '0', 0))]);
    const v1 = dedup.persist.version();
    expect(v1).not.toBe(v0);
    run([call(2)]); // no state: nothing judged
    run([event('sensor.a', '1', 1, state('sensor.a', '0', 0))]); // the same point again
    expect(dedup.persist.version()).toBe(v1);

    const after = setup();
    expect(after.dedup.persist.restore(dedup.persist.serialize())).toBe(1);
    expect(after.dedup.entities).toBe(1);
    expect(after.run([event('sensor.a', '1', 9, null)], 5).out.lines).toBe(0);
  });
});

describe('RestartDedup.gap', () => {
  it("a live re-add while the connection's backfill is pending waits with a share of its hold; writeAll lets it go", () => {
    const { dedup, run, watermark } = setup();
    run([event('sensor.a', '1', 1, state('sensor.a', '0', 0))]);
    dedup.gap.begin(2);
    expect(run([event('sensor.a', '1', 4, null)], 2).out.lines).toBe(0);
    expect([dedup.waiting, watermark.held]).toEqual([1, 1]);
    dedup.gap.writeAll();
    expect([dedup.waiting, watermark.held]).toEqual([0, 0]);
  });
});
