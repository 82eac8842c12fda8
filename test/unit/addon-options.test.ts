/** The add-on's configuration: options.json → variables, the Supervisor's defaults, one message for every problem. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { withAddonOptions } from '../../src/addon/environment.js';
import { inOptionWords, OPTIONS, optionsToVariables } from '../../src/addon/options.js';
import { type Config, loadConfig } from '../../src/config.js';
import { configFrom } from '../../src/config-sources.js';
import { ConfigError } from '../../src/errors.js';
import { haHttpBase } from '../../src/ha/backfill.js';
import { redactorFor } from '../../src/redact.js';

const TOKEN = 'supervisor-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'addon-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** An options.json of its own with `content` (an object as JSON, a string as it is). */
function optionsFile(content: unknown): string {
  const file = join(dir, String(files++), 'options.json');
  mkdirSync(join(file, '..'));
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const load = async (env: Readonly<Record<string, string | undefined>>): Promise<Config> => loadConfig(env);
/** The configuration of an add-on with `options` (and `env` on top). */
const addon = (options: unknown, env: Record<string, string> = {}): Promise<Config> =>
  withAddonOptions({ SUPERVISOR_TOKEN: TOKEN, ADDON_OPTIONS_FILE: optionsFile(options), ...env }, load);
/** The problems `addon(…)` reports. */
async function problemsOf(options: unknown, env: Record<string, string> = {}): Promise<readonly string[]> {
  const err = await addon(options, env).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
}

describe('options → variables', () => {
  it('maps every option of each kind to its variable (lists as comma text, booleans and integers as text)', () => {
    const given: Record<string, unknown> = {};
    const want: Record<string, string> = {};
    for (const [name, spec] of Object.entries(OPTIONS)) {
      const [value, text] =
        spec.kind === 'list'
          ? [['a.b', 'c.*'], 'a.b,c.*']
          : spec.kind === 'bool'
            ? [true, 'true']
            : spec.kind === 'int'
              ? [512, '512']
              : [`v-${name}`, `v-${name}`];
      given[name] = value;
      want[spec.variable] = text;
    }
    expect(optionsToVariables(given)).toEqual({ variables: want, problems: [] });
  });

  it('leaves out empty lists and null values (the variable keeps its default)', () => {
    expect(optionsToVariables({ include_domains: [], influx_token: null, statistics: false })).toEqual({ variables: { STATISTICS: 'false' }, problems: [] });
  });

  it('names each value of the wrong kind, each unknown option, and a file that is not an object', () => {
    const { problems } = optionsToVariables({ pool_size: '2', statistics: 'yes', exclude_domains: ['light,switch'], memory_limit_mb: 1.5, colour: 'red' });
    expect(problems).toEqual([
      'pool_size: expected an integer, got "2"',
      'statistics: expected true or false, got "yes"',
      'exclude_domains: expected a list of strings without commas, got ["light,switch"]',
      'memory_limit_mb: expected an integer, got 1.5',
      'colour: not an option of this add-on (DOCS.md lists them)',
    ]);
    expect(optionsToVariables([1]).problems).toEqual(['expected a JSON object of options']);
  });

  it('words a configuration problem by option, unless the environment set the variable', () => {
    const all = () => true;
    expect(inOptionWords('INFLUX_URL: expected an http(s):// URL, got "x"', 'options.json', all)).toBe(
      'options.json: influx_url: expected an http(s):// URL, got "x"',
    );
    expect(inOptionWords('INFLUX_USERNAME, INFLUX_PASSWORD: set both or neither', 'options.json', all)).toBe(
      'options.json: influx_username, influx_password: set both or neither',
    );
    expect(inOptionWords('INFLUX_TOKEN: required when INFLUX_API=v2, not set', 'options.json', (v) => v !== 'INFLUX_API')).toBe(
      'options.json: influx_token: required when INFLUX_API=v2, not set',
    );
    expect(inOptionWords('HA_URL: expected …', 'options.json', all)).toBe('HA_URL: expected …');
    expect(inOptionWords('INFLUX_URL: expected …', 'options.json', () => false)).toBe('INFLUX_URL: expected …');
  });
});

describe('an add-on (SUPERVISOR_TOKEN set)', () => {
  it('connects through the Supervisor with its token, keeps data in /data, listens for the watchdog', async () => {
    const c = loadConfig({ SUPERVISOR_TOKEN: TOKEN });
    expect(c.ha).toMatchObject({ url: 'ws://supervisor/core/websocket', token: TOKEN });
    expect(c).toMatchObject({ dataDir: '/data', spoolDir: '/data/spool', deadLetterDir: '/data/dead-letter', httpHost: '0.0.0.0', supervisorToken: TOKEN });
  });

  it('SUPERVISOR_HOST (tests, development) stands in for the host name supervisor', () => {
    expect(loadConfig({ SUPERVISOR_TOKEN: TOKEN, SUPERVISOR_HOST: '127.0.0.1:4567' }).ha.url).toBe('ws://127.0.0.1:4567/core/websocket');
    expect(() => loadConfig({ SUPERVISOR_TOKEN: TOKEN, SUPERVISOR_HOST: 'http://x/' })).toThrow(
      'SUPERVISOR_HOST: expected a host name or address, with an optional :port',
    );
  });

  it('HA_URL and HA_TOKEN given win over the Supervisor', () => {
    const c = loadConfig({ SUPERVISOR_TOKEN: TOKEN, HA_URL: 'http://ha:8123', HA_TOKEN: 'long-lived' });
    expect(c.ha).toMatchObject({ url: 'ws://ha:8123/api/websocket', token: 'long-lived' });
    // The Supervisor's token stays a secret all the same.
    expect(redactorFor(c)(`a ${TOKEN} b long-lived`)).toBe('a [redacted] b [redacted]');
  });

  it('without SUPERVISOR_TOKEN nothing changes: HA_URL and HA_TOKEN are required, data in ./data, loopback', () => {
    expect(() => loadConfig({})).toThrow(/HA_URL: required[\s\S]*HA_TOKEN: required/);
    const c = loadConfig({ HA_URL: 'http://ha:8123', HA_TOKEN: 't' });
    expect(c).toMatchObject({ dataDir: './data', httpHost: '127.0.0.1', supervisorToken: undefined });
  });

  it('the REST history base of the Supervisor is http://supervisor/core (then /api/history/period)', () => {
    expect(haHttpBase('ws://supervisor/core/websocket')).toBe('http://supervisor/core');
    expect(haHttpBase('ws://127.0.0.1:4567/core/websocket')).toBe('http://127.0.0.1:4567/core');
    expect(haHttpBase('ws://supervisor/core/api/websocket')).toBe('http://supervisor/core');
    expect(haHttpBase('ws://ha:8123/api/websocket')).toBe('http://ha:8123');
    expect(haHttpBase('wss://ha.example/api/websocket')).toBe('https://ha.example');
  });

  it('reads its options from the file', async () => {
    const c = await addon({
      influx_url: 'http://influx:8086',
      influx_api: 'v1',
      influx_database: 'ha',
      exclude_domains: ['light', 'switch'],
      pool_size: 0,
      statistics: false,
    });
    expect(c.influx).toMatchObject({ api: 'v1', url: 'http://influx:8086', db: 'ha' });
    expect(c.schema.filters?.exclude?.domains).toEqual(['light', 'switch']);
    expect(c).toMatchObject({ poolSize: 0, statistics: false, ha: { url: 'ws://supervisor/core/websocket' } });
  });

  it('environment variables override options', async () => {
    const c = await addon({ influx_url: 'http://influx:8086', influx_api: 'v1', influx_database: 'ha', pool_size: 0 }, { INFLUX_DB: 'other', POOL_SIZE: '2' });
    expect(c.influx).toMatchObject({ db: 'other' });
    expect(c.poolSize).toBe(2);
  });

  it('starts with every default when the Supervisor wrote no options file yet', async () => {
    const c = await withAddonOptions({ SUPERVISOR_TOKEN: TOKEN, ADDON_OPTIONS_FILE: join(dir, 'absent.json') }, load);
    expect(c).toMatchObject({ sink: 'file', dataDir: '/data', ha: { token: TOKEN } });
  });

  it('lists every problem of the file and of the configuration in one message, by option', async () => {
    const problems = await problemsOf({ influx_url: 'influx:8086', influx_api: 'v2', pool_size: 'two', log_level: 'loud' });
    expect(problems).toEqual([
      'options.json: pool_size: expected an integer, got "two"',
      'options.json: influx_url: expected an http(s):// URL such as http://localhost:8086, got "influx:8086"',
      'options.json: log_level: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'options.json: influx_token: required when influx_api=v2, not set',
      'options.json: influx_org: required when influx_api=v2, not set',
      'options.json: influx_bucket: required when influx_api=v2, not set',
    ]);
    expect(await problemsOf({ influx_url: 'http://influx:8086', influx_api: 'v2', influx_org: 'home' })).toEqual([
      'options.json: influx_token: required when influx_api=v2, not set',
      'options.json: influx_bucket: required when influx_api=v2, not set',
    ]);
  });

  it('a problem with a variable the environment set keeps the variable name', async () => {
    expect(await problemsOf({ pool_size: 1 }, { POOL_SIZE: '99' })).toEqual(['POOL_SIZE: expected an integer from 0 to 64, got "99"']);
  });

  it('a file that is not JSON is one problem among the others', async () => {
    const problems = await problemsOf('{"pool_size": 1', { LOG_LEVEL: 'loud' });
    expect(problems[0]).toMatch(/^options\.json: not valid JSON \(/);
    expect(problems[1]).toBe('LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"');
  });

  it('a file that is not JSON: the place, never the text (V8 quotes it, with the password in it)', async () => {
    expect(await problemsOf('{"influx_password": hunter2secret}')).toEqual(['options.json: not valid JSON (line 1, column 21)']);
  });

  it('never shows a secret option in a message', async () => {
    const problems = await problemsOf({ influx_url: 'http://influx:8086', influx_api: 'v1', influx_database: 'ha', influx_password: 'hunter22' });
    expect(problems).toEqual(['options.json: influx_username, influx_password: set both or neither']);
    const bad = await problemsOf({
      influx_url: 'http://influx:8086',
      influx_api: 'v1',
      influx_database: 'ha',
      influx_username: 'u',
      influx_password: ['hunter22'],
    });
    expect(bad).toEqual([
      'options.json: influx_password: expected a string, got a value (not shown)',
      'options.json: influx_username, influx_password: set both or neither',
    ]);
    expect(bad.join('\n')).not.toContain('hunter22');
  });
});

describe("config_file: HA's influxdb: block in the add-on (review 12, item 1)", () => {
  /** options.json as the Supervisor writes it: every option with a default in addon/config.yaml, and `extra`. */
  const saved = (extra: Record<string, unknown>): Record<string, unknown> => {
    const manifest = parseYaml(readFileSync(new URL('../../addon/config.yaml', import.meta.url), 'utf8')) as { options: Record<string, unknown> };
    return { ...manifest.options, ...extra };
  };
  const block = (text: string): string => {
    const file = join(dir, `block-${files++}.yaml`);
    writeFileSync(file, text);
    return file;
  };
  const withFile = (options: Record<string, unknown>): Promise<Config> =>
    withAddonOptions({ SUPERVISOR_TOKEN: TOKEN, ADDON_OPTIONS_FILE: optionsFile(options) }, configFrom);

  it("the pasted block's connection, database, schema and precision win over the options left unset", async () => {
    const file = block('influxdb:\n  host: 192.168.1.20\n  username: homeassistant\n  password: hunter22\n  precision: s\n');
    const c = await withFile(saved({ config_file: file }));
    expect(c.influx).toMatchObject({ api: 'v1', url: 'http://192.168.1.20:8086', db: 'home_assistant', username: 'homeassistant' });
    expect(c.schema).toMatchObject({ schema: 'ha', ha: { precision: { unit: 's' } } });
    expect(c.warnings).toBeUndefined();
  });

  it('without config_file or a database option: the InfluxDB add-on, database homeassistant, the typed schema', async () => {
    const c = await withFile(saved({}));
    expect(c.influx).toMatchObject({ api: 'v1', url: 'http://a0d7b954-influxdb:8086', db: 'homeassistant' });
    expect(c.schema.schema).toBe('typed');
    const v2 = await withFile(saved({ influx_url: 'http://influx:8086', influx_api: 'v2', influx_token: 't0ken', influx_org: 'o', influx_bucket: 'b' }));
    expect(v2.influx).toMatchObject({ api: 'v2', url: 'http://influx:8086', bucket: 'b' });
  });

  it('a filter-only config_file keeps the InfluxDB add-on as the database', async () => {
    const c = await withFile(saved({ config_file: block('include:\n  domains: [sensor]\n') }));
    expect(c.influx).toMatchObject({ api: 'v1', url: 'http://a0d7b954-influxdb:8086', db: 'homeassistant' });
  });

  it('an option the user set wins over the block, and the start-up warning says which key it replaced', async () => {
    const file = block('influxdb:\n  host: 192.168.1.20\n');
    const c = await withFile(saved({ config_file: file, influx_url: 'http://other:8086' }));
    expect(c.influx).toMatchObject({ url: 'http://other:8086', db: 'home_assistant' });
    expect(c.warnings?.[0]).toContain('influxdb.host, port, ssl, path (INFLUX_URL)');
  });
});

describe("messages name the file's keys where the file gave the value (review 12, item 13)", () => {
  const block = (text: string): string => {
    const file = join(dir, `msg-${files++}.yaml`);
    writeFileSync(file, text);
    return file;
  };
  const problemsWith = async (options: Record<string, unknown>): Promise<readonly string[]> => {
    const err = await withAddonOptions({ SUPERVISOR_TOKEN: TOKEN, ADDON_OPTIONS_FILE: optionsFile(options) }, configFrom).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  };

  it('a URL built from the block is not called an option', async () => {
    const file = block('influxdb:\n  host: "bad_host^x"\n');
    expect(await problemsWith({ config_file: file })).toEqual([
      `CONFIG_FILE ${file}: influxdb.host, port, ssl, path (INFLUX_URL): expected an http(s):// URL such as http://localhost:8086, got "http://bad_host^x:8086" (not a valid URL: check the host name and that the port is 1 to 65535)`,
    ]);
  });

  it("what api_version: 2 requires and the block lacks is named by the block's key", async () => {
    const file = block('influxdb:\n  api_version: 2\n  host: h\n  token: abcdefgh\n  organization: o\n');
    expect(await problemsWith({ config_file: file })).toEqual([`CONFIG_FILE ${file}: influxdb.bucket: required with api_version: 2 (INFLUX_BUCKET), not set`]);
  });

  it('a user name without its password, in the block', async () => {
    const file = block('influxdb:\n  host: h\n  username: u\n');
    expect(await problemsWith({ config_file: file })).toEqual([
      `CONFIG_FILE ${file}: influxdb.username, password: set both or neither (INFLUX_USERNAME, INFLUX_PASSWORD)`,
    ]);
  });
});
