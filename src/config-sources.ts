/**
 * The configuration from its two sources: the environment, over CONFIG_FILE's values when it is
 * set (src/config-file/, imported only then: its YAML parser would stay in memory for the whole
 * run), validated in one place (loadConfig). Precedence and the filter merge are stated in the
 * README (CONFIG_FILE).
 */
import { type Config, loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createRedactor } from './redact.js';

/**
 * The configuration: the environment, over CONFIG_FILE's values when it is set (variable by
 * variable: a variable set and not empty in the environment wins), the file's filter lists added
 * to the environment's. Problems of both are listed together.
 */
export async function configFrom(env: NodeJS.ProcessEnv): Promise<Config> {
  const path = env.CONFIG_FILE;
  if (path === undefined || path === '') return loadConfig(env);
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
    config = loadConfig({ ...file.variables, ...Object.fromEntries(fromEnv) }, sources);
  } catch (err) {
    // A !secret used where its value is shown (a host in a URL) is not shown either.
    const redact = createRedactor(file.hiddenInMessages);
    throw err instanceof ConfigError ? new ConfigError(err.problems.map(redact)) : err;
  }
  return {
    ...config,
    schema: { ...config.schema, filters: mergeFilters(config.schema.filters ?? {}, file.filters) },
    notices: file.notices,
    fileSecrets: file.secrets,
  };
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
