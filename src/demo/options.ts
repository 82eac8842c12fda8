/**
 * The demo's settings, read from the environment and validated before anything starts: one
 * message per problem. DATA_DIR and HTTP_PORT mean what they mean for the ingestor, with the
 * demo's own defaults (its folder data/demo; a free port).
 */
export interface DemoOptions {
  /** State changes the simulator emits after its snapshot. */
  readonly events: number;
  /** Events per second. */
  readonly rate: number;
  /** The demo's folder: the ingestor's DATA_DIR, emptied at the start of every run. */
  readonly dataDir: string;
  /** true when dataDir is the documented default (always the demo's own). */
  readonly defaultDataDir: boolean;
  /** The ingestor's /health and /metrics port; null = pick a free one. */
  readonly httpPort: number | null;
  /** false when INFLUX_URL is set: points go to that database and are not counted. */
  readonly toFiles: boolean;
}

export const DEFAULT_DATA_DIR = 'data/demo';

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) problems.push(`${name}=${text}: expected an integer from ${min} to ${max}`);
  return n;
}

/** The options, or every problem with them. */
export function demoOptions(env: NodeJS.ProcessEnv): DemoOptions | { problems: string[] } {
  const problems: string[] = [];
  const events = whole(env, 'DEMO_EVENTS', 20_000, 1, 10_000_000, problems);
  const rate = whole(env, 'DEMO_RATE', 2_000, 1, 1_000_000, problems);
  // 0 (no HTTP server) is no use to the demo, which reads /metrics: it picks a port then too.
  const port = whole(env, 'HTTP_PORT', 0, 0, 65_535, problems);
  if (problems.length > 0) return { problems };
  const dataDir = env.DATA_DIR || DEFAULT_DATA_DIR;
  return { events, rate, dataDir, defaultDataDir: dataDir === DEFAULT_DATA_DIR, httpPort: port === 0 ? null : port, toFiles: !env.INFLUX_URL };
}
