/** Registries are asked for only where HA has them (src/enrich/registries.ts), against the simulator. */
import { afterEach, describe, expect, it } from 'vitest';
import { createSharedRegistry } from '../../workers/shared-registry.js';
import { Registries } from '../../src/enrich/registries.js';
import { HaCommandError } from '../../src/errors.js';
import type { Command } from '../../src/ha/messages.js';
import { HaSimulator } from '../../src/sim/server.js';
import { capturingLogger } from '../helpers/log.js';

let sim: HaSimulator | null = null;
afterEach(async () => {
  await sim?.stop();
  sim = null;
});

/** A connection answering as HA with `components` loaded (null: get_config without a list). */
function fakeHa(components: string[] | null) {
  const asked: string[] = [];
  const request = async (m: Command): Promise<unknown> => {
    asked.push(m.type);
    if (m.type === 'get_config') return components === null ? { version: 'x' } : { components };
    if (components !== null && !components.includes('config')) throw new HaCommandError(m.type, 'unknown_command', 'Unknown command.');
    return [];
  };
  return { asked, connection: { request } };
}

describe('registries', () => {
  it('are not asked for when HA has no config integration loaded (HA would log an ERROR per command)', async () => {
    const { asked, connection } = fakeHa(['http', 'websocket_api', 'recorder']);
    const { log, lines } = capturingLogger();
    const r = new Registries(connection, createSharedRegistry(), log);
    await r.refresh();
    await r.refresh();
    expect(asked).toEqual(['get_config', 'get_config']);
    expect(lines.filter((l) => String(l.msg).includes('config integration is not loaded'))).toHaveLength(1);
  });

  it.each([
    ['config loaded', ['http', 'config']],
    ['components unknown', null],
  ] as const)('are asked for when %s', async (_what, components) => {
    const { asked, connection } = fakeHa(components === null ? null : [...components]);
    const r = new Registries(connection, createSharedRegistry(), capturingLogger().log);
    await r.refresh();
    expect(asked.sort()).toEqual(['config/area_registry/list', 'config/device_registry/list', 'config/entity_registry/list', 'get_config']);
  });

  it('send no unknown command to the simulator playing HA 0.96', async () => {
    sim = new HaSimulator({ token: 't', entities: 10, mode: 'old' });
    await sim.start();
    const { HaConnection } = await import('../../src/ha/connection.js');
    const { createMetrics } = await import('../../src/metrics.js');
    const { log } = capturingLogger();
    let registries: Registries | null = null;
    let ready!: () => void;
    const done = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const conn = new HaConnection({
      url: sim.url,
      token: 't',
      eventTypes: ['state_changed'],
      log,
      metrics: createMetrics(),
      handlers: {
        frame: (f) => {
          const msg = JSON.parse(f.toString()) as { id: number; type: 'result'; success: boolean };
          if (msg.type === 'result') conn.receive(conn.session, [msg]);
        },
        closed: () => {},
        beforeSubscribe: async () => {
          await registries?.refresh();
          ready();
        },
        rejected: () => {},
      },
    });
    registries = new Registries(conn, createSharedRegistry(), log);
    const run = conn.run();
    await done;
    conn.stop();
    await run;
    expect(sim.unknownCommands).toBe(0);
  });
});
