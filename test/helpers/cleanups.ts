/** Undo steps a test registers as it goes; run newest first after each test, errors ignored. */
import { afterEach } from 'vitest';
import { Scenario } from './scenario.js';

export function useCleanups(): (() => Promise<void>)[] {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });
  return cleanups;
}

/** A scenario stopped (and its data folder removed) after the test. */
export async function startScenario(cleanups: (() => Promise<void>)[], opts: Parameters<typeof Scenario.start>[0]): Promise<Scenario> {
  const sc = await Scenario.start(opts);
  cleanups.push(() => sc.stop());
  return sc;
}
