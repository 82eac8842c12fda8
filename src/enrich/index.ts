/**
 * Enrichment wiring for the typed schema: who is home, the weather outside, areas and devices.
 * Built once by the app; fed what the encoders observed (person, device tracker and weather states,
 * registry update events); hands back the context string every live event point carries and the
 * derived points (presence changes, weather observations) to write.
 */
import type { Logger } from 'pino';
import type { Observed } from '../../workers/encode-batch.js';
import { createSharedRegistry } from '../../workers/shared-registry.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import { contextFields, observationLine, presenceLine } from './context.js';
import { Presence } from './presence.js';
import { REGISTRY_EVENTS, Registries } from './registries.js';
import { Weather } from './weather.js';
import type { HaConnection } from '../ha/connection.js';

export interface EnrichmentOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Writes a derived point (not from HA's history: no watermark hold). */
  readonly writeDerived: (line: string) => void;
}

export class Enrichment {
  /** The shared area/device table the encoders read (workers/shared-registry.ts). */
  readonly registryTable = createSharedRegistry();
  readonly enabled: boolean;
  private readonly presence: Presence | null;
  private readonly weather: Weather | null;
  private registries: Registries | null = null;

  constructor(private readonly opts: EnrichmentOptions) {
    const { config, log, metrics } = opts;
    this.enabled = config.schema.schema === 'typed';
    this.presence = this.enabled && config.enrich.presence ? new Presence() : null;
    this.weather =
      this.enabled && config.enrich.weather
        ? new Weather(
            {
              apiKey: config.enrich.weatherApiKey,
              baseUrl: config.enrich.weatherUrl,
              intervalMs: config.enrich.weatherIntervalMs,
              log,
              metrics,
              onObservation: (o) => {
                const line = observationLine(o);
                if (line !== '') opts.writeDerived(line);
              },
            },
            config.enrich.weatherEntity,
          )
        : null;
  }

  /** Registry update events, observed whatever HA_EVENT_TYPES says (none when enrichment is off). */
  get observedEventTypes(): readonly string[] {
    return this.enabled ? REGISTRY_EVENTS : [];
  }

  /** Reads HA's registries over `connection` (now and on their update events). */
  attach(connection: HaConnection): void {
    if (this.enabled) this.registries = new Registries(connection, this.registryTable, this.opts.log);
  }

  /** Starts polling the weather when its location is configured. */
  start(): void {
    const location = this.opts.config.enrich.weatherLocation;
    if (this.weather !== null && location !== undefined) {
      this.weather.setLocation(location.lat, location.lon);
      this.weather.start();
    }
  }

  /** Before subscribing: area and device tags are part of a point's identity. */
  async beforeSubscribe(): Promise<void> {
    await this.registries?.refresh();
  }

  /** Subscribed: without WEATHER_LAT/LON, OpenWeatherMap is asked for HA's own location. */
  async subscribed(getConfig: () => Promise<unknown>): Promise<void> {
    const { config, log } = this.opts;
    if (this.weather === null || config.enrich.weatherApiKey === undefined || config.enrich.weatherLocation !== undefined) return;
    const r = (await getConfig().catch(() => null)) as { latitude?: unknown; longitude?: unknown } | null;
    if (typeof r?.latitude === 'number' && typeof r.longitude === 'number') {
      this.weather.setLocation(r.latitude, r.longitude);
      this.weather.start();
    } else {
      log.warn('HA did not tell its location; set WEATHER_LAT and WEATHER_LON for OpenWeatherMap');
    }
  }

  /** The fields appended to every live event point of a batch sealed now ('' when off). */
  context(nowMs: number): string {
    return this.enabled ? contextFields(this.weather?.current() ?? null, this.presence, nowMs) : '';
  }

  /** What the encoders saw of people, trackers, weather entities and registry events. */
  observe(observed: readonly Observed[]): void {
    for (const o of observed) {
      if (o.id.startsWith('event:')) this.registries?.changed();
      else if (o.id.startsWith('weather.')) this.fromWeatherEntity(o);
      else if (this.presence !== null && o.timeNs !== '') this.fromPresence(o);
    }
  }

  stop(): void {
    this.weather?.stop();
    this.registries?.stop();
  }

  private fromWeatherEntity(o: Observed): void {
    const at = o.timeNs === '' ? Date.now() : Number(o.timeNs.slice(0, -6));
    this.weather?.fromHa(o.id, o.state, o.temperature ?? null, o.humidity ?? null, at);
  }

  private fromPresence(o: Observed): void {
    const change = this.presence?.update(o.id, o.state, o.timeNs) ?? null;
    if (change === null) return;
    this.opts.metrics.presenceChanges.inc();
    this.opts.writeDerived(presenceLine(change.peopleHome, change.timeNs));
  }
}
