/**
 * Unit normalization (NORMALIZE_UNITS=true, typed schema): for these device classes a numeric
 * state is written in the canonical unit, the `unit` tag names that unit, and the raw value and
 * unit are kept as `value_raw` and `unit_raw`. Units not in the table pass through untouched.
 *
 *   device class                       canonical   converted from
 *   temperature                        °C          °F, K
 *   energy                             kWh         Wh, MWh, GWh
 *   power                              W           kW, MW, mW
 *   pressure, atmospheric_pressure     hPa         Pa, kPa, bar, mbar, psi, inHg, mmHg, cbar
 *   speed, wind_speed                  m/s         km/h, mph, kn, ft/s
 *   distance                           m           km, cm, mm, mi, yd, ft, in
 *   volume, water                      L           m³, mL, gal, ft³, fl. oz., CCF
 *   gas                                m³          ft³, CCF, L
 *   weight                             kg          g, mg, lb, oz, st
 *   precipitation                      mm          cm, in
 */

type Linear = readonly [factor: number, offset?: number];

const TO: Record<string, { readonly canonical: string; readonly from: Readonly<Record<string, Linear>> }> = {
  temperature: { canonical: '°C', from: { '°F': [5 / 9, -32 * (5 / 9)], K: [1, -273.15] } },
  energy: { canonical: 'kWh', from: { Wh: [1e-3], MWh: [1e3], GWh: [1e6] } },
  power: { canonical: 'W', from: { kW: [1e3], MW: [1e6], mW: [1e-3] } },
  pressure: {
    canonical: 'hPa',
    from: { Pa: [0.01], kPa: [10], bar: [1000], mbar: [1], cbar: [100], psi: [68.9475729], inHg: [33.8638866], mmHg: [1.33322387] },
  },
  speed: { canonical: 'm/s', from: { 'km/h': [1 / 3.6], mph: [0.44704], kn: [0.514444444], 'ft/s': [0.3048] } },
  distance: { canonical: 'm', from: { km: [1000], cm: [0.01], mm: [0.001], mi: [1609.344], yd: [0.9144], ft: [0.3048], in: [0.0254] } },
  volume: { canonical: 'L', from: { 'm³': [1000], mL: [0.001], gal: [3.785411784], 'ft³': [28.316846592], 'fl. oz.': [0.0295735296], CCF: [2831.6846592] } },
  gas: { canonical: 'm³', from: { 'ft³': [0.028316846592], CCF: [2.8316846592], L: [0.001] } },
  weight: { canonical: 'kg', from: { g: [0.001], mg: [1e-6], lb: [0.45359237], oz: [0.028349523125], st: [6.35029318] } },
  precipitation: { canonical: 'mm', from: { cm: [10], in: [25.4] } },
};
TO.atmospheric_pressure = TO.pressure as (typeof TO)[string];
TO.wind_speed = TO.speed as (typeof TO)[string];
TO.water = TO.volume as (typeof TO)[string];

/** The canonical unit for a convertible device class and unit, else null. */
export function canonicalUnit(deviceClass: string | undefined, unit: string | undefined): string | null {
  if (deviceClass === undefined || unit === undefined) return null;
  const entry = TO[deviceClass];
  return entry !== undefined && entry.from[unit] !== undefined ? entry.canonical : null;
}

/** The value in the canonical unit, or null when the unit is canonical already or unknown. */
export function normalizeUnit(deviceClass: string | undefined, unit: string | undefined, value: number): { value: number; unit: string } | null {
  if (deviceClass === undefined || unit === undefined) return null;
  const entry = TO[deviceClass];
  const linear = entry?.from[unit];
  if (entry === undefined || linear === undefined) return null;
  const converted = value * linear[0] + (linear[1] ?? 0);
  // Twelve significant digits: enough for any sensor, and 21.1111111111111 rather than float noise.
  return { value: Number(converted.toPrecision(12)), unit: entry.canonical };
}
