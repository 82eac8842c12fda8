/**
 * Plain scalars read as Home Assistant reads configuration.yaml: PyYAML's SafeLoader, YAML 1.1
 * (homeassistant/util/yaml/loader.py, home-assistant/core 01f9511577e678246b03b165980d04808fba93bc:
 * `yaml.SafeLoader`/`CSafeLoader`; duplicate keys only warned about in `_ordered_dict`, the last
 * one kept; `<<` merge keys by `flatten_mapping`). The implicit resolvers are PyYAML's own
 * (yaml/pyyaml lib/yaml/resolver.py, 01302154758c0eace8a602ab6cb0a48383cf5c74), which differ
 * from the `yaml` package's YAML 1.1 schema: `y`/`n` are text, `1e3` is text (a float needs a
 * dot), `1_000`, `0o`-less octal `0123` (83), `0x1F`, `1:30` (90) are ints, of any size.
 *
 * What HA would str() (cv.string: a tag value, a database name) must come out as Python's
 * str() of what PyYAML made: a float keeps being a float (`1.0` → "1.0", not "1": PyFloat), an
 * int keeps every digit (bigint when past 2^53). A timestamp stays its text (PyYAML makes a
 * date, whose str() is the same text when written as YYYY-MM-DD).
 */
import type { ScalarTag } from 'yaml';
import { pyFloatRepr } from '../../workers/python-values.js';

/** A YAML float, kept apart from ints as Python keeps it. */
export class PyFloat {
  constructor(readonly value: number) {}

  /** Python's str(float): `1.0`, `-0.0`, `1e+16`, `inf`, `nan`. */
  toString(): string {
    const n = this.value;
    if (Object.is(n, -0)) return '-0.0';
    return Number.isInteger(n) && Math.abs(n) < 1e16 ? `${n}.0` : pyFloatRepr(n);
  }
}

const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;

/** PyYAML's construct_yaml_int: a number, or a bigint past 2^53. */
function pyInt(text: string): number | bigint {
  const clean = text.replace(/_/g, '');
  const negative = clean.startsWith('-');
  const digits = clean.replace(/^[-+]/, '');
  let n: bigint;
  if (digits.includes(':')) n = digits.split(':').reduce((acc, part) => acc * 60n + BigInt(part), 0n);
  else if (digits.startsWith('0b')) n = BigInt(digits);
  else if (digits.startsWith('0x')) n = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) n = BigInt(`0o${digits.slice(1)}`);
  else n = BigInt(digits);
  if (negative) n = -n;
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** PyYAML's construct_yaml_float. */
function pyFloat(text: string): PyFloat {
  const clean = text.replace(/_/g, '').toLowerCase();
  const sign = clean.startsWith('-') ? -1 : 1;
  const body = clean.replace(/^[-+]/, '');
  if (body === '.inf') return new PyFloat(sign * Number.POSITIVE_INFINITY);
  if (body === '.nan') return new PyFloat(Number.NaN);
  if (!body.includes(':')) return new PyFloat(sign * Number(body));
  const parts = body.split(':');
  const last = Number(parts.pop());
  return new PyFloat(sign * parts.reduce((acc, part) => acc * 60 + Number(part), 0) * 60 + sign * last);
}

const IMPLICIT: ScalarTag[] = [
  { tag: 'tag:yaml.org,2002:bool', default: true, test: BOOL, resolve: (s: string) => /^(?:yes|true|on)$/i.test(s) },
  { tag: 'tag:yaml.org,2002:float', default: true, test: FLOAT, resolve: pyFloat },
  { tag: 'tag:yaml.org,2002:int', default: true, test: INT, resolve: pyInt },
] as ScalarTag[];

/** The `yaml` package's YAML 1.1 tags with bool, int, float and timestamp as PyYAML resolves them. */
export function pyyamlTags<T>(tags: readonly T[]): (T | ScalarTag)[] {
  const replaced = new Set(['tag:yaml.org,2002:bool', 'tag:yaml.org,2002:int', 'tag:yaml.org,2002:float', 'tag:yaml.org,2002:timestamp']);
  const tagOf = (t: T): string | undefined => (typeof t === 'object' && t !== null && 'tag' in t ? String(t.tag) : undefined);
  return [...tags.filter((t) => !replaced.has(tagOf(t) ?? '')), ...IMPLICIT];
}
