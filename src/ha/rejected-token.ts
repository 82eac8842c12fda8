/**
 * A token Home Assistant rejected is remembered, in this process and across restarts, so that no
 * supervisor (compose `restart:`, systemd `Restart=`, a shell loop) can turn a wrong HA_TOKEN
 * into a stream of failed logins.
 *
 * Why never again, rather than a slow retry: HA counts every `auth_invalid` as a failed login
 * (homeassistant/components/http/ban.py, `process_wrong_login`, called by websocket_api/auth.py).
 * Each raises the "Login attempt failed" notification; with `http: login_attempts_threshold` set,
 * it adds one to a per-IP counter kept in memory that never decays with time — only a successful
 * login from the same IP (`process_success_login`) or an HA restart clears it — and at the
 * threshold the IP is banned in ip_bans.yaml until someone lifts the ban: every client on the
 * host (the ingestor with a corrected token too) then gets 403. So any schedule of retries with a
 * rejected token only postpones the ban, and HA's answer to a token does not change by itself.
 *
 * Rules:
 * - The ingestor never sends a token HA rejected again on its own, in this run or a later one
 *   with the same DATA_DIR. A different HA_TOKEN is tried at once.
 * - `--check` (a person asking) tries the token whatever the record says, and updates it.
 * - A successful authentication removes the record.
 * - The file never holds the token: a SHA-256 of a random salt and the token.
 * - A record that cannot be read counts as none (at worst one more attempt, which rewrites it).
 *
 * Format: DATA_DIR/ha-auth-rejected.json, written atomically, mode 0600:
 *   {"version":1,"salt":"<32 hex>","tokenSha256":"<hex sha256(salt ‖ token)>",
 *    "firstRejectedAt":"<ISO>","lastRejectedAt":"<ISO>","rejections":<n ≥ 1>,"haMessage":"<≤ 200 chars>"}
 * `rejections` counts the attempts with this token HA rejected (they all count towards a ban).
 */
import { createHash, randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { RecordFile } from '../state/files.js';

export const REJECTED_TOKEN_FILE = 'ha-auth-rejected.json';
const MAX_HA_MESSAGE = 200;

export interface RejectedTokenRecord {
  readonly version: 1;
  readonly salt: string;
  readonly tokenSha256: string;
  readonly firstRejectedAt: string;
  readonly lastRejectedAt: string;
  readonly rejections: number;
  readonly haMessage: string;
}

export const fingerprint = (salt: string, token: string): string => createHash('sha256').update(salt).update(token).digest('hex');

/** Whether `record` was written for `token`. */
export const recordIsFor = (record: RejectedTokenRecord, token: string): boolean => record.tokenSha256 === fingerprint(record.salt, token);

/** The record after HA rejected `token` at `now`: the same token's count goes on, another token starts at 1. */
export function afterRejection(
  previous: RejectedTokenRecord | null,
  token: string,
  haMessage: string,
  now: Date,
  newSalt: () => string = () => randomBytes(16).toString('hex'),
): RejectedTokenRecord {
  const at = now.toISOString();
  const message = haMessage.slice(0, MAX_HA_MESSAGE);
  if (previous !== null && recordIsFor(previous, token)) return { ...previous, lastRejectedAt: at, rejections: previous.rejections + 1, haMessage: message };
  const salt = newSalt();
  return { version: 1, salt, tokenSha256: fingerprint(salt, token), firstRejectedAt: at, lastRejectedAt: at, rejections: 1, haMessage: message };
}

const HEX = /^[0-9a-f]+$/;
const isIso = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

/** The record in `text`; throws with what is wrong when it is not one. */
export function parseRecord(text: string): RejectedTokenRecord {
  const r = JSON.parse(text) as Partial<RejectedTokenRecord> | null;
  if (r === null || typeof r !== 'object' || r.version !== 1) throw new Error('not a version 1 record');
  if (typeof r.salt !== 'string' || !HEX.test(r.salt)) throw new Error('salt missing');
  if (typeof r.tokenSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.tokenSha256)) throw new Error('tokenSha256 missing');
  if (!isIso(r.firstRejectedAt) || !isIso(r.lastRejectedAt)) throw new Error('times missing');
  if (!Number.isInteger(r.rejections) || (r.rejections as number) < 1) throw new Error('rejections missing');
  return { ...(r as RejectedTokenRecord), haMessage: typeof r.haMessage === 'string' ? r.haMessage : '' };
}

/** The file in DATA_DIR. */
export class RejectedTokenFile extends RecordFile<RejectedTokenRecord> {
  constructor(dataDir: string) {
    super(dataDir, REJECTED_TOKEN_FILE, parseRecord, (record) => `${JSON.stringify(record)}\n`);
  }

  async remove(): Promise<void> {
    await unlink(this.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

export type AuthStatus = 'unknown' | 'accepted' | 'rejected';

/**
 * The token's standing with HA for one run: loaded before the connection starts (a token
 * rejected before is not sent), updated by the connection's verdicts, shown in /health and
 * `ha_ingestor_ha_auth_rejected`.
 */
export class TokenGuard {
  private record: RejectedTokenRecord | null = null;
  private statusValue: AuthStatus = 'unknown';

  constructor(
    private readonly file: RejectedTokenFile,
    private readonly token: string,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    metrics.haAuthRejected.set(0);
  }

  get status(): AuthStatus {
    return this.statusValue;
  }
  /** The record of this token's rejection, while it stands. */
  get rejection(): RejectedTokenRecord | null {
    return this.statusValue === 'rejected' ? this.record : null;
  }

  /** Reads the record. True when HA rejected this very token before: it must not be sent. */
  async load(): Promise<boolean> {
    try {
      this.record = await this.file.load();
    } catch (err) {
      this.log.warn({ file: this.file.path, err }, 'cannot read the record of a rejected HA_TOKEN; ignoring it');
      this.record = null;
    }
    if (this.record === null || !recordIsFor(this.record, this.token)) return false;
    this.setStatus('rejected');
    this.log.error(
      { rejectedAt: this.record.lastRejectedAt, rejections: this.record.rejections, file: this.file.path },
      `Home Assistant rejected this HA_TOKEN at ${this.record.lastRejectedAt}; it is not sent again (each try counts as a failed login in HA and can get this host's IP banned). ${FIX}`,
    );
    return true;
  }

  /** HA answered auth_invalid to our token. */
  async rejected(haMessage: string, now = new Date()): Promise<void> {
    const previous = this.record;
    this.record = afterRejection(previous, this.token, haMessage, now);
    this.setStatus('rejected');
    this.log.error(
      { rejections: this.record.rejections, haMessage: this.record.haMessage },
      `Home Assistant rejected the token (HA_TOKEN); not retrying it, in this run or after a restart. ${FIX}`,
    );
    await this.file.save(this.record).catch((err: Error) => this.log.error({ file: this.file.path, err }, 'cannot record the rejected HA_TOKEN'));
  }

  /** HA answered auth_ok: whatever was recorded is over. */
  async accepted(): Promise<void> {
    const had = this.record !== null;
    this.record = null;
    this.setStatus('accepted');
    if (had) await this.file.remove().catch((err: Error) => this.log.warn({ file: this.file.path, err }, 'cannot remove the record of a rejected HA_TOKEN'));
  }

  private setStatus(status: AuthStatus): void {
    this.statusValue = status;
    this.metrics.haAuthRejected.set(status === 'rejected' ? 1 : 0);
  }
}

/** What to do, in every message about a rejected token (never the token itself). */
export const FIX =
  'Set a valid long-lived access token in HA_TOKEN and restart the ingestor: a new token is tried at once. ' +
  'If this token is valid again (its user re-enabled), run the ingestor with --check once.';

/** /health's words for a rejected token. */
export function rejectionProblem(r: RejectedTokenRecord): string {
  return `Home Assistant rejected HA_TOKEN (${r.rejections} time${r.rejections === 1 ? '' : 's'}, last at ${r.lastRejectedAt}); it is not sent again. ${FIX}`;
}
