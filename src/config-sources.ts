/**
 * The configuration from its two sources: the environment, over CONFIG_FILE's values when it is
 * set (src/config-file/, imported only then: its YAML parser would stay in memory for the whole
 * run), validated in one place (loadConfig), over defaults a caller may put beneath both (the
 * add-on's database). Precedence and the filter merge are stated in the README (CONFIG_FILE); the
 * file's keys the environment replaced are named in one start-up warning (Config.warnings), and
 * a problem the file's api_version caused is named by the file's keys.
 */
import type { FileConfig } from './config-file/index.js';
import { type Config, loadConfig, type VariableName } from './config.js';
import { ConfigError } from './errors.js';
import { createRedactor } from './redact.js';

/** Defaults beneath the environment and the file, given what those set (the add-on's database). */
export type Beneath = (variables: Readonly<Record<string, string | undefined>>) => Record<string, string>;

/**
 * The configuration: the environment, over CONFIG_FILE's values when it is set (variable by
 * variable: a variable set and not empty in the environment wins), the file's filter lists added
 * to the environment's. Problems of both are listed together.
 */
export async function configFrom(env: NodeJS.ProcessEnv, beneath: Beneath = () => ({})): Promise<Config> {
  const path = env.CONFIG_FILE;
  if (path === undefined || path === '') return loadConfig({ ...beneath(env), ...env });
  // Imported here: the YAML parser serves this one read and would stay in memory for the whole run.
  const { mergeFilters, readConfigFile } = await import('./config-file/index.js');
  let file: Awaited<ReturnType<typeof readConfigFile>>;
  try {
    file = await readConfigFile(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError([...err.problems, ...envProblems(env)]);
  }
  const fromEnv = Object.entries(env).filter(([, v]) => v !== undefined && v !== '');
  const setInEnv = new Set(fromEnv.map(([k]) => k));
  const sources = Object.fromEntries(Object.entries(file.sources).filter(([name]) => !setInEnv.has(name)));
  let config: Config;
  try {
    const variables = { ...file.variables, ...Object.fromEntries(fromEnv) };
    config = loadConfig({ ...beneath(variables), ...variables }, sources);
  } catch (err) {
    // A !secret used where its value is shown (a host in a URL) is not shown either.
    const redact = createRedactor(file.hiddenInMessages);
    const inFileWords = fileWords(file, setInEnv);
    throw err instanceof ConfigError ? new ConfigError(err.problems.map((p) => redact(inFileWords(p)))) : err;
  }
  const overridden = overriddenKeys(file, Object.fromEntries(fromEnv), `CONFIG_FILE ${path}: `);
  return {
    ...config,
    schema: { ...config.schema, filters: mergeFilters(config.schema.filters ?? {}, file.filters) },
    notices: file.notices,
    ...(overridden.length === 0 ? {} : { warnings: [overriddenWarning(path, overridden)] }),
    fileSecrets: file.secrets,
  };
}

/**
 * The file's keys a variable of the environment replaced with another value (a compose file's
 * INFLUX_URL and INFLUX_API=v2 over a pasted v1 block), by their place in the file. HA's defaults
 * the file did not spell out are not the file's keys, except api_version: another API leaves the
 * block's database and credentials (or token, organization, bucket) unused, and they are listed.
 */
function overriddenKeys(file: FileConfig, env: Record<string, string | undefined>, prefix: string): string[] {
  const label = (name: string): string => (file.sources[name as VariableName] ?? '').replace(prefix, '');
  const differs = (name: string): boolean => env[name] !== undefined && env[name] !== file.variables[name as VariableName];
  const given = Object.keys(file.variables).filter((name) => name === 'INFLUX_API' || !file.defaulted.includes(name as VariableName));
  const out = given.filter(differs).map((name) => `${label(name)} (${name})`);
  if (!differs('INFLUX_API')) return out;
  const unused = API_KEYS[file.variables.INFLUX_API === 'v2' ? 'v2' : 'v1'].filter((name) => name in file.variables && env[name] === undefined);
  return [...out, ...unused.map((name) => `${label(name)} (${name}, not used with INFLUX_API=${env.INFLUX_API})`)];
}

/** The block's keys for the variables a combination check names. */
const FILE_KEYS: Readonly<Record<string, string>> = {
  INFLUX_TOKEN: 'token',
  INFLUX_ORG: 'organization',
  INFLUX_BUCKET: 'bucket',
  INFLUX_DB: 'database',
  INFLUX_USERNAME: 'username',
  INFLUX_PASSWORD: 'password',
};

/**
 * A combination problem (src/config.ts names variables) in the words of the file, when the file's
 * api_version made the rule and the environment set none of the names: `INFLUX_TOKEN: required
 * when INFLUX_API=v2, not set` → `CONFIG_FILE x.yaml: influxdb.token: required with api_version:
 * 2 (INFLUX_TOKEN), not set`.
 */
function fileWords(file: FileConfig, setInEnv: ReadonlySet<string>): (problem: string) => string {
  if (file.variables.INFLUX_API === undefined || setInEnv.has('INFLUX_API')) return (p) => p;
  const version = file.variables.INFLUX_API === 'v2' ? '2' : '1';
  return (problem) => {
    const m = /^((?:INFLUX_[A-Z]+)(?:, INFLUX_[A-Z]+)*): (required when INFLUX_API=v[12], not set|set both or neither)$/.exec(problem);
    const names = m?.[1]?.split(', ') ?? [];
    if (m === undefined || m === null || names.some((n) => FILE_KEYS[n] === undefined || setInEnv.has(n))) return problem;
    const keys = file.place(names.map((n) => FILE_KEYS[n]).join(', '));
    const rule = m[2]?.startsWith('required')
      ? `required with api_version: ${version} (${names.join(', ')}), not set`
      : `set both or neither (${names.join(', ')})`;
    return `${keys}: ${rule}`;
  };
}

/** The variables of the file that only one API uses. */
const API_KEYS = { v1: ['INFLUX_DB', 'INFLUX_USERNAME', 'INFLUX_PASSWORD'], v2: ['INFLUX_TOKEN', 'INFLUX_ORG', 'INFLUX_BUCKET'] } as const;

function overriddenWarning(path: string, keys: readonly string[]): string {
  return `CONFIG_FILE ${path}: not used, set to another value by the environment (or an add-on option), which wins over the file: ${keys.join('; ')}`;
}

/** With a file that cannot be used, the environment's own wrong values are still worth listing. */
function envProblems(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    // Only values that are wrong: what is missing may be what the file was to give.
    return err instanceof ConfigError ? err.problems.filter((p) => !/required|set both|not set/.test(p)) : [];
  }
}
