/**
 * The command line: arguments, the configuration, the exit code. Every path ends in a return of
 * an exit code (src/main.ts exits with it); nothing here runs on import. What only one command
 * or setting uses (--check, --replay-dead-letters, CONFIG_FILE's YAML parser) is imported when it
 * is used: every module loaded stays in memory for the whole run.
 *
 *   0 clean shutdown or a passed --check · 1 a failed check or a failed start · 2 invalid
 *   configuration or arguments · 3 Home Assistant rejected the token: from --check, or when the
 *   ingestor is stopped while HA_TOKEN stands rejected (a rejection itself does not end the
 *   process: an exit would let a supervisor's restart loop send the token again and again)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { startIngestor, type Ingestor } from './app.js';
import { describeVariables, importRange, type Config, type ImportRange } from './config.js';
import { configFrom } from './config-sources.js';
import { ConfigError, StartError } from './errors.js';
import { redactorFor, type Redact } from './redact.js';

export const EXIT = { ok: 0, failure: 1, config: 2, authRejected: 3 } as const;

const OPTIONS = {
  check: { type: 'boolean' },
  'replay-dead-letters': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  'import-history': { type: 'string' },
} as const;

const IMPORT_FLAG = '--import-history';

/**
 * `--import-history` takes an optional value, which parseArgs cannot express: given bare (last,
 * or before another option), it means `all`.
 */
function withImportDefault(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    out.push(arg);
    if (arg === IMPORT_FLAG && (i + 1 >= args.length || (args[i + 1] as string).startsWith('-'))) out.push('all');
  }
  return out;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function usage(): string {
  return `ha-influx-ingestor ${version()}: Home Assistant events → InfluxDB line protocol, nothing lost.

Usage: ha-influx-ingestor [--import-history [DURATION|all]] [--check | --replay-dead-letters | --help | --version]
  --import-history [DURATION|all]
             while running live, also import the states HA's recorder already holds (and its
             long-term statistics): from that far back (10d, 36h, …) or everything (all, the
             default). Resumes after a restart; a finished import is not done again (delete
             import-request.json, import-states.json and statistics-import.json in DATA_DIR
             to force it)
  --check    validate the configuration, try Home Assistant's token and the database's
             write permission, print a verdict, exit 0 when everything is ready (3 when HA
             rejects the token; the token is tried even if an earlier rejection was recorded)
  --replay-dead-letters
             send DEAD_LETTER_DIR/dead-letter.jsonl again (once the cause is fixed), with the
             original timestamps; lines refused again stay in the file; exit 1 if some could
             not be sent
Configuration comes from environment variables:

  VARIABLE             DEFAULT          MEANING
${describeVariables()}
`;
}

/** The parsed flags, or the message for a wrong argument. */
export function parseFlags(
  args: readonly string[],
): { check: boolean; replayDeadLetters: boolean; help: boolean; version: boolean; importHistory: ImportRange | null } | { error: string } {
  try {
    const { values } = parseArgs({ args: withImportDefault(args), options: OPTIONS, strict: true, allowPositionals: false });
    const text = values['import-history'];
    let importHistory: ImportRange | null = null;
    if (text !== undefined) {
      try {
        importHistory = importRange(text);
        if (importHistory === 0) throw new Error('empty');
      } catch {
        return { error: `${IMPORT_FLAG}: "${text}" is neither "all" nor a duration such as 10d, 36h or 90m` };
      }
    }
    return {
      check: values.check === true,
      replayDeadLetters: values['replay-dead-letters'] === true,
      help: values.help === true,
      version: values.version === true,
      importHistory,
    };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

async function configOrMessage(env: NodeJS.ProcessEnv): Promise<Config | string> {
  try {
    // In a Home Assistant add-on, its options too, beneath the environment and over CONFIG_FILE
    // (src/addon/environment.ts).
    if (env.SUPERVISOR_TOKEN) return await (await import('./addon/environment.js')).withAddonOptions(env, configFrom);
    return await configFrom(env);
  } catch (err) {
    if (err instanceof ConfigError) return `${err.message}\n\nRun with --help for every variable and its default.\n`;
    throw err;
  }
}

/** Runs the ingestor until a signal or a fatal error; resolves with the exit code. */
async function serve(config: Config, redact: Redact, importHistory: ImportRange | null): Promise<number> {
  // Every log line passes the redaction on its way out, whatever wrote it.
  const log: Logger = pino({ level: config.logLevel, base: undefined, hooks: { streamWrite: redact } });
  for (const notice of config.notices ?? []) log.info(notice);
  for (const warning of config.warnings ?? []) log.warn(warning);
  let ingestor: Ingestor;
  try {
    ingestor = await startIngestor(config, {
      log,
      redact,
      ...(importHistory === null ? {} : { importHistory }),
      // The bar on a terminal only; elsewhere (a container's log) progress is a log line every 10 s.
      progressBar: process.stderr.isTTY ? process.stderr : null,
    });
  } catch (err) {
    // A known cause is one line; anything else keeps its stack for the bug report.
    if (err instanceof StartError) log.fatal({ code: err.code }, `cannot start: ${err.message}`);
    else log.fatal({ err }, `cannot start: ${(err as Error).message}`);
    return err instanceof StartError ? err.exitCode : EXIT.failure;
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT.failure);
    }
    log.info({ signal }, 'shutting down');
    void ingestor.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const outcome = await ingestor.done;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return outcome === 'auth-rejected' ? EXIT.authRejected : EXIT.ok;
}

export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const flags = parseFlags(args);
  if ('error' in flags) {
    process.stderr.write(`${flags.error}\n\n${usage()}`);
    return EXIT.config;
  }
  if (flags.help) {
    process.stdout.write(usage());
    return EXIT.ok;
  }
  if (flags.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const config = await configOrMessage(env);
  if (typeof config === 'string') {
    process.stderr.write(config);
    return EXIT.config;
  }
  const redact = redactorFor(config);
  // DATA_DIR holds the home's data (spool, dead letters, state): files 0600, folders 0700.
  process.umask(0o077);
  if (flags.replayDeadLetters) return (await import('./writer/dead-letter-replay.js')).replayDeadLettersCommand(config, redact);
  if (flags.check) {
    const { formatChecks, runChecks } = await import('./check.js');
    const lines = await runChecks(config);
    process.stdout.write(redact(formatChecks(lines)));
    if (lines.some((l) => l.authRejected === true)) return EXIT.authRejected;
    return lines.every((l) => l.ok) ? EXIT.ok : EXIT.failure;
  }
  return serve(config, redact, flags.importHistory);
}
