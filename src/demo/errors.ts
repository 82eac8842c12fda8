import { IngestorError } from '../errors.js';

/** Why a demo run stopped before its verdict; the demo prints the message and exits non-zero. */
export class DemoError extends IngestorError {
  /** The process's exit code: 1, or 128 + the signal's number when interrupted. */
  readonly exitCode: number;

  constructor(code: string, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(code, message, false, options);
    this.exitCode = options?.exitCode ?? 1;
  }
}
