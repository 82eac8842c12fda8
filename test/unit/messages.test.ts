import { describe, expect, it } from 'vitest';
import {
  authMessage,
  getConfig,
  getStates,
  historyDuringPeriod,
  isControlMessage,
  listRegistry,
  ping,
  subscribeEvents,
  supportedFeatures,
} from '../../src/ha/messages.js';

describe('HA message builders (the connection adds the id)', () => {
  it.each([
    [supportedFeatures(), { type: 'supported_features', features: { coalesce_messages: 1 } }],
    [subscribeEvents('state_changed'), { type: 'subscribe_events', event_type: 'state_changed' }],
    [subscribeEvents(), { type: 'subscribe_events' }],
    [getStates(), { type: 'get_states' }],
    [getConfig(), { type: 'get_config' }],
    [ping(), { type: 'ping' }],
    [listRegistry('area'), { type: 'config/area_registry/list' }],
    [listRegistry('entity'), { type: 'config/entity_registry/list' }],
    [
      historyDuringPeriod(Date.UTC(2024, 4, 1), Date.UTC(2024, 4, 1, 1), ['sensor.a', 'light.b']),
      {
        type: 'history/history_during_period',
        start_time: '2024-04-30T23:59:59.999999Z', // 1 µs early: HA's start is exclusive
        end_time: '2024-05-01T01:00:00.000Z',
        entity_ids: ['sensor.a', 'light.b'],
        include_start_time_state: false,
        significant_changes_only: false,
        minimal_response: false,
        no_attributes: false,
      },
    ],
    [
      historyDuringPeriod(Date.UTC(2024, 4, 1), null, ['sensor.a'], true),
      {
        type: 'history/history_during_period',
        start_time: '2024-04-30T23:59:59.999999Z', // 1 µs early: HA's start is exclusive
        entity_ids: ['sensor.a'],
        include_start_time_state: false,
        significant_changes_only: false,
        minimal_response: false,
        no_attributes: true,
      },
    ],
  ])('%j', (message, expected) => {
    expect(message).toEqual(expected);
  });

  it('auth is the one message sent before the session, as text', () => {
    expect(JSON.parse(authMessage('t0k'))).toEqual({ type: 'auth', access_token: 't0k' });
  });
});

describe('isControlMessage', () => {
  it.each([
    [{ id: 1, type: 'result', success: true }, true],
    [{ id: 1, type: 'pong' }, true],
    [{ type: 'result' }, false],
    [{ id: 1, type: 'event' }, false],
    [null, false],
  ])('%j → %s', (msg, expected) => {
    expect(isControlMessage(msg)).toBe(expected);
  });
});
