/**
 * GET /health (200 healthy, 503 not, JSON either way) and GET /metrics (Prometheus text).
 */
import { createServer, type Server } from 'node:http';
import { StartError } from '../errors.js';

export interface HealthReport {
  readonly healthy: boolean;
  readonly body: Record<string, unknown>;
}

export interface HttpSources {
  health(): HealthReport;
  metrics(): string;
  /** Every body passes it: text from outside (a server's error) may carry a secret. */
  redact(text: string): string;
}

export function startHttpServer(port: number, host: string, sources: HttpSources): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/health') {
      const report = sources.health();
      res.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(sources.redact(JSON.stringify({ status: report.healthy ? 'ok' : 'unhealthy', ...report.body })));
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(sources.redact(sources.metrics()));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /health or /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use by another program' : err.code === 'EACCES' ? 'not allowed to listen there' : err.message;
      reject(
        new StartError(
          'HTTP_LISTEN_FAILED',
          `HTTP_PORT ${port} (HTTP_HOST ${host}): cannot listen for /health and /metrics (${err.code ?? 'error'}: ${why}); choose a free port, or 0 for none`,
          { cause: err },
        ),
      );
    });
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      resolve(server);
    });
  });
}
