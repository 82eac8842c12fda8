/**
 * The add-on's database when neither an option, a variable nor config_file names one: the
 * InfluxDB add-on (host name a0d7b954-influxdb, InfluxDB 1.x on 8086), database homeassistant.
 * These were the manifest's defaults; the Supervisor writes an option with a default into
 * options.json whether the user touched it or not, so there they won over a pasted influxdb:
 * block (review 12, item 1). Here they come beneath everything: the caller applies them to the
 * variables after the environment, the options and CONFIG_FILE are merged.
 */
export const INFLUXDB_ADDON_URL = 'http://a0d7b954-influxdb:8086';
const DATABASE = 'homeassistant';

type Variables = Readonly<Record<string, string | undefined>>;

/** The variables the add-on's defaults add to `variables` (none once a URL is set). */
export function addonConnectionDefaults(variables: Variables): Record<string, string> {
  const set = (name: string): boolean => variables[name] !== undefined && variables[name] !== '';
  if (set('INFLUX_URL')) return {};
  const api = set('INFLUX_API') ? variables.INFLUX_API : 'v1';
  return {
    INFLUX_URL: INFLUXDB_ADDON_URL,
    ...(set('INFLUX_API') ? {} : { INFLUX_API: 'v1' }),
    ...(api === 'v1' && !set('INFLUX_DB') ? { INFLUX_DB: DATABASE } : {}),
  };
}
