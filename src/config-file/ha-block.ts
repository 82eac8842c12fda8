/**
 * Home Assistant's `influxdb:` block (with or without that top-level key) → the ingestor's
 * variables and filters. Keys, types and defaults are HA's (homeassistant/components/influxdb/
 * const.py and __init__.py, home-assistant/core 01ae64906312f8ed31da2ee514b50cc33b758291;
 * filters: homeassistant/helpers/entityfilter.py INCLUDE_EXCLUDE_FILTER_SCHEMA_INNER):
 *
 *   api_version 1|2 (default 1)        → INFLUX_API v1|v2
 *   host, port, ssl, path              → INFLUX_URL (v1: influxdb-python's defaults localhost,
 *                                         8086, http, ""; v2: HA's us-west-2-1.aws.cloud2.
 *                                         influxdata.com, https, no port)
 *   verify_ssl (default true), ssl_ca_cert → INFLUX_TLS_VERIFY, INFLUX_TLS_CA_FILE
 *   database (v1, default home_assistant), username, password → INFLUX_DB, INFLUX_USERNAME/PASSWORD
 *   token, organization, bucket (v2)   → INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET
 *   precision s|ms|us|ns               → INFLUX_PRECISION
 *   measurement_attr, default_measurement, override_measurement, tags, tags_attributes
 *                                      → INFLUX_MEASUREMENT_ATTR, …, INFLUX_TAGS (JSON form),
 *                                         INFLUX_TAGS_ATTRIBUTES
 *   include, exclude, ignore_attributes, component_config(_domain, _glob) → the filters
 *   max_retries (and retry_count)      → accepted, one notice: nothing is dropped here
 *
 * HA's connection defaults apply when the block is under `influxdb:` or has a connection key; a
 * block with connection or measurement keys (or under `influxdb:`) is HA's, so SCHEMA defaults to
 * ha. `defaulted` names the variables set from HA's defaults alone (no key of theirs in the file). The environment
 * overrides all of it, variable by variable (the caller merges). Pure: every problem is
 * collected with its place in the file and what was expected; a secret's value is never shown.
 */
import type { EntitySettings, FilterConfig } from '../../workers/filters.js';
import type { VariableName } from '../config.js';
import { PyFloat } from './pyyaml-scalars.js';
import { UnsupportedTag } from './yaml.js';
import { bool, type Checked, didYouMean, ensureList, ensureListCsv, entityId, hostName, mapping, oneOf, port, positiveInt, str } from './values.js';

export interface FileSettings {
  /** Variables the file sets (the environment's win over these). */
  readonly variables: Partial<Record<VariableName, string>>;
  /** Where each came from, for messages: `CONFIG_FILE x.yaml: host, port`. */
  readonly sources: Partial<Record<VariableName, string>>;
  readonly filters: FilterConfig;
  /** Said once at start-up (info). */
  readonly notices: readonly string[];
  /** Variables set from HA's defaults alone, no key of theirs in the file. */
  readonly defaulted: readonly VariableName[];
  /** A key's place in the file, for messages: `CONFIG_FILE x.yaml: influxdb.token`. */
  readonly place: (key: string) => string;
}

const CONNECTION_KEYS = [
  'api_version',
  'host',
  'port',
  'ssl',
  'verify_ssl',
  'ssl_ca_cert',
  'path',
  'database',
  'username',
  'password',
  'token',
  'organization',
  'bucket',
];
const SCHEMA_KEYS = ['precision', 'measurement_attr', 'default_measurement', 'override_measurement', 'tags', 'tags_attributes'];
const UNUSED_KEYS = ['max_retries', 'retry_count'];
const FILTER_KEYS = ['include', 'exclude', 'ignore_attributes', 'component_config', 'component_config_domain', 'component_config_glob'];
const KNOWN_KEYS = [...CONNECTION_KEYS, ...SCHEMA_KEYS, ...UNUSED_KEYS, ...FILTER_KEYS];
/** The keys whose values are secret wherever they show up (and never shown in a message). */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['password', 'token']);

/** HA's defaults (const.py, and influxdb-python's InfluxDBClient for v1). */
export const HA_DEFAULTS = {
  database: 'home_assistant',
  hostV1: 'localhost',
  portV1: 8086,
  hostV2: 'us-west-2-1.aws.cloud2.influxdata.com',
  sslV2: true,
} as const;

/** Collects problems, each with its place in the file; never shows a secret's value. */
export class Problems {
  readonly list: string[] = [];

  constructor(
    private readonly file: string,
    private readonly secretPaths: ReadonlySet<string>,
  ) {}

  where(path: readonly string[]): string {
    return `CONFIG_FILE ${this.file}: ${path.length === 0 ? '(top level)' : path.join('.')}`;
  }

  /** How a variable set from `keys` is named in messages. */
  source(blockPath: readonly string[], keys: string): string {
    return `CONFIG_FILE ${this.file}: ${blockPath.length === 0 ? '' : `${blockPath.join('.')}.`}${keys}`;
  }

  add(path: readonly string[], text: string): void {
    this.list.push(`${this.where(path)}: ${text}`);
  }

  /** The value read by `check`, or undefined with the problem recorded. */
  take<T>(path: readonly string[], value: unknown, check: (v: unknown) => Checked<T>): T | undefined {
    const r = check(value);
    if ('ok' in r) return r.ok;
    this.add(path, `expected ${r.expected}, got ${this.describe(path, value)}`);
    return undefined;
  }

  unknownKeys(path: readonly string[], data: Record<string, unknown>, known: readonly string[]): void {
    for (const key of Object.keys(data)) {
      if (known.includes(key)) continue;
      const near = didYouMean(key, known);
      this.add(path, `unknown key ${JSON.stringify(key)}${near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`}`);
    }
  }

  private describe(path: readonly string[], value: unknown): string {
    const dotted = path.join('.');
    if (this.secretPaths.has(dotted) || SECRET_KEYS.has(path[path.length - 1] ?? '')) return 'a value that is not shown (a secret)';
    if (value === null || value === undefined) return 'nothing';
    if (Array.isArray(value)) return 'a list';
    if (value instanceof UnsupportedTag) return `${value.tag} (it works only inside Home Assistant: paste the value itself)`;
    if (typeof value === 'object' && !(value instanceof PyFloat)) return 'a mapping';
    const text = typeof value === 'string' || typeof value === 'boolean' ? JSON.stringify(value) : String(value);
    return text.length > 60 ? `${text.slice(0, 57)}…` : text;
  }
}

/** The block itself: under `influxdb:` (other top-level keys are other integrations', as in HA) or the whole file. */
export function pickBlock(data: unknown): { block: unknown; path: string[]; wrapped: boolean; outside: string[] } {
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && 'influxdb' in data) {
    // influxdb's own keys beside it are an indentation slip, which HA would not apply either.
    const outside = Object.keys(data).filter((k) => KNOWN_KEYS.includes(k));
    return { block: (data as { influxdb: unknown }).influxdb ?? {}, path: ['influxdb'], wrapped: true, outside };
  }
  return { block: data ?? {}, path: [], wrapped: false, outside: [] };
}

/** The settings of a block (see the module header); problems into `problems`. */
export function readBlock(picked: ReturnType<typeof pickBlock>, problems: Problems): FileSettings {
  for (const key of picked.outside) problems.add([key], 'belongs under influxdb: (indent it), or it is not applied');
  const block = problems.take(picked.path, picked.block, mapping);
  const place = (key: string) => problems.source(picked.path, key);
  if (block === undefined) return { variables: {}, sources: {}, filters: {}, notices: [], defaulted: [], place };
  const at = (key: string) => [...picked.path, key];
  problems.unknownKeys(picked.path, block, KNOWN_KEYS);
  const out = new Settings((keys) => problems.source(picked.path, keys));
  const has = (keys: readonly string[]) => keys.some((k) => k in block);
  // Under `influxdb:`, HA connects with its defaults even without a connection key (a block of
  // filters only writes to localhost:8086/home_assistant); a bare file of filters is ours.
  if (picked.wrapped || has(CONNECTION_KEYS)) connectionSettings(block, at, problems, out);
  schemaSettings(block, at, problems, out);
  if (picked.wrapped || has(CONNECTION_KEYS) || has(SCHEMA_KEYS) || has(UNUSED_KEYS)) out.set('SCHEMA', 'ha', "HA's influxdb: block", false);
  const unused = UNUSED_KEYS.filter((k) => k in block && problems.take(at(k), block[k], positiveInt) !== undefined);
  if (unused.length > 0) {
    out.notices.push(
      `CONFIG_FILE: ${unused.join(', ')} accepted and not used: the ingestor never gives up on a point; what the database cannot take ` +
        'now waits in the spool and is retried until it is taken (docs/reliability.md)',
    );
  }
  const filters = filterSettings(block, at, problems);
  return { variables: out.variables, sources: out.sources, filters, notices: out.notices, defaulted: out.defaulted, place };
}

class Settings {
  readonly variables: Partial<Record<VariableName, string>> = {};
  readonly sources: Partial<Record<VariableName, string>> = {};
  readonly notices: string[] = [];
  readonly defaulted: VariableName[] = [];

  constructor(private readonly sourceOf: (keys: string) => string) {}

  /** `given`: a key of `keys` is in the file (else the value is HA's default). */
  set(name: VariableName, value: string | undefined, keys: string, given = true): void {
    if (value === undefined || value === '') return;
    this.variables[name] = value;
    this.sources[name] = this.sourceOf(keys);
    if (!given) this.defaulted.push(name);
  }
}

type At = (key: string) => string[];

function connectionSettings(block: Record<string, unknown>, at: At, problems: Problems, out: Settings): void {
  const get = <T>(key: string, check: (v: unknown) => Checked<T>): T | undefined => (key in block ? problems.take(at(key), block[key], check) : undefined);
  const api = get('api_version', oneOf(['1', '2'], true)) ?? '1';
  const given = (...keys: string[]) => keys.some((k) => k in block);
  out.set('INFLUX_API', api === '2' ? 'v2' : 'v1', 'api_version', given('api_version'));
  const ssl = get('ssl', bool) ?? (api === '2' ? HA_DEFAULTS.sslV2 : false);
  const host = get('host', hostName) ?? (api === '2' ? HA_DEFAULTS.hostV2 : HA_DEFAULTS.hostV1);
  const p = get('port', port) ?? (api === '2' ? undefined : HA_DEFAULTS.portV1);
  const path = get('path', str) ?? '';
  // influxdb-python puts a missing leading `/` on the path; an IPv6 address needs its brackets.
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const url = `${ssl ? 'https' : 'http'}://${hostPart}${p === undefined ? '' : `:${p}`}${path === '' || path.startsWith('/') ? path : `/${path}`}`;
  out.set('INFLUX_URL', url, 'host, port, ssl, path', given('host', 'port', 'ssl', 'path'));
  const verify = get('verify_ssl', bool);
  out.set('INFLUX_TLS_VERIFY', verify === undefined ? undefined : String(verify), 'verify_ssl');
  out.set('INFLUX_TLS_CA_FILE', get('ssl_ca_cert', str), 'ssl_ca_cert');
  const [username, password, token] = [get('username', str), get('password', str), get('token', str)];
  if (api === '1') {
    out.set('INFLUX_DB', get('database', str) ?? HA_DEFAULTS.database, 'database', given('database'));
    out.set('INFLUX_USERNAME', username, 'username');
    out.set('INFLUX_PASSWORD', password, 'password');
    if ('token' in block) problems.add(at('token'), 'only with api_version: 2 (HA refuses it with api_version 1)');
    return;
  }
  out.set('INFLUX_TOKEN', token, 'token');
  out.set('INFLUX_ORG', get('organization', str), 'organization');
  out.set('INFLUX_BUCKET', get('bucket', str), 'bucket');
  if ('username' in block || 'password' in block)
    problems.add(at('username' in block ? 'username' : 'password'), 'only with api_version: 1 (HA refuses it with api_version 2)');
}

function schemaSettings(block: Record<string, unknown>, at: At, problems: Problems, out: Settings): void {
  const get = <T>(key: string, check: (v: unknown) => Checked<T>): T | undefined => (key in block ? problems.take(at(key), block[key], check) : undefined);
  out.set('INFLUX_PRECISION', get('precision', oneOf(['s', 'ms', 'us', 'ns'])), 'precision');
  out.set('INFLUX_MEASUREMENT_ATTR', get('measurement_attr', str), 'measurement_attr');
  out.set('INFLUX_DEFAULT_MEASUREMENT', get('default_measurement', str), 'default_measurement');
  out.set('INFLUX_OVERRIDE_MEASUREMENT', get('override_measurement', str), 'override_measurement');
  if ('tags' in block) {
    const tags = problems.take(at('tags'), block.tags ?? {}, mapping);
    const read: Record<string, string> = {};
    for (const [k, v] of Object.entries(tags ?? {})) {
      const value = problems.take([...at('tags'), k], v, str);
      if (value !== undefined) read[k] = value;
    }
    if (Object.keys(read).length > 0) out.set('INFLUX_TAGS', JSON.stringify(read), 'tags');
  }
  const names = stringList(block.tags_attributes, at('tags_attributes'), problems);
  const withComma = names.findIndex((n) => n.includes(','));
  if (withComma !== -1) problems.add([...at('tags_attributes'), String(withComma)], 'an attribute name with a comma cannot be used here');
  else out.set('INFLUX_TAGS_ATTRIBUTES', names.join(','), 'tags_attributes');
}

/** cv.ensure_list + [cv.string]. */
function stringList(value: unknown, path: string[], problems: Problems): string[] {
  const items = ensureList(value);
  return items.flatMap((v, i) => {
    const s = problems.take(Array.isArray(value) ? [...path, String(i)] : path, v, str);
    return s === undefined ? [] : [s];
  });
}

function rules(value: unknown, path: string[], problems: Problems): FilterConfig['include'] {
  const m = problems.take(path, value, mapping);
  if (m === undefined) return {};
  problems.unknownKeys(path, m, ['domains', 'entities', 'entity_globs']);
  const entities = ensureListCsv(m.entities).flatMap((v, i) => {
    const id = problems.take(Array.isArray(m.entities) ? [...path, 'entities', String(i)] : [...path, 'entities'], v, entityId);
    return id === undefined ? [] : [id];
  });
  return {
    domains: stringList(m.domains, [...path, 'domains'], problems),
    entities,
    entity_globs: stringList(m.entity_globs, [...path, 'entity_globs'], problems),
  };
}

function perEntity(value: unknown, path: string[], problems: Problems, keyCheck?: (v: unknown) => Checked<string>): Record<string, EntitySettings> {
  const out: Record<string, EntitySettings> = {};
  for (const [key, raw] of Object.entries(problems.take(path, value ?? {}, mapping) ?? {})) {
    const name = keyCheck === undefined ? key : problems.take([...path, key], key, keyCheck);
    const settings = problems.take([...path, key], raw, mapping);
    if (name === undefined || settings === undefined) continue;
    problems.unknownKeys([...path, key], settings, ['override_measurement', 'ignore_attributes']);
    const override = 'override_measurement' in settings ? problems.take([...path, key, 'override_measurement'], settings.override_measurement, str) : undefined;
    const ignore = 'ignore_attributes' in settings ? stringList(settings.ignore_attributes, [...path, key, 'ignore_attributes'], problems) : undefined;
    // HA treats an empty override_measurement as none.
    out[name] = { ...(override ? { override_measurement: override } : {}), ...(ignore ? { ignore_attributes: ignore } : {}) };
  }
  return out;
}

function filterSettings(block: Record<string, unknown>, at: At, problems: Problems): FilterConfig {
  return {
    include: 'include' in block ? rules(block.include, at('include'), problems) : {},
    exclude: 'exclude' in block ? rules(block.exclude, at('exclude'), problems) : {},
    ignore_attributes: stringList(block.ignore_attributes, at('ignore_attributes'), problems),
    component_config: perEntity(block.component_config, at('component_config'), problems, entityId),
    component_config_domain: perEntity(block.component_config_domain, at('component_config_domain'), problems),
    component_config_glob: perEntity(block.component_config_glob, at('component_config_glob'), problems),
  };
}
