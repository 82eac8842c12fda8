import { describe, expect, it } from 'vitest';
import { capString, createTypedEncoder, parseDecimal, STRING_FIELD_MAX, type HaState } from '../../workers/typed-schema.js';

const TS = '2024-05-01T12:34:56.123456+00:00';
const NS = '1714566896123456000';

function encode(partial: Partial<HaState> & { entity_id?: string }): string | null {
  return createTypedEncoder().encodeState({ entity_id: 'sensor.x', state: '1', attributes: {}, last_updated: TS, ...partial } as HaState);
}

describe('typed schema: one state → one line', () => {
  it.each<[string, Partial<HaState>, string]>([
    [
      'numeric sensor with device class and unit',
      {
        entity_id: 'sensor.living_room_temperature',
        state: '21.4',
        attributes: { device_class: 'temperature', unit_of_measurement: '°C', friendly_name: 'Living room', state_class: 'measurement' },
      },
      `sensor,device_class=temperature,entity_id=sensor.living_room_temperature,unit=°C value=21.4,friendly_name_str="Living room",state_class_str="measurement" ${NS}\n`,
    ],
    ['integer-looking state is still a float', { state: '42' }, `sensor,entity_id=sensor.x value=42 ${NS}\n`],
    ['negative and exponent', { state: '-1.5e3' }, `sensor,entity_id=sensor.x value=-1500 ${NS}\n`],
    ['surrounding spaces', { state: ' 7 ' }, `sensor,entity_id=sensor.x value=7 ${NS}\n`],
    ['on', { entity_id: 'light.k', state: 'on' }, `light,entity_id=light.k value=1,state="on" ${NS}\n`],
    ['off', { entity_id: 'switch.k', state: 'off' }, `switch,entity_id=switch.k value=0,state="off" ${NS}\n`],
    ['not_home', { entity_id: 'person.a', state: 'not_home' }, `person,entity_id=person.a value=0,state="not_home" ${NS}\n`],
    ['locked', { entity_id: 'lock.d', state: 'locked' }, `lock,entity_id=lock.d value=1,state="locked" ${NS}\n`],
    ['open', { entity_id: 'cover.g', state: 'open' }, `cover,entity_id=cover.g value=1,state="open" ${NS}\n`],
    ['text state', { state: 'heat' }, `sensor,entity_id=sensor.x state="heat" ${NS}\n`],
    ['unavailable is data', { state: 'unavailable' }, `sensor,entity_id=sensor.x state="unavailable" ${NS}\n`],
    ['unknown is data', { state: 'unknown' }, `sensor,entity_id=sensor.x state="unknown" ${NS}\n`],
    ['empty state', { state: '' }, `sensor,entity_id=sensor.x state="" ${NS}\n`],
    ['nan is text', { state: 'nan' }, `sensor,entity_id=sensor.x state="nan" ${NS}\n`],
    ['inf is text', { state: 'inf' }, `sensor,entity_id=sensor.x state="inf" ${NS}\n`],
    ['hex is text', { state: '0x1F' }, `sensor,entity_id=sensor.x state="0x1F" ${NS}\n`],
    ['constructor is text', { state: 'constructor' }, `sensor,entity_id=sensor.x state="constructor" ${NS}\n`],
    // The line feed stays raw inside the quotes: InfluxDB reads it back exactly (lineEnd finds the line's end).
    ['quotes and newline in state', { state: 'say "hi"\nbye' }, `sensor,entity_id=sensor.x state="say \\"hi\\"\nbye" ${NS}\n`],
    [
      'attribute types',
      { attributes: { n: 3, f: 0.5, t: true, no: false, s: 'txt', arr: [1, 'a'], obj: { k: null }, nul: null, big: 1e300 } },
      `sensor,entity_id=sensor.x value=1,n=3,f=0.5,t=1,no=0,s_str="txt",arr_str="[1,\\"a\\"]",obj_str="{\\"k\\":null}",big=1e+300 ${NS}\n`,
    ],
    [
      'reserved and private keys get attr_',
      { attributes: { value: 2, state: 'x', time: 't', _p: 1, '': 5 } },
      `sensor,entity_id=sensor.x value=1,attr_value=2,attr_state_str="x",attr_time_str="t",attr__p=1,attr_=5 ${NS}\n`,
    ],
    ['a float key never ends in _str', { attributes: { a_str: 1, a: 'x' } }, `sensor,entity_id=sensor.x value=1,a_str_num=1,a_str="x" ${NS}\n`],
    ['special characters in keys', { attributes: { 'k, =v': 1, 'ends\\': 2 } }, `sensor,entity_id=sensor.x value=1,k\\,\\ \\=v=1,ends/=2 ${NS}\n`],
    [
      'odd entity id and tag values',
      { entity_id: 'sensor.odd id, with=signs', attributes: { device_class: 'a b', unit_of_measurement: 'µg/m³' } },
      `sensor,device_class=a\\ b,entity_id=sensor.odd\\ id\\,\\ with\\=signs,unit=µg/m³ value=1 ${NS}\n`,
    ],
    ['empty unit is omitted', { attributes: { unit_of_measurement: '' } }, `sensor,entity_id=sensor.x value=1 ${NS}\n`],
    ['backslash-only unit becomes /', { attributes: { unit_of_measurement: '\\' } }, `sensor,entity_id=sensor.x,unit=/ value=1 ${NS}\n`],
    ['non-string device_class is a field', { attributes: { device_class: 5 } }, `sensor,entity_id=sensor.x value=1,device_class=5 ${NS}\n`],
    // Decided (docs/schema.md): an empty device_class or unit is as if absent; other empty strings are written.
    [
      'empty device_class and unit: neither tag nor field',
      { attributes: { device_class: '', unit_of_measurement: '', friendly_name: '' } },
      `sensor,entity_id=sensor.x value=1,friendly_name_str="" ${NS}\n`,
    ],
    ['null attributes', { attributes: null }, `sensor,entity_id=sensor.x value=1 ${NS}\n`],
    ['no fraction in timestamp', { last_updated: '2024-05-01T12:34:56+00:00' }, `sensor,entity_id=sensor.x value=1 1714566896000000000\n`],
  ])('%s', (_name, state, line) => {
    expect(encode(state)).toBe(line);
  });

  it('caps long strings without splitting a surrogate pair', () => {
    const long = 'a'.repeat(STRING_FIELD_MAX - 1) + '🚀' + 'b';
    const line = encode({ attributes: { s: long } });
    expect(line).toContain(`s_str="${'a'.repeat(STRING_FIELD_MAX - 1)}"`);
    expect(capString('ab', 5)).toBe('ab');
  });

  it.each([
    ['no domain', { entity_id: 'nodomain' }, /no domain/],
    ['bad timestamp', { last_updated: 'yesterday' }, /last_updated "yesterday" is not a valid ISO 8601 time/],
    ['missing entity id', { entity_id: undefined }, /without entity_id/],
  ])('rejects a state with %s', (_name, state, message) => {
    expect(() => encode(state as Partial<HaState>)).toThrow(message);
  });
});

describe('parseDecimal', () => {
  it.each([
    ['0', 0],
    ['-0', -0],
    ['21.40', 21.4],
    ['.5', 0.5],
    ['5.', 5],
    ['+3', 3],
    ['1e-3', 0.001],
    ['\t8\n', 8],
  ])('%j → %d', (s, n) => {
    expect(parseDecimal(s)).toBe(n);
  });

  it.each(['', ' ', 'nan', 'NaN', 'inf', 'Infinity', '-inf', '1e999', '0x10', '0b1', '1_000', '1,5', '12abc', '.', 'e5', '--1'])('%j is not a number', (s) => {
    expect(parseDecimal(s)).toBeNull();
  });
});

describe('typed schema with NORMALIZE_UNITS', () => {
  const encode = (state: string, attributes: Record<string, unknown>) =>
    createTypedEncoder({ normalizeUnits: true }).encodeState({ entity_id: 'sensor.x', state, attributes, last_updated: TS });
  it.each<[string, string, Record<string, unknown>, string]>([
    [
      '°F → °C',
      '68',
      { device_class: 'temperature', unit_of_measurement: '°F' },
      `sensor,device_class=temperature,entity_id=sensor.x,unit=°C value=20,value_raw=68,unit_raw="°F" ${NS}\n`,
    ],
    [
      'K → °C',
      '300',
      { device_class: 'temperature', unit_of_measurement: 'K' },
      `sensor,device_class=temperature,entity_id=sensor.x,unit=°C value=26.85,value_raw=300,unit_raw="K" ${NS}\n`,
    ],
    [
      'Wh → kWh',
      '1500',
      { device_class: 'energy', unit_of_measurement: 'Wh' },
      `sensor,device_class=energy,entity_id=sensor.x,unit=kWh value=1.5,value_raw=1500,unit_raw="Wh" ${NS}\n`,
    ],
    [
      'MWh → kWh',
      '2.5',
      { device_class: 'energy', unit_of_measurement: 'MWh' },
      `sensor,device_class=energy,entity_id=sensor.x,unit=kWh value=2500,value_raw=2.5,unit_raw="MWh" ${NS}\n`,
    ],
    [
      'kW → W',
      '1.2',
      { device_class: 'power', unit_of_measurement: 'kW' },
      `sensor,device_class=power,entity_id=sensor.x,unit=W value=1200,value_raw=1.2,unit_raw="kW" ${NS}\n`,
    ],
    [
      'km/h → m/s',
      '36',
      { device_class: 'wind_speed', unit_of_measurement: 'km/h' },
      `sensor,device_class=wind_speed,entity_id=sensor.x,unit=m/s value=10,value_raw=36,unit_raw="km/h" ${NS}\n`,
    ],
    [
      'psi → hPa',
      '1',
      { device_class: 'pressure', unit_of_measurement: 'psi' },
      `sensor,device_class=pressure,entity_id=sensor.x,unit=hPa value=68.9475729,value_raw=1,unit_raw="psi" ${NS}\n`,
    ],
    [
      'm³ → L',
      '0.25',
      { device_class: 'water', unit_of_measurement: 'm³' },
      `sensor,device_class=water,entity_id=sensor.x,unit=L value=250,value_raw=0.25,unit_raw="m³" ${NS}\n`,
    ],
    [
      'canonical already: untouched',
      '21',
      { device_class: 'temperature', unit_of_measurement: '°C' },
      `sensor,device_class=temperature,entity_id=sensor.x,unit=°C value=21 ${NS}\n`,
    ],
    [
      'unknown unit: untouched',
      '3',
      { device_class: 'temperature', unit_of_measurement: '°Ré' },
      `sensor,device_class=temperature,entity_id=sensor.x,unit=°Ré value=3 ${NS}\n`,
    ],
    [
      'unknown device class: untouched',
      '3',
      { device_class: 'humidity', unit_of_measurement: '%' },
      `sensor,device_class=humidity,entity_id=sensor.x,unit=% value=3 ${NS}\n`,
    ],
    [
      'non-numeric state: the canonical unit tag all the same (one series)',
      'unavailable',
      { device_class: 'temperature', unit_of_measurement: '°F' },
      `sensor,device_class=temperature,entity_id=sensor.x,unit=°C state="unavailable" ${NS}\n`,
    ],
    [
      'attributes named like the raw fields step aside',
      '68',
      { device_class: 'temperature', unit_of_measurement: '°F', value_raw: 1, unit_raw: 'x' },
      `sensor,device_class=temperature,entity_id=sensor.x,unit=°C value=20,value_raw=68,unit_raw="°F",attr_value_raw=1,attr_unit_raw_str="x" ${NS}\n`,
    ],
  ])('%s', (_name, state, attributes, line) => {
    expect(encode(state, attributes)).toBe(line);
  });
});

describe('INFLUX_FLAVOR', () => {
  const state = { entity_id: 'sensor.x', state: 'two\nlines', attributes: { 'a\\b': 'C:\\temp', unit_of_measurement: 'u\\' }, last_updated: TS };

  it('influxdb: a raw line feed in the string, backslashes in names literal, a last one becomes /', () => {
    expect(createTypedEncoder().encodeState(state)).toBe(`sensor,entity_id=sensor.x,unit=u/ state="two\nlines",a\\b_str="C:\\\\temp" ${NS}\n`);
  });

  it('victoriametrics: the line feed as the two characters \\n, every backslash of a name doubled', () => {
    expect(createTypedEncoder({ flavor: 'victoriametrics' }).encodeState(state)).toBe(
      `sensor,entity_id=sensor.x,unit=u\\\\ state="two\\\\nlines",a\\\\b_str="C:\\\\temp" ${NS}\n`,
    );
  });
});
