/** Small HA WebSocket messages for unit tests: times are seconds into 2024-05-01 00:00 UTC. */
export const t = (s: number): string => `2024-05-01T00:00:${String(s).padStart(2, '0')}+00:00`;
export const ns = (s: number): string => String(BigInt(Date.parse(t(s))) * 1_000_000n);
export const state = (id: string, s: string, at: number) => ({ entity_id: id, state: s, attributes: {}, last_changed: t(at), last_updated: t(at) });
/** A state_changed event message of subscription 3. */
export const event = (id: string, s: string, at: number, oldState: unknown): string =>
  JSON.stringify({
    type: 'event',
    event: { event_type: 'state_changed', data: { entity_id: id, old_state: oldState, new_state: state(id, s, at) }, time_fired: t(at) },
    id: 3,
  });
