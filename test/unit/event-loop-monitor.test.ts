import { afterEach, describe, expect, it } from 'vitest';
import { EventLoopMonitor } from '../../src/event-loop-monitor.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const block = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

let monitor: EventLoopMonitor | undefined;
afterEach(() => monitor?.stop());

describe('EventLoopMonitor', () => {
  it('an idle loop: the fine monitor stays off, delays near 0, utilization near 0', async () => {
    monitor = new EventLoopMonitor({ sampleMs: 50, fineMs: 10, busyShare: 0.5 });
    monitor.start();
    await sleep(300);
    expect(monitor.fineRunning).toBe(false);
    expect(monitor.lagSeconds()).toBeLessThan(0.04);
    expect(monitor.utilization()).toBeLessThan(0.3);
  });

  it('a block the sample timer was due in is reported as its delay beyond the due time, then reset', async () => {
    monitor = new EventLoopMonitor({ sampleMs: 20, fineMs: 10, busyShare: 2 }); // fine never runs
    monitor.start();
    await sleep(5);
    block(200);
    await sleep(5);
    const lag = monitor.lagSeconds();
    expect(lag).toBeGreaterThan(0.15);
    expect(lag).toBeLessThan(0.5);
    expect(monitor.lagSeconds()).toBe(0); // reset by the read
  });

  it('a busy loop turns the fine monitor on (every block seen, its resolution not counted); a quiet period turns it off', async () => {
    monitor = new EventLoopMonitor({ sampleMs: 100, fineMs: 10, busyShare: 0.3 });
    monitor.start();
    for (let i = 0; i < 10 && !monitor.fineRunning; i++) {
      block(80);
      await sleep(2);
    }
    expect(monitor.fineRunning).toBe(true);
    expect(monitor.utilization()).toBeGreaterThan(0.3);
    monitor.lagSeconds();
    for (let i = 0; i < 5; i++) {
      block(40);
      await sleep(12);
    }
    const lag = monitor.lagSeconds();
    expect(lag).toBeGreaterThan(0.02);
    expect(lag).toBeLessThan(0.2);
    await sleep(250);
    expect(monitor.fineRunning).toBe(false);
  });
});
