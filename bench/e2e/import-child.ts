/**
 * The ingestor for the import bench: the built app (src/app.ts) with `--import-history all` and
 * the request sizes under test (bench/import.ts), configured from the environment like main.ts.
 * Arguments: windowHours entitiesPerRequest.
 */
import { pino } from 'pino';
import { startIngestor } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

const [windowHours, entitiesPerRequest] = process.argv.slice(2).map(Number) as [number, number];
const config = loadConfig(process.env);
const log = pino({ level: config.logLevel, base: undefined });
const ingestor = await startIngestor(config, {
  log,
  importHistory: 'all',
  importTuning: { windowMs: windowHours * 3_600_000, entitiesPerRequest },
});
process.on('SIGTERM', () => void ingestor.stop().then(() => process.exit(0)));
