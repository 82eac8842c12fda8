/**
 * Home Assistant's `influxdb:` block, as it appears in a real configuration.yaml (the shape of
 * HA's documentation examples), runs unchanged as CONFIG_FILE in the built ingestor, with only
 * HA_URL and HA_TOKEN in the environment (plus the test's DATA_DIR, HTTP_PORT and LOG_LEVEL),
 * and writes the points HA would: to a real InfluxDB 1.6.7 with authentication on (so the
 * password taken from secrets.yaml is really checked), and, for api_version 2 with a token and
 * over https, to a fake InfluxDB that records the requests.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HaSimulator } from '../../src/sim/server.js';
import { useCleanups } from '../helpers/cleanups.js';
import { haValueState, nsOf } from '../helpers/expected.js';
import { FakeInflux, type Received } from '../helpers/fake-influx.js';
import { Influxd } from '../helpers/influxd.js';
import { influxQuery } from '../helpers/influxql.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';

const cleanups = useCleanups();
const PASSWORD = 'influx-pw-5521';
const TOKEN = 'v2-token-9034';

/** A folder with configuration.yaml's block and secrets.yaml beside it, removed after the test. */
function configFolder(block: string, secrets: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ha-config-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'influxdb.yaml'), block);
  writeFileSync(join(dir, 'secrets.yaml'), secrets);
  return dir;
}

async function startSim(): Promise<HaSimulator> {
  const sim = new HaSimulator({ token: 'test-token', entities: 250, seed: 11 });
  await sim.start();
  cleanups.push(() => sim.stop());
  return sim;
}

async function startIngestor(sim: HaSimulator, dir: string): Promise<IngestorProcess> {
  const ingestor = await IngestorProcess.start({
    HA_URL: `http://127.0.0.1:${sim.port}`,
    HA_TOKEN: 'test-token',
    CONFIG_FILE: join(dir, 'influxdb.yaml'),
    DATA_DIR: join(dir, 'data'),
  });
  cleanups.push(async () => void (await ingestor.stop('SIGKILL')));
  return ingestor;
}

/** The key and candidate [value, state] pairs HA writes for the block of the first test. */
function haPoint(entityId: string, state: string, attributes: Record<string, unknown>, time: string): { key: string; fields: string } | null {
  const domain = entityId.slice(0, entityId.indexOf('.'));
  // include domains + exclude entities/globs: HA's case 4 (workers/filters.ts).
  if (!['sensor', 'binary_sensor'].includes(domain) || entityId === 'sensor.washing_machine_status' || /^sensor\..*_battery_/.test(entityId)) return null;
  if (state === 'unknown' || state === 'unavailable' || state === '') return null;
  const unit = attributes.unit_of_measurement;
  const measurement = /^sensor\..*_temperature_/.test(entityId) ? 'temperature' : typeof unit === 'string' && unit !== '' ? unit : 'state';
  const friendly = typeof attributes.friendly_name === 'string' ? attributes.friendly_name : null;
  // precision: s, truncated.
  const second = `${nsOf(time).slice(0, -9)}000000000`;
  return {
    key: `${measurement}|${domain}|${entityId.slice(domain.length + 1)}|${friendly}|hass|${second}`,
    fields: JSON.stringify(haValueState(state, attributes)),
  };
}

describe("CONFIG_FILE = HA's influxdb: block", () => {
  it('v1 with !secret, filters, tags, a measurement override and precision: s writes the points HA would', async () => {
    const influxd = await Influxd.create(mkdtempSync(join(tmpdir(), 'influxd-cfg-')), { auth: true });
    await influxd.start();
    cleanups.push(() => influxd.stop());
    await influxd.query(`CREATE USER homeassistant WITH PASSWORD '${PASSWORD}' WITH ALL PRIVILEGES`);
    const auth = { user: 'homeassistant', password: PASSWORD };
    await influxd.query('CREATE DATABASE home_assistant', auth);
    const port = new URL(influxd.url).port;
    const dir = configFolder(
      `influxdb:
  host: 127.0.0.1
  port: ${port}
  database: home_assistant
  username: homeassistant
  password: !secret influxdb_password
  max_retries: 3
  precision: s
  default_measurement: state
  tags:
    source: hass
  tags_attributes:
    - friendly_name
  include:
    domains:
      - sensor
      - binary_sensor
  exclude:
    entities: sensor.washing_machine_status
    entity_globs:
      - sensor.*_battery_*
  component_config_glob:
    sensor.*_temperature_*:
      override_measurement: temperature
`,
      `influxdb_password: ${PASSWORD}\nother_secret: not-used\n`,
    );
    const sim = await startSim();
    const ingestor = await startIngestor(sim, dir);
    await ingestor.healthy(30_000);
    await sim.emit({ count: 600, rate: 400 });

    // Several states of one entity in one second are one point in InfluxDB (the last written
    // wins): any of them may be what is read back for that second.
    const want = new Map<string, Set<string>>();
    const add = (p: ReturnType<typeof haPoint>) => p && want.set(p.key, (want.get(p.key) ?? new Set()).add(p.fields));
    for (const st of sim.snapshotStates.values()) add(haPoint(st.entity_id, st.state, st.attributes, st.last_updated));
    for (const e of sim.emitted) add(haPoint(e.entityId, e.state, e.attributes, e.lastUpdated));

    const read = async (): Promise<Map<string, string>> => {
      const have = new Map<string, string>();
      const measurements = (await influxQuery(influxd.url, 'home_assistant', 'SHOW MEASUREMENTS', { auth })).flatMap((s) => s.values.map((v) => String(v[0])));
      for (const m of measurements) {
        for (const s of await influxQuery(influxd.url, 'home_assistant', `SELECT * FROM "${m}"`, { auth })) {
          const get = (row: unknown[], c: string) => (s.columns.indexOf(c) === -1 ? null : (row[s.columns.indexOf(c)] ?? null));
          for (const row of s.values) {
            const key = `${m}|${get(row, 'domain')}|${get(row, 'entity_id')}|${get(row, 'friendly_name')}|${get(row, 'source')}|${nsOf(String(get(row, 'time')))}`;
            have.set(key, JSON.stringify([get(row, 'value'), get(row, 'state')]));
          }
        }
      }
      return have;
    };
    const have = await until('every point written', async () => ((await read()).size >= want.size ? read() : undefined), 40_000, 500);

    expect({ missing: [...want.keys()].filter((k) => !have.has(k)).slice(0, 3), extra: [...have.keys()].filter((k) => !want.has(k)).slice(0, 3) }).toEqual({
      missing: [],
      extra: [],
    });
    expect([...have].filter(([k, v]) => !want.get(k)?.has(v)).slice(0, 3)).toEqual([]);
    expect([...have.keys()].some((k) => k.startsWith('temperature|sensor|'))).toBe(true);
    expect([...have.keys()].some((k) => k.startsWith('state|binary_sensor|'))).toBe(true);
    // One info line for max_retries; the password from secrets.yaml nowhere in the output.
    expect(ingestor.logs.filter((l) => /max_retries/.test(String(l.msg)))).toHaveLength(1);
    expect(JSON.stringify(ingestor.logs) + ingestor.stderr).not.toContain(PASSWORD);
  });

  it('api_version 2: token from secrets.yaml, organization, bucket and precision: ms reach the request', async () => {
    const influx = new FakeInflux();
    const url = new URL(await influx.start());
    cleanups.push(() => influx.stop());
    const dir = configFolder(
      `api_version: 2\nhost: 127.0.0.1\nport: ${url.port}\nssl: false\ntoken: !secret influxdb_token\norganization: home\nbucket: hass\nprecision: ms\n`,
      `influxdb_token: ${TOKEN}\n`,
    );
    const sim = await startSim();
    const ingestor = await startIngestor(sim, dir);
    const writes = await until('a write', () => influx.received.find((r) => r.path.includes('/api/v2/write') && r.lines.length > 0), 20_000);
    expect(writes.path).toBe('/api/v2/write?org=home&bucket=hass&precision=ns');
    expect(writes.headers.authorization).toBe(`Token ${TOKEN}`);
    checkMsTimestamps(writes, sim);
    expect(JSON.stringify(ingestor.logs) + ingestor.stderr).not.toContain(TOKEN);
  });

  it('ssl: true checks the certificate: accepted with ssl_ca_cert, or with verify_ssl: false; refused otherwise', async () => {
    const tls = new URL('../fixtures/tls/', import.meta.url);
    const received: string[] = [];
    const server = createServer({ key: readFileSync(new URL('key.pem', tls)), cert: readFileSync(new URL('cert.pem', tls)) }, (req, res) => {
      received.push(`${req.method} ${req.url}`);
      req.resume().on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as { port: number }).port;
    const sim = await startSim();
    const block = (extra: string) => `influxdb:\n  host: 127.0.0.1\n  port: ${port}\n  ssl: true\n  database: db\n${extra}`;

    const refused = await startIngestor(sim, configFolder(block(''), ''));
    await until('the certificate refused', () => refused.logs.find((l) => /unreachable.*certificate/i.test(String(l.msg))), 20_000);
    expect(received).toEqual([]);
    await refused.stop('SIGKILL');

    const caDir = configFolder(block('  ssl_ca_cert: ca.pem\n'), '');
    writeFileSync(join(caDir, 'ca.pem'), readFileSync(new URL('cert.pem', tls)));
    const withCa = await startIngestor(sim, caDir);
    await until('a write with the CA', () => received.find((r) => r.startsWith('POST /write?db=db')), 20_000);
    await withCa.stop('SIGKILL');

    received.length = 0;
    await startIngestor(sim, configFolder(block('  verify_ssl: false\n'), ''));
    await until('a write without verification', () => received.find((r) => r.startsWith('POST /write?db=db')), 20_000);
  });

  it("the environment over a pasted block: one warning in the log names each of the file's keys it replaced, no secret (review 12, item 2)", async () => {
    const dir = configFolder('influxdb:\n  host: 192.168.1.20\n  username: u\n  password: !secret influxdb_password\n', `influxdb_password: ${PASSWORD}\n`);
    const ingestor = await IngestorProcess.start({
      HA_URL: 'http://127.0.0.1:1',
      HA_TOKEN: 't',
      CONFIG_FILE: join(dir, 'influxdb.yaml'),
      DATA_DIR: join(dir, 'data'),
      // docker-compose.yml's InfluxDB 2 variables.
      INFLUX_URL: 'http://127.0.0.1:1',
      INFLUX_API: 'v2',
      INFLUX_TOKEN: 'write-only-token',
      INFLUX_ORG: 'home',
      INFLUX_BUCKET: 'ha',
    });
    cleanups.push(async () => void (await ingestor.stop('SIGKILL')));
    const warning = await until('the warning', () => ingestor.logs.find((l) => l.level === 40 && String(l.msg).startsWith('CONFIG_FILE')), 15_000);
    expect(warning.msg).toBe(
      `CONFIG_FILE ${join(dir, 'influxdb.yaml')}: not used, set to another value by the environment (or an add-on option), which wins over the file: ` +
        'influxdb.api_version (INFLUX_API); influxdb.host, port, ssl, path (INFLUX_URL); influxdb.database (INFLUX_DB, not used with INFLUX_API=v2); ' +
        'influxdb.username (INFLUX_USERNAME, not used with INFLUX_API=v2); influxdb.password (INFLUX_PASSWORD, not used with INFLUX_API=v2)',
    );
    expect(JSON.stringify(ingestor.logs)).not.toContain(PASSWORD);
  });

  it('a block with mistakes stops the start (exit 2) listing every problem, however many, and no secret', async () => {
    const dir = configFolder(
      `influxdb:\n  hostname: db\n  port: 70000\n  password: !secret influxdb_pasword\n${['a1', 'b2', 'c3', 'd4', 'e5', 'f6', 'g7', 'h8'].map((k) => `  ${k}: 1\n`).join('')}`,
      `influxdb_password: ${PASSWORD}\n`,
    );
    const { code, stderr } = await IngestorProcess.runToExit({ HA_URL: 'http://127.0.0.1:1', HA_TOKEN: 't', CONFIG_FILE: join(dir, 'influxdb.yaml') });
    expect(code).toBe(2);
    const file = join(dir, 'influxdb.yaml');
    expect(stderr).toContain(`CONFIG_FILE ${file}: influxdb: unknown key "hostname" (did you mean "host"?)`);
    expect(stderr).toContain(`CONFIG_FILE ${file}: influxdb.port: expected a port number from 1 to 65535, got 70000`);
    expect(stderr).toContain(`CONFIG_FILE ${file}: influxdb.password: !secret influxdb_pasword: not found in ${join(dir, 'secrets.yaml')}`);
    // Before, eight unknown keys or more gave "invalid configuration:" and nothing else.
    expect(stderr.match(/unknown key/g)).toHaveLength(9);
    expect(stderr).not.toContain(PASSWORD);
  });
});

/** Every line's time is a whole millisecond within 1 ms below a state's last_updated (influxdb-client truncates). */
function checkMsTimestamps(write: Received, sim: HaSimulator): void {
  const times = new Set([...sim.snapshotStates.values()].map((s) => BigInt(nsOf(s.last_updated))));
  for (const line of write.lines.filter((l) => !l.startsWith('ha_ingestor'))) {
    const t = BigInt(line.slice(line.lastIndexOf(' ') + 1));
    expect(t % 1_000_000n).toBe(0n);
    expect([...times].some((s) => s - t >= 0n && s - t < 2_000_000n)).toBe(true);
  }
}
