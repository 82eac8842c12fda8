import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { configFromText, mergeFilters } from '../../src/config-file/index.js';
import { createHaEncoder, DEFAULT_HA_SCHEMA } from '../../workers/ha-schema.js';
import { compileFilters, type FilterConfig } from '../../workers/filters.js';
import { createTypedEncoder } from '../../workers/typed-schema.js';
import { HA_FILTER_CASES, HA_SOURCE_FILTER_CASES } from '../helpers/ha-filter-cases.js';

const IDS = ['sensor.kitchen_temperature', 'sensor.kitchen_rssi', 'light.kitchen', 'binary_sensor.front_door', 'automation.x', 'weather.home'];
const written = (config: FilterConfig) => IDS.filter((id) => compileFilters(config)(id).write);

describe('include/exclude with HA semantics', () => {
  it.each<[string, FilterConfig, string[]]>([
    ['no filter: everything', {}, IDS],
    ['include domains only', { include: { domains: ['sensor'] } }, ['sensor.kitchen_temperature', 'sensor.kitchen_rssi']],
    ['include entities only', { include: { entities: ['light.kitchen'] } }, ['light.kitchen']],
    ['include globs only', { include: { entity_globs: ['*.kitchen*'] } }, ['sensor.kitchen_temperature', 'sensor.kitchen_rssi', 'light.kitchen']],
    [
      'exclude domains only',
      { exclude: { domains: ['automation', 'weather'] } },
      ['sensor.kitchen_temperature', 'sensor.kitchen_rssi', 'light.kitchen', 'binary_sensor.front_door'],
    ],
    [
      'exclude glob only',
      { exclude: { entity_globs: ['sensor.*_rssi'] } },
      ['sensor.kitchen_temperature', 'light.kitchen', 'binary_sensor.front_door', 'automation.x', 'weather.home'],
    ],
    [
      'include domain, exclude a glob inside it',
      { include: { domains: ['sensor'] }, exclude: { entity_globs: ['sensor.*_rssi'] } },
      ['sensor.kitchen_temperature'],
    ],
    [
      'exclude domain, include one entity of it: every other entity is written too (HA case 5)',
      { include: { entities: ['sensor.kitchen_rssi'] }, exclude: { domains: ['sensor'] } },
      ['sensor.kitchen_rssi', 'light.kitchen', 'binary_sensor.front_door', 'automation.x', 'weather.home'],
    ],
    [
      'include glob beats exclude domain',
      { include: { entity_globs: ['sensor.*_temperature'] }, exclude: { domains: ['sensor'] } },
      ['sensor.kitchen_temperature'],
    ],
    [
      'exclude entity beats include glob',
      { include: { entity_globs: ['sensor.*'] }, exclude: { entities: ['sensor.kitchen_rssi'] } },
      ['sensor.kitchen_temperature'],
    ],
    ['? matches one character', { include: { entity_globs: ['automation.?'] } }, ['automation.x']],
    ['[seq] matches one character of seq', { include: { entity_globs: ['[lw]*'] } }, ['light.kitchen', 'weather.home']],
    ['entity ids in the lists are compared lower-cased, as HA reads them', { include: { entities: ['Light.Kitchen'] } }, ['light.kitchen']],
  ])('%s', (_name, config, expected) => {
    expect(written(config)).toEqual(expected);
  });

  it('merges per-entity settings: domain, then glob, then entity, the later winning', () => {
    const rules = compileFilters({
      ignore_attributes: ['icon'],
      component_config_domain: { sensor: { override_measurement: 'sensors', ignore_attributes: ['a'] } },
      component_config_glob: { 'sensor.*_temperature': { override_measurement: 'temperatures' } },
      component_config: { 'sensor.kitchen_temperature': { ignore_attributes: ['b'] } },
    });
    expect(rules('sensor.kitchen_temperature')).toEqual({ write: true, overrideMeasurement: 'temperatures', ignoreAttributes: new Set(['icon', 'b']) });
    expect(rules('sensor.kitchen_rssi')).toEqual({ write: true, overrideMeasurement: 'sensors', ignoreAttributes: new Set(['icon', 'a']) });
    expect(rules('light.kitchen')).toEqual({ write: true, overrideMeasurement: undefined, ignoreAttributes: new Set(['icon']) });
  });
});

describe("Home Assistant's entity filter tests", () => {
  it.each([...HA_FILTER_CASES, ...HA_SOURCE_FILTER_CASES])('%s', (_name, include, exclude, expected) => {
    const rules = compileFilters({ include, exclude });
    const got = Object.fromEntries(Object.keys(expected).map((id) => [id, rules(id).write]));
    expect(got).toEqual(expected);
  });
});

describe('filters in both schemas', () => {
  const state = {
    entity_id: 'sensor.kitchen_temperature',
    state: '21',
    attributes: { icon: 'mdi:x', friendly_name: 'K' },
    last_updated: '2024-05-01T00:00:00+00:00',
  };
  const filters: FilterConfig = {
    exclude: { domains: ['light'] },
    ignore_attributes: ['icon'],
    component_config_glob: { 'sensor.*_temperature': { override_measurement: 'temperatures' } },
  };

  it('typed: override, ignored attribute, excluded entity', () => {
    const enc = createTypedEncoder({ filters });
    expect(enc.encodeState(state)).toBe('temperatures,entity_id=sensor.kitchen_temperature value=21,friendly_name_str="K" 1714521600000000000\n');
    expect(enc.encodeState({ ...state, entity_id: 'light.kitchen' })).toBeNull();
  });

  it('ha: override, ignored attribute, excluded entity', () => {
    const enc = createHaEncoder(DEFAULT_HA_SCHEMA, filters);
    expect(enc.encodeState(state)).toBe('temperatures,domain=sensor,entity_id=kitchen_temperature value=21,friendly_name_str="K" 1714521600000000000\n');
    expect(enc.encodeState({ ...state, entity_id: 'light.kitchen' })).toBeNull();
  });
});

describe('CONFIG_FILE', () => {
  it('reads YAML and JSON with HA keys', async () => {
    const yaml =
      'include:\n  domains: [sensor]\nexclude:\n  entity_globs: ["sensor.*_rssi"]\ncomponent_config:\n  sensor.a:\n    override_measurement: outdoor\n';
    expect((await configFromText(yaml, 'f.yaml')).filters).toMatchObject({
      include: { domains: ['sensor'] },
      exclude: { entity_globs: ['sensor.*_rssi'] },
      component_config: { 'sensor.a': { override_measurement: 'outdoor' } },
    });
    expect((await configFromText('{"ignore_attributes":["icon"]}', 'f.json')).filters).toMatchObject({ ignore_attributes: ['icon'] });
    expect((await configFromText('', 'empty.yaml')).variables).toEqual({});
  });

  it('reports every problem with its place, in one error', async () => {
    // An empty override_measurement is valid in HA (it means none): no longer a problem.
    const bad = 'include:\n  domains: [sensor, [3]]\n  bogus: 1\ncomponent_config:\n  sensor.a:\n    override_measurement: ""\nextra: true\n';
    let problems: readonly string[] = [];
    try {
      await configFromText(bad, 'f.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      'CONFIG_FILE f.yaml: (top level): unknown key "extra"',
      'CONFIG_FILE f.yaml: include: unknown key "bogus"',
      'CONFIG_FILE f.yaml: include.domains.1: expected a text, got a list',
    ]);
  });

  it('says when the file is not YAML or JSON', async () => {
    await expect(configFromText('{not json', 'f.json')).rejects.toThrow(
      /^invalid configuration:\n {2}- CONFIG_FILE f\.json: cannot be read as JSON \(line 1, column 2\)$/,
    );
    await expect(configFromText('a: [1, 2', 'f.yaml')).rejects.toThrow(/CONFIG_FILE f\.yaml: cannot be read as YAML: /);
  });

  it('adds the file to the environment', () => {
    const merged = mergeFilters({ include: { domains: ['sensor'] }, ignore_attributes: ['a'] }, { include: { domains: ['light'] }, ignore_attributes: ['b'] });
    expect(merged.include?.domains).toEqual(['sensor', 'light']);
    expect(merged.ignore_attributes).toEqual(['a', 'b']);
  });
});
