/**
 * The enrichment context: what every live event point carries besides its own fields, built on
 * the main thread once per frame batch and appended by the workers. Field names are reserved in
 * the typed schema (an attribute of the same name is written as attr_<name>).
 *
 *   ,outdoor_temperature=<°C>,outdoor_humidity=<%>,outdoor_condition_str="<…>",weather_age_s=<s>,home_occupied=<0|1>,people_home=<n>
 */
import { escapeStringValue, formatFloat } from '../../workers/line-protocol.js';
import type { Presence } from './presence.js';
import type { Observation } from './weather.js';

export function contextFields(weather: Observation | null, presence: Presence | null, nowMs: number): string {
  let out = '';
  if (weather !== null) {
    if (weather.temperature !== null) out += `,outdoor_temperature=${formatFloat(weather.temperature)}`;
    if (weather.humidity !== null) out += `,outdoor_humidity=${formatFloat(weather.humidity)}`;
    if (weather.condition !== null) out += `,outdoor_condition_str="${escapeStringValue(weather.condition)}"`;
    out += `,weather_age_s=${formatFloat(Math.max(0, Math.round((nowMs - weather.observedAt) / 1000)))}`;
  }
  if (presence?.known) {
    const n = presence.peopleHome;
    out += `,home_occupied=${n > 0 ? 1 : 0},people_home=${n}`;
  }
  return out;
}

/** A home_presence point, at HA's time of the state that changed it. */
export function presenceLine(peopleHome: number, timeNs: string): string {
  return `home_presence people_home=${peopleHome},home_occupied=${peopleHome > 0 ? 1 : 0} ${timeNs}\n`;
}

/** A weather_observation point. */
export function observationLine(o: Observation): string {
  const fields: string[] = [];
  if (o.temperature !== null) fields.push(`temperature=${formatFloat(o.temperature)}`);
  if (o.humidity !== null) fields.push(`humidity=${formatFloat(o.humidity)}`);
  if (o.condition !== null) fields.push(`condition_str="${escapeStringValue(o.condition)}"`);
  if (fields.length === 0) return '';
  return `weather_observation,source=${o.source} ${fields.join(',')} ${Math.round(o.observedAt)}000000\n`;
}
