/**
 * Every error the ingestor raises on purpose: a stable `code` that logs and tests can match, and
 * whether trying the same thing again later can succeed.
 */
export class IngestorError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

/** One or more environment variables are missing or invalid. Exit code 2. */
export class ConfigError extends IngestorError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`, false);
    this.problems = problems;
  }
}

/** Home Assistant answered auth_invalid: the token is wrong or revoked (exit code 3 from --check, or at a stop while it stands). */
export class HaAuthRejectedError extends IngestorError {
  /** HA's own words (auth_invalid's `message`). */
  readonly haMessage: string;

  constructor(haMessage: string) {
    super('HA_AUTH_REJECTED', `Home Assistant rejected the access token (HA_TOKEN): ${haMessage}`, false);
    this.haMessage = haMessage;
  }
}

/** The HA connection failed or dropped; the connection reconnects on its own. */
export class HaConnectionError extends IngestorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HA_CONNECTION', message, true, options);
  }
}

/** Home Assistant answered a command with success:false. */
export class HaCommandError extends IngestorError {
  readonly haCode: string;

  constructor(command: string, haCode: string, haMessage: string) {
    super('HA_COMMAND_FAILED', `Home Assistant refused ${command}: ${haCode}: ${haMessage}`, false);
    this.haCode = haCode;
  }
}

/** A part of the ingestor could not be built at start-up (a port in use, a folder not writable). */
export class StartError extends IngestorError {
  /** 2 when a setting is to blame (a folder that cannot be used), 1 otherwise. */
  readonly exitCode: 1 | 2;

  constructor(code: string, message: string, options?: { cause?: unknown; exitCode?: 1 | 2 }) {
    super(code, message, false, options);
    this.exitCode = options?.exitCode ?? 1;
  }
}

/**
 * A command's answer will never come: the connection closed (or was dropped because the command
 * went unanswered too long). The connection reconnects on its own; the caller may ask again then.
 */
export class HaConnectionLostError extends IngestorError {
  constructor(command: string, why: string) {
    super('HA_CONNECTION_LOST', `no answer to ${command}: ${why}`, true);
  }
}
