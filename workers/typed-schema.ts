/**
 * The "typed" schema: one Home Assistant state → one line of line protocol.
 *
 *   <domain>,device_class=<dc>,entity_id=<id>,unit=<unit> value=<float>,state="<s>",<attr fields> <ns>
 *
 * - measurement: the entity's domain (`sensor`, `light`, …).
 * - tags (sorted): device_class and unit (unit_of_measurement) when they are non-empty strings,
 *   entity_id always. These two attributes are tags only, not fields too.
 * - `value` (float) when the state is a finite decimal number; for on/off-like states `value`
 *   1/0 plus `state`; otherwise `state` only (unknown and unavailable included).
 * - attributes: finite numbers and booleans → float field named after the key; strings, arrays
 *   and objects → `<key>_str` string field (compact JSON for arrays and objects), at most
 *   STRING_FIELD_MAX characters; null is skipped. Object keys are sorted at every depth (code
 *   point order, as HA's REST history sends them), so one state is one line whatever the path.
 * - field keys: a key that is `value`, `state`, `time` or starts with `_` gets the prefix `attr_`;
 *   a float key that ends with `_str` gets the suffix `_num`. So a string field always ends in
 *   `_str` (or is `state`) and a float field never does: one key has one type, forever, and a
 *   field type conflict cannot happen.
 * - No integer fields anywhere.
 * - timestamp: `last_updated` in ns.
 */
import { escaperFor, formatFloat, type Escaper, type Flavor } from './line-protocol.js';
import { InvalidStateError } from './invalid.js';
import { badTimeReason, IsoReader } from './timestamp.js';
import { compileFilters, type FilterConfig } from './filters.js';
import { fromLatin1Form, toLatin1Form } from './latin1.js';
import { placementReader, type Placements } from './shared-registry.js';
import { sortedJson } from './sorted-json.js';
import { canonicalUnit, normalizeUnit } from './units.js';

export const STRING_FIELD_MAX = 16_384;

/** State string → value for on/off-like states (the set HA's own state_as_number knows, and more). */
export const BINARY_STATES: ReadonlyMap<string, 0 | 1> = new Map([
  ['on', 1],
  ['off', 0],
  ['open', 1],
  ['closed', 0],
  ['home', 1],
  ['not_home', 0],
  ['locked', 1],
  ['unlocked', 0],
  ['above_horizon', 1],
  ['below_horizon', 0],
  ['true', 1],
  ['false', 0],
  ['yes', 1],
  ['no', 0],
  ['detected', 1],
  ['clear', 0],
]);

const DECIMAL = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/;

/** A state that is a finite decimal number, else null ("nan", "inf", "0x1F", "" are not). */
export function parseDecimal(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/**
 * Cuts a string to at most `max` characters without splitting a surrogate pair, nor a UTF-8
 * sequence when the string holds UTF-8 bytes as Latin-1 characters (encode-batch's fast path):
 * characters U+0080–U+00BF after the cut are continuation bytes there, so the cut moves before
 * them (in ordinary text it only makes the string a few characters shorter).
 */
export function capString(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  while (end > 0 && s.charCodeAt(end) >= 0x80 && s.charCodeAt(end) <= 0xbf) end--;
  return s.slice(0, end);
}

export interface HaState {
  entity_id: string;
  state: string;
  attributes?: Record<string, unknown> | null;
  last_updated: string;
}

/** A schema: one state → one line, or null when the schema skips it. */
export interface StateEncoder {
  /**
   * `timeNs` replaces the state's last_updated (history rows give float seconds). Every schema
   * stamps a state with its last_updated: one state, one timestamp, live or backfilled.
   */
  encodeState(s: HaState, timeNs?: string): string | null;
}

export { InvalidStateError } from './invalid.js';

/** Our own field names: an attribute of the same name is written as attr_<name>. */
const RESERVED_KEYS = new Set([
  'value',
  'state',
  'time',
  'value_raw',
  'unit_raw',
  // the enrichment context (src/enrich/context.ts)
  'outdoor_temperature',
  'outdoor_humidity',
  'outdoor_condition',
  'weather_age_s',
  'home_occupied',
  'people_home',
]);

export interface TypedSchemaOptions {
  /** Write values of known device classes in canonical units (workers/units.ts). */
  readonly normalizeUnits?: boolean;
  /** Include/exclude, ignored attributes, measurement overrides (workers/filters.ts). */
  readonly filters?: FilterConfig;
  /** Area and device names per entity, shared with the main thread (workers/shared-registry.ts). */
  readonly registry?: SharedArrayBuffer;
  /** This encoder serves the Latin-1 fast path: area and device names are converted to that form. */
  readonly latin1?: boolean;
  /** The target's spelling of names and strings (workers/line-protocol.ts); influxdb when unset. */
  readonly flavor?: Flavor;
}

/** An encoder with its own caches (escaped tag prefixes and field keys). */
export class TypedStateEncoder implements StateEncoder {
  private readonly rulesFor: ReturnType<typeof compileFilters>;
  private readonly placementsOf: ReturnType<typeof placementReader>;
  private placements: Placements = {};
  private readonly prefixes = new Map<string, { readonly deviceClass: string | undefined; readonly unit: string | undefined; readonly prefix: string }>();
  private readonly floatKeys = new Map<string, string>();
  private readonly stringKeys = new Map<string, string>();
  private readonly times = new IsoReader();
  private readonly esc: Escaper;

  constructor(private readonly options: TypedSchemaOptions = {}) {
    this.esc = escaperFor(options.flavor);
    this.rulesFor = compileFilters(options.filters);
    this.placementsOf = placementReader(options.registry);
  }

  private prefixFor(entityId: string, deviceClass: string | undefined, unit: string | undefined, override: string | undefined): string {
    // By entity id, then checked against the device class and unit: no key string built per state.
    const cached = this.prefixes.get(entityId);
    if (cached !== undefined && cached.deviceClass === deviceClass && cached.unit === unit) return cached.prefix;
    const dot = entityId.indexOf('.');
    if (dot <= 0) throw new InvalidStateError(`entity_id ${JSON.stringify(entityId)} has no domain`);
    const measurement = this.esc.measurement(override ?? entityId.slice(0, dot));
    const id = this.esc.tag(entityId);
    if (measurement === '' || id === '') throw new InvalidStateError(`entity_id ${JSON.stringify(entityId)} is not usable`);
    let prefix = measurement;
    const place = this.placements[this.options.latin1 ? fromLatin1Form(entityId) : entityId];
    const external = (s: string): string => (this.options.latin1 ? toLatin1Form(s) : s);
    const area = place?.area === undefined ? '' : this.esc.tag(external(place.area));
    if (area !== '') prefix += `,area=${area}`;
    const device = place?.device === undefined ? '' : this.esc.tag(external(place.device));
    if (device !== '') prefix += `,device=${device}`;
    const dc = deviceClass === undefined ? '' : this.esc.tag(deviceClass);
    if (dc !== '') prefix += `,device_class=${dc}`;
    prefix += `,entity_id=${id}`;
    const u = unit === undefined ? '' : this.esc.tag(unit);
    if (u !== '') prefix += `,unit=${u}`;
    if (this.prefixes.size > 100_000) this.prefixes.clear();
    this.prefixes.set(entityId, { deviceClass, unit, prefix: `${prefix} ` });
    return `${prefix} `;
  }

  private baseKey(key: string): string {
    const named = RESERVED_KEYS.has(key) || key.startsWith('_') || key === '' ? `attr_${key}` : key;
    return this.esc.fieldKey(named) || 'attr_';
  }

  private floatKey(key: string): string {
    let k = this.floatKeys.get(key);
    if (k === undefined) {
      k = this.baseKey(key);
      if (k.endsWith('_str')) k += '_num';
      if (this.floatKeys.size > 100_000) this.floatKeys.clear();
      this.floatKeys.set(key, k);
    }
    return k;
  }

  private stringKey(key: string): string {
    let k = this.stringKeys.get(key);
    if (k === undefined) {
      k = `${this.baseKey(key)}_str`;
      if (this.stringKeys.size > 100_000) this.stringKeys.clear();
      this.stringKeys.set(key, k);
    }
    return k;
  }

  private attributeFields(entityId: string, attributes: Record<string, unknown>, ignored: ReadonlySet<string>): string {
    let out = '';
    for (const key in attributes) {
      if (ignored.size > 0 && ignored.has(key)) continue;
      if (key === 'device_class' || key === 'unit_of_measurement') {
        if (typeof attributes[key] === 'string') continue;
      }
      const v = attributes[key];
      switch (typeof v) {
        case 'number':
          if (Number.isFinite(v)) out += `,${this.floatKey(key)}=${formatFloat(v)}`;
          break;
        case 'boolean':
          out += `,${this.floatKey(key)}=${v ? '1' : '0'}`;
          break;
        case 'string':
          out += `,${this.stringKey(key)}="${this.esc.stringValue(capString(v, STRING_FIELD_MAX))}"`;
          break;
        case 'object':
          if (v !== null) out += `,${this.stringKey(key)}="${this.esc.stringValue(capString(sortedJson(v, attributeName(entityId, key)), STRING_FIELD_MAX))}"`;
          break;
        default:
          break;
      }
    }
    return out;
  }

  /**
   * One state → one line (with its trailing newline). `timeNs` replaces last_updated when the
   * time came in another form (HA's history gives float seconds). Throws InvalidStateError.
   */
  encodeState(s: HaState, timeNs?: string): string | null {
    if (typeof s !== 'object' || s === null || typeof s.entity_id !== 'string') {
      throw new InvalidStateError('state without entity_id');
    }
    const rules = this.rulesFor(s.entity_id);
    if (!rules.write) return null;
    const latest = this.placementsOf.read();
    if (latest.changed) {
      this.placements = latest.placements;
      this.prefixes.clear();
    }
    const ns = timeNs ?? (typeof s.last_updated === 'string' ? this.times.read(s.last_updated) : null);
    if (ns === null) throw new InvalidStateError(`${s.entity_id}: last_updated ${badTimeReason(s.last_updated)}`);
    const attributes = s.attributes ?? {};
    const dc = typeof attributes.device_class === 'string' ? attributes.device_class : undefined;
    const unit = typeof attributes.unit_of_measurement === 'string' ? attributes.unit_of_measurement : undefined;
    const state = typeof s.state === 'string' ? s.state : String(s.state ?? '');
    const number = parseDecimal(state);
    const normalized = number !== null && this.options.normalizeUnits ? normalizeUnit(dc, unit, number) : null;
    // The unit tag stays the canonical one for every state of the entity (unavailable too),
    // so that its history does not split into two series.
    const tagUnit = (this.options.normalizeUnits ? canonicalUnit(dc, unit) : null) ?? unit;
    let line = this.prefixFor(s.entity_id, dc, tagUnit, rules.overrideMeasurement);
    if (normalized !== null) {
      line += `value=${formatFloat(normalized.value)},value_raw=${formatFloat(number as number)},unit_raw="${this.esc.stringValue(unit as string)}"`;
    } else if (number !== null) {
      line += `value=${formatFloat(number)}`;
    } else {
      const binary = BINARY_STATES.get(state);
      if (binary !== undefined) line += `value=${binary},`;
      line += `state="${this.esc.stringValue(capString(state, STRING_FIELD_MAX))}"`;
    }
    return `${line}${this.attributeFields(s.entity_id, attributes, rules.ignoreAttributes)} ${ns}\n`;
  }
}

/** How an invalid state's reason names an attribute. */
export function attributeName(entityId: string, key: string): string {
  return `${entityId}: attribute ${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}`;
}

export function createTypedEncoder(options: TypedSchemaOptions = {}): TypedStateEncoder {
  return new TypedStateEncoder(options);
}

export type TypedEncoder = TypedStateEncoder;

/** Which schema the workers use (SCHEMA), with the options of the HA-compatible one. */
export type SchemaOptions =
  | ({ readonly schema: 'typed' } & TypedSchemaOptions)
  | { readonly schema: 'ha'; readonly ha: import('./ha-schema.js').HaSchemaOptions; readonly filters?: FilterConfig; readonly flavor?: Flavor };
