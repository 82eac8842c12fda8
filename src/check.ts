/**
 * `--check`: is the configuration right, does Home Assistant take the token, may we write to the
 * database? One line per check, a verdict, and exit 0 only when all pass (3 when HA rejects the
 * token). Writes no points: the write permission is probed with an empty body, which the database
 * authorizes (401/403/404) before it looks at the content. The token is tried whatever
 * DATA_DIR's record of a rejected token says (a person asks): the record is updated — removed
 * when HA takes the token, so the next start connects (src/ha/rejected-token.ts).
 */
import type { Config } from './config.js';
import { HaAuthRejectedError } from './errors.js';
import { afterRejection, RejectedTokenFile } from './ha/rejected-token.js';
import { openAuthenticated } from './ha/socket.js';
import { influxWriteTarget } from './sinks/influx.js';
import { checkDatabase, probeWrite, writeAuthorized } from './sinks/startup-check.js';

export interface CheckLine {
  readonly ok: boolean;
  readonly what: string;
  readonly message: string;
  /** HA answered auth_invalid. */
  readonly authRejected?: true;
}

async function checkHa(config: Config): Promise<CheckLine> {
  const record = new RejectedTokenFile(config.dataDir);
  try {
    const { socket, haVersion } = await openAuthenticated(config.ha.url, config.ha.token);
    socket.close(1000);
    const cleared = await record.remove().then(
      () => '',
      (err: NodeJS.ErrnoException) => ` (cannot remove ${record.path}: ${err.code ?? err.message})`,
    );
    return { ok: true, what: 'Home Assistant', message: `${config.ha.url} accepts the token (Home Assistant ${haVersion})${cleared}` };
  } catch (err) {
    if (!(err instanceof HaAuthRejectedError)) return { ok: false, what: 'Home Assistant', message: (err as Error).message };
    // Recorded, so that a start with this token does not send it again.
    const previous = await record.load().catch(() => null);
    await record.save(afterRejection(previous, config.ha.token, err.haMessage, new Date())).catch(() => {});
    return { ok: false, what: 'Home Assistant', message: err.message, authRejected: true };
  }
}

async function checkWrite(config: Config): Promise<CheckLine> {
  if (config.influx === null) return { ok: true, what: 'sink', message: `writing gzip files to ${config.dataDir}/out` };
  const target = influxWriteTarget(config.influx);
  try {
    const { status, text } = await probeWrite(config.influx);
    const name = config.influx.api === 'v2' ? `bucket ${config.influx.bucket} (org ${config.influx.org})` : `database ${config.influx.db}`;
    if (writeAuthorized(status, text)) return { ok: true, what: 'database', message: `${target.description}: the credentials may write to ${name}` };
    if (status === 401 || status === 403) {
      return { ok: false, what: 'database', message: `${config.influx.url} refused the credentials (${status}): ${text}` };
    }
    if (status === 404) return { ok: false, what: 'database', message: `${name} not found at ${config.influx.url} (${status}): ${text}` };
    return { ok: false, what: 'database', message: `${config.influx.url} answered a test write with ${status}: ${text}` };
  } catch (err) {
    return { ok: false, what: 'database', message: `${config.influx.url} is unreachable: ${(err as Error).message}` };
  }
}

export async function runChecks(config: Config): Promise<CheckLine[]> {
  const lines = await Promise.all([checkHa(config), checkWrite(config)]);
  if (config.influx?.api === 'v2' && lines[1]?.ok) {
    const v = await checkDatabase(config.influx, config.schema.flavor);
    if (!v.ok) lines.push({ ok: false, what: 'database', message: v.message });
  }
  return lines;
}

export function formatChecks(lines: readonly CheckLine[]): string {
  const body = lines.map((l) => `${l.ok ? 'ok  ' : 'FAIL'} ${l.what}: ${l.message}`).join('\n');
  const failed = lines.filter((l) => !l.ok).length;
  return `${body}\n${failed === 0 ? 'verdict: ready' : `verdict: ${failed} check${failed > 1 ? 's' : ''} failed`}\n`;
}
