/**
 * What start-up built, undone in reverse: each part registers its disposer as soon as it exists.
 * A failed start disposes what was built so far; a shutdown disposes everything. A disposer that
 * fails is logged and the next one still runs.
 */
import type { Logger } from 'pino';

export class Lifecycle {
  private readonly disposers: { readonly name: string; readonly dispose: () => unknown }[] = [];

  constructor(private readonly log: Logger) {}

  /** Registers the way to undo `name`; returns `part` for chaining. */
  add<T>(name: string, part: T, dispose: (part: T) => unknown): T {
    this.disposers.push({ name, dispose: () => dispose(part) });
    return part;
  }

  /** Runs every disposer, newest first, once. */
  async disposeAll(): Promise<void> {
    for (const { name, dispose } of this.disposers.splice(0).reverse()) {
      try {
        await dispose();
      } catch (err) {
        this.log.error({ err, part: name }, `stopping ${name} failed`);
      }
    }
  }
}
