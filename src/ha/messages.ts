/**
 * Home Assistant WebSocket messages: builders for what we send, readers for what we receive.
 *
 * Sent (after auth, every command has a strictly increasing `id`):
 *   {"type":"auth","access_token":"…"}
 *   {"id":1,"type":"supported_features","features":{"coalesce_messages":1}}   (builders below
 *                                                                             return them without id)
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

/** A command without its id: the connection numbers it when it sends it (src/ha/connection.ts). */
export type Command = Readonly<Record<string, unknown>> & { readonly type: string };

export const supportedFeatures = (): Command => ({ type: 'supported_features', features: { coalesce_messages: 1 } });

/** No event type: every event. */
export const subscribeEvents = (eventType?: string): Command =>
  eventType === undefined ? { type: 'subscribe_events' } : { type: 'subscribe_events', event_type: eventType };

export const getStates = (): Command => ({ type: 'get_states' });

export const getConfig = (): Command => ({ type: 'get_config' });

export const ping = (): Command => ({ type: 'ping' });

/** config/area_registry/list and its device and entity twins (admin tokens only). */
export const listRegistry = (registry: 'area' | 'device' | 'entity'): Command => ({ type: `config/${registry}_registry/list` });

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * HA's recorder reads a history window as `last_updated > start AND last_updated < end`: the start
 * is exclusive. A start sent 1 µs early makes the window [startMs, endMs), so consecutive windows
 * meet without losing a row at their boundary. (HA stores µs; a double tells 1 µs apart at today's
 * epoch seconds.)
 */
export const historyStart = (ms: number): string => `${new Date(ms - 1).toISOString().slice(0, -1)}999Z`;

/**
 * history/history_during_period over [startMs, endMs) (endMs null: up to HA's now), every state
 * change with its attributes (or none: `noAttributes`), never a made-up state at the window start.
 */
export function historyDuringPeriod(startMs: number, endMs: number | null, entityIds: readonly string[], noAttributes = false): Command {
  return {
    type: 'history/history_during_period',
    start_time: historyStart(startMs),
    ...(endMs === null ? {} : { end_time: iso(endMs) }),
    entity_ids: entityIds,
    include_start_time_state: false,
    significant_changes_only: false,
    minimal_response: false,
    no_attributes: noAttributes,
  };
}

/**
 * Each entity's state at `atMs` as HA's recorder has it (include_start_time_state: the state in
 * force then, if the recorder holds one), without attributes: non-empty exactly when some entity
 * has a recorded state at or before `atMs`. The history import's search for HA's oldest record.
 */
export function historyStatesAt(atMs: number, entityIds: readonly string[]): Command {
  return {
    type: 'history/history_during_period',
    start_time: historyStart(atMs),
    end_time: iso(atMs + 1),
    entity_ids: entityIds,
    include_start_time_state: true,
    significant_changes_only: true,
    minimal_response: true,
    no_attributes: true,
  };
}

/** A statistics period this ingestor keeps (HA also has day, week and month: reductions of hour). */
export type StatisticsPeriod = 'hour' | '5minute';

/** recorder/list_statistic_ids (history/… before HA 2022.11): every statistic id and its metadata. */
export const listStatisticIds = (prefix: 'recorder' | 'history'): Command => ({ type: `${prefix}/list_statistic_ids` });

/**
 * recorder/statistics_during_period (history/… before HA 2022.11) over [startMs, endMs): HA's
 * recorder selects rows by their start, `start_ts >= start_time AND start_ts < end_time`
 * (homeassistant/components/recorder/statistics.py, _generate_statistics_during_period_stmt, at
 * home-assistant/core d3be3f4737f0942256ba688a145b67aa035de084), so consecutive windows meet.
 * No `types`: releases before the key reject it (voluptuous: extra keys not allowed), and
 * without it HA answers every type (websocket_api.py: `types = {"change", "last_reset", …}`).
 */
export function statisticsDuringPeriod(
  prefix: 'recorder' | 'history',
  startMs: number,
  endMs: number,
  statisticIds: readonly string[],
  period: StatisticsPeriod | 'month',
): Command {
  return { type: `${prefix}/statistics_during_period`, start_time: iso(startMs), end_time: iso(endMs), statistic_ids: statisticIds, period };
}

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
