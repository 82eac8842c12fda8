/** Ports for the demo's ingestor: a free one picked by the system, or a given one checked first. */
import { createServer } from 'node:net';
import { DemoError } from './errors.js';

/** Listens on `port` (0 = any) on 127.0.0.1 and lets go: the port that was free a moment ago. */
function probe(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const { port: got } = srv.address() as { port: number };
      srv.close(() => resolve(got));
    });
  });
}

/** `wanted` if it is free (a clear error at once if not), or a free port when null. */
export async function httpPortFor(wanted: number | null): Promise<number> {
  if (wanted === null) return probe(0);
  try {
    return await probe(wanted);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'EADDRINUSE' ? 'is in use by another program' : `cannot be used (${code})`;
    throw new DemoError('DEMO_PORT_IN_USE', `HTTP_PORT=${wanted} ${why}; leave HTTP_PORT unset and the demo picks a free port`, { cause: err });
  }
}
