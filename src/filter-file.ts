/**
 * CONFIG_FILE: entity filters and per-entity settings in YAML or JSON, with the keys of Home
 * Assistant's own `influxdb:` configuration:
 *
 *   include: { domains: [sensor], entities: [weather.home], entity_globs: ["binary_sensor.*_door"] }
 *   exclude: { domains: [automation], entities: [], entity_globs: ["sensor.*_rssi"] }
 *   ignore_attributes: [friendly_name, icon]
 *   component_config:        { sensor.outside: { override_measurement: outdoor, ignore_attributes: [x] } }
 *   component_config_domain: { climate: { ignore_attributes: [hvac_modes] } }
 *   component_config_glob:   { "sensor.*_power": { override_measurement: power } }
 *
 * Parsing and validation are pure (main.ts reads the file); every problem is reported at once.
 */
import Type from 'typebox';
import Value from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import type { FilterConfig } from '../workers/filters.js';
import { ConfigError } from './errors.js';

const List = Type.Array(Type.String({ minLength: 1 }));
const Rules = Type.Object({ domains: Type.Optional(List), entities: Type.Optional(List), entity_globs: Type.Optional(List) }, { additionalProperties: false });
const Settings = Type.Object(
  { override_measurement: Type.Optional(Type.String({ minLength: 1 })), ignore_attributes: Type.Optional(List) },
  { additionalProperties: false },
);
const FilterFile = Type.Object(
  {
    include: Type.Optional(Rules),
    exclude: Type.Optional(Rules),
    ignore_attributes: Type.Optional(List),
    component_config: Type.Optional(Type.Record(Type.String(), Settings)),
    component_config_domain: Type.Optional(Type.Record(Type.String(), Settings)),
    component_config_glob: Type.Optional(Type.Record(Type.String(), Settings)),
  },
  { additionalProperties: false },
);

export function parseFilterFile(text: string, path: string): FilterConfig {
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([`CONFIG_FILE ${path}: cannot be read as ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`]);
  }
  data ??= {};
  if (Value.Check(FilterFile, data)) return data as FilterConfig;
  const problems: string[] = [];
  for (const e of Value.Errors(FilterFile, data)) {
    if (e.message === 'schema is false') continue; // reported by its parent as an unknown key
    const where = e.instancePath === '' ? '(top level)' : e.instancePath.slice(1).replace(/\//g, '.');
    const unknown = (e.params as { additionalProperties?: string[] }).additionalProperties;
    problems.push(`CONFIG_FILE ${path}: ${where}: ${unknown ? `unknown key ${unknown.map((k) => JSON.stringify(k)).join(', ')}` : e.message}`);
  }
  throw new ConfigError(problems);
}

/** The environment's lists and the file's, together. */
export function mergeFilters(a: FilterConfig, b: FilterConfig): FilterConfig {
  const join = (x?: readonly string[], y?: readonly string[]) => [...(x ?? []), ...(y ?? [])];
  const rules = (x?: FilterConfig['include'], y?: FilterConfig['include']) => ({
    domains: join(x?.domains, y?.domains),
    entities: join(x?.entities, y?.entities),
    entity_globs: join(x?.entity_globs, y?.entity_globs),
  });
  return {
    include: rules(a.include, b.include),
    exclude: rules(a.exclude, b.exclude),
    ignore_attributes: join(a.ignore_attributes, b.ignore_attributes),
    component_config: { ...a.component_config, ...b.component_config },
    component_config_domain: { ...a.component_config_domain, ...b.component_config_domain },
    component_config_glob: { ...a.component_config_glob, ...b.component_config_glob },
  };
}
