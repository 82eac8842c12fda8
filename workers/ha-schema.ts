/**
 * SCHEMA=ha: the points Home Assistant's own InfluxDB integration writes, so that a user can
 * switch to the ingestor without breaking a dashboard. Its rules, from the integration:
 *
 * - skipped: new_state null, and states "unknown", "unavailable" and "".
 * - measurement: the attribute named by measurement_attr (default unit_of_measurement), or
 *   `<domain>__<device_class>` / the entity id for those two special values; when empty,
 *   default_measurement, else the full entity id. override_measurement replaces all of it.
 * - tags: domain, entity_id = the object id (without the domain), the tags_attributes (their
 *   values, as Python's str()), and the static tags.
 * - fields: value = float(state) when it parses (Python's float(): "nan", "1_000", " 2 " too);
 *   else for on/off-like states value 1/0 plus state; else state only.
 * - attributes (less ignore_attributes, the unit when it is the measurement, the device class
 *   when it is part of it): float(x) when it parses (booleans are 1/0), else `<key>_str` =
 *   Python's str(x) (None, True, lists and dicts in Python's repr), plus a float `<key>` taken
 *   from that string when it has two digits or more and at most one dot. A key that is already a
 *   field gets a trailing `_`. Non-finite numbers are dropped.
 * - empty strings: an empty tag value is left out (as both of HA's InfluxDB clients do). An empty
 *   string field (`device_class_str` of `device_class: ""`) is left out too unless
 *   `emptyStringFields`: HA's integration builds it (float("") fails, so `<key>_str` = ""), but
 *   with api_version 1 (HA's default, influxdb-python's line_protocol.py `_escape_value` turns ""
 *   into nothing and `make_lines` drops a field without a value) it never reaches the database,
 *   while with api_version 2 (influxdb-client's Point quotes every string) it is written as "".
 * - timestamp: the state's last_updated, whichever path brought it (live, snapshot, history):
 *   one state, one timestamp. HA's integration uses time_fired, a few µs later; other event
 *   types (ha_event points) keep time_fired. With `precision` (HA's `precision:`), truncated as
 *   HA's client truncates (ha-precision.ts), still written in ns.
 */
import { escaperFor, formatFloat, type Escaper, type Flavor } from './line-protocol.js';
import { pyFloat, pyStr, pyStrMember } from './python-values.js';
import { haTimestampNs, type TimePrecision } from './ha-precision.js';
import { badTimeReason, IsoReader } from './timestamp.js';
import { compileFilters, type FilterConfig } from './filters.js';
import { attributeName, InvalidStateError, type HaState, type StateEncoder } from './typed-schema.js';

export interface HaSchemaOptions {
  /** unit_of_measurement (default), domain__device_class, entity_id, or any attribute name. */
  readonly measurementAttr: string;
  readonly defaultMeasurement: string | undefined;
  readonly overrideMeasurement: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly tagsAttributes: readonly string[];
  readonly ignoreAttributes: readonly string[];
  /** Write string fields that are "" (HA with api_version 2) or leave them out (api_version 1). Default: left out. */
  readonly emptyStringFields?: boolean;
  /** HA's `precision:`; absent or ns: the timestamp as it came (ns). */
  readonly precision?: TimePrecision;
}

export const DEFAULT_HA_SCHEMA: HaSchemaOptions = {
  measurementAttr: 'unit_of_measurement',
  defaultMeasurement: undefined,
  overrideMeasurement: undefined,
  tags: {},
  tagsAttributes: [],
  ignoreAttributes: [],
};

/** HA's state_as_number for the states it knows. */
const STATE_AS_NUMBER: ReadonlyMap<string, number> = new Map([
  ['on', 1],
  ['locked', 1],
  ['above_horizon', 1],
  ['open', 1],
  ['home', 1],
  ['off', 0],
  ['unlocked', 0],
  ['unknown', 0],
  ['below_horizon', 0],
  ['closed', 0],
  ['not_home', 0],
]);

const SKIPPED_STATES = new Set(['unknown', 'unavailable', '']);
const DIGIT_TAIL = /^[^.]*\d+\.?\d+[^.]*$/;
const NOT_DECIMAL = /[^\d.]+/g;

type Field = { readonly kind: 'float'; readonly value: number } | { readonly kind: 'string'; readonly value: string };

/** An attribute as HA's integration writes it: a float, or `<key>_str` (plus a float from its digits). */
function addAttribute(fields: Map<string, Field>, rawKey: string, value: unknown, what: string): void {
  const key = fields.has(rawKey) ? `${rawKey}_` : rawKey;
  const number = value === null || typeof value === 'object' ? null : pyFloat(value);
  if (number !== null) {
    fields.set(key, { kind: 'float', value: number });
  } else {
    const text = pyStr(value, what);
    fields.set(`${key}_str`, { kind: 'string', value: text });
    if (DIGIT_TAIL.test(text)) fields.set(key, { kind: 'float', value: Number(text.replace(NOT_DECIMAL, '')) });
  }
  const written = fields.get(key);
  if (written?.kind === 'float' && !Number.isFinite(written.value)) fields.delete(key);
}

/** The line: measurement, sorted tags, fields in order; null when no field is left. */
function lineOf(
  esc: Escaper,
  measurement: string,
  tags: Record<string, string>,
  fields: ReadonlyMap<string, Field>,
  ns: string,
  emptyStrings: boolean,
): string | null {
  let line = esc.measurement(measurement) || 'ha';
  for (const key of Object.keys(tags).sort()) {
    const k = esc.tag(key);
    const v = esc.tag(tags[key] as string);
    if (k !== '' && v !== '') line += `,${k}=${v}`;
  }
  const parts: string[] = [];
  for (const [key, field] of fields) {
    const k = esc.fieldKey(key);
    if (k === '') continue;
    if (field.kind === 'float') {
      if (Number.isFinite(field.value)) parts.push(`${k}=${formatFloat(field.value)}`);
    } else if (field.value !== '' || emptyStrings) {
      parts.push(`${k}="${esc.stringValue(field.value)}"`);
    }
  }
  if (parts.length === 0) return null;
  return `${line} ${parts.join(',')} ${ns}\n`;
}

/** The measurement and whether the unit and the device class stay fields, as HA's integration decides. */
function measurementOf(
  options: HaSchemaOptions,
  s: HaState,
  domain: string,
  attributes: Record<string, unknown>,
  entityOverride: string | undefined,
): { name: string; includeUnit: boolean; includeDeviceClass: boolean } {
  if (entityOverride) return { name: entityOverride, includeUnit: true, includeDeviceClass: true };
  if (options.overrideMeasurement) return { name: options.overrideMeasurement, includeUnit: true, includeDeviceClass: true };
  let name: unknown;
  let includeDeviceClass = true;
  if (options.measurementAttr === 'entity_id') name = s.entity_id;
  else if (options.measurementAttr === 'domain__device_class') {
    const dc = attributes.device_class;
    if (dc === undefined || dc === null) name = domain;
    else {
      name = `${domain}__${pyStr(dc)}`;
      includeDeviceClass = false;
    }
  } else name = attributes[options.measurementAttr];
  if (name === undefined || name === null || name === '') {
    return { name: options.defaultMeasurement || s.entity_id, includeUnit: true, includeDeviceClass };
  }
  return { name: pyStr(name), includeUnit: options.measurementAttr !== 'unit_of_measurement', includeDeviceClass };
}

export function createHaEncoder(options: HaSchemaOptions = DEFAULT_HA_SCHEMA, filters?: FilterConfig, flavor?: Flavor): StateEncoder {
  const esc = escaperFor(flavor);
  const rulesFor = compileFilters({ ...filters, ignore_attributes: [...(filters?.ignore_attributes ?? []), ...options.ignoreAttributes] });
  const tagAttributes = new Set(options.tagsAttributes);
  const times = new IsoReader();
  const precision = options.precision?.unit === 'ns' ? undefined : options.precision;

  function encodeState(s: HaState, timeNs?: string): string | null {
    if (typeof s !== 'object' || s === null || typeof s.entity_id !== 'string') throw new InvalidStateError('state without entity_id');
    const state = s.state === null || s.state === undefined ? '' : String(s.state);
    const rules = rulesFor(s.entity_id);
    if (SKIPPED_STATES.has(state) || !rules.write) return null;
    const ignored = rules.ignoreAttributes;
    const dot = s.entity_id.indexOf('.');
    if (dot <= 0) throw new InvalidStateError(`entity_id ${JSON.stringify(s.entity_id)} has no domain`);
    const domain = s.entity_id.slice(0, dot);
    const read = timeNs ?? (typeof s.last_updated === 'string' ? times.read(s.last_updated) : null);
    if (read === null) throw new InvalidStateError(`${s.entity_id}: last_updated ${badTimeReason(s.last_updated)}`);
    const ns = precision === undefined ? read : haTimestampNs(read, precision);
    const attributes = (s.attributes ?? {}) as Record<string, unknown>;
    const measurement = measurementOf(options, s, domain, attributes, rules.overrideMeasurement);

    const fields = new Map<string, Field>();
    const asNumber = pyFloat(state);
    if (asNumber !== null) {
      fields.set('value', { kind: 'float', value: asNumber });
    } else {
      fields.set('state', { kind: 'string', value: state });
      const binary = STATE_AS_NUMBER.get(state);
      if (binary !== undefined) fields.set('value', { kind: 'float', value: binary });
    }

    const tags: Record<string, string> = { domain, entity_id: s.entity_id.slice(dot + 1) };
    for (const [rawKey, value] of Object.entries(attributes)) {
      if (tagAttributes.has(rawKey)) {
        // Both of HA's clients drop a None tag: influxdb-python influxdb/line_protocol.py
        // (e8b7c4e79be294f8e3bf719af196a1d422d75370) `_escape_tag` makes None '' and `make_lines`
        // keeps `value != ''` only; influxdb-client-python influxdb_client/client/write/point.py
        // (03f5bd7b4c728dae3e0d2da42da53728b9e9e8d4) `_append_tags` skips `tag_value is None`.
        if (value !== null) tags[rawKey] = pyStrMember(attributes, rawKey, attributeName(s.entity_id, rawKey));
        continue;
      }
      if (
        (rawKey === 'unit_of_measurement' && !measurement.includeUnit) ||
        (rawKey === 'device_class' && !measurement.includeDeviceClass) ||
        ignored.has(rawKey)
      )
        continue;
      addAttribute(fields, rawKey, value, attributeName(s.entity_id, rawKey));
    }
    Object.assign(tags, options.tags);
    return lineOf(esc, measurement.name, tags, fields, ns, options.emptyStringFields === true);
  }

  return { encodeState };
}
