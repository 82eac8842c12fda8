/** The /proc parsers and the footprint arithmetic of bench/e2e/ (the footprint rows of `npm run bench`). */
import { describe, expect, it } from 'vitest';
import { summarise } from '../../bench/e2e/footprint.js';
import { parseField, parseMetric, parseStatTicks, type ProcSample, switchesOver } from '../../bench/e2e/proc.js';
import { Registry } from '../../src/metrics.js';

const STAT =
  '4242 (node) S 1 4242 4242 0 -1 4194304 9000 0 0 0 1234 567 0 0 20 0 11 0 1000 1200000000 25000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0';

const sample = (at: number, cpuTicks: number, rssKb: number, writeBytes: number, switches: [string, number][], hwmKb = 100_000): ProcSample => ({
  at,
  cpuTicks,
  rssKb,
  hwmKb,
  writeBytes,
  switches: new Map(switches),
});

describe('/proc parsers', () => {
  it('reads utime + stime from /proc/<pid>/stat', () => {
    expect(parseStatTicks(STAT)).toBe(1234 + 567);
  });

  it('reads them after a process name with spaces and parentheses', () => {
    expect(parseStatTicks(STAT.replace('(node)', '(a (b) c)'))).toBe(1801);
  });

  it('refuses text that is not a stat line', () => {
    expect(() => parseStatTicks('nonsense')).toThrow(/not a \/proc\/<pid>\/stat line/);
  });

  it('reads fields of /proc/<pid>/status and /proc/<pid>/io', () => {
    const status = 'Name:\tnode\nVmHWM:\t  150000 kB\nVmRSS:\t   98304 kB\nvoluntary_ctxt_switches:\t812\nnonvoluntary_ctxt_switches:\t31\n';
    expect(parseField(status, 'VmRSS')).toBe(98304);
    expect(parseField(status, 'VmHWM')).toBe(150000);
    expect(parseField(status, 'voluntary_ctxt_switches')).toBe(812);
    expect(parseField(status, 'VmSwap')).toBeUndefined();
    expect(parseField('rchar: 10\nwchar: 20\nread_bytes: 0\nwrite_bytes: 40960\ncancelled_write_bytes: 0\n', 'write_bytes')).toBe(40960);
  });

  it('reads an unlabelled series from /metrics, not its labelled or longer-named neighbours', () => {
    const text = '# TYPE x counter\nha_ingestor_disk_syncs_total 17\nha_ingestor_write_requests_total{status="204"} 3\nha_ingestor_write_requests_total 9\n';
    expect(parseMetric(text, 'ha_ingestor_disk_syncs_total')).toBe(17);
    expect(parseMetric(text, 'ha_ingestor_write_requests_total')).toBe(9);
    expect(parseMetric(text, 'ha_ingestor_disk_syncs')).toBeUndefined();
  });
});

describe('footprint arithmetic', () => {
  it('sums context switches per thread, counting threads born or gone during the window', () => {
    const samples = [
      sample(0, 0, 0, 0, [
        ['1', 100],
        ['2', 50],
      ]),
      sample(1000, 0, 0, 0, [
        ['1', 110],
        ['2', 55],
        ['3', 4],
      ]),
      sample(2000, 0, 0, 0, [
        ['1', 130],
        ['3', 9],
      ]), // thread 2 exited
    ];
    expect(switchesOver(samples)).toBe(30 + 5 + 9);
  });

  it('turns a window of samples into a row', () => {
    const samples = [
      sample(0, 1000, 90 * 1024, 0, [['1', 0]]),
      sample(30_000, 1030, 100 * 1024, 4096, [['1', 600]]),
      sample(60_000, 1060, 110 * 1024, 8192, [['1', 1200]], 150 * 1024),
    ];
    const row = summarise('2 events/s', 2, samples, { events: 120, fsyncs: 3 }, 100);
    expect(row).toMatchObject({
      seconds: 60,
      events: 120,
      cpuPercent: 1, // 0.6 s of CPU in 60 s
      cpuMicrosPerEvent: 5000,
      rssSteadyMb: 100,
      rssPeakMb: 150,
      rssMaxSampleMb: 110,
      writeKbPerMinute: 8,
      fsyncsPerMinute: 3,
      wakeupsPerSecond: 20,
      threads: 1,
    });
    expect(summarise('idle', 0, samples, { events: 0, fsyncs: null }, 100)).toMatchObject({ cpuMicrosPerEvent: null, fsyncsPerMinute: null });
  });
});

describe('a counter that follows a tally kept elsewhere', () => {
  it('shows the tally when read, rendered and summed', () => {
    const tally = { n: 0 };
    const c = new Registry('t').counter('syncs_total', 'help').follow(() => tally.n);
    expect(c.render()).toContain('t_syncs_total 0\n');
    tally.n = 5;
    expect(c.get()).toBe(5);
    expect(c.total()).toBe(5);
    expect(c.render()).toContain('t_syncs_total 5\n');
  });
});
