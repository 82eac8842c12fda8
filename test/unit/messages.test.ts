import { describe, expect, it } from 'vitest';
import { isControlMessage, pingMessage, subscribeEventsMessage, supportedFeaturesMessage } from '../../src/ha/messages.js';

describe('HA message builders', () => {
  it.each([
    [supportedFeaturesMessage(1), { id: 1, type: 'supported_features', features: { coalesce_messages: 1 } }],
    [subscribeEventsMessage(2, 'state_changed'), { id: 2, type: 'subscribe_events', event_type: 'state_changed' }],
    [subscribeEventsMessage(3), { id: 3, type: 'subscribe_events' }],
    [pingMessage(4), { id: 4, type: 'ping' }],
  ])('%s', (json, expected) => {
    expect(JSON.parse(json)).toEqual(expected);
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
