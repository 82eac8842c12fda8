/**
 * The one redaction function: every configured secret (HA token, the Supervisor's token, InfluxDB
 * token, password, URL credentials, CONFIG_FILE's `!secret` values) and the forms it takes on the
 * wire (`Token …`, `Bearer …`, `Basic base64(user:pw)`,
 * URL-encoded, JSON-escaped) is replaced by `[redacted]` in any text before it reaches a log
 * line, /health, /metrics or --check. Text from outside (a server echoing our request headers, an
 * error page) is the usual way a secret would get there; the hook on the log stream catches every
 * log line, whatever the call site.
 */
import type { Config } from './config.js';

export const REDACTED = '[redacted]';
/** Shorter values are too likely to occur by chance in ordinary text to be replaced everywhere. */
const MIN_SECRET_LENGTH = 4;

export type Redact = (text: string) => string;

/** Every spelling under which `secrets` could show up. */
function spellings(secrets: readonly string[], basic: readonly (readonly [string, string])[]): string[] {
  const out = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    out.add(s);
    out.add(encodeURIComponent(s));
    out.add(JSON.stringify(s).slice(1, -1));
    out.add(Buffer.from(s).toString('base64'));
  }
  for (const [user, password] of basic) {
    if (password.length >= MIN_SECRET_LENGTH) out.add(Buffer.from(`${user}:${password}`).toString('base64'));
  }
  // Longest first: a secret inside another's spelling is replaced as part of the longer one.
  return [...out].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

export function createRedactor(secrets: readonly string[], basic: readonly (readonly [string, string])[] = []): Redact {
  const all = spellings(secrets, basic);
  if (all.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const s of all) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  };
}

/** The redactor for a configuration's secrets. */
export function redactorFor(config: Config): Redact {
  // The Supervisor's token is a secret even when HA_TOKEN is another one (an add-on given its own).
  const secrets = [config.ha.token, ...(config.supervisorToken === undefined ? [] : [config.supervisorToken])];
  const basic: [string, string][] = [];
  const influx = config.influx;
  if (influx?.api === 'v2') secrets.push(influx.token);
  if (influx?.api === 'v1' && influx.password !== undefined) {
    secrets.push(influx.password);
    basic.push([influx.username ?? '', influx.password]);
  }
  if (config.enrich.weatherApiKey !== undefined) secrets.push(config.enrich.weatherApiKey);
  // Whatever CONFIG_FILE took from secrets.yaml (`!secret`), wherever it was used.
  secrets.push(...(config.fileSecrets ?? []));
  return createRedactor(secrets, basic);
}
