/**
 * Areas and devices: with an admin token, HA's area, device and entity registries are read at
 * every connect and again when one of them changes (their *_registry_updated events), and each
 * entity's area and device names are published to the encoders (workers/shared-registry.ts),
 * which write them as the `area` and `device` tags. An entity's area is its own, else its
 * device's. A token that is not an admin's gets one log line and no such tags.
 */
import type { Logger } from 'pino';
import { publishPlacements, type Placement } from '../../workers/shared-registry.js';
import { HaCommandError } from '../errors.js';
import type { HaConnection } from '../ha/connection.js';
import { getConfig, listRegistry } from '../ha/messages.js';

export const REGISTRY_EVENTS = ['area_registry_updated', 'device_registry_updated', 'entity_registry_updated'] as const;

interface AreaEntry {
  area_id?: string;
  name?: string;
}
interface DeviceEntry {
  id?: string;
  name?: string | null;
  name_by_user?: string | null;
  area_id?: string | null;
}
interface EntityEntry {
  entity_id?: string;
  device_id?: string | null;
  area_id?: string | null;
}

/** Pure: the three registry lists → entity id → {area, device}. */
export function placementsFrom(areas: AreaEntry[], devices: DeviceEntry[], entities: EntityEntry[]): Record<string, Placement> {
  const areaName = new Map(areas.filter((a) => a.area_id && a.name).map((a) => [a.area_id as string, a.name as string]));
  const deviceById = new Map(devices.filter((d) => d.id).map((d) => [d.id as string, d]));
  const out: Record<string, Placement> = {};
  for (const e of entities) {
    if (!e.entity_id) continue;
    const device = e.device_id ? deviceById.get(e.device_id) : undefined;
    const areaId = e.area_id ?? device?.area_id ?? undefined;
    const area = areaId ? areaName.get(areaId) : undefined;
    const deviceName = device?.name_by_user ?? device?.name ?? undefined;
    if (area !== undefined || deviceName !== undefined) out[e.entity_id] = { ...(area ? { area } : {}), ...(deviceName ? { device: deviceName } : {}) };
  }
  return out;
}

export class Registries {
  private timer: NodeJS.Timeout | undefined;
  private warnedNotAdmin = false;
  private toldNoConfig = false;

  constructor(
    private readonly connection: Pick<HaConnection, 'request'>,
    private readonly shared: SharedArrayBuffer,
    private readonly log: Logger,
  ) {}

  /** False when HA's get_config lists its loaded integrations and `config` is not among them. */
  private async configLoaded(): Promise<boolean> {
    const answer = (await this.connection.request(getConfig()).catch(() => null)) as { components?: unknown } | null;
    const components = answer?.components;
    if (!Array.isArray(components) || components.includes('config')) return true;
    if (!this.toldNoConfig)
      this.log.info(
        "Home Assistant's config integration is not loaded (no default_config: or config:): its registries cannot be read, so points carry no area or device tags",
      );
    this.toldNoConfig = true;
    return false;
  }

  /** Reads the three registries and publishes the result. */
  async refresh(): Promise<void> {
    if (!(await this.configLoaded())) return;
    const list = async (registry: 'area' | 'device' | 'entity'): Promise<unknown[] | 'unauthorized' | null> => {
      try {
        const result = await this.connection.request(listRegistry(registry));
        return Array.isArray(result) ? result : null;
      } catch (err) {
        return err instanceof HaCommandError && err.haCode === 'unauthorized' ? 'unauthorized' : null;
      }
    };
    const [areas, devices, entities] = await Promise.all([list('area'), list('device'), list('entity')]);
    if (areas === 'unauthorized' || devices === 'unauthorized' || entities === 'unauthorized') {
      if (!this.warnedNotAdmin) this.log.info("the HA token is not an admin's: HA's registries cannot be read, so points carry no area or device tags");
      this.warnedNotAdmin = true;
      return;
    }
    if (areas === null || devices === null || entities === null) return; // connection lost: next connect
    const placements = placementsFrom(areas as AreaEntry[], devices as DeviceEntry[], entities as EntityEntry[]);
    if (!publishPlacements(this.shared, placements)) {
      this.log.error({ entities: Object.keys(placements).length }, 'the area and device names do not fit the shared buffer; they are not updated');
      return;
    }
    this.log.info({ entities: Object.keys(placements).length, areas: areas.length, devices: devices.length }, 'area and device names read from HA');
  }

  /** A registry changed: read them again, once, a second later (changes come in bursts). */
  changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), 1000);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
