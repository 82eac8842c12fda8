/**
 * Who is home, from person.* entities (or, in a home without any, from device_tracker.* ones,
 * which is what HA's router and Bluetooth trackers are): people_home and home_occupied. Fed by
 * the workers with every person/device_tracker state they see (snapshot and live).
 */
export interface PresenceChange {
  readonly peopleHome: number;
  readonly occupied: boolean;
  /** HA's time of the state that changed it (ns digits). */
  readonly timeNs: string;
}

export class Presence {
  private readonly persons = new Map<string, boolean>();
  private readonly trackers = new Map<string, boolean>();
  private last: { peopleHome: number; occupied: boolean } | null = null;

  get peopleHome(): number {
    const source = this.persons.size > 0 ? this.persons : this.trackers;
    let n = 0;
    for (const home of source.values()) if (home) n++;
    return n;
  }

  get known(): boolean {
    return this.persons.size > 0 || this.trackers.size > 0;
  }

  /** Records a state; returns the new totals when they changed. */
  update(entityId: string, state: string, timeNs: string): PresenceChange | null {
    const home = state === 'home';
    if (entityId.startsWith('person.')) this.persons.set(entityId, home);
    else if (entityId.startsWith('device_tracker.')) this.trackers.set(entityId, home);
    else return null;
    const peopleHome = this.peopleHome;
    const occupied = peopleHome > 0;
    if (this.last !== null && this.last.peopleHome === peopleHome) return null;
    this.last = { peopleHome, occupied };
    return { peopleHome, occupied, timeNs };
  }
}
