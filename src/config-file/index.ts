/**
 * CONFIG_FILE: Home Assistant's `influxdb:` block as pasted from configuration.yaml (or a file of
 * filters only), read into variables and filters (ha-block.ts says which key goes where). The
 * caller merges: environment variables override the file's, variable by variable; the file's
 * filter lists are added to the environment's (mergeFilters).
 *
 * The I/O is here (the file, and secrets.yaml beside it when the block uses `!secret`, as HA
 * looks it up); parsing and checking are pure. Every problem is reported at once, in one
 * ConfigError. Loaded only when CONFIG_FILE is set (src/cli.ts).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { FilterConfig } from '../../workers/filters.js';
import { ConfigError } from '../errors.js';
import { type FileSettings, pickBlock, Problems, readBlock, SECRET_KEYS } from './ha-block.js';
import { str } from './values.js';
import { parseText, replaceSecrets, secretRefs } from './yaml.js';

export interface FileConfig extends FileSettings {
  /** The passwords and tokens taken from secrets.yaml, for the redactor. */
  readonly secrets: readonly string[];
  /** Every value taken from secrets.yaml, hidden in the start-up messages about the file. */
  readonly hiddenInMessages: readonly string[];
}

export type ReadText = (path: string) => Promise<string>;
const readText: ReadText = (path) => readFile(path, 'utf8');

/** CONFIG_FILE `path` read and checked; throws a ConfigError naming every problem. */
export async function readConfigFile(path: string, read: ReadText = readText): Promise<FileConfig> {
  let text: string;
  try {
    text = await read(path);
  } catch (err) {
    throw new ConfigError([`CONFIG_FILE: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return configFromText(text, path, read);
}

export async function configFromText(text: string, path: string, read: ReadText = readText): Promise<FileConfig> {
  const parsed = parseText(text, path);
  if ('problem' in parsed) throw new ConfigError([`CONFIG_FILE ${path}: ${parsed.problem}`]);
  const picked = pickBlock(parsed.data);
  const refs = secretRefs(picked.block, picked.path);
  const problems = new Problems(path, new Set(refs.map((r) => r.path.join('.'))));
  const secrets = refs.length === 0 ? {} : await secretsFor(path, refs, problems, read);
  const unresolved = new Set(refs.filter((r) => !(r.ref.name in secrets)).map((r) => `${problems.where(r.path)}: expected`));
  const settings = readBlock({ ...picked, block: replaceSecrets(picked.block, secrets) }, problems);
  // A secret that could not be looked up is reported once, not again as a missing value.
  const list = problems.list.filter((p) => ![...unresolved].some((prefix) => p.startsWith(prefix)));
  if (list.length > 0) throw new ConfigError(list);
  const caFile = settings.variables.INFLUX_TLS_CA_FILE;
  // A relative ssl_ca_cert is taken from the file's folder (HA's configuration folder).
  const variables = caFile === undefined ? settings.variables : { ...settings.variables, INFLUX_TLS_CA_FILE: resolve(dirname(path), caFile) };
  // Only a password or token is secret wherever it shows up; `!secret` elsewhere (a port, ssl,
  // a user name) is a place in secrets.yaml, not a secret: replaced everywhere, 8086 would turn
  // /health's numbers into 1[redacted]0. The start-up messages still hide every `!secret` value.
  const valuesOf = (list: typeof refs): string[] => list.map((r) => str(secrets[r.ref.name])).flatMap((v) => ('ok' in v ? [v.ok] : []));
  const secretOnes = refs.filter((r) => SECRET_KEYS.has(r.path[r.path.length - 1] ?? ''));
  return { ...settings, variables, secrets: valuesOf(secretOnes), hiddenInMessages: valuesOf(refs) };
}

/** secrets.yaml beside the file, as a mapping; a missing file or name is a problem naming both (never a value). */
async function secretsFor(path: string, refs: ReturnType<typeof secretRefs>, problems: Problems, read: ReadText): Promise<Record<string, unknown>> {
  const file = join(dirname(path), 'secrets.yaml');
  let text: string;
  try {
    text = await read(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    for (const r of refs)
      problems.add(r.path, `!secret ${r.ref.name}: cannot read ${file} (${code}); Home Assistant takes !secret values from secrets.yaml beside the file`);
    return {};
  }
  const parsed = parseText(text, file);
  const data = 'data' in parsed ? parsed.data : undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    problems.add([], `${file}: ${'problem' in parsed ? parsed.problem : 'expected a mapping of secret names to values'}`);
    return {};
  }
  for (const r of refs) if (!(r.ref.name in data)) problems.add(r.path, `!secret ${r.ref.name}: not found in ${file}`);
  return data as Record<string, unknown>;
}

/** The environment's filter lists and the file's, together (the file's per-entity settings win on the same key). */
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
