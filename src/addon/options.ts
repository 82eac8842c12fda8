/**
 * The add-on's options → the environment variables they stand for. Home Assistant's Supervisor
 * writes the options the user saved, checked against `schema` in addon/config.yaml, to
 * /data/options.json as one JSON object: strings, booleans, integers, lists of strings; an optional
 * option left empty is absent (home-assistant/supervisor, supervisor/addons/options.py,
 * `AddonOptions`). Each option maps to one variable, so the ingestor validates it exactly as it
 * validates the environment (src/config.ts); a problem is then named by its option. A list becomes
 * comma text. No I/O here: src/addon/environment.ts reads the file.
 */
import { VARIABLES, type VariableName } from '../config.js';

type Kind = 'str' | 'bool' | 'int' | 'list';

/** The table: option → its variable and the JSON kind of its value. Order: addon/config.yaml's. */
export const OPTIONS = {
  influx_url: { variable: 'INFLUX_URL', kind: 'str' },
  influx_api: { variable: 'INFLUX_API', kind: 'str' },
  influx_flavor: { variable: 'INFLUX_FLAVOR', kind: 'str' },
  influx_token: { variable: 'INFLUX_TOKEN', kind: 'str' },
  influx_org: { variable: 'INFLUX_ORG', kind: 'str' },
  influx_bucket: { variable: 'INFLUX_BUCKET', kind: 'str' },
  influx_database: { variable: 'INFLUX_DB', kind: 'str' },
  influx_retention_policy: { variable: 'INFLUX_RP', kind: 'str' },
  influx_username: { variable: 'INFLUX_USERNAME', kind: 'str' },
  influx_password: { variable: 'INFLUX_PASSWORD', kind: 'str' },
  schema: { variable: 'SCHEMA', kind: 'str' },
  event_types: { variable: 'HA_EVENT_TYPES', kind: 'list' },
  include_domains: { variable: 'INCLUDE_DOMAINS', kind: 'list' },
  include_entities: { variable: 'INCLUDE_ENTITIES', kind: 'list' },
  include_entity_globs: { variable: 'INCLUDE_ENTITY_GLOBS', kind: 'list' },
  exclude_domains: { variable: 'EXCLUDE_DOMAINS', kind: 'list' },
  exclude_entities: { variable: 'EXCLUDE_ENTITIES', kind: 'list' },
  exclude_entity_globs: { variable: 'EXCLUDE_ENTITY_GLOBS', kind: 'list' },
  ignore_attributes: { variable: 'IGNORE_ATTRIBUTES', kind: 'list' },
  config_file: { variable: 'CONFIG_FILE', kind: 'str' },
  normalize_units: { variable: 'NORMALIZE_UNITS', kind: 'bool' },
  measurement_attr: { variable: 'INFLUX_MEASUREMENT_ATTR', kind: 'str' },
  default_measurement: { variable: 'INFLUX_DEFAULT_MEASUREMENT', kind: 'str' },
  override_measurement: { variable: 'INFLUX_OVERRIDE_MEASUREMENT', kind: 'str' },
  tags: { variable: 'INFLUX_TAGS', kind: 'str' },
  tags_attributes: { variable: 'INFLUX_TAGS_ATTRIBUTES', kind: 'list' },
  enrich_presence: { variable: 'ENRICH_PRESENCE', kind: 'bool' },
  enrich_weather: { variable: 'ENRICH_WEATHER', kind: 'bool' },
  weather_api_key: { variable: 'WEATHER_API_KEY', kind: 'str' },
  weather_entity: { variable: 'WEATHER_ENTITY', kind: 'str' },
  pool_size: { variable: 'POOL_SIZE', kind: 'int' },
  memory_limit_mb: { variable: 'MEMORY_LIMIT_MB', kind: 'int' },
  log_level: { variable: 'LOG_LEVEL', kind: 'str' },
  import_history_on_first_start: { variable: 'IMPORT_HISTORY_ON_FIRST_START', kind: 'str' },
  statistics: { variable: 'STATISTICS', kind: 'bool' },
} as const satisfies Record<string, { readonly variable: VariableName; readonly kind: Kind }>;

export type OptionName = keyof typeof OPTIONS;

const EXPECTED: Record<Kind, string> = {
  str: 'a string',
  bool: 'true or false',
  int: 'an integer',
  list: 'a list of strings without commas',
};

/** One option's value as variable text; undefined: unset; null: not of its kind. */
function asText(kind: Kind, value: unknown): string | undefined | null {
  if (value === null || value === undefined) return undefined;
  switch (kind) {
    case 'str':
      return typeof value === 'string' ? value : null;
    case 'bool':
      return typeof value === 'boolean' ? String(value) : null;
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? String(value) : null;
    case 'list': {
      const ok = Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '' && !v.includes(','));
      return ok ? (value.length === 0 ? undefined : value.join(',')) : null;
    }
  }
}

/** The options as variables (unset ones left out), and a problem per option that is not of its kind. */
export function optionsToVariables(data: unknown): { variables: Partial<Record<VariableName, string>>; problems: string[] } {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { variables: {}, problems: ['expected a JSON object of options'] };
  }
  const variables: Partial<Record<VariableName, string>> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(data)) {
    const spec = (OPTIONS as Record<string, { variable: VariableName; kind: Kind }>)[name];
    if (spec === undefined) {
      problems.push(`${name}: not an option of this add-on (DOCS.md lists them)`);
      continue;
    }
    const text = asText(spec.kind, value);
    // A secret is never echoed back, not even when it is wrong (as src/config.ts).
    const given = 'secret' in VARIABLES[spec.variable] ? 'a value (not shown)' : JSON.stringify(value);
    if (text === null) problems.push(`${name}: expected ${EXPECTED[spec.kind]}, got ${given}`);
    else if (text !== undefined) variables[spec.variable] = text;
  }
  return { variables, problems };
}

const VARIABLE_TO_OPTION = new Map<string, OptionName>(Object.entries(OPTIONS).map(([option, spec]) => [spec.variable, option as OptionName]));

/**
 * A configuration problem (src/config.ts words it by variable) in the add-on's words: each
 * variable that `shown(variable)` says the user sets through an option is called by that option,
 * and a problem that starts with one gets `source` in front: `INFLUX_URL: expected …` →
 * `options.json: influx_url: expected …`.
 */
export function inOptionWords(problem: string, source: string, shown: (variable: string) => boolean): string {
  // A place in CONFIG_FILE names the file's keys already: not an option's problem.
  if (problem.startsWith('CONFIG_FILE ')) return problem;
  const option = (name: string): string | undefined => (shown(name) ? VARIABLE_TO_OPTION.get(name) : undefined);
  const lead = /^[A-Z][A-Z0-9_]*/.exec(problem)?.[0];
  const worded = problem.replace(/\b[A-Z][A-Z0-9_]{2,}\b/g, (name) => option(name) ?? name);
  return lead !== undefined && option(lead) !== undefined ? `${source}: ${worded}` : worded;
}
