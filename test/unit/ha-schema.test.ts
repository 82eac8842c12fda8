/**
 * SCHEMA=ha against the rules of Home Assistant's own InfluxDB integration
 * (homeassistant/components/influxdb/__init__.py, event_to_json): one event → one line.
 */
import { describe, expect, it } from 'vitest';
import { createHaEncoder, DEFAULT_HA_SCHEMA, type HaSchemaOptions } from '../../workers/ha-schema.js';
import { pyFloat, pyFloatRepr, pyStr } from '../../workers/python-values.js';

/** The state's last_updated: every point of a state is stamped with it (issue 9, defect 11). */
const LU = '2024-05-01T12:34:56.123456+00:00';
const NS = '1714566896123456000';

function line(entityId: string, state: string, attributes: Record<string, unknown>, options: Partial<HaSchemaOptions> = {}): string | null {
  return createHaEncoder({ ...DEFAULT_HA_SCHEMA, ...options }).encodeState({ entity_id: entityId, state, attributes, last_updated: LU });
}

const temp = { unit_of_measurement: '°C', device_class: 'temperature', friendly_name: 'Temp' };

describe('SCHEMA=ha: one state change → the line HA would write', () => {
  it.each<[string, string, string, Record<string, unknown>, Partial<HaSchemaOptions>, string | null]>([
    // measurement
    [
      'unit as measurement, unit not a field',
      'sensor.temp',
      '21.4',
      temp,
      {},
      `°C,domain=sensor,entity_id=temp value=21.4,device_class_str="temperature",friendly_name_str="Temp" ${NS}\n`,
    ],
    ['no unit: the entity id', 'sensor.temp', '5', {}, {}, `sensor.temp,domain=sensor,entity_id=temp value=5 ${NS}\n`],
    ['no unit: default_measurement', 'sensor.temp', '5', {}, { defaultMeasurement: 'state' }, `state,domain=sensor,entity_id=temp value=5 ${NS}\n`],
    [
      'override_measurement wins, the unit is a field',
      'sensor.temp',
      '21.4',
      temp,
      { overrideMeasurement: 'ha' },
      `ha,domain=sensor,entity_id=temp value=21.4,unit_of_measurement_str="°C",device_class_str="temperature",friendly_name_str="Temp" ${NS}\n`,
    ],
    [
      'measurement_attr entity_id',
      'sensor.temp',
      '21.4',
      { unit_of_measurement: '°C' },
      { measurementAttr: 'entity_id' },
      `sensor.temp,domain=sensor,entity_id=temp value=21.4,unit_of_measurement_str="°C" ${NS}\n`,
    ],
    [
      'measurement_attr domain__device_class',
      'sensor.temp',
      '21.4',
      temp,
      { measurementAttr: 'domain__device_class' },
      `sensor__temperature,domain=sensor,entity_id=temp value=21.4,unit_of_measurement_str="°C",friendly_name_str="Temp" ${NS}\n`,
    ],
    [
      'domain__device_class without a class: the domain',
      'switch.k',
      'on',
      {},
      { measurementAttr: 'domain__device_class' },
      `switch,domain=switch,entity_id=k state="on",value=1 ${NS}\n`,
    ],
    [
      'measurement_attr any attribute (still a field too)',
      'sensor.temp',
      '21.4',
      temp,
      { measurementAttr: 'friendly_name' },
      `Temp,domain=sensor,entity_id=temp value=21.4,unit_of_measurement_str="°C",device_class_str="temperature",friendly_name_str="Temp" ${NS}\n`,
    ],
    ['measurement with a space is escaped', 'sensor.e', '1', { unit_of_measurement: 'kWh h' }, {}, `kWh\\ h,domain=sensor,entity_id=e value=1 ${NS}\n`],
    // state → value / state
    ['on', 'light.k', 'on', {}, {}, `light.k,domain=light,entity_id=k state="on",value=1 ${NS}\n`],
    ['off', 'light.k', 'off', {}, {}, `light.k,domain=light,entity_id=k state="off",value=0 ${NS}\n`],
    ['home', 'person.a', 'home', {}, {}, `person.a,domain=person,entity_id=a state="home",value=1 ${NS}\n`],
    ['not_home', 'person.a', 'not_home', {}, {}, `person.a,domain=person,entity_id=a state="not_home",value=0 ${NS}\n`],
    ['locked', 'lock.d', 'locked', {}, {}, `lock.d,domain=lock,entity_id=d state="locked",value=1 ${NS}\n`],
    ['unlocked', 'lock.d', 'unlocked', {}, {}, `lock.d,domain=lock,entity_id=d state="unlocked",value=0 ${NS}\n`],
    ['open', 'cover.g', 'open', {}, {}, `cover.g,domain=cover,entity_id=g state="open",value=1 ${NS}\n`],
    ['closed', 'cover.g', 'closed', {}, {}, `cover.g,domain=cover,entity_id=g state="closed",value=0 ${NS}\n`],
    ['above_horizon', 'sun.sun', 'above_horizon', {}, {}, `sun.sun,domain=sun,entity_id=sun state="above_horizon",value=1 ${NS}\n`],
    ['text state: state only', 'climate.l', 'heat', {}, {}, `climate.l,domain=climate,entity_id=l state="heat" ${NS}\n`],
    ['unknown is skipped', 'sensor.x', 'unknown', temp, {}, null],
    ['unavailable is skipped', 'sensor.x', 'unavailable', temp, {}, null],
    ['empty is skipped', 'sensor.x', '', temp, {}, null],
    // An empty string attribute: HA builds `<key>_str` = "" (float("") fails); with api_version 1
    // (its default) influxdb-python's make_lines drops a field whose value escapes to nothing,
    // with api_version 2 influxdb-client writes it quoted (issue 12, item 10).
    [
      'empty device_class, v1 (default): no field',
      'sensor.x',
      '5',
      { device_class: '', friendly_name: '' },
      {},
      `sensor.x,domain=sensor,entity_id=x value=5 ${NS}\n`,
    ],
    [
      'empty device_class, v2: an empty string field',
      'sensor.x',
      '5',
      { device_class: '', friendly_name: '' },
      { emptyStringFields: true },
      `sensor.x,domain=sensor,entity_id=x value=5,device_class_str="",friendly_name_str="" ${NS}\n`,
    ],
    [
      'empty device_class in tags_attributes: no tag',
      'sensor.x',
      '5',
      { device_class: '' },
      { tagsAttributes: ['device_class'] },
      `sensor.x,domain=sensor,entity_id=x value=5 ${NS}\n`,
    ],
    [
      'empty device_class with domain__device_class: `<domain>__` and no field',
      'sensor.x',
      '5',
      { device_class: '' },
      { measurementAttr: 'domain__device_class', emptyStringFields: true },
      `sensor__,domain=sensor,entity_id=x value=5 ${NS}\n`,
    ],
    ['state " 42 " is a float for Python', 'sensor.x', ' 42 ', {}, {}, `sensor.x,domain=sensor,entity_id=x value=42 ${NS}\n`],
    ['state "1_000" too', 'sensor.x', '1_000', {}, {}, `sensor.x,domain=sensor,entity_id=x value=1000 ${NS}\n`],
    ['state "1e3"', 'sensor.x', '1e3', {}, {}, `sensor.x,domain=sensor,entity_id=x value=1000 ${NS}\n`],
    [
      'state "nan": a non-finite value is not written',
      'sensor.x',
      'nan',
      { friendly_name: 'X' },
      {},
      `sensor.x,domain=sensor,entity_id=x friendly_name_str="X" ${NS}\n`,
    ],
    // attributes
    ['boolean → float', 'sensor.x', '1', { b: true, c: false }, {}, `sensor.x,domain=sensor,entity_id=x value=1,b=1,c=0 ${NS}\n`],
    ['None → "None"', 'sensor.x', '1', { n: null }, {}, `sensor.x,domain=sensor,entity_id=x value=1,n_str="None" ${NS}\n`],
    ['list → Python repr', 'sensor.x', '1', { l: [1, 'a', 2] }, {}, `sensor.x,domain=sensor,entity_id=x value=1,l_str="[1, 'a', 2]" ${NS}\n`],
    // HA's number-from-string rule applies to any str(): digits of a list with one dot become a float.
    [
      'list with one dot: HA extracts a number from its repr',
      'sensor.x',
      '1',
      { l: [1, 'a', 1.5, 1e-5] },
      {},
      `sensor.x,domain=sensor,entity_id=x value=1,l_str="[1, 'a', 1.5, 1e-05]",l=11.5105 ${NS}\n`,
    ],
    [
      'dict → Python repr',
      'sensor.x',
      '1',
      { d: { a: true, b: null, c: "it's" } },
      {},
      `sensor.x,domain=sensor,entity_id=x value=1,d_str="{'a': True, 'b': None, 'c': \\"it's\\"}" ${NS}\n`,
    ],
    ['string', 'sensor.x', '1', { s: 'abc' }, {}, `sensor.x,domain=sensor,entity_id=x value=1,s_str="abc" ${NS}\n`],
    ['number in a string: also a float', 'sensor.x', '1', { eta: '12 min' }, {}, `sensor.x,domain=sensor,entity_id=x value=1,eta_str="12 min",eta=12 ${NS}\n`],
    ['version-like string', 'sensor.x', '1', { v: 'v1.25' }, {}, `sensor.x,domain=sensor,entity_id=x value=1,v_str="v1.25",v=1.25 ${NS}\n`],
    ['one digit is not enough', 'sensor.x', '1', { v: 'v3' }, {}, `sensor.x,domain=sensor,entity_id=x value=1,v_str="v3" ${NS}\n`],
    ['two dots are too many', 'sensor.x', '1', { v: '1.2.3' }, {}, `sensor.x,domain=sensor,entity_id=x value=1,v_str="1.2.3" ${NS}\n`],
    ['numeric string → float', 'sensor.x', '1', { s: '3' }, {}, `sensor.x,domain=sensor,entity_id=x value=1,s=3 ${NS}\n`],
    ['"nan" attribute: dropped', 'sensor.x', '1', { s: 'nan' }, {}, `sensor.x,domain=sensor,entity_id=x value=1 ${NS}\n`],
    ['"inf" attribute: dropped', 'sensor.x', '1', { s: '-inf' }, {}, `sensor.x,domain=sensor,entity_id=x value=1 ${NS}\n`],
    ['key colliding with value gets _', 'sensor.x', '1', { value: 2 }, {}, `sensor.x,domain=sensor,entity_id=x value=1,value_=2 ${NS}\n`],
    ['key colliding with state gets _', 'climate.x', 'heat', { state: 'x' }, {}, `climate.x,domain=climate,entity_id=x state="heat",state__str="x" ${NS}\n`],
    [
      'key colliding with an earlier _str',
      'sensor.x',
      '1',
      { a: 'x', a_str: 'y' },
      {},
      `sensor.x,domain=sensor,entity_id=x value=1,a_str="x",a_str__str="y" ${NS}\n`,
    ],
    [
      'quotes and a newline in a string',
      'sensor.x',
      '1',
      { s: 'say "hi"\nok' },
      {},
      `sensor.x,domain=sensor,entity_id=x value=1,s_str="say \\"hi\\"\nok" ${NS}\n`,
    ],
    ['a big number', 'sensor.x', '1', { big: 1e16 }, {}, `sensor.x,domain=sensor,entity_id=x value=1,big=10000000000000000 ${NS}\n`],
    // options
    [
      'ignore_attributes',
      'sensor.temp',
      '21.4',
      temp,
      { ignoreAttributes: ['friendly_name', 'device_class'] },
      `°C,domain=sensor,entity_id=temp value=21.4 ${NS}\n`,
    ],
    [
      'tags_attributes become tags (sorted)',
      'sensor.temp',
      '21.4',
      temp,
      { tagsAttributes: ['friendly_name'] },
      `°C,domain=sensor,entity_id=temp,friendly_name=Temp value=21.4,device_class_str="temperature" ${NS}\n`,
    ],
    [
      'tags_attributes of another type: str()',
      'sensor.temp',
      '21.4',
      { floor: 2, on: true },
      { tagsAttributes: ['floor', 'on'] },
      `sensor.temp,domain=sensor,entity_id=temp,floor=2,on=True value=21.4 ${NS}\n`,
    ],
    [
      // influxdb-python's _escape_tag makes None '' and make_line drops it; influxdb-client's _append_tags skips None.
      'tags_attributes: an attribute that is None is no tag',
      'sensor.temp',
      '21.4',
      { room: null, floor: 2 },
      { tagsAttributes: ['room', 'floor'] },
      `sensor.temp,domain=sensor,entity_id=temp,floor=2 value=21.4 ${NS}\n`,
    ],
    [
      'static tags',
      'sensor.temp',
      '5',
      {},
      { tags: { source: 'hass', instance: 'home a' } },
      `sensor.temp,domain=sensor,entity_id=temp,instance=home\\ a,source=hass value=5 ${NS}\n`,
    ],
  ])('%s', (_name, entityId, state, attributes, options, expected) => {
    expect(line(entityId, state, attributes, options)).toBe(expected);
  });

  it('stamps a state with its last_updated (live, snapshot), and history rows with their time', () => {
    expect(line('sensor.x', '1', {})).toBe(`sensor.x,domain=sensor,entity_id=x value=1 ${NS}\n`);
    const enc = createHaEncoder();
    expect(enc.encodeState({ entity_id: 'sensor.x', state: '1', attributes: {}, last_updated: LU }, '1714566800000001000')).toBe(
      'sensor.x,domain=sensor,entity_id=x value=1 1714566800000001000\n',
    );
  });
});

describe('datetime attributes (issue 12 item 6): the ISO text is kept as it arrived', () => {
  // HA's integration writes str(datetime) ("2017-01-01 00:00:00+00:00") for a datetime object and
  // the text itself for a string; over the WebSocket both arrive as the same ISO string, and
  // common entities have both (automation last_triggered is a datetime, sun.sun's next_dawn an ISO
  // string). The ingestor keeps the text (docs/schema.md, known differences). The float field HA
  // derives from the digits is the same for either spelling.
  it.each([
    ['2017-01-01T00:00:00+00:00', '2017-01-01 00:00:00+00:00', '201701010000000000'],
    ['2024-05-01T12:34:56.123456+00:00', '2024-05-01 12:34:56.123456+00:00', '20240501123456.1234560000'],
  ])('%s → _str unchanged, float as from %s', (iso, pythonStr, digits) => {
    const written = line('automation.a', 'on', { last_triggered: iso });
    expect(written).toBe(`automation.a,domain=automation,entity_id=a state="on",value=1,last_triggered_str="${iso}",last_triggered=${Number(digits)} ${NS}\n`);
    const asHa = line('automation.a', 'on', { last_triggered: pythonStr });
    expect(asHa).toBe(written?.replace(iso, pythonStr));
  });
});

describe("Python's float() and str()", () => {
  it.each([
    ['1.5', 1.5],
    [' 2 ', 2],
    ['1_000', 1000],
    ['.5', 0.5],
    ['5.', 5],
    ['1e-3', 0.001],
    ['-Infinity', -Infinity],
    ['INF', Infinity],
    ['abc', null],
    ['1__0', null],
    ['', null],
    ['0x10', null],
  ] as [string, number | null][])('float(%j) → %s', (text, n) => {
    expect(pyFloat(text)).toBe(n);
  });
  it('float(nan) is NaN', () => expect(pyFloat('NaN')).toBeNaN());
  it.each([
    [0.1, '0.1'],
    [1e-5, '1e-05'],
    [123.456, '123.456'],
    [1.5e16, '1.5e+16'],
    [-0.001, '-0.001'],
    [2.5e-7, '2.5e-07'],
    [7, '7'],
  ] as [number, string][])('repr(%d) → %s', (n, text) => {
    expect(pyFloatRepr(n)).toBe(text);
  });
  it.each([
    [null, 'None'],
    [true, 'True'],
    [[], '[]'],
    [{}, '{}'],
    [{ b: 1, a: { d: 2, c: 3 }, '10': 4, '9': 5 }, "{'10': 4, '9': 5, 'a': {'c': 3, 'd': 2}, 'b': 1}"],
    [['a\\b', 'tab\t'], "['a\\\\b', 'tab\\t']"],
    [{ 'k"': ['x\'y"z'] }, `{'k"': ['x\\'y"z']}`],
    ['plain', 'plain'],
  ] as [unknown, string][])('str(%j) → %s', (value, text) => {
    expect(pyStr(value)).toBe(text);
  });
});
