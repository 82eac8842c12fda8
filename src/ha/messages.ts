/**
 * Home Assistant WebSocket messages: builders for what we send, readers for what we receive.
 *
 * Sent (after auth, every command has a strictly increasing `id`):
 *   {"type":"auth","access_token":"…"}
 *   {"id":1,"type":"supported_features","features":{"coalesce_messages":1}}
 *   {"id":2,"type":"subscribe_events","event_type":"state_changed"}    (no event_type = all)
 *   {"id":3,"type":"get_states"}
 *   {"id":4,"type":"ping"}
 * Received:
 *   {"type":"auth_required"|"auth_ok"|"auth_invalid", …}
 *   {"id":N,"type":"result","success":true,"result":…} | {…,"success":false,"error":{code,message}}
 *   {"id":N,"type":"pong"}
 *   {"id":<subscription>,"type":"event","event":{…}}   (key order varies: never rely on it)
 * With coalescing a frame is a JSON array of such messages. After auth, frames are parsed by
 * the encoder workers (workers/encode-batch.ts), which hand results and pongs back.
 */

export const authMessage = (token: string): string => JSON.stringify({ type: 'auth', access_token: token });

export const supportedFeaturesMessage = (id: number): string => JSON.stringify({ id, type: 'supported_features', features: { coalesce_messages: 1 } });

export const subscribeEventsMessage = (id: number, eventType?: string): string =>
  JSON.stringify(eventType === undefined ? { id, type: 'subscribe_events' } : { id, type: 'subscribe_events', event_type: eventType });

export const getStatesMessage = (id: number): string => JSON.stringify({ id, type: 'get_states' });

export const pingMessage = (id: number): string => JSON.stringify({ id, type: 'ping' });

export interface ResultMessage {
  id: number;
  type: 'result';
  success: boolean;
  result?: unknown;
  error?: { code?: string; message?: string };
}

export interface PongMessage {
  id: number;
  type: 'pong';
}

export type ControlMessage = ResultMessage | PongMessage;

export function isControlMessage(msg: unknown): msg is ControlMessage {
  if (typeof msg !== 'object' || msg === null) return false;
  const m = msg as { type?: unknown; id?: unknown };
  return (m.type === 'result' || m.type === 'pong') && typeof m.id === 'number';
}
