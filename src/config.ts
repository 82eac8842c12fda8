/**
 * Configuration: every environment variable the ingestor reads, its schema, its default and its
 * meaning, in one table. `loadConfig` validates all of them and reports every problem at once;
 * it does no I/O. Secrets are never echoed back, not even when they are wrong.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { FilterConfig } from '../workers/filters.js';
import type { Precision, TimePrecision } from '../workers/ha-precision.js';
import type { Flavor } from '../workers/line-protocol.js';
import type { SchemaOptions } from '../workers/typed-schema.js';
import { ConfigError } from './errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The value shapes the table uses (JSON Schema's words), checked by `check` below. A schema
 * library (typebox, before) stayed loaded for the whole run for a check done once at start-up:
 * about 5 MB of heap and 9 MB of RSS (docs/reliability.md, Memory).
 */
type TSchema =
  | { readonly type: 'integer' | 'number'; readonly minimum?: number; readonly maximum?: number }
  | { readonly type: 'string'; readonly pattern?: string; readonly minLength?: number }
  | { readonly type: 'literal'; readonly const: string }
  | { readonly type: 'union'; readonly anyOf: readonly TSchema[] };

type Bounds = { readonly minimum?: number; readonly maximum?: number };
const Type = {
  Integer: (bounds: Bounds = {}): TSchema => ({ type: 'integer', ...bounds }),
  Number: (bounds: Bounds = {}): TSchema => ({ type: 'number', ...bounds }),
  String: (rules: { readonly pattern?: string; readonly minLength?: number } = {}): TSchema => ({ type: 'string', ...rules }),
  Literal: (value: string): TSchema => ({ type: 'literal', const: value }),
  Union: (anyOf: readonly TSchema[]): TSchema => ({ type: 'union', anyOf }),
};

/** Whether `value` has the shape `schema` describes. */
function check(schema: TSchema, value: unknown): boolean {
  switch (schema.type) {
    case 'integer':
    case 'number':
      return (
        typeof value === 'number' &&
        (schema.type === 'integer' ? Number.isInteger(value) : Number.isFinite(value)) &&
        value >= (schema.minimum ?? Number.NEGATIVE_INFINITY) &&
        value <= (schema.maximum ?? Number.POSITIVE_INFINITY)
      );
    case 'string':
      return (
        typeof value === 'string' && value.length >= (schema.minLength ?? 0) && (schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(value))
      );
    case 'literal':
      return value === schema.const;
    case 'union':
      return schema.anyOf.some((s) => check(s, value));
  }
}

interface VarSpec {
  /** Schema of the converted value. */
  readonly schema: TSchema;
  /** Said in the error message: "expected <expected>". */
  readonly expected: string;
  /** One line for --help and the README table. */
  readonly doc: string;
  /** Default when unset or empty; absent or undefined = required (unless `optional`). */
  readonly default?: (env: Env) => string | undefined;
  readonly optional?: boolean;
  readonly secret?: boolean;
  /** Must parse as a URL (port in range, no spaces); shown without its user:password part. */
  readonly url?: boolean;
}

const int = (minimum: number, maximum: number): TSchema => Type.Integer({ minimum, maximum });

const MiB = 1024 * 1024;
export const MIN_MEMORY_LIMIT_MB = 384;
/**
 * An encoder thread's old generation never goes below this (MB): a 16 MiB history answer of the
 * most rows HA can put in it (524,279 rows `{"s":"","a":{},"lu":…}`) needs 128–160, one of
 * 466,026 rows with empty attributes 112–128, 244,207 rows with a friendly_name 80–96
 * (docs/reliability.md, Memory bounds). Below it such an answer fails as a whole.
 */
export const MIN_WORKER_OLD_GENERATION_MB = 256;

/** The in-memory queues' bounds (docs/reliability.md, Memory bounds). */
export interface MemoryBounds {
  /** Raw frames submitted to the encoders and not yet delivered; beyond, frames wait on disk. */
  readonly encoderQueueBytes: number;
  /** Gzipped write bodies queued, in flight or retrying; beyond, batches go to the spool. */
  readonly writerQueueBytes: number;
  /** Lines waiting for a connection's backfill (restart de-duplication); beyond, written unjudged. */
  readonly waitingRoomBytes: number;
  /** Old-generation limit of each encoder thread (MB); undefined: V8's default. */
  readonly workerOldGenerationMb: number | undefined;
}

/** Without MEMORY_LIMIT_MB. */
export const DEFAULT_BOUNDS: MemoryBounds = {
  encoderQueueBytes: 32 * MiB,
  writerQueueBytes: 64 * MiB,
  waitingRoomBytes: 16 * MiB,
  workerOldGenerationMb: undefined,
};

/**
 * MEMORY_LIMIT_MB → the bounds, as shares of it. The encoder queue costs about three times its
 * bytes (the frames, their strings in the encoder thread, the results waiting for their turn),
 * the writer's bodies about their size; a quarter, and at least MIN_WORKER_OLD_GENERATION_MB, is
 * left to an encoder thread's heap, which must hold a 16 MiB frame parsed, whatever its shape. What
 * the runtime itself needs (60–80 MB) and one dense 16 MiB answer being encoded (up to 170 MB)
 * come on top: 512 → 16 + 64 + 16 MiB of queues; below 384 they do not fit.
 */
export function memoryBounds(limitMb: number | undefined): MemoryBounds {
  if (limitMb === undefined) return DEFAULT_BOUNDS;
  if (!Number.isInteger(limitMb) || limitMb < MIN_MEMORY_LIMIT_MB)
    throw new RangeError(`MEMORY_LIMIT_MB must be an integer ≥ ${MIN_MEMORY_LIMIT_MB}, not ${limitMb}`);
  return {
    encoderQueueBytes: (limitMb / 32) * MiB,
    writerQueueBytes: (limitMb / 8) * MiB,
    waitingRoomBytes: (limitMb / 32) * MiB,
    workerOldGenerationMb: Math.max(MIN_WORKER_OLD_GENERATION_MB, Math.floor(limitMb / 4)),
  };
}
const httpUrl = Type.String({ pattern: '^https?://[^\\s/]+' });

/**
 * Inside a Home Assistant add-on the Supervisor sets SUPERVISOR_TOKEN and proxies HA Core's API:
 * WebSocket at ws://supervisor/core/websocket, REST under http://supervisor/core/api/, both with
 * that token (home-assistant/supervisor, supervisor/api/__init__.py `_register_proxy` and
 * supervisor/api/proxy.py). SUPERVISOR_HOST stands in for `supervisor` in tests and development.
 */
const inAddon = (env: Env): boolean => Boolean(env.SUPERVISOR_TOKEN);
const supervisorWebSocket = (env: Env): string | undefined => (inAddon(env) ? `ws://${env.SUPERVISOR_HOST || 'supervisor'}/core/websocket` : undefined);
/** The add-on's data folder is the Supervisor's /data volume. */
const dataDirDefault = (env: Env): string => env.DATA_DIR || (inAddon(env) ? '/data' : './data');
const commaList = Type.String({ pattern: '^[^,]+(,[^,]+)*$' });
const TAGS_JSON = 'a JSON object of strings, such as {"room":"hall, 1st floor"}';

/** The table. Order is the order of --help and of the README. */
export const VARIABLES = {
  HA_URL: {
    schema: Type.String({ pattern: '^(https?|wss?)://[^\\s/]+' }),
    expected: 'an http(s):// or ws(s):// URL such as http://homeassistant.local:8123',
    doc: "Home Assistant base URL, or its ws(s)://…/api/websocket URL (add-on: the Supervisor's proxy, ws://supervisor/core/websocket)",
    default: supervisorWebSocket,
    url: true,
  },
  HA_TOKEN: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a long-lived access token (HA profile → Security)',
    doc: 'Home Assistant long-lived access token (add-on: SUPERVISOR_TOKEN)',
    default: (env) => (inAddon(env) ? env.SUPERVISOR_TOKEN : undefined),
    secret: true,
  },
  SUPERVISOR_TOKEN: {
    schema: Type.String({ minLength: 1 }),
    expected: "the token Home Assistant's Supervisor gives an add-on",
    doc: 'set by the Supervisor inside a Home Assistant add-on: HA_URL, HA_TOKEN, DATA_DIR and HTTP_HOST then have add-on defaults, and ADDON_OPTIONS_FILE is read',
    optional: true,
    secret: true,
  },
  SUPERVISOR_HOST: {
    schema: Type.String({ pattern: '^[^\\s/:@]+(:\\d{1,5})?$' }),
    expected: 'a host name or address, with an optional :port',
    doc: 'tests and development only: where the Supervisor is (host[:port]) instead of supervisor',
    optional: true,
  },
  ADDON_OPTIONS_FILE: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a path to a JSON file',
    doc: "with SUPERVISOR_TOKEN: the add-on's options (README, Install on Home Assistant OS); environment variables override them",
    default: () => '/data/options.json',
  },
  HA_EVENT_TYPES: {
    schema: Type.String({ pattern: '^(\\*|[^,\\s]+(,[^,\\s]+)*)$' }),
    expected: 'a comma-separated list of event types without spaces, or *',
    doc: 'event types to subscribe to; * = all events',
    default: () => 'state_changed',
  },
  SINK: {
    schema: Type.Union([Type.Literal('influx'), Type.Literal('file')]),
    expected: 'influx or file',
    doc: 'influx: write to INFLUX_URL; file: gzip line-protocol files in DATA_DIR/out (default when INFLUX_URL is unset)',
    default: (env) => (env.INFLUX_URL ? 'influx' : 'file'),
  },
  INFLUX_URL: {
    schema: httpUrl,
    expected: 'an http(s):// URL such as http://localhost:8086',
    doc: 'InfluxDB (or VictoriaMetrics) base URL; v1: user:password@ in it are the credentials',
    optional: true,
    url: true,
  },
  INFLUX_API: {
    schema: Type.Union([Type.Literal('v2'), Type.Literal('v1')]),
    expected: 'v2 or v1',
    doc: 'write API: v2 (/api/v2/write, token) or v1 (/write, database)',
    default: () => 'v2',
  },
  INFLUX_FLAVOR: {
    schema: Type.Union([Type.Literal('influxdb'), Type.Literal('victoriametrics')]),
    expected: 'influxdb or victoriametrics',
    doc: 'how strings are spelled: influxdb (exact, line feeds raw inside string fields) or victoriametrics (which splits lines there); docs/schema.md#escaping',
    default: () => 'influxdb',
  },
  INFLUX_TOKEN: {
    schema: Type.String({ minLength: 1 }),
    expected: 'an InfluxDB API token',
    doc: 'v2: API token with write access to the bucket',
    optional: true,
    secret: true,
  },
  INFLUX_ORG: { schema: Type.String({ minLength: 1 }), expected: 'an organization name', doc: 'v2: organization', optional: true },
  INFLUX_BUCKET: { schema: Type.String({ minLength: 1 }), expected: 'a bucket name', doc: 'v2: bucket', optional: true },
  INFLUX_DB: { schema: Type.String({ minLength: 1 }), expected: 'a database name', doc: 'v1: database', optional: true },
  INFLUX_RP: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a retention policy name',
    doc: 'v1: retention policy (default: the database default)',
    optional: true,
  },
  INFLUX_TLS_VERIFY: {
    schema: Type.Union([Type.Literal('true'), Type.Literal('false')]),
    expected: 'true or false',
    doc: "https: verify the database's certificate (HA's verify_ssl); false accepts any certificate",
    default: () => 'true',
  },
  INFLUX_TLS_CA_FILE: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a path to a PEM file',
    doc: "https: CA certificate(s) the database's certificate is verified against, instead of Node's list (HA's ssl_ca_cert)",
    optional: true,
  },
  INFLUX_PRECISION: {
    schema: Type.Union(['s', 'ms', 'us', 'ns'].map((p) => Type.Literal(p))),
    expected: 's, ms, us or ns',
    doc: "SCHEMA=ha: timestamps truncated to this unit as HA's client does (HA's precision); the typed schema keeps ns",
    default: () => 'ns',
  },
  INFLUX_USERNAME: { schema: Type.String({ minLength: 1 }), expected: 'a user name', doc: 'v1: user (Basic auth)', optional: true },
  INFLUX_PASSWORD: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a password',
    doc: 'v1: password (Basic auth)',
    optional: true,
    secret: true,
  },
  SCHEMA: {
    schema: Type.Union([Type.Literal('typed'), Type.Literal('ha')]),
    expected: 'typed or ha',
    doc: "typed (docs/schema.md) or ha: the points HA's own InfluxDB integration writes",
    default: () => 'typed',
  },
  ENRICH_PRESENCE: {
    schema: Type.Union([Type.Literal('true'), Type.Literal('false')]),
    expected: 'true or false',
    doc: 'SCHEMA=typed: every event point carries home_occupied and people_home; changes write home_presence',
    default: () => 'true',
  },
  ENRICH_WEATHER: {
    schema: Type.Union([Type.Literal('true'), Type.Literal('false')]),
    expected: 'true or false',
    doc: 'SCHEMA=typed: every event point carries outdoor_temperature/humidity/condition and weather_age_s',
    default: () => 'true',
  },
  WEATHER_API_KEY: {
    schema: Type.String({ minLength: 1 }),
    expected: 'an OpenWeatherMap API key',
    doc: "OpenWeatherMap key; without it, HA's own weather entity is used",
    optional: true,
    secret: true,
  },
  WEATHER_LAT: {
    schema: Type.Number({ minimum: -90, maximum: 90 }),
    expected: 'a latitude from -90 to 90',
    doc: "where to ask for the weather (default: HA's location)",
    optional: true,
  },
  WEATHER_LON: {
    schema: Type.Number({ minimum: -180, maximum: 180 }),
    expected: 'a longitude from -180 to 180',
    doc: "where to ask for the weather (default: HA's location)",
    optional: true,
  },
  WEATHER_INTERVAL_S: {
    schema: int(60, 86_400),
    expected: 'an integer of seconds from 60 to 86400',
    doc: 'how often to ask OpenWeatherMap (its free tier allows far more than the default)',
    default: () => '600',
  },
  WEATHER_ENTITY: {
    schema: Type.String({ pattern: '^weather\\..+' }),
    expected: 'a weather.* entity id',
    doc: 'HA weather entity for the fallback (default: the first seen)',
    optional: true,
  },
  WEATHER_URL: { schema: httpUrl, expected: 'an http(s):// URL', doc: 'OpenWeatherMap API base URL', default: () => 'https://api.openweathermap.org' },
  NORMALIZE_UNITS: {
    schema: Type.Union([Type.Literal('true'), Type.Literal('false')]),
    expected: 'true or false',
    doc: 'SCHEMA=typed: values of known device classes in canonical units (°C, kWh, W, hPa, m/s, …), raw kept as value_raw/unit_raw',
    default: () => 'false',
  },
  INFLUX_MEASUREMENT_ATTR: {
    schema: Type.String({ minLength: 1 }),
    expected: 'unit_of_measurement, domain__device_class, entity_id or an attribute name',
    doc: "SCHEMA=ha: measurement_attr, as in HA's influxdb: configuration",
    default: () => 'unit_of_measurement',
  },
  INFLUX_DEFAULT_MEASUREMENT: { schema: Type.String({ minLength: 1 }), expected: 'a measurement name', doc: 'SCHEMA=ha: default_measurement', optional: true },
  INFLUX_OVERRIDE_MEASUREMENT: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a measurement name',
    doc: 'SCHEMA=ha: override_measurement',
    optional: true,
  },
  INFLUX_TAGS: {
    // `{…}` is read as JSON by parseInfluxTags (its own messages); anything else as key=value pairs.
    schema: Type.String({ pattern: '^(\\s*\\{[\\s\\S]*|[^=,]+=[^,]*(,[^=,]+=[^,]*)*)$' }),
    expected: `key=value pairs separated by commas, such as source=hass,instance=home, or ${TAGS_JSON}`,
    doc: 'SCHEMA=ha: tags added to every point: k=v,k2=v2 (a value may hold =, not a comma) or a JSON object of strings (any characters)',
    optional: true,
  },
  INFLUX_TAGS_ATTRIBUTES: { schema: commaList, expected: 'attribute names separated by commas', doc: 'SCHEMA=ha: tags_attributes', optional: true },
  INCLUDE_DOMAINS: {
    schema: commaList,
    expected: 'domains separated by commas',
    doc: 'write only these domains (and what other include rules name)',
    optional: true,
  },
  INCLUDE_ENTITIES: { schema: commaList, expected: 'entity ids separated by commas', doc: 'write these entities', optional: true },
  INCLUDE_ENTITY_GLOBS: {
    schema: commaList,
    expected: 'globs such as sensor.*_temperature, separated by commas',
    doc: 'write entities matching these globs',
    optional: true,
  },
  EXCLUDE_DOMAINS: { schema: commaList, expected: 'domains separated by commas', doc: 'leave out these domains', optional: true },
  EXCLUDE_ENTITIES: { schema: commaList, expected: 'entity ids separated by commas', doc: 'leave out these entities', optional: true },
  EXCLUDE_ENTITY_GLOBS: { schema: commaList, expected: 'globs separated by commas', doc: 'leave out entities matching these globs', optional: true },
  IGNORE_ATTRIBUTES: { schema: commaList, expected: 'attribute names separated by commas', doc: 'attributes never written, for every entity', optional: true },
  CONFIG_FILE: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a path to a .yaml, .yml or .json file',
    doc: "Home Assistant's influxdb: block as pasted (connection, schema, filters), or filters only; the environment wins (README, CONFIG_FILE)",
    optional: true,
  },
  POOL_SIZE: {
    schema: int(0, 64),
    expected: 'an integer from 0 to 64',
    doc: 'encoder worker threads; 0 = encode on the main thread (single-core hosts)',
    default: () => String(Math.max(1, availableParallelism() - 1)),
  },
  MEMORY_LIMIT_MB: {
    schema: int(MIN_MEMORY_LIMIT_MB, 1024 * 1024),
    expected: `an integer of MB from ${MIN_MEMORY_LIMIT_MB} (the runtime, the queues and one dense 16 MiB answer being encoded need about 340) to 1048576`,
    doc: 'memory for the ingestor (e.g. 512 on a small host): sizes every in-memory queue (docs/reliability.md, Memory bounds); unset: the defaults',
    optional: true,
  },
  ENCODER_QUEUE_BYTES: {
    schema: int(1024 * 1024, 1024 * 1024 * 1024),
    expected: 'an integer of bytes from 1048576 to 1073741824',
    doc: 'raw frames that may wait in memory for the encoders; beyond, they wait on disk (default: MEMORY_LIMIT_MB/32 when that is set)',
    default: () => String(DEFAULT_BOUNDS.encoderQueueBytes),
  },
  BATCH_MAX_LINES: {
    schema: int(1, 1_000_000),
    expected: 'an integer from 1 to 1000000',
    doc: 'most points in one write request',
    default: () => '5000',
  },
  BATCH_MAX_BYTES: {
    schema: int(1024, 64 * 1024 * 1024),
    expected: 'an integer from 1024 to 67108864',
    doc: 'most uncompressed bytes of line protocol in one write request',
    default: () => String(4 * 1024 * 1024),
  },
  FLUSH_INTERVAL_MS: {
    schema: int(10, 600_000),
    expected: 'an integer from 10 to 600000',
    doc: 'longest a point waits before its batch is sent',
    default: () => '1000',
  },
  GZIP_LEVEL: {
    schema: int(0, 9),
    expected: 'an integer from 0 (no gzip) to 9',
    doc: 'gzip level of write bodies; 0 sends them uncompressed',
    default: () => '1',
  },
  HTTP_PORT: {
    schema: int(0, 65535),
    expected: 'an integer from 0 to 65535',
    doc: 'port of /health and /metrics; 0 = no HTTP server',
    default: () => '8099',
  },
  HTTP_HOST: {
    schema: Type.String({ pattern: '^[^\\s/]+$' }),
    expected: 'an address to listen on, such as 127.0.0.1, 0.0.0.0 or ::',
    doc: "address of /health and /metrics (the container image sets 0.0.0.0; add-on: 0.0.0.0, for the Supervisor's watchdog)",
    default: (env) => (inAddon(env) ? '0.0.0.0' : '127.0.0.1'),
  },
  DATA_DIR: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a folder path',
    doc: 'folder for the spool, dead letters and saved state (add-on: /data)',
    default: dataDirDefault,
  },
  LOG_LEVEL: {
    schema: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
    expected: 'one of fatal, error, warn, info, debug, trace, silent',
    doc: 'log level (pino JSON lines on stdout)',
    default: () => 'info',
  },
  SHUTDOWN_TIMEOUT_MS: {
    schema: int(0, 600_000),
    expected: 'an integer from 0 to 600000',
    doc: 'on SIGTERM, how long to keep writing what is buffered before exiting',
    default: () => '10000',
  },
  SELF_METRICS_INTERVAL_S: {
    schema: int(0, 3600),
    expected: 'an integer of seconds from 0 to 3600',
    doc: 'how often the ingestor writes its own health as measurement ha_ingestor; 0 = never',
    // Each line is a write request of its own when the home is quiet: once a minute, not six times.
    default: () => '60',
  },
  STATE_SAVE_INTERVAL_MS: {
    schema: int(1000, 600_000),
    expected: 'an integer from 1000 to 600000',
    doc: 'longest a moved watermark waits before it is saved (a crash re-fetches that much more from HA history)',
    default: () => '30000',
  },
  SPOOL_DIR: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a folder path',
    doc: 'where batches that cannot be written now wait (default: DATA_DIR/spool)',
    default: (env) => join(dataDirDefault(env), 'spool'),
  },
  SPOOL_MAX_BYTES: {
    schema: int(1024 * 1024, Number.MAX_SAFE_INTEGER),
    expected: 'an integer of bytes, at least 1048576',
    doc: 'disk the spool may use; past it the oldest batches are dropped (logged and counted)',
    default: () => String(1024 * 1024 * 1024),
  },
  DEAD_LETTER_DIR: {
    schema: Type.String({ minLength: 1 }),
    expected: 'a folder path',
    doc: 'where points the database refuses one by one are kept (default: DATA_DIR/dead-letter)',
    default: (env) => join(dataDirDefault(env), 'dead-letter'),
  },
  BACKFILL_MAX_WINDOW: {
    schema: Type.String({ pattern: '^\\d+(ms|s|m|h|d)$' }),
    expected: 'a duration such as 90s, 30m, 24h or 7d',
    doc: 'longest gap filled from HA history after a disconnect or restart',
    default: () => '24h',
  },
  RESTART_DEDUP: {
    schema: Type.Union([Type.Literal('true'), Type.Literal('false')]),
    expected: 'true or false',
    doc: "leave out HA's start-up re-announcements of unchanged states (last point per entity kept in DATA_DIR/seen-states.bin)",
    default: () => 'true',
  },
  IMPORT_HISTORY_ON_FIRST_START: {
    schema: Type.String({ pattern: '^(false|true|all|\\d+(s|m|h|d))$' }),
    expected: 'false, all (or true), or a duration such as 10d',
    doc: "on the very first start (empty DATA_DIR), import HA's recorded history and long-term statistics from that far back (all: everything HA has)",
    default: () => 'false',
  },
  STATISTICS: {
    schema: Type.Union([Type.Literal('true'), Type.Literal('false')]),
    expected: 'true or false',
    doc: "keep HA's long-term statistics (hourly and 5-minute) in measurement ha_statistics, fetched as HA compiles them",
    default: () => 'true',
  },
} as const satisfies Record<string, VarSpec>;

export type VariableName = keyof typeof VARIABLES;

/** How an https:// database's certificate is checked. Absent: verified against Node's CAs. */
export interface InfluxTls {
  /** INFLUX_TLS_VERIFY. */
  readonly verify: boolean;
  /** INFLUX_TLS_CA_FILE: read when the client is built (not while validating). */
  readonly caFile: string | undefined;
}

export type InfluxConfig = (
  | { readonly api: 'v2'; readonly url: string; readonly token: string; readonly org: string; readonly bucket: string }
  | {
      readonly api: 'v1';
      readonly url: string;
      readonly db: string;
      readonly rp: string | undefined;
      readonly username: string | undefined;
      readonly password: string | undefined;
    }
) & { readonly tls?: InfluxTls };

export interface Config {
  readonly ha: { readonly url: string; readonly token: string; readonly eventTypes: readonly string[] | 'all' };
  /** SUPERVISOR_TOKEN, when the ingestor runs as an add-on (a secret even when HA_TOKEN is another token). */
  readonly supervisorToken: string | undefined;
  /** Where points go: InfluxDB-compatible HTTP, or gzip files in DATA_DIR/out. */
  readonly sink: 'influx' | 'file';
  /** Set when sink is 'influx'. */
  readonly influx: InfluxConfig | null;
  /** Encoding in the workers, filters from the environment included (CONFIG_FILE's are merged in main). */
  readonly schema: SchemaOptions;
  readonly configFile: string | undefined;
  readonly enrich: {
    readonly presence: boolean;
    readonly weather: boolean;
    readonly weatherApiKey: string | undefined;
    readonly weatherLocation: { readonly lat: number; readonly lon: number } | undefined;
    readonly weatherIntervalMs: number;
    readonly weatherEntity: string | undefined;
    readonly weatherUrl: string;
  };
  readonly poolSize: number;
  /** MEMORY_LIMIT_MB, when set. */
  readonly memoryLimitMb: number | undefined;
  /** ENCODER_QUEUE_BYTES when set, else from MEMORY_LIMIT_MB (or the default). */
  readonly encoderQueueBytes: number;
  readonly writerQueueBytes: number;
  readonly waitingRoomBytes: number;
  readonly workerOldGenerationMb: number | undefined;
  readonly batchMaxLines: number;
  readonly batchMaxBytes: number;
  readonly flushIntervalMs: number;
  readonly gzipLevel: number;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly dataDir: string;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  readonly selfMetricsIntervalS: number;
  readonly stateSaveIntervalMs: number;
  readonly spoolDir: string;
  readonly spoolMaxBytes: number;
  readonly deadLetterDir: string;
  readonly backfillMaxWindowMs: number;
  readonly restartDedup: boolean;
  /** IMPORT_HISTORY_ON_FIRST_START: how far back to import on a first start; null: no import. */
  readonly importOnFirstStart: ImportRange | null;
  /** STATISTICS: keep HA's long-term statistics up to date. */
  readonly statistics: boolean;
  /** Said once at start-up (info): CONFIG_FILE keys accepted without effect here. */
  readonly notices?: readonly string[];
  /** Said once at start-up (warn): CONFIG_FILE keys the environment overrode. */
  readonly warnings?: readonly string[];
  /** Values CONFIG_FILE took from secrets.yaml: redacted like the tokens. */
  readonly fileSecrets?: readonly string[];
}

/** How far back an import reaches: 'all' (everything HA has) or ms before now (HA's clock). */
export type ImportRange = 'all' | number;

/** `all` → 'all'; `10d` → its ms. */
export function importRange(text: string): ImportRange {
  return text === 'all' ? 'all' : durationMs(text);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s` → 90000. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** `http://ha:8123/` → `ws://ha:8123/api/websocket`; a ws(s) URL is taken as given. */
export function haWebSocketUrl(haUrl: string): string {
  if (/^wss?:\/\//.test(haUrl)) return haUrl;
  const base = haUrl.replace(/^http/, 'ws').replace(/\/+$/, '');
  return `${base}/api/websocket`;
}

/** Env values are text: integers must be written as integers ("1.5" and "1e3" stay text and fail). */
function convert(schema: TSchema, raw: string): unknown {
  const type = schema.type;
  if (type === 'integer') return /^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : raw;
  if (type === 'number') return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(raw.trim()) ? Number(raw) : raw;
  return raw;
}

/** A URL's user:password part, which is never shown. */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i;

function describeGiven(spec: VarSpec, raw: string): string {
  return spec.secret ? `a value of ${raw.length} characters (not shown)` : JSON.stringify(raw.replace(USERINFO, '$1***@'));
}

/** Why `raw` is not a URL Node can use, or null. */
function urlProblem(raw: string): string | null {
  try {
    new URL(raw);
    return null;
  } catch {
    return 'not a valid URL: check the host name and that the port is 1 to 65535';
  }
}

/** The validated values by variable name, read through typed accessors. */
class Values {
  constructor(
    private readonly values: Readonly<Record<string, unknown>>,
    readonly env: Env,
  ) {}

  str(name: VariableName): string | undefined {
    return this.values[name] as string | undefined;
  }

  list(name: VariableName): string[] {
    return (this.str(name) ?? '').split(',').filter(Boolean);
  }

  num(name: VariableName): number {
    return this.values[name] as number;
  }

  has(name: VariableName): boolean {
    return this.values[name] !== undefined;
  }
}

/**
 * Where a value came from, for messages: a variable set by CONFIG_FILE is named by its place in
 * the file (`CONFIG_FILE x.yaml: port (INFLUX_URL)`), one from the environment by its name.
 */
export type Sources = Readonly<Partial<Record<string, string>>>;

/** Each variable against its schema (defaults applied); every problem into `problems`. */
function readVariables(env: Env, problems: string[], sources: Sources): Values {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(VARIABLES) as [string, VarSpec][]) {
    const given = env[name];
    const raw = given === undefined || given === '' ? spec.default?.(env) : given;
    if (raw === undefined) {
      if (!spec.optional) problems.push(`${name}: required (${spec.expected}), not set`);
      continue;
    }
    const label = given !== undefined && given !== '' && sources[name] !== undefined ? `${sources[name]} (${name})` : name;
    const value = convert(spec.schema, raw);
    const invalid = !check(spec.schema, value) ? '' : spec.url ? urlProblem(raw) : null;
    if (invalid !== null) {
      problems.push(`${label}: expected ${spec.expected}, got ${describeGiven(spec, raw)}${invalid === '' ? '' : ` (${invalid})`}`);
      continue;
    }
    values[name] = value;
  }
  return new Values(values, env);
}

/** A URL without its user:password part, and that part (decoded). */
export function splitCredentials(raw: string): { url: string; username?: string; password?: string } {
  const u = new URL(raw);
  if (u.username === '' && u.password === '') return { url: raw };
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  return { url: raw.replace(USERINFO, '$1'), username, password };
}

/** Credentials in HA_URL (never used) and INFLUX_URL (v1's user and password). */
function checkUrlCredentials(v: Values, problems: string[]): void {
  const ha = v.str('HA_URL');
  if (ha !== undefined && splitCredentials(ha).url !== ha) {
    problems.push('HA_URL: has user:password@ in it, which Home Assistant does not use (it takes HA_TOKEN): remove them');
  }
  const influx = v.str('INFLUX_URL');
  if (influx === undefined || v.str('SINK') !== 'influx') return;
  const { url, username, password } = splitCredentials(influx);
  if (url === influx) return;
  if (v.str('INFLUX_API') === 'v2') problems.push('INFLUX_URL: has user:password@ in it, which INFLUX_API=v2 does not use: put the token in INFLUX_TOKEN');
  else if (v.str('INFLUX_USERNAME') !== undefined || v.str('INFLUX_PASSWORD') !== undefined)
    problems.push('INFLUX_URL, INFLUX_USERNAME/INFLUX_PASSWORD: credentials given twice: keep those in the URL or those in the variables');
  else if (username === '' || password === '') problems.push('INFLUX_URL: give both user and password in the URL (user:password@host), or neither');
}

/** Variables that depend on each other. */
function checkCombinations(v: Values, problems: string[]): void {
  checkUrlCredentials(v, problems);
  const { env } = v;
  const requireFor = (names: VariableName[], why: string): void => {
    // A variable that is set but invalid was reported already.
    for (const name of names) {
      if (v.str(name) === undefined && !env[name]) problems.push(`${name}: required when ${why}, not set`);
    }
  };
  if ((env.WEATHER_LAT === undefined || env.WEATHER_LAT === '') !== (env.WEATHER_LON === undefined || env.WEATHER_LON === '')) {
    problems.push('WEATHER_LAT, WEATHER_LON: set both or neither');
  }
  const sink = v.str('SINK');
  const api = sink === 'influx' ? v.str('INFLUX_API') : undefined;
  if (sink === 'influx') requireFor(['INFLUX_URL'], 'SINK=influx');
  if (api === 'v2') {
    const missing = (['INFLUX_TOKEN', 'INFLUX_ORG', 'INFLUX_BUCKET'] as const).filter((name) => v.str(name) === undefined && !env[name]);
    // A database name is InfluxDB 1.x's: whoever set it without the rest of v2 most likely means v1.
    if (v.str('INFLUX_DB') !== undefined && missing.length > 0) {
      const why = env.INFLUX_API ? 'INFLUX_API=v2' : 'INFLUX_API is not set, so v2';
      problems.push(
        `INFLUX_DB: set, but ${why} writes to a bucket and needs ${missing.join(', ')} (not set): ` +
          'for an InfluxDB 1.x database, INFLUX_API=v1 is probably meant',
      );
    } else requireFor([...missing], 'INFLUX_API=v2');
  }
  if (api === 'v1') {
    requireFor(['INFLUX_DB'], 'INFLUX_API=v1');
    if ((v.str('INFLUX_USERNAME') === undefined) !== (v.str('INFLUX_PASSWORD') === undefined)) {
      problems.push('INFLUX_USERNAME, INFLUX_PASSWORD: set both or neither');
    }
  }
}

function influxSection(v: Values): InfluxConfig | null {
  if (v.str('SINK') !== 'influx') return null;
  const { url, username, password } = splitCredentials(v.str('INFLUX_URL') as string);
  const verify = v.str('INFLUX_TLS_VERIFY') === 'true';
  const caFile = v.str('INFLUX_TLS_CA_FILE');
  // Node's own checks unless a setting says otherwise.
  const tls = verify && caFile === undefined ? {} : { tls: { verify, caFile } };
  if (v.str('INFLUX_API') === 'v2') {
    return { api: 'v2', url, token: v.str('INFLUX_TOKEN') as string, org: v.str('INFLUX_ORG') as string, bucket: v.str('INFLUX_BUCKET') as string, ...tls };
  }
  const db = v.str('INFLUX_DB') as string;
  return { api: 'v1', url, db, rp: v.str('INFLUX_RP'), username: username ?? v.str('INFLUX_USERNAME'), password: password ?? v.str('INFLUX_PASSWORD'), ...tls };
}

/**
 * INFLUX_TAGS (HA's `tags:`), in one of two forms:
 *   source=hass,instance=home          split at commas, then at the first `=`: a value may hold
 *                                      `=` but not a comma
 *   {"room":"hall, 1st floor","a":"="}  a JSON object of strings: any characters, in keys too
 * Returns the tags, or why the text is not one of the forms.
 */
export function parseInfluxTags(raw: string): { tags: Record<string, string> } | { problem: string } {
  if (!raw.trimStart().startsWith('{')) {
    return { tags: Object.fromEntries(raw.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) };
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { problem: 'not valid JSON' };
  }
  // Text that starts with `{` and parses is an object.
  for (const [key, value] of Object.entries(data as object)) {
    if (key === '') return { problem: 'a tag key is empty' };
    if (typeof value !== 'string') return { problem: `the value of ${JSON.stringify(key)} is not a string: write it in quotes` };
  }
  return { tags: data as Record<string, string> };
}

/** INFLUX_TAGS in its JSON form is checked here, with the reason. */
function checkTags(v: Values, problems: string[]): void {
  const raw = v.str('INFLUX_TAGS');
  if (raw === undefined) return;
  const parsed = parseInfluxTags(raw);
  if ('problem' in parsed) problems.push(`INFLUX_TAGS: expected ${TAGS_JSON}, got ${JSON.stringify(raw)} (${parsed.problem})`);
}

/** INFLUX_PRECISION other than ns: truncated as the client HA uses for that API would (workers/ha-precision.ts). */
function haPrecision(v: Values): { precision?: TimePrecision } {
  const unit = v.str('INFLUX_PRECISION') as Precision;
  if (unit === 'ns') return {};
  return { precision: { unit, client: v.str('SINK') === 'influx' && v.str('INFLUX_API') === 'v2' ? 'influxdb-client' : 'influxdb-python' } };
}

function schemaSection(v: Values): SchemaOptions {
  const filters: FilterConfig = {
    include: { domains: v.list('INCLUDE_DOMAINS'), entities: v.list('INCLUDE_ENTITIES'), entity_globs: v.list('INCLUDE_ENTITY_GLOBS') },
    exclude: { domains: v.list('EXCLUDE_DOMAINS'), entities: v.list('EXCLUDE_ENTITIES'), entity_globs: v.list('EXCLUDE_ENTITY_GLOBS') },
    ignore_attributes: v.list('IGNORE_ATTRIBUTES'),
  };
  const flavor = v.str('INFLUX_FLAVOR') as Flavor;
  if (v.str('SCHEMA') !== 'ha') return { schema: 'typed', normalizeUnits: v.str('NORMALIZE_UNITS') === 'true', filters, flavor };
  const raw = v.str('INFLUX_TAGS');
  const parsed = raw === undefined ? { tags: {} } : parseInfluxTags(raw);
  const tags = 'tags' in parsed ? parsed.tags : {};
  return {
    schema: 'ha',
    ha: {
      measurementAttr: v.str('INFLUX_MEASUREMENT_ATTR') as string,
      defaultMeasurement: v.str('INFLUX_DEFAULT_MEASUREMENT'),
      overrideMeasurement: v.str('INFLUX_OVERRIDE_MEASUREMENT'),
      tags,
      tagsAttributes: v.list('INFLUX_TAGS_ATTRIBUTES'),
      ignoreAttributes: [],
      // As HA's integration with the same API: its v1 client drops "" fields, its v2 client writes them.
      emptyStringFields: v.str('SINK') === 'influx' && v.str('INFLUX_API') === 'v2',
      ...haPrecision(v),
    },
    filters,
    flavor,
  };
}

function enrichSection(v: Values): Config['enrich'] {
  return {
    presence: v.str('ENRICH_PRESENCE') === 'true',
    weather: v.str('ENRICH_WEATHER') === 'true',
    weatherApiKey: v.str('WEATHER_API_KEY'),
    weatherLocation: v.has('WEATHER_LAT') && v.has('WEATHER_LON') ? { lat: v.num('WEATHER_LAT'), lon: v.num('WEATHER_LON') } : undefined,
    weatherIntervalMs: v.num('WEATHER_INTERVAL_S') * 1000,
    weatherEntity: v.str('WEATHER_ENTITY'),
    weatherUrl: (v.str('WEATHER_URL') as string).replace(/\/+$/, ''),
  };
}

/** The queues' bounds: MEMORY_LIMIT_MB's shares, with ENCODER_QUEUE_BYTES given explicitly taking precedence. */
function memorySection(v: Values): Pick<Config, 'memoryLimitMb' | 'encoderQueueBytes' | 'writerQueueBytes' | 'waitingRoomBytes' | 'workerOldGenerationMb'> {
  const limitMb = v.has('MEMORY_LIMIT_MB') ? v.num('MEMORY_LIMIT_MB') : undefined;
  const bounds = memoryBounds(limitMb);
  const explicit = v.env.ENCODER_QUEUE_BYTES !== undefined && v.env.ENCODER_QUEUE_BYTES !== '';
  return { memoryLimitMb: limitMb, ...bounds, encoderQueueBytes: explicit ? v.num('ENCODER_QUEUE_BYTES') : bounds.encoderQueueBytes };
}

function firstStartImport(text: string): ImportRange | null {
  if (text === 'false') return null;
  return importRange(text === 'true' ? 'all' : text);
}

/**
 * Validates the environment (with CONFIG_FILE's values merged in by the caller: `sources` names
 * where those came from); throws one ConfigError naming every problem.
 */
export function loadConfig(env: Env, sources: Sources = {}): Config {
  const problems: string[] = [];
  const v = readVariables(env, problems, sources);
  checkCombinations(v, problems);
  checkTags(v, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const eventTypes = v.str('HA_EVENT_TYPES') as string;
  return {
    ha: { url: haWebSocketUrl(v.str('HA_URL') as string), token: v.str('HA_TOKEN') as string, eventTypes: eventTypes === '*' ? 'all' : eventTypes.split(',') },
    supervisorToken: v.str('SUPERVISOR_TOKEN'),
    sink: v.str('SINK') as 'influx' | 'file',
    influx: influxSection(v),
    schema: schemaSection(v),
    configFile: v.str('CONFIG_FILE'),
    enrich: enrichSection(v),
    poolSize: v.num('POOL_SIZE'),
    ...memorySection(v),
    batchMaxLines: v.num('BATCH_MAX_LINES'),
    batchMaxBytes: v.num('BATCH_MAX_BYTES'),
    flushIntervalMs: v.num('FLUSH_INTERVAL_MS'),
    gzipLevel: v.num('GZIP_LEVEL'),
    httpPort: v.num('HTTP_PORT'),
    httpHost: v.str('HTTP_HOST') as string,
    dataDir: v.str('DATA_DIR') as string,
    logLevel: v.str('LOG_LEVEL') as string,
    shutdownTimeoutMs: v.num('SHUTDOWN_TIMEOUT_MS'),
    selfMetricsIntervalS: v.num('SELF_METRICS_INTERVAL_S'),
    stateSaveIntervalMs: v.num('STATE_SAVE_INTERVAL_MS'),
    spoolDir: v.str('SPOOL_DIR') as string,
    spoolMaxBytes: v.num('SPOOL_MAX_BYTES'),
    deadLetterDir: v.str('DEAD_LETTER_DIR') as string,
    backfillMaxWindowMs: durationMs(v.str('BACKFILL_MAX_WINDOW') as string),
    restartDedup: v.str('RESTART_DEDUP') === 'true',
    importOnFirstStart: firstStartImport(v.str('IMPORT_HISTORY_ON_FIRST_START') as string),
    statistics: v.str('STATISTICS') === 'true',
  };
}

/** The table as text, for --help and the README. */
export function describeVariables(): string {
  const rows = Object.entries(VARIABLES as Record<string, VarSpec>).map(([name, spec]) => {
    const def = spec.default?.({}) ?? (spec.optional ? '(optional)' : '(required)');
    return `  ${name.padEnd(20)} ${def.padEnd(16)} ${spec.doc}`;
  });
  return rows.join('\n');
}
