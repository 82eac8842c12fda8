/**
 * The configuration of a Home Assistant add-on. The Supervisor sets SUPERVISOR_TOKEN and writes
 * the user's options to /data/options.json (ADDON_OPTIONS_FILE elsewhere, for tests). Here the
 * options become variables (src/addon/options.ts) beneath the environment's: a variable that is
 * set wins over its option. HA_URL, HA_TOKEN, DATA_DIR and HTTP_HOST take their add-on defaults in
 * src/config.ts. With options saved, the InfluxDB add-on is the database unless a variable, an
 * option or CONFIG_FILE names one (src/addon/defaults.ts, beneath all three). A missing file is
 * an add-on started with no options saved yet: every default.
 * Problems, those of the file and those of the configuration it leads to, come in one ConfigError,
 * each named by the option the user can change (`options.json: influx_url: expected …`).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { VARIABLES } from '../config.js';
import type { Beneath } from '../config-sources.js';
import { ConfigError } from '../errors.js';
import { jsonSyntaxPlace } from '../json-syntax.js';
import { addonConnectionDefaults } from './defaults.js';
import { inOptionWords, optionsToVariables } from './options.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The file's options (null: no file), or why it cannot be used. */
async function readOptions(file: string): Promise<{ data: unknown } | { problem: string } | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? null : { problem: `cannot read ${file}: ${code ?? (err as Error).message}` };
  }
  try {
    return { data: JSON.parse(text) };
  } catch {
    return { problem: `not valid JSON (${jsonSyntaxPlace(text)})` };
  }
}

/** Runs `load` on the environment with the add-on's options beneath it; throws one ConfigError naming every problem. */
export async function withAddonOptions<T>(env: Env, load: (env: Env, beneath?: Beneath) => Promise<T>): Promise<T> {
  const file = env.ADDON_OPTIONS_FILE || VARIABLES.ADDON_OPTIONS_FILE.default();
  const source = basename(file);
  const given = (name: string): boolean => env[name] !== undefined && env[name] !== '';
  const read = await readOptions(file);
  const problems: string[] = [];
  const merged: Record<string, string | undefined> = { ...env };
  if (read !== null && 'problem' in read) problems.push(`${source}: ${read.problem}`);
  else if (read !== null) {
    const options = optionsToVariables(read.data);
    problems.push(...options.problems.map((p) => `${source}: ${p}`));
    for (const [name, value] of Object.entries(options.variables)) if (!given(name)) merged[name] = value;
  }
  let loaded: { value: T } | null = null;
  try {
    // With options saved, the InfluxDB add-on is the database unless something names another.
    loaded = { value: await load(merged, read === null ? undefined : addonConnectionDefaults) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems.map((p) => inOptionWords(p, source, (name) => !given(name))));
  }
  if (loaded === null || problems.length > 0) throw new ConfigError(problems);
  return loaded.value;
}
