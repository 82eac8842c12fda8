/**
 * Current outdoor weather for the enrichment context: OpenWeatherMap's current-weather API when
 * a key is set, polled every WEATHER_INTERVAL_S through a circuit breaker; otherwise, or while
 * the breaker is open, Home Assistant's own weather entity from the event stream.
 *
 * Breaker: closed → open after FAILURES_TO_OPEN consecutive failures (timeout, network error,
 * non-2xx, malformed answer); open → half-open after COOL_DOWN_MS; half-open → one probe:
 * success closes it, failure opens it again.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';

export interface Observation {
  readonly temperature: number | null;
  readonly humidity: number | null;
  readonly condition: string | null;
  /** When it was observed (ms since the epoch). */
  readonly observedAt: number;
  readonly source: 'openweathermap' | 'home_assistant';
}

export type BreakerState = 'closed' | 'open' | 'half_open';

export const FAILURES_TO_OPEN = 3;
export const COOL_DOWN_MS = 5 * 60_000;
export const TIMEOUT_MS = 10_000;

export interface WeatherOptions {
  readonly apiKey: string | undefined;
  readonly baseUrl: string;
  readonly intervalMs: number;
  readonly coolDownMs?: number;
  readonly timeoutMs?: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Told of every new observation (to write it as weather_observation). */
  readonly onObservation: (o: Observation) => void;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** OpenWeatherMap's answer → an observation; throws on a malformed one. */
export function parseOwm(body: unknown): Observation {
  const b = body as { main?: { temp?: unknown; humidity?: unknown }; weather?: { main?: unknown; description?: unknown }[]; dt?: unknown } | null;
  const temperature = num(b?.main?.temp);
  const dt = num(b?.dt);
  if (temperature === null || dt === null) throw new Error('answer without main.temp or dt');
  const condition = b?.weather?.[0]?.description ?? b?.weather?.[0]?.main;
  return {
    temperature,
    humidity: num(b?.main?.humidity),
    condition: typeof condition === 'string' ? condition : null,
    observedAt: dt * 1000,
    source: 'openweathermap',
  };
}

export class Weather {
  breaker: BreakerState = 'closed';
  failures = 0;
  private owm: Observation | null = null;
  private ha: Observation | null = null;
  private haEntity: string | undefined;
  private openedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private location: { lat: number; lon: number } | null = null;

  constructor(
    private readonly opts: WeatherOptions,
    haEntity?: string,
  ) {
    this.haEntity = haEntity;
    opts.metrics.weatherBreakerOpen.collect(() => (this.breaker === 'closed' ? 0 : this.breaker === 'open' ? 1 : 0.5));
  }

  /** What points carry now: OpenWeatherMap's while the breaker is closed, else HA's entity. */
  current(): Observation | null {
    if (this.opts.apiKey !== undefined && this.breaker === 'closed' && this.owm !== null) return this.owm;
    return this.ha ?? this.owm;
  }

  /** Where to ask for (WEATHER_LAT/LON, or HA's own location). Polling starts with start(). */
  setLocation(lat: number, lon: number): void {
    this.location = { lat, lon };
  }

  /** Polls OpenWeatherMap from now on, when there is a key and a location. */
  start(): void {
    if (this.opts.apiKey !== undefined && this.location !== null && this.timer === undefined) void this.poll();
  }

  /** A weather.* state from the stream: used when it is WEATHER_ENTITY, or the first one seen. */
  fromHa(entityId: string, state: string, temperature: number | null, humidity: number | null, observedAt: number): void {
    this.haEntity ??= entityId;
    if (entityId !== this.haEntity) return;
    this.ha = { temperature, humidity, condition: state, observedAt, source: 'home_assistant' };
    if (this.opts.apiKey === undefined || this.breaker !== 'closed') this.opts.onObservation(this.ha);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.location = null;
  }

  /** One poll (exported for tests); schedules the next. */
  async poll(): Promise<void> {
    clearTimeout(this.timer);
    const { log, metrics } = this.opts;
    if (this.location === null) return;
    const now = Date.now();
    if (this.breaker === 'open' && now - this.openedAt >= (this.opts.coolDownMs ?? COOL_DOWN_MS)) this.transition('half_open');
    if (this.breaker !== 'open') {
      try {
        const url = `${this.opts.baseUrl}/data/2.5/weather?${new URLSearchParams({ lat: String(this.location.lat), lon: String(this.location.lon), units: 'metric', appid: this.opts.apiKey ?? '' })}`;
        const { request } = await import('undici'); // only with WEATHER_API_KEY
        const res = await request(url, { headersTimeout: this.opts.timeoutMs ?? TIMEOUT_MS, bodyTimeout: this.opts.timeoutMs ?? TIMEOUT_MS });
        const text = await res.body.text();
        if (res.statusCode !== 200) throw new Error(`OpenWeatherMap answered ${res.statusCode}${res.statusCode === 401 ? ' (WEATHER_API_KEY rejected)' : ''}`);
        this.owm = parseOwm(JSON.parse(text));
        metrics.weatherRequests.inc(1, { result: 'ok' });
        this.failures = 0;
        if (this.breaker !== 'closed') this.transition('closed');
        this.opts.onObservation(this.owm);
      } catch (err) {
        this.failures++;
        metrics.weatherRequests.inc(1, { result: 'error' });
        log.warn(
          { error: { message: (err as Error).message.replace(this.opts.apiKey ?? '\u0000', '***') }, failures: this.failures },
          'weather request failed',
        );
        if (this.breaker === 'half_open' || this.failures >= FAILURES_TO_OPEN) this.transition('open');
      }
    }
    if (this.location !== null)
      this.timer = setTimeout(
        () => void this.poll(),
        this.breaker === 'open' ? Math.min(this.opts.intervalMs, this.opts.coolDownMs ?? COOL_DOWN_MS) : this.opts.intervalMs,
      );
  }

  private transition(to: BreakerState): void {
    if (to === 'open') this.openedAt = Date.now();
    this.opts.log.info({ from: this.breaker, to, failures: this.failures }, `weather circuit breaker ${to}`);
    this.opts.metrics.weatherBreakerTransitions.inc(1, { to });
    this.breaker = to;
  }
}
