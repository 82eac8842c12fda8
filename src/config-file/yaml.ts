/**
 * CONFIG_FILE's text → data, as Home Assistant reads configuration.yaml: PyYAML's YAML 1.1
 * (pyyaml-scalars.ts: its booleans, ints and floats, duplicate keys with the last one kept, `<<`
 * merge keys), `!secret name` looked up in secrets.yaml beside the file
 * (homeassistant/util/yaml/loader.py, `secret_yaml`). HA's other tags (`!include`, `!env_var`,
 * …) read other files or the environment of HA's own process: refused here with a message that
 * says so. A `.json` file is JSON. Parsing is pure; `resolveSecrets` is given the text of
 * secrets.yaml (or null when there is none) by the caller, who reads it.
 */
import { parseDocument, type ScalarTag } from 'yaml';
import { jsonSyntaxPlace } from '../json-syntax.js';
import { pyyamlTags } from './pyyaml-scalars.js';

/** `!secret name` in the file, until resolved. */
export class SecretRef {
  constructor(readonly name: string) {}
}

/** One of HA's tags that cannot work outside HA. */
export class UnsupportedTag {
  constructor(readonly tag: string) {}
}

const HA_TAGS = ['!include', '!include_dir_list', '!include_dir_named', '!include_dir_merge_list', '!include_dir_merge_named', '!env_var', '!input'];

const TAGS: ScalarTag[] = [
  { tag: '!secret', resolve: (name: string) => new SecretRef(name) } as ScalarTag,
  ...HA_TAGS.map((tag) => ({ tag, resolve: () => new UnsupportedTag(tag) }) as ScalarTag),
];

/** The data, or the one problem that keeps the text from being read. */
export function parseText(text: string, fileName: string): { data: unknown } | { problem: string } {
  if (fileName.endsWith('.json')) {
    try {
      return { data: JSON.parse(text) };
    } catch {
      return { problem: `cannot be read as JSON (${jsonSyntaxPlace(text)})` };
    }
  }
  const doc = parseDocument(text, { version: '1.1', merge: true, uniqueKeys: false, customTags: (tags) => [...pyyamlTags(tags), ...TAGS] });
  const error = doc.errors[0];
  if (error !== undefined) return { problem: `cannot be read as YAML: ${error.message.split('\n')[0]}` };
  const unknownTag = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (unknownTag !== undefined) return { problem: `cannot be read as YAML: ${unknownTag.message.split('\n')[0]?.replace(/:$/, '')}` };
  return { data: doc.toJS() };
}

/** A list or a mapping, to walk into (not a SecretRef, a tag's marker or a PyFloat). */
const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** Every `!secret` in `data`, with its place (`influxdb.password`). */
export function secretRefs(data: unknown, at: string[] = [], out: { path: string[]; ref: SecretRef }[] = []): { path: string[]; ref: SecretRef }[] {
  if (data instanceof SecretRef) out.push({ path: at, ref: data });
  else if (Array.isArray(data)) {
    for (const [i, v] of data.entries()) secretRefs(v, [...at, String(i)], out);
  } else if (isPlain(data)) {
    for (const [k, v] of Object.entries(data)) secretRefs(v, [...at, k], out);
  }
  return out;
}

/** `data` with each SecretRef replaced by its value (secrets: secrets.yaml's mapping). */
export function replaceSecrets(data: unknown, secrets: Readonly<Record<string, unknown>>): unknown {
  if (data instanceof SecretRef) return secrets[data.name];
  if (Array.isArray(data)) return data.map((v) => replaceSecrets(v, secrets));
  if (isPlain(data)) {
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, replaceSecrets(v, secrets)]));
  }
  return data;
}
