/**
 * A fault-injecting HTTP endpoint for writer tests: answers each write with the next scripted
 * reply and records what it received (decoded). Real databases are used everywhere else.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { splitLines } from '../../workers/line-protocol.js';

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Destroy the socket instead of answering. */
  hangUp?: boolean;
}

export interface Received {
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  lines: string[];
}

export class FakeInflux {
  readonly received: Received[] = [];
  private server: Server | null = null;

  /** Replies come from `script` in order, then from `respond` (given what was received), else 204. */
  constructor(
    private readonly script: Reply[] = [],
    private readonly respond: (r: Received) => Reply = () => ({ status: 204 }),
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const received = { at: Date.now(), path: req.url ?? '', headers: req.headers, lines: splitLines(body) };
        this.received.push(received);
        const reply = this.script.shift() ?? this.respond(received);
        if (reply.hangUp) {
          req.socket.destroy();
          return;
        }
        res.writeHead(reply.status, reply.headers ?? {}).end(reply.body ?? '');
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server?.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
