/**
 * A stand-in for OpenWeatherMap's current-weather API (it cannot be reached from here): answers
 * /data/2.5/weather with the scripted reply, and records each request.
 */
import { createServer, type Server } from 'node:http';

export type OwmReply = { status: number; body: string } | { hang: true };

export const owmBody = (temp: number, humidity: number, description: string, dt: number): string =>
  JSON.stringify({
    coord: { lon: 13.4, lat: 52.5 },
    weather: [{ id: 803, main: 'Clouds', description, icon: '04d' }],
    main: { temp, feels_like: temp - 1, pressure: 1015, humidity },
    dt,
    name: 'Berlin',
    cod: 200,
  });

export class FakeOwm {
  readonly requests: URL[] = [];
  private server: Server | null = null;

  constructor(public reply: () => OwmReply) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://owm');
      this.requests.push(url);
      const r = this.reply();
      if ('hang' in r) return; // never answers: a timeout
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server?.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
