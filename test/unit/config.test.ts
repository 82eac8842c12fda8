import { describe, expect, it } from 'vitest';
import { DEFAULT_BOUNDS, haWebSocketUrl, loadConfig, MIN_WORKER_OLD_GENERATION_MB, memoryBounds } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { createHaEncoder } from '../../workers/ha-schema.js';

const V2 = {
  HA_URL: 'http://ha.local:8123',
  HA_TOKEN: 'secret-token-123',
  INFLUX_URL: 'http://influx:8086',
  INFLUX_TOKEN: 'itok',
  INFLUX_ORG: 'home',
  INFLUX_BUCKET: 'ha',
};
const V1 = { HA_URL: 'http://ha.local:8123', HA_TOKEN: 'secret-token-123', INFLUX_URL: 'http://influx:8086', INFLUX_API: 'v1', INFLUX_DB: 'ha' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the defaults', () => {
    const c = loadConfig(V2);
    expect(c.sink).toBe('influx');
    expect(c.ha).toEqual({ url: 'ws://ha.local:8123/api/websocket', token: 'secret-token-123', eventTypes: ['state_changed'] });
    expect(c.influx).toEqual({ api: 'v2', url: 'http://influx:8086', token: 'itok', org: 'home', bucket: 'ha' });
    expect(c.batchMaxLines).toBe(5000);
    expect(c.flushIntervalMs).toBe(1000);
    expect(c.selfMetricsIntervalS).toBe(60);
    expect(c.stateSaveIntervalMs).toBe(30_000);
    expect(c.httpPort).toBe(8099);
    expect(c.dataDir).toBe('./data');
    expect(c.poolSize).toBeGreaterThanOrEqual(1);
  });

  it('reads v1 settings and numbers', () => {
    const c = loadConfig({ ...V1, INFLUX_RP: 'autogen', INFLUX_USERNAME: 'u', INFLUX_PASSWORD: 'p', POOL_SIZE: '0', GZIP_LEVEL: '6', HA_EVENT_TYPES: '*' });
    expect(c.influx).toEqual({ api: 'v1', url: 'http://influx:8086', db: 'ha', rp: 'autogen', username: 'u', password: 'p' });
    expect(c.poolSize).toBe(0);
    expect(c.gzipLevel).toBe(6);
    expect(c.ha.eventTypes).toBe('all');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ...V2, POOL_SIZE: '', HA_EVENT_TYPES: '' }).ha.eventTypes).toEqual(['state_changed']);
  });

  it('names HA_TOKEN when it is missing', () => {
    const { HA_TOKEN: _, ...env } = V2;
    expect(problems(env)).toEqual(['HA_TOKEN: required (a long-lived access token (HA profile → Security)), not set']);
  });

  it('reports every problem at once, in one message', () => {
    const list = problems({ HA_URL: 'ha.local', POOL_SIZE: 'many', BATCH_MAX_LINES: '0', INFLUX_API: 'v3', LOG_LEVEL: 'loud' });
    expect(list).toEqual([
      'HA_URL: expected an http(s):// or ws(s):// URL such as http://homeassistant.local:8123, got "ha.local"',
      'HA_TOKEN: required (a long-lived access token (HA profile → Security)), not set',
      'INFLUX_API: expected v2 or v1, got "v3"',
      'POOL_SIZE: expected an integer from 0 to 64, got "many"',
      'BATCH_MAX_LINES: expected an integer from 1 to 1000000, got "0"',
      'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  });

  it('writes files when INFLUX_URL is unset, and needs INFLUX_URL for SINK=influx', () => {
    const c = loadConfig({ HA_URL: 'http://ha:8123', HA_TOKEN: 't' });
    expect(c.sink).toBe('file');
    expect(c.influx).toBeNull();
    expect(problems({ HA_URL: 'http://ha:8123', HA_TOKEN: 't', SINK: 'influx' })).toEqual([
      'INFLUX_URL: required when SINK=influx, not set',
      'INFLUX_TOKEN: required when INFLUX_API=v2, not set',
      'INFLUX_ORG: required when INFLUX_API=v2, not set',
      'INFLUX_BUCKET: required when INFLUX_API=v2, not set',
    ]);
    expect(problems({ HA_URL: 'http://ha:8123', HA_TOKEN: 't', SINK: 'disk' })).toEqual(['SINK: expected influx or file, got "disk"']);
  });

  it.each([
    [{ POOL_SIZE: '1.5' }, 'POOL_SIZE: expected an integer from 0 to 64, got "1.5"'],
    [{ POOL_SIZE: '65' }, 'POOL_SIZE: expected an integer from 0 to 64, got "65"'],
    [{ BATCH_MAX_BYTES: '10' }, 'BATCH_MAX_BYTES: expected an integer from 1024 to 67108864, got "10"'],
    [{ FLUSH_INTERVAL_MS: '-1' }, 'FLUSH_INTERVAL_MS: expected an integer from 10 to 600000, got "-1"'],
    [{ GZIP_LEVEL: '10' }, 'GZIP_LEVEL: expected an integer from 0 (no gzip) to 9, got "10"'],
    [{ HTTP_PORT: '70000' }, 'HTTP_PORT: expected an integer from 0 to 65535, got "70000"'],
    [{ SHUTDOWN_TIMEOUT_MS: 'soon' }, 'SHUTDOWN_TIMEOUT_MS: expected an integer from 0 to 600000, got "soon"'],
    [{ STATE_SAVE_INTERVAL_MS: '500' }, 'STATE_SAVE_INTERVAL_MS: expected an integer from 1000 to 600000, got "500"'],
    [
      { HA_EVENT_TYPES: 'state_changed, call_service' },
      'HA_EVENT_TYPES: expected a comma-separated list of event types without spaces, or *, got "state_changed, call_service"',
    ],
    [{ INFLUX_URL: 'influx:8086' }, 'INFLUX_URL: expected an http(s):// URL such as http://localhost:8086, got "influx:8086"'],
    [{ SCHEMA: 'influx' }, 'SCHEMA: expected typed or ha, got "influx"'],
    [{ NORMALIZE_UNITS: 'yes' }, 'NORMALIZE_UNITS: expected true or false, got "yes"'],
    [{ INCLUDE_DOMAINS: 'sensor,,light' }, 'INCLUDE_DOMAINS: expected domains separated by commas, got "sensor,,light"'],
    [
      { INFLUX_TAGS: 'source' },
      'INFLUX_TAGS: expected key=value pairs separated by commas, such as source=hass,instance=home, or a JSON object of strings, such as {"room":"hall, 1st floor"}, got "source"',
    ],
    [
      { INFLUX_TAGS: '{"room":"hall' },
      'INFLUX_TAGS: expected a JSON object of strings, such as {"room":"hall, 1st floor"}, got "{\\"room\\":\\"hall" (not valid JSON)',
    ],
    [
      { INFLUX_TAGS: '{"floor":2}' },
      'INFLUX_TAGS: expected a JSON object of strings, such as {"room":"hall, 1st floor"}, got "{\\"floor\\":2}" (the value of "floor" is not a string: write it in quotes)',
    ],
    [
      { INFLUX_TAGS: '{"":"x"}' },
      'INFLUX_TAGS: expected a JSON object of strings, such as {"room":"hall, 1st floor"}, got "{\\"\\":\\"x\\"}" (a tag key is empty)',
    ],
    [{ INFLUX_TAGS: ' {}x' }, 'INFLUX_TAGS: expected a JSON object of strings, such as {"room":"hall, 1st floor"}, got " {}x" (not valid JSON)'],
    [{ WEATHER_LAT: '52.5' }, 'WEATHER_LAT, WEATHER_LON: set both or neither'],
    [{ WEATHER_LAT: '95', WEATHER_LON: '13' }, 'WEATHER_LAT: expected a latitude from -90 to 90, got "95"'],
    [{ WEATHER_INTERVAL_S: '10' }, 'WEATHER_INTERVAL_S: expected an integer of seconds from 60 to 86400, got "10"'],
    [{ WEATHER_ENTITY: 'sensor.x' }, 'WEATHER_ENTITY: expected a weather.* entity id, got "sensor.x"'],
    [{ WEATHER_API_KEY: '', WEATHER_URL: 'ftp://x' }, 'WEATHER_URL: expected an http(s):// URL, got "ftp://x"'],
  ])('%j', (override, message) => {
    expect(problems({ ...V2, ...override })).toEqual([message]);
  });

  it('requires the v2 settings for v2', () => {
    expect(problems({ HA_URL: V2.HA_URL, HA_TOKEN: 't', INFLUX_URL: V2.INFLUX_URL })).toEqual([
      'INFLUX_TOKEN: required when INFLUX_API=v2, not set',
      'INFLUX_ORG: required when INFLUX_API=v2, not set',
      'INFLUX_BUCKET: required when INFLUX_API=v2, not set',
    ]);
  });

  it('says that INFLUX_API=v1 is probably meant when INFLUX_DB is set without the v2 settings', () => {
    const base = { HA_URL: V2.HA_URL, HA_TOKEN: 't', INFLUX_URL: V2.INFLUX_URL, INFLUX_DB: 'home_assistant' };
    expect(problems(base)).toEqual([
      'INFLUX_DB: set, but INFLUX_API is not set, so v2 writes to a bucket and needs INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET (not set): ' +
        'for an InfluxDB 1.x database, INFLUX_API=v1 is probably meant',
    ]);
    expect(problems({ ...base, INFLUX_API: 'v2', INFLUX_TOKEN: 'tok' })).toEqual([
      'INFLUX_DB: set, but INFLUX_API=v2 writes to a bucket and needs INFLUX_ORG, INFLUX_BUCKET (not set): ' +
        'for an InfluxDB 1.x database, INFLUX_API=v1 is probably meant',
    ]);
    expect(loadConfig({ ...base, INFLUX_API: 'v1' }).influx).toMatchObject({ api: 'v1', db: 'home_assistant' });
  });

  it('requires the database for v1, and user and password together', () => {
    expect(problems({ ...V1, INFLUX_DB: '', INFLUX_USERNAME: 'u' })).toEqual([
      'INFLUX_DB: required when INFLUX_API=v1, not set',
      'INFLUX_USERNAME, INFLUX_PASSWORD: set both or neither',
    ]);
  });

  it('reads the schema, filter and enrichment settings', () => {
    const c = loadConfig({
      ...V2,
      SCHEMA: 'ha',
      INFLUX_TAGS: 'source=hass,instance=home',
      INFLUX_TAGS_ATTRIBUTES: 'friendly_name',
      EXCLUDE_DOMAINS: 'automation,script',
      WEATHER_LAT: '52.52',
      WEATHER_LON: '-13.4',
      WEATHER_API_KEY: 'k',
    });
    expect(c.schema).toEqual({
      schema: 'ha',
      ha: {
        measurementAttr: 'unit_of_measurement',
        defaultMeasurement: undefined,
        overrideMeasurement: undefined,
        tags: { source: 'hass', instance: 'home' },
        tagsAttributes: ['friendly_name'],
        ignoreAttributes: [],
        // v2, as HA's integration with api_version 2: "" string fields are written.
        emptyStringFields: true,
      },
      filters: {
        include: { domains: [], entities: [], entity_globs: [] },
        exclude: { domains: ['automation', 'script'], entities: [], entity_globs: [] },
        ignore_attributes: [],
      },
      flavor: 'influxdb',
    });
    expect(c.enrich).toMatchObject({
      presence: true,
      weather: true,
      weatherApiKey: 'k',
      weatherLocation: { lat: 52.52, lon: -13.4 },
      weatherIntervalMs: 600_000,
      weatherUrl: 'https://api.openweathermap.org',
    });
  });

  it('SCHEMA=ha leaves "" string fields out as HA does with api_version 1 (v1 and the file sink), writes them with v2', () => {
    const ha = (env: Record<string, string>) => {
      const schema = loadConfig({ ...env, SCHEMA: 'ha' }).schema;
      return schema.schema === 'ha' ? schema.ha.emptyStringFields : 'typed';
    };
    expect(ha(V1)).toBe(false);
    expect(ha(V2)).toBe(true);
    expect(ha({ HA_URL: V2.HA_URL, HA_TOKEN: 't' })).toBe(false);
  });

  it('never prints a secret', () => {
    const err = (() => {
      try {
        loadConfig({ ...V2, HA_TOKEN: 'super-secret-value', INFLUX_TOKEN: 'other-secret', POOL_SIZE: 'x' });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected an error');
    })();
    expect(err.message).not.toContain('super-secret-value');
    expect(err.message).not.toContain('other-secret');
  });
});

describe('haWebSocketUrl', () => {
  it.each([
    ['http://ha:8123', 'ws://ha:8123/api/websocket'],
    ['https://ha.example.org/', 'wss://ha.example.org/api/websocket'],
    ['http://proxy/ha//', 'ws://proxy/ha/api/websocket'],
    ['ws://ha:8123/api/websocket', 'ws://ha:8123/api/websocket'],
    ['wss://ha/api/websocket', 'wss://ha/api/websocket'],
  ])('%s → %s', (input, output) => {
    expect(haWebSocketUrl(input)).toBe(output);
  });
});

describe('URLs', () => {
  it.each([
    ['HA_URL', 'http://host:99999'],
    ['HA_URL', 'http://exa mple:8123'],
    ['HA_URL', 'http://[::1'],
    ['INFLUX_URL', 'http://influx:70000'],
    ['INFLUX_URL', 'http://[::1'],
  ])('%s=%s is refused at start-up, naming the variable', (name, value) => {
    const list = problems({ ...V1, [name]: value });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatch(new RegExp(`^${name}: expected .*, got ".*" \\(not a valid URL: check the host name and that the port is 1 to 65535\\)$`));
  });

  it('v1: user and password in INFLUX_URL are the credentials, and the URL kept has none', () => {
    const c = loadConfig({ ...V1, INFLUX_URL: 'http://writer:p%40ss@influx:8086' });
    expect(c.influx).toMatchObject({ api: 'v1', url: 'http://influx:8086', username: 'writer', password: 'p@ss' });
  });

  it('refuses credentials it would not use, and never shows them', () => {
    const all = [
      ...problems({ ...V1, HA_URL: 'http://me:ha-secret@ha.local:8123' }),
      ...problems({ ...V2, INFLUX_URL: 'http://me:influx-secret@influx:8086' }),
      ...problems({ ...V1, INFLUX_URL: 'http://me:influx-secret@influx:8086', INFLUX_USERNAME: 'u', INFLUX_PASSWORD: 'p' }),
      ...problems({ ...V1, INFLUX_URL: 'http://me@influx:8086' }),
      ...problems({ ...V1, HA_URL: 'http://me:ha-secret@ha.local:99999' }),
    ];
    expect(all).toEqual([
      'HA_URL: has user:password@ in it, which Home Assistant does not use (it takes HA_TOKEN): remove them',
      'INFLUX_URL: has user:password@ in it, which INFLUX_API=v2 does not use: put the token in INFLUX_TOKEN',
      'INFLUX_URL, INFLUX_USERNAME/INFLUX_PASSWORD: credentials given twice: keep those in the URL or those in the variables',
      'INFLUX_URL: give both user and password in the URL (user:password@host), or neither',
      'HA_URL: expected an http(s):// or ws(s):// URL such as http://homeassistant.local:8123, got "http://***@ha.local:99999" (not a valid URL: check the host name and that the port is 1 to 65535)',
    ]);
    expect(JSON.stringify(all)).not.toMatch(/secret/);
  });

  it('listens on loopback by default; HTTP_HOST changes it', () => {
    expect(loadConfig(V1).httpHost).toBe('127.0.0.1');
    expect(loadConfig({ ...V1, HTTP_HOST: '0.0.0.0' }).httpHost).toBe('0.0.0.0');
  });
});

describe('INFLUX_TAGS', () => {
  const tagsOf = (raw: string) => {
    const c = loadConfig({ ...V2, SCHEMA: 'ha', INFLUX_TAGS: raw });
    return c.schema.schema === 'ha' ? c.schema.ha.tags : undefined;
  };

  it.each<[string, Record<string, string>]>([
    ['source=hass,instance=home', { source: 'hass', instance: 'home' }],
    ['expr=a=b,empty=', { expr: 'a=b', empty: '' }],
    ['{"room":"hall, 1st floor","a=b":"x=y z"}', { room: 'hall, 1st floor', 'a=b': 'x=y z' }],
    ['  {"k":"v"}', { k: 'v' }],
    ['{}', {}],
  ])('reads %s', (raw, tags) => {
    expect(tagsOf(raw)).toEqual(tags);
  });

  it('reads only a JSON object as JSON', () => {
    expect(problems({ ...V2, INFLUX_TAGS: '["a"]' })).toEqual([
      'INFLUX_TAGS: expected key=value pairs separated by commas, such as source=hass,instance=home, or a JSON object of strings, such as {"room":"hall, 1st floor"}, got "[\\"a\\"]"',
    ]);
  });

  it('escapes commas, = and spaces of tag keys and values in the line', () => {
    const c = loadConfig({ ...V2, SCHEMA: 'ha', INFLUX_TAGS: '{"room":"hall, 1st floor","a=b":"x=y z"}' });
    if (c.schema.schema !== 'ha') throw new Error('SCHEMA=ha expected');
    const enc = createHaEncoder(c.schema.ha);
    expect(enc.encodeState({ entity_id: 'sensor.t', state: '21', attributes: {}, last_updated: '2024-05-01T00:00:00+00:00' })).toBe(
      'sensor.t,a\\=b=x\\=y\\ z,domain=sensor,entity_id=t,room=hall\\,\\ 1st\\ floor value=21 1714521600000000000\n',
    );
  });
});

describe('INFLUX_FLAVOR', () => {
  it('influxdb by default; victoriametrics reaches both schemas', () => {
    expect(loadConfig(V2).schema).toMatchObject({ schema: 'typed', flavor: 'influxdb' });
    expect(loadConfig({ ...V2, INFLUX_FLAVOR: 'victoriametrics' }).schema).toMatchObject({ schema: 'typed', flavor: 'victoriametrics' });
    expect(loadConfig({ ...V2, SCHEMA: 'ha', INFLUX_FLAVOR: 'victoriametrics' }).schema).toMatchObject({ schema: 'ha', flavor: 'victoriametrics' });
  });

  it('anything else is refused with its message', () => {
    expect(() => loadConfig({ ...V2, INFLUX_FLAVOR: 'vm' })).toThrow('INFLUX_FLAVOR: expected influxdb or victoriametrics, got "vm"');
  });
});

describe('README', () => {
  it('documents every variable the ingestor reads', async () => {
    const { readFileSync } = await import('node:fs');
    const { VARIABLES } = await import('../../src/config.js');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(VARIABLES).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});

describe('MEMORY_LIMIT_MB', () => {
  const MiB = 1024 * 1024;

  it('unset: the bounds of before (32 MiB of frames, 64 MiB of write bodies, 16 MiB waiting), V8 sizes the encoder heap', () => {
    const c = loadConfig(V2);
    expect(c.memoryLimitMb).toBeUndefined();
    expect(c).toMatchObject({ encoderQueueBytes: 32 * MiB, writerQueueBytes: 64 * MiB, waitingRoomBytes: 16 * MiB, workerOldGenerationMb: undefined });
    expect(memoryBounds(undefined)).toBe(DEFAULT_BOUNDS);
  });

  it('512 (a small host): 16 MiB of frames, 64 MiB of write bodies, 16 MiB waiting, 256 MB per encoder heap (the floor)', () => {
    const c = loadConfig({ ...V2, MEMORY_LIMIT_MB: '512' });
    expect(c).toMatchObject({
      memoryLimitMb: 512,
      encoderQueueBytes: 16 * MiB,
      writerQueueBytes: 64 * MiB,
      waitingRoomBytes: 16 * MiB,
      workerOldGenerationMb: 256,
    });
  });

  it('1024: twice the queues, the encoder heap still at its floor; 2048: a quarter of it', () => {
    expect(memoryBounds(1024)).toEqual({ encoderQueueBytes: 32 * MiB, writerQueueBytes: 128 * MiB, waitingRoomBytes: 32 * MiB, workerOldGenerationMb: 256 });
    expect(memoryBounds(2048).workerOldGenerationMb).toBe(512);
  });

  it('384, the smallest: the encoder heap at its floor, which holds a dense 16 MiB history answer (docs/reliability.md)', () => {
    expect(memoryBounds(384)).toEqual({
      encoderQueueBytes: 12 * MiB,
      writerQueueBytes: 48 * MiB,
      waitingRoomBytes: 12 * MiB,
      workerOldGenerationMb: MIN_WORKER_OLD_GENERATION_MB,
    });
    expect(MIN_WORKER_OLD_GENERATION_MB).toBe(256);
  });

  it('ENCODER_QUEUE_BYTES given explicitly wins over the share', () => {
    const c = loadConfig({ ...V2, MEMORY_LIMIT_MB: '512', ENCODER_QUEUE_BYTES: String(8 * MiB) });
    expect(c.encoderQueueBytes).toBe(8 * MiB);
    expect(c.writerQueueBytes).toBe(64 * MiB);
  });

  it('too small, or not a whole number of MB: one clear problem', () => {
    const expected =
      'MEMORY_LIMIT_MB: expected an integer of MB from 384 (the runtime, the queues and one dense 16 MiB answer being encoded need about 340) to 1048576';
    expect(problems({ ...V2, MEMORY_LIMIT_MB: '256' })).toEqual([`${expected}, got "256"`]);
    expect(problems({ ...V2, MEMORY_LIMIT_MB: '1.5G' })).toEqual([`${expected}, got "1.5G"`]);
    expect(() => memoryBounds(256)).toThrow(RangeError);
  });
});
