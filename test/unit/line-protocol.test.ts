/**
 * The escapers of both flavours, table by table. Every expectation of a name or a string was
 * checked against the real database (test/integration/exact-strings.test.ts writes them and reads
 * them back): InfluxDB 1.6.7 for `influxdb`, VictoriaMetrics for `victoriametrics`.
 */
import { describe, expect, it } from 'vitest';
import { ESCAPERS, escapeMeasurement, escapeStringValue, formatFloat, lineEnd, splitLines } from '../../workers/line-protocol.js';
import { fromLatin1Form, toLatin1Form } from '../../workers/latin1.js';

const influx = ESCAPERS.influxdb;
const vm = ESCAPERS.victoriametrics;

describe('influxdb: measurement', () => {
  it.each([
    ['sensor', 'sensor'],
    ['a,b', 'a\\,b'],
    ['a b', 'a\\ b'],
    ['a=b', 'a=b'], // = is not special in a measurement
    ['a"b', 'a"b'],
    ['trail ', 'trail\\ '],
    ['line\nfeed', 'line\\nfeed'], // no raw newline in a name: the two characters \n
    ['car\rriage', 'car\\rriage'],
    ['back\\slash', 'back\\slash'], // literal
    ['a\\\\b', 'a\\\\b'], // InfluxDB never reads \\ as one backslash
    ['ends\\', 'ends/'], // would escape the separator
    ['ends\\\\', 'ends\\/'],
    ['a\\ b', 'a/\\ b'], // versions disagree on a backslash before an escape (influxdata/influxdb#8587)
    ['a\\=b', 'a/=b'],
    ['a\\"b', 'a/"b'],
    ['über 温度', 'über\\ 温度'],
    ['tab\there', 'tab\there'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(influx.measurement(input)).toBe(expected);
    expect(escapeMeasurement(input)).toBe(expected);
  });
});

describe('influxdb: tag key and value', () => {
  it.each([
    ['entity_id', 'entity_id'],
    ['a,b', 'a\\,b'],
    ['a=b', 'a\\=b'],
    ['a b', 'a\\ b'],
    [',=  ', '\\,\\=\\ \\ '],
    ['quote"', 'quote"'],
    ['new\nline', 'new\\nline'],
    ['back\\,slash', 'back\\\\,slash'], // exact: InfluxDB reads \\, as backslash, comma
    ['Basement \\ cellar', 'Basement\\ \\\\ cellar'],
    ['a\\\\b', 'a\\\\b'],
    ['C:\\temp', 'C:\\temp'],
    ['ends\\', 'ends/'], // a last backslash would escape the separator
    ['ends\\\\', 'ends\\/'],
    ['\\', '/'],
    ['µg/m³', 'µg/m³'],
    ['🌡 temp', '🌡\\ temp'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(influx.tag(input)).toBe(expected);
  });
});

describe('influxdb: field key', () => {
  it.each([
    ['friendly_name', 'friendly_name'],
    ['a,b', 'a\\,b'],
    ['a=b c', 'a\\=b\\ c'],
    ['say "hi"', 'say\\ \\"hi\\"'], // InfluxDB unescapes \" in a field key
    ['a\\"b', 'a\\\\"b'],
    ['a\\b', 'a\\b'],
    ['a\\\\,b', 'a\\\\\\,b'], // an even run before an escape is exact
    ['a\\,b', 'a/\\,b'], // an odd run: field keys pair backslashes, so its last one becomes /
    ['a\\\\\\ b', 'a\\\\/\\ b'],
    ['ends\\', 'ends/'],
    ['ends\\\\', 'ends\\/'],
    ['new\nline', 'new\\nline'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(influx.fieldKey(input)).toBe(expected);
  });
});

describe('influxdb: string field value', () => {
  it.each([
    ['plain', 'plain'],
    ['say "hi"', 'say \\"hi\\"'],
    ['C:\\temp\\', 'C:\\\\temp\\\\'],
    ['\\"', '\\\\\\"'],
    ['a,b=c d', 'a,b=c d'], // nothing but quote and backslash is special inside quotes
    ['line\nbreak', 'line\nbreak'], // raw: InfluxDB reads it back as it was
    ['cr\r\n', 'cr\r\n'],
    ['tab\t', 'tab\t'],
    ['', ''],
    ['Ünïcödé ✓ 🚀', 'Ünïcödé ✓ 🚀'],
  ])('%j → %j', (input, expected) => {
    expect(influx.stringValue(input)).toBe(expected);
    expect(escapeStringValue(input)).toBe(expected);
  });
});

describe('victoriametrics: every backslash in a name is doubled (it reads \\\\ as one)', () => {
  it.each([
    // input, measurement, tag, field key
    ['plain', 'plain', 'plain', 'plain'],
    ['a,b c', 'a\\,b\\ c', 'a\\,b\\ c', 'a\\,b\\ c'],
    ['a=b', 'a=b', 'a\\=b', 'a\\=b'],
    ['a"b', 'a"b', 'a"b', 'a"b'], // it keeps \" as two characters: a quote stays raw
    ['a\\b', 'a\\\\b', 'a\\\\b', 'a\\\\b'],
    ['a\\,b', 'a\\\\\\,b', 'a\\\\\\,b', 'a\\\\\\,b'],
    ['ends\\', 'ends\\\\', 'ends\\\\', 'ends\\\\'],
    ['new\nline\r', 'new\\nline\\r', 'new\\nline\\r', 'new\\nline\\r'],
    ['', '', '', ''],
  ])('%j → %j / %j / %j', (input, m, t, f) => {
    expect(vm.measurement(input)).toBe(m);
    expect(vm.tag(input)).toBe(t);
    expect(vm.fieldKey(input)).toBe(f);
  });

  it.each([
    ['say "hi"', 'say \\"hi\\"'],
    ['C:\\temp\\', 'C:\\\\temp\\\\'],
    ['line\nbreak\r', 'line\\\\nbreak\\\\r'], // it splits lines at a raw line feed, even in quotes
  ])('string value %j → %j', (input, expected) => {
    expect(vm.stringValue(input)).toBe(expected);
  });
});

describe('the Latin-1 fast path gives the same bytes', () => {
  const samples = ['über 温度', 'a\\,b "c"\n', 'ends\\', '🌡 temp=1', 'µg/m³\r\n\t', 'Wohnzimmer "Sofa" \\ ✓'];
  for (const [flavor, esc] of Object.entries(ESCAPERS)) {
    it.each(samples)(`${flavor}: %j`, (s) => {
      for (const f of [esc.measurement, esc.tag, esc.fieldKey, esc.stringValue]) {
        const viaLatin1 = Buffer.from(f(toLatin1Form(s)), 'latin1');
        expect(viaLatin1).toEqual(Buffer.from(f(s), 'utf8'));
        expect(fromLatin1Form(f(toLatin1Form(s)))).toBe(f(s));
      }
    });
  }
});

describe('lineEnd / splitLines: a raw line feed inside a string value does not end a line', () => {
  const lines = [
    'sensor,entity_id=sensor.a value=1 1000\n',
    'sensor,entity_id=sensor.b state="two\nlines",note_str="a \\"q\\" \\\\" 2000\n',
    'sensor,entity_id=sensor.c state="x 3000\n",b=1 3000\n', // looks like a line end inside the quotes
    'm\\ x,k=a\\\\\\ b,q="v f="\n" 4000\n', // a quote in a tag value is literal; an escaped space
    'm,k\\=x=y\\,z f\\ k\\"=1,g="\n\r" 5000\n',
    'ha_event,event_type=call data_str="{\\"a\\":\\"\\\\n\\"}" 6000\n',
    'm s="ends with =" 7000\n', // a closing quote after `=`
    'm,k="x f=1 8000\n', // a quote after `=` in a tag value is literal
    'm s="C:\\\\",t="a=\nb" 9000\n', // a string ending in a backslash; a line feed after `=`
  ];

  it('finds each line end', () => {
    const body = Buffer.from(lines.join(''));
    let pos = 0;
    for (const line of lines) {
      const end = lineEnd(body, pos);
      expect(body.toString('utf8', pos, end + 1)).toBe(line);
      pos = end + 1;
    }
    expect(lineEnd(body, pos)).toBe(-1);
  });

  it('splitLines gives the lines without their newline; a last line without one is kept', () => {
    const body = Buffer.from(`${lines.join('')}tail f="open\n`);
    expect(splitLines(body)).toEqual([...lines.map((l) => l.slice(0, -1)), 'tail f="open\n']);
  });

  it('a line without its newline has no end', () => {
    expect(lineEnd(Buffer.from('m f=1 1'), 0)).toBe(-1);
  });
});

describe('formatFloat', () => {
  it.each([
    [1, '1'],
    [-0, '0'],
    [21.4, '21.4'],
    [-3.25, '-3.25'],
    [1e21, '1e+21'],
    [1.5e-7, '1.5e-7'],
    [12345678901234567000, '12345678901234567000'],
  ])('%d → %s', (input, expected) => {
    expect(formatFloat(input)).toBe(expected);
  });
});
