/**
 * A simulated home: a few hundred entities of the kinds a real Home Assistant has, each able to
 * produce its next state. Deterministic from a seed. Names and attribute values include what
 * breaks naive encoders: unicode, quotes, commas, spaces, `=`, backslashes inside, newlines,
 * arrays, objects, nulls, booleans, huge numbers.
 */

export type Attributes = Record<string, unknown>;

export interface SimEntity {
  readonly entityId: string;
  readonly domain: string;
  next(rng: Rng, previous: string | null): { state: string; attributes: Attributes };
}

export type Rng = () => number;

/** mulberry32: small, fast, good enough for test data. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;

const ROOMS = ['living_room', 'kitchen', 'bedroom', 'bathroom', 'office', 'garage', 'hallway', 'attic', 'basement', 'garden', 'kids_room', 'guest_room'];
const ROOM_NAMES: Record<string, string> = {
  living_room: 'Wohnzimmer',
  kitchen: 'Küche',
  bedroom: 'Chambre à coucher',
  bathroom: 'Salle de bain — douche',
  office: 'Bob\'s "Office"',
  garage: 'Garage, north',
  hallway: 'Hall = entry',
  attic: '屋根裏',
  basement: 'Basement \\ cellar',
  garden: '🌱 Garden',
  kids_room: 'Kids room',
  guest_room: 'Guest room',
};

interface NumericSensor {
  deviceClass: string;
  unit: string;
  base: number;
  spread: number;
  digits: number;
}

const NUMERIC_SENSORS: readonly NumericSensor[] = [
  { deviceClass: 'temperature', unit: '°C', base: 21, spread: 4, digits: 1 },
  { deviceClass: 'temperature', unit: '°F', base: 70, spread: 6, digits: 1 },
  { deviceClass: 'humidity', unit: '%', base: 50, spread: 15, digits: 0 },
  { deviceClass: 'power', unit: 'W', base: 120, spread: 100, digits: 2 },
  { deviceClass: 'energy', unit: 'kWh', base: 1500, spread: 500, digits: 3 },
  { deviceClass: 'battery', unit: '%', base: 80, spread: 20, digits: 0 },
  { deviceClass: 'illuminance', unit: 'lx', base: 300, spread: 300, digits: 0 },
  { deviceClass: 'pressure', unit: 'hPa', base: 1013, spread: 15, digits: 1 },
  { deviceClass: 'pm25', unit: 'µg/m³', base: 8, spread: 8, digits: 1 },
  { deviceClass: 'volume', unit: 'm³', base: 120, spread: 30, digits: 3 },
];

function numericSensor(entityId: string, name: string, s: NumericSensor): SimEntity {
  return {
    entityId,
    domain: 'sensor',
    next(rng, previous) {
      const roll = rng();
      const state = roll < 0.01 ? 'unavailable' : roll < 0.015 ? 'unknown' : String(round(s.base + (rng() * 2 - 1) * s.spread, s.digits));
      void previous;
      return {
        state,
        attributes: { state_class: 'measurement', unit_of_measurement: s.unit, device_class: s.deviceClass, friendly_name: name },
      };
    },
  };
}

function binarySensor(entityId: string, name: string, deviceClass: string): SimEntity {
  return {
    entityId,
    domain: 'binary_sensor',
    next(rng, previous) {
      const state = rng() < 0.005 ? 'unavailable' : previous === 'on' ? 'off' : 'on';
      return { state, attributes: { device_class: deviceClass, friendly_name: name } };
    },
  };
}

function light(entityId: string, name: string): SimEntity {
  return {
    entityId,
    domain: 'light',
    next(rng, previous) {
      const on = previous !== 'on';
      const attributes: Attributes = {
        min_color_temp_kelvin: 2000,
        max_color_temp_kelvin: 6535,
        supported_color_modes: ['color_temp', 'hs'],
        color_mode: on ? 'color_temp' : null,
        brightness: on ? Math.floor(rng() * 255) + 1 : null,
        color_temp_kelvin: on ? 2700 + Math.floor(rng() * 3000) : null,
        hs_color: on ? [round(rng() * 360, 3), round(rng() * 100, 3)] : null,
        rgb_color: on ? [255, Math.floor(rng() * 255), 120] : null,
        effect_list: ['none', 'colorloop', 'candle, flicker'],
        friendly_name: name,
        supported_features: 44,
      };
      return { state: on ? 'on' : 'off', attributes };
    },
  };
}

function switchEntity(entityId: string, name: string): SimEntity {
  return {
    entityId,
    domain: 'switch',
    next(_rng, previous) {
      return { state: previous === 'on' ? 'off' : 'on', attributes: { friendly_name: name, assumed_state: false } };
    },
  };
}

function climate(entityId: string, name: string): SimEntity {
  return {
    entityId,
    domain: 'climate',
    next(rng) {
      const mode = pick(rng, ['heat', 'off', 'auto', 'heat']);
      return {
        state: mode,
        attributes: {
          hvac_modes: ['off', 'heat', 'auto'],
          min_temp: 7,
          max_temp: 35,
          target_temp_step: 0.5,
          current_temperature: round(18 + rng() * 6, 1),
          temperature: mode === 'off' ? null : round(19 + rng() * 3, 1),
          hvac_action: mode === 'off' ? 'off' : pick(rng, ['heating', 'idle']),
          preset_mode: pick(rng, ['none', 'eco', 'comfort']),
          friendly_name: name,
          supported_features: 401,
        },
      };
    },
  };
}

function person(entityId: string, name: string, userId: string): SimEntity {
  return {
    entityId,
    domain: 'person',
    next(rng, previous) {
      const home = previous !== 'home';
      return {
        state: home ? 'home' : rng() < 0.3 ? 'Work' : 'not_home',
        attributes: {
          editable: true,
          id: name.toLowerCase(),
          latitude: round(52.52 + rng() * 0.01, 6),
          longitude: round(13.405 + rng() * 0.01, 6),
          gps_accuracy: Math.floor(rng() * 50),
          source: `device_tracker.${name.toLowerCase()}_phone`,
          user_id: userId,
          device_trackers: [`device_tracker.${name.toLowerCase()}_phone`],
          friendly_name: name,
        },
      };
    },
  };
}

function deviceTracker(entityId: string, name: string, sourceType: string): SimEntity {
  return {
    entityId,
    domain: 'device_tracker',
    next(rng, previous) {
      const home = previous !== 'home';
      const attributes: Attributes = { source_type: sourceType, friendly_name: name };
      if (sourceType === 'router') {
        attributes.ip = `192.168.1.${10 + Math.floor(rng() * 200)}`;
        attributes.mac = 'AA:BB:CC:DD:EE:FF';
        attributes.host_name = name.replace(/\s/g, '-');
      }
      return { state: home ? 'home' : 'not_home', attributes };
    },
  };
}

function weather(entityId: string): SimEntity {
  return {
    entityId,
    domain: 'weather',
    next(rng) {
      return {
        state: pick(rng, ['sunny', 'cloudy', 'partlycloudy', 'rainy', 'clear-night', 'fog']),
        attributes: {
          temperature: round(5 + rng() * 20, 1),
          apparent_temperature: round(3 + rng() * 20, 1),
          dew_point: round(rng() * 10, 1),
          temperature_unit: '°C',
          humidity: Math.floor(40 + rng() * 50),
          cloud_coverage: Math.floor(rng() * 100),
          pressure: round(1000 + rng() * 30, 1),
          pressure_unit: 'hPa',
          wind_bearing: round(rng() * 360, 1),
          wind_speed: round(rng() * 30, 1),
          wind_speed_unit: 'km/h',
          visibility_unit: 'km',
          precipitation_unit: 'mm',
          attribution: 'Weather forecast from met.no, delivered by the Norwegian Meteorological Institute.',
          friendly_name: 'Forecast Home',
          supported_features: 3,
        },
      };
    },
  };
}

function textSensor(entityId: string, name: string): SimEntity {
  const texts = [
    'Washing machine: running, 42 min left',
    'say "hello"',
    'a=b, c=d',
    'path C:\\temp\\',
    'line one\nline two',
    'tab\there',
    'Ünïcödé ✓ 🚀',
    '',
    'nan',
    'inf',
    '0x1F',
    '1e3',
    ' 42 ',
  ];
  return {
    entityId,
    domain: 'sensor',
    next(rng) {
      return {
        state: pick(rng, texts),
        attributes: {
          friendly_name: name,
          icon: 'mdi:washing-machine',
          nested: { program: 'eco 40', phases: ['wash', 'rinse', 'spin'], eta: null },
          // A number beyond 2^53, as HA may send (exact to 17 digits only).
          huge: 12345678901234567000,
          negative_zero: -0,
          flag: rng() < 0.5,
          value: round(rng() * 10, 2),
          time: 'now',
          _private: 'x',
          'key with space, comma = equals': 'v',
          attr_str: 7,
          empty_list: [],
        },
      };
    },
  };
}

function sun(entityId: string): SimEntity {
  return {
    entityId,
    domain: 'sun',
    next(rng, previous) {
      return {
        state: previous === 'above_horizon' ? 'below_horizon' : 'above_horizon',
        attributes: {
          next_dawn: '2024-05-02T03:12:34.567890+00:00',
          next_rising: '2024-05-02T03:55:00+00:00',
          elevation: round(rng() * 60 - 10, 2),
          azimuth: round(rng() * 360, 2),
          rising: rng() < 0.5,
          friendly_name: 'Sun',
        },
      };
    },
  };
}

/**
 * Builds `count` entities (at least 40): mostly sensors, as in real homes, plus a few of every
 * other kind and some with awkward ids.
 */
/**
 * HA's registries for a home: one area per room, a device for every light (the light's area comes
 * from its device), every other entity with a room in its id placed in that area directly.
 */
export function registriesFor(entityIds: readonly string[]): {
  areas: { area_id: string; name: string }[];
  devices: { id: string; name: string; name_by_user: string | null; area_id: string }[];
  entities: { entity_id: string; device_id: string | null; area_id: string | null }[];
} {
  const areas = ROOMS.map((room) => ({ area_id: room, name: ROOM_NAMES[room] as string }));
  const devices: { id: string; name: string; name_by_user: string | null; area_id: string }[] = [];
  const entities: { entity_id: string; device_id: string | null; area_id: string | null }[] = [];
  for (const id of entityIds) {
    const room = ROOMS.find((r) => id.includes(r));
    if (room !== undefined && id.startsWith('light.')) {
      const deviceId = `dev_${id.slice(6)}`;
      devices.push({ id: deviceId, name: `Bulb ${id.slice(6)}`, name_by_user: null, area_id: room });
      entities.push({ entity_id: id, device_id: deviceId, area_id: null });
    } else {
      entities.push({ entity_id: id, device_id: null, area_id: room ?? null });
    }
  }
  return { areas, devices, entities };
}

export function createHome(count: number, seed: number): SimEntity[] {
  const rng = createRng(seed ^ 0x5eed);
  const fixed: SimEntity[] = [
    weather('weather.forecast_home'),
    sun('sun.sun'),
    person('person.alice', 'Alice', 'a1b2c3'),
    person('person.bob', 'Bob', 'd4e5f6'),
    deviceTracker('device_tracker.alice_phone', 'Alice phone', 'router'),
    deviceTracker('device_tracker.bob_phone', 'Bob phone', 'bluetooth'),
    deviceTracker('device_tracker.car_tag', 'Car tag', 'bluetooth_le'),
    climate('climate.living_room', 'Wohnzimmer Heizung'),
    climate('climate.bedroom', 'Chambre à coucher'),
    textSensor('sensor.washing_machine_status', 'Washing machine'),
    // Not valid HA ids, but nothing stops a custom integration: the encoder must survive them.
    numericSensor('sensor.küche_temperatur', 'Küche Temperatur', NUMERIC_SENSORS[0] as NumericSensor),
    numericSensor('sensor.odd id, with=signs', 'Odd "id"', NUMERIC_SENSORS[2] as NumericSensor),
    textSensor('sensor.text\\back', 'Backslash inside'),
  ];
  const entities = [...fixed];
  for (let i = 0; entities.length < Math.max(count, 40); i++) {
    const room = ROOMS[i % ROOMS.length] as string;
    const roomName = ROOM_NAMES[room] as string;
    const roll = rng();
    const n = Math.floor(i / ROOMS.length);
    if (roll < 0.55) {
      const s = pick(rng, NUMERIC_SENSORS);
      entities.push(numericSensor(`sensor.${room}_${s.deviceClass}_${n}`, `${roomName} ${s.deviceClass} ${n}`, s));
    } else if (roll < 0.75) {
      const dc = pick(rng, ['motion', 'door', 'window', 'occupancy', 'moisture']);
      entities.push(binarySensor(`binary_sensor.${room}_${dc}_${n}`, `${roomName} ${dc}`, dc));
    } else if (roll < 0.9) {
      entities.push(light(`light.${room}_${n}`, `${roomName} light ${n}`));
    } else {
      entities.push(switchEntity(`switch.${room}_plug_${n}`, `${roomName} plug ${n}`));
    }
  }
  return entities.slice(0, Math.max(count, fixed.length));
}
