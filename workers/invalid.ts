/**
 * What makes one state or event invalid, and the bounds every encoder keeps. The rules:
 *
 * - An invalid state or event is refused alone (InvalidStateError, counted as one invalid event
 *   with its reason); the rest of its batch is written. Nothing here may fail a whole batch.
 * - MAX_NESTING: an attribute (or event data) value nested deeper than 64 levels of arrays and
 *   objects is refused, not truncated: a cut-off JSON text would be a value HA never had. Real HA
 *   attributes nest a few levels; 64 keeps the encoders' recursion far from any stack limit.
 * - Strings: fields are cut at STRING_FIELD_MAX (typed-schema.ts), which keeps a line bounded.
 */
export const MAX_NESTING = 64;

export class InvalidStateError extends Error {
  readonly code: string = 'STATE_INVALID';
}

/** A value nested deeper than MAX_NESTING. */
export class NestingTooDeepError extends InvalidStateError {
  override readonly code = 'STATE_NESTING_TOO_DEEP';

  constructor(what: string) {
    super(`${what} nests deeper than ${MAX_NESTING} levels (refused)`);
  }
}

/** Whether `value` nests deeper than `limit` levels of arrays and objects (iterative: any depth is safe). */
export function nestsDeeperThan(value: unknown, limit = MAX_NESTING): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
