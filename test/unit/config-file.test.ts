/**
 * CONFIG_FILE = Home Assistant's `influxdb:` block, pasted as-is: every key's mapping, HA's
 * defaults (homeassistant/components/influxdb/const.py and __init__.py, home-assistant/core
 * 01ae64906312f8ed31da2ee514b50cc33b758291), single values where HA takes lists, `!secret`,
 * the environment over the file, and one error listing every problem.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config-sources.js';
import { configFromText, type ReadText } from '../../src/config-file/index.js';
import { ConfigError } from '../../src/errors.js';
import { redactorFor } from '../../src/redact.js';

const dir = mkdtempSync(join(tmpdir(), 'config-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A ReadText over in-memory files, as if they were in /ha. */
const files =
  (contents: Record<string, string>): ReadText =>
  async (path) => {
    const text = contents[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };

async function problemsOf(text: string, read: ReadText = files({}), path = '/ha/influx.yaml'): Promise<readonly string[]> {
  try {
    await configFromText(text, path, read);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('no problem reported');
}

describe("HA's influxdb: block → variables", () => {
  it('api_version 1: every connection and schema key', async () => {
    const c = await configFromText(
      `influxdb:
  host: 192.168.1.190
  port: 20000
  ssl: true
  verify_ssl: false
  ssl_ca_cert: certs/ca.pem
  path: influx
  database: hass_db
  username: hass
  password: pw-1234
  precision: ms
  measurement_attr: entity_id
  default_measurement: state
  override_measurement: everything
  tags:
    instance: prod
    source: "hall, 1st floor"
  tags_attributes: [friendly_name, device_class]
`,
      '/ha/influx.yaml',
    );
    expect(c.variables).toEqual({
      INFLUX_API: 'v1',
      INFLUX_URL: 'https://192.168.1.190:20000/influx',
      INFLUX_TLS_VERIFY: 'false',
      INFLUX_TLS_CA_FILE: '/ha/certs/ca.pem',
      INFLUX_DB: 'hass_db',
      INFLUX_USERNAME: 'hass',
      INFLUX_PASSWORD: 'pw-1234',
      INFLUX_PRECISION: 'ms',
      INFLUX_MEASUREMENT_ATTR: 'entity_id',
      INFLUX_DEFAULT_MEASUREMENT: 'state',
      INFLUX_OVERRIDE_MEASUREMENT: 'everything',
      INFLUX_TAGS: '{"instance":"prod","source":"hall, 1st floor"}',
      INFLUX_TAGS_ATTRIBUTES: 'friendly_name,device_class',
      SCHEMA: 'ha',
    });
    expect(c.sources.INFLUX_URL).toBe('CONFIG_FILE /ha/influx.yaml: influxdb.host, port, ssl, path');
  });

  it('api_version 2: token, organization, bucket', async () => {
    const c = await configFromText('api_version: 2\nhost: influx.local\nport: 8086\nssl: false\ntoken: tok-5678\norganization: home\nbucket: ha\n', 'f.yaml');
    expect(c.variables).toEqual({
      INFLUX_API: 'v2',
      INFLUX_URL: 'http://influx.local:8086',
      INFLUX_TOKEN: 'tok-5678',
      INFLUX_ORG: 'home',
      INFLUX_BUCKET: 'ha',
      SCHEMA: 'ha',
    });
  });

  it("HA's defaults: v1 localhost:8086 over http, database home_assistant; v2 InfluxDB Cloud over https", async () => {
    expect((await configFromText('influxdb:\n  username: u\n  password: p\n', 'f.yaml')).variables).toMatchObject({
      INFLUX_API: 'v1',
      INFLUX_URL: 'http://localhost:8086',
      INFLUX_DB: 'home_assistant',
    });
    expect((await configFromText('api_version: "2"\ntoken: t\norganization: o\nbucket: b\n', 'f.yaml')).variables.INFLUX_URL).toBe(
      'https://us-west-2-1.aws.cloud2.influxdata.com',
    );
    // HA coerces api_version to text: 2 and "2" are the same.
    expect((await configFromText('api_version: 2\nhost: h\n', 'f.yaml')).variables).toMatchObject({ INFLUX_API: 'v2', INFLUX_URL: 'https://h' });
  });

  it("HA's cv.boolean and cv.port spellings; an IPv6 host gets its brackets", async () => {
    expect((await configFromText('host: "::1"\nport: "8087"\nssl: "on"\nverify_ssl: no\n', 'f.yaml')).variables).toMatchObject({
      INFLUX_URL: 'https://[::1]:8087',
      INFLUX_TLS_VERIFY: 'false',
    });
  });

  it('a block of filters only is not HA-only: no SCHEMA, no connection', async () => {
    const c = await configFromText('include:\n  domains: [sensor]\n', 'f.yaml');
    expect(c.variables).toEqual({});
  });

  it("measurement keys alone (no influxdb: line) make it HA's block (SCHEMA=ha) without connection defaults", async () => {
    expect((await configFromText('default_measurement: state\n', 'f.yaml')).variables).toEqual({ INFLUX_DEFAULT_MEASUREMENT: 'state', SCHEMA: 'ha' });
  });

  it.each([
    ['filters only', 'influxdb:\n  include:\n    domains: sensor\n'],
    ['tags only', 'influxdb:\n  tags:\n    source: hass\n'],
    ['empty', 'influxdb:\n'],
  ])("under influxdb: with no connection key (%s): HA's v1 defaults, as HA writes to localhost:8086/home_assistant (review 12, item 3)", async (_name, text) => {
    const c = await configFromText(text, 'f.yaml');
    expect(c.variables).toMatchObject({ INFLUX_API: 'v1', INFLUX_URL: 'http://localhost:8086', INFLUX_DB: 'home_assistant', SCHEMA: 'ha' });
    expect([...c.defaulted].sort()).toEqual(['INFLUX_API', 'INFLUX_DB', 'INFLUX_URL', 'SCHEMA']);
  });

  it('other top-level keys beside influxdb: belong to other integrations and are left alone, as in HA', async () => {
    const c = await configFromText('homeassistant:\n  name: Home\n  customize: !include customize.yaml\ninfluxdb:\n  host: h\n', 'f.yaml');
    expect(c.variables.INFLUX_URL).toBe('http://h:8086');
  });

  it("influxdb's own keys beside influxdb: (an indentation slip) are a problem, not silently left out", async () => {
    expect(await problemsOf('influxdb:\n  host: h\ninclude:\n  domains: sensor\n')).toEqual([
      'CONFIG_FILE /ha/influx.yaml: include: belongs under influxdb: (indent it), or it is not applied',
    ]);
  });

  it('max_retries and retry_count: accepted, one notice saying what happens instead', async () => {
    const c = await configFromText('max_retries: 3\nretry_count: 2\n', 'f.yaml');
    expect(c.notices).toEqual([
      expect.stringMatching(/^CONFIG_FILE: max_retries, retry_count accepted and not used: the ingestor never gives up on a point; .*spool/),
    ]);
  });
});

describe('single values where HA takes a list (cv.ensure_list)', () => {
  it('include/exclude, ignore_attributes, tags_attributes, per-entity ignore_attributes', async () => {
    const c = await configFromText(
      `include:
  domains: sensor
  entities: sensor.A, sensor.b
  entity_globs: "binary_sensor.*_door"
exclude:
  entities: light.x
ignore_attributes: icon
tags_attributes: friendly_name
component_config_domain:
  climate:
    ignore_attributes: hvac_modes
component_config:
  Sensor.Outside:
    override_measurement: outdoor
`,
      'f.yaml',
    );
    expect(c.filters).toMatchObject({
      include: { domains: ['sensor'], entities: ['sensor.a', 'sensor.b'], entity_globs: ['binary_sensor.*_door'] },
      exclude: { entities: ['light.x'], domains: [], entity_globs: [] },
      ignore_attributes: ['icon'],
      component_config_domain: { climate: { ignore_attributes: ['hvac_modes'] } },
      component_config: { 'sensor.outside': { override_measurement: 'outdoor' } },
    });
    expect(c.variables.INFLUX_TAGS_ATTRIBUTES).toBe('friendly_name');
  });
});

describe('!secret', () => {
  const block = 'influxdb:\n  username: hass\n  password: !secret influx_pw\n';

  it('found in secrets.yaml beside the file, and known as a secret', async () => {
    const c = await configFromText(block, '/ha/influx.yaml', files({ '/ha/secrets.yaml': 'influx_pw: "s3cret-value"\nother: x\n' }));
    expect(c.variables.INFLUX_PASSWORD).toBe('s3cret-value');
    expect(c.secrets).toEqual(['s3cret-value']);
  });

  it('no secrets.yaml: one problem naming the file and the secret', async () => {
    expect(await problemsOf(block)).toEqual([
      'CONFIG_FILE /ha/influx.yaml: influxdb.password: !secret influx_pw: cannot read /ha/secrets.yaml (ENOENT); Home Assistant takes !secret values from secrets.yaml beside the file',
    ]);
  });

  it('a name secrets.yaml lacks: one problem naming it, no value shown', async () => {
    const problems = await problemsOf(block, files({ '/ha/secrets.yaml': 'influx_password: "s3cret-value"\n' }));
    expect(problems).toEqual(['CONFIG_FILE /ha/influx.yaml: influxdb.password: !secret influx_pw: not found in /ha/secrets.yaml']);
  });

  it('a secret of the wrong type is reported without its value', async () => {
    const problems = await problemsOf('port: !secret influx_port\n', files({ '/ha/secrets.yaml': 'influx_port: "not-a-port-s3cret"\n' }));
    expect(problems).toEqual(['CONFIG_FILE /ha/influx.yaml: port: expected a port number from 1 to 65535, got a value that is not shown (a secret)']);
  });

  it('the redactor knows a password taken from secrets.yaml; a user name, port or ssl from there is no secret (review 12, item 9)', async () => {
    writeFileSync(join(dir, 'secrets.yaml'), 'influx_user: "user-from-secrets"\ninflux_pw: "pw-from-secrets"\nport: 8086\nssl: true\n');
    writeFileSync(
      join(dir, 'secret-user.yaml'),
      'influxdb:\n  host: 127.0.0.1\n  port: !secret port\n  ssl: !secret ssl\n  username: !secret influx_user\n  password: !secret influx_pw\n',
    );
    const config = await configFrom({ HA_URL: 'http://ha:8123', HA_TOKEN: 'tok-ha', CONFIG_FILE: join(dir, 'secret-user.yaml') });
    const redact = redactorFor(config);
    expect(redact('user-from-secrets and pw-from-secrets')).toBe('user-from-secrets and [redacted]');
    const health = JSON.stringify({ status: 'ok', ha: { connected: true }, written: 18086, url: 'https://127.0.0.1:8086' });
    expect(redact(health)).toBe(health);
    expect(redact('ha_ingestor_events_total 180860\n')).toBe('ha_ingestor_events_total 180860\n');
  });
});

describe('every problem at once', () => {
  it('unknown keys with a suggestion, wrong types, a bad precision, a secret key not shown', async () => {
    const problems = await problemsOf(
      `influxdb:
  hostname: h
  port: 70000
  ssl: maybe
  precision: m
  password: [1, 2]
  include:
    domain: sensor
    entities: "not an id"
  tags: [a]
  component_config:
    sensor.a: outdoor
`,
    );
    expect(problems).toEqual([
      'CONFIG_FILE /ha/influx.yaml: influxdb: unknown key "hostname" (did you mean "host"?)',
      'CONFIG_FILE /ha/influx.yaml: influxdb.ssl: expected true or false, got "maybe"',
      'CONFIG_FILE /ha/influx.yaml: influxdb.port: expected a port number from 1 to 65535, got 70000',
      'CONFIG_FILE /ha/influx.yaml: influxdb.password: expected a text, got a value that is not shown (a secret)',
      'CONFIG_FILE /ha/influx.yaml: influxdb.precision: expected one of s, ms, us, ns, got "m"',
      'CONFIG_FILE /ha/influx.yaml: influxdb.tags: expected a mapping of keys to values, got a list',
      'CONFIG_FILE /ha/influx.yaml: influxdb.include: unknown key "domain" (did you mean "domains"?)',
      'CONFIG_FILE /ha/influx.yaml: influxdb.include.entities: expected an entity id such as sensor.kitchen, got "not an id"',
      'CONFIG_FILE /ha/influx.yaml: influxdb.component_config.sensor.a: expected a mapping of keys to values, got "outdoor"',
    ]);
  });

  it('nine unknown keys: each is named (the message was blank: the schema library stopped at 8 errors)', async () => {
    const keys = ['a1', 'b2', 'c3', 'd4', 'e5', 'f6', 'g7', 'h8', 'i9'];
    const problems = await problemsOf(keys.map((k) => `${k}: 1`).join('\n'));
    expect(problems).toEqual(keys.map((k) => `CONFIG_FILE /ha/influx.yaml: (top level): unknown key "${k}"`));
  });

  it('a .json file that is not JSON: the place, never the text (V8 quotes it, with the password in it)', async () => {
    expect(await problemsOf('{"influxdb": {"password": hunter2secret}}', files({}), '/ha/influx.json')).toEqual([
      'CONFIG_FILE /ha/influx.json: cannot be read as JSON (line 1, column 27)',
    ]);
  });

  it('a host written as a URL or with a port is refused with what to write instead', async () => {
    const expected = 'expected a host name or address without scheme, port or path (ssl: true gives https, port: and path: the rest)';
    expect(await problemsOf('host: http://db.local\n')).toEqual([`CONFIG_FILE /ha/influx.yaml: host: ${expected}, got "http://db.local"`]);
    expect(await problemsOf('host: db.local:8086\n')).toEqual([`CONFIG_FILE /ha/influx.yaml: host: ${expected}, got "db.local:8086"`]);
    expect((await configFromText('host: "fe80::1"\n', 'f.yaml')).variables.INFLUX_URL).toBe('http://[fe80::1]:8086');
  });

  it('the other messages: a tag HA does not know, an attribute name with a comma, a secrets.yaml that is not a mapping', async () => {
    expect(await problemsOf('host: !lambda x\n')).toEqual(['CONFIG_FILE /ha/influx.yaml: cannot be read as YAML: Unresolved tag: !lambda at line 1, column 7']);
    expect(await problemsOf('tags_attributes: [room, "a,b"]\n')).toEqual([
      'CONFIG_FILE /ha/influx.yaml: tags_attributes.1: an attribute name with a comma cannot be used here',
    ]);
    expect(await problemsOf('password: !secret pw\n', files({ '/ha/secrets.yaml': '- pw\n' }))).toEqual([
      'CONFIG_FILE /ha/influx.yaml: (top level): /ha/secrets.yaml: expected a mapping of secret names to values',
    ]);
  });

  it("HA's own combination rules: a token with api_version 1, a user with api_version 2", async () => {
    expect(await problemsOf('token: t\n')).toEqual(['CONFIG_FILE /ha/influx.yaml: token: only with api_version: 2 (HA refuses it with api_version 1)']);
    expect(await problemsOf('api_version: 2\nusername: u\npassword: p\ntoken: t\n')).toEqual([
      'CONFIG_FILE /ha/influx.yaml: username: only with api_version: 1 (HA refuses it with api_version 2)',
    ]);
  });

  it("HA's tags that need HA itself are refused with the reason", async () => {
    expect(await problemsOf('influxdb:\n  password: !env_var INFLUX_PW\n')).toEqual([
      'CONFIG_FILE /ha/influx.yaml: influxdb.password: expected a text, got a value that is not shown (a secret)',
    ]);
    expect(await problemsOf('influxdb:\n  include: !include include.yaml\n')).toEqual([
      'CONFIG_FILE /ha/influx.yaml: influxdb.include: expected a mapping of keys to values, got !include (it works only inside Home Assistant: paste the value itself)',
    ]);
  });
});

describe('environment over the file', () => {
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const HA = { HA_URL: 'http://ha:8123', HA_TOKEN: 'tok-ha' };

  it('the file alone: HA schema, v1 database, the file sink replaced by influx', async () => {
    const file = write('v1.yaml', 'influxdb:\n  host: db.local\n  database: hass\n  precision: s\n  include:\n    domains: sensor\n');
    const c = await configFrom({ ...HA, CONFIG_FILE: file });
    expect(c.sink).toBe('influx');
    expect(c.influx).toMatchObject({ api: 'v1', url: 'http://db.local:8086', db: 'hass' });
    expect(c.schema).toMatchObject({ schema: 'ha', ha: { precision: { unit: 's', client: 'influxdb-python' } } });
    expect(c.schema.filters?.include?.domains).toEqual(['sensor']);
  });

  it('a variable set in the environment wins, key by key; filter lists are added together', async () => {
    const file = write('both.yaml', 'influxdb:\n  host: db.local\n  database: hass\n  include:\n    domains: sensor\n');
    const c = await configFrom({ ...HA, CONFIG_FILE: file, INFLUX_URL: 'http://other:9999', SCHEMA: 'typed', INCLUDE_DOMAINS: 'light', INFLUX_DB: '' });
    expect(c.influx).toMatchObject({ api: 'v1', url: 'http://other:9999', db: 'hass' });
    expect(c.schema.schema).toBe('typed');
    expect(c.schema.filters?.include?.domains).toEqual(['light', 'sensor']);
  });

  it('one warning names each key of the file the environment overrode with another value (review 12, item 2)', async () => {
    const file = write('pasted-v1.yaml', 'influxdb:\n  host: db.local\n  database: hass\n  username: u\n  password: p4ssw0rd\n');
    // A compose file's v2 variables over a pasted v1 block: every connection key of the file is dropped.
    const env = { ...HA, CONFIG_FILE: file, INFLUX_URL: 'http://influxdb:8086', INFLUX_API: 'v2', INFLUX_TOKEN: 't0ken', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b' };
    const c = await configFrom({ ...env, INFLUX_USERNAME: 'u' });
    expect(c.influx).toMatchObject({ api: 'v2', url: 'http://influxdb:8086' });
    expect(c.warnings).toEqual([
      `CONFIG_FILE ${file}: not used, set to another value by the environment (or an add-on option), which wins over the file: ` +
        'influxdb.api_version (INFLUX_API); influxdb.host, port, ssl, path (INFLUX_URL); influxdb.database (INFLUX_DB, not used with INFLUX_API=v2); ' +
        'influxdb.password (INFLUX_PASSWORD, not used with INFLUX_API=v2)',
    ]);
    // The same value, or HA's default the file did not spell out, is not worth a word.
    const same = await configFrom({
      ...HA,
      CONFIG_FILE: write('same.yaml', 'influxdb:\n  host: db.local\n'),
      INFLUX_URL: 'http://db.local:8086',
      INFLUX_DB: 'x',
    });
    expect(same.warnings).toBeUndefined();
    // SCHEMA=typed over a block is a choice the README offers, not a key of the file.
    const typed = await configFrom({ ...HA, CONFIG_FILE: write('typed.yaml', 'influxdb:\n  host: db.local\n'), SCHEMA: 'typed' });
    expect(typed.warnings).toBeUndefined();
  });

  it('a value from the file that the variable refuses is named by its place in the file', async () => {
    const file = write('bad-host.yaml', 'influxdb:\n  host: "bad^host"\n');
    await expect(configFrom({ ...HA, CONFIG_FILE: file })).rejects.toThrow(
      `CONFIG_FILE ${file}: influxdb.host, port, ssl, path (INFLUX_URL): expected an http(s):// URL such as http://localhost:8086, got "http://bad^host:8086" (not a valid URL: check the host name and that the port is 1 to 65535)`,
    );
  });

  it('a !secret value inside a message about another value is redacted', async () => {
    writeFileSync(join(dir, 'secrets.yaml'), 'influx_host: "secret^host^name"\n');
    const file = write('secret-host.yaml', 'influxdb:\n  host: !secret influx_host\n');
    await expect(configFrom({ ...HA, CONFIG_FILE: file })).rejects.toThrow(
      `CONFIG_FILE ${file}: influxdb.host, port, ssl, path (INFLUX_URL): expected an http(s):// URL such as http://localhost:8086, got "http://[redacted]:8086" (not a valid URL: check the host name and that the port is 1 to 65535)`,
    );
  });

  it("the file's problems and the environment's wrong values in one listing", async () => {
    const file = write('bad.yaml', 'influxdb:\n  prot: 1\n');
    await expect(configFrom({ ...HA, CONFIG_FILE: file, GZIP_LEVEL: '12' })).rejects.toThrow(
      new ConfigError([
        `CONFIG_FILE ${file}: influxdb: unknown key "prot" (did you mean "port"?)`,
        'GZIP_LEVEL: expected an integer from 0 (no gzip) to 9, got "12"',
      ]),
    );
  });
});

describe("YAML as HA's PyYAML reads it: YAML 1.1, its resolvers (review 12, item 11)", () => {
  const tagsOf = async (text: string) => JSON.parse((await configFromText(`influxdb:\n  host: h\n  tags:\n${text}`, 'f.yaml')).variables.INFLUX_TAGS ?? '{}');

  it.each([
    ['yes', 'True'],
    ['off', 'False'],
    ['y', 'y'],
    ['n', 'n'],
    ['1.0', '1.0'],
    ['1.50', '1.5'],
    ['1e3', '1e3'],
    ['6.0e+2', '600.0'],
    ['0123', '83'],
    ['0x1F', '31'],
    ['1_000', '1000'],
    ['1:30', '90'],
    ['12345678901234567890', '12345678901234567890'],
    ['.inf', 'inf'],
    ['2024-01-01', '2024-01-01'],
  ])('a tag value %s is str() of what PyYAML makes of it: %s', async (text, want) => {
    const tags = await tagsOf(`    v: ${text}\n`);
    expect(tags.v).toBe(want);
  });

  it('a duplicate key: the last one, as HA (a warning there); << merge keys are merged', async () => {
    const c = await configFromText('influxdb:\n  host: a\n  host: b\n  tags:\n    <<: {room: hall}\n    floor: 1\n', 'f.yaml');
    expect(c.variables).toMatchObject({ INFLUX_URL: 'http://b:8086', INFLUX_TAGS: '{"room":"hall","floor":"1"}' });
  });

  it('a port written as a float is int() of it; api_version 2.0 is "2.0", which HA refuses', async () => {
    expect((await configFromText('influxdb:\n  host: h\n  port: 8087.0\n', 'f.yaml')).variables.INFLUX_URL).toBe('http://h:8087');
    expect(await problemsOf('api_version: 2.0\n')).toEqual(['CONFIG_FILE /ha/influx.yaml: api_version: expected one of 1, 2, got 2.0']);
  });
});
