import { describe, expect, it } from 'vitest';
import { badTimeReason, epochSecondsToNs, IsoReader, isoToNs } from '../../workers/timestamp.js';

describe('isoToNs', () => {
  it.each([
    ['2024-05-01T12:34:56.123456+00:00', '1714566896123456000'],
    ['2024-05-01T12:34:56+00:00', '1714566896000000000'], // HA omits a zero fraction
    ['2024-05-01T12:34:56.000001+00:00', '1714566896000001000'],
    ['2024-05-01T12:34:56.999999+00:00', '1714566896999999000'],
    ['2024-05-01T12:34:56.1+00:00', '1714566896100000000'],
    ['2024-05-01T12:34:56.123456789Z', '1714566896123456789'],
    ['2024-05-01T12:34:56Z', '1714566896000000000'],
    ['2024-05-01T12:34:56', '1714566896000000000'], // no offset: UTC
    ['2024-05-01 12:34:56.5+00:00', '1714566896500000000'],
    ['2024-05-01T14:34:56.123456+02:00', '1714566896123456000'],
    ['2024-05-01T07:04:56.123456-05:30', '1714566896123456000'],
    ['2024-05-01T14:34:56+0200', '1714566896000000000'],
    ['2024-02-29T00:00:00+00:00', '1709164800000000000'],
    ['1970-01-01T00:00:01+00:00', '1000000000'],
    ['1970-01-01T00:00:00.000001+00:00', '1000'],
    ['1969-12-31T23:59:59.5+00:00', '-500000000'],
    ['2262-04-11T23:47:16.854775806Z', '9223372036854775806'], // InfluxDB's MaxNanoTime
    ['1677-09-21T00:12:43.145224194Z', '-9223372036854775806'], // and its MinNanoTime
    ['2262-04-12T01:47:16+02:00', '9223372036000000000'], // the offset brings it into the range
    ['1900-01-01T00:00:00+00:00', '-2208988800000000000'],
    ['1800-02-29T00:00:00+00:00', null], // 1800 is no leap year
  ])('%s → %s', (iso, ns) => {
    expect(isoToNs(iso)).toBe(ns);
  });

  it.each([
    '0050-06-01T00:00:00+00:00', // Date.UTC would read year 50 as 1950
    '0000-01-01T00:00:00+00:00',
    '0099-12-31T23:59:59+00:00',
    '1677-09-21T00:12:43.145224193Z', // 1 ns before InfluxDB's range
    '1677-01-01T00:00:00+00:00',
    '2262-04-11T23:47:16.854775807Z', // int64's maximum: 1 ns past InfluxDB's range
    '2262-04-12T00:00:00+00:00',
    '9999-12-31T23:59:59+00:00',
  ])('refuses %s: outside InfluxDB’s range, never another date', (iso) => {
    expect(isoToNs(iso)).toBeNull();
    expect(badTimeReason(iso)).toBe(`${JSON.stringify(iso)} is outside the range InfluxDB can store (1677-09-21 to 2262-04-11)`);
  });

  it('says when a time is not a time at all', () => {
    expect(badTimeReason('2024-02-30T00:00:00+00:00')).toBe('"2024-02-30T00:00:00+00:00" is not a valid ISO 8601 time');
    expect(badTimeReason(42)).toBe('42 is not a valid ISO 8601 time');
  });

  it('is exact where a double of nanoseconds is not', () => {
    const ns = isoToNs('2024-05-01T12:34:56.123457+00:00') as string;
    expect(ns).toBe('1714566896123457000');
    expect(String(Date.parse('2024-05-01T12:34:56.123457Z') * 1e6)).not.toBe(ns);
  });

  it.each([
    '',
    'now',
    '2024-05-01',
    '2024-13-01T00:00:00+00:00',
    '2024-02-30T00:00:00+00:00',
    '2023-02-29T00:00:00+00:00',
    '2024-05-01T24:00:00+00:00',
    '2024-05-01T12:60:00+00:00',
    '2024-05-01T12:00:60+00:00',
    '2024-05-01T12:00:00.+00:00',
    '2024-05-01T12:00:00.1234567890+00:00',
    '2024-05-01T12:00:00+25:00',
    '2024-05-01T12:00:00+00:61',
    ' 2024-05-01T12:00:00+00:00',
  ])('rejects %j', (iso) => {
    expect(isoToNs(iso)).toBeNull();
  });
});

describe('IsoReader (isoToNs remembering the last whole second)', () => {
  it('gives what isoToNs gives, for every text in any order', () => {
    const heads = [
      '2024-05-01T12:34:56',
      '2024-05-01 12:34:56',
      '2024-05-01T12:34:57',
      '2024-02-31T00:00:00',
      '1677-09-21T00:12:43',
      '2262-04-11T23:47:16',
      '0099-01-01T00:00:00',
    ];
    const fractions = ['', '.', '.1', '.123456', ',123456789', '.1234567890', '.12a', 'x'];
    const zones = ['', 'Z', '+00:00', '-05:30', '+0200', '+24:00', '+00:0', 'Z ', '+00:00x'];
    const texts = heads.flatMap((h) => fractions.flatMap((f) => zones.map((z) => `${h}${f}${z}`)));
    // Seeded shuffle: each text read after many different ones, repeats included.
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 48271) >>> 0) % 2147483647);
    const order = Array.from({ length: texts.length * 4 }, () => texts[next() % texts.length] as string);
    const reader = new IsoReader();
    for (const t of [...texts, ...order]) expect(reader.read(t), t).toBe(isoToNs(t));
  });
});

describe('epochSecondsToNs', () => {
  it.each([
    [1714566896.123456, '1714566896123456000'],
    [1714566896, '1714566896000000000'],
    [1714566896.000001, '1714566896000001000'],
    [1714566896.999999, '1714566896999999000'],
  ])('%d → %s (µs exact)', (s, ns) => {
    expect(epochSecondsToNs(s)).toBe(ns);
  });

  it('refuses times outside InfluxDB’s range', () => {
    expect(epochSecondsToNs(-60_589_296_000)).toBeNull(); // 0050-01-01
    expect(epochSecondsToNs(9_223_372_037)).toBeNull();
    expect(epochSecondsToNs(Number.POSITIVE_INFINITY)).toBeNull();
  });
});
