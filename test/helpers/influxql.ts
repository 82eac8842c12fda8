/** InfluxQL against InfluxDB 1.x over HTTP, for reading back what the ingestor wrote. */

export interface Series {
  name: string;
  columns: string[];
  values: unknown[][];
}

/** The series of one query; throws with the server's message on an error. */
export async function influxQuery(
  url: string,
  db: string,
  query: string,
  opts: { epoch?: 'ms' | 'ns'; auth?: { user: string; password: string } } = {},
): Promise<Series[]> {
  const params = new URLSearchParams({ db, q: query });
  if (opts.epoch) params.set('epoch', opts.epoch);
  if (opts.auth) {
    params.set('u', opts.auth.user);
    params.set('p', opts.auth.password);
  }
  const body = (await (await fetch(`${url}/query?${params}`)).json()) as { error?: string; results?: { error?: string; series?: Series[] }[] };
  const error = body.error ?? body.results?.[0]?.error;
  if (error) throw new Error(`${query}: ${error}`);
  return body.results?.[0]?.series ?? [];
}

/** Every row of every series as an object keyed by column. */
export function rowsOf(series: readonly Series[]): Record<string, unknown>[] {
  return series.flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))));
}
